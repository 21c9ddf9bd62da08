//! `fm`: a second-order factorization machine over users, items and tags (thesis §5.3.1, SPEC §5).
//!
//! Features of a (user, item, t) row: the user one-hot, the item one-hot and the tag vector scaled
//! to sum 1, x = t / ‖t‖₁ (users, items and tags are three entity sets). The score is Rendle's FM:
//!
//! f = w₀ + w_u + w_i + Σ_t x_t w_t + ⟨v_u, v_i⟩ + ⟨v_u + v_i, s⟩ + ½(‖s‖² − Σ_t x_t² ‖v_t‖²),
//! with s = Σ_t x_t v_t,
//!
//! i.e. all pairwise interactions between the active features. It is trained by negative sampling
//! with Adam from WRMF-initialised user and tag factors ([`super::neural`]): on the CPU by the
//! hand-written kernel [`super::kernels::fm`] (exact gradients, libtorch's Adam applied lazily but
//! exactly; timings against autograd in `bench/recsys/README.md`), on CUDA through libtorch's
//! autograd. The two take the same steps on the same batches and agree within `f32` rounding (a
//! test trains both), but not bit for bit: rounding differences grow over many steps, so an FM
//! trained on the CPU now is a slightly different model from one trained before 2026-12-06, when
//! the CPU used autograd too (same seed). For an unseen item
//! (`score_tags`) the item terms w_i and v_i are left out.

use std::time::Instant;

use datafusion::common::exec_err;
use datafusion::error::Result;
use serde::{Deserialize, Serialize};
use tch::{Device, Kind, Tensor};

use super::data::{RecData, Tags};
use super::kernels::fm::{Adam, FmParams, FmShape, FmTrainer};
use super::neural::{
    facts, initial_factors, normal_values, run_kernel_epochs, train, NeuralOptions, Params,
    NEURAL_OPTIONS,
};
use super::recommender::{normalised_scaled_scores, Entity, FactorMatrix, Recommender};
use super::tensors::TagInput;
use crate::common::rng::Rng;
use crate::common::tensors::index;
use crate::model::{
    decode, encode, Model, ModelOptions, ModelType, OptionSpec, TaskControl, TrainContext, Trained,
    TrainingData,
};

/// The `fm` model type.
#[derive(Debug)]
pub struct FmType;

/// Parameter names, in the order of [`fm_score`]'s slice.
const NAMES: [&str; 7] = [
    "w0", "w_user", "w_item", "w_tag", "v_user", "v_item", "v_tag",
];

/// A trained factorization machine.
#[derive(Debug, Serialize, Deserialize)]
pub struct Fm {
    data: RecData,
    k: usize,
    params: Params,
    losses: Vec<f64>,
}

fn row_dot(a: &Tensor, b: &Tensor) -> Tensor {
    (a * b).sum_dim_intlist(1, false, a.kind())
}

/// The FM score of a batch; `items` is `None` for unseen items.
pub fn fm_score(p: &[Tensor], users: &Tensor, items: Option<&Tensor>, tags: &TagInput) -> Tensor {
    let (w0, w_user, w_item, w_tag, v_user, v_item, v_tag) =
        (&p[0], &p[1], &p[2], &p[3], &p[4], &p[5], &p[6]);
    let kind = v_tag.kind();
    let x = tags.div_rows(&tags.row_sum(kind, v_tag.device()));
    let s = x.matmul(v_tag);
    let tag_sq = x
        .square()
        .dot(&v_tag.square().sum_dim_intlist(1, false, kind));
    let vu = v_user.index_select(0, users);
    let mut linear = w0 + w_user.index_select(0, users) + x.dot(w_tag);
    let mut total = &vu + &s;
    let mut squares = row_dot(&vu, &vu) + tag_sq;
    if let Some(items) = items {
        let vi = v_item.index_select(0, items);
        linear += w_item.index_select(0, items);
        total += &vi;
        squares += row_dot(&vi, &vi);
    }
    linear + 0.5 * (row_dot(&total, &total) - squares)
}

