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
//! Rows are solved in parallel with rayon, each on one thread in a fixed order, so results are
//! bit-identical from run to run on one machine. On x86-64 CPUs with AVX2 and FMA the hot loops
//! run in an AVX2+FMA build of the same code (selected at run time); fused multiply-adds round
//! differently, so factors differ in the last bits between machines with and without them.

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::rng::Rng;
use super::sparse::Csr;
use super::KernelError;

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
        self.data.get(i * self.k..(i + 1) * self.k).unwrap_or(&[])
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
    let hp = HalfStep {
        alpha: opts.alpha,
        l2: opts.l2,
        solver: opts.solver,
    };
    for it in 1..=opts.iterations {
        hp.run(r, &y, &mut x);
        hp.run(&rt, &x, &mut y);
        let obj = objective_unchecked(r, &x, &y, opts.alpha, opts.l2);
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
/// pairs: `Σ_u x_uᵀ(YᵀY)x_u + Σ_{stored} [c (p − s)² − s²] + λ(‖X‖² + ‖Y‖²)` with
/// `s = x_uᵀ y_i`. Deterministic (fixed summation order). Errors when the shapes disagree.
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
    Ok(objective_unchecked(r, x, y, alpha, l2))
}

/// Rows per chunk of the deterministic parallel sums.
const SUM_CHUNK: usize = 256;

fn objective_unchecked(r: &Csr, x: &Factors, y: &Factors, alpha: f32, l2: f32) -> f64 {
    let k = x.k;
    let gram = gram64(y, 0.0);
    let alpha = f64::from(alpha);
    let n_chunks = r.n_rows.div_ceil(SUM_CHUNK);
    let partials: Vec<f64> = (0..n_chunks)
        .into_par_iter()
        .map_init(
            || (vec![0.0f64; k], vec![0.0f64; k]),
            |(xu, gx), chunk| {
                let mut total = 0.0f64;
                let end = ((chunk + 1) * SUM_CHUNK).min(r.n_rows);
                for u in chunk * SUM_CHUNK..end {
                    for (d, &s) in xu.iter_mut().zip(x.row(u)) {
                        *d = f64::from(s);
                    }
                    // x_uᵀ (YᵀY) x_u
                    for (g, row) in gx.iter_mut().zip(gram.chunks_exact(k)) {
                        *g = dot64(row, xu);
                    }
                    total += dot64(xu, gx);
                    let (cols, vals) = r.row(u);
                    for (&i, &v) in cols.iter().zip(vals) {
                        let yi = y.row(i as usize);
                        let s: f64 = xu.iter().zip(yi).map(|(&a, &b)| a * f64::from(b)).sum();
                        let c = 1.0 + alpha * f64::from(v).abs();
                        let p = if v > 0.0 { 1.0 } else { 0.0 };
                        total += c * (p - s) * (p - s) - s * s;
                    }
                }
                total
            },
        )
        .collect();
    let reg = f64::from(l2) * (sum_squares(&x.data) + sum_squares(&y.data));
    partials.iter().sum::<f64>() + reg
}

fn sum_squares(v: &[f32]) -> f64 {
    let partials: Vec<f64> = v
        .par_chunks(SUM_CHUNK * 64)
        .map(|c| c.iter().map(|&a| f64::from(a) * f64::from(a)).sum::<f64>())
        .collect();
    partials.iter().sum()
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
        for l in 0..4 {
            acc[l] += x[l] * y[l];
        }
    }
    (acc[0] + acc[2]) + (acc[1] + acc[3]) + tail
}

/// `FᵀF + λI` as a full row-major `k × k` matrix in `f64`, summed in a fixed order.
fn gram64(f: &Factors, l2: f32) -> Vec<f64> {
    let k = f.k;
    if k == 0 {
        return Vec::new();
    }
    let partials: Vec<Vec<f64>> = f
        .data
        .par_chunks(SUM_CHUNK * 4 * k)
        .map_init(
            || vec![0.0f64; k],
            |buf, block| {
                let mut g = vec![0.0f64; k * k];
                for row in block.chunks_exact(k) {
                    for (d, &s) in buf.iter_mut().zip(row) {
                        *d = f64::from(s);
                    }
                    // Lower triangle, rows rounded up to a multiple of 4 for even vector loops.
                    for a in 0..k {
                        let len = ((a + 4) & !3).min(k);
                        let w = buf[a];
                        for (gv, &b) in g[a * k..a * k + len].iter_mut().zip(&buf[..len]) {
                            *gv += w * b;
                        }
                    }
                }
                g
            },
        )
        .collect();
    let mut g = vec![0.0f64; k * k];
    for p in &partials {
        for (a, b) in g.iter_mut().zip(p) {
            *a += b;
        }
    }
    for a in 0..k {
        for b in 0..a {
            g[b * k + a] = g[a * k + b];
        }
        g[a * k + a] += f64::from(l2);
    }
    g
}

