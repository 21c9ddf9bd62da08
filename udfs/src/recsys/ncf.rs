//! `ncf`: neural collaborative filtering with tag-aware item factors (thesis §5.3.1, eq. 5.12;
//! SPEC §5).
//!
//! The item factor with tags is z_i(t) = z_i + (t Z_tags) / ‖t‖₁ — for an N-hot t the mean of the
//! item's tag factors, as in eq. 5.12. The score is NeuMF-style, from a GMF branch and an MLP
//! branch that share the user factor p_u and z_i(t):
//!
//! f = h · (p_u ⊙ z_i(t)) + w₂ · ReLU(W₁ [p_u; z_i(t)] + b₁) + b,
//!
//! with one hidden layer of `hidden` units (1024 in the thesis). Trained by negative sampling with
//! Adam from WRMF-initialised user and tag factors ([`super::neural`]): on the CPU by a kernel
//! with hand-written gradients ([`super::kernels::ncf`]; 3.2× faster on the Goodbooks-shaped
//! bench in alternating runs, `bench/recsys/epoch_before_after.sh`, and three epochs on Last.fm
//! 2K take 5–12 s instead of 115–152 s in the recommender experiment),
//! on CUDA through libtorch's autograd; both take the same steps within rounding (a test trains
//! the same batches both ways). For an unseen item
//! (`score_tags`) z_i is left out and only the tags make the item factor.

use std::time::Instant;

use datafusion::common::exec_err;
use datafusion::error::Result;
use serde::{Deserialize, Serialize};
use tch::{Device, Kind, Tensor};

use super::data::{RecData, Tags};
use super::kernels::fm::Adam;
use super::kernels::ncf::{relu_dot, NcfParams, NcfShape, NcfTrainer};
use super::neural::{
    facts, initial_factors, normal_values, run_kernel_epochs, train, NeuralOptions, Params,
    NEURAL_OPTIONS,
};
use super::recommender::{normalised_scaled_scores, Entity, FactorMatrix, Recommender};
use super::tensors::TagInput;
use crate::common::rng::Rng;
use crate::common::tensors::{index, to_f32_vec, DeviceTensors};
use crate::model::{
    decode, encode, Model, ModelOptions, ModelType, OptionKind, OptionSpec, TaskControl,
    TrainContext, Trained, TrainingData,
};

/// The `ncf` model type.
#[derive(Debug)]
pub struct NcfType;

/// Parameter names, in the order of [`ncf_score`]'s slice.
const NAMES: [&str; 8] = ["p_user", "z_item", "z_tag", "w1", "b1", "w2", "h_gmf", "b"];

/// A trained NCF model.
#[derive(Debug, Serialize, Deserialize)]
pub struct Ncf {
    data: RecData,
    k: usize,
    hidden: usize,
    params: Params,
    losses: Vec<f64>,
    /// [G = Z_tags W₁ⁱ] for sparse scoring and the PDP closed form, built on first use.
    #[serde(skip)]
    switch: DeviceTensors,
    /// G on the host (tags × hidden, row-major) for the CPU closed form, built on first use.
    #[serde(skip)]
    host_g: std::sync::OnceLock<Vec<f32>>,
}

/// z_i(t) for a batch (`items` `None` for unseen items).
fn item_factor(p: &[Tensor], items: Option<&Tensor>, tags: &TagInput) -> Tensor {
    let (z_item, z_tag) = (&p[1], &p[2]);
    let x = tags.div_rows(&tags.row_sum(z_tag.kind(), z_tag.device()));
    let from_tags = x.matmul(z_tag);
    match items {
        Some(items) => z_item.index_select(0, items) + from_tags,
        None => from_tags,
    }
}

/// The NCF score of a batch.
pub fn ncf_score(p: &[Tensor], users: &Tensor, items: Option<&Tensor>, tags: &TagInput) -> Tensor {
    let (p_user, w1, b1, w2, h_gmf, b) = (&p[0], &p[3], &p[4], &p[5], &p[6], &p[7]);
    let pu = p_user.index_select(0, users);
    let z = item_factor(p, items, tags);
    let gmf = (&pu * &z).matmul(h_gmf);
    let hidden = (Tensor::cat(&[&pu, &z], 1).matmul(w1) + b1).relu();
    gmf + hidden.matmul(w2) + b
}

/// Tags per parallel task of the PDP closed form.
const TAGS_PER_TASK: usize = 64;

