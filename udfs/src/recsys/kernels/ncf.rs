//! Training of neural collaborative filtering (`ncf`) on the CPU without autograd: the batch
//! loss of negative sampling, its exact gradient, and Adam, on plain `f32` slices.
//!
//! # Why this kernel exists
//!
//! Through libtorch's autograd, NCF's training on the Goodbooks-shaped data of the recommender
//! bench (4.8 M positives, 10 negatives each, dim 64, 1,024 hidden units) took about 155 ms per
//! batch of 1,024 positives on 2 cores, 727 s an epoch (`bench/recsys/epoch_before_after.sh`). Every row of a
//! batch went through the hidden layer on its own: the input [p_u; z_i] of all 11,264 rows
//! times W₁ (128 × 1,024) forwards and two more products of that size backwards; a dense Adam
//! step over every parameter; fresh [rows × 1,024] temporaries every step (about a fifth of the
//! samples were in the operating system, mostly page faults, in `MODEL=ncf SCALE=0.1
//! bench/recsys/profile_fm.sh` before this kernel); libtorch's dispatch. But the hidden
//! layer's input is linear, W₁ [p_u; z_i] = W₁ᵘ p_u + W₁ⁱ z_i, and a batch has few distinct
//! users (a positive and its ten negatives share the user) and at most as many distinct items as
//! the catalogue (10,240 uniform negatives hit about two thirds of 10,000 items). So this kernel
//! multiplies each distinct user and each distinct item by its half of W₁ once, and runs the rest
//! (ReLU, the output weights, the gradients flowing back into the two halves) as fused passes
//! over the rows that never hold a [rows × hidden] tensor. The products shrink from three of
//! [rows × 2k × hidden] to three of [(users + items) × k × hidden], about a third of the work.
//!
//! # The model
//!
//! As [`crate::recsys::ncf`]: with z_i(t) = z_i + Σ_c x_c Z_c (x_c = t_c / ‖t‖₁) and
//! pre = W₁ᵘᵀ p_u + W₁ⁱᵀ z_i(t) + b₁ (W₁ stored as 2k × hidden, user rows first),
//!
//! f = h · (p_u ⊙ z_i(t)) + w₂ · ReLU(pre) + b.
//!
//! A batch holds `b` positives and, after them, `negatives` rows per positive; its loss is
//! −(1/b) Σ_p log σ(f_p) − (1/b) Σ_{p,j} log σ(−f_pj) (∂L/∂f = g_r per row, as FM's).
//! Backwards, with δ_r = g_r w₂ ⊙ [pre_r > 0]:
//!
//! - per distinct user u: D_u = Σ_{r of u} δ_r, ∂L/∂p_u = W₁ᵘ D_u + h ⊙ Σ_{r of u} g_r z_{i_r};
//! - per distinct item i: E_i = Σ_{r of i} δ_r, ∂L/∂z_i(t) = W₁ⁱ E_i + h ⊙ Σ_{r of i} g_r p_{u_r},
//!   which is ∂L/∂z_i and, times x_c, each of its tags' share of ∂L/∂Z_c;
//! - ∂L/∂W₁ᵘ = P_Bᵀ D, ∂L/∂W₁ⁱ = Z_Bᵀ E (over the batch's distinct users and items),
//!   ∂L/∂b₁ = Σ_i E_i, ∂L/∂w₂ = Σ_r g_r ReLU(pre_r), ∂L/∂h = Σ_u p_u ⊙ Σ_{r of u} g_r z_{i_r},
//!   ∂L/∂b = Σ_r g_r.
//!
//! # One step
//!
//! W₁ᵘᵀ p_u + b₁ is computed for every distinct user (a few megabytes). The distinct items then
//! go in blocks of [`ITEM_BLOCK`]: a block's W₁ⁱᵀ z_i(t) is one product that stays in the core's
//! cache, and the rows of each of its items (in row order) get their score, their g_r (which
//! depends on that score alone), their ReLU pattern (one byte per hidden unit), and add to the
//! item's E_i; then E of the block goes back through W₁ⁱ (∂L/∂z_i(t)) and into its share of
//! ∂L/∂W₁ⁱ. Nothing of size [items × hidden] is ever in memory at once. A last pass over the rows
//! grouped by user sums D_u from the stored patterns.
//!
//! # Adam and the batch
//!
//! The same optimiser as FM's kernel ([`super::fm`], "Adam, lazily but exactly"): the embedding
//! rows (users, items, tags) are caught up lazily and exactly, bit for bit what a dense optimiser
//! gives (a test compares the two); the dense layers (W₁, b₁, w₂, h, b) take an ordinary Adam
//! step every batch. The batch's distinct users and items, touched rows and contributions are
//! FM's [`FmBatch`] (users, items and tags are the same three kinds of rows), prepared on the
//! sampling thread while a step runs.
//!
//! # Determinism and threads
//!
//! Every sum has a fixed order that does not depend on how the work is split: an item's rows and
//! a user's rows in row order; the item blocks in [`ITEM_GROUPS`] groups fixed by the batch, each
//! summing its share of ∂L/∂W₁ⁱ, ∂L/∂w₂ and ∂L/∂b₁ over its blocks in order, and the shares added
//! in group order; every element of a matrix product computed whole by one task ([`gemm`]). So
//! the trained parameters are bit-identical for any number of threads (a test trains on 1 and 3).
//! The products are `matrixmultiply`'s, which use fused multiply-adds where the CPU has them, so
//! unlike FM's kernel the bits may differ between CPU models. The hand-written loops have AVX2
//! copies with the same operations (no fused multiply-adds), so they give the same bits.

use rayon::prelude::*;

use super::fm::{
    row_gradient, sampling_gradients, Adam, FeatureRows, FmBatch, FmShape, Isa, ScaledTags,
    StepTable,
};
use super::KernelError;
use crate::common::simd::{prefetch_row, Portable, Simd};
use crate::transfer::kernels::linalg::{gemm, gemm_in_blocks, gemm_serial, MatRef};

/// The sizes of an NCF: users, items and tags with `k` factors each, and `hidden` units.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NcfShape {
    pub n_users: usize,
    pub n_items: usize,
    pub n_tags: usize,
    /// Latent dimension.
    pub k: usize,
    /// Units of the hidden layer.
    pub hidden: usize,
}

impl NcfShape {
    /// The shape of the embedding rows, which is what an [`FmBatch`] is prepared for.
    pub fn rows(&self) -> FmShape {
        FmShape {
            n_users: self.n_users,
            n_items: self.n_items,
            n_tags: self.n_tags,
            k: self.k,
        }
    }

    /// Values of the dense layers: W₁ (2k × hidden), b₁, w₂ (hidden each), h (k), b.
    fn n_dense(&self) -> usize {
        2 * self.k * self.hidden + 2 * self.hidden + self.k + 1
    }
}

/// The parameters in the model's layout (row-major matrices).
#[derive(Clone, Debug, PartialEq)]
pub struct NcfParams {
    /// n_users × k.
    pub p_user: Vec<f32>,
    /// n_items × k.
    pub z_item: Vec<f32>,
    /// n_tags × k.
    pub z_tag: Vec<f32>,
    /// 2k × hidden: the user's rows, then the item's.
    pub w1: Vec<f32>,
    pub b1: Vec<f32>,
    pub w2: Vec<f32>,
    /// The GMF branch's weights (k).
    pub h_gmf: Vec<f32>,
    pub b: f32,
}