impl Fm {
    fn tensors(&self, device: Device) -> Result<Vec<Tensor>> {
        self.params.on(device)
    }
}

/// Rows of [`Fm::scaled_tag_scores_cpu`]'s blocks.
const SCALED_ROWS: usize = 1024;

impl Model for Fm {
    fn describe(&self) -> Vec<(String, String)> {
        let mut out = self.data.describe();
        out.push(("latent dimension".to_string(), self.k.to_string()));
        out.push(("parameters".to_string(), self.params.count().to_string()));
        out
    }

    fn to_bytes(&self) -> Result<Vec<u8>> {
        encode(self)
    }

    crate::capabilities!(dyn Recommender);
}

impl Recommender for Fm {
    fn data(&self) -> &RecData {
        &self.data
    }

    fn uses_tags(&self) -> bool {
        true
    }

    fn forward(
        &self,
        device: Device,
        users: &Tensor,
        items: &Tensor,
        tags: &TagInput,
    ) -> Result<Tensor> {
        Ok(fm_score(&self.tensors(device)?, users, Some(items), tags))
    }

    /// [`Recommender::scaled_tag_scores`] on the host, in f32 like the model: with weights
    /// w_rj = s_rj x_j and L_r = Σ_j w_rj, s = (Σ_j w_rj V_{t_j}) / L_r is one product of the
    /// weights with the item's weighted tag factors, x·w_tag and Σ x_t² ‖v_t‖² are sums over the
    /// item's d tags, and the rest of [`fm_score`] is a pass over k values per row.
    fn scaled_tag_scores_cpu(
        &self,
        user: u32,
        item: u32,
        tags: &[u32],
        weights: &[f32],
        scale: &[f64],
        cancelled: super::recommender::Cancel<'_>,
    ) -> Result<Option<Vec<f64>>> {
        let k = self.k;
        let v = &self.params.values;
        let [w0, w_user, w_item, w_tag, v_user, v_item, v_tag] =
            [0, 1, 2, 3, 4, 5, 6].map(|j| &v[j][..]);
        let (u, i) = (user as usize, item as usize);
        let (Some(&wu), Some(&wi), Some(vu), Some(vi), Some(&w0), true) = (
            w_user.get(u),
            w_item.get(i),
            v_user.get(u * k..(u + 1) * k),
            v_item.get(i * k..(i + 1) * k),
            w0.first(),
            tags.len() == weights.len()
                && tags
                    .iter()
                    .all(|&t| (t as usize) < w_tag.len() && (t as usize + 1) * k <= v_tag.len()),
        ) else {
            return exec_err!("fm: user, item, tag or weight out of range");
        };
        let d = tags.len();
        let sq = |a: &[f32]| a.iter().map(|x| x * x).sum::<f32>();
        let base = w0 + wu + wi;
        let (uv, squares0) = (
            vu.iter().zip(vi).map(|(a, b)| a + b).collect::<Vec<f32>>(),
            sq(vu) + sq(vi),
        );
        let (mut vx, mut wx, mut vsq) = (Vec::with_capacity(d * k), Vec::new(), Vec::new());
        for (&t, &x) in tags.iter().zip(weights) {
            let vt = &v_tag[t as usize * k..(t as usize + 1) * k];
            vx.extend(vt.iter().map(|v| v * x));
            wx.push(x * w_tag[t as usize]);
            vsq.push(x * x * sq(vt));
        }
        normalised_scaled_scores(
            "fm",
            scale,
            weights,
            &vx,
            k,
            SCALED_ROWS,
            cancelled,
            |wr, sr, inv| {
                let lin: f32 = wr.iter().zip(&wx).map(|(s, w)| s * w).sum();
                let tag_sq: f32 = wr.iter().zip(&vsq).map(|(s, q)| s * s * q).sum();
                let total: f32 = uv
                    .iter()
                    .zip(sr)
                    .map(|(a, s)| {
                        let t = a + s * inv;
                        t * t
                    })
                    .sum();
                let squares = squares0 + tag_sq * inv * inv;
                base + lin * inv + 0.5 * (total - squares)
            },
        )
        .map(Some)
    }

