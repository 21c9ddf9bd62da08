//! `unn`: the tag-aware user-neighbourhood recommender (thesis eq. 5.9–5.11, SPEC §5).
//!
//! Users are similar when the tags of what they consumed are: user-tag profiles Tᵁ = R T, their
//! truncated SVD Tᵁ ≈ Uᵁ Σᵁ Vᵁᵀ (rank h = `dim`), user factors Ûᵁ (unit rows of Uᵁ), item
//! factors Y = Ûᵁᵀ R and scores P = Ûᵁ Y, i.e. P = S R with S ≈ Ûᵁ Ûᵁᵀ.
//!
//! Tag dependence: replacing item i's tags by t shifts the profile of every user v who consumed i
//! by R_{v,i}(t − T_i). Profiles map to the latent space with the trained Vᵁ Σᵁ⁻¹, so user v's
//! latent profile becomes Uᵁ_v + R_{v,i}(t − T_i) Vᵁ Σᵁ⁻¹, which is unit-normalised, and
//! f(u, i, t) = Σ_v ⟨ûᵁ_u(t), ûᵁ_v(t)⟩ R_{v,i}. At t = T_i this is exactly P_{u,i}. uNN scores an
//! item through the users who consumed it, so it has no score for an unseen item (`score_tags`
//! gives NULL).

use std::sync::OnceLock;
use std::time::Instant;

use datafusion::common::exec_err;
use datafusion::error::{DataFusionError, Result};
use serde::{Deserialize, Serialize};
use tch::{Device, Kind, Tensor};

use super::data::{RecData, Tags};
use super::inn::{svd_facts, SVD_OPTIONS};
use super::kernels::sparse::Csr;
use super::kernels::svd::{ProductOp, SparseOp};
use super::recommender::{Entity, FactorMatrix, Recommender};
use super::tensors::TagInput;
use super::train::{kernel_err, row_major, scaled_tag_rows, svd_with_progress, tag_projection};
use crate::common::tensors::{index, matrix_f64, to_f64_vec, DeviceTensors};
use crate::model::{
    decode, encode, Model, ModelOptions, ModelType, OptionSpec, TrainContext, Trained, TrainingData,
};
use crate::transfer::kernels::linalg::{dot, gemm_serial, MatRef};

/// The `unn` model type.
#[derive(Debug)]
pub struct UnnType;

/// A trained user-neighbourhood model.
#[derive(Debug, Serialize, Deserialize)]
pub struct Unn {
    data: RecData,
    k: usize,
    /// Vᵁ Σᵁ⁻¹, tags × k.
    w: Vec<f64>,
    /// Uᵁ (unnormalised latent user profiles), users × k.
    latent: Vec<f64>,
    /// Ûᵁ, users × k.
    users: Vec<f64>,
    /// Yᵀ = Rᵀ Ûᵁ, items × k.
    items: Vec<f64>,
    /// T W: each item's own tags in the latent space, items × k.
    item_tags: Vec<f64>,
    singular_values: Vec<f64>,
    #[serde(skip)]
    tensors: DeviceTensors,
    /// [M = Uᵁ Wᵀ, ‖W_t‖², ‖Uᵁ_v‖²] for the PDP closed form, built on first use.
    #[serde(skip)]
    switch: DeviceTensors,
    /// Rᵀ (items × users): who consumed each item.
    #[serde(skip)]
    consumers: OnceLock<Csr>,
    /// ‖W_t‖² and ‖Uᵁ_v‖² for the PDP closed form's CPU loop (M itself is built in blocks of
    /// tags per call: [`Unn::switch_on_scores_blocks`]).
    #[serde(skip)]
    host_switch: OnceLock<HostSwitch>,
}

/// An error, before anything is allocated, when the PDP closed form's table M = Uᵁ Wᵀ (users ×
/// tags, f64, held twice while it is built) would not fit in `limit` bytes (the default memory
/// limit, half the machine's memory: the model's methods do not see the session's setting). For
/// the tensor path, which holds the whole of M on its device; the CPU path builds M in blocks of
/// tags ([`Unn::switch_on_scores_blocks`]). At Goodbooks scale M alone is 53,424 × 34,000 × 8
/// bytes = 14.5 GB, and building it whole was killed by the kernel's out-of-memory killer on a
/// 24 GB machine (2026-12-07).
fn switch_table_fits(n_users: usize, n_tags: usize, limit: u64) -> Result<()> {
    use crate::engine::memory::format_bytes;
    let need = n_users as f64 * n_tags as f64 * 8.0 * 2.0;
    if need <= limit as f64 {
        return Ok(());
    }
    // Not check_memory's wording: SET trustql.memory_limit does not reach this limit.
    Err(datafusion::error::DataFusionError::ResourcesExhausted(
        format!(
            "unn's PDP closed form (its users × tags table M = Uᵁ Wᵀ, {n_users} × {n_tags}) needs \
         about {} of memory on this device, over {} (half of this machine's memory); on the CPU \
         it is built in blocks of tags instead",
            format_bytes(need),
            format_bytes(limit as f64)
        ),
    ))
}

/// Tags per pass of the PDP closed form's CPU loop: its four rows of this many doubles (the
/// accumulator, a consumer's row of M, the user's row and w²‖W_t‖²) stay in the core's caches.
const SWITCH_PASS_TAGS: usize = 2048;

/// How many tags one block of M = Uᵁ Wᵀ may span when `budget` bytes may hold it twice (the
/// tensor it is computed in and its host copy): whole passes of `pass` tags, all `n_tags` when
/// they fit, and an error when not even one pass fits.
fn switch_block_tags(n_users: usize, n_tags: usize, pass: usize, budget: u64) -> Result<usize> {
    use crate::engine::memory::format_bytes;
    let per_tag = n_users as f64 * 8.0 * 2.0;
    let fit = (budget as f64 / per_tag.max(1.0)).floor() as usize;
    if fit >= n_tags {
        return Ok(n_tags.max(1));
    }
    if fit < pass {
        return Err(datafusion::error::DataFusionError::ResourcesExhausted(
            format!(
            "unn's PDP closed form needs its users × tags table M = Uᵁ Wᵀ {pass} tags at a time \
             ({n_users} × {pass}: about {}), over {} (a quarter of this machine's memory)",
            format_bytes(per_tag * pass as f64),
            format_bytes(budget as f64)
        ),
        ));
    }
    Ok(fit / pass * pass)
}

/// Bytes of one pass's rows (one per item of a user, [`Unn::switch_rows_in_block`]) that keep
/// them in a core's caches; passes are narrowed to it (to 64 tags at least).
const SWITCH_ROWS_BYTES: usize = 512 * 1024;

/// Columns `t0..t1` of M = Uᵁ Wᵀ: `m` is users × (t1 − t0), row-major.
struct SwitchBlock {
    m: Vec<f64>,
    t0: usize,
    t1: usize,
}

/// ‖W_t‖² per tag and ‖Uᵁ_v‖² per user, on the host.
#[derive(Debug)]
struct HostSwitch {
    ww: Vec<f64>,
    norms: Vec<f64>,
}

impl Unn {
    pub fn fit(
        data: RecData,
        options: &ModelOptions,
        ctx: &TrainContext<'_>,
    ) -> Result<(Unn, bool)> {
        let opts = super::kernels::svd::SvdOptions::try_from(options)?;
        let r = SparseOp::new(data.r.clone()).map_err(|e| kernel_err("unn", e))?;
        let t = SparseOp::new(data.t.clone()).map_err(|e| kernel_err("unn", e))?;
        let op = ProductOp::new(r, t).map_err(|e| kernel_err("unn", e))?;
        let svd = svd_with_progress("unn", &op, &opts, &ctx.control)?;
        let k = svd.s.len();
        let w = tag_projection(&svd);
        let u_hat = super::train::unit_rows(&svd.u);
        let items = data.r.t_mul_dense(&u_hat);
        let item_tags = data.t.mul_dense(&w);
        Ok((
            Unn {
                k,
                w: row_major(&w),
                latent: row_major(&svd.u),
                users: row_major(&u_hat),
                items: row_major(&items),
                item_tags: row_major(&item_tags),
                singular_values: svd.s.clone(),
                data,
                tensors: DeviceTensors::default(),
                switch: DeviceTensors::default(),
                consumers: OnceLock::new(),
                host_switch: OnceLock::new(),
            },
            svd.converged,
        ))
    }

