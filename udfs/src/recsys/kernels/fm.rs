//! Training of the factorization machine (`fm`) on the CPU without autograd: the batch loss of
//! negative sampling, its exact gradient, and Adam, on plain `f32` slices.
//!
//! # Why this kernel exists
//!
//! Through libtorch's autograd one FM epoch on Goodbooks-shaped data (4.8 M positives, 10
//! negatives each, 97 k users, items and tags at dim 64) takes about 11 minutes on 2 cores
//! (`bench/recsys/README.md`): every Adam step
//! walks all parameters several times over in separate tensor operations, and the sparse tag
//! products go through `embedding_bag` and its backward pass. The model itself is tiny per row
//! (one user, one item and some 30 tags), so a hand-written pass over exactly the rows of a batch
//! and exactly the parameter rows they touch does the same arithmetic in a small fraction of the
//! time. The libtorch path stays for CUDA and as the reference the tests compare against.
//!
//! # The model, as one feature space
//!
//! Users, items and tags are the features of one FM (SPEC §5, thesis §5.3.1): feature `a` has a
//! linear weight `w_a` and a factor `v_a ∈ R^k`; a row (u, i, t) activates the user with `x = 1`,
//! the item with `x = 1` and each tag `c` of the item with `x_c = t_c / ‖t‖₁`. Its score is
//!
//! f = w₀ + Σ_a x_a w_a + ½ (‖Σ_a x_a v_a‖² − Σ_a x_a² ‖v_a‖²),
//!
//! which is [`crate::recsys::fm::fm_score`] written over one index (⟨v_u, v_i⟩ + ⟨v_u + v_i, s⟩ +
//! ½(‖s‖² − Σ x² ‖v‖²) with s = Σ_c x_c v_c is the same sum of pairwise interactions). With
//! `total = Σ_a x_a v_a`, the derivatives are ∂f/∂w_a = x_a and ∂f/∂v_a = x_a (total − x_a v_a).
//!
//! A batch holds `b` positives and, after them, `negatives` rows per positive (row
//! `b + p·negatives + j` is the j-th negative of positive `p`); its loss is
//! −(1/b) Σ_p log σ(f_p) − (1/b) Σ_{p,j} log σ(−f_pj), so ∂L/∂f is −σ(−f)/b on a positive and
//! σ(f)/b on a negative.
//!
//! # Adam, lazily but exactly
//!
//! The optimiser is libtorch's `Adam` (β₁ 0.9, β₂ 0.999, ε 1e-8, L2 weight decay added to the
//! gradient), a *dense* optimiser: at every step every parameter's moments decay and every
//! parameter with a non-zero first moment moves, even when the batch did not touch it. A batch
//! touches a few percent of the users, so stepping all rows every time would cost more than the
//! rest of training together. Instead every feature row remembers the step it was last brought
//! up to date, and before a batch reads a row, the row is *caught up*: the skipped steps are
//! applied one by one with the gradient those steps had (zero, plus the weight decay term), with
//! the same arithmetic as a real step. The result is bit for bit what stepping every row at every
//! step gives (a test compares the two); the work of a skipped step stays in registers instead of
//! streaming all parameters through memory at every step. A row whose moments are both still
//! zero (never touched) is left alone, which is exact too: such a step changes nothing.
//!
//! Per step and element, with constants of the step t: m ← β₁m + (1−β₁)g, v ← β₂v + (1−β₂)g²,
//! p ← p − s_t · m / (√v · r_t + ε), with s_t = lr / (1 − β₁ᵗ) and r_t = 1 / √(1 − β₂ᵗ)
//! (computed in `f64`, rounded to `f32`). This is libtorch's update with its division by
//! √(1 − β₂ᵗ) written as a multiplication; results agree with libtorch's within rounding (a test
//! trains the same batches both ways).
//!
//! # One batch
//!
//! A batch's rows share items (each positive brings ten uniformly drawn negatives: 10,240 uniform
//! draws from 10,000 items hit about 1 − e^(−1.024) ≈ 64 % of them, and the positives repeat
//! popular items), and everything about a row's
//! item and tags depends on the item alone. So per distinct item i the kernel computes once
//! `v_i + Σ_c x_c v_c`, `w_i + Σ_c x_c w_c` and `‖v_i‖² + Σ_c x_c² ‖v_c‖²` (with each touched
//! feature's ‖v‖² computed once per batch), and a row adds its user's part. Backwards, with
//! A_r = g_r total_r and g_r = ∂L/∂f_r, the gradient of a feature is Σ (x A − x² g v_a) over its
//! rows; for an item and its tags those rows are grouped by distinct item (A_i = Σ_{r of i} A_r,
//! g_i = Σ_{r of i} g_r), which cuts the work on tag rows by the number of rows per item.
//!
//! Which rows a batch touches, its distinct items with their tags' x_c, and every feature's list
//! of contributions depend on the batch's users and items alone: [`FmBatch::prepare`] works them
//! out, serially, and [`crate::recsys::neural::run_prepared_epochs`] does it on the sampling
//! thread for the next batches while [`FmTrainer::step_prepared`] runs the parallel passes of
//! the current one. The passes gather rows scattered over megabytes (tag factors, the per-item
//! aggregates), so they prefetch the rows they are about to read; neither changes any sum.

//! # Determinism and threads
//!
//! The item side runs over distinct items in parallel, the rows and their aggregates over rows,
//! the item aggregates over distinct items (each summing its rows in row order), the gradients
//! and updates over the touched feature rows (each summing its contributions in order by itself);
//! the sums over all rows (loss, the gradient of w₀) run in order on one thread. Nothing
//! depends on how the work is split, so the trained parameters are bit-identical for any number
//! of threads. All element-wise loops are plain Rust (no fused multiply-adds), so the bits are
//! also the same on every x86-64 CPU; the AVX2 path is the same code compiled for wider registers.

use rayon::prelude::*;

use super::KernelError;
use crate::common::simd::{prefetch_row, prefetch_slice, Portable, Simd};

/// Adam's settings: libtorch's `Adam` with the L2 weight decay added to the gradient. Like
/// libtorch's options they are `f64`; the element-wise update uses them rounded to `f32` (β₁,
/// 1 − β₁, β₂, 1 − β₂, ε, the decay), the step constants are computed in `f64`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Adam {
    /// Learning rate.
    pub lr: f64,
    /// Decay of the first moment.
    pub beta1: f64,
    /// Decay of the second moment.
    pub beta2: f64,
    /// Added to the root of the second moment.
    pub eps: f64,
    /// L2 penalty: `weight_decay · p` is added to every gradient.
    pub weight_decay: f64,
}

impl Adam {
    /// libtorch's defaults (β₁ 0.9, β₂ 0.999, ε 1e-8) with the given learning rate and decay.
    pub fn new(lr: f64, weight_decay: f64) -> Adam {
        Adam {
            lr,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            weight_decay,
        }
    }

    /// The constants of step `t ≥ 1`: s_t = lr / (1 − β₁ᵗ) and r_t = 1 / √(1 − β₂ᵗ).
    fn constants(&self, t: u64) -> StepConstants {
        let t = t as f64;
        let bc1 = 1.0 - self.beta1.powf(t);
        let bc2 = 1.0 - self.beta2.powf(t);
        StepConstants {
            step_size: (self.lr / bc1) as f32,
            inv_sqrt_bc2: (1.0 / bc2.sqrt()) as f32,
        }
    }

    /// The element-wise coefficients in `f32`.
    #[inline(always)]
    fn coefficients(&self) -> Coefficients {
        Coefficients {
            b1: self.beta1 as f32,
            c1: (1.0 - self.beta1) as f32,
            b2: self.beta2 as f32,
            c2: (1.0 - self.beta2) as f32,
            eps: self.eps as f32,
            wd: self.weight_decay as f32,
        }
    }
}

#[derive(Clone, Copy, Debug)]
struct Coefficients {
    b1: f32,
    c1: f32,
    b2: f32,
    c2: f32,
    eps: f32,
    wd: f32,
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) struct StepConstants {
    step_size: f32,
    inv_sqrt_bc2: f32,
}

/// The step constants of steps 1, 2, …, kept until they stop changing in `f32` (β^t falls below
/// the rounding of 1 after some ten thousand steps), then the last value for every later step.
#[derive(Debug)]
pub(super) struct StepTable {
    adam: Adam,
    values: Vec<StepConstants>,
    saturated: bool,
}

impl StepTable {
    pub(super) fn new(adam: Adam) -> StepTable {
        StepTable {
            adam,
            values: Vec::new(),
            saturated: false,
        }
    }

