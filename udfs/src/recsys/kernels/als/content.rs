//! Content-aware WRMF (thesis ch. 2, eq. 2.7–2.9): implicit-feedback matrix factorisation whose
//! item factors are tied to a linear map of item features, so that an item without any
//! interaction (a cold item) gets factors from its features alone.
//!
//! It exists for the recommendation target of the transfer experiments (thesis §2.4.4): the
//! item features are a learned audio representation, 5 % of the tracks are held out of training,
//! and the held-out tracks are ranked for every user by `u · xW`.
//!
//! # The objective, as the thesis writes it (eq. 2.7)
//!
//! ```text
//! L(U, V, W) = ‖P − UVᵀ‖²_C + λ^V/2 ‖V − XW‖² + λ^U/2 ‖U‖² + λ^W/2 ‖W‖²
//! ‖P − UVᵀ‖²_C = Σ_{u,i} c_ui (p_ui − u_uᵀ v_i)²,  p_ui = [r_ui > 0],  C = 1 + α R   (2.8, 2.9)
//! ```
//!
//! over all user–item pairs of the training items, with `X` (items × d) the item features and
//! `W` (d × r) the projection. Norms are squared Frobenius norms (the thesis writes `‖·‖`; the
//! authors' code minimises squares). The reading chosen here, from the equation:
//!
//! - **V is a free variable** regularised *towards* `XW` with weight `λ^V/2` (it is not
//!   constrained to equal `XW`); there is no other penalty on `V`. A training item's score uses
//!   its own `v_i`; a cold item's uses `xW`, the minimiser of `L` for an item without
//!   interactions in the `λ^V` term.
//! - **The factors ½** are applied as written: the regularisers carry `λ/2`, the weighted loss
//!   does not. (The authors' code, `eldrin/mf-numba` `WMFA`, uses `λ` without ½ for `U` and `V`,
//!   and in its V-step adds `λ^W (XW)_i` rather than `λ^V (XW)_i` to the right-hand side, which is
//!   not the gradient of any single objective; we follow the equation, under which every step
//!   below is an exact block minimisation and the objective never increases.)
//!
//! # The ALS steps (one iteration = U, then V, then W)
//!
//! ```text
//! U-step, each user u:  (Vᵀ C_u V + λ^U/2 I) u_u = Vᵀ C_u p_u
//! V-step, each item i:  (Uᵀ C_i U + λ^V/2 I) v_i = Uᵀ C_i p_i + λ^V/2 Wᵀ x_i
//! W-step:               (λ^V XᵀX + λ^W I) W = λ^V XᵀV
//! ```
//!
//! The U-step is WRMF's half-step with `λ = λ^U/2`; the V-step is the same half-step regularised
//! towards the row `(XW)_i` (`HalfStep::run_with_prior`), solved exactly (Cholesky) or by
//! warm-started conjugate gradient like `wrmf`; the W-step is the closed-form ridge regression of
//! `V` on `X` (the ½ cancel), whose `d × d` matrix `λ^V XᵀX + λ^W I` does not change between
//! iterations and is factorised once (Cholesky, `f64`). Note the ridge strength relative to the
//! data is `λ^W/λ^V` (10⁴ with the thesis's values), not `λ^W`.
//!
//! Features are standardised by the caller if wanted ([`Standardizer`]; the authors'
//! evaluation code applies scikit-learn's `StandardScaler` to the features before training).
//!
//! Initial factors are uniform in `[0, init_scale)` from one [`Rng`] stream: users, then items
//! (as `wrmf`), then `W` (as the authors' code, which starts `W` at random too). Every parallel
//! loop computes each output entry on one thread in a fixed order, so results are bit-identical
//! for a seed on one machine whatever the thread count.

use rayon::prelude::*;

use super::cholesky::{cholesky_in_place, cholesky_solve};
use super::simd::Isa;
use super::{check_param, gram64, objective_from_grams, Factors, HalfStep, Solver, SUM_CHUNK};
use crate::common::rng::Rng;
use crate::common::simd::{Portable, Simd};
use crate::recsys::kernels::sparse::Csr;
use crate::recsys::kernels::KernelError;

/// Settings of [`content_wrmf`]; the SQL defaults live in the `content_wrmf` model type's option
/// spec.
#[derive(Clone, Debug, PartialEq)]
pub struct ContentOptions {
    /// Number of latent factors `r`.
    pub factors: usize,
    /// Number of ALS iterations (U, V, W each).
    pub iterations: usize,
    /// Confidence scale `α` in `C = 1 + αR`.
    pub alpha: f32,
    /// `λ^U`.
    pub l2_user: f32,
    /// `λ^V`.
    pub l2_item: f32,
    /// `λ^W`.
    pub l2_features: f32,
    /// Row solver of the U- and V-steps.
    pub solver: Solver,
    /// Seed of the initial factors.
    pub seed: u64,
    /// Initial values are uniform in `[0, init_scale)`.
    pub init_scale: f32,
}

/// The item feature matrix `X`: `rows × d`, row-major, one row per item (column of `R`).
#[derive(Clone, Debug, PartialEq)]
pub struct Features {
    pub rows: usize,
    pub d: usize,
    pub data: Vec<f32>,
}