    /// [W, Uᵁ, Ûᵁ, Yᵀ, T W] on `device`.
    fn params(&self, device: Device) -> Result<[Tensor; 5]> {
        let (nu, ni, nt, k) = (
            self.data.n_users(),
            self.data.n_items(),
            self.data.n_tags(),
            self.k,
        );
        self.tensors.get(device, |d| {
            Ok(vec![
                matrix_f64(&self.w, nt, k, Kind::Double, d),
                matrix_f64(&self.latent, nu, k, Kind::Double, d),
                matrix_f64(&self.users, nu, k, Kind::Double, d),
                matrix_f64(&self.items, ni, k, Kind::Double, d),
                matrix_f64(&self.item_tags, ni, k, Kind::Double, d),
            ])
        })
    }

    fn consumers(&self) -> &Csr {
        self.consumers.get_or_init(|| self.data.r.transpose())
    }

    fn host_switch(&self) -> &HostSwitch {
        self.host_switch.get_or_init(|| {
            let squares = |rows: &[f64]| -> Vec<f64> {
                rows.chunks_exact(self.k.max(1))
                    .map(|r| r.iter().map(|x| x * x).sum())
                    .collect()
            };
            HostSwitch {
                ww: squares(&self.w),
                norms: squares(&self.latent),
            }
        })
    }

    /// Columns `t0..t1` of M = Uᵁ Wᵀ (users × (t1 − t0), row-major), on the host.
    fn switch_block(&self, t0: usize, t1: usize) -> Result<Vec<f64>> {
        let [w, latent, ..] = self.params(Device::Cpu)?;
        tch::no_grad(|| {
            let wb = w.narrow(0, t0 as i64, (t1 - t0) as i64);
            to_f64_vec(&latent.matmul(&wb.tr()))
        })
    }

    /// The PDP closed form on the CPU ([`Recommender::switch_on_scores_many`]): M = Uᵁ Wᵀ is built
    /// in blocks of as many tags as fit in `budget` bytes (whole passes of `pass` tags; all the
    /// tags for Last.fm-sized models), each shared by all `users`, which run in parallel
    /// ([`Unn::switch_rows_in_block`]). The numbers do not depend on the blocks or passes: each
    /// is its own sum over the item's consumers in their order.
    #[allow(clippy::too_many_arguments)]
    fn switch_on_scores_blocks(
        &self,
        users: &[(u32, &[u32])],
        weight: f64,
        budget: u64,
        pass: usize,
        cancelled: super::recommender::Cancel<'_>,
        sink: super::recommender::SwitchSink<'_>,
    ) -> Result<()> {
        use rayon::prelude::*;
        let (nu, nt) = (self.data.n_users(), self.data.n_tags());
        if nt == 0 || users.is_empty() {
            return Ok(());
        }
        if let Some(&(u, _)) = users.iter().find(|(u, _)| *u as usize >= nu) {
            return exec_err!("unn: user index {u} out of range");
        }
        let ni = self.data.n_items();
        if let Some(&j) = users
            .iter()
            .flat_map(|(_, is)| *is)
            .find(|&&j| j as usize >= ni)
        {
            return exec_err!("unn: item index {j} out of range");
        }
        let pass = pass.clamp(1, nt);
        let width = switch_block_tags(nu, nt, pass, budget)?;
        for t0 in (0..nt).step_by(width) {
            cancelled()?;
            let t1 = (t0 + width).min(nt);
            let block = SwitchBlock {
                m: self.switch_block(t0, t1)?,
                t0,
                t1,
            };
            users
                .par_iter()
                .enumerate()
                .try_for_each(|(n, &(user, items))| -> Result<()> {
                    self.switch_rows_in_block(
                        user,
                        items,
                        &block,
                        pass,
                        weight,
                        cancelled,
                        (n, sink),
                    )
                })?;
        }
        Ok(())
    }