/// Hyper-parameters of one half-step.
struct HalfStep {
    alpha: f32,
    l2: f32,
    solver: Solver,
}

impl HalfStep {
    /// Solves every row of `target` (rows of `r`) with `fixed` (columns of `r`) held fixed.
    fn run(&self, r: &Csr, fixed: &Factors, target: &mut Factors) {
        let k = target.k;
        let gram = gram64(fixed, self.l2);
        match self.solver {
            Solver::Cholesky => {
                target
                    .data
                    .par_chunks_mut(k)
                    .enumerate()
                    .with_min_len(8)
                    .for_each_init(
                        || CholeskyScratch::new(k),
                        |scratch, (u, x)| {
                            let (cols, vals) = r.row(u);
                            cholesky_row(cols, vals, fixed, self.alpha, &gram, scratch, x);
                        },
                    );
            }
            Solver::ConjugateGradient { steps } => {
                let gram32: Vec<f32> = gram.iter().map(|&g| g as f32).collect();
                let kernel = Kernel::detect();
                target
                    .data
                    .par_chunks_mut(k)
                    .enumerate()
                    .with_min_len(8)
                    .for_each_init(
                        || CgScratch::new(k),
                        |scratch, (u, x)| {
                            let (cols, vals) = r.row(u);
                            kernel
                                .cg_row(cols, vals, fixed, self.alpha, &gram32, steps, scratch, x);
                        },
                    );
            }
        }
    }
}

/// Per-thread buffers of the Cholesky solver.
struct CholeskyScratch {
    a: Vec<f64>,
    b: Vec<f64>,
    ys: Vec<f64>,
}

impl CholeskyScratch {
    fn new(k: usize) -> CholeskyScratch {
        CholeskyScratch {
            a: vec![0.0; k * k],
            b: vec![0.0; k],
            ys: vec![0.0; 4 * k],
        }
    }
}

/// Exact solve of row `x`'s system `(G + Σ (c−1) y yᵀ) x = Σ c p y`, `G = YᵀY + λI` (`gram`,
/// `f64`). The system is accumulated in `f64`, four stored entries at a time (a rank-4 update of
/// the lower triangle per pass). If the factorisation fails (only possible with `λ = 0`), the row
/// is left unchanged, which keeps the objective from increasing.
fn cholesky_row(
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
    let mut w = [0.0f64; 4];
    for (c4, v4) in cols.chunks(4).zip(vals.chunks(4)) {
        let n = c4.len();
        for (j, (&c, &v)) in c4.iter().zip(v4).enumerate() {
            let conf_extra = alpha * f64::from(v).abs();
            let yj = &mut s.ys[j * k..(j + 1) * k];
            for (d, &src) in yj.iter_mut().zip(fixed.row(c as usize)) {
                *d = f64::from(src);
            }
            w[j] = conf_extra;
            if v > 0.0 {
                let cp = 1.0 + conf_extra;
                for (bv, &yv) in s.b.iter_mut().zip(yj.iter()) {
                    *bv += cp * yv;
                }
            }
        }
        for j in n..4 {
            w[j] = 0.0;
            s.ys[j * k..(j + 1) * k].fill(0.0);
        }
        let (y0, rest) = s.ys.split_at(k);
        let (y1, rest) = rest.split_at(k);
        let (y2, y3) = rest.split_at(k);
        for a in 0..k {
            let len = ((a + 4) & !3).min(k);
            let (s0, s1, s2, s3) = (w[0] * y0[a], w[1] * y1[a], w[2] * y2[a], w[3] * y3[a]);
            let row = &mut s.a[a * k..a * k + len];
            for ((((av, &e0), &e1), &e2), &e3) in row
                .iter_mut()
                .zip(&y0[..len])
                .zip(&y1[..len])
                .zip(&y2[..len])
                .zip(&y3[..len])
            {
                *av += s0 * e0 + s1 * e1 + s2 * e2 + s3 * e3;
            }
        }
    }
    if cholesky_in_place(&mut s.a, k) {
        cholesky_solve(&s.a, k, &mut s.b);
        for (xv, &bv) in x.iter_mut().zip(&s.b) {
            *xv = bv as f32;
        }
    }
}