impl Features {
    /// Row `i`.
    pub fn row(&self, i: usize) -> &[f32] {
        &self.data[i * self.d..(i + 1) * self.d]
    }

    fn validate(&self) -> Result<(), KernelError> {
        if Some(self.data.len()) != self.rows.checked_mul(self.d) {
            return Err(KernelError::InvalidInput(format!(
                "the feature matrix holds {} values, not {} × {}",
                self.data.len(),
                self.rows,
                self.d
            )));
        }
        if self.d == 0 {
            return Err(KernelError::InvalidInput(
                "the feature vectors are empty".to_string(),
            ));
        }
        if self.data.iter().any(|v| !v.is_finite()) {
            return Err(KernelError::InvalidInput(
                "a feature value is not finite".to_string(),
            ));
        }
        Ok(())
    }
}

/// A fitted model: user factors `U`, item factors `V` and the projection `W` (`d × r`,
/// row-major, `f64`).
#[derive(Clone, Debug, PartialEq)]
pub struct ContentFit {
    pub users: Factors,
    pub items: Factors,
    pub w: Vec<f64>,
}

/// Per-feature standardisation `z = (x − mean) / scale`, as scikit-learn's `StandardScaler`:
/// population standard deviation, and scale 1 for a (numerically) constant feature.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Standardizer {
    pub mean: Vec<f64>,
    pub scale: Vec<f64>,
}

impl Standardizer {
    /// The statistics of the rows of `x` (two passes in `f64`, rows in order).
    pub fn fit(x: &Features) -> Standardizer {
        let (n, d) = (x.rows, x.d);
        let mut mean = vec![0.0f64; d];
        for i in 0..n {
            for (m, &v) in mean.iter_mut().zip(x.row(i)) {
                *m += f64::from(v);
            }
        }
        let count = n.max(1) as f64;
        for m in &mut mean {
            *m /= count;
        }
        let mut var = vec![0.0f64; d];
        for i in 0..n {
            for ((s, &v), &m) in var.iter_mut().zip(x.row(i)).zip(&mean) {
                let c = f64::from(v) - m;
                *s += c * c;
            }
        }
        let scale = var
            .iter()
            .zip(&mean)
            .map(|(&s, &m)| {
                let sd = (s / count).sqrt();
                // scikit-learn's rule for constant features: a deviation within rounding of
                // the mean counts as zero, and zero scales by 1.
                if sd > 10.0 * f64::EPSILON * m.abs().max(1.0) {
                    sd
                } else {
                    1.0
                }
            })
            .collect();
        Standardizer { mean, scale }
    }

    /// Standardises `x` in place.
    pub fn apply(&self, x: &mut Features) {
        for row in x.data.chunks_mut(x.d.max(1)) {
            for ((v, &m), &s) in row.iter_mut().zip(&self.mean).zip(&self.scale) {
                *v = ((f64::from(*v) - m) / s) as f32;
            }
        }
    }

    /// One standardised vector, in `f64`.
    pub fn transform(&self, x: &[f64]) -> Vec<f64> {
        x.iter()
            .zip(&self.mean)
            .zip(&self.scale)
            .map(|((&v, &m), &s)| (v - m) / s)
            .collect()
    }
}

/// The cold-start item factor `xW` (`x` of length `d`, `w` row-major `d × k`), in `f64`.
pub fn project(x: &[f64], w: &[f64], k: usize) -> Vec<f64> {
    let mut out = vec![0.0f64; k];
    for (&xa, wa) in x.iter().zip(w.chunks_exact(k.max(1))) {
        for (o, &wv) in out.iter_mut().zip(wa) {
            *o += xa * wv;
        }
    }
    out
}

/// The part of the training that depends only on `X`: the features column-major (`d × n`,
/// each feature contiguous) and the Cholesky factor of `λ^V XᵀX + λ^W I`.
struct Design {
    n: usize,
    d: usize,
    /// `d × n`: feature `a` of every item at `a * n .. (a + 1) * n`.
    xt: Vec<f32>,
    /// Upper Cholesky factor of `hv XᵀX + hw I` (`d × d`, row-major).
    chol: Vec<f64>,
    /// `λ^V / 2`.
    hv: f64,
}

impl Design {
    fn new(x: &Features, hv: f64, hw: f64) -> Result<Design, KernelError> {
        let (n, d) = (x.rows, x.d);
        let xt = transpose(x);
        let mut chol = match Isa::detect() {
            Isa::Portable => feature_gram(Portable, &xt, n, d),
            #[cfg(target_arch = "x86_64")]
            Isa::Avx2Fma(t) => feature_gram(t, &xt, n, d),
        };
        // (λ^V/2) XᵀX + (λ^W/2) I has the minimiser of the W-step (the ½ cancel).
        for (a, row) in chol.chunks_exact_mut(d).enumerate() {
            for v in row.iter_mut() {
                *v *= hv;
            }
            row[a] += hw;
        }
        if !cholesky_in_place(Portable, &mut chol, d) {
            return Err(KernelError::Numerical(
                "λ^V XᵀX + λ^W I is singular (fewer training items than features, or λ^V = 0, \
                 with λ^W = 0); use l2_features > 0"
                    .to_string(),
            ));
        }
        Ok(Design { n, d, xt, chol, hv })
    }

