//! The interface every recommender implements: f(u, i, t) on batches, as a differentiable tensor
//! computation on the session's device (SPEC §5).
//!
//! It exists so that scoring, recommending, evaluation and the explainers are written once for all
//! model types. A model scores any user, any item and any tag vector t; at t = T_i (the item's own
//! tags) it gives its ordinary score. Explainers pass dense tag vectors that require gradients and
//! call `backward` on the result.

use datafusion::error::Result;
use tch::{Device, Kind, Tensor};

use super::data::RecData;
use super::tensors::TagInput;
use crate::common::tensors::{index, to_f64_vec};
use crate::transfer::kernels::linalg::{gemm_serial, MatRef};

/// Which ids a factor matrix belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Entity {
    User,
    Item,
    Tag,
}

impl Entity {
    pub fn name(self) -> &'static str {
        match self {
            Entity::User => "user",
            Entity::Item => "item",
            Entity::Tag => "tag",
        }
    }
}

/// A matrix of latent factors, one row per user, item or tag.
pub struct FactorMatrix {
    pub entity: Entity,
    /// Row length.
    pub k: usize,
    /// Row-major values.
    pub values: Vec<f32>,
}

/// A check for cancellation (Ctrl-C), called by long loops between steps, also inside parallel
/// loops (hence `Sync`): an error (the session's "cancelled by the user") stops the work and is
/// returned as is.
pub type Cancel<'a> = &'a (dyn Fn() -> Result<()> + Sync);

/// Receives scores of [`Recommender::switch_on_scores_many`]: (user position, item position,
/// first tag, scores of the tags from there).
pub type SwitchSink<'a> = &'a (dyn Fn(usize, usize, usize, &[f64]) -> Result<()> + Sync);

/// A [`Cancel`] check that never stops (tests, benchmarks, work outside a session).
pub fn never_cancelled() -> Result<()> {
    Ok(())
}

/// A trained recommender.
pub trait Recommender: Send + Sync {
    /// Ids, interactions and tags the model was trained on.
    fn data(&self) -> &RecData;

    /// The floating-point kind the model computes in.
    fn kind(&self) -> Kind {
        Kind::Float
    }

    /// Whether scores depend on the tag vector (false for WRMF, MostPop and Random, whose
    /// gradients with respect to t are zero).
    fn uses_tags(&self) -> bool;

    /// f(u, i, t) for a batch of rows: `users` and `items` are index tensors `[batch]` on
    /// `device`, `tags` one tag vector per row. Returns `[batch]` scores in [`Self::kind`],
    /// differentiable with respect to dense tag vectors.
    fn forward(
        &self,
        device: Device,
        users: &Tensor,
        items: &Tensor,
        tags: &TagInput,
    ) -> Result<Tensor>;

    /// The score of an item the model has never seen, known only by its tag vector (cold start,
    /// thesis eq. 5.8); `None` for models that cannot score such an item.
    fn forward_cold(
        &self,
        _device: Device,
        _users: &Tensor,
        _tags: &TagInput,
    ) -> Result<Option<Tensor>> {
        Ok(None)
    }

    /// Scores of every item for each of `users` at t = T_i: `[users.len(), n_items]`.
    /// The default evaluates [`Self::forward`] on the cross product in chunks; models with a
    /// factorised score override it with a matrix product. Loops over users check `cancelled`
    /// between users.
    fn score_all_items(
        &self,
        device: Device,
        users: &[u32],
        cancelled: Cancel<'_>,
    ) -> Result<Tensor> {
        let data = self.data();
        let n_items = data.n_items();
        let mut rows = Vec::with_capacity(users.len());
        let all_items: Vec<u32> = (0..n_items as u32).collect();
        let items_t = index(&all_items, device);
        let own = TagInput::own(data, &all_items, self.kind(), device);
        for &u in users {
            cancelled()?;
            let us = Tensor::full([n_items as i64], u as i64, (Kind::Int64, device));
            rows.push(self.forward(device, &us, &items_t, &own)?);
        }
        Ok(Tensor::stack(&rows, 0))
    }

