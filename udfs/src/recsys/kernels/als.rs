//! Implicit-feedback matrix factorisation by alternating least squares (WRMF).
//!
//! The ALS recommender learns user and item factors from implicit feedback (plays, clicks,
//! purchases), where every unobserved pair is a weak negative. This is weighted regularised
//! matrix factorisation (Hu, Koren & Volinsky 2008), which minimises over *all* user–item pairs
//!
//! ```text
//! L(X, Y) = Σ_{u,i} c_ui (p_ui − x_uᵀ y_i)² + λ (Σ_u ‖x_u‖² + Σ_i ‖y_i‖²)
//! p_ui = 1 if r_ui > 0 else 0,   c_ui = 1 + α |r_ui|
//! ```
//!
//! where `r_ui` are the stored raw values (`0` elsewhere). For `r_ui ≥ 0` this is the paper's
//! `c_ui = 1 + α r_ui`; a negative value is read as confident *non*-preference (`p = 0` with
//! confidence `1 + α |r|`), the convention of the `implicit` package, which keeps every `c_ui ≥ 1`
//! so each least-squares problem stays convex.
//!
//! Each iteration solves for all users with the items fixed, then for all items with the users
//! fixed (using `Rᵀ`). Row `u`'s problem is the ridge system
//! `(YᵀY + Yᵀ(C_u − I)Y + λI) x_u = Yᵀ C_u p_u`, whose left side is formed from the shared
//! `YᵀY` plus a term per stored entry of the row, so one half-step costs `O(nnz · k)` (conjugate
//! gradient) or `O(nnz · k² + rows · k³)` (Cholesky) rather than `O(rows · items · k)`. Because both
//! solvers never increase a row's quadratic (the exact solve minimises it; conjugate gradient
//! started from the current `x_u` decreases it at every step), the objective never increases from
//! one iteration to the next.
//!
//! Rows are solved in parallel with rayon, each row by one thread in a fixed order, and the
//! parallel sums (`YᵀY`, the objective) add fixed chunks in a fixed order, so results are
//! bit-identical from run to run on one machine, whatever the number of threads. The hot loops
//! are written over `f32`/`f64` slices (dot products, axpys, a register-tiled `YᵀWY` update) with
//! a portable version and, on x86-64 CPUs with AVX2 and FMA (detected at run time), an AVX2+FMA
//! version; fused multiply-adds round differently, so factors differ in the last bits between
//! machines with and without them.

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::sparse::Csr;
use super::KernelError;
use crate::common::rng::Rng;

/// How each row's least-squares problem is solved.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Solver {
    /// Exact solve: the `k × k` system is formed in `f64` and Cholesky-factorised
    /// (`O(nnz_u · k² + k³)` per row).
    Cholesky,
    /// `steps` conjugate-gradient steps in `f32`, warm-started from the current factors, with the
    /// system matrix applied implicitly (`O(steps · (k² + nnz_u · k))` per row), as in the
    /// `implicit` package (Takács, Pilászy & Tikk 2011). Usually 3 steps suffice.
    ConjugateGradient {
        /// Steps per row and half-iteration (at least 1).
        steps: usize,
    },
}

impl Default for Solver {
    fn default() -> Solver {
        Solver::ConjugateGradient { steps: 3 }
    }
}

/// Settings of [`wrmf`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AlsOptions {
    /// Number of latent factors `k`. Default 64.
    pub factors: usize,
    /// Number of full iterations (users then items). Default 15.
    pub iterations: usize,
    /// Confidence scale `α` in `c_ui = 1 + α |r_ui|`. Default 1.
    pub alpha: f32,
    /// L2 regularisation `λ`. Default 0.01.
    pub l2: f32,
    /// Row solver. Default conjugate gradient with 3 steps.
    pub solver: Solver,
    /// Seed of the initial factors.
    pub seed: u64,
    /// Initial factors are drawn uniformly from `[0, init_scale)`. Default 0.01.
    pub init_scale: f32,
}

impl Default for AlsOptions {
    fn default() -> AlsOptions {
        AlsOptions {
            factors: 64,
            iterations: 15,
            alpha: 1.0,
            l2: 0.01,
            solver: Solver::default(),
            seed: 0,
            init_scale: 0.01,
        }
    }
}

/// A dense `rows × k` factor matrix, row-major.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Factors {
    /// Number of rows (users or items).
    pub rows: usize,
    /// Number of factors per row.
    pub k: usize,
    /// `rows × k` values, row `i` at `i * k .. (i + 1) * k`.
    pub data: Vec<f32>,
}

impl Factors {
    /// A `rows × k` matrix of zeros.
    pub fn zeros(rows: usize, k: usize) -> Factors {
        Factors {
            rows,
            k,
            data: vec![0.0; rows * k],
        }
    }

    /// Row `i` (empty when `i` is out of range).
    pub fn row(&self, i: usize) -> &[f32] {
        let start = i.checked_mul(self.k);
        let range = start.and_then(|a| Some(a..a.checked_add(self.k)?));
        range.and_then(|r| self.data.get(r)).unwrap_or(&[])
    }

    /// Checks that `data` holds `rows × k` finite values.
    fn validate(&self, what: &str) -> Result<(), KernelError> {
        if Some(self.data.len()) != self.rows.checked_mul(self.k) {
            return Err(KernelError::InvalidInput(format!(
                "{what} factors hold {} values, not {} × {}",
                self.data.len(),
                self.rows,
                self.k
            )));
        }
        if self.data.iter().any(|v| !v.is_finite()) {
            return Err(KernelError::InvalidInput(format!(
                "{what} factors have a non-finite value"
            )));
        }
        Ok(())
    }
}

/// Fits user and item factors to the implicit feedback `r` (users × items raw values, stored
/// entries only); returns `(user factors, item factors)`.
///
/// Initial factors are drawn uniformly from `[0, init_scale)` by [`Rng`] seeded with `seed`, all
/// user rows first, then all item rows (as in the `implicit` package); with the Cholesky solver
/// only the item factors matter, since the first half-step solves the users exactly. Rows without
/// stored entries get zero factors (their exact minimiser).
///
/// `on_iteration(iteration, objective)` is called after every iteration (1-based) with
/// [`objective`] of the new factors; an error it returns stops training and is returned (use it
/// for progress and cancellation). The objective never increases between iterations. Errors on a
/// malformed `r` or invalid options (`factors = 0`, negative or non-finite `alpha`, `l2` or
/// `init_scale`, zero CG steps), and if the factors stop being finite.
pub fn wrmf(
    r: &Csr,
    opts: &AlsOptions,
    on_iteration: &mut dyn FnMut(usize, f64) -> Result<(), KernelError>,
) -> Result<(Factors, Factors), KernelError> {
    wrmf_cancellable(r, opts, on_iteration, &|| false)
}

/// [`wrmf`], also stopping within a half-step when `stop()` turns true: every row solved (in
/// parallel) checks it first, and a stopped half-step returns [`KernelError::Cancelled`].
pub fn wrmf_cancellable(
    r: &Csr,
    opts: &AlsOptions,
    on_iteration: &mut dyn FnMut(usize, f64) -> Result<(), KernelError>,
    stop: &(dyn Fn() -> bool + Sync),
) -> Result<(Factors, Factors), KernelError> {
    r.validate()?;
    let k = opts.factors;
    if k == 0 {
        return Err(KernelError::InvalidInput(
            "the number of factors must be at least 1".to_string(),
        ));
    }
    check_param("alpha", opts.alpha)?;
    check_param("l2", opts.l2)?;
    check_param("init_scale", opts.init_scale)?;
    if let Solver::ConjugateGradient { steps: 0 } = opts.solver {
        return Err(KernelError::InvalidInput(
            "conjugate gradient needs at least 1 step".to_string(),
        ));
    }
    let (n_users, n_items) = (r.n_rows, r.n_cols);
    let (Some(user_len), Some(item_len)) = (n_users.checked_mul(k), n_items.checked_mul(k)) else {
        return Err(KernelError::InvalidInput(
            "the factor matrices are too large".to_string(),
        ));
    };
    let (mut x, mut y) = initial_factors(n_users, n_items, user_len, item_len, opts);
    let rt = r.transpose();
    let half = HalfStep::new(opts.alpha, opts.l2, opts.solver);
    let isa = half.isa;
    let mut gram_y = gram64(isa, &y);
    for it in 1..=opts.iterations {
        half.run(r, &y, &gram_y, &mut x, stop)?;
        let gram_x = gram64(isa, &x);
        half.run(&rt, &x, &gram_x, &mut y, stop)?;
        gram_y = gram64(isa, &y);
        let obj = objective_from_grams(isa, r, &x, &y, &gram_x, &gram_y, opts.alpha, opts.l2);
        if !obj.is_finite() {
            return Err(KernelError::Numerical(format!(
                "the objective is {obj} after iteration {it}"
            )));
        }
        on_iteration(it, obj)?;
    }
    Ok((x, y))
}

/// The starting factors of [`wrmf`]: uniform in `[0, init_scale)`, users then items.
fn initial_factors(
    n_users: usize,
    n_items: usize,
    user_len: usize,
    item_len: usize,
    opts: &AlsOptions,
) -> (Factors, Factors) {
    let mut rng = Rng::new(opts.seed);
    let mut draw =
        |len: usize| -> Vec<f32> { (0..len).map(|_| rng.next_f32() * opts.init_scale).collect() };
    let x = Factors {
        rows: n_users,
        k: opts.factors,
        data: draw(user_len),
    };
    let y = Factors {
        rows: n_items,
        k: opts.factors,
        data: draw(item_len),
    };
    (x, y)
}

fn check_param(name: &str, value: f32) -> Result<(), KernelError> {
    if value.is_finite() && value >= 0.0 {
        Ok(())
    } else {
        Err(KernelError::InvalidInput(format!(
            "{name} must be finite and non-negative, not {value}"
        )))
    }
}