    fn forward_cold(
        &self,
        device: Device,
        users: &Tensor,
        tags: &TagInput,
    ) -> Result<Option<Tensor>> {
        Ok(Some(fm_score(&self.tensors(device)?, users, None, tags)))
    }

    /// At t = T_i the score splits into an item part c_i and a user part:
    /// f = c_i + w_u + ⟨v_u, v_i + s_i⟩, so all items are scored by one matrix product.
    /// [`fm_score`] at t' = T_j + w e_t for every tag t at once: with L = ‖T_j‖₁ + w and
    /// a = T_j V, s' = (a + w V_t)/L, x'·w_tag = (T_j·w_tag + w w_tag,t)/L and
    /// Σ x'² ‖v‖² = (Σ T_jk² ‖v_k‖² + w² ‖v_t‖²)/L².
    fn switch_on_scores(
        &self,
        device: Device,
        user: u32,
        items: &[u32],
        weight: f64,
        cancelled: super::recommender::Cancel<'_>,
    ) -> Result<Option<Tensor>> {
        cancelled()?;
        let p = self.tensors(device)?;
        let (w0, w_user, w_item, w_tag, v_user, v_item, v_tag) =
            (&p[0], &p[1], &p[2], &p[3], &p[4], &p[5], &p[6]);
        let kind = v_tag.kind();
        let own = TagInput::own(&self.data, items, kind, device);
        let items_t = index(items, device);
        let vu = v_user.get(user as i64).unsqueeze(0); // [1, k]
        let vi = v_item.index_select(0, &items_t); // [J, k]
        let len = (own.row_sum(kind, device) + weight).unsqueeze(1); // [J, 1]
        let a = own.matmul(v_tag); // [J, k]
        let vt_sq = v_tag.square().sum_dim_intlist(1, false, kind); // [n_tags]
        let tag_sq = own.square().dot(&vt_sq).unsqueeze(1); // [J, 1]
        let lin = (own.dot(w_tag).unsqueeze(1) + w_tag.unsqueeze(0) * weight) / &len;
        let uv = &vu + &vi; // [J, k]
                            // ⟨v_u + v_i, s'⟩ and ‖s'‖².
        let cross = (row_dot(&uv, &a).unsqueeze(1) + uv.matmul(&v_tag.tr()) * weight) / &len;
        let s_sq = (row_dot(&a, &a).unsqueeze(1)
            + a.matmul(&v_tag.tr()) * (2.0 * weight)
            + vt_sq.unsqueeze(0) * (weight * weight))
            / len.square();
        let x_sq = (tag_sq + vt_sq.unsqueeze(0) * (weight * weight)) / len.square();
        let base = w0
            + w_user.get(user as i64)
            + w_item.index_select(0, &items_t)
            + row_dot(&vu.expand_as(&vi), &vi);
        Ok(Some(base.unsqueeze(1) + lin + cross + 0.5 * (s_sq - x_sq)))
    }

    fn score_all_items(
        &self,
        device: Device,
        users: &[u32],
        _cancelled: super::recommender::Cancel<'_>,
    ) -> Result<Tensor> {
        let p = self.tensors(device)?;
        let (w0, w_user, w_item, w_tag, v_user, v_item, v_tag) =
            (&p[0], &p[1], &p[2], &p[3], &p[4], &p[5], &p[6]);
        let n = self.data.n_items();
        let all: Vec<u32> = (0..n as u32).collect();
        let tags = TagInput::own(&self.data, &all, Kind::Float, device);
        let x = tags.div_rows(&tags.row_sum(Kind::Float, device));
        let s = x.matmul(v_tag);
        let tag_sq = x
            .square()
            .dot(&v_tag.square().sum_dim_intlist(1, false, Kind::Float));
        let item_side = v_item + &s;
        let c: Tensor =
            w0 + w_item + x.dot(w_tag) + row_dot(v_item, &s) + 0.5 * (row_dot(&s, &s) - tag_sq);
        let u = index(users, device);
        Ok(v_user.index_select(0, &u).matmul(&item_side.tr())
            + w_user.index_select(0, &u).unsqueeze(1)
            + c.unsqueeze(0))
    }