    /// Makes sure the constants of steps up to `t` are known.
    pub(super) fn extend_to(&mut self, t: u64) {
        while !self.saturated && (self.values.len() as u64) < t {
            let next = self.adam.constants(self.values.len() as u64 + 1);
            if self.values.last() == Some(&next) && self.adam.constants(u64::MAX / 2) == next {
                self.saturated = true;
            } else {
                self.values.push(next);
            }
        }
    }

    /// The constants of step `t ≥ 1` (after [`Self::extend_to`] of at least `t`).
    #[inline]
    pub(super) fn get(&self, t: u64) -> StepConstants {
        let i = (t as usize).saturating_sub(1);
        self.values
            .get(i)
            .or(self.values.last())
            .copied()
            .unwrap_or(StepConstants {
                step_size: self.adam.lr as f32,
                inv_sqrt_bc2: 1.0,
            })
    }
}

/// One Adam step on a row: `g[e]` is the gradient before weight decay (`None`: zero).
#[inline(always)]
pub(super) fn adam_row(
    adam: &Adam,
    c: StepConstants,
    p: &mut [f32],
    m: &mut [f32],
    v: &mut [f32],
    g: Option<&[f32]>,
) {
    let Coefficients {
        b1,
        c1,
        b2,
        c2,
        eps,
        wd,
    } = adam.coefficients();
    let n = p.len();
    let (m, v) = (&mut m[..n], &mut v[..n]);
    // With weight decay 0, g + 0·p = g for every finite p, so one formula serves both cases.
    let mut element = |e: usize, g: f32| {
        let ge = g + wd * p[e];
        m[e] = b1 * m[e] + c1 * ge;
        v[e] = b2 * v[e] + c2 * (ge * ge);
        let denom = v[e].sqrt() * c.inv_sqrt_bc2 + eps;
        p[e] -= c.step_size * (m[e] / denom);
    };
    match g {
        Some(g) => {
            for (e, &ge) in g[..n].iter().enumerate() {
                element(e, ge);
            }
        }
        None => {
            for e in 0..n {
                element(e, 0.0);
            }
        }
    }
}

/// Brings a row from step `from` (the last step applied) up to step `to` with zero gradients.
#[inline(always)]
fn catch_up_row(adam: &Adam, table: &StepTable, row: Row<'_>, from: u64, to: u64) {
    let (p, m, v) = row;
    if from >= to {
        return;
    }
    // A row whose moments are zero does not move (m stays 0, v stays 0, p − s·0/(0 + ε) = p)
    // unless weight decay makes its gradient non-zero.
    if adam.weight_decay == 0.0 && m.iter().all(|&x| x == 0.0) && v.iter().all(|&x| x == 0.0) {
        return;
    }
    for t in from + 1..=to {
        adam_row(adam, table.get(t), p, m, v, None);
    }
}

/// The sizes of an FM: features are users, then items, then tags.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FmShape {
    pub n_users: usize,
    pub n_items: usize,
    pub n_tags: usize,
    /// Latent dimension.
    pub k: usize,
}

impl FmShape {
    fn n_features(&self) -> usize {
        self.n_users + self.n_items + self.n_tags
    }
}

/// Every item's tag vector (CSR over items; weights non-negative), as the model sees them.
#[derive(Clone, Copy, Debug)]
pub struct ItemTags<'a> {
    pub indptr: &'a [usize],
    pub indices: &'a [u32],
    pub data: &'a [f32],
}

impl ItemTags<'_> {
    /// The item's tags and its ‖t‖₁ (0 when it has none): x_c = t_c / ‖t‖₁.
    #[inline]
    fn row(&self, item: usize) -> (&[u32], &[f32], f32) {
        let (a, b) = (self.indptr[item], self.indptr[item + 1]);
        let data = &self.data[a..b];
        let mut sum = 0.0f32;
        for &w in data {
            sum += w;
        }
        (&self.indices[a..b], data, sum)
    }
}

/// Every item's tag features with their x_c, checked and scaled once per training: what a batch
/// copies for each of its distinct items ([`FmBatch::prepare`]), instead of summing and dividing
/// an item's tag weights again in every batch that draws it.
#[derive(Clone, Debug)]
pub struct ScaledTags {
    shape: FmShape,
    /// The tags of item i: `entries[indptr[i]..indptr[i + 1]]`, as (feature, x_c) in the order
    /// of its row of the tag matrix (a tag c is feature `n_users + n_items + c`).
    indptr: Vec<usize>,
    entries: Vec<(u32, f32)>,
}

impl ScaledTags {
    /// Checks the tag matrix against `shape` (one row per item, row pointers increasing from 0
    /// to the number of entries, tags in range) and scales each item's weights to x_c.
    pub fn new(shape: FmShape, tags: ItemTags<'_>) -> Result<ScaledTags, KernelError> {
        let FmShape {
            n_users,
            n_items,
            n_tags,
            ..
        } = shape;
        if tags.indptr.len() != n_items + 1 {
            return Err(KernelError::InvalidInput(format!(
                "tag rows for {} items, expected {n_items}",
                tags.indptr.len().saturating_sub(1)
            )));
        }
        let nnz = tags.indptr[n_items];
        if tags.indptr[0] != 0
            || tags.indptr.windows(2).any(|w| w[0] > w[1])
            || nnz != tags.indices.len()
            || nnz != tags.data.len()
        {
            return Err(KernelError::InvalidInput(
                "the item-tag matrix is malformed (row pointers not increasing from 0 to the \
                 number of entries)"
                    .to_string(),
            ));
        }
        if let Some(&c) = tags.indices.iter().find(|&&c| c as usize >= n_tags) {
            return Err(KernelError::InvalidInput(format!(
                "tag {c} out of range (0..{n_tags})"
            )));
        }
        let first = n_users + n_items;
        let mut entries = Vec::with_capacity(nnz);
        for item in 0..n_items {
            let (cols, weights, sum) = tags.row(item);
            let scaled_row = cols.iter().zip(weights);
            entries
                .extend(scaled_row.map(|(&c, &w)| ((first + c as usize) as u32, scaled(w, sum))));
        }
        Ok(ScaledTags {
            shape,
            indptr: tags.indptr.to_vec(),
            entries,
        })
    }

    /// The item's tags as (feature, x_c).
    #[inline]
    fn row(&self, item: usize) -> &[(u32, f32)] {
        &self.entries[self.indptr[item]..self.indptr[item + 1]]
    }
}

/// x_c of a tag weight and its item's ‖t‖₁ (an item without tags has none).
#[inline(always)]
fn scaled(weight: f32, sum: f32) -> f32 {
    if sum != 0.0 {
        weight / sum
    } else {
        weight
    }
}

/// The parameters in the model's layout: `w0`, then per entity the linear weights and the
/// row-major `n × k` factors.
#[derive(Clone, Debug, PartialEq)]
pub struct FmParams {
    pub w0: f32,
    pub w_user: Vec<f32>,
    pub w_item: Vec<f32>,
    pub w_tag: Vec<f32>,
    pub v_user: Vec<f32>,
    pub v_item: Vec<f32>,
    pub v_tag: Vec<f32>,
}

impl FmParams {
    /// The values in the model's parameter order: `[w0]`, w_user, w_item, w_tag, v_user,
    /// v_item, v_tag.
    pub fn into_values(self) -> Vec<Vec<f32>> {
        vec![
            vec![self.w0],
            self.w_user,
            self.w_item,
            self.w_tag,
            self.v_user,
            self.v_item,
            self.v_tag,
        ]
    }
}

/// The state of training: parameters, Adam's moments, and the scratch of the current batch
/// (progress and Ctrl-C are the caller's, between batches). A step takes an [`FmBatch`], which
/// can be prepared on another thread while the previous step runs; [`FmTrainer::step`]
/// prepares its own.
#[derive(Debug)]
pub struct FmTrainer {
    shape: FmShape,
    isa: Isa,
    adam: Adam,
    table: StepTable,
    /// Feature rows `[w_a, v_a]` (width k + 1), users, items, tags.
    params: Vec<f32>,
    m: Vec<f32>,
    v: Vec<f32>,
    /// The last step applied to each feature row.
    last: Vec<u64>,
    /// ‖v_a‖² of the features the current batch touches (after their catch-up).
    sq_norm: Vec<f32>,
    w0: [f32; 1],
    w0_m: [f32; 1],
    w0_v: [f32; 1],
    /// Steps taken.
    step: u64,
    work: Work,
    /// The batch [`FmTrainer::step`] prepares (made on first use).
    own: Option<FmBatch>,
}