impl NcfParams {
    /// The values in the model's parameter order: p_user, z_item, z_tag, w1, b1, w2, h_gmf,
    /// `[b]`.
    pub fn into_values(self) -> Vec<Vec<f32>> {
        vec![
            self.p_user,
            self.z_item,
            self.z_tag,
            self.w1,
            self.b1,
            self.w2,
            self.h_gmf,
            vec![self.b],
        ]
    }
}

/// The dense layers inside one flat vector (parameters, moments or gradient).
struct Dense<'a> {
    w1: &'a [f32],
    b1: &'a [f32],
    w2: &'a [f32],
    h: &'a [f32],
    b: f32,
}

impl<'a> Dense<'a> {
    fn of(shape: &NcfShape, flat: &'a [f32]) -> Dense<'a> {
        let (k, hd) = (shape.k, shape.hidden);
        let (w1, rest) = flat.split_at(2 * k * hd);
        let (b1, rest) = rest.split_at(hd);
        let (w2, rest) = rest.split_at(hd);
        let (h, rest) = rest.split_at(k);
        Dense {
            w1,
            b1,
            w2,
            h,
            b: rest.first().copied().unwrap_or(0.0),
        }
    }
}

/// The gradient of the dense layers, in [`Dense`]'s layout.
struct DenseGrad<'a> {
    w1u: &'a mut [f32],
    w1i: &'a mut [f32],
    b1: &'a mut [f32],
    w2: &'a mut [f32],
    h: &'a mut [f32],
    b: &'a mut [f32],
}