/// The WRMF objective `L(X, Y)` of the module documentation, in `f64`, without visiting all
/// pairs:
///
/// ```text
/// L = Σ_u x_uᵀ(YᵀY)x_u + Σ_{stored (u,i)} [c (p − s)² − s²] + λ(‖X‖² + ‖Y‖²),   s = x_uᵀ y_i
/// ```
///
/// with the first term computed as `⟨XᵀX, YᵀY⟩`. Products of the `f32` factors are exact in
/// `f64`; sums are in a fixed order, so the value is deterministic. Errors when `r` is malformed
/// or the shapes disagree.
pub fn objective(
    r: &Csr,
    x: &Factors,
    y: &Factors,
    alpha: f32,
    l2: f32,
) -> Result<f64, KernelError> {
    r.validate()?;
    x.validate("user")?;
    y.validate("item")?;
    if x.rows != r.n_rows || y.rows != r.n_cols || x.k != y.k {
        return Err(KernelError::InvalidInput(format!(
            "factors {}×{} and {}×{} do not fit a {}×{} matrix",
            x.rows, x.k, y.rows, y.k, r.n_rows, r.n_cols
        )));
    }
    let isa = Isa::detect();
    let (gram_x, gram_y) = (gram64(isa, x), gram64(isa, y));
    Ok(objective_from_grams(
        isa, r, x, y, &gram_x, &gram_y, alpha, l2,
    ))
}

/// Rows per chunk of the deterministic parallel sums (fixed, so that the summation order does
/// not depend on the number of threads).
const SUM_CHUNK: usize = 256;

#[allow(clippy::too_many_arguments)]
fn objective_from_grams(
    isa: Isa,
    r: &Csr,
    x: &Factors,
    y: &Factors,
    gram_x: &[f64],
    gram_y: &[f64],
    alpha: f32,
    l2: f32,
) -> f64 {
    let k = x.k;
    let quadratic: f64 = gram_x.iter().zip(gram_y).map(|(a, b)| a * b).sum();
    let trace = |g: &[f64]| (0..k).map(|a| g[a * k + a]).sum::<f64>();
    let reg = f64::from(l2) * (trace(gram_x) + trace(gram_y));
    let n_chunks = r.n_rows.div_ceil(SUM_CHUNK);
    let partials: Vec<f64> = (0..n_chunks)
        .into_par_iter()
        .map(|chunk| {
            let rows = chunk * SUM_CHUNK..((chunk + 1) * SUM_CHUNK).min(r.n_rows);
            isa.stored_terms(r, x, y, f64::from(alpha), rows)
        })
        .collect();
    quadratic + partials.iter().sum::<f64>() + reg
}

/// `Σ [c (p − s)² − s²]` over the stored entries of `rows`.
#[inline(always)]
fn stored_terms<S: Simd>(
    simd: S,
    r: &Csr,
    x: &Factors,
    y: &Factors,
    alpha: f64,
    rows: std::ops::Range<usize>,
) -> f64 {
    let mut total = 0.0f64;
    for u in rows {
        let xu = x.row(u);
        let (cols, vals) = r.row(u);
        for (&i, &v) in cols.iter().zip(vals) {
            let s = simd.dot_f64(xu, y.row(i as usize));
            let c = 1.0 + alpha * f64::from(v).abs();
            let p = if v > 0.0 { 1.0 } else { 0.0 };
            total += c * (p - s) * (p - s) - s * s;
        }
    }
    total
}

/// `FᵀF` as a full row-major `k × k` matrix in `f64` (exact products, sums in a fixed order).
fn gram64(isa: Isa, f: &Factors) -> Vec<f64> {
    let k = f.k;
    if k == 0 {
        return Vec::new();
    }
    let partials: Vec<Vec<f64>> = f
        .data
        .par_chunks(SUM_CHUNK * 4 * k)
        .map(|block| isa.gram_block(block, k))
        .collect();
    let mut g = vec![0.0f64; k * k];
    for p in &partials {
        for (a, b) in g.iter_mut().zip(p) {
            *a += b;
        }
    }
    for a in 0..k {
        for b in 0..a {
            g[a * k + b] = g[b * k + a];
        }
    }
    g
}

/// The upper triangle of `BᵀB` for a block of row-major `k`-wide rows (see [`syrk_upper`]).
#[inline(always)]
fn gram_block<S: Simd>(simd: S, block: &[f32], k: usize) -> Vec<f64> {
    let mut g = vec![0.0f64; k * k];
    let mut rows = vec![0.0f64; SYRK_ROWS * k];
    for part in block.chunks(SYRK_ROWS * k) {
        let rows = &mut rows[..part.len()];
        for (d, &v) in rows.iter_mut().zip(part) {
            *d = f64::from(v);
        }
        syrk_upper(simd, &mut g, k, rows, rows);
    }
    g
}

/// Rows per call of [`syrk_upper`] (two such `f64` blocks stay in the L1 cache for
/// `k ≤ 64`).
const SYRK_ROWS: usize = 32;

/// `A += bwᵀ b` on the upper triangle of the row-major `k × k` matrix `A`, for row-major
/// `n × k` blocks `bw` and `b` (`n` from their lengths): [`Simd::syrk_block`] on every block of
/// four rows. Entries below the diagonal may change and are never read.
#[inline(always)]
fn syrk_upper<S: Simd>(simd: S, a: &mut [f64], k: usize, bw: &[f64], b: &[f64]) {
    if k == 0 {
        return;
    }
    for (r0, block) in (0..k).step_by(4).zip(a.chunks_mut(4 * k)) {
        simd.syrk_block(block, k, r0, bw, b, false);
    }
}

/// Portable [`Simd::syrk_block`]: for each row, axpys of four `b` rows at a time.
#[inline(always)]
fn syrk_block_by_rows<S: Simd>(
    simd: S,
    block: &mut [f64],
    k: usize,
    r0: usize,
    bw: &[f64],
    b: &[f64],
    subtract: bool,
) {
    if k == 0 {
        return;
    }
    let sign = if subtract { -1.0 } else { 1.0 };
    for (r, row) in (r0..k).zip(block.chunks_exact_mut(k)) {
        let start = r & !3;
        let row = &mut row[start..];
        let mut pairs = bw.chunks_exact(k).zip(b.chunks_exact(k));
        loop {
            match (pairs.next(), pairs.next(), pairs.next(), pairs.next()) {
                (Some((w0, b0)), Some((w1, b1)), Some((w2, b2)), Some((w3, b3))) => {
                    let c = [sign * w0[r], sign * w1[r], sign * w2[r], sign * w3[r]];
                    for ((((av, &e0), &e1), &e2), &e3) in row
                        .iter_mut()
                        .zip(&b0[start..])
                        .zip(&b1[start..])
                        .zip(&b2[start..])
                        .zip(&b3[start..])
                    {
                        *av = simd.madd64(
                            c[3],
                            e3,
                            simd.madd64(
                                c[2],
                                e2,
                                simd.madd64(c[1], e1, simd.madd64(c[0], e0, *av)),
                            ),
                        );
                    }
                }
                (p0, p1, p2, _) => {
                    for (w, y) in [p0, p1, p2].into_iter().flatten() {
                        let c = sign * w[r];
                        for (av, &e) in row.iter_mut().zip(&y[start..]) {
                            *av = simd.madd64(c, e, *av);
                        }
                    }
                    break;
                }
            }
        }
    }
}

/// One half-step: every row of the target factors solved with the other side fixed.
struct HalfStep {
    alpha: f32,
    l2: f32,
    solver: Solver,
    isa: Isa,
}

impl HalfStep {
    fn new(alpha: f32, l2: f32, solver: Solver) -> HalfStep {
        HalfStep {
            alpha,
            l2,
            solver,
            isa: Isa::detect(),
        }
    }

    /// Solves every row of `target` (rows of `r`) with `fixed` (columns of `r`) held fixed;
    /// `gram` is `fixedᵀ fixed` from [`gram64`].
    fn run(
        &self,
        r: &Csr,
        fixed: &Factors,
        gram: &[f64],
        target: &mut Factors,
        stop: &(dyn Fn() -> bool + Sync),
    ) -> Result<(), KernelError> {
        let k = target.k;
        if k == 0 || gram.len() != k * k {
            return Ok(());
        }
        let mut gram = gram.to_vec();
        for a in 0..k {
            gram[a * k + a] += f64::from(self.l2);
        }
        let isa = self.isa;
        let alpha = self.alpha;
        match self.solver {
            Solver::Cholesky => {
                target
                    .data
                    .par_chunks_mut(k)
                    .enumerate()
                    .with_min_len(8)
                    .try_for_each_init(
                        || CholeskyScratch::new(k),
                        |scratch, (u, x)| {
                            if stop() {
                                return Err(KernelError::Cancelled);
                            }
                            let (cols, vals) = r.row(u);
                            isa.cholesky_row(cols, vals, fixed, alpha, &gram, scratch, x);
                            Ok(())
                        },
                    )?;
            }
            Solver::ConjugateGradient { steps } => {
                let gram32: Vec<f32> = gram.iter().map(|&g| g as f32).collect();
                target
                    .data
                    .par_chunks_mut(k)
                    .enumerate()
                    .with_min_len(8)
                    .try_for_each_init(
                        || CgScratch::new(k),
                        |scratch, (u, x)| {
                            if stop() {
                                return Err(KernelError::Cancelled);
                            }
                            let (cols, vals) = r.row(u);
                            isa.cg_row(cols, vals, fixed, alpha, &gram32, steps, scratch, x);
                            Ok(())
                        },
                    )?;
            }
        }
        Ok(())
    }
}