    /// Feature `a` of every item.
    fn feature(&self, a: usize) -> &[f32] {
        &self.xt[a * self.n..(a + 1) * self.n]
    }

    /// The W-step: `W = (λ^V XᵀX + λ^W I)⁻¹ λ^V XᵀV`, row-major `d × k`.
    fn solve_w(&self, v: &Factors) -> Vec<f64> {
        let (d, k) = (self.d, v.k);
        let v64: Vec<f64> = v.data.iter().map(|&x| f64::from(x)).collect();
        // B = hv XᵀV, row a = hv Σ_i x_ia v_i.
        let mut b = vec![0.0f64; d * k];
        b.par_chunks_mut(k.max(1))
            .enumerate()
            .with_min_len(4)
            .for_each(|(a, row)| {
                for (&x, vi) in self.feature(a).iter().zip(v64.chunks_exact(k)) {
                    let x = f64::from(x);
                    for (o, &vv) in row.iter_mut().zip(vi) {
                        *o += x * vv;
                    }
                }
                for o in row.iter_mut() {
                    *o *= self.hv;
                }
            });
        // Solve column by column.
        let mut w = vec![0.0f64; d * k];
        let columns: Vec<Vec<f64>> = (0..k)
            .into_par_iter()
            .map(|j| {
                let mut col: Vec<f64> = (0..d).map(|a| b[a * k + j]).collect();
                cholesky_solve(Portable, &self.chol, d, &mut col);
                col
            })
            .collect();
        for (j, col) in columns.iter().enumerate() {
            for (a, &c) in col.iter().enumerate() {
                w[a * k + j] = c;
            }
        }
        w
    }

    /// `XW` (`n × k`) in `f64` and rounded to `f32` factors (the V-step's prior).
    fn x_w(&self, w: &[f64], k: usize) -> (Vec<f64>, Factors) {
        let n = self.n;
        let mut out = vec![0.0f64; n * k];
        const ITEMS: usize = 64;
        out.par_chunks_mut(ITEMS * k.max(1))
            .enumerate()
            .for_each(|(c, block)| {
                let start = c * ITEMS;
                for (a, wa) in w.chunks_exact(k.max(1)).enumerate() {
                    let xs = &self.feature(a)[start..start + block.len() / k];
                    for (&x, o) in xs.iter().zip(block.chunks_exact_mut(k)) {
                        let x = f64::from(x);
                        for (ov, &wv) in o.iter_mut().zip(wa) {
                            *ov += x * wv;
                        }
                    }
                }
            });
        let prior = Factors {
            rows: n,
            k,
            data: out.iter().map(|&v| v as f32).collect(),
        };
        (out, prior)
    }
}

/// `XᵀX` (`d × d`, row-major, `f64`) from the column-major features: each entry one dot product
/// over the items, each row of the result computed by one thread.
fn feature_gram<S: Simd + Send + Sync>(simd: S, xt: &[f32], n: usize, d: usize) -> Vec<f64> {
    let mut g = vec![0.0f64; d * d];
    g.par_chunks_mut(d.max(1)).enumerate().for_each(|(a, row)| {
        let fa = &xt[a * n..(a + 1) * n];
        for (b, v) in row.iter_mut().enumerate().skip(a) {
            *v = simd.dot_f64(fa, &xt[b * n..(b + 1) * n]);
        }
    });
    for a in 0..d {
        for b in 0..a {
            g[a * d + b] = g[b * d + a];
        }
    }
    g
}

/// Halves of the regularisation weights, in the `f32` the row solvers use (the objective uses the
/// same values, so that it measures exactly what the steps minimise).
fn halves(opts: &ContentOptions) -> (f32, f32, f32) {
    (
        opts.l2_user / 2.0,
        opts.l2_item / 2.0,
        opts.l2_features / 2.0,
    )
}

/// `Σ_i ‖v_i − (XW)_i‖²` in `f64`, in fixed chunks.
fn prior_distance(v: &Factors, xw: &[f64]) -> f64 {
    let k = v.k.max(1);
    let partials: Vec<f64> = v
        .data
        .par_chunks(SUM_CHUNK * k)
        .zip(xw.par_chunks(SUM_CHUNK * k))
        .map(|(a, b)| {
            a.iter()
                .zip(b)
                .map(|(&x, &y)| {
                    let e = f64::from(x) - y;
                    e * e
                })
                .sum::<f64>()
        })
        .collect();
    partials.iter().sum()
}

#[allow(clippy::too_many_arguments)]
fn objective_parts(
    isa: Isa,
    r: &Csr,
    u: &Factors,
    v: &Factors,
    gram_u: &[f64],
    gram_v: &[f64],
    xw: &[f64],
    w: &[f64],
    opts: &ContentOptions,
) -> f64 {
    let (hu, hv, hw) = halves(opts);
    let k = u.k;
    let data = objective_from_grams(isa, r, u, v, gram_u, gram_v, opts.alpha, 0.0);
    let trace_u: f64 = (0..k).map(|a| gram_u[a * k + a]).sum();
    let w2: f64 = w.iter().map(|x| x * x).sum();
    data + f64::from(hu) * trace_u + f64::from(hv) * prior_distance(v, xw) + f64::from(hw) * w2
}