/// A batch and which parameter rows it touches, worked out from its users and items alone (the
/// module docs, "One batch"). A batch's rows share items (10 negatives per positive are drawn
/// from the same items), so everything that depends on the item alone (its tags' part of the
/// score, and their gradients) is computed once per distinct item of the batch.
/// [`FmBatch::prepare`] fills it; any number of steps (of trainers of the same shape) may then
/// use it.
#[derive(Debug)]
pub struct FmBatch {
    pub(super) shape: FmShape,
    /// The users of the rows: b positives, then `negatives` per positive.
    pub(super) users: Vec<u32>,
    pub(super) positives: usize,
    pub(super) prepared: bool,
    /// Per feature: 1 + its slot s among the touched features, numbered in increasing order of
    /// feature (0 = not touched by the batch), so that the passes over the touched rows, which
    /// run in that order, read `ptr` and `contrib` front to back.
    pub(super) slot: Vec<u32>,
    /// The touched features in increasing order.
    pub(super) touched: Vec<u32>,
    /// Contributions (index, x) of each touched feature, `contrib[ptr[s]..ptr[s + 1]]`: for a
    /// user the rows it appears in (x = 1); for an item or a tag the distinct items of the
    /// batch it belongs to (x = 1 for the item itself, x_c for its tags), in order.
    pub(super) ptr: Vec<usize>,
    pub(super) contrib: Vec<(u32, f32)>,
    /// Per item: its position among the batch's distinct items + 1 (0 = not in the batch).
    pub(super) item_slot: Vec<u32>,
    /// The distinct items, in order of first appearance, and each row's index among them.
    pub(super) distinct: Vec<u32>,
    pub(super) item_of_row: Vec<u32>,
    /// The rows of each distinct item, in order: `item_rows[item_ptr[j]..item_ptr[j + 1]]`.
    pub(super) item_ptr: Vec<usize>,
    pub(super) item_rows: Vec<u32>,
    /// The tags of each distinct item as (feature, x_c), in the order of its row of the tag
    /// matrix: `item_tags[item_tags_ptr[j]..item_tags_ptr[j + 1]]`.
    pub(super) item_tags_ptr: Vec<usize>,
    pub(super) item_tags: Vec<(u32, f32)>,
}

/// The scratch of one step.
#[derive(Debug, Default)]
struct Work {
    /// Per distinct item: v_i + Σ_c x_c v_c (k), w_i + Σ_c x_c w_c, ‖v_i‖² + Σ_c x_c² ‖v_c‖².
    item_total: Vec<f32>,
    item_linear: Vec<f32>,
    item_squares: Vec<f32>,
    /// Per row: total = Σ_a x_a v_a (k), the score and ∂L/∂f.
    totals: Vec<f32>,
    scores: Vec<f32>,
    grads: Vec<f32>,
    /// Per row g_r · total_r (k), and per distinct item Σ over its rows of g_r · total_r (k) and
    /// of g_r.
    row_agg: Vec<f32>,
    item_agg: Vec<f32>,
    item_grad: Vec<f32>,
}

/// How many aggregate rows of a feature's contributions are prefetched (two features ahead of its
/// gradient).
const PREFETCH_ROWS: usize = 16;
/// How many tags ahead the item side prefetches tag rows.
const TAGS_AHEAD: usize = 12;

/// Rows or distinct items of a batch per parallel task.
const ROWS_PER_TASK: usize = 64;
/// Feature rows per parallel task when every row is brought up to date.
const FEATURES_PER_TASK: usize = 256;

impl FmTrainer {
    /// A trainer starting from `initial` (in the model's layout).
    pub fn new(shape: FmShape, initial: FmParams, adam: Adam) -> Result<FmTrainer, KernelError> {
        let FmShape {
            n_users,
            n_items,
            n_tags,
            k,
        } = shape;
        let check = |name: &str, got: usize, want: usize| {
            if got == want {
                Ok(())
            } else {
                Err(KernelError::InvalidInput(format!(
                    "{name} has {got} values, expected {want}"
                )))
            }
        };
        if k == 0 {
            return Err(KernelError::InvalidInput(
                "the latent dimension must be at least 1".to_string(),
            ));
        }
        check("w_user", initial.w_user.len(), n_users)?;
        check("w_item", initial.w_item.len(), n_items)?;
        check("w_tag", initial.w_tag.len(), n_tags)?;
        check("v_user", initial.v_user.len(), n_users * k)?;
        check("v_item", initial.v_item.len(), n_items * k)?;
        check("v_tag", initial.v_tag.len(), n_tags * k)?;
        if shape.n_features() >= u32::MAX as usize {
            return Err(KernelError::InvalidInput(format!(
                "{} users, items and tags are more than a u32 index",
                shape.n_features()
            )));
        }
        let width = k + 1;
        let n = shape.n_features();
        let mut params = Vec::with_capacity(n * width);
        for (w, v) in [
            (&initial.w_user, &initial.v_user),
            (&initial.w_item, &initial.v_item),
            (&initial.w_tag, &initial.v_tag),
        ] {
            for (a, &wa) in w.iter().enumerate() {
                params.push(wa);
                params.extend_from_slice(&v[a * k..(a + 1) * k]);
            }
        }
        Ok(FmTrainer {
            shape,
            isa: Isa::detect(),
            adam,
            table: StepTable::new(adam),
            m: vec![0.0; params.len()],
            v: vec![0.0; params.len()],
            params,
            last: vec![0; n],
            sq_norm: vec![0.0; n],
            w0: [initial.w0],
            w0_m: [0.0],
            w0_v: [0.0],
            step: 0,
            work: Work::default(),
            own: None,
        })
    }

    /// Steps taken so far.
    pub fn steps(&self) -> u64 {
        self.step
    }

    /// One Adam step on the batch of `users[r]`, `items[r]` (positives first, then `negatives`
    /// rows per positive, as in the module docs). Returns the batch's loss.
    pub fn step(
        &mut self,
        users: &[u32],
        items: &[u32],
        negatives: usize,
        tags: &ScaledTags,
    ) -> Result<f64, KernelError> {
        let mut batch = match self.own.take() {
            Some(batch) => batch,
            None => FmBatch::new(self.shape),
        };
        let loss = batch
            .prepare(users, items, negatives, tags)
            .and_then(|()| self.step_prepared(&batch));
        self.own = Some(batch);
        loss
    }

    /// One Adam step on a prepared batch. Returns the batch's loss.
    pub fn step_prepared(&mut self, batch: &FmBatch) -> Result<f64, KernelError> {
        batch.ready_for(self.shape)?;
        self.step += 1;
        let t = self.step;
        self.table.extend_to(t);
        self.catch_up_touched(batch, t - 1);
        let loss = self.gradients(batch);
        self.update_touched(batch, t);
        // w₀: every row's gradient, summed in row order.
        let mut g0 = 0.0f32;
        for &g in &self.work.grads {
            g0 += g;
        }
        let c = self.table.get(t);
        adam_row(
            &self.adam,
            c,
            &mut self.w0,
            &mut self.w0_m,
            &mut self.w0_v,
            Some(&[g0]),
        );
        if !loss.is_finite() {
            return Err(KernelError::Numerical(format!(
                "the batch loss became {loss} at step {t} (a smaller learning rate may help)"
            )));
        }
        Ok(loss)
    }