    /// One user's part of [`Unn::switch_on_scores_blocks`] for one block of M: for each pass of
    /// tags (in parallel), each item j's row is Σ_v R_{v,j} num_{v,t} / ‖·‖_{v,t} over its
    /// consumers v, divided by the user's norm. The loop runs over the consumers of all the
    /// user's items in the order of their ids, each consumer's row of M read once per pass and
    /// applied to the rows of the items it consumed (a popular consumer appears in many of
    /// them; reading M, far larger than the caches, once per item and consumer made the loop wait
    /// on memory), and the consumer's inverse norms 1 / ‖L_v + R_{v,j} w W_t‖ are computed once
    /// for all its items with the same R_{v,j} (a square root and a division per tag, the
    /// loop's dearest operations). Each item's row still adds its consumers in id order, as its
    /// own loop would, with the same operations.
    /// `sink` (the user's position and [`Recommender::switch_on_scores_many`]'s sink) gets the
    /// rows in pass order, items in order within a pass.
    #[allow(clippy::too_many_arguments)]
    fn switch_rows_in_block(
        &self,
        user: u32,
        items: &[u32],
        block: &SwitchBlock,
        pass: usize,
        weight: f64,
        cancelled: super::recommender::Cancel<'_>,
        sink: (usize, super::recommender::SwitchSink<'_>),
    ) -> Result<()> {
        use rayon::prelude::*;
        cancelled()?;
        let (k, h, consumers) = (self.k, self.host_switch(), self.consumers());
        let (t0, t1, bw, m) = (block.t0, block.t1, block.t1 - block.t0, &block.m[..]);
        let u = user as usize;
        let lu = &self.latent[u * k..(u + 1) * k];
        let lu2: f64 = lu.iter().map(|x| x * x).sum();
        // ⟨L_u, L_v⟩ for every v, once per block (not per item and pass).
        let luv: Vec<f64> = self
            .latent
            .chunks_exact(k)
            .map(|lv| lu.iter().zip(lv).map(|(x, y)| x * y).sum())
            .collect();
        // R_{u,j} per item, and (consumer, item position, R_{v,j}) by consumer, then value.
        let mut a = Vec::with_capacity(items.len());
        let mut entries: Vec<(u32, u32, f32)> = Vec::new();
        for (jn, &j) in items.iter().enumerate() {
            let (cs, vals) = consumers.row(j as usize);
            a.push(match cs.binary_search(&user) {
                Ok(p) => vals[p] as f64,
                Err(_) => 0.0,
            });
            entries.extend(cs.iter().zip(vals).map(|(&v, &b)| (v, jn as u32, b)));
        }
        entries.sort_unstable_by_key(|&(v, jn, b)| (v, b.to_bits(), jn));
        // Passes narrow enough that the rows of all the items stay in the core's caches.
        let pw = pass.min((SWITCH_ROWS_BYTES / (8 * items.len().max(1))).max(64));
        let starts: Vec<usize> = (t0..t1).step_by(pw).collect();
        let passes: Vec<Vec<f64>> = starts
            .par_iter()
            .map(|&s0| -> Result<Vec<f64>> {
                let s1 = (s0 + pw).min(t1);
                let (c0, c1, w) = (s0 - t0, s1 - t0, s1 - s0);
                let mu = &m[u * bw + c0..u * bw + c1];
                let wb: Vec<f64> = h.ww[s0..s1].iter().map(|x| x * weight * weight).collect();
                let mut acc = vec![0.0f64; items.len() * w];
                let mut inv = vec![0.0f64; w];
                // Runs of entries of one consumer with one value b share the inverse norms.
                for (r, run) in entries
                    .chunk_by(|x, y| x.0 == y.0 && x.2.to_bits() == y.2.to_bits())
                    .enumerate()
                {
                    if r % 256 == 255 {
                        cancelled()?;
                    }
                    let (v, b) = (run[0].0 as usize, run[0].2 as f64);
                    let mut terms = ConsumerTerms {
                        luv: luv[v],
                        aw: 0.0,
                        bw: b * weight,
                        ab: 0.0,
                        bb: b * b,
                        b,
                        nv0: h.norms[v],
                    };
                    let mv = &m[v * bw + c0..v * bw + c1];
                    consumer_inverse_norms(&mut inv, mv, &wb, terms);
                    for &(_, jn, _) in run {
                        let (jn, aj) = (jn as usize, a[jn as usize]);
                        terms.aw = aj * weight;
                        terms.ab = aj * b;
                        let row = &mut acc[jn * w..(jn + 1) * w];
                        add_consumer_terms(row, mv, mu, &wb, &inv, terms);
                    }
                }
                for (row, &aj) in acc.chunks_exact_mut(w).zip(&a) {
                    for (x, (&mt, &wt)) in row.iter_mut().zip(mu.iter().zip(&wb)) {
                        *x *= inverse_norm_scalar(
                            lu2 + 2.0 * aj * weight * mt + aj * aj * wt,
                            lu2 + aj * aj * wt,
                        );
                    }
                }
                Ok(acc)
            })
            .collect::<Result<_>>()?;
        for (&s0, acc) in starts.iter().zip(&passes) {
            let w = (s0 + pw).min(t1) - s0;
            for (jn, row) in acc.chunks_exact(w).enumerate() {
                sink.1(sink.0, jn, s0, row)?;
            }
        }
        Ok(())
    }

    /// The PDP closed form as tensor operations on any device (the path off the CPU).
    fn switch_on_scores_tensors(
        &self,
        device: Device,
        user: u32,
        items: &[u32],
        weight: f64,
        cancelled: super::recommender::Cancel<'_>,
    ) -> Result<Tensor> {
        switch_table_fits(
            self.data.n_users(),
            self.data.n_tags(),
            crate::engine::memory::default_memory_limit(),
        )?;
        let [w, latent, ..] = self.params(device)?;
        let [m, ww, norms] = self.switch.get(device, |_| {
            Ok(vec![
                latent.matmul(&w.tr()),
                w.square().sum_dim_intlist(1, false, Kind::Double),
                latent.square().sum_dim_intlist(1, false, Kind::Double),
            ])
        })?;
        let consumers = self.consumers();
        let lu = latent.get(user as i64);
        let mu = m.get(user as i64);
        let wb = &ww * (weight * weight);
        let mut rows = Vec::with_capacity(items.len());
        for &j in items {
            cancelled()?;
            let (cs, vals) = consumers.row(j as usize);
            let a = match cs.binary_search(&user) {
                Ok(p) => vals[p] as f64,
                Err(_) => 0.0,
            };
            let cs_t = index(cs, device);
            let b = Tensor::from_slice(&vals.iter().map(|&x| x as f64).collect::<Vec<_>>())
                .to_device(device)
                .unsqueeze(1);
            let mc = m.index_select(0, &cs_t);
            let luv = latent.index_select(0, &cs_t).matmul(&lu).unsqueeze(1);
            let num = luv + (&mc * a + &b * mu.unsqueeze(0)) * weight + &b * wb.unsqueeze(0) * a;
            let nc = norms.index_select(0, &cs_t).unsqueeze(1);
            let bwb = b.square() * wb.unsqueeze(0);
            let inv_nv = inverse_norm(&(&nc + &b * &mc * (2.0 * weight) + &bwb), &(&nc + &bwb));
            let lu2 = lu.square().sum(Kind::Double);
            let awb = &wb * (a * a);
            let inv_nu = inverse_norm(&(&lu2 + &mu * (2.0 * a * weight) + &awb), &(&lu2 + &awb));
            rows.push((num * inv_nv * &b).sum_dim_intlist(0, false, Kind::Double) * inv_nu);
        }
        Ok(Tensor::stack(&rows, 0))
    }
}

impl Model for Unn {
    fn describe(&self) -> Vec<(String, String)> {
        let mut out = self.data.describe();
        out.push(("latent dimension".to_string(), self.k.to_string()));
        out
    }

    fn to_bytes(&self) -> Result<Vec<u8>> {
        encode(self)
    }

    crate::capabilities!(dyn Recommender);
}

impl Recommender for Unn {
    fn data(&self) -> &RecData {
        &self.data
    }

    fn kind(&self) -> Kind {
        Kind::Double
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
        let [w, latent, u_hat, y, item_tags] = self.params(device)?;
        if let TagInput::Own(_) = tags {
            return Ok(
                (u_hat.index_select(0, users) * y.index_select(0, items)).sum_dim_intlist(
                    1,
                    false,
                    Kind::Double,
                ),
            );
        }
        // Shift of the latent profile per unit of interaction: (t − T_i) W.
        let d = tags.matmul(&w) - item_tags.index_select(0, items);
        let user_idx = Vec::<i64>::try_from(&users.to_device(Device::Cpu))
            .map_err(crate::common::tensors::torch_err)?;
        let item_idx = Vec::<i64>::try_from(&items.to_device(Device::Cpu))
            .map_err(crate::common::tensors::torch_err)?;
        // Rows are grouped by item, so that each group's dot products with the item's consumers
        // are one matrix product.
        let mut groups: std::collections::BTreeMap<i64, Vec<usize>> = Default::default();
        for (b, &i) in item_idx.iter().enumerate() {
            groups.entry(i).or_default().push(b);
        }
        let consumers = self.consumers();
        let mut order: Vec<i64> = Vec::with_capacity(item_idx.len());
        let mut parts: Vec<Tensor> = Vec::with_capacity(groups.len());
        for (&i, rows) in &groups {
            let (cs, vals) = consumers.row(i as usize);
            let rv: Vec<f64> = vals.iter().map(|&x| x as f64).collect();
            // R_{u,i}: the user's own profile moves too when u consumed i.
            let ru: Vec<f64> = rows
                .iter()
                .map(|&b| match cs.binary_search(&(user_idx[b] as u32)) {
                    Ok(p) => rv[p],
                    Err(_) => 0.0,
                })
                .collect();
            let rows_t = Tensor::from_slice(&rows.iter().map(|&b| b as i64).collect::<Vec<_>>())
                .to_device(device);
            let group_users: Vec<i64> = rows.iter().map(|&b| user_idx[b]).collect();
            let lu = latent.index_select(0, &Tensor::from_slice(&group_users).to_device(device));
            let lc = latent.index_select(0, &index(cs, device));
            let dg = d.index_select(0, &rows_t);
            let rv = Tensor::from_slice(&rv).to_device(device);
            let ru = Tensor::from_slice(&ru).to_device(device);
            parts.push(switched_similarity(&lu, &lc, &dg, &ru, &rv));
            order.extend(rows.iter().map(|&b| b as i64));
        }
        // Back to the order of the batch: position of row b in `order`.
        let mut inverse = vec![0i64; order.len()];
        for (at, &b) in order.iter().enumerate() {
            inverse[b as usize] = at as i64;
        }
        if parts.is_empty() {
            return Ok(Tensor::zeros([0], (Kind::Double, device)));
        }
        Ok(Tensor::cat(&parts, 0).index_select(0, &Tensor::from_slice(&inverse).to_device(device)))
    }