fn check_options(opts: &ContentOptions) -> Result<(), KernelError> {
    if opts.factors == 0 {
        return Err(KernelError::InvalidInput(
            "the number of factors must be at least 1".to_string(),
        ));
    }
    check_param("alpha", opts.alpha)?;
    check_param("l2_user", opts.l2_user)?;
    check_param("l2_item", opts.l2_item)?;
    check_param("l2_features", opts.l2_features)?;
    check_param("init_scale", opts.init_scale)?;
    if let Solver::ConjugateGradient { steps: 0 } = opts.solver {
        return Err(KernelError::InvalidInput(
            "conjugate gradient needs at least 1 step".to_string(),
        ));
    }
    Ok(())
}

fn check_shapes(r: &Csr, x: &Features) -> Result<(), KernelError> {
    r.validate()?;
    x.validate()?;
    if x.rows != r.n_cols {
        return Err(KernelError::InvalidInput(format!(
            "{} feature rows for {} items",
            x.rows, r.n_cols
        )));
    }
    Ok(())
}

/// The objective `L(U, V, W)` of the module documentation, in `f64`. Errors when the shapes
/// disagree or an input is malformed.
pub fn content_objective(
    r: &Csr,
    x: &Features,
    fit: &ContentFit,
    opts: &ContentOptions,
) -> Result<f64, KernelError> {
    check_shapes(r, x)?;
    fit.users.validate("user")?;
    fit.items.validate("item")?;
    let k = fit.users.k;
    if fit.users.rows != r.n_rows
        || fit.items.rows != r.n_cols
        || fit.items.k != k
        || fit.w.len() != x.d * k
    {
        return Err(KernelError::InvalidInput(
            "the factors do not fit the interactions and features".to_string(),
        ));
    }
    let isa = Isa::detect();
    let design = Design {
        n: x.rows,
        d: x.d,
        xt: transpose(x),
        chol: Vec::new(),
        hv: 0.0,
    };
    let (xw, _) = design.x_w(&fit.w, k);
    let (gu, gv) = (gram64(isa, &fit.users), gram64(isa, &fit.items));
    Ok(objective_parts(
        isa, r, &fit.users, &fit.items, &gu, &gv, &xw, &fit.w, opts,
    ))
}

fn transpose(x: &Features) -> Vec<f32> {
    let (n, d) = (x.rows, x.d);
    let mut xt = vec![0.0f32; n * d];
    for i in 0..n {
        for (a, &v) in x.row(i).iter().enumerate() {
            xt[a * n + i] = v;
        }
    }
    xt
}

/// The initial `U`, `V` and `W`: uniform in `[0, init_scale)`, drawn in that order from one
/// stream seeded with `seed`.
pub fn initial_fit(n_users: usize, n_items: usize, d: usize, opts: &ContentOptions) -> ContentFit {
    let mut rng = Rng::new(opts.seed);
    let k = opts.factors;
    let mut draw =
        |len: usize| -> Vec<f32> { (0..len).map(|_| rng.next_f32() * opts.init_scale).collect() };
    let users = Factors {
        rows: n_users,
        k,
        data: draw(n_users * k),
    };
    let items = Factors {
        rows: n_items,
        k,
        data: draw(n_items * k),
    };
    let w = draw(d * k).into_iter().map(f64::from).collect();
    ContentFit { users, items, w }
}

/// Fits `U`, `V` and `W` to the implicit feedback `r` (users × items) and the item features `x`
/// (one row per item); see the module documentation. `on_iteration(iteration, objective)` runs
/// after every iteration (1-based); an error it returns stops training. The objective never
/// increases between iterations (up to the rounding of the factors to `f32`).
pub fn content_wrmf(
    r: &Csr,
    x: &Features,
    opts: &ContentOptions,
    on_iteration: &mut dyn FnMut(usize, f64) -> Result<(), KernelError>,
) -> Result<ContentFit, KernelError> {
    content_wrmf_cancellable(r, x, opts, on_iteration, &|| false)
}

/// [`content_wrmf`], also stopping within a step when `stop()` turns true (every row solved
/// checks it first; a stopped step returns [`KernelError::Cancelled`]).
pub fn content_wrmf_cancellable(
    r: &Csr,
    x: &Features,
    opts: &ContentOptions,
    on_iteration: &mut dyn FnMut(usize, f64) -> Result<(), KernelError>,
    stop: &(dyn Fn() -> bool + Sync),
) -> Result<ContentFit, KernelError> {
    check_shapes(r, x)?;
    check_options(opts)?;
    let k = opts.factors;
    let (n_users, n_items, d) = (r.n_rows, r.n_cols, x.d);
    if n_users.checked_mul(k).is_none()
        || n_items.checked_mul(k).is_none()
        || d.checked_mul(k).is_none()
        || d.checked_mul(d).is_none()
    {
        return Err(KernelError::InvalidInput(
            "the factor matrices are too large".to_string(),
        ));
    }
    let (hu, hv, hw) = halves(opts);
    let mut fit = initial_fit(n_users, n_items, d, opts);
    if stop() {
        return Err(KernelError::Cancelled);
    }
    let design = Design::new(x, f64::from(hv), f64::from(hw))?;
    let rt = r.transpose();
    let user_step = HalfStep::new(opts.alpha, hu, opts.solver);
    let item_step = HalfStep::new(opts.alpha, hv, opts.solver);
    let isa = user_step.isa;
    let (_, mut prior) = design.x_w(&fit.w, k);
    let mut gram_v = gram64(isa, &fit.items);
    for it in 1..=opts.iterations {
        user_step.run(r, &fit.items, &gram_v, &mut fit.users, stop)?;
        let gram_u = gram64(isa, &fit.users);
        item_step.run_with_prior(&rt, &fit.users, &gram_u, Some(&prior), &mut fit.items, stop)?;
        gram_v = gram64(isa, &fit.items);
        if stop() {
            return Err(KernelError::Cancelled);
        }
        fit.w = design.solve_w(&fit.items);
        let (xw, p) = design.x_w(&fit.w, k);
        prior = p;
        let obj = objective_parts(
            isa, r, &fit.users, &fit.items, &gram_u, &gram_v, &xw, &fit.w, opts,
        );
        if !obj.is_finite() {
            return Err(KernelError::Numerical(format!(
                "the objective is {obj} after iteration {it}"
            )));
        }
        on_iteration(it, obj)?;
    }
    Ok(fit)
}