/// Per-thread buffers of the Cholesky solver.
struct CholeskyScratch {
    /// The system matrix, then its Cholesky factor.
    a: Vec<f64>,
    /// The right-hand side, then the solution.
    b: Vec<f64>,
    /// Up to [`SYRK_ROWS`] gathered rows `y_t`.
    ys: Vec<f64>,
    /// The same rows scaled by `c_t − 1`.
    wys: Vec<f64>,
}

impl CholeskyScratch {
    fn new(k: usize) -> CholeskyScratch {
        CholeskyScratch {
            a: vec![0.0; k * k],
            b: vec![0.0; k],
            ys: vec![0.0; SYRK_ROWS * k],
            wys: vec![0.0; SYRK_ROWS * k],
        }
    }
}

/// Exact solve of row `x`'s system `(G + Σ (c−1) y yᵀ) x = Σ c p y` with `G = YᵀY + λI`
/// (`gram`). The system is accumulated in `f64`: the rows `y` of up to [`SYRK_ROWS`] stored
/// entries at a time are gathered (converted to `f64`, prefetched ahead) and added as
/// `Yᵀ diag(c − 1) Y` to the upper triangle by [`syrk_upper`]; then a blocked Cholesky
/// factorisation and two triangular solves. If the factorisation fails (only possible with
/// `λ = 0`), the row is left unchanged, which keeps the objective from increasing.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn cholesky_row<S: Simd>(
    simd: S,
    cols: &[u32],
    vals: &[f32],
    fixed: &Factors,
    alpha: f32,
    gram: &[f64],
    s: &mut CholeskyScratch,
    x: &mut [f32],
) {
    let k = x.len();
    if cols.is_empty() {
        x.fill(0.0);
        return;
    }
    s.a.copy_from_slice(gram);
    s.b.fill(0.0);
    let alpha = f64::from(alpha);
    let mut ahead = cols.iter().skip(PREFETCH_AHEAD);
    for (c_part, v_part) in cols.chunks(SYRK_ROWS).zip(vals.chunks(SYRK_ROWS)) {
        let n = c_part.len() * k;
        let rows = s.ys[..n]
            .chunks_exact_mut(k)
            .zip(s.wys[..n].chunks_exact_mut(k));
        for ((&c, &v), (y, wy)) in c_part.iter().zip(v_part).zip(rows) {
            if let Some(&next) = ahead.next() {
                simd.prefetch(fixed.row(next as usize));
            }
            let src = fixed.row(c as usize);
            if src.len() != k {
                // Not a row of `fixed` (only for a malformed input): contributes nothing.
                y.fill(0.0);
                wy.fill(0.0);
                continue;
            }
            let extra = alpha * f64::from(v).abs();
            for ((d, dw), &e) in y.iter_mut().zip(wy.iter_mut()).zip(src) {
                *d = f64::from(e);
                *dw = extra * *d;
            }
            if v > 0.0 {
                let cp = 1.0 + extra;
                for (bv, &yv) in s.b.iter_mut().zip(y.iter()) {
                    *bv = simd.madd64(cp, yv, *bv);
                }
            }
        }
        syrk_upper(simd, &mut s.a, k, &s.wys[..n], &s.ys[..n]);
    }
    if cholesky_in_place(simd, &mut s.a, k) {
        cholesky_solve(simd, &s.a, k, &mut s.b);
        for (xv, &bv) in x.iter_mut().zip(&s.b) {
            *xv = bv as f32;
        }
    }
}

fn dot64(a: &[f64], b: &[f64]) -> f64 {
    let mut acc = [0.0f64; 4];
    let (ac, bc) = (a.chunks_exact(4), b.chunks_exact(4));
    let tail: f64 = ac
        .remainder()
        .iter()
        .zip(bc.remainder())
        .map(|(x, y)| x * y)
        .sum();
    for (x, y) in ac.zip(bc) {
        for ((s, &xv), &yv) in acc.iter_mut().zip(x).zip(y) {
            *s += xv * yv;
        }
    }
    (acc[0] + acc[2]) + (acc[1] + acc[3]) + tail
}

/// Cholesky factorisation `A = UᵀU` (`U` upper triangular) of the upper triangle of a row-major
/// `k × k` matrix, in place (entries below the diagonal are ignored and may change). Blocked
/// left-looking by four rows: each block row first receives the update from all finished rows
/// above it in one [`Simd::syrk_block`] call (register-tiled on AVX2), then its four rows are
/// factorised. `false` when `A` is not numerically positive definite.
#[inline(always)]
fn cholesky_in_place<S: Simd>(simd: S, a: &mut [f64], k: usize) -> bool {
    if a.len() != k * k {
        return false;
    }
    let mut jb = 0;
    while jb < k {
        let je = (jb + 4).min(k);
        let (done, rest) = a.split_at_mut(jb * k);
        let panel = &mut rest[..(je - jb) * k];
        // A[jb..je, jb..] −= U[..jb, jb..je]ᵀ U[..jb, jb..]
        simd.syrk_block(panel, k, jb, done, done, true);
        for j in jb..je {
            let (head, below) = panel.split_at_mut((j + 1 - jb) * k);
            let row_j = &mut head[(j - jb) * k..];
            let d = row_j[j];
            if !(d > 0.0 && d.is_finite()) {
                return false;
            }
            let ujj = d.sqrt();
            row_j[j] = ujj;
            let inv = 1.0 / ujj;
            for v in &mut row_j[j + 1..] {
                *v *= inv;
            }
            let row_j = &*row_j;
            for (i, row_i) in (j + 1..je).zip(below.chunks_exact_mut(k)) {
                let f = -row_j[i];
                for (av, &u) in row_i[i..].iter_mut().zip(&row_j[i..]) {
                    *av = simd.madd64(f, u, *av);
                }
            }
        }
        jb = je;
    }
    true
}

/// Solves `UᵀU x = b` in place for the factor of [`cholesky_in_place`].
#[inline(always)]
fn cholesky_solve<S: Simd>(simd: S, u: &[f64], k: usize, b: &mut [f64]) {
    if k == 0 || u.len() != k * k || b.len() != k {
        return;
    }
    // Uᵀ z = b, column by column.
    for (t, row) in u.chunks_exact(k).enumerate() {
        let zt = b[t] / row[t];
        b[t] = zt;
        for (bv, &uv) in b[t + 1..].iter_mut().zip(&row[t + 1..]) {
            *bv = simd.madd64(-zt, uv, *bv);
        }
    }
    // U x = z, from the last row up.
    for (i, row) in u.chunks_exact(k).enumerate().rev() {
        let s = dot64(&row[i + 1..], &b[i + 1..]);
        b[i] = (b[i] - s) / row[i];
    }
}

/// Per-thread buffers of the conjugate-gradient solver.
struct CgScratch {
    r: Vec<f32>,
    p: Vec<f32>,
    ap: Vec<f32>,
}

impl CgScratch {
    fn new(k: usize) -> CgScratch {
        CgScratch {
            r: vec![0.0; k],
            p: vec![0.0; k],
            ap: vec![0.0; k],
        }
    }
}

/// Residuals below this squared norm count as converged (as in `implicit`).
const CG_EPS: f32 = 1e-20;

/// `steps` conjugate-gradient steps on row `x`'s system, warm-started from `x`, with
/// `A v = G v + Σ (c−1)(y·v) y` applied implicitly (`G = YᵀY + λI`, `gram`, `f32`).
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn cg_row<S: Simd>(
    simd: S,
    cols: &[u32],
    vals: &[f32],
    fixed: &Factors,
    alpha: f32,
    gram: &[f32],
    steps: usize,
    s: &mut CgScratch,
    x: &mut [f32],
) {
    if cols.is_empty() {
        x.fill(0.0);
        return;
    }
    // r = b − A x = Σ [c p − (c−1)(y·x)] y − G x
    symv(simd, gram, x, &mut s.r);
    for v in s.r.iter_mut() {
        *v = -*v;
    }
    accumulate_rows(simd, cols, vals, fixed, x, &mut s.r, |v, d| {
        let extra = alpha * v.abs();
        let cp = if v > 0.0 { 1.0 + extra } else { 0.0 };
        cp - extra * d
    });
    s.p.copy_from_slice(&s.r);
    let mut rs_old = simd.dot(&s.r, &s.r);
    if rs_old < CG_EPS {
        return;
    }
    for _ in 0..steps {
        // Ap = G p + Σ (c−1)(y·p) y
        symv(simd, gram, &s.p, &mut s.ap);
        accumulate_rows(simd, cols, vals, fixed, &s.p, &mut s.ap, |v, d| {
            alpha * v.abs() * d
        });
        let p_ap = simd.dot(&s.p, &s.ap);
        if p_ap.is_nan() || p_ap <= 0.0 {
            break;
        }
        let step = rs_old / p_ap;
        if !step.is_finite() {
            break;
        }
        simd.axpy(step, &s.p, x);
        simd.axpy(-step, &s.ap, &mut s.r);
        let rs_new = simd.dot(&s.r, &s.r);
        if rs_new < CG_EPS {
            break;
        }
        let beta = rs_new / rs_old;
        for (pv, &rv) in s.p.iter_mut().zip(&s.r) {
            *pv = simd.madd(beta, *pv, rv);
        }
        rs_old = rs_new;
    }
}