    /// f(u, j, T_j + weight · e_t) for every item j of `items` and every tag t: `[items.len(),
    /// n_tags]`, for the user-level PDP explainer, where a model has a closed form (entries for
    /// tags that j already has are unspecified). `None` (the default): the explainer evaluates
    /// the switched-on rows through [`Self::forward`]. Long computations check `cancelled`.
    fn switch_on_scores(
        &self,
        _device: Device,
        _user: u32,
        _items: &[u32],
        _weight: f64,
        _cancelled: Cancel<'_>,
    ) -> Result<Option<Tensor>> {
        Ok(None)
    }

    /// [`Self::switch_on_scores`] for several users at once, on the host, handed out one range
    /// of tags at a time: `sink(n, j, start, row)` receives f(u, i, T_i + weight · e_t) for user
    /// `users[n].0`, item `users[n].1[j]` and each tag t of `start..start + row.len()`, at
    /// `row[t − start]` (entries for tags the item has are unspecified). For models whose closed
    /// form needs a table over all users and tags (uNN's M = Uᵁ Wᵀ, 14.5 GB at Goodbooks scale),
    /// built one range of tags at a time and shared by every user of the call, so that its
    /// memory stays bounded however many tags there are. Each user's calls come from one thread
    /// at a time, ranges in increasing order, items in order within a range; an error from
    /// `sink` stops the work. `Ok(false)` (the default): the model has no such form, and the
    /// caller uses [`Self::switch_on_scores`].
    fn switch_on_scores_many(
        &self,
        _users: &[(u32, &[u32])],
        _weight: f64,
        _cancelled: Cancel<'_>,
        _sink: SwitchSink<'_>,
    ) -> Result<bool> {
        Ok(false)
    }

    /// f(u, i, t) for tag vectors that scale item `item`'s tags, for LIME's perturbations (0/1
    /// scales: a subset of the tags kept), where a model has a closed form cheaper than
    /// [`Self::forward`] on sparse rows: `scale` is a row-major `rows × tags.len()` matrix, and
    /// row r's tag vector has weight `scale[r · tags.len() + j] · weights[j]` at tag `tags[j]`
    /// and 0 elsewhere. Returns one score per row, equal to [`Self::forward`]'s up to rounding.
    /// `None`: the caller scores the rows through [`Self::forward`]. The closed forms are host
    /// code, so off the CPU the answer is always `None`; on the CPU it is
    /// [`Self::scaled_tag_scores_cpu`]'s.
    #[allow(clippy::too_many_arguments)]
    fn scaled_tag_scores(
        &self,
        device: Device,
        user: u32,
        item: u32,
        tags: &[u32],
        weights: &[f32],
        scale: &[f64],
        cancelled: Cancel<'_>,
    ) -> Result<Option<Vec<f64>>> {
        if device != Device::Cpu {
            return Ok(None);
        }
        cancelled()?;
        self.scaled_tag_scores_cpu(user, item, tags, weights, scale, cancelled)
    }

    /// [`Self::scaled_tag_scores`] on the CPU, where the model has a closed form (`None`, the
    /// default, where it has not). Long computations check `cancelled`.
    fn scaled_tag_scores_cpu(
        &self,
        _user: u32,
        _item: u32,
        _tags: &[u32],
        _weights: &[f32],
        _scale: &[f64],
        _cancelled: Cancel<'_>,
    ) -> Result<Option<Vec<f64>>> {
        Ok(None)
    }

    /// Latent factor matrices, for the `factors` table function; empty for models without.
    fn factors(&self) -> Vec<FactorMatrix> {
        Vec::new()
    }
}

/// Rows scored per tensor computation by [`score_pairs`].
pub const SCORE_CHUNK: usize = 8192;

/// f(u, i, T_i) for known (user index, item index) pairs, computed in chunks without gradients.
pub fn score_pairs(
    rec: &dyn Recommender,
    device: Device,
    users: &[u32],
    items: &[u32],
) -> Result<Vec<f64>> {
    score_pairs_cancellable(rec, device, users, items, &never_cancelled)
}