    /// With M = Uᵁ Wᵀ (users × tags) cached: switching tag t on in item j shifts the latent
    /// profile of each consumer v by R_{v,j} w W_t, so every dot product and norm of
    /// [`switched_similarity`] is a scalar expression in M, ‖W_t‖² and the unshifted profiles.
    fn switch_on_scores(
        &self,
        device: Device,
        user: u32,
        items: &[u32],
        weight: f64,
        cancelled: super::recommender::Cancel<'_>,
    ) -> Result<Option<Tensor>> {
        if device == Device::Cpu {
            let nt = self.data.n_tags();
            let scores = std::sync::Mutex::new(vec![0.0f64; items.len() * nt]);
            self.switch_on_scores_many(&[(user, items)], weight, cancelled, &|_, j, t0, row| {
                let mut s = scores
                    .lock()
                    .map_err(|_| DataFusionError::Internal("unn: a PDP thread panicked".into()))?;
                s[j * nt + t0..j * nt + t0 + row.len()].copy_from_slice(row);
                Ok(())
            })?;
            let scores = scores
                .into_inner()
                .map_err(|_| DataFusionError::Internal("unn: a PDP thread panicked".into()))?;
            let t = Tensor::from_slice(&scores);
            return Ok(Some(t.view([items.len() as i64, nt as i64])));
        }
        self.switch_on_scores_tensors(device, user, items, weight, cancelled)
            .map(Some)
    }

    /// [`Unn::switch_on_scores_blocks`] with M's blocks in a quarter of the machine's memory.
    fn switch_on_scores_many(
        &self,
        users: &[(u32, &[u32])],
        weight: f64,
        cancelled: super::recommender::Cancel<'_>,
        sink: super::recommender::SwitchSink<'_>,
    ) -> Result<bool> {
        let budget = crate::engine::memory::default_memory_limit() / 2;
        self.switch_on_scores_blocks(users, weight, budget, SWITCH_PASS_TAGS, cancelled, sink)?;
        Ok(true)
    }

    /// [`Recommender::scaled_tag_scores`] on the host: the expansion of [`switched_similarity`]
    /// for rows of (`user`, `item`) whose tag vectors scale the item's tags by `scale`.
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
        let (u, i) = (user as usize, item as usize);
        let (Some(lu), Some(e), Some(b), true) = (
            self.latent.get(u * k..(u + 1) * k),
            self.item_tags.get(i * k..(i + 1) * k),
            scaled_tag_rows(&self.w, k, tags, weights),
            i < self.data.n_items(),
        ) else {
            return exec_err!("unn: user, item, tag or weight out of range");
        };
        let d = tags.len();
        if d == 0 || scale.len() % d != 0 {
            return exec_err!("unn: {} scales are not rows of {d} tags", scale.len());
        }
        let (cs, vals) = self.consumers().row(i);
        let c = cs.len();
        // R_{u,i}: the user's own profile moves too when u consumed i.
        let a = match cs.binary_search(&user) {
            Ok(p) => vals[p] as f64,
            Err(_) => 0.0,
        };
        let mut lc = Vec::with_capacity(c * k);
        for &v in cs {
            lc.extend_from_slice(&self.latent[v as usize * k..(v as usize + 1) * k]);
        }
        let luv: Vec<f64> = lc.chunks_exact(k).map(|lv| dot(lu, lv)).collect();
        let lc2: Vec<f64> = lc.chunks_exact(k).map(|lv| dot(lv, lv)).collect();
        let lu2 = dot(lu, lu);
        let mut out = Vec::with_capacity(scale.len() / d);
        let (mut shift, mut p) = (Vec::new(), Vec::new());
        for block in scale.chunks(SCALED_ROWS * d) {
            cancelled()?;
            let rows = block.len() / d;
            shift.clear();
            shift.resize(rows * k, 0.0);
            gemm_serial(
                MatRef::new(block, rows, d),
                MatRef::new(&b, d, k),
                0.0,
                &mut shift,
            );
            for row in shift.chunks_exact_mut(k) {
                row.iter_mut().zip(e).for_each(|(x, y)| *x -= y);
            }
            if c == 0 {
                // Nobody consumed the item: an empty sum.
                out.extend(std::iter::repeat_n(0.0, rows));
                continue;
            }
            p.clear();
            p.resize(rows * c, 0.0);
            gemm_serial(
                MatRef::new(&shift, rows, k),
                MatRef::new(&lc, c, k).t(),
                0.0,
                &mut p,
            );
            for (dr, pr) in shift.chunks_exact(k).zip(p.chunks_exact(c)) {
                let (q, dd) = (dot(dr, lu), dot(dr, dr));
                let mut sum = 0.0;
                for v in 0..c {
                    let (bv, pv) = (vals[v] as f64, pr[v]);
                    let num = luv[v] + a * pv + bv * q + a * dd * bv;
                    let rd2 = bv * bv * dd;
                    let inv_nv = inverse_norm_scalar(lc2[v] + bv * pv * 2.0 + rd2, lc2[v] + rd2);
                    sum += num * inv_nv * bv;
                }
                let ru_dd = a * a * dd;
                out.push(sum * inverse_norm_scalar(lu2 + a * q * 2.0 + ru_dd, lu2 + ru_dd));
            }
        }
        Ok(Some(out))
    }

    fn score_all_items(
        &self,
        device: Device,
        users: &[u32],
        _cancelled: super::recommender::Cancel<'_>,
    ) -> Result<Tensor> {
        let [_, _, u_hat, y, _] = self.params(device)?;
        Ok(u_hat.index_select(0, &index(users, device)).matmul(&y.tr()))
    }

    fn factors(&self) -> Vec<FactorMatrix> {
        let f = |entity, v: &[f64]| FactorMatrix {
            entity,
            k: self.k,
            values: v.iter().map(|&x| x as f32).collect(),
        };
        vec![
            f(Entity::User, &self.users),
            f(Entity::Item, &self.items),
            f(Entity::Tag, &self.w),
        ]
    }
}

/// f for rows of one item whose tag vectors moved it by `d` in the latent space: Σ_v r_v
/// ⟨unit(L_u + r_u d), unit(L_v + r_v d)⟩ over the item's consumers v, with `lu` the rows' users'
/// profiles `[g, k]`, `lc` the consumers' `[c, k]`, `d` `[g, k]`, `ru` R_{u,i} `[g]` and `rv`
/// R_{v,i} `[c]`. The dot products are expanded so that the only products of size g × c × k
/// are two matrix products.
fn switched_similarity(lu: &Tensor, lc: &Tensor, d: &Tensor, ru: &Tensor, rv: &Tensor) -> Tensor {
    let p = d.matmul(&lc.tr()); // d · L_v, [g, c]
    let q = (d * lu).sum_dim_intlist(1, false, Kind::Double); // d · L_u, [g]
    let dd = d.square().sum_dim_intlist(1, false, Kind::Double); // ‖d‖², [g]
    let luv = lu.matmul(&lc.tr()); // L_u · L_v, [g, c]
    let lu2 = lu.square().sum_dim_intlist(1, false, Kind::Double);
    let lc2 = lc.square().sum_dim_intlist(1, false, Kind::Double);
    let (ru1, rv0) = (ru.unsqueeze(1), rv.unsqueeze(0));
    let num = luv + &ru1 * &p + &rv0 * q.unsqueeze(1) + (ru * &dd).unsqueeze(1) * &rv0;
    let rd2 = rv0.square() * dd.unsqueeze(1);
    let inv_nv = inverse_norm(
        &(lc2.unsqueeze(0) + &rv0 * &p * 2.0 + &rd2),
        &(lc2.unsqueeze(0) + &rd2),
    );
    let ru_dd = ru.square() * &dd;
    let inv_nu = inverse_norm(&(&lu2 + ru * &q * 2.0 + &ru_dd), &(&lu2 + &ru_dd));
    (num * inv_nv * rv0).sum_dim_intlist(1, false, Kind::Double) * inv_nu
}