    fn factors(&self) -> Vec<FactorMatrix> {
        let m = |entity, i: usize| FactorMatrix {
            entity,
            k: self.k,
            values: self.params.values[i].clone(),
        };
        vec![m(Entity::User, 4), m(Entity::Item, 5), m(Entity::Tag, 6)]
    }
}

/// The starting values: WRMF user factors and the tag half-step ([`initial_factors`]), then small
/// random item factors, all row-major (linear weights start at 0).
fn initial_values(
    rec: &RecData,
    opts: &NeuralOptions,
    rng: &mut Rng,
    control: &TaskControl<'_>,
) -> Result<FmParams> {
    let (v_user, v_tag) = initial_factors("fm", rec, opts, rng, control)?;
    let v_item = normal_values(rng, rec.n_items() * opts.dim, 0.01);
    Ok(FmParams {
        w0: 0.0,
        w_user: vec![0.0; rec.n_users()],
        w_item: vec![0.0; rec.n_items()],
        w_tag: vec![0.0; rec.n_tags()],
        v_user,
        v_item,
        v_tag,
    })
}

/// Shapes of the parameters, in [`NAMES`]' order.
fn shapes(rec: &RecData, dim: usize) -> Vec<Vec<i64>> {
    let (nu, ni, nt, h) = (
        rec.n_users() as i64,
        rec.n_items() as i64,
        rec.n_tags() as i64,
        dim as i64,
    );
    vec![
        vec![1],
        vec![nu],
        vec![ni],
        vec![nt],
        vec![nu, h],
        vec![ni, h],
        vec![nt, h],
    ]
}

/// Trains an FM on the CPU through [`kernels::fm`](super::kernels::fm): the same batches, loss
/// and Adam as [`fit_with_autograd`], with exact hand-written gradients. Returns the parameters
/// and the mean loss of every epoch.
pub fn fit_on_cpu(
    rec: &RecData,
    opts: &NeuralOptions,
    rng: &mut Rng,
    control: &TaskControl<'_>,
) -> Result<(Params, Vec<f64>)> {
    let initial = initial_values(rec, opts, rng, control)?;
    let shape = FmShape {
        n_users: rec.n_users(),
        n_items: rec.n_items(),
        n_tags: rec.n_tags(),
        k: opts.dim,
    };
    let mut trainer = FmTrainer::new(shape, initial, Adam::new(opts.lr, opts.l2))
        .map_err(|e| super::train::kernel_err("fm", e))?;
    let losses = run_kernel_epochs("fm", rec, opts, rng, control, shape, |batch| {
        trainer.step_prepared(batch)
    })?;
    let values = trainer.finish().into_values();
    Ok((Params::new(&NAMES, shapes(rec, opts.dim), values), losses))
}

/// Trains an FM through libtorch's autograd and Adam on `device` (what CUDA uses, and what the
/// CPU used before [`fit_on_cpu`]; the recommender bench times both). Returns the parameters and
/// the mean loss of every epoch.
pub fn fit_with_autograd(
    rec: &RecData,
    opts: &NeuralOptions,
    device: Device,
    rng: &mut Rng,
    control: &TaskControl<'_>,
) -> Result<(Params, Vec<f64>)> {
    let values = initial_values(rec, opts, rng, control)?.into_values();
    // On the CPU; `train` copies them to `device`.
    let initial: Vec<Tensor> = values
        .iter()
        .zip(shapes(rec, opts.dim))
        .map(|(v, s)| Tensor::from_slice(v).view(s.as_slice()))
        .collect();
    let (trained, losses) = train(
        "fm", rec, opts, &NAMES, initial, &fm_score, device, rng, control,
    )?;
    Ok((Params::from_tensors(&NAMES, &trained)?, losses))
}