impl Ncf {
    fn tensors(&self, device: Device) -> Result<Vec<Tensor>> {
        self.params.on(device)
    }

    /// G = Z_tags W₁ⁱ (tags × hidden): each tag's contribution to the hidden layer's input.
    fn tag_hidden(&self, device: Device, p: &[Tensor]) -> Result<Tensor> {
        let k = self.k as i64;
        let [g] = self.switch.get(device, |_| {
            Ok(vec![p[2].matmul(&p[3].narrow(0, k, k)).contiguous()])
        })?;
        Ok(g)
    }

    /// G ([`Ncf::tag_hidden`]) on the host, built on first use: later calls (one per LIME row
    /// and PDP user) only read it.
    fn host_g(&self) -> Result<&[f32]> {
        if let Some(v) = self.host_g.get() {
            return Ok(v);
        }
        let g = self.tag_hidden(Device::Cpu, &self.tensors(Device::Cpu)?)?;
        let v = to_f32_vec(&g)?;
        Ok(self.host_g.get_or_init(|| v))
    }
}

/// Rows of [`Ncf::scaled_tag_scores_cpu`]'s blocks (their hidden layers stay bounded however many
/// perturbations a row has).
const SCALED_ROWS: usize = 256;

impl Model for Ncf {
    fn describe(&self) -> Vec<(String, String)> {
        let mut out = self.data.describe();
        out.push(("latent dimension".to_string(), self.k.to_string()));
        out.push(("hidden units".to_string(), self.hidden.to_string()));
        out.push(("parameters".to_string(), self.params.count().to_string()));
        out
    }

    fn to_bytes(&self) -> Result<Vec<u8>> {
        encode(self)
    }

    crate::capabilities!(dyn Recommender);
}