#[cfg(test)]
mod tests {
    use super::*;
    use nalgebra::{DMatrix, DVector};
    use rand::rngs::StdRng;
    use rand::{Rng as _, SeedableRng};

    /// A random `n_users × n_items` interaction matrix with about `density` entries, positive
    /// counts and a few explicit zeros; every row and column has an entry.
    fn interactions(n_users: usize, n_items: usize, density: f64, seed: u64) -> Csr {
        let mut rng = StdRng::seed_from_u64(seed);
        let (mut r, mut c, mut v) = (Vec::new(), Vec::new(), Vec::new());
        for u in 0..n_users {
            for i in 0..n_items {
                if rng.random_bool(density) || i == u % n_items || u == i % n_users {
                    r.push(u as u32);
                    c.push(i as u32);
                    let t: f64 = rng.random_range(0.0..1.0);
                    v.push(if t < 0.05 {
                        0.0
                    } else {
                        (1.0 + 6.0 * t * t).floor() as f32
                    });
                }
            }
        }
        Csr::from_triplets(n_users, n_items, &r, &c, &v).unwrap()
    }

    fn features(rows: usize, d: usize, seed: u64) -> Features {
        let mut rng = StdRng::seed_from_u64(seed);
        Features {
            rows,
            d,
            data: (0..rows * d)
                .map(|_| rng.random_range(-1.0..1.0f32))
                .collect(),
        }
    }

    fn dense_r(r: &Csr) -> DMatrix<f64> {
        let mut m = DMatrix::zeros(r.n_rows, r.n_cols);
        for u in 0..r.n_rows {
            let (c, v) = r.row(u);
            for (&c, &v) in c.iter().zip(v) {
                m[(u, c as usize)] = f64::from(v);
            }
        }
        m
    }

    fn dense(rows: usize, cols: usize, data: impl Iterator<Item = f64>) -> DMatrix<f64> {
        DMatrix::from_row_iterator(rows, cols, data)
    }

    fn of_factors(f: &Factors) -> DMatrix<f64> {
        dense(f.rows, f.k, f.data.iter().map(|&v| f64::from(v)))
    }

    fn of_features(x: &Features) -> DMatrix<f64> {
        dense(x.rows, x.d, x.data.iter().map(|&v| f64::from(v)))
    }

    fn opts(solver: Solver) -> ContentOptions {
        ContentOptions {
            factors: 6,
            iterations: 12,
            alpha: 2.0,
            l2_user: 0.1,
            l2_item: 0.5,
            l2_features: 0.3,
            solver,
            seed: 7,
            init_scale: 0.01,
        }
    }

    fn run(r: &Csr, x: &Features, o: &ContentOptions) -> (Vec<f64>, ContentFit) {
        let mut seen = Vec::new();
        let fit = content_wrmf(r, x, o, &mut |it, obj| {
            assert_eq!(it, seen.len() + 1);
            seen.push(obj);
            Ok(())
        })
        .unwrap();
        (seen, fit)
    }

    #[test]
    fn w_step_solves_the_normal_equations() {
        let mut rng = StdRng::seed_from_u64(1);
        let (n, d, k) = (40, 9, 5);
        let x = features(n, d, 2);
        let v = Factors {
            rows: n,
            k,
            data: (0..n * k).map(|_| rng.random_range(-1.0..1.0f32)).collect(),
        };
        for (lv, lw) in [(1e-5f32, 0.1f32), (0.7, 0.0), (2.0, 3.0)] {
            let (hv, hw) = (f64::from(lv / 2.0), f64::from(lw / 2.0));
            let design = Design::new(&x, hv, hw).unwrap();
            let got = dense(d, k, design.solve_w(&v).into_iter());
            // Independent: (λ^V XᵀX + λ^W I) W = λ^V XᵀV with nalgebra's LU.
            let xd = of_features(&x);
            let (lv, lw) = (f64::from(lv), f64::from(lw));
            let a = xd.transpose() * &xd * lv + DMatrix::identity(d, d) * lw;
            let b = xd.transpose() * of_factors(&v) * lv;
            let want = a.lu().solve(&b).unwrap();
            let err = (&got - &want).amax();
            assert!(err <= 1e-9 * want.amax(), "λ {lv} {lw}: {err:e}");
            // The gradient of λ^V/2‖V − XW‖² + λ^W/2‖W‖² vanishes at the solution.
            let grad = xd.transpose() * (&xd * &got - of_factors(&v)) * lv + &got * lw;
            assert!(grad.amax() <= 1e-9 * (1.0 + b.amax()), "{}", grad.amax());
            // XW agrees with the dense product.
            let (xw, prior) = design.x_w(&design.solve_w(&v), k);
            let want_xw = &xd * &want;
            for (g, w) in xw.iter().zip(want_xw.transpose().iter()) {
                assert!((g - w).abs() <= 1e-9 * (1.0 + w.abs()));
            }
            assert_eq!((prior.rows, prior.k), (n, k));
        }
        // Singular without λ^W when there are fewer items than features.
        let wide = features(5, 9, 3);
        assert!(matches!(
            Design::new(&wide, 0.5, 0.0),
            Err(KernelError::Numerical(_))
        ));
        assert!(Design::new(&wide, 0.5, 0.01).is_ok());
    }