impl<'a> DenseGrad<'a> {
    fn of(shape: &NcfShape, flat: &'a mut [f32]) -> DenseGrad<'a> {
        let (k, hd) = (shape.k, shape.hidden);
        let (w1u, rest) = flat.split_at_mut(k * hd);
        let (w1i, rest) = rest.split_at_mut(k * hd);
        let (b1, rest) = rest.split_at_mut(hd);
        let (w2, rest) = rest.split_at_mut(hd);
        let (h, b) = rest.split_at_mut(k);
        DenseGrad {
            w1u,
            w1i,
            b1,
            w2,
            h,
            b,
        }
    }
}

/// The state of training: parameters, Adam's moments and the scratch of the current batch.
/// A step takes an [`FmBatch`] prepared for [`NcfShape::rows`], which can be prepared on
/// another thread while the previous step runs; [`NcfTrainer::step`] prepares its own.
#[derive(Debug)]
pub struct NcfTrainer {
    shape: NcfShape,
    isa: Isa,
    adam: Adam,
    table: StepTable,
    /// Embedding rows (width k): users, items, tags.
    emb: Vec<f32>,
    emb_m: Vec<f32>,
    emb_v: Vec<f32>,
    /// The last step applied to each embedding row.
    last: Vec<u64>,
    /// Nothing per row (the rows' splitter carries FM's ‖v‖² there).
    nothing: Vec<()>,
    /// W₁, b₁, w₂, h, b.
    dense: Vec<f32>,
    dense_m: Vec<f32>,
    dense_v: Vec<f32>,
    step: u64,
    work: Work,
    own: Option<FmBatch>,
}

/// The scratch of one step. "Users" and "items" are the batch's distinct ones.
#[derive(Debug, Default)]
struct Work {
    /// The distinct users (increasing), the rows of each (in row order, concatenated) with
    /// `user_ptr`, and each row's user.
    users: Vec<u32>,
    user_ptr: Vec<usize>,
    user_rows: Vec<u32>,
    user_of_row: Vec<u32>,
    /// Each row's position in the grouping by item ([`FmBatch`]'s `item_rows`).
    pos_of_row: Vec<u32>,
    /// Users' factors and p_u ⊙ h (users × k), and items' z_i(t) (items × k).
    pu: Vec<f32>,
    ph: Vec<f32>,
    z: Vec<f32>,
    /// W₁ᵘᵀ p_u (users × hidden), and W₁ⁱ transposed (hidden × k).
    a: Vec<f32>,
    w1i_t: Vec<f32>,
    /// Per row, in the grouping by item: its score and ReLU pattern (hidden bytes).
    score_by_pos: Vec<f32>,
    pattern: Vec<u8>,
    /// Per row in row order: score and ∂L/∂f.
    scores: Vec<f32>,
    grads: Vec<f32>,
    /// Per user: D_u (hidden), Σ g_r z_{i_r} (k), ∂L/∂p_u (k).
    d_a: Vec<f32>,
    gz_user: Vec<f32>,
    d_pu: Vec<f32>,
    /// Per item: ∂L/∂z_i(t) (k).
    d_z: Vec<f32>,
    /// The groups of items' scratch and shares of the dense gradients.
    groups: Vec<GroupWork>,
    /// ∂L/∂(W₁, b₁, w₂, h, b), and ∂L/∂W₁ᵘ transposed (hidden × k).
    dense_grad: Vec<f32>,
    w1_t: Vec<f32>,
}

/// One group of items' scratch (a block's W₁ⁱᵀ z_i(t) + b₁, E_i and Σ g_r p_u) and its share
/// of ∂L/∂W₁ⁱ, ∂L/∂w₂ and ∂L/∂b₁.
#[derive(Debug, Default)]
struct GroupWork {
    bm: Vec<f32>,
    e: Vec<f32>,
    gp: Vec<f32>,
    w1i: Vec<f32>,
    w2: Vec<f32>,
    b1: Vec<f32>,
}

/// How many contributions ahead a tag's gradient prefetches the items' rows.
const PREFETCH_ROWS: usize = 8;
/// How many tags ahead the items' factors prefetch tag rows.
const TAGS_AHEAD: usize = 4;
/// Rows, users or items per parallel task.
const PER_TASK: usize = 16;
/// Blocks of the weight gradients' products (a fixed number: the bits do not depend on threads).
const WEIGHT_GRADIENT_BLOCKS: usize = 4;
/// Distinct items per block of the item pass: a block's [items × hidden] products stay in the
/// core's cache (two of 128 × 1,024 floats: 1 MB).
const ITEM_BLOCK: usize = 128;
/// Groups of item blocks, each summing its share of the dense gradients (a fixed number, so
/// the sums do not depend on the number of threads).
const ITEM_GROUPS: usize = 16;
/// Embedding rows per parallel task when every row is brought up to date.
const ROWS_PER_TASK: usize = 256;

impl NcfTrainer {
    /// A trainer starting from `initial` (in the model's layout).
    pub fn new(shape: NcfShape, initial: NcfParams, adam: Adam) -> Result<NcfTrainer, KernelError> {
        let NcfShape {
            n_users,
            n_items,
            n_tags,
            k,
            hidden,
        } = shape;
        if k == 0 || hidden == 0 {
            return Err(KernelError::InvalidInput(format!(
                "the latent dimension ({k}) and the hidden units ({hidden}) must be at least 1"
            )));
        }
        let n = n_users + n_items + n_tags;
        if n >= u32::MAX as usize {
            return Err(KernelError::InvalidInput(format!(
                "{n} users, items and tags are more than a u32 index"
            )));
        }
        let check = |name: &str, got: usize, want: usize| {
            if got == want {
                Ok(())
            } else {
                Err(KernelError::InvalidInput(format!(
                    "{name} has {got} values, expected {want}"
                )))
            }
        };
        check("p_user", initial.p_user.len(), n_users * k)?;
        check("z_item", initial.z_item.len(), n_items * k)?;
        check("z_tag", initial.z_tag.len(), n_tags * k)?;
        check("w1", initial.w1.len(), 2 * k * hidden)?;
        check("b1", initial.b1.len(), hidden)?;
        check("w2", initial.w2.len(), hidden)?;
        check("h_gmf", initial.h_gmf.len(), k)?;
        let mut emb = Vec::with_capacity(n * k);
        emb.extend_from_slice(&initial.p_user);
        emb.extend_from_slice(&initial.z_item);
        emb.extend_from_slice(&initial.z_tag);
        let mut dense = Vec::with_capacity(shape.n_dense());
        dense.extend_from_slice(&initial.w1);
        dense.extend_from_slice(&initial.b1);
        dense.extend_from_slice(&initial.w2);
        dense.extend_from_slice(&initial.h_gmf);
        dense.push(initial.b);
        Ok(NcfTrainer {
            shape,
            isa: Isa::detect(),
            adam,
            table: StepTable::new(adam),
            emb_m: vec![0.0; emb.len()],
            emb_v: vec![0.0; emb.len()],
            emb,
            last: vec![0; n],
            nothing: vec![(); n],
            dense_m: vec![0.0; dense.len()],
            dense_v: vec![0.0; dense.len()],
            dense,
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
    /// rows per positive). Returns the batch's loss.
    pub fn step(
        &mut self,
        users: &[u32],
        items: &[u32],
        negatives: usize,
        tags: &ScaledTags,
    ) -> Result<f64, KernelError> {
        let mut batch = match self.own.take() {
            Some(batch) => batch,
            None => FmBatch::new(self.shape.rows()),
        };
        let loss = batch
            .prepare(users, items, negatives, tags)
            .and_then(|()| self.step_prepared(&batch));
        self.own = Some(batch);
        loss
    }

    /// One Adam step on a batch prepared for [`NcfShape::rows`]. Returns the batch's loss.
    pub fn step_prepared(&mut self, batch: &FmBatch) -> Result<f64, KernelError> {
        batch.ready_for(self.shape.rows())?;
        self.step += 1;
        let t = self.step;
        self.table.extend_to(t);
        self.catch_up_touched(batch, t - 1);
        let loss = self.gradients(batch);
        self.update_touched(batch, t);
        let c = self.table.get(t);
        self.isa.adam_row(
            &self.adam,
            c,
            (&mut self.dense, &mut self.dense_m, &mut self.dense_v),
            Some(&self.work.dense_grad),
        );
        if !loss.is_finite() {
            return Err(KernelError::Numerical(format!(
                "the batch loss became {loss} at step {t} (a smaller learning rate may help)"
            )));
        }
        Ok(loss)
    }

    /// Forward pass, loss and the gradient of everything the batch touches: per distinct user
    /// (`d_pu`), per distinct item (`d_z`, ∂L/∂z_i(t)) and of the dense layers. Returns the loss.
    fn gradients(&mut self, batch: &FmBatch) -> f64 {
        let shape = self.shape;
        let (k, hd, nu) = (shape.k, shape.hidden, shape.n_users);
        let rows = batch.users.len();
        let n_items = batch.distinct.len();
        let dense = Dense::of(&shape, &self.dense);
        let (w1u, w1i) = dense.w1.split_at(k * hd);
        let (emb, isa) = (&self.emb, self.isa);
        let emb_row = |a: usize| &emb[a * k..(a + 1) * k];
        let work = &mut self.work;
        work.group_users(batch, nu);
        let n_users = work.users.len();

        // The users' factors and the items' z_i(t) = z_i + Σ_c x_c Z_c.
        work.pu.clear();
        for &a in &work.users {
            work.pu.extend_from_slice(emb_row(a as usize));
        }
        work.z.resize(n_items * k, 0.0);
        let (distinct, item_tags_ptr, item_tags) =
            (&batch.distinct, &batch.item_tags_ptr, &batch.item_tags);
        work.z
            .par_chunks_mut(k)
            .enumerate()
            .with_min_len(PER_TASK)
            .for_each(|(j, z)| {
                z.iter_mut().for_each(|x| *x = 0.0);
                // The tag rows are scattered: ask for each a few tags before it is added.
                let own = &item_tags[item_tags_ptr[j]..item_tags_ptr[j + 1]];
                for &(a, _) in own.iter().take(TAGS_AHEAD) {
                    prefetch_row(emb_row(a as usize));
                }
                for (n, &(a, x)) in own.iter().enumerate() {
                    if let Some(&(next, _)) = own.get(n + TAGS_AHEAD) {
                        prefetch_row(emb_row(next as usize));
                    }
                    for (ze, &te) in z.iter_mut().zip(emb_row(a as usize)) {
                        *ze += x * te;
                    }
                }
                for (ze, &ie) in z.iter_mut().zip(emb_row(nu + distinct[j] as usize)) {
                    *ze += ie;
                }
            });

        // The user half of the hidden layer's input with b₁, once per user; W₁ⁱ transposed for
        // the items' back-propagated error.
        work.a.clear();
        for _ in 0..n_users {
            work.a.extend_from_slice(dense.b1);
        }
        gemm(
            MatRef::new(&work.pu, n_users, k),
            MatRef::new(w1u, k, hd),
            1.0,
            &mut work.a,
        );
        // p_u ⊙ h, for the GMF branch of each of the user's rows.
        work.ph.clear();
        for p in work.pu.chunks_exact(k) {
            work.ph.extend(p.iter().zip(dense.h).map(|(&x, &y)| x * y));
        }
        work.w1i_t.resize(hd * k, 0.0);
        transpose_into(w1i, k, hd, &mut work.w1i_t);

        // The rows grouped by item, in blocks of items: the item half of the input, the scores,
        // ∂L/∂f, ReLU patterns, E_i and ∂L/∂z_i(t), and each group's share of the dense
        // gradients.
        let positives = batch.positives;
        let inv_b = 1.0 / positives as f64;
        let n_blocks = n_items.div_ceil(ITEM_BLOCK);
        let groups = n_blocks.clamp(1, ITEM_GROUPS);
        let group_start = |g: usize| (g * n_blocks / groups * ITEM_BLOCK).min(n_items);
        work.score_by_pos.resize(rows, 0.0);
        work.pattern.resize(rows * hd, 0);
        work.d_z.resize(n_items * k, 0.0);
        work.groups.resize_with(groups, GroupWork::default);
        {
            let (item_ptr, item_rows) = (&batch.item_ptr, &batch.item_rows);
            let Work {
                user_of_row,
                pu,
                ph,
                z,
                a,
                w1i_t,
                score_by_pos,
                pattern,
                d_z,
                groups: group_work,
                ..
            } = &mut *work;
            // Each group's items, their rows (contiguous in the item grouping) and outputs.
            let mut tasks = Vec::with_capacity(groups);
            let (mut scores_rest, mut pattern_rest, mut dz_rest) =
                (&mut score_by_pos[..], &mut pattern[..], &mut d_z[..]);
            for (g, gw) in group_work.iter_mut().enumerate() {
                let (j0, j1) = (group_start(g), group_start(g + 1));
                let n_rows = item_ptr[j1] - item_ptr[j0];
                let (sc, rest) = std::mem::take(&mut scores_rest).split_at_mut(n_rows);
                let (pa, prest) = std::mem::take(&mut pattern_rest).split_at_mut(n_rows * hd);
                let (dz, drest) = std::mem::take(&mut dz_rest).split_at_mut((j1 - j0) * k);
                (scores_rest, pattern_rest, dz_rest) = (rest, prest, drest);
                tasks.push((j0..j1, sc, pa, dz, gw));
            }
            let inputs = RowInputs {
                item_ptr,
                item_rows,
                user_of_row,
                a,
                ph,
                pu,
                w2: dense.w2,
                b: dense.b,
                positives,
                inv_b,
                k,
            };
            tasks
                .into_par_iter()
                .for_each(|(items, scores, patterns, dz, gw)| {
                    gw.w1i.resize(k * hd, 0.0);
                    gw.w2.clear();
                    gw.w2.resize(hd, 0.0);
                    gw.b1.clear();
                    gw.b1.resize(hd, 0.0);
                    let first_pos = item_ptr[items.start];
                    let mut first_block = true;
                    for j0 in items.clone().step_by(ITEM_BLOCK) {
                        let j1 = (j0 + ITEM_BLOCK).min(items.end);
                        let nb = j1 - j0;
                        let z_blk = &z[j0 * k..j1 * k];
                        gw.bm.resize(nb * hd, 0.0);
                        gemm_serial(
                            MatRef::new(z_blk, nb, k),
                            MatRef::new(w1i, k, hd),
                            0.0,
                            &mut gw.bm,
                        );
                        gw.e.clear();
                        gw.e.resize(nb * hd, 0.0);
                        gw.gp.clear();
                        gw.gp.resize(nb * k, 0.0);
                        let out = RowOutputs {
                            first_pos,
                            scores: &mut *scores,
                            patterns: &mut *patterns,
                            w2_grad: &mut gw.w2,
                        };
                        isa.item_rows(&inputs, j0..j1, &gw.bm, z, &mut gw.e, &mut gw.gp, out);
                        // ∂L/∂z_i(t) = W₁ⁱ E_i + h ⊙ Σ g_r p_u, the group's share of ∂L/∂W₁ⁱ and
                        // ∂L/∂b₁.
                        let dz_blk = &mut dz[(j0 - items.start) * k..(j1 - items.start) * k];
                        gemm_serial(
                            MatRef::new(&gw.e, nb, hd),
                            MatRef::new(w1i_t, hd, k),
                            0.0,
                            dz_blk,
                        );
                        for (d, gp) in dz_blk.chunks_exact_mut(k).zip(gw.gp.chunks_exact(k)) {
                            for e in 0..k {
                                d[e] += dense.h[e] * gp[e];
                            }
                        }
                        gemm_serial(
                            MatRef::new(z_blk, nb, k).t(),
                            MatRef::new(&gw.e, nb, hd),
                            if first_block { 0.0 } else { 1.0 },
                            &mut gw.w1i,
                        );
                        first_block = false;
                        for e_j in gw.e.chunks_exact(hd) {
                            for (x, &v) in gw.b1.iter_mut().zip(e_j) {
                                *x += v;
                            }
                        }
                    }
                });
        }
        work.scores.resize(rows, 0.0);
        for (p, &r) in batch.item_rows.iter().enumerate() {
            work.scores[r as usize] = work.score_by_pos[p];
            work.pos_of_row[r as usize] = p as u32;
        }
        let loss = sampling_gradients(&work.scores, positives, &mut work.grads);

        // The rows grouped by user: D_u and Σ g_r z_{i_r}.
        work.d_a.resize(n_users * hd, 0.0);
        work.gz_user.resize(n_users * k, 0.0);
        {
            let Work {
                user_ptr,
                user_rows,
                pos_of_row,
                z,
                pattern,
                grads,
                d_a,
                gz_user,
                ..
            } = &mut *work;
            let item_of_row = &batch.item_of_row;
            d_a.par_chunks_mut(hd)
                .zip(gz_user.par_chunks_mut(k))
                .enumerate()
                .with_min_len(PER_TASK)
                .for_each(|(s, (d, gz))| {
                    d.iter_mut().for_each(|x| *x = 0.0);
                    gz.iter_mut().for_each(|x| *x = 0.0);
                    for &r in &user_rows[user_ptr[s]..user_ptr[s + 1]] {
                        let r = r as usize;
                        let g = grads[r];
                        let pos = pos_of_row[r] as usize;
                        isa.pattern_backward(dense.w2, &pattern[pos * hd..(pos + 1) * hd], g, d);
                        let j = item_of_row[r] as usize;
                        for (x, &zv) in gz.iter_mut().zip(&z[j * k..(j + 1) * k]) {
                            *x += g * zv;
                        }
                    }
                });
        }

        // The dense layers' gradient: the groups' shares in order, and the user side.
        work.dense_grad.resize(shape.n_dense(), 0.0);
        {
            let dg = DenseGrad::of(&shape, &mut work.dense_grad);
            // (P_Bᵀ D)ᵀ = Dᵀ P_B, hidden × k, in a few blocks of rows: the product packs its
            // right factor once per block.
            work.w1_t.resize(hd * k, 0.0);
            gemm_in_blocks(
                MatRef::new(&work.d_a, n_users, hd).t(),
                MatRef::new(&work.pu, n_users, k),
                0.0,
                &mut work.w1_t,
                WEIGHT_GRADIENT_BLOCKS,
            );
            transpose_into(&work.w1_t, hd, k, dg.w1u);
            let mut shares = work.groups.iter();
            if let Some(first) = shares.next() {
                dg.w1i.copy_from_slice(&first.w1i);
                dg.w2.copy_from_slice(&first.w2);
                dg.b1.copy_from_slice(&first.b1);
            }
            for gw in shares {
                add_into(dg.w1i, &gw.w1i);
                add_into(dg.w2, &gw.w2);
                add_into(dg.b1, &gw.b1);
            }
            // ∂L/∂h = Σ_u p_u ⊙ (Σ_r g_r z_{i_r}).
            dg.h.iter_mut().for_each(|x| *x = 0.0);
            for (p, gz) in work.pu.chunks_exact(k).zip(work.gz_user.chunks_exact(k)) {
                for e in 0..k {
                    dg.h[e] += p[e] * gz[e];
                }
            }
            let mut gb = 0.0f32;
            for &g in &work.grads {
                gb += g;
            }
            dg.b[0] = gb;
        }

        // Back into the users' factors: ∂L/∂p_u = W₁ᵘ D_u + h ⊙ Σ g_r z_{i_r}.
        work.d_pu.resize(n_users * k, 0.0);
        gemm(
            MatRef::new(&work.d_a, n_users, hd),
            MatRef::new(w1u, k, hd).t(),
            0.0,
            &mut work.d_pu,
        );
        for (d, gz) in work
            .d_pu
            .chunks_exact_mut(k)
            .zip(work.gz_user.chunks_exact(k))
        {
            for e in 0..k {
                d[e] += dense.h[e] * gz[e];
            }
        }
        loss
    }

    /// Brings every embedding row the batch touches up to step `to`.
    fn catch_up_touched(&mut self, batch: &FmBatch, to: u64) {
        let isa = self.isa;
        let (rows, adam, table, _) = self.rows_and_state();
        rows.for_each(&batch.touched, &|_, row, _| {
            isa.catch_up_row(adam, table, (row.p, row.m, row.v), *row.last, to);
            *row.last = to;
        });
    }

    /// Adam step `t` of every embedding row the batch touches, with its gradient.
    fn update_touched(&mut self, batch: &FmBatch, t: u64) {
        let c = self.table.get(t);
        let (isa, nu) = (self.isa, self.shape.n_users);
        let (rows, adam, _, work) = self.rows_and_state();
        rows.for_each(&batch.touched, &|a, row, g| {
            work.row_gradient(batch, nu, a, g);
            isa.adam_row(adam, c, (row.p, row.m, row.v), Some(g));
            *row.last = t;
        });
    }

    /// All embedding rows, to be split among parallel tasks, and what the passes over them read.
    fn rows_and_state(&mut self) -> (FeatureRows<'_, ()>, &Adam, &StepTable, &Work) {
        let rows = FeatureRows {
            width: self.shape.k,
            first: 0,
            params: &mut self.emb,
            m: &mut self.emb_m,
            v: &mut self.emb_v,
            last: &mut self.last,
            extra: &mut self.nothing,
        };
        (rows, &self.adam, &self.table, &self.work)
    }

    /// Brings every embedding row up to the last step (what a dense optimiser would hold now).
    fn bring_up_to_date(&mut self) {
        let k = self.shape.k;
        let to = self.step;
        let (adam, table, isa) = (&self.adam, &self.table, self.isa);
        self.emb
            .par_chunks_mut(k)
            .zip(self.emb_m.par_chunks_mut(k))
            .zip(self.emb_v.par_chunks_mut(k))
            .zip(self.last.par_iter_mut())
            .with_min_len(ROWS_PER_TASK)
            .for_each(|(((p, m), v), last)| {
                isa.catch_up_row(adam, table, (p, m, v), *last, to);
                *last = to;
            });
    }

    /// The trained parameters, every row brought up to the last step, in the model's layout.
    pub fn finish(mut self) -> NcfParams {
        self.bring_up_to_date();
        let NcfShape {
            n_users,
            n_items,
            k,
            ..
        } = self.shape;
        let z_tag = self.emb.split_off((n_users + n_items) * k);
        let z_item = self.emb.split_off(n_users * k);
        let d = Dense::of(&self.shape, &self.dense);
        NcfParams {
            p_user: self.emb,
            z_item,
            z_tag,
            w1: d.w1.to_vec(),
            b1: d.b1.to_vec(),
            w2: d.w2.to_vec(),
            h_gmf: d.h.to_vec(),
            b: d.b,
        }
    }
}

impl Work {
    /// The batch's distinct users (the touched rows below `n_users`, increasing), their rows in
    /// row order, and each row's user.
    fn group_users(&mut self, batch: &FmBatch, n_users: usize) {
        let rows = batch.users.len();
        let n = batch.touched.partition_point(|&a| (a as usize) < n_users);
        self.users.clear();
        self.users.extend_from_slice(&batch.touched[..n]);
        self.user_ptr.clear();
        self.user_ptr.push(0);
        self.user_rows.clear();
        self.user_of_row.resize(rows, 0);
        self.pos_of_row.resize(rows, 0);
        for (s, &a) in self.users.iter().enumerate() {
            let slot = batch.slot[a as usize] as usize;
            for &(r, _) in &batch.contrib[batch.ptr[slot - 1]..batch.ptr[slot]] {
                self.user_of_row[r as usize] = s as u32;
                self.user_rows.push(r);
            }
            self.user_ptr.push(self.user_rows.len());
        }
    }

    /// The gradient of embedding row `a` into `g`: a user's from its sums, an item's or a
    /// tag's as Σ x ∂L/∂z_i(t) over its contributions (x = 1 for the item itself, x_c for a tag).
    fn row_gradient(&self, batch: &FmBatch, n_users: usize, a: usize, g: &mut [f32]) {
        let k = g.len();
        if a < n_users {
            // The users are the touched rows below n_users, in the same increasing order.
            let s = self.users.partition_point(|&u| (u as usize) < a);
            g.copy_from_slice(&self.d_pu[s * k..(s + 1) * k]);
            return;
        }
        g.iter_mut().for_each(|x| *x = 0.0);
        let slot = batch.slot[a] as usize;
        let contrib = &batch.contrib[batch.ptr[slot - 1]..batch.ptr[slot]];
        // The items' rows are scattered over megabytes: ask for them ahead of the sums.
        let row = |j: u32| &self.d_z[j as usize * k..(j as usize + 1) * k];
        for &(j, _) in contrib.iter().take(PREFETCH_ROWS) {
            prefetch_row(row(j));
        }
        for (n, &(j, x)) in contrib.iter().enumerate() {
            if let Some(&(next, _)) = contrib.get(n + PREFETCH_ROWS) {
                prefetch_row(row(next));
            }
            let j = j as usize;
            for (ge, &d) in g.iter_mut().zip(&self.d_z[j * k..(j + 1) * k]) {
                *ge += x * d;
            }
        }
    }
}

/// `out` (cols × rows) = the transpose of the row-major `m` (rows × cols).
fn transpose_into(m: &[f32], rows: usize, cols: usize, out: &mut [f32]) {
    for (r, row) in m.chunks_exact(cols).take(rows).enumerate() {
        for (c, &v) in row.iter().enumerate() {
            out[c * rows + r] = v;
        }
    }
}

/// `out += v`, element by element.
fn add_into(out: &mut [f32], v: &[f32]) {
    for (x, &y) in out.iter_mut().zip(v) {
        *x += y;
    }
}

/// What the rows of the item pass read.
struct RowInputs<'a> {
    item_ptr: &'a [usize],
    item_rows: &'a [u32],
    user_of_row: &'a [u32],
    /// Per user: W₁ᵘᵀ p_u + b₁ (hidden), p_u ⊙ h and p_u (k).
    a: &'a [f32],
    ph: &'a [f32],
    pu: &'a [f32],
    w2: &'a [f32],
    b: f32,
    positives: usize,
    inv_b: f64,
    /// Latent dimension.
    k: usize,
}

/// What the rows of a group of items write: per row (from the group's first position in the
/// grouping by item) the score and ReLU pattern, and the group's Σ g_r ReLU(pre_r).
struct RowOutputs<'a> {
    first_pos: usize,
    scores: &'a mut [f32],
    patterns: &'a mut [u8],
    w2_grad: &'a mut [f32],
}

/// The rows of the items of a block (`items`, with their W₁ⁱᵀ z_i(t) in `bm` and z_i(t) in `z`,
/// both indexed from the block's first item for `bm` and absolutely for `z`), each item's rows
/// in row order: score, ∂L/∂f, pattern, and the item's E_i and Σ g_r p_u (in `e`, `gp`, zeroed
/// here).
#[inline(always)]
fn item_rows(
    x: &RowInputs<'_>,
    items: std::ops::Range<usize>,
    bm: &[f32],
    z: &[f32],
    e: &mut [f32],
    gp: &mut [f32],
    out: RowOutputs<'_>,
) {
    let (hd, k) = (x.w2.len(), x.k);
    e.iter_mut().for_each(|v| *v = 0.0);
    gp.iter_mut().for_each(|v| *v = 0.0);
    let a_row = |r: usize| {
        let s = x.user_of_row[r] as usize;
        &x.a[s * hd..(s + 1) * hd]
    };
    let j0 = items.start;
    for j in items.clone() {
        let jj = j - j0;
        let (b_j, z_j) = (&bm[jj * hd..(jj + 1) * hd], &z[j * k..(j + 1) * k]);
        let e_j = &mut e[jj * hd..(jj + 1) * hd];
        let gp_j = &mut gp[jj * k..(jj + 1) * k];
        for p in x.item_ptr[j]..x.item_ptr[j + 1] {
            // The users' rows are scattered over megabytes: ask for the next row's.
            if let Some(&next) = x.item_rows.get(p + 1) {
                prefetch_row(a_row(next as usize));
            }
            let r = x.item_rows[p] as usize;
            let s = x.user_of_row[r] as usize;
            let a_s = &x.a[s * hd..(s + 1) * hd];
            let q = p - out.first_pos;
            let pat = &mut out.patterns[q * hd..(q + 1) * hd];
            let mlp = relu_dot_portable(a_s, 1.0, b_j, x.w2);
            let gmf = Portable.dot(&x.ph[s * k..(s + 1) * k], z_j);
            let f = (gmf + mlp) + x.b;
            out.scores[q] = f;
            let g = row_gradient(f, r < x.positives, x.inv_b);
            hidden_backward(a_s, b_j, x.w2, g, e_j, out.w2_grad, pat);
            for (y, &pe) in gp_j.iter_mut().zip(&x.pu[s * k..(s + 1) * k]) {
                *y += g * pe;
            }
        }
    }
}

/// Σ_h w_h ReLU(e_h + β g_h): one row of the training kernel (β = 1: the user's and the item's
/// halves of the hidden layer's input), one (item, tag) entry of the NCF PDP closed form and one
/// perturbation of LIME's, with eight partial sums so that the compiler vectorises it; with
/// AVX2 code where the CPU has it (the eight sums in one register: the same operations, so the
/// same results; see [`crate::common::simd`]).
pub(crate) fn relu_dot(e: &[f32], beta: f32, g: &[f32], w: &[f32]) -> f32 {
    #[cfg(target_arch = "x86_64")]
    if crate::common::simd::level().has_avx2() {
        // SAFETY: the CPU supports AVX2, the only requirement of `relu_dot_avx2`.
        return unsafe { relu_dot_avx2(e, beta, g, w) };
    }
    relu_dot_portable(e, beta, g, w)
}

/// [`relu_dot_portable`] compiled for AVX2.
///
/// # Safety
/// The CPU must support AVX2.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn relu_dot_avx2(e: &[f32], beta: f32, g: &[f32], w: &[f32]) -> f32 {
    relu_dot_portable(e, beta, g, w)
}

#[inline(always)]
fn relu_dot_portable(e: &[f32], beta: f32, g: &[f32], w: &[f32]) -> f32 {
    const L: usize = 8;
    let mut acc = [0f32; L];
    let n = e.len() / L * L;
    for ((ec, gc), wc) in e[..n]
        .chunks_exact(L)
        .zip(g[..n].chunks_exact(L))
        .zip(w[..n].chunks_exact(L))
    {
        for l in 0..L {
            acc[l] += wc[l] * (ec[l] + beta * gc[l]).max(0.0);
        }
    }
    let mut sum: f32 = acc.iter().sum();
    for h in n..e.len() {
        sum += w[h] * (e[h] + beta * g[h]).max(0.0);
    }
    sum
}

/// A row's share of its item's E_i and of ∂L/∂w₂ (d += g w ⊙ [a + b > 0], w_grad += g ReLU(a +
/// b)), and its ReLU pattern (1 where a_h + b_h > 0), kept for the user side.
#[inline(always)]
fn hidden_backward(
    a: &[f32],
    b: &[f32],
    w: &[f32],
    g: f32,
    d: &mut [f32],
    w_grad: &mut [f32],
    pattern: &mut [u8],
) {
    let n = a.len();
    let (b, w, d, w_grad) = (&b[..n], &w[..n], &mut d[..n], &mut w_grad[..n]);
    for h in 0..n {
        let pre = a[h] + b[h];
        d[h] += if pre > 0.0 { g * w[h] } else { 0.0 };
        w_grad[h] += g * pre.max(0.0);
    }
    // A loop of its own, so that the one above stays in vector registers.
    let pattern = &mut pattern[..n];
    for h in 0..n {
        pattern[h] = (a[h] + b[h] > 0.0) as u8;
    }
}

/// A row's share of its user's D_u, from its stored pattern: d += g w ⊙ pattern.
#[inline(always)]
fn pattern_backward(w: &[f32], pattern: &[u8], g: f32, e: &mut [f32]) {
    let n = e.len();
    let (w, pattern) = (&w[..n], &pattern[..n]);
    for h in 0..n {
        e[h] += if pattern[h] != 0 { g * w[h] } else { 0.0 };
    }
}

impl Isa {
    #[allow(clippy::too_many_arguments)]
    #[inline(always)]
    fn item_rows(
        self,
        x: &RowInputs<'_>,
        items: std::ops::Range<usize>,
        bm: &[f32],
        z: &[f32],
        e: &mut [f32],
        gp: &mut [f32],
        out: RowOutputs<'_>,
    ) {
        #[cfg(target_arch = "x86_64")]
        if self.avx2() {
            // SAFETY: the CPU has AVX2 (`Isa::detect`).
            return unsafe { avx2::item_rows(x, items, bm, z, e, gp, out) };
        }
        item_rows(x, items, bm, z, e, gp, out)
    }