/// One consumer v's scalars in the PDP closed form ([`Unn::switch_rows_in_block`]): ⟨L_u, L_v⟩,
/// a·w, b·w, a·b, b² (a = R_{u,j}, b = R_{v,j}, w the switched-on weight), b and ‖L_v‖².
#[derive(Clone, Copy, Debug)]
struct ConsumerTerms {
    luv: f64,
    aw: f64,
    bw: f64,
    ab: f64,
    bb: f64,
    b: f64,
    nv0: f64,
}

/// A loop over tags of the PDP closed form with copies compiled for AVX-512 and AVX2, used where
/// the CPU has them: the same operations on each tag, eight or four tags at a time, so the same
/// results (see [`crate::common::simd`]).
macro_rules! tag_loop {
    ($(#[$doc:meta])* fn $name:ident = $portable:ident / $avx512:ident / $avx2:ident
        ($($arg:ident : $ty:ty),*)) => {
        $(#[$doc])*
        fn $name($($arg: $ty),*) {
            #[cfg(target_arch = "x86_64")]
            if crate::common::simd::level().has_avx512() {
                // SAFETY: the CPU supports AVX-512F and VL, the callee's only requirement.
                return unsafe { $avx512($($arg),*) };
            }
            #[cfg(target_arch = "x86_64")]
            if crate::common::simd::level().has_avx2() {
                // SAFETY: the CPU supports AVX2, the callee's only requirement.
                return unsafe { $avx2($($arg),*) };
            }
            $portable($($arg),*)
        }

        /// The portable loop compiled for AVX-512.
        ///
        /// # Safety
        /// The CPU must support AVX-512F and AVX-512VL.
        #[cfg(target_arch = "x86_64")]
        #[target_feature(enable = "avx512f,avx512vl")]
        unsafe fn $avx512($($arg: $ty),*) {
            $portable($($arg),*)
        }

        /// The portable loop compiled for AVX2.
        ///
        /// # Safety
        /// The CPU must support AVX2.
        #[cfg(target_arch = "x86_64")]
        #[target_feature(enable = "avx2")]
        unsafe fn $avx2($($arg: $ty),*) {
            $portable($($arg),*)
        }
    };
}

tag_loop! {
    /// `inv[t]` = 1 / ‖L_v + b w W_t‖ for consumer v (`c`'s b·w, b² and ‖L_v‖²) from its row `mv`
    /// of M and w²‖W_t‖² (`wb`): shared by all the items v consumed with the same value b.
    fn consumer_inverse_norms = consumer_inverse_norms_portable / consumer_inverse_norms_avx512
        / consumer_inverse_norms_avx2 (inv: &mut [f64], mv: &[f64], wb: &[f64], c: ConsumerTerms)
}

tag_loop! {
    /// Adds consumer v's term of the PDP closed form to `acc[t]` for every tag t, from its row
    /// `mv` of M, the user's row `mu`, w²‖W_t‖² (`wb`) and its inverse norms `inv`
    /// ([`consumer_inverse_norms`]).
    fn add_consumer_terms = add_consumer_terms_portable / add_consumer_terms_avx512
        / add_consumer_terms_avx2
        (acc: &mut [f64], mv: &[f64], mu: &[f64], wb: &[f64], inv: &[f64], c: ConsumerTerms)
}

#[inline(always)]
fn consumer_inverse_norms_portable(inv: &mut [f64], mv: &[f64], wb: &[f64], c: ConsumerTerms) {
    for ((x, &m), &w) in inv.iter_mut().zip(mv).zip(wb) {
        *x = inverse_norm_scalar(c.nv0 + 2.0 * c.bw * m + c.bb * w, c.nv0 + c.bb * w);
    }
}

#[inline(always)]
fn add_consumer_terms_portable(
    acc: &mut [f64],
    mv: &[f64],
    mu: &[f64],
    wb: &[f64],
    inv: &[f64],
    c: ConsumerTerms,
) {
    for ((((a, &m), &u), &w), &i) in acc.iter_mut().zip(mv).zip(mu).zip(wb).zip(inv) {
        let num = c.luv + c.aw * m + c.bw * u + c.ab * w;
        *a += c.b * num * i;
    }
}

/// Rows of [`Unn::scaled_tag_scores_cpu`]'s blocks (their shifts and dot products with the item's
/// consumers stay bounded however many perturbations a row has).
const SCALED_ROWS: usize = 512;

/// Relative size below which an expanded squared norm ‖a + b‖² = ‖a‖² + 2 a·b + ‖b‖² counts as
/// zero: the expansion loses about this much to rounding when a + b nearly vanishes.
const VANISHED: f64 = 1e-9;

/// 1 / ‖a + b‖ from its expansion `sq` = ‖a‖² + 2 a·b + ‖b‖² and `scale` = ‖a‖² + ‖b‖², and 0 when
/// the vector vanishes (`sq` ≤ [`VANISHED`] · `scale`): a latent profile that the change of tags
/// cancels exactly (a user whose only item lost all its tags) has no direction, and the
/// definition's unit(0) is taken as 0, so it adds nothing to the score. Without the cut the
/// rounding error of the expansion (possibly negative) would be divided by.
fn inverse_norm(sq: &Tensor, scale: &Tensor) -> Tensor {
    let vanished = sq.le_tensor(&(scale * VANISHED));
    let safe = sq.where_self(&vanished.logical_not(), &sq.ones_like());
    safe.rsqrt().masked_fill(&vanished, 0.0)
}

/// [`inverse_norm`] for one value.
#[inline(always)]
fn inverse_norm_scalar(sq: f64, scale: f64) -> f64 {
    if sq <= VANISHED * scale {
        0.0
    } else {
        1.0 / sq.sqrt()
    }
}

impl ModelType for UnnType {
    fn name(&self) -> &'static str {
        "unn"
    }

    fn description(&self) -> &'static str {
        "user neighbourhood on tag profiles: truncated SVD of R T, P = Û (Ûᵀ R) (thesis eq. 5.9-5.11)"
    }

    fn options(&self) -> &'static [OptionSpec] {
        SVD_OPTIONS
    }

    fn train(&self, data: &TrainingData, ctx: &TrainContext<'_>) -> Result<Trained> {
        let start = Instant::now();
        let (rec, training) = RecData::from_training("unn", data, Tags::Required, &ctx.control)?;
        super::train::memory::check_svd("unn", &rec, ctx.options, ctx.memory_limit)?;
        let (model, converged) = Unn::fit(rec, ctx.options, ctx)?;
        let training = svd_facts(training, model.k, converged, start);
        Ok(Trained {
            model: Box::new(model),
            training,
        })
    }

    fn load(&self, _options: &ModelOptions, bytes: &[u8]) -> Result<Box<dyn Model>> {
        Ok(Box::new(decode::<Unn>("unn", bytes)?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_switch_table_is_refused_before_it_outgrows_the_memory_limit() {
        // Last.fm-sized: 1,892 users × 9,375 tags × 16 bytes = 284 MB fits in 1 GiB.
        assert!(switch_table_fits(1_892, 9_375, 1 << 30).is_ok());
        // Goodbooks-sized: 29 GB does not fit in 12 GiB; the error names the table and sizes.
        let e = switch_table_fits(53_424, 34_000, 12 << 30)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("unn's PDP closed form")
                && e.contains("53424 × 34000")
                && e.contains("12.0 GiB"),
            "{e}"
        );
    }
    #[test]
    fn blocks_of_m_span_whole_passes_within_the_budget() {
        // All tags when they fit: Last.fm-sized, 1,892 × 16 bytes per tag in 1 GiB.
        assert_eq!(
            switch_block_tags(1_892, 9_375, 2_048, 1 << 30).unwrap(),
            9_375
        );
        // Goodbooks-sized in 6 GiB: 6 · 2³⁰ / (53,424 · 16) = 7,536 tags, so three passes.
        assert_eq!(
            switch_block_tags(53_424, 34_000, 2_048, 6 << 30).unwrap(),
            6_144
        );
        // Not one pass of 2,048 tags (1.75 GB) in 1 GiB: an error naming the table and sizes.
        let e = switch_block_tags(53_424, 34_000, 2_048, 1 << 30)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("users × tags table") && e.contains("53424 × 2048") && e.contains("1.0 GiB"),
            "{e}"
        );
    }

    /// (first tag, item position) of a sink's calls for one user, in order.
    type Calls = Vec<(usize, usize)>;

    /// Every score of [`Unn::switch_on_scores_blocks`] for several users at once, by (user, item,
    /// tag), with the order of the sink's calls per user.
    fn scores_in_blocks(
        m: &Unn,
        users: &[(u32, &[u32])],
        budget: u64,
        pass: usize,
    ) -> (Vec<Vec<f64>>, Vec<Calls>) {
        let nt = m.data.n_tags();
        let out: Vec<std::sync::Mutex<(Vec<f64>, Calls)>> = users
            .iter()
            .map(|(_, items)| std::sync::Mutex::new((vec![f64::NAN; items.len() * nt], vec![])))
            .collect();
        m.switch_on_scores_blocks(
            users,
            1.5,
            budget,
            pass,
            &never_cancelled,
            &|n, j, t0, row| {
                let mut o = out[n].lock().unwrap();
                for (q, &x) in row.iter().enumerate() {
                    assert!(o.0[j * nt + t0 + q].is_nan(), "a score handed out twice");
                    o.0[j * nt + t0 + q] = x;
                }
                o.1.push((t0, j));
                Ok(())
            },
        )
        .unwrap();
        out.into_iter().map(|o| o.into_inner().unwrap()).unzip()
    }

    #[test]
    fn blocks_of_the_switch_table_give_the_same_bits_as_the_whole_table() {
        for ratings in [false, true] {
            blocks_give_the_same_bits(random_unn_with(5, ratings));
        }
    }

    fn blocks_give_the_same_bits(m: Unn) {
        let (nu, ni, nt) = (m.data.n_users(), m.data.n_items(), m.data.n_tags());
        let all: Vec<u32> = (0..ni as u32).collect();
        // Users in no order, one twice, with their histories or all items.
        let histories: Vec<(u32, Vec<u32>)> = [4u32, 0, 7, 4, 8]
            .iter()
            .map(|&u| {
                let h = m.data.r.row(u as usize).0.to_vec();
                (u, if u == 7 { all.clone() } else { h })
            })
            .collect();
        let users: Vec<(u32, &[u32])> = histories.iter().map(|(u, h)| (*u, &h[..])).collect();
        let (whole, order) = scores_in_blocks(&m, &users, u64::MAX, 1 << 20);
        let bits =
            |x: &[Vec<f64>]| -> Vec<u64> { x.iter().flatten().map(|v| v.to_bits()).collect() };
        assert!(whole.iter().flatten().all(|x| x.is_finite()));
        for (o, (_, items)) in order.iter().zip(&users) {
            assert_eq!(o.len(), items.len());
        }
        // Per tag, M's block costs nu · 16 bytes: blocks of 2 tags in passes of 1, blocks of 4
        // (not a divisor of 6) in passes of 4, one block in passes of 5.
        let per_tag = nu as u64 * 16;
        for (budget, pass) in [
            (2 * per_tag, 1),
            (4 * per_tag + 10, 4),
            (nt as u64 * per_tag, 5),
        ] {
            let (got, order) = scores_in_blocks(&m, &users, budget, pass);
            assert_eq!(bits(&got), bits(&whole), "budget {budget}, pass {pass}");
            // Per user: ranges in increasing order, items in order within a range.
            for o in &order {
                assert!(o.windows(2).all(|w| w[0] < w[1]), "{o:?}");
            }
        }
        // The one-user method used by the PDP explainer gives the same numbers.
        let (u, h) = users[2];
        let s = m
            .switch_on_scores(Device::Cpu, u, h, 1.5, &never_cancelled)
            .unwrap()
            .unwrap();
        let s: Vec<u64> = to_f64_vec(&s)
            .unwrap()
            .iter()
            .map(|v| v.to_bits())
            .collect();
        assert_eq!(s, whole[2].iter().map(|v| v.to_bits()).collect::<Vec<_>>());
        // Too small a budget, a user or item out of range, a cancelled run: errors.
        let fail = |users: &[(u32, &[u32])],
                    budget: u64,
                    cancel: super::super::recommender::Cancel<'_>| {
            m.switch_on_scores_blocks(users, 1.5, budget, 1, cancel, &|_, _, _, _| Ok(()))
                .unwrap_err()
                .to_string()
        };
        assert!(fail(&users, per_tag - 1, &never_cancelled).contains("users × tags table"));
        assert!(fail(&[(nu as u32, &[0])], u64::MAX, &never_cancelled).contains("user index"));
        assert!(fail(&[(0, &[ni as u32])], u64::MAX, &never_cancelled).contains("item index"));
        let stop = || datafusion::common::exec_err!("stopped");
        assert!(fail(&users, u64::MAX, &stop).contains("stopped"));
    }

    #[test]
    fn pdp_of_many_users_at_once_is_the_pdp_of_each() {
        for ratings in [false, true] {
            pdp_of_many_is_pdp_of_each(random_unn_with(6, ratings));
        }
    }

    fn pdp_of_many_is_pdp_of_each(m: Unn) {
        use crate::explain::engine::{pdp_theta, pdp_thetas, PDP_SWITCHED_ON_WEIGHT};
        let (nu, nt) = (m.data.n_users(), m.data.n_tags());
        let users: Vec<u32> = (0..nu as u32).rev().collect();
        let many = pdp_thetas(&m, Device::Cpu, &users, &never_cancelled, &|_, _| {}).unwrap();
        let w = PDP_SWITCHED_ON_WEIGHT as f64;
        for (&u, theta) in users.iter().zip(&many) {
            let one = pdp_theta(&m, Device::Cpu, u, &never_cancelled).unwrap();
            let b = |x: &[f64]| x.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
            assert_eq!(b(&one), b(theta), "user {u}");
            // Against θ assembled here from the tensor path's switched scores.
            let (history, _) = m.data.r.row(u as usize);
            let mut want = vec![0.0; nt];
            if !history.is_empty() {
                let base = crate::recsys::recommender::score_pairs(
                    &m,
                    Device::Cpu,
                    &vec![u; history.len()],
                    history,
                )
                .unwrap();
                let s = m
                    .switch_on_scores_tensors(Device::Cpu, u, history, w, &never_cancelled)
                    .unwrap();
                let s = to_f64_vec(&s).unwrap();
                for (j, &item) in history.iter().enumerate() {
                    let (tags, _) = m.data.t.row(item as usize);
                    for t in 0..nt {
                        if !tags.contains(&(t as u32)) {
                            want[t] += (s[j * nt + t] - base[j]) / history.len() as f64;
                        }
                    }
                }
            }
            for (g, x) in theta.iter().zip(&want) {
                assert!((g - x).abs() < 1e-12 * x.abs().max(1.0), "{g} vs {x}");
            }
        }
    }

    #[test]
    fn pdp_rows_count_as_done_once_and_as_their_users_progress() {
        use crate::common::progress::{enter, Meter, StatusSink};
        use crate::explain::engine::{explain_pdp, pdp_thetas, PdpCache};
        let m = random_unn_with(6, true);
        let nu = m.data.n_users() as u32;
        // Fractions heard per user: rising, ending at 1.
        let heard = std::sync::Mutex::new(vec![vec![]; nu as usize]);
        let users: Vec<u32> = (0..nu).collect();
        pdp_thetas(&m, Device::Cpu, &users, &never_cancelled, &|n, f| {
            heard.lock().unwrap()[n].push(f)
        })
        .unwrap();
        for (u, fs) in heard.into_inner().unwrap().iter().enumerate() {
            assert!(fs.windows(2).all(|w| w[0] <= w[1]), "user {u}: {fs:?}");
            assert_eq!(fs.last(), Some(&1.0), "user {u}: {fs:?}");
        }
        // Rows of every user, 1 to 3 per user, each counted once by the meter of the call.
        let reports = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let r = reports.clone();
        let sink = StatusSink {
            report: std::sync::Arc::new(move |_| {
                r.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }),
            interval: std::time::Duration::ZERO,
        };
        let meter = Meter::start(Some(sink), "pdp", "rows", None).unwrap();
        let _scope = enter(Some(&meter));
        let rows: Vec<(u32, u32)> = (0..nu)
            .flat_map(|u| (0..1 + u % 3).map(move |i| (u, i)))
            .collect();
        let cache = PdpCache::default();
        explain_pdp(&m, Device::Cpu, &rows, 4, &cache, &never_cancelled).unwrap();
        assert_eq!(meter.status().done, rows.len() as u64);
        assert!(reports.load(std::sync::atomic::Ordering::Relaxed) > 0);
        // From the cache now: still once per row.
        explain_pdp(&m, Device::Cpu, &rows, 2, &cache, &never_cancelled).unwrap();
        assert_eq!(meter.status().done, 2 * rows.len() as u64);
    }

    use crate::common::rng::Rng;
    use crate::common::tensors::to_f64_vec;
    use crate::model::{KeyIndex, KeyKind, KeyRef};
    use crate::recsys::recommender::never_cancelled;
    use crate::recsys::tensors::SparseTags;

    /// The PDP loops' AVX2 and AVX-512 copies against their portable twins, bit for bit, and
    /// the two loops together against the closed form's term written out per tag, on random
    /// values with some shifted profiles that vanish (the cut of `inverse_norm_scalar`) and
    /// lengths that leave a remainder after the vector lanes.
    #[cfg(target_arch = "x86_64")]
    #[test]
    fn consumer_loops_avx2_and_avx512_equal_the_portable_loops() {
        let mut rng = Rng::new(12);
        let bits = |x: &[f64]| x.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
        for n in [1usize, 3, 4, 7, 8, 9, 64, 101] {
            let mut v = |scale: f64| -> Vec<f64> { (0..n).map(|_| rng.normal() * scale).collect() };
            let (mut mv, mu, mut wb, start) = (v(1.0), v(1.0), v(1.0), v(2.0));
            wb.iter_mut().for_each(|w| *w = w.abs());
            let c = ConsumerTerms {
                luv: 0.3,
                aw: 0.7,
                bw: -1.1,
                ab: 0.4,
                bb: 1.21,
                b: 1.1,
                nv0: 0.9,
            };
            // Profiles cancelled by the change: nv0 + 2 bw m + bb w = 0 exactly for some tags.
            for t in (0..n).step_by(3) {
                mv[t] = (c.nv0 + c.bb * wb[t]) / (-2.0 * c.bw);
            }
            // The term per tag, as the closed form states it.
            let want: Vec<f64> = (0..n)
                .map(|t| {
                    let num = c.luv + c.aw * mv[t] + c.bw * mu[t] + c.ab * wb[t];
                    let sq = c.nv0 + 2.0 * c.bw * mv[t] + c.bb * wb[t];
                    let inv = if sq <= VANISHED * (c.nv0 + c.bb * wb[t]) {
                        0.0
                    } else {
                        1.0 / sq.sqrt()
                    };
                    start[t] + c.b * num * inv
                })
                .collect();
            assert!((0..n).step_by(3).all(|t| want[t] == start[t]));
            let mut inv = vec![0.0; n];
            let mut acc = start.clone();
            consumer_inverse_norms_portable(&mut inv, &mv, &wb, c);
            add_consumer_terms_portable(&mut acc, &mv, &mu, &wb, &inv, c);
            assert_eq!(bits(&acc), bits(&want), "portable, n = {n}");
            let levels = crate::common::simd::level();
            if levels.has_avx2() {
                let (mut inv2, mut acc2) = (vec![0.0; n], start.clone());
                // SAFETY: checked that the CPU supports AVX2.
                unsafe {
                    consumer_inverse_norms_avx2(&mut inv2, &mv, &wb, c);
                    add_consumer_terms_avx2(&mut acc2, &mv, &mu, &wb, &inv2, c);
                }
                assert_eq!(bits(&inv2), bits(&inv), "AVX2, n = {n}");
                assert_eq!(bits(&acc2), bits(&want), "AVX2, n = {n}");
            }
            if levels.has_avx512() {
                let (mut inv5, mut acc5) = (vec![0.0; n], start.clone());
                // SAFETY: checked that the CPU supports AVX-512F and VL.
                unsafe {
                    consumer_inverse_norms_avx512(&mut inv5, &mv, &wb, c);
                    add_consumer_terms_avx512(&mut acc5, &mv, &mu, &wb, &inv5, c);
                }
                assert_eq!(bits(&inv5), bits(&inv), "AVX-512, n = {n}");
                assert_eq!(bits(&acc5), bits(&want), "AVX-512, n = {n}");
            }
        }
    }

    fn keys(n: usize) -> KeyIndex {
        let mut k = KeyIndex::new(KeyKind::Int);
        for i in 0..n {
            k.insert(KeyRef::Int(i as i64));
        }
        k
    }

    /// A uNN with random parameters (not a trained one: the formulas hold for any).
    fn random_unn(seed: u64) -> Unn {
        random_unn_with(seed, false)
    }

    /// A random model; with `ratings`, the interaction values are 1, 2 or 3 (so that consumers
    /// share values across items, as with ratings), otherwise uniform in [0.5, 1.5).
    fn random_unn_with(seed: u64, ratings: bool) -> Unn {
        let (nu, ni, nt, k) = (9, 7, 6, 3);
        let mut rng = Rng::new(seed);
        let (mut ru, mut ri, mut rv) = (vec![], vec![], vec![]);
        for u in 0..nu as u32 {
            for i in 0..ni as u32 {
                if rng.next_f64() < 0.5 {
                    ru.push(u);
                    ri.push(i);
                    rv.push(if ratings {
                        1.0 + rng.below(3) as f32
                    } else {
                        0.5 + rng.next_f32()
                    });
                }
            }
        }
        let (mut ti, mut tt, mut tw) = (vec![], vec![], vec![]);
        for i in 0..ni as u32 {
            for t in 0..nt as u32 {
                if rng.next_f64() < 0.4 {
                    ti.push(i);
                    tt.push(t);
                    tw.push(0.5 + rng.next_f32());
                }
            }
        }
        let data = RecData {
            users: keys(nu),
            items: keys(ni),
            tags: keys(nt),
            r: Csr::from_triplets(nu, ni, &ru, &ri, &rv).unwrap(),
            t: Csr::from_triplets(ni, nt, &ti, &tt, &tw).unwrap(),
        };
        let mut normal = |n: usize| (0..n).map(|_| rng.normal()).collect::<Vec<f64>>();
        let w = normal(nt * k);
        let latent = normal(nu * k);
        let mut item_tags = vec![0.0; ni * k];
        for i in 0..ni {
            let (tags, weights) = data.t.row(i);
            for (&t, &x) in tags.iter().zip(weights) {
                for c in 0..k {
                    item_tags[i * k + c] += x as f64 * w[t as usize * k + c];
                }
            }
        }
        Unn {
            k,
            users: latent.clone(),
            items: vec![0.0; ni * k],
            w,
            latent,
            item_tags,
            singular_values: vec![1.0; k],
            data,
            tensors: DeviceTensors::default(),
            switch: DeviceTensors::default(),
            consumers: OnceLock::new(),
            host_switch: OnceLock::new(),
        }
    }

    /// f(u, i, t) = Σ_v R_{v,i} ⟨unit(L_u + R_{u,i} d), unit(L_v + R_{v,i} d)⟩, d = (t − T_i) W,
    /// by plain loops over the definition.
    fn direct(m: &Unn, u: usize, i: usize, t: &[f64]) -> f64 {
        let k = m.k;
        let (tags, weights) = m.data.t.row(i);
        let mut shift = t.to_vec();
        for (&c, &x) in tags.iter().zip(weights) {
            shift[c as usize] -= x as f64;
        }
        let d: Vec<f64> = (0..k)
            .map(|c| (0..t.len()).map(|s| shift[s] * m.w[s * k + c]).sum())
            .collect();
        let r = |v: usize| {
            let (items, vals) = m.data.r.row(v);
            items
                .binary_search(&(i as u32))
                .map_or(0.0, |p| vals[p] as f64)
        };
        // unit(x), with unit(0) = 0 (a profile the change cancels has no direction).
        let z = |v: usize| {
            let x: Vec<f64> = (0..k).map(|c| m.latent[v * k + c] + r(v) * d[c]).collect();
            let n = x.iter().map(|a| a * a).sum::<f64>().sqrt();
            let scale = (0..k)
                .map(|c| m.latent[v * k + c].powi(2) + (r(v) * d[c]).powi(2))
                .sum::<f64>();
            if n * n <= 1e-9 * scale {
                return vec![0.0; k];
            }
            x.into_iter().map(|a| a / n).collect::<Vec<f64>>()
        };
        let zu = z(u);
        (0..m.data.n_users())
            .map(|v| r(v) * z(v).iter().zip(&zu).map(|(a, b)| a * b).sum::<f64>())
            .sum()
    }

    /// A user whose latent profile is exactly what one item's tags put there (as for a user
    /// with that single item) loses it all when the item's tags are removed: the score is finite
    /// and follows the definition with unit(0) = 0, for LIME's empty tag vector.
    #[test]
    fn a_profile_cancelled_by_the_change_adds_nothing() {
        let mut m = random_unn(5);
        let (nu, k) = (m.data.n_users(), m.k);
        let (v, i, rv) = (0..nu)
            .find_map(|v| {
                let (items, vals) = m.data.r.row(v);
                items.first().map(|&i| (v, i as usize, vals[0] as f64))
            })
            .unwrap();
        let (tags, _) = m.data.t.row(i);
        assert!(!tags.is_empty());
        for c in 0..k {
            m.latent[v * k + c] = rv * m.item_tags[i * k + c];
        }
        let tags = TagInput::Sparse(SparseTags {
            rows: Tensor::from_slice::<i64>(&[]),
            cols: Tensor::from_slice::<i64>(&[]),
            vals: Tensor::from_slice::<f64>(&[]),
            batch: nu as i64,
        });
        let users: Vec<u32> = (0..nu as u32).collect();
        let items = vec![i as u32; nu];
        let got = m
            .forward(
                Device::Cpu,
                &index(&users, Device::Cpu),
                &index(&items, Device::Cpu),
                &tags,
            )
            .unwrap();
        let got = to_f64_vec(&got).unwrap();
        let empty = vec![0.0; m.data.n_tags()];
        for (u, g) in got.into_iter().enumerate() {
            let want = direct(&m, u, i, &empty);
            assert!(g.is_finite() && want.is_finite(), "user {u}: {g} vs {want}");
            assert!(
                (g - want).abs() < 1e-9 * want.abs().max(1.0),
                "user {u}: {g} vs {want}"
            );
        }
    }

    #[test]
    fn scores_of_changed_tag_vectors_follow_the_definition() {
        for ratings in [false, true] {
            scores_follow_the_definition(random_unn_with(3, ratings));
        }
    }

    fn scores_follow_the_definition(m: Unn) {
        let (nu, ni, nt) = (m.data.n_users(), m.data.n_items(), m.data.n_tags());
        let mut rng = Rng::new(11);
        // Rows of mixed users and items, in no order, with random sparse tag vectors.
        let mut rows = vec![];
        for _ in 0..40 {
            let u = rng.below(nu as u64) as usize;
            let i = rng.below(ni as u64) as usize;
            let t: Vec<f64> = (0..nt)
                .map(|_| {
                    if rng.next_f64() < 0.5 {
                        2.0 * rng.next_f64()
                    } else {
                        0.0
                    }
                })
                .collect();
            rows.push((u, i, t));
        }
        let (mut sr, mut sc, mut sv) = (vec![], vec![], vec![]);
        for (b, (_, _, t)) in rows.iter().enumerate() {
            for (c, &x) in t.iter().enumerate().filter(|(_, &x)| x != 0.0) {
                sr.push(b as i64);
                sc.push(c as i64);
                sv.push(x);
            }
        }
        let tags = TagInput::Sparse(SparseTags {
            rows: Tensor::from_slice(&sr),
            cols: Tensor::from_slice(&sc),
            vals: Tensor::from_slice(&sv),
            batch: rows.len() as i64,
        });
        let users: Vec<u32> = rows.iter().map(|r| r.0 as u32).collect();
        let items: Vec<u32> = rows.iter().map(|r| r.1 as u32).collect();
        let got = m
            .forward(
                Device::Cpu,
                &index(&users, Device::Cpu),
                &index(&items, Device::Cpu),
                &tags,
            )
            .unwrap();
        let got = to_f64_vec(&got).unwrap();
        for ((u, i, t), g) in rows.iter().zip(got) {
            let want = direct(&m, *u, *i, t);
            assert!(
                (g - want).abs() < 1e-10 * want.abs().max(1.0),
                "{g} vs {want}"
            );
        }
        // The PDP closed form: T_j + w e_t for every tag t.
        let history: Vec<u32> = (0..ni as u32).collect();
        for u in 0..nu {
            let s = m
                .switch_on_scores(Device::Cpu, u as u32, &history, 1.5, &never_cancelled)
                .unwrap()
                .unwrap();
            let s = to_f64_vec(&s).unwrap();
            // The tensor path (used off the CPU) gives the same numbers as the fused CPU loop.
            let s_tensors = m
                .switch_on_scores_tensors(Device::Cpu, u as u32, &history, 1.5, &never_cancelled)
                .unwrap();
            let s_tensors = to_f64_vec(&s_tensors).unwrap();
            assert_eq!(s.len(), s_tensors.len());
            for (a, b) in s.iter().zip(&s_tensors) {
                assert!((a - b).abs() < 1e-12 * a.abs().max(1.0), "{a} vs {b}");
            }
            for j in 0..ni {
                let (tags, weights) = m.data.t.row(j);
                for c in 0..nt {
                    if tags.contains(&(c as u32)) {
                        continue;
                    }
                    let mut t = vec![0.0; nt];
                    for (&a, &x) in tags.iter().zip(weights) {
                        t[a as usize] = x as f64;
                    }
                    t[c] = 1.5;
                    let want = direct(&m, u, j, &t);
                    let g = s[j * nt + c];
                    assert!(
                        (g - want).abs() < 1e-10 * want.abs().max(1.0),
                        "{g} vs {want}"
                    );
                }
            }
        }
    }
}