impl ModelType for FmType {
    fn name(&self) -> &'static str {
        "fm"
    }

    fn description(&self) -> &'static str {
        "second-order factorization machine over user, item and tag features, negative sampling + Adam"
    }

    fn options(&self) -> &'static [OptionSpec] {
        &NEURAL_OPTIONS
    }

    fn train(&self, data: &TrainingData, ctx: &TrainContext<'_>) -> Result<Trained> {
        let start = Instant::now();
        let (rec, training) = RecData::from_training("fm", data, Tags::Required, &ctx.control)?;
        let opts = NeuralOptions::try_from(ctx.options)?;
        super::train::memory::check_neural("fm", &rec, ctx.options, 0, ctx.memory_limit)?;
        super::train::memory::check_als("fm", &rec, opts.dim, ctx.memory_limit)?;
        let mut rng = Rng::new(opts.seed);
        let ((params, losses), path) = if ctx.device == Device::Cpu {
            (
                fit_on_cpu(&rec, &opts, &mut rng, &ctx.control)?,
                "CPU kernel (exact gradients, lazy dense Adam)",
            )
        } else {
            (
                fit_with_autograd(&rec, &opts, ctx.device, &mut rng, &ctx.control)?,
                "libtorch autograd",
            )
        };
        let h = opts.dim;
        let mut training = facts(training, &losses, start);
        training.insert("training path".to_string(), path.to_string());
        Ok(Trained {
            model: Box::new(Fm {
                data: rec,
                k: h,
                params,
                losses,
            }),
            training,
        })
    }

    fn load(&self, _options: &ModelOptions, bytes: &[u8]) -> Result<Box<dyn Model>> {
        Ok(Box::new(decode::<Fm>("fm", bytes)?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The CPU kernel and libtorch's autograd + Adam (the CUDA path) take the same steps on the
    /// same batches: losses and parameters agree within f32 rounding.
    #[test]
    fn the_cpu_kernel_trains_like_libtorch_autograd() {
        let (nu, ni, nt, k) = (7, 9, 12, 5);
        let mut rng = Rng::new(21);
        let mut normal = |n: usize, sd: f64| normal_values(&mut rng, n, sd);
        let initial = FmParams {
            w0: 0.05,
            w_user: normal(nu, 0.1),
            w_item: normal(ni, 0.1),
            w_tag: normal(nt, 0.1),
            v_user: normal(nu * k, 0.3),
            v_item: normal(ni * k, 0.3),
            v_tag: normal(nt * k, 0.3),
        };
        let (lr, wd) = (0.01, 0.001);
        let shape = FmShape {
            n_users: nu,
            n_items: ni,
            n_tags: nt,
            k,
        };
        let values = [
            (vec![1], vec![initial.w0]),
            (vec![nu as i64], initial.w_user.clone()),
            (vec![ni as i64], initial.w_item.clone()),
            (vec![nt as i64], initial.w_tag.clone()),
            (vec![nu as i64, k as i64], initial.v_user.clone()),
            (vec![ni as i64, k as i64], initial.v_item.clone()),
            (vec![nt as i64, k as i64], initial.v_tag.clone()),
        ];
        let mut kernel = FmTrainer::new(shape, initial, Adam::new(lr, wd)).unwrap();
        let run = crate::recsys::neural::check_kernel_against_autograd(
            &NAMES,
            &values,
            &fm_score,
            (nu, ni, nt),
            (lr, wd),
            |users, items, negatives, tags| {
                let tags = crate::recsys::kernels::fm::ScaledTags::new(shape, tags).unwrap();
                kernel.step(users, items, negatives, &tags).unwrap()
            },
        );
        run.compare(&kernel.finish().into_values());
    }
}