/// `out += Σ_t w(val_t, y_t · v) · y_t` over the stored entries `(col_t, val_t)` of a row, with
/// `y_t` row `col_t` of `fixed`; four entries per pass over `out`.
#[inline(always)]
fn accumulate_rows<S: Simd, W: Fn(f32, f32) -> f32>(
    simd: S,
    cols: &[u32],
    vals: &[f32],
    fixed: &Factors,
    v: &[f32],
    out: &mut [f32],
    weight: W,
) {
    let (c4, v4) = (cols.chunks_exact(4), vals.chunks_exact(4));
    let (c_rest, v_rest) = (c4.remainder(), v4.remainder());
    for (c, w) in c4.zip(v4) {
        let ys = [
            fixed.row(c[0] as usize),
            fixed.row(c[1] as usize),
            fixed.row(c[2] as usize),
            fixed.row(c[3] as usize),
        ];
        let d = simd.dot4(ys, v);
        let w = [
            weight(w[0], d[0]),
            weight(w[1], d[1]),
            weight(w[2], d[2]),
            weight(w[3], d[3]),
        ];
        simd.axpy4(w, ys, out);
    }
    for (&c, &w) in c_rest.iter().zip(v_rest) {
        let yt = fixed.row(c as usize);
        simd.axpy(weight(w, simd.dot(yt, v)), yt, out);
    }
}

/// How many stored entries ahead [`cholesky_row`] prefetches the rows it gathers.
const PREFETCH_AHEAD: usize = 8;

/// `out = G v` for a symmetric row-major `k × k` matrix `G` (as `Σ_b v_b G[b, :]`, four rows per
/// pass).
#[inline(always)]
fn symv<S: Simd>(simd: S, g: &[f32], v: &[f32], out: &mut [f32]) {
    let k = v.len();
    out.fill(0.0);
    if k == 0 {
        return;
    }
    let mut rows = g.chunks_exact(k).zip(v);
    loop {
        match (rows.next(), rows.next(), rows.next(), rows.next()) {
            (Some((g0, &v0)), Some((g1, &v1)), Some((g2, &v2)), Some((g3, &v3))) => {
                simd.axpy4([v0, v1, v2, v3], [g0, g1, g2, g3], out);
            }
            (first, second, third, _) => {
                for (gr, &vb) in [first, second, third].into_iter().flatten() {
                    simd.axpy(vb, gr, out);
                }
                break;
            }
        }
    }
}

/// The vector primitives of the hot loops. All take the common length of their slices.
trait Simd: Copy {
    /// `a b + c` (fused where the hardware has FMA).
    fn madd(self, a: f32, b: f32, c: f32) -> f32;
    /// `a b + c` in `f64`.
    fn madd64(self, a: f64, b: f64, c: f64) -> f64;
    /// `a · b`.
    fn dot(self, a: &[f32], b: &[f32]) -> f32;
    /// `[y_0 · v, y_1 · v, y_2 · v, y_3 · v]`.
    fn dot4(self, y: [&[f32]; 4], v: &[f32]) -> [f32; 4];
    /// `y += a x`.
    fn axpy(self, a: f32, x: &[f32], y: &mut [f32]);
    /// `y += Σ_j w_j x_j`.
    fn axpy4(self, w: [f32; 4], x: [&[f32]; 4], y: &mut [f32]);
    /// `a · b` with `f64` sums (the products of `f32` values are exact in `f64`).
    fn dot_f64(self, a: &[f32], b: &[f32]) -> f64;
    /// Hints that `row` will be read soon.
    fn prefetch(self, row: &[f32]);
    /// `A[r, c] ±= Σ_t bw[t, r] b[t, c]` for the rows `r0 ≤ r < r0 + 4` of a row-major `k × k`
    /// matrix `A` held in `block` (those rows only) and the columns `c ≥ r`, with row-major
    /// `n × k` blocks `bw` and `b` (`n` from their lengths); subtracts when `subtract`. A few
    /// entries left of the diagonal may change too.
    fn syrk_block(
        self,
        block: &mut [f64],
        k: usize,
        r0: usize,
        bw: &[f64],
        b: &[f64],
        subtract: bool,
    );
}

/// Plain Rust loops, auto-vectorised for the compilation target.
#[derive(Clone, Copy)]
struct Portable;

impl Simd for Portable {
    #[inline(always)]
    fn madd(self, a: f32, b: f32, c: f32) -> f32 {
        a * b + c
    }

    #[inline(always)]
    fn madd64(self, a: f64, b: f64, c: f64) -> f64 {
        a * b + c
    }

    #[inline(always)]
    fn dot(self, a: &[f32], b: &[f32]) -> f32 {
        let mut acc = [0.0f32; 8];
        let (ac, bc) = (a.chunks_exact(8), b.chunks_exact(8));
        let mut tail = 0.0f32;
        for (&x, &y) in ac.remainder().iter().zip(bc.remainder()) {
            tail += x * y;
        }
        for (x, y) in ac.zip(bc) {
            for ((s, &xv), &yv) in acc.iter_mut().zip(x).zip(y) {
                *s += xv * yv;
            }
        }
        acc.iter().sum::<f32>() + tail
    }

    #[inline(always)]
    fn dot4(self, y: [&[f32]; 4], v: &[f32]) -> [f32; 4] {
        [
            self.dot(y[0], v),
            self.dot(y[1], v),
            self.dot(y[2], v),
            self.dot(y[3], v),
        ]
    }

    #[inline(always)]
    fn axpy(self, a: f32, x: &[f32], y: &mut [f32]) {
        for (yv, &xv) in y.iter_mut().zip(x) {
            *yv += a * xv;
        }
    }

    #[inline(always)]
    fn axpy4(self, w: [f32; 4], x: [&[f32]; 4], y: &mut [f32]) {
        for ((((o, &e0), &e1), &e2), &e3) in y.iter_mut().zip(x[0]).zip(x[1]).zip(x[2]).zip(x[3]) {
            *o += w[0] * e0 + w[1] * e1 + w[2] * e2 + w[3] * e3;
        }
    }

    #[inline(always)]
    fn dot_f64(self, a: &[f32], b: &[f32]) -> f64 {
        let mut acc = [0.0f64; 4];
        let (ac, bc) = (a.chunks_exact(4), b.chunks_exact(4));
        let mut tail = 0.0f64;
        for (&x, &y) in ac.remainder().iter().zip(bc.remainder()) {
            tail += f64::from(x) * f64::from(y);
        }
        for (x, y) in ac.zip(bc) {
            for ((s, &xv), &yv) in acc.iter_mut().zip(x).zip(y) {
                *s += f64::from(xv) * f64::from(yv);
            }
        }
        (acc[0] + acc[2]) + (acc[1] + acc[3]) + tail
    }

    #[inline(always)]
    fn prefetch(self, _row: &[f32]) {}

    #[inline(always)]
    fn syrk_block(
        self,
        block: &mut [f64],
        k: usize,
        r0: usize,
        bw: &[f64],
        b: &[f64],
        subtract: bool,
    ) {
        syrk_block_by_rows(self, block, k, r0, bw, b, subtract);
    }
}

/// The instruction set the kernels run with, chosen once from the CPU's features.
#[derive(Clone, Copy)]
enum Isa {
    Portable,
    #[cfg(target_arch = "x86_64")]
    Avx2Fma(avx2::Avx2Fma),
}

impl Isa {
    fn detect() -> Isa {
        #[cfg(target_arch = "x86_64")]
        {
            if let Some(token) = avx2::Avx2Fma::detect() {
                return Isa::Avx2Fma(token);
            }
        }
        Isa::Portable
    }