    /// Forward pass, loss, ∂L/∂f per row and the per-row and per-item aggregates the gradients
    /// are made of. Returns the loss.
    fn gradients(&mut self, batch: &FmBatch) -> f64 {
        let k = self.shape.k;
        let width = k + 1;
        let (params, sq_norm, isa) = (&self.params, &self.sq_norm, self.isa);
        let feature = |a: usize| &params[a * width..(a + 1) * width];
        let work = &mut self.work;
        let users = &batch.users;
        let n_items = batch.distinct.len();
        let rows = users.len();
        // The item side, once per distinct item.
        work.item_total.resize(n_items * k, 0.0);
        work.item_linear.resize(n_items, 0.0);
        work.item_squares.resize(n_items, 0.0);
        let (distinct, item_tags_ptr, item_tags) =
            (&batch.distinct, &batch.item_tags_ptr, &batch.item_tags);
        let nu = self.shape.n_users;
        work.item_total
            .par_chunks_mut(k)
            .zip(work.item_linear.par_iter_mut())
            .zip(work.item_squares.par_iter_mut())
            .enumerate()
            .with_min_len(ROWS_PER_TASK)
            .for_each(|(j, ((total, linear), squares))| {
                // The items are scattered too: ask for the next item's row and first tag rows
                // (its own pass asks for the later ones while it adds).
                if let Some(&next) = distinct.get(j + 1) {
                    prefetch_row(feature(nu + next as usize));
                    let own = &item_tags[item_tags_ptr[j + 1]..item_tags_ptr[j + 2]];
                    for &(a, _) in own.iter().take(TAGS_AHEAD) {
                        prefetch_row(feature(a as usize));
                    }
                }
                let i = distinct[j] as usize;
                let own = &item_tags[item_tags_ptr[j]..item_tags_ptr[j + 1]];
                let tag_rows = own.iter().map(|&(a, x)| {
                    let a = a as usize;
                    (x, feature(a), sq_norm[a])
                });
                (*linear, *squares) =
                    isa.item_side(feature(nu + i), sq_norm[nu + i], tag_rows, total);
            });
        // The rows.
        work.totals.resize(rows * k, 0.0);
        work.scores.resize(rows, 0.0);
        let w0 = self.w0[0];
        let item_of_row = &batch.item_of_row;
        let (item_total, item_linear, item_squares) =
            (&work.item_total, &work.item_linear, &work.item_squares);
        work.totals
            .par_chunks_mut(k)
            .zip(work.scores.par_iter_mut())
            .enumerate()
            .with_min_len(ROWS_PER_TASK)
            .for_each(|(r, (total, score))| {
                let u = users[r] as usize;
                let j = item_of_row[r] as usize;
                let linear = (w0 + feature(u)[0]) + item_linear[j];
                let squares = sq_norm[u] + item_squares[j];
                let it = &item_total[j * k..(j + 1) * k];
                *score = isa.row_score(&feature(u)[1..], it, linear, squares, total);
            });
        let loss = work.loss_gradients(batch.positives);
        // Aggregates: g_r total_r per row, summed per distinct item in row order.
        work.row_agg.resize(rows * k, 0.0);
        let (totals, grads) = (&work.totals, &work.grads);
        work.row_agg
            .par_chunks_mut(k)
            .enumerate()
            .with_min_len(ROWS_PER_TASK)
            .for_each(|(r, agg)| {
                let (g, total) = (grads[r], &totals[r * k..(r + 1) * k]);
                for e in 0..k {
                    agg[e] = g * total[e];
                }
            });
        work.item_agg.resize(n_items * k, 0.0);
        work.item_grad.resize(n_items, 0.0);
        let (item_ptr, item_rows, row_agg) = (&batch.item_ptr, &batch.item_rows, &work.row_agg);
        work.item_agg
            .par_chunks_mut(k)
            .zip(work.item_grad.par_iter_mut())
            .enumerate()
            .with_min_len(ROWS_PER_TASK)
            .for_each(|(j, (agg, gamma))| {
                agg.iter_mut().for_each(|x| *x = 0.0);
                *gamma = 0.0;
                for &r in &item_rows[item_ptr[j]..item_ptr[j + 1]] {
                    let r = r as usize;
                    *gamma += grads[r];
                    let row = &row_agg[r * k..(r + 1) * k];
                    for e in 0..k {
                        agg[e] += row[e];
                    }
                }
            });
        loss
    }

    /// Brings every feature row the batch touches up to step `to`, and notes its ‖v‖².
    fn catch_up_touched(&mut self, batch: &FmBatch, to: u64) {
        let isa = self.isa;
        let (rows, adam, table, _) = self.rows_and_state();
        rows.for_each(&batch.touched, &|_, row, _| {
            let FeatureRow {
                p,
                m,
                v,
                last,
                extra: sq_norm,
            } = row;
            isa.catch_up_row(adam, table, (&mut *p, m, v), *last, to);
            *last = to;
            *sq_norm = isa.sq_norm(p);
        });
    }

    /// Gradient and Adam step `t` of every feature row the batch touches: users from the
    /// per-row aggregates, items and tags from the per-item ones.
    fn update_touched(&mut self, batch: &FmBatch, t: u64) {
        let nu = self.shape.n_users;
        let c = self.table.get(t);
        let isa = self.isa;
        let k = self.shape.k;
        let (rows, adam, _, work) = self.rows_and_state();
        let aggregates = |a: usize| {
            if a < nu {
                (&work.row_agg, &work.grads)
            } else {
                (&work.item_agg, &work.item_grad)
            }
        };
        rows.for_each(&batch.touched, &|a, row, g| {
            // Slots follow the touched order: the feature two ahead is touched[s + 1]. Ask for
            // the aggregate rows its gradient will sum.
            let s = batch.slot[a] as usize;
            if let Some(&ahead) = batch.touched.get(s + 1) {
                let agg = aggregates(ahead as usize).0;
                let later = &batch.contrib[batch.ptr[s + 1]..batch.ptr[s + 2]];
                for &(index, _) in later.iter().take(PREFETCH_ROWS) {
                    let index = index as usize;
                    prefetch_row(&agg[index * k..(index + 1) * k]);
                }
            }
            let contrib = &batch.contrib[batch.ptr[s - 1]..batch.ptr[s]];
            let (agg, gamma) = aggregates(a);
            isa.update_row(adam, c, (row.p, row.m, row.v), g, contrib, agg, gamma);
            *row.last = t;
        });
    }

    /// All feature rows, to be split among parallel tasks, and what the passes over them read.
    fn rows_and_state(&mut self) -> (FeatureRows<'_, f32>, &Adam, &StepTable, &Work) {
        let rows = FeatureRows {
            width: self.shape.k + 1,
            first: 0,
            params: &mut self.params,
            m: &mut self.m,
            v: &mut self.v,
            last: &mut self.last,
            extra: &mut self.sq_norm,
        };
        (rows, &self.adam, &self.table, &self.work)
    }

    /// Brings every feature row up to the last step (what a dense optimiser would hold now).
    fn bring_up_to_date(&mut self) {
        let width = self.shape.k + 1;
        let to = self.step;
        let (adam, table, isa) = (&self.adam, &self.table, self.isa);
        self.params
            .par_chunks_mut(width)
            .zip(self.m.par_chunks_mut(width))
            .zip(self.v.par_chunks_mut(width))
            .zip(self.last.par_iter_mut())
            .with_min_len(FEATURES_PER_TASK)
            .for_each(|(((p, m), v), last)| {
                isa.catch_up_row(adam, table, (p, m, v), *last, to);
                *last = to;
            });
    }

    /// The trained parameters, every row brought up to the last step, in the model's layout.
    pub fn finish(mut self) -> FmParams {
        self.bring_up_to_date();
        let width = self.shape.k + 1;
        let FmShape {
            n_users,
            n_items,
            n_tags,
            k,
        } = self.shape;
        let split = |from: usize, n: usize| {
            let mut w = Vec::with_capacity(n);
            let mut v = Vec::with_capacity(n * k);
            for row in self.params[from * width..(from + n) * width].chunks(width) {
                w.push(row[0]);
                v.extend_from_slice(&row[1..]);
            }
            (w, v)
        };
        let (w_user, v_user) = split(0, n_users);
        let (w_item, v_item) = split(n_users, n_items);
        let (w_tag, v_tag) = split(n_users + n_items, n_tags);
        FmParams {
            w0: self.w0[0],
            w_user,
            w_item,
            w_tag,
            v_user,
            v_item,
            v_tag,
        }
    }
}

/// Touched feature rows per parallel task.
const TOUCHED_PER_TASK: usize = 64;

/// How many rows ahead a batch's preparation prefetches the tag list of the row's item.
const ITEMS_AHEAD: usize = 8;

/// How many touched features ahead the passes over them prefetch the parameter rows.
const ROWS_AHEAD: usize = 4;

/// A run of consecutive feature rows (parameters, moments, last step, and `E` per row: FM's
/// ‖v‖², nothing for NCF), which splits in two at any feature: the passes over a batch's touched
/// rows visit only those (a few tens of thousands of the features), in parallel, each row by
/// exactly one task.
pub(super) struct FeatureRows<'a, E> {
    pub(super) width: usize,
    /// The first feature of the run.
    pub(super) first: usize,
    pub(super) params: &'a mut [f32],
    pub(super) m: &'a mut [f32],
    pub(super) v: &'a mut [f32],
    pub(super) last: &'a mut [u64],
    pub(super) extra: &'a mut [E],
}

/// One feature's row of [`FeatureRows`].
pub(super) struct FeatureRow<'a, E> {
    pub(super) p: &'a mut [f32],
    pub(super) m: &'a mut [f32],
    pub(super) v: &'a mut [f32],
    pub(super) last: &'a mut u64,
    pub(super) extra: &'a mut E,
}