    #[test]
    fn user_and_item_steps_match_dense_weighted_least_squares() {
        let (nu, ni, d, k) = (25, 30, 7, 5);
        let r = interactions(nu, ni, 0.15, 4);
        let x = features(ni, d, 5);
        let mut rng = StdRng::seed_from_u64(6);
        let o = ContentOptions {
            factors: k,
            ..opts(Solver::Cholesky)
        };
        let (hu, hv, _) = halves(&o);
        let u0 = Factors {
            rows: nu,
            k,
            data: (0..nu * k)
                .map(|_| rng.random_range(-0.5..0.5f32))
                .collect(),
        };
        let v0 = Factors {
            rows: ni,
            k,
            data: (0..ni * k)
                .map(|_| rng.random_range(-0.5..0.5f32))
                .collect(),
        };
        let w: Vec<f64> = (0..d * k).map(|_| rng.random_range(-0.5..0.5)).collect();
        let design = Design::new(&x, f64::from(hv), 0.1).unwrap();
        let (_, prior) = design.x_w(&w, k);
        let rd = dense_r(&r);
        let alpha = f64::from(o.alpha);
        let isa = Isa::detect();
        // Item step: (UᵀC_iU + λ^V/2 I) v = UᵀC_i p_i + λ^V/2 (XW)_i.
        let ud = of_factors(&u0);
        let xwd = of_features(&x) * dense(d, k, w.iter().copied());
        for solver in [Solver::Cholesky, Solver::ConjugateGradient { steps: 60 }] {
            let mut v = v0.clone();
            let step = HalfStep::new(o.alpha, hv, solver);
            step.run_with_prior(
                &r.transpose(),
                &u0,
                &gram64(isa, &u0),
                Some(&prior),
                &mut v,
                &|| false,
            )
            .unwrap();
            for i in 0..ni {
                let mut a = DMatrix::identity(k, k) * f64::from(hv);
                let mut b = xwd.row(i).transpose() * f64::from(hv);
                for u in 0..nu {
                    let val = rd[(u, i)];
                    let c = 1.0 + alpha * val;
                    let p = if val > 0.0 { 1.0 } else { 0.0 };
                    let uu = ud.row(u).transpose();
                    a += &uu * uu.transpose() * c;
                    b += uu * (c * p);
                }
                let want = a.lu().solve(&b).unwrap();
                let tol = if solver == Solver::Cholesky {
                    1e-5
                } else {
                    1e-3
                };
                for (j, &g) in v.row(i).iter().enumerate() {
                    let err = (f64::from(g) - want[j]).abs();
                    assert!(
                        err <= tol * (1.0 + want.amax()),
                        "{solver:?} item {i}: {err:e}"
                    );
                }
            }
        }
        // User step: (VᵀC_uV + λ^U/2 I) u = VᵀC_u p_u.
        let mut u = u0.clone();
        HalfStep::new(o.alpha, hu, Solver::Cholesky)
            .run(&r, &v0, &gram64(isa, &v0), &mut u, &|| false)
            .unwrap();
        let vd = of_factors(&v0);
        for uix in 0..nu {
            let mut a = DMatrix::identity(k, k) * f64::from(hu);
            let mut b = DVector::zeros(k);
            for i in 0..ni {
                let val = rd[(uix, i)];
                let c = 1.0 + alpha * val;
                let p = if val > 0.0 { 1.0 } else { 0.0 };
                let vv = vd.row(i).transpose();
                a += &vv * vv.transpose() * c;
                b += vv * (c * p);
            }
            let want = a.lu().solve(&b).unwrap();
            for (j, &g) in u.row(uix).iter().enumerate() {
                assert!((f64::from(g) - want[j]).abs() <= 1e-5 * (1.0 + want.amax()));
            }
        }
    }

