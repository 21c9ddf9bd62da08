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
//!
//! Layout: this file holds the algorithm (options, factors, the iterations, the objective, the
//! half-step driver); `cholesky` and `cg` are the two row solvers; [`content`] is the
//! content-aware variant (item factors tied to a linear map of item features, thesis eq. 2.7),
//! which reuses the half-steps; `simd` is the
//! ALS-specific vector code (the `YᵀWY` update) and the dispatch of the hot loops to the
//! instruction set chosen by [`crate::common::simd`], whose generic primitives (dot products,
//! axpys) they use.

mod cg;
mod cholesky;
pub mod content;
mod simd;

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use self::cg::CgScratch;
use self::cholesky::{cholesky_in_place, cholesky_solve, CholeskyScratch};
use self::simd::{syrk_upper, AlsSimd, Isa, SYRK_ROWS};
use super::sparse::Csr;
use super::KernelError;
use crate::common::rng::Rng;
use crate::common::simd::{Portable, Simd};

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

/// Settings of [`wrmf`]. There are no defaults here: the SQL defaults live in the `wrmf` model
/// type's option spec (`recsys::wrmf`), written once.
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
fn gram_block<S: AlsSimd>(simd: S, block: &[f32], k: usize) -> Vec<f64> {
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
        self.run_with_prior(r, fixed, gram, None, target, stop)
    }

    /// [`HalfStep::run`], with each row `t` regularised towards row `t` of `prior` (same shape
    /// as `target`) instead of towards zero when `prior` is given: row `t` minimises
    /// `Σ_j c_tj (p_tj − t·f_j)² + λ‖t − m_t‖²`.
    fn run_with_prior(
        &self,
        r: &Csr,
        fixed: &Factors,
        gram: &[f64],
        prior: Option<&Factors>,
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
        let l2_64 = f64::from(self.l2);
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
                            let prior = prior.map(|m| (l2_64, m.row(u)));
                            isa.cholesky_row(cols, vals, fixed, alpha, &gram, prior, scratch, x);
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
                            let prior = prior.map(|m| (self.l2, m.row(u)));
                            isa.cg_row(cols, vals, fixed, alpha, &gram32, prior, steps, scratch, x);
                            Ok(())
                        },
                    )?;
            }
        }
        Ok(())
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

    use super::simd::isas;

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