impl<'a, E: Send> FeatureRows<'a, E> {
    /// The rows before `feature` and the rows from it on (`first ≤ feature ≤ first + len`).
    fn split_at(self, feature: usize) -> (FeatureRows<'a, E>, FeatureRows<'a, E>) {
        let (w, i) = (self.width, feature - self.first);
        let (p0, p1) = self.params.split_at_mut(i * w);
        let (m0, m1) = self.m.split_at_mut(i * w);
        let (v0, v1) = self.v.split_at_mut(i * w);
        let (l0, l1) = self.last.split_at_mut(i);
        let (n0, n1) = self.extra.split_at_mut(i);
        let left = FeatureRows {
            width: w,
            first: self.first,
            params: p0,
            m: m0,
            v: v0,
            last: l0,
            extra: n0,
        };
        let right = FeatureRows {
            width: w,
            first: feature,
            params: p1,
            m: m1,
            v: v1,
            last: l1,
            extra: n1,
        };
        (left, right)
    }

    /// Calls `f(feature, row, scratch)` for every feature of `features` (increasing, distinct,
    /// within the run), splitting the run in parallel tasks; `scratch` is a buffer of the row's
    /// width per task.
    pub(super) fn for_each(
        self,
        features: &[u32],
        f: &(impl Fn(usize, FeatureRow<'_, E>, &mut Vec<f32>) + Sync),
    ) {
        if features.len() <= TOUCHED_PER_TASK {
            let mut scratch = vec![0.0f32; self.width];
            let (w, first) = (self.width, self.first);
            for (n, &a) in features.iter().enumerate() {
                // The touched rows are scattered: ask for the rows a few features ahead.
                if let Some(&ahead) = features.get(n + ROWS_AHEAD) {
                    let i = ahead as usize - first;
                    prefetch_row(&self.params[i * w..(i + 1) * w]);
                    prefetch_row(&self.m[i * w..(i + 1) * w]);
                    prefetch_row(&self.v[i * w..(i + 1) * w]);
                }
                let a = a as usize;
                let i = a - first;
                let row = FeatureRow {
                    p: &mut self.params[i * w..(i + 1) * w],
                    m: &mut self.m[i * w..(i + 1) * w],
                    v: &mut self.v[i * w..(i + 1) * w],
                    last: &mut self.last[i],
                    extra: &mut self.extra[i],
                };
                f(a, row, &mut scratch);
            }
            return;
        }
        let mid = features.len() / 2;
        let (left, right) = self.split_at(features[mid] as usize);
        rayon::join(
            || left.for_each(&features[..mid], f),
            || right.for_each(&features[mid..], f),
        );
    }
}

impl FmBatch {
    /// An empty batch for trainers of `shape` (its marks take one `u32` per feature and item).
    pub fn new(shape: FmShape) -> FmBatch {
        FmBatch {
            shape,
            users: Vec::new(),
            positives: 0,
            prepared: false,
            slot: vec![0; shape.n_features()],
            touched: Vec::new(),
            ptr: Vec::new(),
            contrib: Vec::new(),
            item_slot: vec![0; shape.n_items],
            distinct: Vec::new(),
            item_of_row: Vec::new(),
            item_ptr: Vec::new(),
            item_rows: Vec::new(),
            item_tags_ptr: Vec::new(),
            item_tags: Vec::new(),
        }
    }

    /// Makes this the batch of `users[r]`, `items[r]` (positives first, then `negatives` rows
    /// per positive, as in the module docs): checks it (b positives with `negatives` rows each,
    /// indices in range, tags scaled for this shape) and finds its distinct items, the touched
    /// features and their contributions. After an error the batch is empty (not prepared).
    pub fn prepare(
        &mut self,
        users: &[u32],
        items: &[u32],
        negatives: usize,
        tags: &ScaledTags,
    ) -> Result<(), KernelError> {
        self.reset();
        self.prepared = false;
        self.positives = self.check(users, items, negatives, tags)?;
        self.users.clear();
        self.users.extend_from_slice(users);
        self.collect(items, tags);
        self.prepared = true;
        Ok(())
    }

    /// Whether a trainer of `shape` can step on this batch: it is prepared, and for `shape`.
    pub(super) fn ready_for(&self, shape: FmShape) -> Result<(), KernelError> {
        if !self.prepared {
            return Err(KernelError::InvalidInput(
                "the batch was not prepared (or its preparation failed)".to_string(),
            ));
        }
        if self.shape != shape {
            return Err(KernelError::InvalidInput(format!(
                "the batch was prepared for {:?}, the trainer has {:?}",
                self.shape, shape
            )));
        }
        Ok(())
    }

    /// Checks a batch; returns b.
    fn check(
        &self,
        users: &[u32],
        items: &[u32],
        negatives: usize,
        tags: &ScaledTags,
    ) -> Result<usize, KernelError> {
        let rows = users.len();
        let b = rows / (1 + negatives);
        if rows != items.len() || b == 0 || b * (1 + negatives) != rows {
            return Err(KernelError::InvalidInput(format!(
                "a batch of {} users and {} items is not b positives with {negatives} negatives each",
                users.len(),
                items.len()
            )));
        }
        let FmShape {
            n_users, n_items, ..
        } = self.shape;
        if let Some(&u) = users.iter().find(|&&u| u as usize >= n_users) {
            return Err(KernelError::InvalidInput(format!(
                "user {u} out of range (0..{n_users})"
            )));
        }
        if let Some(&i) = items.iter().find(|&&i| i as usize >= n_items) {
            return Err(KernelError::InvalidInput(format!(
                "item {i} out of range (0..{n_items})"
            )));
        }
        if tags.shape != self.shape {
            return Err(KernelError::InvalidInput(format!(
                "the tags were scaled for {:?}, the batch is for {:?}",
                tags.shape, self.shape
            )));
        }
        Ok(b)
    }

    /// Finds the distinct items and the touched features, and lists each feature's
    /// contributions: users per row, items and tags per distinct item.
    fn collect(&mut self, items: &[u32], tags: &ScaledTags) {
        let shape = self.shape;
        let nu = shape.n_users;
        let users = &self.users;
        self.distinct.clear();
        self.item_of_row.clear();
        self.item_tags.clear();
        self.item_tags_ptr.clear();
        self.item_tags_ptr.push(0);
        let mut counts: Vec<usize> = Vec::new();
        let mut item_counts: Vec<usize> = Vec::new();
        let mut visit = |slot: &mut [u32], a: usize| {
            let s = slot[a];
            if s == 0 {
                counts.push(1);
                slot[a] = counts.len() as u32;
            } else {
                counts[s as usize - 1] += 1;
            }
        };
        for (r, (&u, &i)) in users.iter().zip(items).enumerate() {
            // The items are random: ask for the tag lists of the rows a few rows ahead.
            if let Some(&ahead) = items.get(r + ITEMS_AHEAD) {
                prefetch_slice(tags.row(ahead as usize));
            }
            visit(&mut self.slot, u as usize);
            let i = i as usize;
            if self.item_slot[i] == 0 {
                self.distinct.push(i as u32);
                item_counts.push(0);
                self.item_slot[i] = self.distinct.len() as u32;
                visit(&mut self.slot, nu + i);
                let own = tags.row(i);
                for &(a, _) in own {
                    visit(&mut self.slot, a as usize);
                }
                self.item_tags.extend_from_slice(own);
                self.item_tags_ptr.push(self.item_tags.len());
            }
            let j = self.item_slot[i] - 1;
            item_counts[j as usize] += 1;
            self.item_of_row.push(j);
        }
        // The touched features in increasing order (a scan of the marks: cheaper than sorting
        // them), their slots renumbered in that order.
        let mut ordered = Vec::with_capacity(counts.len());
        for (a, s) in self.slot.iter_mut().enumerate() {
            if *s != 0 {
                ordered.push(counts[*s as usize - 1]);
                self.touched.push(a as u32);
                *s = ordered.len() as u32;
            }
        }
        prefix_sums(&ordered, &mut self.ptr);
        prefix_sums(&item_counts, &mut self.item_ptr);
        self.contrib.clear();
        self.contrib.resize(self.ptr[self.ptr.len() - 1], (0, 0.0));
        self.item_rows.clear();
        self.item_rows.resize(users.len(), 0);
        let mut cursor: Vec<usize> = self.ptr[..self.ptr.len() - 1].to_vec();
        let slot = &self.slot;
        let contrib = &mut self.contrib;
        let mut put = |a: usize, index: usize, x: f32| {
            let s = slot[a] as usize - 1;
            contrib[cursor[s]] = (index as u32, x);
            cursor[s] += 1;
        };
        let mut item_cursor: Vec<usize> = self.item_ptr[..self.item_ptr.len() - 1].to_vec();
        for (r, &u) in users.iter().enumerate() {
            put(u as usize, r, 1.0);
            let j = self.item_of_row[r] as usize;
            self.item_rows[item_cursor[j]] = r as u32;
            item_cursor[j] += 1;
        }
        for (j, &i) in self.distinct.iter().enumerate() {
            put(nu + i as usize, j, 1.0);
            for &(a, x) in &self.item_tags[self.item_tags_ptr[j]..self.item_tags_ptr[j + 1]] {
                put(a as usize, j, x);
            }
        }
    }

    /// Clears the marks of the touched features and items (as listed).
    fn reset(&mut self) {
        for &a in &self.touched {
            self.slot[a as usize] = 0;
        }
        for &i in &self.distinct {
            self.item_slot[i as usize] = 0;
        }
        self.touched.clear();
        self.distinct.clear();
    }
}

impl Work {
    /// The batch loss and ∂L/∂f of every row (in `grads`).
    fn loss_gradients(&mut self, b: usize) -> f64 {
        sampling_gradients(&self.scores, b, &mut self.grads)
    }
}

/// The loss of a batch's scores (b positives first, as in the module docs) and ∂L/∂f of every
/// row, into `grads`.
pub(super) fn sampling_gradients(scores: &[f32], b: usize, grads: &mut Vec<f32>) -> f64 {
    let inv_b = 1.0 / b as f64;
    grads.resize(scores.len(), 0.0);
    let (mut pos, mut neg) = (0.0f64, 0.0f64);
    for (r, (&f, g)) in scores.iter().zip(grads.iter_mut()).enumerate() {
        *g = row_gradient(f, r < b, inv_b);
        let f = f as f64;
        if r < b {
            pos += log_sigmoid(f);
        } else {
            neg += log_sigmoid(-f);
        }
    }
    -(pos * inv_b + neg * inv_b)
}

/// ∂L/∂f of one row with score `f`: −σ(−f)/b for a positive, σ(f)/b for a negative.
#[inline]
pub(super) fn row_gradient(f: f32, positive: bool, inv_b: f64) -> f32 {
    let f = f as f64;
    if positive {
        (-sigmoid(-f) * inv_b) as f32
    } else {
        (sigmoid(f) * inv_b) as f32
    }
}

/// `out` = 0, c₀, c₀ + c₁, ….
fn prefix_sums(counts: &[usize], out: &mut Vec<usize>) {
    out.clear();
    out.push(0);
    let mut sum = 0;
    for &c in counts {
        sum += c;
        out.push(sum);
    }
}

/// A feature row's parameters and Adam moments.
pub(super) type Row<'a> = (&'a mut [f32], &'a mut [f32], &'a mut [f32]);

/// The item side of the score for one distinct item from its feature row `[w_i, v_i]`, its
/// ‖v_i‖² and its tags' (x, row, ‖v‖²): `total` (length k) receives v_i + Σ_c x_c v_c; returns
/// (w_i + Σ_c x_c w_c, ‖v_i‖² + Σ_c x_c² ‖v_c‖²).
#[inline(always)]
fn item_side<'a>(
    pi: &[f32],
    sq_norm: f32,
    tags: impl Iterator<Item = (f32, &'a [f32], f32)> + Clone,
    total: &mut [f32],
) -> (f32, f32) {
    let k = total.len();
    // The tag rows are scattered: ask for each a few tags before it is added.
    let mut ahead = tags.clone();
    for (_, pt, _) in ahead.by_ref().take(TAGS_AHEAD) {
        prefetch_row(pt);
    }
    total.copy_from_slice(&pi[1..=k]);
    let (mut linear, mut squares) = (pi[0], sq_norm);
    for (x, pt, norm) in tags {
        if let Some((_, next, _)) = ahead.next() {
            prefetch_row(next);
        }
        linear += x * pt[0];
        squares += (x * x) * norm;
        Portable.axpy(x, &pt[1..=k], total);
    }
    (linear, squares)
}

/// The score of one row: total = v_u + (the item side's total), f = linear + ½(‖total‖² −
/// squares).
#[inline(always)]
fn row_score(vu: &[f32], item_total: &[f32], linear: f32, squares: f32, total: &mut [f32]) -> f32 {
    let k = total.len();
    let (vu, it) = (&vu[..k], &item_total[..k]);
    for e in 0..k {
        total[e] = vu[e] + it[e];
    }
    linear + 0.5 * (Portable.dot(total, total) - squares)
}

/// The gradient ([`feature_gradient`]) and Adam step of one touched feature row.
#[inline(always)]
fn update_row(
    adam: &Adam,
    c: StepConstants,
    row: Row<'_>,
    g: &mut [f32],
    contrib: &[(u32, f32)],
    agg: &[f32],
    gamma: &[f32],
) {
    let (p, m, v) = row;
    feature_gradient(g, &p[1..], contrib, agg, gamma);
    adam_row(adam, c, p, m, v, Some(g));
}

/// Which instruction set the hot loops run with. Both compile the same plain Rust (no fused
/// multiply-adds), so they give the same bits; AVX2 only has wider registers.
#[derive(Clone, Copy, Debug)]
pub(super) struct Isa {
    avx2: bool,
}

impl Isa {
    pub(super) fn detect() -> Isa {
        Isa {
            avx2: cfg!(target_arch = "x86_64") && crate::common::simd::level().has_avx2(),
        }
    }