    #[inline(always)]
    fn pattern_backward(self, w: &[f32], pattern: &[u8], g: f32, e: &mut [f32]) {
        #[cfg(target_arch = "x86_64")]
        if self.avx2() {
            // SAFETY: as above.
            return unsafe { avx2::pattern_backward(w, pattern, g, e) };
        }
        pattern_backward(w, pattern, g, e)
    }
}

/// The row loops compiled with AVX2 (the bodies are the portable functions, inlined; no fused
/// multiply-adds, so the same bits).
#[cfg(target_arch = "x86_64")]
mod avx2 {
    use super::{RowInputs, RowOutputs};

    #[target_feature(enable = "avx2")]
    pub(super) fn item_rows(
        x: &RowInputs<'_>,
        items: std::ops::Range<usize>,
        bm: &[f32],
        z: &[f32],
        e: &mut [f32],
        gp: &mut [f32],
        out: RowOutputs<'_>,
    ) {
        super::item_rows(x, items, bm, z, e, gp, out)
    }

    #[target_feature(enable = "avx2")]
    pub(super) fn pattern_backward(w: &[f32], pattern: &[u8], g: f32, e: &mut [f32]) {
        super::pattern_backward(w, pattern, g, e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::common::rng::Rng;
    use crate::recsys::kernels::fm::ItemTags;
    use crate::recsys::kernels::test_support::{batch, TagMatrix};

    /// A random NCF problem: parameters, a tag matrix (item 0 without tags) and batches.
    struct Problem {
        shape: NcfShape,
        initial: NcfParams,
        tags: TagMatrix,
    }

    impl Problem {
        fn new(seed: u64, shape: NcfShape) -> Problem {
            let mut rng = Rng::new(seed);
            let NcfShape {
                n_users,
                n_items,
                n_tags,
                k,
                hidden,
            } = shape;
            let mut normal = |n: usize, sd: f64| -> Vec<f32> {
                (0..n).map(|_| (rng.normal() * sd) as f32).collect()
            };
            let initial = NcfParams {
                p_user: normal(n_users * k, 0.5),
                z_item: normal(n_items * k, 0.5),
                z_tag: normal(n_tags * k, 0.5),
                w1: normal(2 * k * hidden, 0.5),
                b1: normal(hidden, 0.2),
                w2: normal(hidden, 0.3),
                h_gmf: normal(k, 0.5),
                b: 0.1,
            };
            let tags = TagMatrix::random(&mut Rng::new(seed + 1), n_items, n_tags);
            Problem {
                shape,
                initial,
                tags,
            }
        }

        fn tags(&self) -> ItemTags<'_> {
            self.tags.tags()
        }

        fn scaled(&self) -> ScaledTags {
            ScaledTags::new(self.shape.rows(), self.tags()).unwrap()
        }

        fn trainer(&self, adam: Adam) -> NcfTrainer {
            NcfTrainer::new(self.shape, self.initial.clone(), adam).unwrap()
        }

        fn batch(
            &self,
            rng: &mut Rng,
            b: usize,
            negatives: usize,
            span: usize,
        ) -> (Vec<u32>, Vec<u32>) {
            batch(rng, b, negatives, span, self.shape.n_items)
        }
    }

    /// All parameters in one f64 vector: p_user, z_item, z_tag, w1, b1, w2, h_gmf, b.
    fn flat(p: &NcfParams) -> Vec<f64> {
        p.clone()
            .into_values()
            .concat()
            .iter()
            .map(|&x| x as f64)
            .collect()
    }

    /// The batch loss written from the definition (module docs), in f64, on flat parameters.
    fn reference_loss(
        shape: &NcfShape,
        tags: ItemTags<'_>,
        theta: &[f64],
        users: &[u32],
        items: &[u32],
        b: usize,
    ) -> f64 {
        let NcfShape {
            n_users,
            n_items,
            n_tags,
            k,
            hidden,
        } = *shape;
        let mut at = 0;
        let mut take = |n: usize| {
            let part = &theta[at..at + n];
            at += n;
            part
        };
        let (p, zi, zt) = (take(n_users * k), take(n_items * k), take(n_tags * k));
        let (w1, b1, w2, h, bias) = (
            take(2 * k * hidden),
            take(hidden),
            take(hidden),
            take(k),
            take(1)[0],
        );
        let mut loss = 0.0;
        for (r, (&u, &i)) in users.iter().zip(items).enumerate() {
            let (u, i) = (u as usize, i as usize);
            let (a0, a1) = (tags.indptr[i], tags.indptr[i + 1]);
            let sum: f64 = tags.data[a0..a1].iter().map(|&w| w as f64).sum();
            let mut z: Vec<f64> = zi[i * k..(i + 1) * k].to_vec();
            for a in a0..a1 {
                let c = tags.indices[a] as usize;
                let x = tags.data[a] as f64 / sum;
                for e in 0..k {
                    z[e] += x * zt[c * k + e];
                }
            }
            let pu = &p[u * k..(u + 1) * k];
            let mut f = bias;
            for e in 0..k {
                f += h[e] * pu[e] * z[e];
            }
            for o in 0..hidden {
                let mut pre = b1[o];
                for e in 0..k {
                    pre += w1[e * hidden + o] * pu[e] + w1[(k + e) * hidden + o] * z[e];
                }
                f += w2[o] * pre.max(0.0);
            }
            let log_sigmoid = |x: f64| -(1.0 + (-x).exp()).ln();
            loss -= if r < b {
                log_sigmoid(f)
            } else {
                log_sigmoid(-f)
            } / b as f64;
        }
        loss
    }

    /// The kernel's gradient of a batch in [`flat`]'s layout, and its loss.
    fn kernel_gradient(trainer: &mut NcfTrainer, batch: &FmBatch) -> (f64, Vec<f64>) {
        let loss = trainer.gradients(batch);
        let shape = trainer.shape;
        let k = shape.k;
        let n = shape.n_users + shape.n_items + shape.n_tags;
        let mut grad = vec![0.0f64; n * k];
        let mut g = vec![0.0f32; k];
        for &a in &batch.touched {
            let a = a as usize;
            trainer.work.row_gradient(batch, shape.n_users, a, &mut g);
            for e in 0..k {
                grad[a * k + e] = g[e] as f64;
            }
        }
        grad.extend(trainer.work.dense_grad.iter().map(|&x| x as f64));
        (loss, grad)
    }

    #[test]
    fn gradients_match_finite_differences_of_the_definition() {
        let shape = NcfShape {
            n_users: 5,
            n_items: 7,
            n_tags: 6,
            k: 3,
            hidden: 11,
        };
        let problem = Problem::new(3, shape);
        let mut trainer = problem.trainer(Adam::new(0.01, 0.0));
        let mut rng = Rng::new(4);
        let (users, items) = problem.batch(&mut rng, 4, 3, shape.n_users);
        let mut batch = FmBatch::new(shape.rows());
        batch.prepare(&users, &items, 3, &problem.scaled()).unwrap();
        let (loss, grad) = kernel_gradient(&mut trainer, &batch);
        let theta = flat(&problem.initial);
        assert_eq!(grad.len(), theta.len());
        let at = |t: &[f64]| reference_loss(&shape, problem.tags(), t, &users, &items, 4);
        let reference = at(&theta);
        assert!((loss - reference).abs() < 1e-5, "{loss} vs {reference}");
        let eps = 1e-5;
        let mut checked = 0;
        for q in 0..theta.len() {
            let mut plus = theta.clone();
            plus[q] += eps;
            let mut minus = theta.clone();
            minus[q] -= eps;
            let numeric = (at(&plus) - at(&minus)) / (2.0 * eps);
            assert!(
                (numeric - grad[q]).abs() < 1e-4 + 1e-3 * numeric.abs(),
                "parameter {q}: finite differences {numeric}, kernel {}",
                grad[q]
            );
            checked += (numeric.abs() > 1e-3) as usize;
        }
        // Most parameters matter to this batch (the untouched users and items do not).
        assert!(checked > theta.len() / 2, "{checked} of {}", theta.len());
    }

    fn bits(p: &NcfParams) -> Vec<u32> {
        p.clone()
            .into_values()
            .concat()
            .iter()
            .map(|x| x.to_bits())
            .collect()
    }

    fn medium() -> Problem {
        Problem::new(
            9,
            NcfShape {
                n_users: 300,
                n_items: 200,
                n_tags: 150,
                k: 16,
                hidden: 140,
            },
        )
    }

    fn run(problem: &Problem, adam: Adam, steps: usize, dense: bool, portable: bool) -> NcfParams {
        let mut trainer = problem.trainer(adam);
        if portable {
            trainer.isa = Isa::portable();
        }
        let mut rng = Rng::new(11);
        for s in 0..steps {
            // Early batches use few users, later ones all: rows wait many steps to be touched.
            let span = if s < steps / 2 {
                5
            } else {
                problem.shape.n_users
            };
            let (users, items) = problem.batch(&mut rng, 64, 3, span);
            trainer.step(&users, &items, 3, &problem.scaled()).unwrap();
            if dense {
                trainer.bring_up_to_date();
            }
        }
        trainer.finish()
    }

    /// Catching rows up lazily gives, bit for bit, what stepping every row at every step gives.
    #[test]
    fn lazy_adam_is_bitwise_the_dense_optimiser() {
        let problem = medium();
        for adam in [Adam::new(0.01, 0.0), Adam::new(0.01, 0.01)] {
            let lazy = run(&problem, adam, 10, false, false);
            let dense = run(&problem, adam, 10, true, false);
            assert_eq!(bits(&lazy), bits(&dense));
            assert_ne!(bits(&lazy), bits(&problem.initial));
        }
    }

    #[test]
    fn the_same_bits_for_any_thread_count_and_instruction_set() {
        let problem = medium();
        let adam = Adam::new(0.01, 0.0);
        let in_pool = |threads: usize| {
            rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap()
                .install(|| run(&problem, adam, 8, false, false))
        };
        let one = in_pool(1);
        assert_eq!(bits(&one), bits(&in_pool(3)));
        assert_eq!(bits(&one), bits(&run(&problem, adam, 8, false, true)));
    }

    /// The hidden-layer loops against their definition on lengths with and without a remainder
    /// after eight lanes (the AVX2 copies give the same bits: `relu_dot`'s test below, and the
    /// whole trainer with and without AVX2 above).
    #[test]
    fn hidden_loops_agree_with_their_definition() {
        let mut rng = Rng::new(5);
        for n in [1usize, 7, 8, 9, 64, 1031] {
            let mut v = || -> Vec<f32> { (0..n).map(|_| rng.normal() as f32).collect() };
            let (a, b, w) = (v(), v(), v());
            let want: f64 = (0..n)
                .map(|h| w[h] as f64 * (a[h] as f64 + b[h] as f64).max(0.0))
                .sum();
            let got = relu_dot_portable(&a, 1.0, &b, &w);
            assert!(
                (got as f64 - want).abs() < 1e-4 * (1.0 + want.abs()),
                "{got} vs {want}"
            );
            let mut pattern = vec![9u8; n];
            let (mut d, mut wg) = (vec![1.0f32; n], vec![0.5f32; n]);
            hidden_backward(&a, &b, &w, 0.25, &mut d, &mut wg, &mut pattern);
            for h in 0..n {
                let on = a[h] + b[h] > 0.0;
                assert_eq!(pattern[h], on as u8);
                assert_eq!(d[h], if on { 1.0 + 0.25 * w[h] } else { 1.0 });
                assert_eq!(wg[h], 0.5 + 0.25 * (a[h] + b[h]).max(0.0));
            }
            for isa in [Isa::portable(), Isa::detect()] {
                let mut e = vec![2.0f32; n];
                isa.pattern_backward(&w, &pattern, -0.5, &mut e);
                for h in 0..n {
                    let on = a[h] + b[h] > 0.0;
                    assert_eq!(e[h], if on { 2.0 + -0.5 * w[h] } else { 2.0 });
                }
            }
        }
    }

    /// `relu_dot`'s AVX2 copy against its portable twin, bit for bit, on random values (about
    /// half of them cut by the ReLU) and lengths with and without a remainder after 8 lanes.
    #[cfg(target_arch = "x86_64")]
    #[test]
    fn relu_dot_avx2_equals_the_portable_loop() {
        if !crate::common::simd::level().has_avx2() {
            return;
        }
        let mut rng = Rng::new(5);
        for n in [1usize, 7, 8, 9, 64, 1024, 1031] {
            let mut v = || -> Vec<f32> { (0..n).map(|_| rng.normal() as f32).collect() };
            let (e, g, w) = (v(), v(), v());
            for beta in [0.0f32, 0.25, -1.5] {
                let a = relu_dot_portable(&e, beta, &g, &w);
                // SAFETY: checked above that the CPU supports AVX2.
                let b = unsafe { relu_dot_avx2(&e, beta, &g, &w) };
                assert_eq!(a.to_bits(), b.to_bits(), "n = {n}, beta = {beta}");
            }
        }
    }

    /// The CPU kernel and libtorch's autograd + Adam (the CUDA path) take the same steps on the
    /// same batches: losses and parameters agree within f32 rounding.
    #[test]
    fn bad_parameters_and_batches_are_errors_that_leave_the_trainer_usable() {
        let problem = medium();
        let mut short = problem.initial.clone();
        short.w2.pop();
        let err = NcfTrainer::new(problem.shape, short, Adam::new(0.01, 0.0)).unwrap_err();
        assert!(
            err.to_string().contains("w2 has 139 values, expected 140"),
            "{err}"
        );
        let mut trainer = problem.trainer(Adam::new(0.01, 0.0));
        let unprepared = FmBatch::new(problem.shape.rows());
        assert!(trainer.step_prepared(&unprepared).is_err());
        let mut other = problem.shape.rows();
        other.n_users += 1;
        let mut wrong = FmBatch::new(other);
        let theirs = ScaledTags::new(other, problem.tags()).unwrap();
        wrong.prepare(&[0, 0], &[1, 2], 1, &theirs).unwrap();
        assert!(trainer
            .step_prepared(&wrong)
            .unwrap_err()
            .to_string()
            .contains("prepared for"));
        assert!(trainer
            .step(&[0, 0], &[1, 999], 1, &problem.scaled())
            .is_err());
        assert!(trainer
            .step(&[0, 0, 0], &[1, 2], 1, &problem.scaled())
            .is_err());
        assert_eq!(trainer.steps(), 0);
        let loss = trainer
            .step(&[0, 0], &[1, 2], 1, &problem.scaled())
            .unwrap();
        assert!(loss.is_finite() && loss > 0.0);
        assert_eq!(trainer.steps(), 1);
    }
}