    #[allow(clippy::too_many_arguments)]
    fn cg_row(
        self,
        cols: &[u32],
        vals: &[f32],
        fixed: &Factors,
        alpha: f32,
        gram: &[f32],
        steps: usize,
        s: &mut CgScratch,
        x: &mut [f32],
    ) {
        match self {
            Isa::Portable => cg_row(Portable, cols, vals, fixed, alpha, gram, steps, s, x),
            #[cfg(target_arch = "x86_64")]
            Isa::Avx2Fma(t) => t.cg_row(cols, vals, fixed, alpha, gram, steps, s, x),
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn cholesky_row(
        self,
        cols: &[u32],
        vals: &[f32],
        fixed: &Factors,
        alpha: f32,
        gram: &[f64],
        s: &mut CholeskyScratch,
        x: &mut [f32],
    ) {
        match self {
            Isa::Portable => cholesky_row(Portable, cols, vals, fixed, alpha, gram, s, x),
            #[cfg(target_arch = "x86_64")]
            Isa::Avx2Fma(t) => t.cholesky_row(cols, vals, fixed, alpha, gram, s, x),
        }
    }

    fn stored_terms(
        self,
        r: &Csr,
        x: &Factors,
        y: &Factors,
        alpha: f64,
        rows: std::ops::Range<usize>,
    ) -> f64 {
        match self {
            Isa::Portable => stored_terms(Portable, r, x, y, alpha, rows),
            #[cfg(target_arch = "x86_64")]
            Isa::Avx2Fma(t) => t.stored_terms(r, x, y, alpha, rows),
        }
    }

    fn gram_block(self, block: &[f32], k: usize) -> Vec<f64> {
        match self {
            Isa::Portable => gram_block(Portable, block, k),
            #[cfg(target_arch = "x86_64")]
            Isa::Avx2Fma(t) => t.gram_block(block, k),
        }
    }
}

/// The AVX2 + FMA build of the kernels (x86-64).
///
/// The generic kernels above are instantiated with [`avx2::Avx2Fma`] inside functions compiled
/// with `#[target_feature(enable = "avx2,fma")]`, so that they inline the intrinsics below and
/// auto-vectorise with 256-bit registers. The only `unsafe` is calling those functions, which is
/// sound because an `Avx2Fma` value exists only after the CPU reported both features.
#[cfg(target_arch = "x86_64")]
mod avx2 {
    use std::arch::x86_64::*;
    use std::ops::Range;

    use super::{CgScratch, CholeskyScratch, Csr, Factors, Simd};

    /// Proof that the CPU supports AVX2 and FMA: only [`Avx2Fma::detect`] makes one.
    #[derive(Clone, Copy)]
    pub(super) struct Avx2Fma(());

    impl Avx2Fma {
        pub(super) fn detect() -> Option<Avx2Fma> {
            if is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma") {
                Some(Avx2Fma(()))
            } else {
                None
            }
        }

        #[allow(clippy::too_many_arguments)]
        pub(super) fn cg_row(
            self,
            cols: &[u32],
            vals: &[f32],
            fixed: &Factors,
            alpha: f32,
            gram: &[f32],
            steps: usize,
            s: &mut CgScratch,
            x: &mut [f32],
        ) {
            // SAFETY: `self` exists, so the CPU supports AVX2 and FMA.
            unsafe { cg_row(self, cols, vals, fixed, alpha, gram, steps, s, x) }
        }

        #[allow(clippy::too_many_arguments)]
        pub(super) fn cholesky_row(
            self,
            cols: &[u32],
            vals: &[f32],
            fixed: &Factors,
            alpha: f32,
            gram: &[f64],
            s: &mut CholeskyScratch,
            x: &mut [f32],
        ) {
            // SAFETY: as above.
            unsafe { cholesky_row(self, cols, vals, fixed, alpha, gram, s, x) }
        }

        pub(super) fn stored_terms(
            self,
            r: &Csr,
            x: &Factors,
            y: &Factors,
            alpha: f64,
            rows: Range<usize>,
        ) -> f64 {
            // SAFETY: as above.
            unsafe { stored_terms(self, r, x, y, alpha, rows) }
        }

        pub(super) fn gram_block(self, block: &[f32], k: usize) -> Vec<f64> {
            // SAFETY: as above.
            unsafe { gram_block(self, block, k) }
        }
    }

    #[target_feature(enable = "avx2,fma")]
    #[allow(clippy::too_many_arguments)]
    unsafe fn cg_row(
        t: Avx2Fma,
        cols: &[u32],
        vals: &[f32],
        fixed: &Factors,
        alpha: f32,
        gram: &[f32],
        steps: usize,
        s: &mut CgScratch,
        x: &mut [f32],
    ) {
        super::cg_row(t, cols, vals, fixed, alpha, gram, steps, s, x)
    }

    #[target_feature(enable = "avx2,fma")]
    #[allow(clippy::too_many_arguments)]
    unsafe fn cholesky_row(
        t: Avx2Fma,
        cols: &[u32],
        vals: &[f32],
        fixed: &Factors,
        alpha: f32,
        gram: &[f64],
        s: &mut CholeskyScratch,
        x: &mut [f32],
    ) {
        super::cholesky_row(t, cols, vals, fixed, alpha, gram, s, x)
    }

    #[target_feature(enable = "avx2,fma")]
    unsafe fn stored_terms(
        t: Avx2Fma,
        r: &Csr,
        x: &Factors,
        y: &Factors,
        alpha: f64,
        rows: Range<usize>,
    ) -> f64 {
        super::stored_terms(t, r, x, y, alpha, rows)
    }

    #[target_feature(enable = "avx2,fma")]
    unsafe fn gram_block(t: Avx2Fma, block: &[f32], k: usize) -> Vec<f64> {
        super::gram_block(t, block, k)
    }

    impl Simd for Avx2Fma {
        #[inline(always)]
        fn madd(self, a: f32, b: f32, c: f32) -> f32 {
            a.mul_add(b, c)
        }

        #[inline(always)]
        fn madd64(self, a: f64, b: f64, c: f64) -> f64 {
            a.mul_add(b, c)
        }

        #[inline(always)]
        fn dot(self, a: &[f32], b: &[f32]) -> f32 {
            // SAFETY: `self` proves AVX2 and FMA.
            unsafe { dot(a, b) }
        }

        #[inline(always)]
        fn dot4(self, y: [&[f32]; 4], v: &[f32]) -> [f32; 4] {
            // SAFETY: as above.
            unsafe { dot4(y, v) }
        }

        #[inline(always)]
        fn axpy(self, a: f32, x: &[f32], y: &mut [f32]) {
            // SAFETY: as above.
            unsafe { axpy(a, x, y) }
        }

        #[inline(always)]
        fn axpy4(self, w: [f32; 4], x: [&[f32]; 4], y: &mut [f32]) {
            // SAFETY: as above.
            unsafe { axpy4(w, x, y) }
        }

        #[inline(always)]
        fn dot_f64(self, a: &[f32], b: &[f32]) -> f64 {
            // SAFETY: as above.
            unsafe { dot_f64(a, b) }
        }

        #[inline(always)]
        fn syrk_block(
            self,
            block: &mut [f64],
            k: usize,
            r0: usize,
            bw: &[f64],
            b: &[f64],
            subtract: bool,
        ) {
            // SAFETY: as above.
            unsafe {
                if subtract {
                    syrk_block::<true>(block, k, r0, bw, b)
                } else {
                    syrk_block::<false>(block, k, r0, bw, b)
                }
            }
        }

        #[inline(always)]
        fn prefetch(self, row: &[f32]) {
            // One hint per 64-byte line; prefetches never fault.
            for line in row.chunks(16) {
                // SAFETY: SSE is part of x86-64; the pointer is in bounds.
                unsafe { _mm_prefetch::<_MM_HINT_T0>(line.as_ptr().cast::<i8>()) }
            }
        }
    }

    // The intrinsics below read `n` = the common length of their slices, 8 lanes at a time
    // through raw pointers at offsets `i + 8 ≤ n`, then the tail with checked indexing.

    #[inline]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn hsum(v: __m256) -> f32 {
        let s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps::<1>(v));
        let s = _mm_add_ps(s, _mm_movehl_ps(s, s));
        let s = _mm_add_ss(s, _mm_movehdup_ps(s));
        _mm_cvtss_f32(s)
    }

    #[inline]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn dot(a: &[f32], b: &[f32]) -> f32 {
        let n = a.len().min(b.len());
        let (pa, pb) = (a.as_ptr(), b.as_ptr());
        let mut acc0 = _mm256_setzero_ps();
        let mut acc1 = _mm256_setzero_ps();
        let mut i = 0;
        while i + 16 <= n {
            acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(pa.add(i)), _mm256_loadu_ps(pb.add(i)), acc0);
            acc1 = _mm256_fmadd_ps(
                _mm256_loadu_ps(pa.add(i + 8)),
                _mm256_loadu_ps(pb.add(i + 8)),
                acc1,
            );
            i += 16;
        }
        if i + 8 <= n {
            acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(pa.add(i)), _mm256_loadu_ps(pb.add(i)), acc0);
            i += 8;
        }
        let mut s = hsum(_mm256_add_ps(acc0, acc1));
        for (&x, &y) in a[i..n].iter().zip(&b[i..n]) {
            s = x.mul_add(y, s);
        }
        s
    }

    #[inline]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn dot4(y: [&[f32]; 4], v: &[f32]) -> [f32; 4] {
        let n = y.iter().fold(v.len(), |n, r| n.min(r.len()));
        let pv = v.as_ptr();
        let p = [y[0].as_ptr(), y[1].as_ptr(), y[2].as_ptr(), y[3].as_ptr()];
        let mut acc = [_mm256_setzero_ps(); 4];
        let mut i = 0;
        while i + 8 <= n {
            let vv = _mm256_loadu_ps(pv.add(i));
            for (a, &pj) in acc.iter_mut().zip(&p) {
                *a = _mm256_fmadd_ps(_mm256_loadu_ps(pj.add(i)), vv, *a);
            }
            i += 8;
        }
        // Reduce the four accumulators to four sums in one register.
        let t01 = _mm256_hadd_ps(acc[0], acc[1]);
        let t23 = _mm256_hadd_ps(acc[2], acc[3]);
        let t = _mm256_hadd_ps(t01, t23);
        let s = _mm_add_ps(_mm256_castps256_ps128(t), _mm256_extractf128_ps::<1>(t));
        let mut out = [0.0f32; 4];
        _mm_storeu_ps(out.as_mut_ptr(), s);
        for (o, row) in out.iter_mut().zip(y) {
            for (&a, &b) in row[i..n].iter().zip(&v[i..n]) {
                *o = a.mul_add(b, *o);
            }
        }
        out
    }

    #[inline]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn axpy(a: f32, x: &[f32], y: &mut [f32]) {
        let n = x.len().min(y.len());
        let (px, py) = (x.as_ptr(), y.as_mut_ptr());
        let va = _mm256_set1_ps(a);
        let mut i = 0;
        while i + 8 <= n {
            let r = _mm256_fmadd_ps(va, _mm256_loadu_ps(px.add(i)), _mm256_loadu_ps(py.add(i)));
            _mm256_storeu_ps(py.add(i), r);
            i += 8;
        }
        for (yv, &xv) in y[i..n].iter_mut().zip(&x[i..n]) {
            *yv = a.mul_add(xv, *yv);
        }
    }

    #[inline]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn axpy4(w: [f32; 4], x: [&[f32]; 4], y: &mut [f32]) {
        let n = x.iter().fold(y.len(), |n, r| n.min(r.len()));
        let p = [x[0].as_ptr(), x[1].as_ptr(), x[2].as_ptr(), x[3].as_ptr()];
        let vw = [
            _mm256_set1_ps(w[0]),
            _mm256_set1_ps(w[1]),
            _mm256_set1_ps(w[2]),
            _mm256_set1_ps(w[3]),
        ];
        let py = y.as_mut_ptr();
        let mut i = 0;
        while i + 8 <= n {
            let mut r = _mm256_loadu_ps(py.add(i));
            for (&wj, &pj) in vw.iter().zip(&p) {
                r = _mm256_fmadd_ps(wj, _mm256_loadu_ps(pj.add(i)), r);
            }
            _mm256_storeu_ps(py.add(i), r);
            i += 8;
        }
        for t in i..n {
            let mut o = y[t];
            for (&wj, row) in w.iter().zip(&x) {
                o = wj.mul_add(row[t], o);
            }
            y[t] = o;
        }
    }

    /// Register-tiled [`Simd::syrk_block`]: each 4 × 8 tile of the block is accumulated in
    /// eight registers over all rows `t` (two loads and four broadcasts per eight FMAs), then
    /// added to (or subtracted from) `A` once; what does not fill a tile is summed in scalar
    /// code.
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn syrk_block<const SUB: bool>(
        block: &mut [f64],
        k: usize,
        r0: usize,
        bw: &[f64],
        b: &[f64],
    ) {
        if k == 0 {
            return;
        }
        let rows = (block.len() / k).min(k.saturating_sub(r0));
        let n = bw.len().min(b.len()) / k;
        let pa = block.as_mut_ptr();
        // Every write to `block` goes through `pa`, at offsets below rows × k.
        let scalar = |i: usize, c: usize| {
            let mut sum = 0.0f64;
            for t in 0..n {
                sum = bw[t * k + r0 + i].mul_add(b[t * k + c], sum);
            }
            let p = pa.add(i * k + c);
            *p = if SUB { *p - sum } else { *p + sum };
        };
        let mut c0 = r0 & !7;
        if rows == 4 {
            let (pw, pb) = (bw.as_ptr(), b.as_ptr());
            while c0 + 8 <= k {
                let mut acc = [[_mm256_setzero_pd(); 2]; 4];
                for t in 0..n {
                    let row_b = pb.add(t * k + c0);
                    let (v0, v1) = (_mm256_loadu_pd(row_b), _mm256_loadu_pd(row_b.add(4)));
                    let row_w = pw.add(t * k + r0);
                    for (i, acc_i) in acc.iter_mut().enumerate() {
                        let w = _mm256_broadcast_sd(&*row_w.add(i));
                        acc_i[0] = _mm256_fmadd_pd(w, v0, acc_i[0]);
                        acc_i[1] = _mm256_fmadd_pd(w, v1, acc_i[1]);
                    }
                }
                for (i, acc_i) in acc.iter().enumerate() {
                    for (half, &v) in acc_i.iter().enumerate() {
                        let p = pa.add(i * k + c0 + 4 * half);
                        let old = _mm256_loadu_pd(p);
                        let new = if SUB {
                            _mm256_sub_pd(old, v)
                        } else {
                            _mm256_add_pd(old, v)
                        };
                        _mm256_storeu_pd(p, new);
                    }
                }
                c0 += 8;
            }
        }
        for i in 0..rows {
            let start = if rows == 4 { c0.max(r0 + i) } else { r0 + i };
            for c in start..k {
                scalar(i, c);
            }
        }
    }

    #[inline]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn dot_f64(a: &[f32], b: &[f32]) -> f64 {
        let n = a.len().min(b.len());
        let (pa, pb) = (a.as_ptr(), b.as_ptr());
        let mut acc0 = _mm256_setzero_pd();
        let mut acc1 = _mm256_setzero_pd();
        let mut i = 0;
        while i + 8 <= n {
            let (xa, xb) = (_mm256_loadu_ps(pa.add(i)), _mm256_loadu_ps(pb.add(i)));
            acc0 = _mm256_fmadd_pd(
                _mm256_cvtps_pd(_mm256_castps256_ps128(xa)),
                _mm256_cvtps_pd(_mm256_castps256_ps128(xb)),
                acc0,
            );
            acc1 = _mm256_fmadd_pd(
                _mm256_cvtps_pd(_mm256_extractf128_ps::<1>(xa)),
                _mm256_cvtps_pd(_mm256_extractf128_ps::<1>(xb)),
                acc1,
            );
            i += 8;
        }
        let acc = _mm256_add_pd(acc0, acc1);
        let s = _mm_add_pd(_mm256_castpd256_pd128(acc), _mm256_extractf128_pd::<1>(acc));
        let mut total = _mm_cvtsd_f64(_mm_add_sd(s, _mm_unpackhi_pd(s, s)));
        for (&x, &y) in a[i..n].iter().zip(&b[i..n]) {
            total = f64::from(x).mul_add(f64::from(y), total);
        }
        total
    }
}