    /// The portable loops (the tests compare them with the AVX2 ones).
    #[cfg(test)]
    pub(super) fn portable() -> Isa {
        Isa { avx2: false }
    }

    /// Whether the loops run with AVX2.
    pub(super) fn avx2(self) -> bool {
        self.avx2
    }

    /// One Adam step on a row ([`adam_row`]).
    #[inline(always)]
    pub(super) fn adam_row(self, adam: &Adam, c: StepConstants, row: Row<'_>, g: Option<&[f32]>) {
        #[cfg(target_arch = "x86_64")]
        if self.avx2 {
            // SAFETY: `level()` reported AVX2 on this CPU.
            return unsafe { avx2::adam_row(adam, c, row, g) };
        }
        let (p, m, v) = row;
        adam_row(adam, c, p, m, v, g)
    }

    #[inline(always)]
    pub(super) fn catch_up_row(
        self,
        adam: &Adam,
        table: &StepTable,
        row: Row<'_>,
        from: u64,
        to: u64,
    ) {
        #[cfg(target_arch = "x86_64")]
        if self.avx2 {
            // SAFETY: `level()` reported AVX2 on this CPU.
            return unsafe { avx2::catch_up_row(adam, table, row, from, to) };
        }
        catch_up_row(adam, table, row, from, to)
    }

    /// ‖v‖² of a feature row `[w, v]` ([`Portable`]'s dot product: the same sums).
    #[inline(always)]
    fn sq_norm(self, p: &[f32]) -> f32 {
        #[cfg(target_arch = "x86_64")]
        if self.avx2 {
            // SAFETY: as above.
            return unsafe { avx2::sq_norm(p) };
        }
        Portable.dot(&p[1..], &p[1..])
    }

    #[inline(always)]
    fn item_side<'a>(
        self,
        pi: &[f32],
        sq_norm: f32,
        tags: impl Iterator<Item = (f32, &'a [f32], f32)> + Clone,
        total: &mut [f32],
    ) -> (f32, f32) {
        #[cfg(target_arch = "x86_64")]
        if self.avx2 {
            // SAFETY: as above.
            return unsafe { avx2::item_side(pi, sq_norm, tags, total) };
        }
        item_side(pi, sq_norm, tags, total)
    }

    #[inline(always)]
    fn row_score(
        self,
        vu: &[f32],
        item_total: &[f32],
        linear: f32,
        squares: f32,
        total: &mut [f32],
    ) -> f32 {
        #[cfg(target_arch = "x86_64")]
        if self.avx2 {
            // SAFETY: as above.
            return unsafe { avx2::row_score(vu, item_total, linear, squares, total) };
        }
        row_score(vu, item_total, linear, squares, total)
    }

    #[allow(clippy::too_many_arguments)]
    #[inline(always)]
    fn update_row(
        self,
        adam: &Adam,
        c: StepConstants,
        row: Row<'_>,
        g: &mut [f32],
        contrib: &[(u32, f32)],
        agg: &[f32],
        gamma: &[f32],
    ) {
        #[cfg(target_arch = "x86_64")]
        if self.avx2 {
            // SAFETY: as above.
            return unsafe { avx2::update_row(adam, c, row, g, contrib, agg, gamma) };
        }
        update_row(adam, c, row, g, contrib, agg, gamma)
    }
}

/// The hot loops compiled with AVX2 (the bodies are the portable functions, inlined).
#[cfg(target_arch = "x86_64")]
mod avx2 {
    use super::{Adam, Row, StepConstants, StepTable};