    #[test]
    fn objective_matches_brute_force() {
        let (nu, ni, d, k) = (20, 15, 4, 3);
        let r = interactions(nu, ni, 0.2, 8);
        let x = features(ni, d, 9);
        let o = ContentOptions {
            factors: k,
            ..opts(Solver::Cholesky)
        };
        let mut rng = StdRng::seed_from_u64(10);
        let mut fit = initial_fit(nu, ni, d, &o);
        for v in fit.users.data.iter_mut().chain(fit.items.data.iter_mut()) {
            *v = rng.random_range(-1.0..1.0);
        }
        for v in &mut fit.w {
            *v = rng.random_range(-1.0..1.0);
        }
        let (ud, vd) = (of_factors(&fit.users), of_factors(&fit.items));
        let wd = dense(d, k, fit.w.iter().copied());
        let rd = dense_r(&r);
        let s = &ud * vd.transpose();
        let mut want = 0.0;
        for u in 0..nu {
            for i in 0..ni {
                let c = 1.0 + f64::from(o.alpha) * rd[(u, i)];
                let p = if rd[(u, i)] > 0.0 { 1.0 } else { 0.0 };
                want += c * (p - s[(u, i)]).powi(2);
            }
        }
        let (lu, lv, lw) = (
            f64::from(o.l2_user),
            f64::from(o.l2_item),
            f64::from(o.l2_features),
        );
        want += lv / 2.0 * (&vd - of_features(&x) * &wd).norm_squared()
            + lu / 2.0 * ud.norm_squared()
            + lw / 2.0 * wd.norm_squared();
        let got = content_objective(&r, &x, &fit, &o).unwrap();
        assert!((got - want).abs() <= 1e-6 * want, "{got} vs {want}");
        let bad = ContentFit {
            w: vec![0.0; 2],
            ..fit
        };
        assert!(content_objective(&r, &x, &bad, &o).is_err());
    }

    #[test]
    fn objective_never_increases() {
        let (nu, ni, d) = (60, 45, 8);
        let r = interactions(nu, ni, 0.1, 11);
        let x = features(ni, d, 12);
        for solver in [Solver::Cholesky, Solver::ConjugateGradient { steps: 3 }] {
            let o = opts(solver);
            let start = content_objective(&r, &x, &initial_fit(nu, ni, d, &o), &o).unwrap();
            let (seen, fit) = run(&r, &x, &o);
            assert_eq!(seen.len(), o.iterations);
            let mut prev = start;
            for (t, &obj) in seen.iter().enumerate() {
                assert!(
                    obj <= prev,
                    "{solver:?}: iteration {} raised {prev} to {obj}",
                    t + 1
                );
                prev = obj;
            }
            assert!(seen[seen.len() - 1] < 0.9 * start);
            let last = content_objective(&r, &x, &fit, &o).unwrap();
            assert!((last - prev).abs() <= 1e-9 * prev, "{last} vs {prev}");
        }
    }