/// `Z = A F (FᵀF + λI)⁻¹`: the unweighted ridge solve of every row of `a` (`rows × n`) against
/// the fixed factors `F` (`n × k`), returned as `rows × k` factors.
///
/// Used to start tag factors from a users × tags profile with the user factors fixed: call it
/// with `a = profileᵀ` (tags × users) and `fixed = user factors`. Computed in `f64`. Errors when
/// the shapes disagree, `l2` is negative or not finite, or `FᵀF + λI` is singular (only possible
/// with `λ = 0`).
pub fn ridge_half_step(a: &Csr, fixed: &Factors, l2: f32) -> Result<Factors, KernelError> {
    a.validate()?;
    fixed.validate("fixed")?;
    check_param("l2", l2)?;
    if a.n_cols != fixed.rows {
        return Err(KernelError::InvalidInput(format!(
            "a {}×{} matrix does not fit {}×{} factors",
            a.n_rows, a.n_cols, fixed.rows, fixed.k
        )));
    }
    let k = fixed.k;
    let mut out = Factors::zeros(a.n_rows, k);
    if k == 0 {
        return Ok(out);
    }
    let mut l = gram64(Isa::detect(), fixed);
    for d in 0..k {
        l[d * k + d] += f64::from(l2);
    }
    if !cholesky_in_place(Portable, &mut l, k) {
        return Err(KernelError::Numerical(
            "FᵀF + λI is singular; use l2 > 0".to_string(),
        ));
    }
    out.data
        .par_chunks_mut(k)
        .enumerate()
        .with_min_len(8)
        .for_each_init(
            || vec![0.0f64; k],
            |b, (i, z)| {
                b.fill(0.0);
                let (cols, vals) = a.row(i);
                for (&c, &v) in cols.iter().zip(vals) {
                    let v = f64::from(v);
                    for (bv, &f) in b.iter_mut().zip(fixed.row(c as usize)) {
                        *bv += v * f64::from(f);
                    }
                }
                cholesky_solve(Portable, &l, k, b);
                for (zv, &bv) in z.iter_mut().zip(b.iter()) {
                    *zv = bv as f32;
                }
            },
        );
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use nalgebra::{DMatrix, DVector};
    use rand::rngs::StdRng;
    use rand::{Rng as _, SeedableRng};

    /// A random `m × n` matrix with about `density` stored entries, power-law positive counts
    /// and, when `negatives`, some negative and explicit-zero values.
    fn power_law(m: usize, n: usize, density: f64, negatives: bool, seed: u64) -> Csr {
        let mut rng = StdRng::seed_from_u64(seed);
        let (mut r, mut c, mut v) = (Vec::new(), Vec::new(), Vec::new());
        for i in 0..m {
            for j in 0..n {
                // Popular items (small j) are denser.
                let pj = density * 2.5 / (1.0 + j as f64 / 20.0).sqrt();
                if rng.random_bool(pj.min(1.0)) {
                    let u: f64 = rng.random_range(0.0..1.0);
                    let mut val = (1.0 - u).powf(-1.0 / 1.2).floor() as f32;
                    if negatives {
                        let t: f64 = rng.random_range(0.0..1.0);
                        if t < 0.05 {
                            val = -val;
                        } else if t < 0.08 {
                            val = 0.0;
                        }
                    }
                    r.push(i as u32);
                    c.push(j as u32);
                    v.push(val);
                }
            }
        }
        Csr::from_triplets(m, n, &r, &c, &v).unwrap()
    }

    fn random_factors(rows: usize, k: usize, rng: &mut StdRng) -> Factors {
        Factors {
            rows,
            k,
            data: (0..rows * k)
                .map(|_| rng.random_range(-0.5..0.5f32))
                .collect(),
        }
    }

    fn dense(r: &Csr) -> DMatrix<f64> {
        let mut d = DMatrix::zeros(r.n_rows, r.n_cols);
        for u in 0..r.n_rows {
            let (c, v) = r.row(u);
            for (&c, &v) in c.iter().zip(v) {
                d[(u, c as usize)] = f64::from(v);
            }
        }
        d
    }

    fn to_dense(f: &Factors) -> DMatrix<f64> {
        DMatrix::from_row_iterator(f.rows, f.k, f.data.iter().map(|&v| f64::from(v)))
    }

    fn confidence(v: f64, alpha: f64) -> (f64, f64) {
        (1.0 + alpha * v.abs(), if v > 0.0 { 1.0 } else { 0.0 })
    }

    fn half_step(
        r: &Csr,
        fixed: &Factors,
        target: &mut Factors,
        alpha: f32,
        l2: f32,
        solver: Solver,
        isa: Isa,
    ) {
        let half = HalfStep {
            alpha,
            l2,
            solver,
            isa,
        };
        half.run(r, fixed, &gram64(isa, fixed), target, &|| false)
            .unwrap();
    }

    fn opts(solver: Solver) -> AlsOptions {
        AlsOptions {
            factors: 12,
            iterations: 15,
            alpha: 2.0,
            l2: 0.05,
            solver,
            seed: 17,
            init_scale: 0.01,
        }
    }

    fn objectives(r: &Csr, o: &AlsOptions) -> (Vec<f64>, Factors, Factors) {
        let mut seen = Vec::new();
        let (x, y) = wrmf(r, o, &mut |it, obj| {
            assert_eq!(it, seen.len() + 1);
            seen.push(obj);
            Ok(())
        })
        .unwrap();
        (seen, x, y)
    }

    #[test]
    fn objective_never_increases() {
        let r = power_law(200, 150, 0.05, true, 1);
        let density = r.nnz() as f64 / (200.0 * 150.0);
        assert!((0.03..0.08).contains(&density), "density {density}");
        for solver in [
            Solver::Cholesky,
            Solver::ConjugateGradient { steps: 3 },
            Solver::ConjugateGradient { steps: 1 },
        ] {
            let o = opts(solver);
            let (x0, y0) = initial_factors(200, 150, 200 * 12, 150 * 12, &o);
            let start = objective(&r, &x0, &y0, o.alpha, o.l2).unwrap();
            let (seen, x, y) = objectives(&r, &o);
            assert_eq!(seen.len(), 15);
            let mut prev = start;
            for (t, &obj) in seen.iter().enumerate() {
                assert!(
                    obj <= prev,
                    "{solver:?}: iteration {} raised {prev} to {obj}",
                    t + 1
                );
                prev = obj;
            }
            assert!(
                seen[14] < 0.9 * start,
                "{solver:?}: {start} -> {}",
                seen[14]
            );
            let last = objective(&r, &x, &y, o.alpha, o.l2).unwrap();
            assert_eq!(last, seen[14]);
        }
    }

    #[test]
    fn cholesky_half_step_matches_dense_weighted_least_squares() {
        let r = power_law(60, 50, 0.08, true, 2);
        let d = dense(&r);
        let mut rng = StdRng::seed_from_u64(3);
        let (alpha, l2) = (3.0f32, 0.1f32);
        // k = 20 exercises the register tiles and the blocked factorisation, k = 6 the edges.
        for k in [6, 20] {
            let y = random_factors(50, k, &mut rng);
            let x0 = random_factors(60, k, &mut rng);
            let yd = to_dense(&y);
            for isa in isas() {
                let mut x = x0.clone();
                half_step(&r, &y, &mut x, alpha, l2, Solver::Cholesky, isa);
                for u in 0..60 {
                    let mut cu = DMatrix::<f64>::zeros(50, 50);
                    let mut pu = DVector::<f64>::zeros(50);
                    for i in 0..50 {
                        let (c, p) = confidence(d[(u, i)], f64::from(alpha));
                        cu[(i, i)] = c;
                        pu[i] = p;
                    }
                    let lhs = yd.transpose() * &cu * &yd + DMatrix::identity(k, k) * f64::from(l2);
                    let rhs = yd.transpose() * &cu * &pu;
                    let want = lhs.lu().solve(&rhs).unwrap();
                    let scale = want.amax().max(1e-3);
                    for (j, &got) in x.row(u).iter().enumerate() {
                        let err = (f64::from(got) - want[j]).abs();
                        assert!(err <= 1e-6 * scale, "k {k} user {u} factor {j}: {err:e}");
                    }
                }
            }
        }
    }

    #[test]
    fn objective_matches_brute_force() {
        let r = power_law(70, 40, 0.1, true, 4);
        let d = dense(&r);
        let mut rng = StdRng::seed_from_u64(5);
        let x = random_factors(70, 5, &mut rng);
        let y = random_factors(40, 5, &mut rng);
        let (alpha, l2) = (1.5f32, 0.3f32);
        let scores = to_dense(&x) * to_dense(&y).transpose();
        let mut want = 0.0;
        for u in 0..70 {
            for i in 0..40 {
                let (c, p) = confidence(d[(u, i)], f64::from(alpha));
                want += c * (p - scores[(u, i)]).powi(2);
            }
        }
        want += f64::from(l2) * (to_dense(&x).norm_squared() + to_dense(&y).norm_squared());
        let got = objective(&r, &x, &y, alpha, l2).unwrap();
        assert!((got - want).abs() <= 1e-6 * want, "{got} vs {want}");
        assert!((got - want).abs() <= 1e-10 * want, "{got} vs {want}");
        // Shape errors.
        assert!(objective(&r, &y, &x, alpha, l2).is_err());
    }

    #[test]
    fn many_cg_steps_reach_the_cholesky_solution() {
        let r = power_law(120, 90, 0.06, false, 6);
        let mut rng = StdRng::seed_from_u64(7);
        let k = 10;
        let y = random_factors(90, k, &mut rng);
        let start = random_factors(120, k, &mut rng);
        let (alpha, l2) = (2.0f32, 0.1f32);
        let mut exact = start.clone();
        half_step(
            &r,
            &y,
            &mut exact,
            alpha,
            l2,
            Solver::Cholesky,
            Isa::detect(),
        );
        let mut cg = start.clone();
        half_step(
            &r,
            &y,
            &mut cg,
            alpha,
            l2,
            Solver::ConjugateGradient { steps: 50 },
            Isa::detect(),
        );
        let mut worst = 0.0f32;
        for u in 0..120 {
            let scale = exact.row(u).iter().fold(1e-3f32, |m, v| m.max(v.abs()));
            for (a, b) in cg.row(u).iter().zip(exact.row(u)) {
                worst = worst.max((a - b).abs() / scale);
            }
        }
        assert!(worst < 1e-4, "relative difference {worst:e}");
        // A few steps get close but not all the way: the comparison is meaningful.
        let mut few = start.clone();
        half_step(
            &r,
            &y,
            &mut few,
            alpha,
            l2,
            Solver::ConjugateGradient { steps: 1 },
            Isa::detect(),
        );
        let far = few
            .data
            .iter()
            .zip(&exact.data)
            .fold(0.0f32, |m, (a, b)| m.max((a - b).abs()));
        assert!(far > 1e-3, "one step already exact? {far:e}");
    }

    #[test]
    fn ridge_half_step_matches_dense() {
        let a = power_law(30, 80, 0.1, true, 8);
        let mut rng = StdRng::seed_from_u64(9);
        let f = random_factors(80, 7, &mut rng);
        let l2 = 0.2f32;
        let z = ridge_half_step(&a, &f, l2).unwrap();
        assert_eq!((z.rows, z.k), (30, 7));
        let fd = to_dense(&f);
        let g = fd.transpose() * &fd + DMatrix::identity(7, 7) * f64::from(l2);
        let want = dense(&a) * &fd * g.try_inverse().unwrap();
        let got = to_dense(&z);
        let err = (got - &want).amax();
        assert!(err <= 1e-6 * want.amax(), "{err:e}");
        assert!(ridge_half_step(&a, &Factors::zeros(79, 7), l2).is_err());
        assert!(ridge_half_step(&a, &f, -1.0).is_err());
        // Singular Gram matrix without regularisation.
        assert!(ridge_half_step(&a, &Factors::zeros(80, 7), 0.0).is_err());
    }

    #[test]
    fn deterministic_for_a_seed() {
        let r = power_law(150, 100, 0.05, false, 10);
        for solver in [Solver::Cholesky, Solver::ConjugateGradient { steps: 3 }] {
            let o = AlsOptions {
                iterations: 4,
                ..opts(solver)
            };
            let (oa, xa, ya) = objectives(&r, &o);
            let (ob, xb, yb) = objectives(&r, &o);
            assert_eq!(oa, ob);
            assert_eq!(xa, xb);
            assert_eq!(ya, yb);
            let (_, xc, _) = objectives(
                &r,
                &AlsOptions {
                    seed: 18,
                    ..o.clone()
                },
            );
            assert_ne!(xa, xc);
        }
    }

    #[test]
    fn independent_of_thread_count() {
        let r = power_law(300, 120, 0.05, true, 19);
        for solver in [Solver::Cholesky, Solver::ConjugateGradient { steps: 3 }] {
            let o = AlsOptions {
                iterations: 3,
                ..opts(solver)
            };
            let run = |threads: usize| {
                let pool = rayon::ThreadPoolBuilder::new()
                    .num_threads(threads)
                    .build()
                    .unwrap();
                pool.install(|| objectives(&r, &o))
            };
            let (o1, x1, y1) = run(1);
            let (o3, x3, y3) = run(3);
            assert_eq!(o1, o3);
            assert_eq!(x1, x3);
            assert_eq!(y1, y3);
        }
    }

    #[test]
    fn empty_rows_get_zero_factors_and_errors_propagate() {
        // User 1 and item 2 have no entries.
        let r = Csr::from_triplets(3, 4, &[0, 2, 2], &[0, 1, 3], &[1.0, 4.0, 2.0]).unwrap();
        for solver in [Solver::Cholesky, Solver::ConjugateGradient { steps: 3 }] {
            let o = AlsOptions {
                factors: 3,
                iterations: 2,
                ..opts(solver)
            };
            let (x, y) = wrmf(&r, &o, &mut |_, _| Ok(())).unwrap();
            assert_eq!(x.row(1), &[0.0; 3]);
            assert_eq!(y.row(2), &[0.0; 3]);
            assert!(x.row(0).iter().any(|&v| v != 0.0));
            assert_eq!(x.row(3), &[] as &[f32]);
            let mut calls = 0;
            let err = wrmf(&r, &o, &mut |_, _| {
                calls += 1;
                Err(KernelError::Cancelled)
            })
            .unwrap_err();
            assert_eq!(err, KernelError::Cancelled);
            assert_eq!(calls, 1);
        }
    }

    #[test]
    fn a_stop_inside_a_half_step_ends_training_before_the_iteration_ends() {
        // The stop check turns true on its 5th call, that is while the first half-step is
        // solving rows (far more than 5 rows): training must end there, with Cancelled, before
        // the first iteration's callback runs.
        use std::sync::atomic::{AtomicUsize, Ordering};
        let r = power_law(300, 200, 0.05, false, 21);
        for solver in [Solver::Cholesky, Solver::ConjugateGradient { steps: 3 }] {
            let checks = AtomicUsize::new(0);
            let stop = || checks.fetch_add(1, Ordering::Relaxed) >= 4;
            let mut iterations = 0;
            let err = wrmf_cancellable(
                &r,
                &opts(solver),
                &mut |_, _| {
                    iterations += 1;
                    Ok(())
                },
                &stop,
            )
            .unwrap_err();
            assert_eq!(err, KernelError::Cancelled);
            assert_eq!(iterations, 0);
            // Every row checks before its work: at most the rows in flight on other threads
            // checked after the stop.
            assert!(checks.load(Ordering::Relaxed) < 300, "{checks:?}");
        }
    }

    #[test]
    fn rejects_bad_options() {
        let r = power_law(10, 10, 0.2, false, 11);
        let base = opts(Solver::Cholesky);
        let mut ok = |_: usize, _: f64| Ok(());
        for bad in [
            AlsOptions {
                factors: 0,
                ..base.clone()
            },
            AlsOptions {
                alpha: -1.0,
                ..base.clone()
            },
            AlsOptions {
                l2: f32::NAN,
                ..base.clone()
            },
            AlsOptions {
                init_scale: f32::INFINITY,
                ..base.clone()
            },
            AlsOptions {
                solver: Solver::ConjugateGradient { steps: 0 },
                ..base.clone()
            },
        ] {
            assert!(matches!(
                wrmf(&r, &bad, &mut ok),
                Err(KernelError::InvalidInput(_))
            ));
        }
        let mut broken = r.clone();
        broken.indptr[1] = 1000;
        assert!(wrmf(&broken, &base, &mut ok).is_err());
        // No iterations: the initial factors, uniform in [0, init_scale).
        let (x, y) = wrmf(
            &r,
            &AlsOptions {
                iterations: 0,
                ..base
            },
            &mut ok,
        )
        .unwrap();
        assert!(x
            .data
            .iter()
            .chain(&y.data)
            .all(|&v| (0.0..0.01).contains(&v)));
    }

    /// The instruction sets available here: always `Portable`, plus AVX2+FMA when present.
    fn isas() -> Vec<Isa> {
        let mut v = vec![Isa::Portable];
        #[cfg(target_arch = "x86_64")]
        if let Isa::Avx2Fma(t) = Isa::detect() {
            v.push(Isa::Avx2Fma(t));
        }
        v
    }

    fn check_simd<S: Simd>(simd: S, rng: &mut StdRng) {
        for len in [0usize, 1, 7, 8, 15, 16, 33, 64, 100] {
            let vec = |rng: &mut StdRng| -> Vec<f32> {
                (0..len).map(|_| rng.random_range(-1.0..1.0)).collect()
            };
            let (a, b) = (vec(rng), vec(rng));
            let ys = [vec(rng), vec(rng), vec(rng), vec(rng)];
            let exact = |x: &[f32], y: &[f32]| -> f64 {
                x.iter()
                    .zip(y)
                    .map(|(&p, &q)| f64::from(p) * f64::from(q))
                    .sum()
            };
            assert!((f64::from(simd.dot(&a, &b)) - exact(&a, &b)).abs() < 1e-5);
            assert!((simd.dot_f64(&a, &b) - exact(&a, &b)).abs() < 1e-12);
            let y4 = [&ys[0][..], &ys[1][..], &ys[2][..], &ys[3][..]];
            let d4 = simd.dot4(y4, &a);
            for j in 0..4 {
                assert!((f64::from(d4[j]) - exact(&ys[j], &a)).abs() < 1e-5);
            }
            let mut out = b.clone();
            simd.axpy(0.5, &a, &mut out);
            for t in 0..len {
                assert!((out[t] - (b[t] + 0.5 * a[t])).abs() < 1e-6);
            }
            let w = [0.25, -1.0, 2.0, 0.5];
            let mut out = b.clone();
            simd.axpy4(w, y4, &mut out);
            for t in 0..len {
                let want: f32 = b[t] + (0..4).map(|j| w[j] * ys[j][t]).sum::<f32>();
                assert!((out[t] - want).abs() < 1e-5);
            }
            // G v for a symmetric G.
            let g: Vec<f32> = (0..len * len)
                .map(|t| ((t / len) * (t % len)) as f32 * 0.01)
                .collect();
            let mut gv = vec![7.0; len];
            symv(simd, &g, &a, &mut gv);
            for (i, o) in gv.iter().enumerate() {
                let terms = (0..len).map(|j| f64::from(g[i * len + j]) * f64::from(a[j]));
                let want: f64 = terms.clone().sum();
                let scale: f64 = terms.map(f64::abs).sum();
                assert!((f64::from(*o) - want).abs() <= 1e-6 * scale);
            }
        }
    }

    #[test]
    fn kernels_agree_with_plain_arithmetic() {
        let mut rng = StdRng::seed_from_u64(12);
        check_simd(Portable, &mut rng);
        #[cfg(target_arch = "x86_64")]
        if let Isa::Avx2Fma(t) = Isa::detect() {
            check_simd(t, &mut rng);
        }
        // [[4, 2], [2, 3]] x = [2, 3.5] (upper triangle; the lower entry is ignored).
        let mut m = vec![4.0, f64::NAN, 2.0, 3.0];
        m.swap(1, 2);
        assert!(cholesky_in_place(Portable, &mut m, 2));
        let mut b = vec![2.0, 3.5];
        cholesky_solve(Portable, &m, 2, &mut b);
        assert!((b[0] + 0.125).abs() < 1e-12 && (b[1] - 1.25).abs() < 1e-12);
        assert!(!cholesky_in_place(Portable, &mut [1.0, 2.0, 0.0, 1.0], 2));
    }

    #[test]
    fn cholesky_matches_nalgebra() {
        let mut rng = StdRng::seed_from_u64(16);
        for k in [1usize, 2, 3, 4, 5, 7, 8, 9, 31, 64, 70] {
            let m = DMatrix::from_fn(k + 3, k, |_, _| rng.random_range(-1.0..1.0));
            let spd = m.transpose() * &m + DMatrix::identity(k, k) * 0.1;
            let rhs: Vec<f64> = (0..k).map(|_| rng.random_range(-1.0..1.0)).collect();
            let want = spd
                .clone()
                .cholesky()
                .unwrap()
                .solve(&DVector::from_column_slice(&rhs));
            for isa in isas() {
                // Row-major upper triangle; garbage below the diagonal must be ignored.
                let mut a: Vec<f64> = (0..k * k)
                    .map(|t| {
                        if t % k >= t / k {
                            spd[(t / k, t % k)]
                        } else {
                            f64::NAN
                        }
                    })
                    .collect();
                let mut b = rhs.clone();
                let ok = match isa {
                    Isa::Portable => {
                        cholesky_in_place(Portable, &mut a, k) && {
                            cholesky_solve(Portable, &a, k, &mut b);
                            true
                        }
                    }
                    #[cfg(target_arch = "x86_64")]
                    Isa::Avx2Fma(t) => {
                        cholesky_in_place(t, &mut a, k) && {
                            cholesky_solve(t, &a, k, &mut b);
                            true
                        }
                    }
                };
                assert!(ok, "k {k}");
                for j in 0..k {
                    assert!(
                        (b[j] - want[j]).abs() < 1e-9 * want.amax().max(1.0),
                        "k {k}"
                    );
                }
            }
        }
    }

    #[test]
    fn syrk_matches_dense() {
        let mut rng = StdRng::seed_from_u64(15);
        for k in [1usize, 3, 4, 5, 8, 9, 13, 16, 64] {
            for n in [0usize, 1, 5, 33] {
                let mut v = |len: usize| -> Vec<f64> {
                    (0..len).map(|_| rng.random_range(-1.0..1.0)).collect()
                };
                let (bw, b, a0) = (v(n * k), v(n * k), v(k * k));
                let want = DMatrix::from_row_slice(k, k, &a0)
                    + DMatrix::from_row_slice(n, k, &bw).transpose()
                        * DMatrix::from_row_slice(n, k, &b);
                for isa in isas() {
                    let mut a = a0.clone();
                    match isa {
                        Isa::Portable => syrk_upper(Portable, &mut a, k, &bw, &b),
                        #[cfg(target_arch = "x86_64")]
                        Isa::Avx2Fma(t) => syrk_upper(t, &mut a, k, &bw, &b),
                    }
                    for r in 0..k {
                        for c in r..k {
                            assert!((a[r * k + c] - want[(r, c)]).abs() < 1e-12, "k {k} n {n}");
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn instruction_sets_agree() {
        let r = power_law(90, 70, 0.08, true, 13);
        let mut rng = StdRng::seed_from_u64(14);
        let k = 13;
        let y = random_factors(70, k, &mut rng);
        let x0 = random_factors(90, k, &mut rng);
        let gram_ref = gram64(Isa::Portable, &y);
        let yd = to_dense(&y);
        let want = yd.transpose() * &yd;
        for isa in isas() {
            let g = gram64(isa, &y);
            for (a, b) in g.iter().zip(want.transpose().iter()) {
                assert!((a - b).abs() < 1e-12);
            }
            for (a, b) in g.iter().zip(&gram_ref) {
                assert!((a - b).abs() < 1e-12);
            }
            let obj = objective_from_grams(isa, &r, &x0, &y, &gram64(isa, &x0), &g, 1.5, 0.1);
            let obj_ref = objective(&r, &x0, &y, 1.5, 0.1).unwrap();
            assert!((obj - obj_ref).abs() <= 1e-12 * obj_ref);
            for solver in [Solver::Cholesky, Solver::ConjugateGradient { steps: 3 }] {
                let mut a = x0.clone();
                let mut b = x0.clone();
                half_step(&r, &y, &mut a, 1.5, 0.1, solver, isa);
                half_step(&r, &y, &mut b, 1.5, 0.1, solver, Isa::Portable);
                for (p, q) in a.data.iter().zip(&b.data) {
                    assert!(
                        (p - q).abs() <= 1e-4 * (1.0 + q.abs()),
                        "{solver:?}: {p} vs {q}"
                    );
                }
            }
        }
    }
}