    #[target_feature(enable = "avx2")]
    pub(super) fn catch_up_row(adam: &Adam, table: &StepTable, row: Row<'_>, from: u64, to: u64) {
        super::catch_up_row(adam, table, row, from, to)
    }

    #[target_feature(enable = "avx2")]
    pub(super) fn adam_row(adam: &Adam, c: StepConstants, row: Row<'_>, g: Option<&[f32]>) {
        let (p, m, v) = row;
        super::adam_row(adam, c, p, m, v, g)
    }

    #[target_feature(enable = "avx2")]
    pub(super) fn sq_norm(p: &[f32]) -> f32 {
        use crate::common::simd::Simd;
        crate::common::simd::Portable.dot(&p[1..], &p[1..])
    }

    #[target_feature(enable = "avx2")]
    pub(super) fn item_side<'a>(
        pi: &[f32],
        sq_norm: f32,
        tags: impl Iterator<Item = (f32, &'a [f32], f32)> + Clone,
        total: &mut [f32],
    ) -> (f32, f32) {
        super::item_side(pi, sq_norm, tags, total)
    }

    #[target_feature(enable = "avx2")]
    pub(super) fn row_score(
        vu: &[f32],
        item_total: &[f32],
        linear: f32,
        squares: f32,
        total: &mut [f32],
    ) -> f32 {
        super::row_score(vu, item_total, linear, squares, total)
    }