/// Cholesky factorisation `A = L Lᵀ` of the lower triangle of a row-major `k × k` matrix, in
/// place (the upper triangle is ignored). `false` when `A` is not numerically positive definite.
fn cholesky_in_place(a: &mut [f64], k: usize) -> bool {
    for j in 0..k {
        let (done, rest) = a.split_at_mut(j * k);
        let row_j = &mut rest[..k];
        // L[j][t] for t < j.
        for t in 0..j {
            let row_t = &done[t * k..t * k + t + 1];
            let dot: f64 = dot64(&row_j[..t], &row_t[..t]);
            row_j[t] = (row_j[t] - dot) / row_t[t];
        }
        let d = row_j[j] - dot64(&row_j[..j], &row_j[..j]);
        if !(d > 0.0 && d.is_finite()) {
            return false;
        }
        row_j[j] = d.sqrt();
    }
    true
}

/// Solves `L Lᵀ x = b` in place for the factor of [`cholesky_in_place`].
fn cholesky_solve(l: &[f64], k: usize, b: &mut [f64]) {
    for i in 0..k {
        let row = &l[i * k..i * k + i + 1];
        b[i] = (b[i] - dot64(&row[..i], &b[..i])) / row[i];
    }
    for i in (0..k).rev() {
        b[i] /= l[i * k + i];
        let xi = b[i];
        for t in 0..i {
            b[t] -= l[i * k + t] * xi;
        }
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

/// Multiply-add flavour of the `f32` kernels: fused (one rounding, needs FMA hardware) or plain.
trait Madd {
    fn madd(a: f32, b: f32, c: f32) -> f32;
}

struct Plain;
impl Madd for Plain {
    #[inline(always)]
    fn madd(a: f32, b: f32, c: f32) -> f32 {
        a * b + c
    }
}

#[cfg(target_arch = "x86_64")]
struct Fused;
#[cfg(target_arch = "x86_64")]
impl Madd for Fused {
    #[inline(always)]
    fn madd(a: f32, b: f32, c: f32) -> f32 {
        a.mul_add(b, c)
    }
}

/// Which build of the `f32` kernels runs: chosen once per half-step from the CPU's features.
#[derive(Clone, Copy)]
enum Kernel {
    Generic,
    #[cfg(target_arch = "x86_64")]
    Avx2Fma,
}

impl Kernel {
    fn detect() -> Kernel {
        #[cfg(target_arch = "x86_64")]
        {
            if std::arch::is_x86_feature_detected!("avx2")
                && std::arch::is_x86_feature_detected!("fma")
            {
                return Kernel::Avx2Fma;
            }
        }
        Kernel::Generic
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
            Kernel::Generic => cg_row::<Plain>(cols, vals, fixed, alpha, gram, steps, s, x),
            #[cfg(target_arch = "x86_64")]
            // SAFETY: `Avx2Fma` is only chosen when the CPU reports AVX2 and FMA.
            Kernel::Avx2Fma => unsafe { cg_row_avx2(cols, vals, fixed, alpha, gram, steps, s, x) },
        }
    }
}

/// [`cg_row`] compiled for AVX2 and FMA.
///
/// # Safety
/// The CPU must support AVX2 and FMA.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
#[allow(clippy::too_many_arguments)]
unsafe fn cg_row_avx2(
    cols: &[u32],
    vals: &[f32],
    fixed: &Factors,
    alpha: f32,
    gram: &[f32],
    steps: usize,
    s: &mut CgScratch,
    x: &mut [f32],
) {
    cg_row::<Fused>(cols, vals, fixed, alpha, gram, steps, s, x)
}

/// Residuals below this squared norm count as converged (as in `implicit`).
const CG_EPS: f32 = 1e-20;

/// `steps` conjugate-gradient steps on row `x`'s system, warm-started from `x`, with
/// `A v = G v + Σ (c−1)(y·v) y` applied implicitly (`G = YᵀY + λI`, `gram`, `f32`).
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn cg_row<M: Madd>(
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
    let y = fixed.data.as_slice();
    let k = x.len();
    // r = b − A x = Σ [c p − (c−1)(y·x)] y − G x
    symv::<M>(gram, x, &mut s.r);
    for v in s.r.iter_mut() {
        *v = -*v;
    }
    accumulate_rows::<M, _>(cols, vals, y, k, x, &mut s.r, |v, d| {
        let extra = alpha * v.abs();
        let cp = if v > 0.0 { 1.0 + extra } else { 0.0 };
        cp - extra * d
    });
    s.p.copy_from_slice(&s.r);
    let mut rs_old = dot::<M>(&s.r, &s.r);
    if rs_old < CG_EPS {
        return;
    }
    for _ in 0..steps {
        // Ap = G p + Σ (c−1)(y·p) y
        symv::<M>(gram, &s.p, &mut s.ap);
        accumulate_rows::<M, _>(cols, vals, y, k, &s.p, &mut s.ap, |v, d| {
            alpha * v.abs() * d
        });
        let p_ap = dot::<M>(&s.p, &s.ap);
        if !(p_ap > 0.0) {
            break;
        }
        let step = rs_old / p_ap;
        if !step.is_finite() {
            break;
        }
        axpy::<M>(step, &s.p, x);
        axpy::<M>(-step, &s.ap, &mut s.r);
        let rs_new = dot::<M>(&s.r, &s.r);
        if rs_new < CG_EPS {
            break;
        }
        let beta = rs_new / rs_old;
        for (pv, &rv) in s.p.iter_mut().zip(&s.r) {
            *pv = M::madd(beta, *pv, rv);
        }
        rs_old = rs_new;
    }
}

/// `out += Σ_t w(val_t, y_t · v) · y_t` over the stored entries `(col_t, val_t)` of a row, with
/// `y_t` row `col_t` of `y` (`k` wide). Four entries per pass over `out`.
#[inline(always)]
fn accumulate_rows<M: Madd, W: Fn(f32, f32) -> f32>(
    cols: &[u32],
    vals: &[f32],
    y: &[f32],
    k: usize,
    v: &[f32],
    out: &mut [f32],
    weight: W,
) {
    let row = |c: u32| y.get(c as usize * k..(c as usize + 1) * k).unwrap_or(&[]);
    let (c4, v4) = (cols.chunks_exact(4), vals.chunks_exact(4));
    let (c_rest, v_rest) = (c4.remainder(), v4.remainder());
    for (c, w) in c4.zip(v4) {
        let (y0, y1, y2, y3) = (row(c[0]), row(c[1]), row(c[2]), row(c[3]));
        let w0 = weight(w[0], dot::<M>(y0, v));
        let w1 = weight(w[1], dot::<M>(y1, v));
        let w2 = weight(w[2], dot::<M>(y2, v));
        let w3 = weight(w[3], dot::<M>(y3, v));
        for ((((o, &e0), &e1), &e2), &e3) in out.iter_mut().zip(y0).zip(y1).zip(y2).zip(y3) {
            *o = M::madd(
                w3,
                e3,
                M::madd(w2, e2, M::madd(w1, e1, M::madd(w0, e0, *o))),
            );
        }
    }
    for (&c, &w) in c_rest.iter().zip(v_rest) {
        let yt = row(c);
        let wt = weight(w, dot::<M>(yt, v));
        axpy::<M>(wt, yt, out);
    }
}

/// `out = G v` for a symmetric row-major `k × k` matrix `G`, four columns per pass.
#[inline(always)]
fn symv<M: Madd>(g: &[f32], v: &[f32], out: &mut [f32]) {
    let k = v.len();
    out.fill(0.0);
    // G is symmetric, so G v = Σ_b v_b G[b, :]: axpys over contiguous rows.
    let mut b = 0;
    while b + 4 <= k {
        let (g0, g1, g2, g3) = (
            &g[b * k..(b + 1) * k],
            &g[(b + 1) * k..(b + 2) * k],
            &g[(b + 2) * k..(b + 3) * k],
            &g[(b + 3) * k..(b + 4) * k],
        );
        let (v0, v1, v2, v3) = (v[b], v[b + 1], v[b + 2], v[b + 3]);
        for ((((o, &e0), &e1), &e2), &e3) in out.iter_mut().zip(g0).zip(g1).zip(g2).zip(g3) {
            *o = M::madd(
                v3,
                e3,
                M::madd(v2, e2, M::madd(v1, e1, M::madd(v0, e0, *o))),
            );
        }
        b += 4;
    }
    while b < k {
        axpy::<M>(v[b], &g[b * k..(b + 1) * k], out);
        b += 1;
    }
}

/// `y += a x`.
#[inline(always)]
fn axpy<M: Madd>(a: f32, x: &[f32], y: &mut [f32]) {
    for (yv, &xv) in y.iter_mut().zip(x) {
        *yv = M::madd(a, xv, *yv);
    }
}

/// `a · b` with 16 independent lanes and a fixed pairwise reduction.
#[inline(always)]
fn dot<M: Madd>(a: &[f32], b: &[f32]) -> f32 {
    const L: usize = 16;
    let mut acc = [0.0f32; L];
    let (ac, bc) = (a.chunks_exact(L), b.chunks_exact(L));
    let mut tail = 0.0f32;
    for (&x, &y) in ac.remainder().iter().zip(bc.remainder()) {
        tail = M::madd(x, y, tail);
    }
    for (x, y) in ac.zip(bc) {
        for l in 0..L {
            acc[l] = M::madd(x[l], y[l], acc[l]);
        }
    }
    for l in 0..8 {
        acc[l] += acc[l + 8];
    }
    for l in 0..4 {
        acc[l] += acc[l + 4];
    }
    for l in 0..2 {
        acc[l] += acc[l + 2];
    }
    acc[0] + acc[1] + tail
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
    let mut l = gram64(fixed, l2);
    if !cholesky_in_place(&mut l, k) {
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
                cholesky_solve(&l, k, b);
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
        let k = 6;
        let y = random_factors(50, k, &mut rng);
        let mut x = random_factors(60, k, &mut rng);
        let (alpha, l2) = (3.0f32, 0.1f32);
        HalfStep {
            alpha,
            l2,
            solver: Solver::Cholesky,
        }
        .run(&r, &y, &mut x);
        let yd = to_dense(&y);
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
            for j in 0..k {
                let err = (f64::from(x.row(u)[j]) - want[j]).abs();
                assert!(err <= 1e-6 * scale, "user {u} factor {j}: {err:e}");
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
        HalfStep {
            alpha,
            l2,
            solver: Solver::Cholesky,
        }
        .run(&r, &y, &mut exact);
        let mut cg = start.clone();
        HalfStep {
            alpha,
            l2,
            solver: Solver::ConjugateGradient { steps: 50 },
        }
        .run(&r, &y, &mut cg);
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
        HalfStep {
            alpha,
            l2,
            solver: Solver::ConjugateGradient { steps: 1 },
        }
        .run(&r, &y, &mut few);
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
    fn kernels_agree_with_plain_arithmetic() {
        let mut rng = StdRng::seed_from_u64(12);
        for len in [1usize, 7, 16, 33, 64] {
            let a: Vec<f32> = (0..len).map(|_| rng.random_range(-1.0..1.0)).collect();
            let b: Vec<f32> = (0..len).map(|_| rng.random_range(-1.0..1.0)).collect();
            let want: f64 = a
                .iter()
                .zip(&b)
                .map(|(&x, &y)| f64::from(x) * f64::from(y))
                .sum();
            assert!((f64::from(dot::<Plain>(&a, &b)) - want).abs() < 1e-5);
            let g: Vec<f32> = (0..len * len)
                .map(|t| ((t / len) * (t % len)) as f32 * 0.01)
                .collect();
            let mut out = vec![0.0; len];
            symv::<Plain>(&g, &a, &mut out);
            for (i, o) in out.iter().enumerate() {
                let w: f32 = (0..len).map(|j| g[i * len + j] * a[j]).sum();
                assert!((o - w).abs() < 1e-4);
            }
        }
        let mut m = vec![4.0, 0.0, 2.0, 3.0];
        assert!(cholesky_in_place(&mut m, 2));
        let mut b = vec![2.0, 3.5];
        cholesky_solve(&m, 2, &mut b);
        assert!((b[0] - 0.5).abs() < 1e-12 && (b[1] - 5.0 / 6.0).abs() < 1e-12);
        assert!(!cholesky_in_place(&mut vec![1.0, 0.0, 2.0, 1.0], 2));
    }
}