impl Recommender for Ncf {
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
        let p = self.tensors(device)?;
        if matches!(tags, TagInput::Dense(_)) || p[2].requires_grad() {
            return Ok(ncf_score(&p, users, Some(items), tags));
        }
        // Scoring many tag vectors of few users and items (LIME's perturbations, PDP): the
        // hidden layer's input splits into W₁ᵘ p_u (once per distinct user), W₁ⁱ z_i (once per
        // distinct item) and (t / ‖t‖₁) G with G = Z_tags W₁ⁱ cached, a sparse product, instead
        // of a [rows × 2k] × [2k × hidden] product.
        let (p_user, z_item, z_tag, w1, b1, w2, h_gmf, b) =
            (&p[0], &p[1], &p[2], &p[3], &p[4], &p[5], &p[6], &p[7]);
        let k = self.k as i64;
        let g = self.tag_hidden(device, &p)?;
        let x = tags.div_rows(&tags.row_sum(z_tag.kind(), device));
        let per_distinct = |ids: &Tensor, m: &Tensor, w: &Tensor| {
            let (distinct, inverse, _) = ids.internal_unique2(false, true, false);
            m.index_select(0, &distinct)
                .matmul(w)
                .index_select(0, &inverse)
        };
        let hidden = (per_distinct(users, p_user, &w1.narrow(0, 0, k))
            + per_distinct(items, z_item, &w1.narrow(0, k, k))
            + x.sparse_mm(&g)
            + b1)
            .relu();
        let z = item_factor(&p, Some(items), tags);
        let gmf = (p_user.index_select(0, users) * z).matmul(h_gmf);
        Ok(gmf + hidden.matmul(w2) + b)
    }

    /// [`Recommender::scaled_tag_scores`] on the host, in f32 like the model: with weights
    /// w_rj = s_rj x_j and n_r = Σ_j w_rj, the hidden layer's input is e + (Σ_j w_rj G_{t_j}) / n_r
    /// (e the user's and the item's part and b₁), one product of the weights with the item's
    /// weighted rows of G; the GMF branch is h · (p_u ⊙ z_i) + (Σ_j w_rj h · (p_u ⊙ Z_{t_j})) / n_r.
    fn scaled_tag_scores_cpu(
        &self,
        user: u32,
        item: u32,
        tags: &[u32],
        weights: &[f32],
        scale: &[f64],
        cancelled: super::recommender::Cancel<'_>,
    ) -> Result<Option<Vec<f64>>> {
        let (k, hidden) = (self.k, self.hidden);
        let v = &self.params.values;
        let [p_user, z_item, z_tag, w1, b1, w2, h_gmf, b] =
            [0, 1, 2, 3, 4, 5, 6, 7].map(|j| &v[j][..]);
        let (u, i) = (user as usize, item as usize);
        let (Some(pu), Some(zi), true) = (
            p_user.get(u * k..(u + 1) * k),
            z_item.get(i * k..(i + 1) * k),
            tags.len() == weights.len()
                && tags.iter().all(|&t| (t as usize) < self.data.n_tags())
                && w1.len() == 2 * k * hidden
                && b1.len() == hidden
                && w2.len() == hidden
                && h_gmf.len() == k
                && b.len() == 1,
        ) else {
            return exec_err!("ncf: user, item, tag or weight out of range");
        };
        let d = tags.len();
        let g = self.host_g()?;
        // e = W₁ᵘ p_u + W₁ⁱ z_i + b₁.
        let mut e = b1.to_vec();
        for (r, &x) in pu.iter().chain(zi).enumerate() {
            let row = &w1[r * hidden..(r + 1) * hidden];
            e.iter_mut().zip(row).for_each(|(e, w)| *e += x * w);
        }
        let gu: Vec<f32> = pu.iter().zip(h_gmf).map(|(p, h)| p * h).collect();
        let gmf_base = gu.iter().zip(zi).map(|(g, z)| g * z).sum::<f32>() + b[0];
        let mut gx = Vec::with_capacity(d * hidden);
        let mut gz = Vec::with_capacity(d);
        for (&t, &x) in tags.iter().zip(weights) {
            let t = t as usize;
            gx.extend(g[t * hidden..(t + 1) * hidden].iter().map(|v| v * x));
            let zt = &z_tag[t * k..(t + 1) * k];
            gz.push(x * gu.iter().zip(zt).map(|(g, z)| g * z).sum::<f32>());
        }
        normalised_scaled_scores(
            "ncf",
            scale,
            weights,
            &gx,
            hidden,
            SCALED_ROWS,
            cancelled,
            |wr, yr, inv| {
                let tag_gmf: f32 = wr.iter().zip(&gz).map(|(s, g)| s * g).sum();
                gmf_base + inv * tag_gmf + relu_dot(&e, inv, yr, w2)
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
        Ok(Some(ncf_score(&self.tensors(device)?, users, None, tags)))
    }

    /// The first layer splits into a user part and an item part, W₁[p; z] = W₁ᵘ p + W₁ⁱ z, so
    /// the item side is computed once and each user costs one [items × hidden] ReLU and product.
    fn score_all_items(
        &self,
        device: Device,
        users: &[u32],
        cancelled: super::recommender::Cancel<'_>,
    ) -> Result<Tensor> {
        let p = self.tensors(device)?;
        let (p_user, w1, b1, w2, h_gmf, b) = (&p[0], &p[3], &p[4], &p[5], &p[6], &p[7]);
        let k = self.k as i64;
        let n = self.data.n_items();
        let all: Vec<u32> = (0..n as u32).collect();
        let tags = TagInput::own(&self.data, &all, Kind::Float, device);
        let z = item_factor(&p, Some(&index(&all, device)), &tags);
        let item_hidden = z.matmul(&w1.narrow(0, k, k)) + b1;
        let pu = p_user.index_select(0, &index(users, device));
        let user_hidden = pu.matmul(&w1.narrow(0, 0, k));
        let gmf = (&pu * h_gmf).matmul(&z.tr());
        let mut rows = Vec::with_capacity(users.len());
        // One [items × hidden] buffer for all users, written in place: a fresh tensor per user
        // (two, for the sum and its ReLU) cost more in page faults than in arithmetic. The same
        // operations on the same values: the same scores.
        let mut hidden = item_hidden.empty_like();
        for r in 0..users.len() as i64 {
            cancelled()?;
            let _ = item_hidden
                .f_add_out(&hidden, &user_hidden.get(r))
                .map_err(crate::common::tensors::torch_err)?;
            let _ = hidden
                .f_relu_()
                .map_err(crate::common::tensors::torch_err)?;
            rows.push(hidden.matmul(w2));
        }
        Ok(gmf + Tensor::stack(&rows, 0) + b)
    }

    /// Switching tag t on in item j gives z_j(t) = z_j + (A_j + w Z_t) / (s_j + w), with A_j =
    /// T_j Z_tags and s_j = ‖T_j‖₁, so the hidden layer's input is e_j + β_j G_t with e_j the
    /// user's and the item's part, β_j = w / (s_j + w) and G = Z_tags W₁ⁱ (cached), and the GMF
    /// branch is linear in Z_t. The [items × tags × hidden] ReLU is then one fused loop
    /// ([`relu_dot`]) instead of a forward pass per row. CPU only; on other devices PDP takes the
    /// generic path.
    fn switch_on_scores(
        &self,
        device: Device,
        user: u32,
        items: &[u32],
        weight: f64,
        cancelled: super::recommender::Cancel<'_>,
    ) -> Result<Option<Tensor>> {
        if device != Device::Cpu {
            return Ok(None);
        }
        let p = self.tensors(device)?;
        let (p_user, z_item, z_tag, w1, b1, w2, h_gmf, b) =
            (&p[0], &p[1], &p[2], &p[3], &p[4], &p[5], &p[6], &p[7]);
        let k = self.k as i64;
        let w1i = w1.narrow(0, k, k);
        let (scores, n_tags) = tch::no_grad(|| -> Result<(Vec<f32>, usize)> {
            let pu = p_user.get(user as i64);
            let own = TagInput::own(&self.data, items, Kind::Float, device);
            let alpha = (own.row_sum(Kind::Float, device) + weight).reciprocal();
            let base_z = z_item.index_select(0, &index(items, device))
                + alpha.unsqueeze(1) * own.matmul(z_tag);
            let e = pu.unsqueeze(0).matmul(&w1.narrow(0, 0, k)) + base_z.matmul(&w1i) + b1;
            let beta = &alpha * weight;
            let gu = &pu * h_gmf;
            let gmf_base = base_z.matmul(&gu) + b.reshape([-1]).get(0);
            let gmf_tag = z_tag.matmul(&gu);
            let g_v = self.host_g()?;
            let (e, beta) = (to_f32_vec(&e)?, to_f32_vec(&beta)?);
            let (w2, gmf_base, gmf_tag) = (
                to_f32_vec(&w2.reshape([-1]))?,
                to_f32_vec(&gmf_base)?,
                to_f32_vec(&gmf_tag)?,
            );
            let hidden = w2.len();
            let n_tags = gmf_tag.len();
            let n_items = items.len();
            // Tag-major [tags × items], so that each G_t row is read once; chunks of tags run in
            // parallel.
            let mut out = vec![0f32; n_tags * n_items];
            use rayon::prelude::*;
            out.par_chunks_mut(n_items * TAGS_PER_TASK)
                .enumerate()
                .try_for_each(|(c, chunk)| -> Result<()> {
                    // Each task checks first: a cancelled statement stops within one task.
                    cancelled()?;
                    for (r, row) in chunk.chunks_mut(n_items).enumerate() {
                        let t = c * TAGS_PER_TASK + r;
                        let gt = &g_v[t * hidden..(t + 1) * hidden];
                        for (j, o) in row.iter_mut().enumerate() {
                            let ej = &e[j * hidden..(j + 1) * hidden];
                            *o =
                                gmf_base[j] + beta[j] * gmf_tag[t] + relu_dot(ej, beta[j], gt, &w2);
                        }
                    }
                    Ok(())
                })?;
            Ok((out, n_tags))
        })?;
        let t = Tensor::from_slice(&scores).view([n_tags as i64, items.len() as i64]);
        Ok(Some(t.tr().contiguous()))
    }

    fn factors(&self) -> Vec<FactorMatrix> {
        let m = |entity, i: usize| FactorMatrix {
            entity,
            k: self.k,
            values: self.params.values[i].clone(),
        };
        vec![m(Entity::User, 0), m(Entity::Item, 1), m(Entity::Tag, 2)]
    }
}

static OPTIONS: std::sync::LazyLock<Vec<OptionSpec>> = std::sync::LazyLock::new(|| {
    let mut v = NEURAL_OPTIONS.to_vec();
    for spec in v.iter_mut() {
        match spec.name {
            "epochs" => spec.default = Some("5"),
            "lr" => spec.default = Some("0.001"),
            _ => {}
        }
    }
    v.push(OptionSpec {
        name: "hidden",
        kind: OptionKind::Int {
            min: 1,
            max: 65_536,
        },
        default: Some("1024"),
        doc: "units of the MLP branch's hidden layer",
    });
    v
});

/// The initial parameters: user and tag factors from the WRMF initialisation, everything else
/// small and seeded (Glorot-style scales for the dense layers).
fn initial_values(
    rec: &RecData,
    opts: &NeuralOptions,
    hidden: usize,
    rng: &mut Rng,
    control: &TaskControl<'_>,
) -> Result<NcfParams> {
    let (users, tags) = initial_factors("ncf", rec, opts, rng, control)?;
    let (ni, h) = (rec.n_items(), opts.dim);
    let s1 = (2.0 / (2 * h + hidden) as f64).sqrt();
    let s2 = (2.0 / (hidden + 1) as f64).sqrt();
    let sg = (2.0 / (h + 1) as f64).sqrt();
    let z_item = normal_values(rng, ni * h, 0.01);
    let w1 = normal_values(rng, 2 * h * hidden, s1);
    let w2 = normal_values(rng, hidden, s2);
    let h_gmf = normal_values(rng, h, sg);
    Ok(NcfParams {
        p_user: users,
        z_item,
        z_tag: tags,
        w1,
        b1: vec![0.0; hidden],
        w2,
        h_gmf,
        b: 0.0,
    })
}

/// Shapes of the parameters, in [`NAMES`]' order.
fn shapes(rec: &RecData, dim: usize, hidden: usize) -> Vec<Vec<i64>> {
    let (nu, ni, nt, h, hd) = (
        rec.n_users() as i64,
        rec.n_items() as i64,
        rec.n_tags() as i64,
        dim as i64,
        hidden as i64,
    );
    vec![
        vec![nu, h],
        vec![ni, h],
        vec![nt, h],
        vec![2 * h, hd],
        vec![hd],
        vec![hd],
        vec![h],
        vec![1],
    ]
}

/// Trains an NCF on the CPU through [`kernels::ncf`](super::kernels::ncf): the same batches,
/// loss and Adam as [`fit_with_autograd`], with exact hand-written gradients. Returns the
/// parameters and the mean loss of every epoch.
pub fn fit_on_cpu(
    rec: &RecData,
    opts: &NeuralOptions,
    initial: NcfParams,
    rng: &mut Rng,
    control: &TaskControl<'_>,
) -> Result<(Params, Vec<f64>)> {
    let hidden = initial.b1.len();
    let shape = NcfShape {
        n_users: rec.n_users(),
        n_items: rec.n_items(),
        n_tags: rec.n_tags(),
        k: opts.dim,
        hidden,
    };
    let mut trainer = NcfTrainer::new(shape, initial, Adam::new(opts.lr, opts.l2))
        .map_err(|e| super::train::kernel_err("ncf", e))?;
    let losses = run_kernel_epochs("ncf", rec, opts, rng, control, shape.rows(), |batch| {
        trainer.step_prepared(batch)
    })?;
    let values = trainer.finish().into_values();
    Ok((
        Params::new(&NAMES, shapes(rec, opts.dim, hidden), values),
        losses,
    ))
}

/// Trains an NCF through libtorch's autograd and Adam on `device` (what CUDA uses, and what the
/// CPU used before [`fit_on_cpu`]). Returns the parameters and the mean loss of every epoch.
pub fn fit_with_autograd(
    rec: &RecData,
    opts: &NeuralOptions,
    initial: NcfParams,
    device: Device,
    rng: &mut Rng,
    control: &TaskControl<'_>,
) -> Result<(Params, Vec<f64>)> {
    let hidden = initial.b1.len();
    // On the CPU; `train` copies them to `device`.
    let tensors: Vec<Tensor> = initial
        .into_values()
        .iter()
        .zip(shapes(rec, opts.dim, hidden))
        .map(|(v, s)| Tensor::from_slice(v).view(s.as_slice()))
        .collect();
    let (trained, losses) = train(
        "ncf", rec, opts, &NAMES, tensors, &ncf_score, device, rng, control,
    )?;
    Ok((Params::from_tensors(&NAMES, &trained)?, losses))
}

/// [`fit_with_autograd`] from the start [`NcfType`]'s training takes (the WRMF initialisation and
/// the seeded dense layers, `hidden` units): what the CPU ran before [`fit_on_cpu`], for the
/// recommender bench's before/after comparison.
pub fn train_with_autograd(
    rec: &RecData,
    opts: &NeuralOptions,
    hidden: usize,
    device: Device,
    rng: &mut Rng,
    control: &TaskControl<'_>,
) -> Result<(Params, Vec<f64>)> {
    let initial = initial_values(rec, opts, hidden, rng, control)?;
    fit_with_autograd(rec, opts, initial, device, rng, control)
}

impl ModelType for NcfType {
    fn name(&self) -> &'static str {
        "ncf"
    }

    fn description(&self) -> &'static str {
        "neural collaborative filtering (GMF + MLP) with tag-aware item factors, negative sampling + Adam"
    }

    fn options(&self) -> &'static [OptionSpec] {
        OPTIONS.as_slice()
    }

    fn train(&self, data: &TrainingData, ctx: &TrainContext<'_>) -> Result<Trained> {
        let start = Instant::now();
        let (rec, training) = RecData::from_training("ncf", data, Tags::Required, &ctx.control)?;
        let opts = NeuralOptions::try_from(ctx.options)?;
        let hidden: usize = ctx.options.value("hidden")?;
        super::train::memory::check_neural("ncf", &rec, ctx.options, hidden, ctx.memory_limit)?;
        super::train::memory::check_als("ncf", &rec, opts.dim, ctx.memory_limit)?;
        let mut rng = Rng::new(opts.seed);
        let initial = initial_values(&rec, &opts, hidden, &mut rng, &ctx.control)?;
        let (params, losses, path) = if ctx.device == Device::Cpu {
            let (params, losses) = fit_on_cpu(&rec, &opts, initial, &mut rng, &ctx.control)?;
            (
                params,
                losses,
                "CPU kernel (exact gradients, lazy dense Adam)",
            )
        } else {
            let (params, losses) =
                fit_with_autograd(&rec, &opts, initial, ctx.device, &mut rng, &ctx.control)?;
            (params, losses, "libtorch autograd")
        };
        let mut training = facts(training, &losses, start);
        training.insert("training path".to_string(), path.to_string());
        Ok(Trained {
            model: Box::new(Ncf {
                data: rec,
                k: opts.dim,
                hidden,
                params,
                losses,
                switch: DeviceTensors::default(),
                host_g: std::sync::OnceLock::new(),
            }),
            training,
        })
    }

    fn load(&self, _options: &ModelOptions, bytes: &[u8]) -> Result<Box<dyn Model>> {
        Ok(Box::new(decode::<Ncf>("ncf", bytes)?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::common::rng::Rng;

    #[test]
    fn the_cpu_kernel_trains_like_libtorch_autograd() {
        let (nu, ni, nt, k, hidden) = (7usize, 9usize, 12usize, 5usize, 13usize);
        let mut rng = Rng::new(21);
        let mut normal = |n: usize, sd: f64| normal_values(&mut rng, n, sd);
        let initial = NcfParams {
            p_user: normal(nu * k, 0.4),
            z_item: normal(ni * k, 0.4),
            z_tag: normal(nt * k, 0.4),
            w1: normal(2 * k * hidden, 0.4),
            b1: normal(hidden, 0.1),
            w2: normal(hidden, 0.3),
            h_gmf: normal(k, 0.4),
            b: 0.05,
        };
        let (lr, wd) = (0.01, 0.001);
        let shape = NcfShape {
            n_users: nu,
            n_items: ni,
            n_tags: nt,
            k,
            hidden,
        };
        let shapes = [
            vec![nu as i64, k as i64],
            vec![ni as i64, k as i64],
            vec![nt as i64, k as i64],
            vec![2 * k as i64, hidden as i64],
            vec![hidden as i64],
            vec![hidden as i64],
            vec![k as i64],
            vec![1],
        ];
        let values: Vec<(Vec<i64>, Vec<f32>)> = shapes
            .into_iter()
            .zip(initial.clone().into_values())
            .collect();
        let mut kernel = NcfTrainer::new(shape, initial, Adam::new(lr, wd)).unwrap();
        let run = crate::recsys::neural::check_kernel_against_autograd(
            &NAMES,
            &values,
            &ncf_score,
            (nu, ni, nt),
            (lr, wd),
            |users, items, negatives, tags| {
                let tags = crate::recsys::kernels::fm::ScaledTags::new(shape.rows(), tags).unwrap();
                kernel.step(users, items, negatives, &tags).unwrap()
            },
        );
        run.compare(&kernel.finish().into_values());
    }
}