    /// nDCG@k of one ranking (binary relevance).
    fn ndcg_at(scores: &[f64], relevant: &[bool], k: usize) -> Option<f64> {
        let mut order: Vec<usize> = (0..scores.len()).collect();
        order.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]).then(a.cmp(&b)));
        let ranked: Vec<Option<usize>> = order.into_iter().map(Some).collect();
        let rel: Vec<usize> = (0..relevant.len()).filter(|&i| relevant[i]).collect();
        crate::recsys::eval::kernels::ndcg(&ranked, &rel, k)
    }

    #[test]
    fn cold_items_with_linear_factors_are_ranked_well() {
        // Ground truth: item factors are a linear map of the features, V* = X W*, users U*;
        // a user interacts with an item when u*·v* is in the user's top 15 %. 5 % of the items
        // are held out; they are ranked from their features alone.
        let (nu, ni, d, k) = (120, 400, 16, 4);
        let mut rng = StdRng::seed_from_u64(13);
        let x = features(ni, d, 14);
        let w_true: Vec<f64> = (0..d * k).map(|_| rng.random_range(-1.0..1.0)).collect();
        let u_true: Vec<f64> = (0..nu * k).map(|_| rng.random_range(-1.0..1.0)).collect();
        let xd = of_features(&x);
        let truth = dense(nu, k, u_true.iter().copied())
            * (xd.clone() * dense(d, k, w_true.iter().copied())).transpose();
        let held: Vec<usize> = (0..ni).filter(|i| i % 20 == 7).collect();
        let train: Vec<usize> = (0..ni).filter(|i| i % 20 != 7).collect();
        let mut liked = vec![vec![false; ni]; nu];
        for (u, row) in liked.iter_mut().enumerate() {
            let mut s: Vec<f64> = (0..ni).map(|i| truth[(u, i)]).collect();
            s.sort_by(|a, b| b.total_cmp(a));
            let cut = s[ni * 15 / 100];
            for (i, l) in row.iter_mut().enumerate() {
                *l = truth[(u, i)] > cut;
            }
        }
        let (mut rr, mut cc, mut vv) = (Vec::new(), Vec::new(), Vec::new());
        for (u, row) in liked.iter().enumerate() {
            for (j, &i) in train.iter().enumerate() {
                if row[i] {
                    rr.push(u as u32);
                    cc.push(j as u32);
                    vv.push(1.0);
                }
            }
        }
        let r = Csr::from_triplets(nu, train.len(), &rr, &cc, &vv).unwrap();
        let mut xtrain = Features {
            rows: train.len(),
            d,
            data: train.iter().flat_map(|&i| x.row(i).to_vec()).collect(),
        };
        let st = Standardizer::fit(&xtrain);
        st.apply(&mut xtrain);
        let o = ContentOptions {
            factors: 8,
            iterations: 15,
            alpha: 5.0,
            l2_user: 1e-3,
            l2_item: 1.0,
            l2_features: 0.1,
            solver: Solver::Cholesky,
            seed: 3,
            init_scale: 0.01,
        };
        let (_, fit) = run(&r, &xtrain, &o);
        let cold: Vec<Vec<f64>> = held
            .iter()
            .map(|&i| {
                let z = st.transform(&x.row(i).iter().map(|&v| f64::from(v)).collect::<Vec<_>>());
                project(&z, &fit.w, o.factors)
            })
            .collect();
        let (mut model, mut random, mut users) = (0.0, 0.0, 0);
        let mut shuffle = StdRng::seed_from_u64(15);
        for (u, likes) in liked.iter().enumerate() {
            let relevant: Vec<bool> = held.iter().map(|&i| likes[i]).collect();
            if !relevant.iter().any(|&b| b) {
                continue;
            }
            let uf = fit.users.row(u);
            let scores: Vec<f64> = cold
                .iter()
                .map(|v| v.iter().zip(uf).map(|(a, &b)| a * f64::from(b)).sum())
                .collect();
            let noise: Vec<f64> = (0..held.len()).map(|_| shuffle.random()).collect();
            model += ndcg_at(&scores, &relevant, 10).unwrap();
            random += ndcg_at(&noise, &relevant, 10).unwrap();
            users += 1;
        }
        let (model, random) = (model / users as f64, random / users as f64);
        assert!(users > 50, "{users}");
        assert!(
            model > 0.6 && model > random + 0.3,
            "model {model}, random {random}"
        );
    }

    #[test]
    fn deterministic_for_a_seed_and_thread_count() {
        let (nu, ni, d) = (70, 50, 6);
        let r = interactions(nu, ni, 0.1, 16);
        let x = features(ni, d, 17);
        for solver in [Solver::Cholesky, Solver::ConjugateGradient { steps: 3 }] {
            let o = ContentOptions {
                iterations: 3,
                ..opts(solver)
            };
            let go = |threads: usize, o: &ContentOptions| {
                let pool = rayon::ThreadPoolBuilder::new()
                    .num_threads(threads)
                    .build()
                    .unwrap();
                pool.install(|| run(&r, &x, o))
            };
            let (oa, fa) = go(1, &o);
            let (ob, fb) = go(3, &o);
            assert_eq!(oa, ob);
            assert_eq!(fa, fb);
            let (_, fc) = go(
                2,
                &ContentOptions {
                    seed: 8,
                    ..o.clone()
                },
            );
            assert_ne!(fa.users, fc.users);
        }
    }

    #[test]
    fn standardizer_matches_plain_statistics() {
        let mut x = features(30, 3, 18);
        for i in 0..30 {
            x.data[i * 3 + 2] = 4.5; // a constant feature
        }
        let st = Standardizer::fit(&x);
        let col = |a: usize| (0..30).map(|i| f64::from(x.row(i)[a])).collect::<Vec<_>>();
        for a in 0..2 {
            let c = col(a);
            let m = c.iter().sum::<f64>() / 30.0;
            let sd = (c.iter().map(|v| (v - m).powi(2)).sum::<f64>() / 30.0).sqrt();
            assert!((st.mean[a] - m).abs() < 1e-12 && (st.scale[a] - sd).abs() < 1e-12);
        }
        assert_eq!(st.scale[2], 1.0);
        let mut z = x.clone();
        st.apply(&mut z);
        assert!((0..30).all(|i| z.row(i)[2] == 0.0));
        let t = st.transform(&[1.0, 2.0, 4.5]);
        assert!((t[0] - (1.0 - st.mean[0]) / st.scale[0]).abs() < 1e-12 && t[2] == 0.0);
    }

    #[test]
    fn rejects_bad_input() {
        let r = interactions(10, 8, 0.2, 19);
        let x = features(8, 3, 20);
        let base = opts(Solver::Cholesky);
        let mut ok = |_: usize, _: f64| Ok(());
        assert!(content_wrmf(&r, &features(7, 3, 20), &base, &mut ok).is_err());
        let mut nan = x.clone();
        nan.data[4] = f32::NAN;
        assert!(content_wrmf(&r, &nan, &base, &mut ok).is_err());
        for bad in [
            ContentOptions {
                factors: 0,
                ..base.clone()
            },
            ContentOptions {
                l2_features: -1.0,
                ..base.clone()
            },
            ContentOptions {
                l2_item: f32::NAN,
                ..base.clone()
            },
            ContentOptions {
                solver: Solver::ConjugateGradient { steps: 0 },
                ..base.clone()
            },
        ] {
            assert!(matches!(
                content_wrmf(&r, &x, &bad, &mut ok),
                Err(KernelError::InvalidInput(_))
            ));
        }
        let err = content_wrmf(&r, &x, &base, &mut |_, _| Err(KernelError::Cancelled));
        assert_eq!(err.unwrap_err(), KernelError::Cancelled);
        let err = content_wrmf_cancellable(&r, &x, &base, &mut ok, &|| true);
        assert_eq!(err.unwrap_err(), KernelError::Cancelled);
    }
}