/// [`score_pairs`], checking `cancelled` before each chunk.
pub fn score_pairs_cancellable(
    rec: &dyn Recommender,
    device: Device,
    users: &[u32],
    items: &[u32],
    cancelled: Cancel<'_>,
) -> Result<Vec<f64>> {
    let mut out = Vec::with_capacity(users.len());
    for (us, is) in users.chunks(SCORE_CHUNK).zip(items.chunks(SCORE_CHUNK)) {
        cancelled()?;
        let scores = tch::no_grad(|| {
            let tags = TagInput::own(rec.data(), is, rec.kind(), device);
            rec.forward(device, &index(us, device), &index(is, device), &tags)
        })?;
        out.extend(to_f64_vec(&scores)?);
    }
    Ok(out)
}

/// f(u, i, t) and ∂f/∂t for a batch of dense tag vectors `t` (`[batch, n_tags]`, values in the
/// model's kind). Returns (scores `[batch]`, gradients `[batch, n_tags]`), both detached. Models
/// whose score does not depend on t (WRMF, MostPop, Random) get zero gradients.
pub fn tag_gradients(
    rec: &dyn Recommender,
    device: Device,
    users: &Tensor,
    items: &Tensor,
    t: &Tensor,
) -> Result<(Tensor, Tensor)> {
    let t = t
        .to_kind(rec.kind())
        .to_device(device)
        .detach()
        .set_requires_grad(true);
    let scores = rec.forward(device, users, items, &TagInput::Dense(t.shallow_clone()))?;
    if !scores.requires_grad() {
        return Ok((scores.detach(), t.zeros_like()));
    }
    let grads = Tensor::f_run_backward(&[scores.sum(scores.kind())], &[&t], false, false)
        .map_err(crate::common::tensors::torch_err)?;
    let grad = grads.into_iter().next().unwrap_or_else(|| t.zeros_like());
    Ok((scores.detach(), grad.detach()))
}

/// LIME's scaled tag vectors for a model that normalises the tag vector to x = t / ‖t‖₁ and is
/// computed in f32 (FM, NCF): the rows of `scale` (one scale per tag of `weights`), in blocks
/// of `block_rows`, each block's product with `table` (the item's weighted tag rows, tags ×
/// `width`, row-major) computed once; `row(scales, product, inv)` scores one row from its scales,
/// its row of the product and inv = 1 / Σ_j s_j x_j (1 for the empty tag vector, whose product
/// is 0). `model` names the type in errors.
#[allow(clippy::too_many_arguments)]
pub fn normalised_scaled_scores(
    model: &str,
    scale: &[f64],
    weights: &[f32],
    table: &[f32],
    width: usize,
    block_rows: usize,
    cancelled: Cancel<'_>,
    mut row: impl FnMut(&[f32], &[f32], f32) -> f32,
) -> Result<Vec<f64>> {
    let d = weights.len();
    if d == 0 || scale.len() % d != 0 || table.len() != d * width {
        return datafusion::common::exec_err!(
            "{model}: {} scales are not rows of {d} tags",
            scale.len()
        );
    }
    let mut out = Vec::with_capacity(scale.len() / d);
    let (mut wts, mut product) = (Vec::new(), Vec::new());
    for block in scale.chunks(block_rows.max(1) * d) {
        cancelled()?;
        let rows = block.len() / d;
        wts.clear();
        wts.extend(block.iter().map(|&s| s as f32));
        product.clear();
        product.resize(rows * width, 0.0);
        gemm_serial(
            MatRef::new(&wts, rows, d),
            MatRef::new(table, d, width),
            0.0,
            &mut product,
        );
        for (wr, pr) in wts.chunks_exact(d).zip(product.chunks_exact(width.max(1))) {
            let n: f32 = wr.iter().zip(weights).map(|(s, x)| s * x).sum();
            let inv = if n != 0.0 { 1.0 / n } else { 1.0 };
            out.push(row(wr, pr, inv) as f64);
        }
    }
    Ok(out)
}