    #[allow(clippy::too_many_arguments)]
    #[target_feature(enable = "avx2")]
    pub(super) fn update_row(
        adam: &Adam,
        c: StepConstants,
        row: Row<'_>,
        g: &mut [f32],
        contrib: &[(u32, f32)],
        agg: &[f32],
        gamma: &[f32],
    ) {
        super::update_row(adam, c, row, g, contrib, agg, gamma)
    }
}

/// ∂L/∂[w_a, v_a] of one feature row from its contributions (index, x), in order, into `g`
/// (length k + 1): Σ x γ (for w_a) and Σ (x A − x² γ v_a) (for v_a), where A and γ are the
/// aggregates Σ g_r total_r and Σ g_r of the contribution's row or distinct item. For a row
/// (x = 1) this is g_r (total_r − v_a); summed over an item's rows it is the same sum over those
/// rows, grouped.
#[inline(always)]
fn feature_gradient(g: &mut [f32], va: &[f32], contrib: &[(u32, f32)], agg: &[f32], gamma: &[f32]) {
    // The aggregates are rows scattered over a few megabytes; the update pass has asked for
    // them two features ahead.
    let k = va.len();
    g.iter_mut().for_each(|x| *x = 0.0);
    let (g0, gv) = g.split_at_mut(1);
    let gv = &mut gv[..k];
    for &(index, x) in contrib {
        let index = index as usize;
        let gam = gamma[index];
        g0[0] += x * gam;
        let shrink = (x * x) * gam;
        let a = &agg[index * k..(index + 1) * k];
        for e in 0..k {
            gv[e] += x * a[e] - shrink * va[e];
        }
    }
}

/// log σ(x), stable for large |x|.
fn log_sigmoid(x: f64) -> f64 {
    if x >= 0.0 {
        -(-x).exp().ln_1p()
    } else {
        x - x.exp().ln_1p()
    }
}

/// σ(x), stable for large |x|.
fn sigmoid(x: f64) -> f64 {
    if x >= 0.0 {
        1.0 / (1.0 + (-x).exp())
    } else {
        let e = x.exp();
        e / (1.0 + e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::common::rng::Rng;
    use crate::recsys::kernels::test_support::{batch, TagMatrix};

    /// A small random FM and tag matrix (item 0 has no tags; weights in [0.5, 2)).
    struct Problem {
        shape: FmShape,
        params: FmParams,
        tags: TagMatrix,
    }

    impl Problem {
        fn new(seed: u64, n_users: usize, n_items: usize, n_tags: usize, k: usize) -> Problem {
            let mut rng = Rng::new(seed);
            let mut normal = |n: usize, sd: f64| -> Vec<f32> {
                (0..n).map(|_| (rng.normal() * sd) as f32).collect()
            };
            let params = FmParams {
                w0: 0.1,
                w_user: normal(n_users, 0.2),
                w_item: normal(n_items, 0.2),
                w_tag: normal(n_tags, 0.2),
                v_user: normal(n_users * k, 0.4),
                v_item: normal(n_items * k, 0.4),
                v_tag: normal(n_tags * k, 0.4),
            };
            let tags = TagMatrix::random(&mut Rng::new(seed ^ 0x5eed), n_items, n_tags);
            Problem {
                shape: FmShape {
                    n_users,
                    n_items,
                    n_tags,
                    k,
                },
                params,
                tags,
            }
        }

        fn tags(&self) -> ItemTags<'_> {
            self.tags.tags()
        }

        fn scaled(&self) -> ScaledTags {
            ScaledTags::new(self.shape, self.tags()).unwrap()
        }

        fn trainer(&self, adam: Adam) -> FmTrainer {
            FmTrainer::new(self.shape, self.params.clone(), adam).unwrap()
        }

        fn batch(
            &self,
            rng: &mut Rng,
            b: usize,
            negatives: usize,
            user_span: usize,
        ) -> (Vec<u32>, Vec<u32>) {
            batch(rng, b, negatives, user_span, self.shape.n_items)
        }
    }

    impl FmTrainer {
        /// The batch loss and ∂L/∂θ at the current parameters (no step): `[w0, rows...]` in the
        /// trainer's feature-row layout.
        fn batch_gradient(
            &mut self,
            users: &[u32],
            items: &[u32],
            negatives: usize,
            tags: ItemTags<'_>,
        ) -> (f64, Vec<f32>) {
            let mut batch = FmBatch::new(self.shape);
            let tags = ScaledTags::new(self.shape, tags).unwrap();
            batch.prepare(users, items, negatives, &tags).unwrap();
            self.catch_up_touched(&batch, self.step);
            let loss = self.gradients(&batch);
            let width = self.shape.k + 1;
            let nu = self.shape.n_users;
            let mut out = vec![0.0f32; 1 + self.params.len()];
            let work = &self.work;
            out[0] = work.grads.iter().sum();
            for &a in &batch.touched {
                let a = a as usize;
                let s = batch.slot[a] as usize - 1;
                let mut g = vec![0.0f32; width];
                let va = &self.params[a * width + 1..(a + 1) * width];
                let contrib = &batch.contrib[batch.ptr[s]..batch.ptr[s + 1]];
                let (agg, gamma) = if a < nu {
                    (&work.row_agg, &work.grads)
                } else {
                    (&work.item_agg, &work.item_grad)
                };
                feature_gradient(&mut g, va, contrib, agg, gamma);
                out[1 + a * width..1 + (a + 1) * width].copy_from_slice(&g);
            }
            (loss, out)
        }

        /// `[w0, rows...]` as f64.
        fn flat(&self) -> Vec<f64> {
            std::iter::once(self.w0[0] as f64)
                .chain(self.params.iter().map(|&x| x as f64))
                .collect()
        }
    }

    /// The batch loss in f64 from the definition: f = w0 + Σ_a x_a w_a + Σ_{a<b} x_a x_b ⟨v_a, v_b⟩
    /// over the row's explicit feature vector, then −(1/b) Σ log σ(f⁺) − (1/b) Σ log σ(−f⁻).
    fn reference_loss(
        flat: &[f64],
        shape: FmShape,
        tags: ItemTags<'_>,
        users: &[u32],
        items: &[u32],
        negatives: usize,
    ) -> f64 {
        let k = shape.k;
        let width = k + 1;
        let (nu, ni) = (shape.n_users, shape.n_items);
        let row = |a: usize| &flat[1 + a * width..1 + (a + 1) * width];
        let b = users.len() / (1 + negatives);
        let mut loss = 0.0;
        for (r, (&u, &i)) in users.iter().zip(items).enumerate() {
            let mut x: Vec<(usize, f64)> = vec![(u as usize, 1.0), (nu + i as usize, 1.0)];
            let (a0, a1) = (tags.indptr[i as usize], tags.indptr[i as usize + 1]);
            let sum: f64 = tags.data[a0..a1].iter().map(|&w| w as f64).sum();
            for j in a0..a1 {
                x.push((
                    nu + ni + tags.indices[j] as usize,
                    tags.data[j] as f64 / sum,
                ));
            }
            let mut f = flat[0];
            for (p, &(a, xa)) in x.iter().enumerate() {
                f += xa * row(a)[0];
                for &(c, xc) in &x[p + 1..] {
                    let dot: f64 = (1..width).map(|e| row(a)[e] * row(c)[e]).sum();
                    f += xa * xc * dot;
                }
            }
            let ls = |z: f64| -(1.0 + (-z).exp()).ln();
            loss -= if r < b { ls(f) } else { ls(-f) } / b as f64;
        }
        loss
    }

    #[test]
    fn gradients_match_finite_differences_of_the_pairwise_definition() {
        let problem = Problem::new(7, 5, 6, 9, 5);
        let mut trainer = problem.trainer(Adam::new(0.01, 0.0));
        let mut rng = Rng::new(3);
        let (users, items) = problem.batch(&mut rng, 3, 2, 5);
        let (loss, grad) = trainer.batch_gradient(&users, &items, 2, problem.tags());
        let flat = trainer.flat();
        let at = |f: &[f64]| reference_loss(f, problem.shape, problem.tags(), &users, &items, 2);
        assert!((loss - at(&flat)).abs() < 1e-5, "{loss} vs {}", at(&flat));
        let h = 1e-5;
        let mut nonzero = 0;
        for j in 0..flat.len() {
            let (mut up, mut down) = (flat.clone(), flat.clone());
            up[j] += h;
            down[j] -= h;
            let numeric = (at(&up) - at(&down)) / (2.0 * h);
            let analytic = grad[j] as f64;
            assert!(
                (numeric - analytic).abs() <= 1e-5 + 1e-3 * numeric.abs(),
                "parameter {j}: finite differences {numeric}, kernel {analytic}"
            );
            nonzero += usize::from(numeric.abs() > 1e-6);
        }
        // Most parameters take part: the users, items and tags of the batch.
        assert!(nonzero > flat.len() / 3, "{nonzero} of {}", flat.len());
    }

    fn bits(p: &FmParams) -> Vec<u32> {
        std::iter::once(p.w0)
            .chain(p.w_user.iter().copied())
            .chain(p.w_item.iter().copied())
            .chain(p.w_tag.iter().copied())
            .chain(p.v_user.iter().copied())
            .chain(p.v_item.iter().copied())
            .chain(p.v_tag.iter().copied())
            .map(f32::to_bits)
            .collect()
    }

    /// Runs `steps` batches; `dense` brings every row up to date after every step.
    fn run(problem: &Problem, adam: Adam, steps: usize, dense: bool, isa: Option<Isa>) -> FmParams {
        let mut trainer = problem.trainer(adam);
        if let Some(isa) = isa {
            trainer.isa = isa;
        }
        let mut rng = Rng::new(11);
        for s in 0..steps {
            // Early batches use few users, later ones all: rows wait many steps to be touched.
            let span = if s < steps / 2 {
                3
            } else {
                problem.shape.n_users
            };
            let (users, items) = problem.batch(&mut rng, 4, 3, span);
            trainer.step(&users, &items, 3, &problem.scaled()).unwrap();
            if dense {
                trainer.bring_up_to_date();
            }
        }
        trainer.finish()
    }

    #[test]
    fn a_prepared_batch_numbers_its_slots_in_touched_order_with_contributions_in_row_order() {
        let problem = Problem::new(3, 40, 30, 20, 4);
        let tags = problem.scaled();
        let mut batch = FmBatch::new(problem.shape);
        let (users, items) = problem.batch(&mut Rng::new(4), 6, 3, 40);
        batch.prepare(&users, &items, 3, &tags).unwrap();
        let nu = problem.shape.n_users;
        // Every feature's contributions, written out from the definition in row order.
        let mut expected: std::collections::BTreeMap<usize, Vec<(u32, f32)>> = Default::default();
        let mut seen: Vec<u32> = Vec::new();
        for (r, (&u, &i)) in users.iter().zip(&items).enumerate() {
            expected
                .entry(u as usize)
                .or_default()
                .push((r as u32, 1.0));
            if !seen.contains(&i) {
                let j = seen.len() as u32;
                seen.push(i);
                expected.entry(nu + i as usize).or_default().push((j, 1.0));
            }
        }
        for (j, &i) in seen.iter().enumerate() {
            for &(a, x) in tags.row(i as usize) {
                expected.entry(a as usize).or_default().push((j as u32, x));
            }
        }
        let touched: Vec<u32> = expected.keys().map(|&a| a as u32).collect();
        assert_eq!(batch.touched, touched);
        for (n, (&a, list)) in expected.iter().enumerate() {
            assert_eq!(batch.slot[a] as usize, n + 1, "feature {a}");
            assert_eq!(
                &batch.contrib[batch.ptr[n]..batch.ptr[n + 1]],
                &list[..],
                "feature {a}"
            );
        }
        assert_eq!(batch.distinct, seen);
    }

    #[test]
    fn lazy_adam_is_bitwise_the_dense_optimiser() {
        let problem = Problem::new(5, 12, 15, 20, 11);
        for wd in [0.0, 0.05] {
            let adam = Adam::new(0.02, wd);
            let lazy = run(&problem, adam, 30, false, None);
            let dense = run(&problem, adam, 30, true, None);
            assert_eq!(bits(&lazy), bits(&dense), "weight decay {wd}");
            // Training moved the parameters.
            assert_ne!(bits(&lazy), bits(&problem.params));
        }
    }

    #[test]
    fn the_same_bits_for_any_thread_count_and_instruction_set() {
        let problem = Problem::new(9, 300, 200, 150, 19);
        let adam = Adam::new(0.01, 0.0);
        let in_pool = |threads: usize| {
            rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap()
                .install(|| run(&problem, adam, 12, false, None))
        };
        let one = in_pool(1);
        assert_eq!(bits(&one), bits(&in_pool(3)));
        let portable = run(&problem, adam, 12, false, Some(Isa { avx2: false }));
        assert_eq!(bits(&one), bits(&portable));
    }

    #[test]
    fn step_constants_saturate_at_their_limit() {
        let adam = Adam::new(0.01, 0.0);
        let mut table = StepTable::new(adam);
        table.extend_to(200_000);
        assert!(table.saturated && table.values.len() < 60_000);
        for t in [1u64, 2, 10, 1000, 30_000, 59_999, 60_000, 150_000] {
            assert_eq!(table.get(t), adam.constants(t), "step {t}");
        }
        // Step 1: s = lr / 0.1, r = 1 / sqrt(0.001).
        let c = adam.constants(1);
        assert!((c.step_size as f64 - 0.1).abs() < 1e-7);
        assert!((c.inv_sqrt_bc2 as f64 - 1.0 / 0.001f64.sqrt()).abs() < 1e-4);
    }

    #[test]
    fn bad_batches_are_errors_that_leave_the_trainer_usable() {
        let problem = Problem::new(1, 4, 5, 6, 3);
        let mut trainer = problem.trainer(Adam::new(0.01, 0.0));
        let tags = problem.scaled();
        let err = |r: Result<f64, KernelError>| r.unwrap_err().to_string();
        assert!(err(trainer.step(&[0, 1, 2], &[0, 1], 1, &tags)).contains("not b positives"));
        assert!(err(trainer.step(&[0, 9], &[0, 1], 1, &tags)).contains("user 9 out of range"));
        assert!(err(trainer.step(&[0, 1], &[0, 7], 1, &tags)).contains("item 7 out of range"));
        let mut other = problem.shape;
        other.n_users += 1;
        let theirs = ScaledTags::new(other, problem.tags()).unwrap();
        assert!(err(trainer.step(&[0, 1], &[2, 3], 1, &theirs)).contains("tags were scaled for"));
        assert_eq!(trainer.steps(), 0);
        assert!(trainer
            .step(&[0, 1], &[2, 3], 1, &tags)
            .unwrap()
            .is_finite());
        assert_eq!(trainer.steps(), 1);
        // A bad tag matrix is refused before any batch.
        let scale_err =
            |t: ItemTags<'_>| ScaledTags::new(problem.shape, t).unwrap_err().to_string();
        let bad_indices: Vec<u32> = problem.tags.indices.iter().map(|&c| c + 100).collect();
        let bad = ItemTags {
            indices: &bad_indices,
            ..problem.tags()
        };
        assert!(scale_err(bad).contains("out of range (0..6)"));
        let short = ItemTags {
            indptr: &problem.tags.indptr[1..],
            ..problem.tags()
        };
        assert!(scale_err(short).contains("tag rows for 4 items, expected 5"));
        let mut shifted = problem.tags.indptr.clone();
        shifted[0] = 1;
        let malformed = ItemTags {
            indptr: &shifted,
            ..problem.tags()
        };
        assert!(scale_err(malformed).contains("malformed"));
        let shape = FmShape {
            k: 0,
            ..problem.shape
        };
        assert!(FmTrainer::new(shape, problem.params.clone(), Adam::new(0.01, 0.0)).is_err());
    }
}
