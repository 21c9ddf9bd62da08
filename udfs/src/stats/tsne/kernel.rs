//! Exact t-SNE: the numeric kernel behind trustql's 2-D maps of embeddings.
//!
//! # Why this module exists
//!
//! Analysts draw maps such as thesis Fig. 4.9: a 2-D t-SNE of audio embeddings (for example 24
//! original clips and their small transformations, a few hundred to a few thousand points of
//! 144–256 dimensions) to see whether transformed clips stay next to their originals. The SQL table
//! function hands this kernel the rows' vectors and returns x, y per row; the kernel itself is pure
//! Rust over slices (no Arrow), deterministic, and parallel over rows with rayon.
//!
//! # Algorithm
//!
//! Exact t-SNE (L. van der Maaten and G. Hinton, "Visualizing Data using t-SNE", *JMLR* 9,
//! 2579–2605, 2008), following scikit-learn's `TSNE(method="exact")` and its defaults (≥ 1.2):
//!
//! 1. **Input affinities.** Squared Euclidean distances d_ij. For each row i a binary search over
//!    the Gaussian precision β_i (start 1, doubling/halving until bracketed, then bisection; at most
//!    100 steps; tolerance 1e-5 nats) makes the conditional distribution
//!    p_j|i ∝ exp(−β_i d_ij) have entropy ln(perplexity) (natural logarithms). Distances are shifted
//!    by the row's smallest distance before exponentiating, which leaves p_j|i and the entropy
//!    unchanged but avoids the underflow scikit-learn patches with a 1e-8 guard.
//! 2. **Joint P.** p_ij = (p_j|i + p_i|j) / Σ(p_j|i + p_i|j) (the sum is 2n up to rounding), floored
//!    at `f64::EPSILON` ≈ 2.2e-16 (scikit-learn's `MACHINE_EPSILON`); p_ii is excluded.
//! 3. **Output affinities.** Student t with one degree of freedom:
//!    q_ij = (1 + |y_i − y_j|²)⁻¹ / Z, Z = Σ_{k≠l} (1 + |y_k − y_l|²)⁻¹. (scikit-learn uses
//!    max(dims − 1, 1) degrees of freedom; the two agree for the default `dims = 2`.)
//! 4. **Gradient.** ∂KL/∂y_i = 4 Σ_j (p_ij − q_ij)(y_i − y_j) / (1 + |y_i − y_j|²).
//! 5. **Optimisation.** Gradient descent with momentum and per-parameter gains (gain + 0.2 when the
//!    gradient's sign differs from the previous update's, × 0.8 otherwise, never below 0.01):
//!    the first 250 iterations with P multiplied by the early exaggeration (default 12) and momentum
//!    0.5, the remaining ones with the true P and momentum 0.8; updates and gains restart at the
//!    phase change. Learning rate "auto" = max(n / early_exaggeration / 4, 50). Default 1000
//!    iterations in all, at least 250. As in scikit-learn, every 50 iterations the run stops early
//!    when the gain-scaled gradient norm is ≤ 1e-7 or (second phase) KL has not improved for more
//!    than 300 iterations; [`TsneResult::iterations`] says how many iterations ran.
//! 6. **Initialisation.** [`Init::Pca`] (default): the top `dims` principal components of the
//!    centred data (nalgebra's symmetric eigendecomposition of the d×d cross-product matrix,
//!    or of the n×n Gram matrix when n < d), each component's
//!    loading vector signed so that its largest-|value| entry is positive (scikit-learn's
//!    `svd_flip`), all scaled so that the first column has (population) standard deviation 1e-4,
//!    as scikit-learn's `init="pca"`. [`Init::Random`]: independent N(0, 1e-4²) from xoshiro256++
//!    seeded through SplitMix64, normals by Box–Muller (the crate's shared generator,
//!    `common::rng::Rng`).
//!
//! KL(P‖Q) = Σ_{i≠j} p_ij ln(p_ij / q_ij) (q floored at `f64::EPSILON`) is reported at the end for
//! the final embedding and passed to the progress callback every 50 iterations (always for the
//! true P, also during early exaggeration).
//!
//! # Seeds and determinism
//!
//! The seed enters only [`Init::Random`] and the fallback for a degenerate PCA (when the first
//! principal component has zero variance, e.g. all rows identical, PCA initialisation falls back to
//! the seeded random one). PCA initialisation is otherwise deterministic and ignores the seed.
//! Every parallel reduction is computed row by row, each row sequentially, and row results are
//! combined sequentially in row order, so the same input, parameters and seed give bit-identical
//! embeddings on any number of rayon threads.
//!
//! # Edge cases and limits
//!
//! - n = 0 gives an empty embedding; n = 1 gives the single point at the origin (KL 0, 0
//!   iterations); the perplexity-versus-n rule is not applied to them.
//! - Otherwise perplexity must be < n (scikit-learn's rule), and rows need at least one column.
//! - Errors, never panics, for a length mismatch, a non-finite value (0-based row and column
//!   named), invalid parameters, overflowing distances and a diverging optimisation.
//! - Memory: P is stored as a dense n×n `f64` matrix (8n² bytes: 800 MB at n = 10,000); inputs with
//!   more than [`MAX_ROWS`] = 20,000 rows (3.2 GB) are refused. Time is O(n²·dims) per iteration
//!   plus O(n²·d) once for the distances.
//!
//! # Differences from scikit-learn
//!
//! All arithmetic is `f64` (scikit-learn casts the distances and the initial embedding to
//! `float32`), PCA is this module's own eigendecomposition (not scikit-learn's `PCA` solver), the
//! reported KL is that of the final embedding (scikit-learn's is computed before the last update), and
//! `iterations` counts iterations run (scikit-learn's `n_iter_` is the last 0-based index).
//!
//! # Comparison with scikit-learn
//!
//! `bench/tsne/compare.py` (Python with scikit-learn and numpy; not part of the test suite) runs
//! the SQL function `tsne(view, 'e', 30, 0)` through the CLI and scikit-learn 1.9.1
//! `TSNE(method="exact", init="pca", perplexity=30, random_state=0, max_iter=1000)` on the same
//! data, and scores both embeddings with scikit-learn's own KL objective and
//! `sklearn.manifold.trustworthiness` (k = 5). Measured 2026-11-30 (`python bench/tsne/compare.py
//! --bin target/debug/trustql`):
//!
//! | data (n × d)                                  | KL sklearn | KL here | trust. sklearn | trust. here |
//! |-----------------------------------------------|-----------:|--------:|---------------:|------------:|
//! | first 300 sklearn digits (300 × 64)            |     0.2738 |  0.2690 |         0.9941 |      0.9942 |
//! | 24 centres × 13 copies + N(0, 0.3²) (312×192)  |     0.0585 |  0.0554 |         0.9970 |      0.9970 |
//! | 3 Gaussian clusters (90 × 50)                 |     0.0003 |  0.0003 |         0.9423 |      0.9423 |
//! | 50 centres × 20 copies + N(0, 0.3²) (1000×256) |     0.0307 |  0.0306 |         0.9977 |      0.9977 |
//!
//! Times are in the README's benchmark section.

use rayon::prelude::*;

use super::pca::pca_init;
use crate::common::rng::Rng;

/// Largest number of rows accepted: the dense n×n P matrix takes 8n² bytes (3.2 GB at the limit).
pub const MAX_ROWS: usize = 20_000;
/// Smallest number of iterations accepted (the early-exaggeration phase alone is 250 iterations;
/// scikit-learn has the same minimum).
pub const MIN_ITERATIONS: usize = 250;
/// Length of the early-exaggeration phase in iterations.
pub const EXAGGERATION_ITERATIONS: usize = 250;

const MACHINE_EPSILON: f64 = f64::EPSILON;
const PERPLEXITY_TOLERANCE: f64 = 1e-5;
const PERPLEXITY_STEPS: usize = 100;
const CHECK_EVERY: usize = 50;
const EXAGGERATION_WITHOUT_PROGRESS: usize = 250;
const ITERATIONS_WITHOUT_PROGRESS: usize = 300;
const MIN_GRAD_NORM: f64 = 1e-7;
const MIN_GAIN: f64 = 0.01;
pub(super) const INIT_STD: f64 = 1e-4;
const MOMENTUM_EXAGGERATION: f64 = 0.5;
const MOMENTUM_FINAL: f64 = 0.8;

/// How the embedding is initialised.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Init {
    /// Top principal components, first column scaled to standard deviation 1e-4 (deterministic;
    /// the seed is used only if the data have no variance). The default, as in scikit-learn.
    #[default]
    Pca,
    /// Independent N(0, 1e-4²) coordinates from the seeded xoshiro256++ generator.
    Random,
}

/// Validated t-SNE hyper-parameters; build with [`TsneParams::new`] (or [`Default`]) and refine
/// with the `with_*` methods, each of which validates its value.
#[derive(Clone, Debug, PartialEq)]
pub struct TsneParams {
    perplexity: f64,
    iterations: usize,
    learning_rate: Option<f64>,
    early_exaggeration: f64,
    seed: u64,
    dims: usize,
    init: Init,
}

impl Default for TsneParams {
    /// Perplexity 30, 1000 iterations, automatic learning rate, early exaggeration 12, seed 0,
    /// 2 output dimensions, PCA initialisation (scikit-learn's defaults).
    fn default() -> Self {
        TsneParams {
            perplexity: 30.0,
            iterations: 1000,
            learning_rate: None,
            early_exaggeration: 12.0,
            seed: 0,
            dims: 2,
            init: Init::Pca,
        }
    }
}

impl TsneParams {
    /// Checked parameters with early exaggeration 12, 2 output dimensions and PCA initialisation.
    ///
    /// `perplexity` must be finite and > 0 (whether it is < n is checked by [`tsne`]),
    /// `iterations` ≥ [`MIN_ITERATIONS`], `learning_rate` `None` (auto:
    /// max(n / early_exaggeration / 4, 50)) or finite and > 0.
    pub fn new(
        perplexity: f64,
        iterations: usize,
        learning_rate: Option<f64>,
        seed: u64,
    ) -> Result<Self, TsneError> {
        if !perplexity.is_finite() || perplexity <= 0.0 {
            return Err(TsneError::InvalidPerplexity(perplexity));
        }
        if iterations < MIN_ITERATIONS {
            return Err(TsneError::TooFewIterations {
                iterations,
                minimum: MIN_ITERATIONS,
            });
        }
        if let Some(lr) = learning_rate {
            if !lr.is_finite() || lr <= 0.0 {
                return Err(TsneError::InvalidLearningRate(lr));
            }
        }
        Ok(TsneParams {
            perplexity,
            iterations,
            learning_rate,
            seed,
            ..TsneParams::default()
        })
    }

    /// Sets the early exaggeration (finite, ≥ 1; default 12).
    pub fn with_early_exaggeration(mut self, early_exaggeration: f64) -> Result<Self, TsneError> {
        if !early_exaggeration.is_finite() || early_exaggeration < 1.0 {
            return Err(TsneError::InvalidEarlyExaggeration(early_exaggeration));
        }
        self.early_exaggeration = early_exaggeration;
        Ok(self)
    }

    /// Sets the number of output dimensions (≥ 1; default 2).
    pub fn with_dims(mut self, dims: usize) -> Result<Self, TsneError> {
        if dims == 0 {
            return Err(TsneError::InvalidDims(dims));
        }
        self.dims = dims;
        Ok(self)
    }

    /// Sets the initialisation (default [`Init::Pca`]).
    pub fn with_init(mut self, init: Init) -> Self {
        self.init = init;
        self
    }

    /// The perplexity.
    pub fn perplexity(&self) -> f64 {
        self.perplexity
    }

    /// The total number of iterations (early exaggeration included).
    pub fn iterations(&self) -> usize {
        self.iterations
    }

    /// The learning rate as given (`None` = auto).
    pub fn learning_rate(&self) -> Option<f64> {
        self.learning_rate
    }

    /// The learning rate used for `n` rows: the given one, or max(n / early_exaggeration / 4, 50).
    pub fn effective_learning_rate(&self, n: usize) -> f64 {
        match self.learning_rate {
            Some(lr) => lr,
            None => (n as f64 / self.early_exaggeration / 4.0).max(50.0),
        }
    }

    /// The early exaggeration.
    pub fn early_exaggeration(&self) -> f64 {
        self.early_exaggeration
    }

    /// The seed (used by [`Init::Random`] and the degenerate-PCA fallback only).
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// The number of output dimensions.
    pub fn dims(&self) -> usize {
        self.dims
    }

    /// The initialisation.
    pub fn init(&self) -> Init {
        self.init
    }
}

/// Why t-SNE parameters or inputs were rejected, or why the computation failed.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum TsneError {
    /// Perplexity not finite or ≤ 0.
    #[error("t-SNE perplexity must be a finite number > 0, got {0}")]
    InvalidPerplexity(f64),
    /// Perplexity not below the number of rows.
    #[error(
        "t-SNE perplexity must be less than the number of rows (scikit-learn's rule), got \
         perplexity {perplexity} for {n} rows; lower the perplexity or add rows"
    )]
    PerplexityTooLarge {
        /// The perplexity given.
        perplexity: f64,
        /// The number of rows.
        n: usize,
    },
    /// Fewer iterations than the minimum.
    #[error(
        "t-SNE needs at least {minimum} iterations (the early-exaggeration phase alone \
         takes {}), got {iterations}",
        EXAGGERATION_ITERATIONS
    )]
    TooFewIterations {
        /// The iterations given.
        iterations: usize,
        /// The minimum ([`MIN_ITERATIONS`]).
        minimum: usize,
    },
    /// Learning rate not finite or ≤ 0.
    #[error("t-SNE learning rate must be a finite number > 0 (or automatic), got {0}")]
    InvalidLearningRate(f64),
    /// Early exaggeration not finite or < 1.
    #[error("t-SNE early exaggeration must be a finite number >= 1, got {0}")]
    InvalidEarlyExaggeration(f64),
    /// Zero output dimensions.
    #[error("t-SNE output dimensions must be at least 1, got {0}")]
    InvalidDims(usize),
    /// `data.len()` is not `n * d`.
    #[error(
        "t-SNE input has {len} values, but {n} rows x {d} columns need {}",
        (*.n as u128) * (*.d as u128)
    )]
    LengthMismatch {
        /// `data.len()`.
        len: usize,
        /// Rows.
        n: usize,
        /// Columns.
        d: usize,
    },
    /// A NaN or infinite input value (0-based row and column).
    #[error(
        "t-SNE input value at row {row}, column {column} (0-based) is {value}; all values \
         must be finite"
    )]
    NonFinite {
        /// Row index (0-based).
        row: usize,
        /// Column index (0-based).
        column: usize,
        /// The value.
        value: f64,
    },
    /// More rows than [`MAX_ROWS`].
    #[error("exact t-SNE stores a dense n x n matrix; {n} rows exceed the limit of {max} rows")]
    TooManyRows {
        /// Rows given.
        n: usize,
        /// The limit.
        max: usize,
    },
    /// Two or more rows but zero columns.
    #[error("t-SNE input has {n} rows but no columns")]
    NoColumns {
        /// Rows given.
        n: usize,
    },
    /// A squared distance (or the PCA cross-products) overflowed `f64`.
    #[error("t-SNE squared distances overflow f64 (at row {row}); rescale the data")]
    Overflow {
        /// A row involved (0-based).
        row: usize,
    },
    /// The symmetric eigen-solver of the PCA initialisation did not converge.
    #[error(
        "t-SNE PCA initialisation: the eigen-solver did not converge; use random \
         initialisation"
    )]
    EigenSolverFailed,
    /// The embedding became non-finite.
    #[error(
        "t-SNE optimisation diverged (non-finite embedding after {iteration} iterations); \
         use a smaller learning rate"
    )]
    Diverged {
        /// Iterations completed when it was detected.
        iteration: usize,
    },
}

/// The result of [`tsne`].
#[derive(Clone, Debug, PartialEq)]
pub struct TsneResult {
    /// The embedding, n × dims, row-major.
    pub embedding: Vec<f64>,
    /// KL(P‖Q) of the final embedding (nats).
    pub kl_divergence: f64,
    /// Iterations run (fewer than requested when the run stopped early; 0 for n ≤ 1).
    pub iterations: usize,
}

/// Embeds the `n` rows of `data` (row-major, `d` columns) with exact t-SNE (see the module docs).
///
/// `progress(iter, kl)` is called every 50 iterations with the number of iterations completed and
/// KL(P‖Q) of the embedding at the start of that iteration.
pub fn tsne(
    data: &[f64],
    n: usize,
    d: usize,
    params: &TsneParams,
    progress: &mut dyn FnMut(usize, f64),
) -> Result<TsneResult, TsneError> {
    if n.checked_mul(d) != Some(data.len()) {
        return Err(TsneError::LengthMismatch {
            len: data.len(),
            n,
            d,
        });
    }
    if n > MAX_ROWS {
        return Err(TsneError::TooManyRows { n, max: MAX_ROWS });
    }
    if let Some(pos) = data.iter().position(|v| !v.is_finite()) {
        return Err(TsneError::NonFinite {
            row: pos / d,
            column: pos % d,
            value: data[pos],
        });
    }
    let dims = params.dims;
    if n <= 1 {
        return Ok(TsneResult {
            embedding: vec![0.0; n * dims],
            kl_divergence: 0.0,
            iterations: 0,
        });
    }
    if d == 0 {
        return Err(TsneError::NoColumns { n });
    }
    if params.perplexity >= n as f64 {
        return Err(TsneError::PerplexityTooLarge {
            perplexity: params.perplexity,
            n,
        });
    }

    let p = joint_probabilities(data, n, d, params.perplexity)?;
    let y = match params.init {
        Init::Pca => match pca_init(data, n, d, dims)? {
            Some(y) => y,
            None => random_init(n, dims, params.seed),
        },
        Init::Random => random_init(n, dims, params.seed),
    };
    optimise(y, &p, n, dims, params, progress)
}

/// Conditional probabilities p_j|i (row i of the n×n result), each row calibrated by binary search
/// to entropy ln(perplexity); the diagonal is 0.
pub(crate) fn conditional_probabilities(
    data: &[f64],
    n: usize,
    d: usize,
    perplexity: f64,
) -> Result<Vec<f64>, TsneError> {
    let target = perplexity.ln();
    let mut p = vec![0.0; n * n];
    p.par_chunks_mut(n)
        .enumerate()
        .try_for_each(|(i, row)| -> Result<(), TsneError> {
            let xi = &data[i * d..(i + 1) * d];
            let mut dist = vec![0.0; n];
            let mut dmin = f64::INFINITY;
            for (j, (dj, xj)) in dist.iter_mut().zip(data.chunks_exact(d)).enumerate() {
                if j == i {
                    continue;
                }
                let s: f64 = xi
                    .iter()
                    .zip(xj)
                    .map(|(a, b)| (a - b) * (a - b))
                    .fold(0.0, |acc, v| acc + v);
                if !s.is_finite() {
                    return Err(TsneError::Overflow { row: i });
                }
                *dj = s;
                dmin = dmin.min(s);
            }
            for (j, dj) in dist.iter_mut().enumerate() {
                *dj = if j == i { 0.0 } else { *dj - dmin };
            }
            calibrate_row(&dist, i, target, row);
            Ok(())
        })?;
    Ok(p)
}

/// Binary search for the precision β of row `i` (distances already shifted so that the smallest
/// off-diagonal one is 0); writes the normalised probabilities into `row`.
fn calibrate_row(dist: &[f64], i: usize, target_entropy: f64, row: &mut [f64]) {
    let mut beta = 1.0_f64;
    let mut beta_min = f64::NEG_INFINITY;
    let mut beta_max = f64::INFINITY;
    for _ in 0..PERPLEXITY_STEPS {
        let mut sum = 0.0;
        for (j, (pj, dj)) in row.iter_mut().zip(dist).enumerate() {
            if j == i {
                *pj = 0.0;
            } else {
                *pj = (-dj * beta).exp();
                sum += *pj;
            }
        }
        // The nearest neighbour contributes exp(0) = 1, so sum >= 1.
        let mut weighted = 0.0;
        for (pj, dj) in row.iter_mut().zip(dist) {
            *pj /= sum;
            weighted += dj * *pj;
        }
        let entropy = sum.ln() + beta * weighted;
        let diff = entropy - target_entropy;
        if diff.abs() <= PERPLEXITY_TOLERANCE {
            break;
        }
        if diff > 0.0 {
            beta_min = beta;
            beta = if beta_max == f64::INFINITY {
                beta * 2.0
            } else {
                (beta + beta_max) / 2.0
            };
        } else {
            beta_max = beta;
            beta = if beta_min == f64::NEG_INFINITY {
                beta / 2.0
            } else {
                (beta + beta_min) / 2.0
            };
        }
    }
}

/// The symmetric joint probabilities P (n×n, zero diagonal, off-diagonal floored at
/// `f64::EPSILON`, summing to 1 up to the floor).
pub(crate) fn joint_probabilities(
    data: &[f64],
    n: usize,
    d: usize,
    perplexity: f64,
) -> Result<Vec<f64>, TsneError> {
    let mut p = conditional_probabilities(data, n, d, perplexity)?;
    let row_sums: Vec<f64> = p.par_chunks(n).map(|r| r.iter().sum::<f64>()).collect();
    let total = (2.0 * row_sums.iter().fold(0.0, |acc, v| acc + v)).max(MACHINE_EPSILON);
    for i in 0..n {
        p[i * n + i] = 0.0;
        for j in i + 1..n {
            let v = ((p[i * n + j] + p[j * n + i]) / total).max(MACHINE_EPSILON);
            p[i * n + j] = v;
            p[j * n + i] = v;
        }
    }
    Ok(p)
}

/// Per-row terms of the gradient for row `i` with `D` output dimensions: writes the attractive sum
/// Σ_j p_ij t_ij (y_i − y_j) into `attr`, the repulsive sum Σ_j t_ij² (y_i − y_j) into `rep`, and
/// returns z_i = Σ_{j≠i} t_ij, where t_ij = 1 / (1 + |y_i − y_j|²).
fn row_terms_fixed<const D: usize>(
    i: usize,
    y: &[f64],
    p_row: &[f64],
    attr: &mut [f64],
    rep: &mut [f64],
) -> f64 {
    let mut yi = [0.0; D];
    yi.copy_from_slice(&y[i * D..(i + 1) * D]);
    let mut a = [0.0; D];
    let mut r = [0.0; D];
    let mut z = 0.0;
    for (j, (yj, &pij)) in y.chunks_exact(D).zip(p_row).enumerate() {
        if j == i {
            continue;
        }
        let mut diff = [0.0; D];
        let mut d2 = 0.0;
        for k in 0..D {
            diff[k] = yi[k] - yj[k];
            d2 += diff[k] * diff[k];
        }
        let t = 1.0 / (1.0 + d2);
        z += t;
        let pt = pij * t;
        let tt = t * t;
        for k in 0..D {
            a[k] += pt * diff[k];
            r[k] += tt * diff[k];
        }
    }
    attr.copy_from_slice(&a);
    rep.copy_from_slice(&r);
    z
}

/// [`row_terms_fixed`] for any number of output dimensions (same operation order).
fn row_terms_dyn(
    i: usize,
    y: &[f64],
    p_row: &[f64],
    dims: usize,
    attr: &mut [f64],
    rep: &mut [f64],
) -> f64 {
    let yi = &y[i * dims..(i + 1) * dims];
    let mut diff = vec![0.0; dims];
    attr.fill(0.0);
    rep.fill(0.0);
    let mut z = 0.0;
    for (j, (yj, &pij)) in y.chunks_exact(dims).zip(p_row).enumerate() {
        if j == i {
            continue;
        }
        let mut d2 = 0.0;
        for ((dk, a), b) in diff.iter_mut().zip(yi).zip(yj) {
            *dk = a - b;
            d2 += *dk * *dk;
        }
        let t = 1.0 / (1.0 + d2);
        z += t;
        let pt = pij * t;
        let tt = t * t;
        for ((a, r), dk) in attr.iter_mut().zip(rep.iter_mut()).zip(&diff) {
            *a += pt * dk;
            *r += tt * dk;
        }
    }
    z
}

/// Scratch buffers for the gradient.
struct Workspace {
    attr: Vec<f64>,
    rep: Vec<f64>,
    z_rows: Vec<f64>,
}

impl Workspace {
    fn new(n: usize, dims: usize) -> Self {
        Workspace {
            attr: vec![0.0; n * dims],
            rep: vec![0.0; n * dims],
            z_rows: vec![0.0; n],
        }
    }
}

/// Writes the gradient of KL(exaggeration·P ‖ Q) at `y` into `grad` and returns the normaliser Z.
fn gradient_into(
    y: &[f64],
    p: &[f64],
    n: usize,
    dims: usize,
    exaggeration: f64,
    ws: &mut Workspace,
    grad: &mut [f64],
) -> f64 {
    ws.attr
        .par_chunks_mut(dims)
        .zip(ws.rep.par_chunks_mut(dims))
        .zip(ws.z_rows.par_iter_mut())
        .enumerate()
        .for_each(|(i, ((attr, rep), z))| {
            let p_row = &p[i * n..(i + 1) * n];
            *z = match dims {
                1 => row_terms_fixed::<1>(i, y, p_row, attr, rep),
                2 => row_terms_fixed::<2>(i, y, p_row, attr, rep),
                3 => row_terms_fixed::<3>(i, y, p_row, attr, rep),
                _ => row_terms_dyn(i, y, p_row, dims, attr, rep),
            };
        });
    let z = ws.z_rows.iter().fold(0.0, |acc, v| acc + v);
    for ((g, a), r) in grad.iter_mut().zip(&ws.attr).zip(&ws.rep) {
        *g = 4.0 * (exaggeration * a - r / z);
    }
    z
}

/// The normaliser Z = Σ_{i≠j} 1 / (1 + |y_i − y_j|²), summed row by row in row order.
fn normaliser(y: &[f64], n: usize, dims: usize) -> f64 {
    let rows: Vec<f64> = (0..n)
        .into_par_iter()
        .map(|i| {
            let yi = &y[i * dims..(i + 1) * dims];
            let mut z = 0.0;
            for (j, yj) in y.chunks_exact(dims).enumerate() {
                if j != i {
                    z += 1.0 / (1.0 + sq_dist(yi, yj));
                }
            }
            z
        })
        .collect();
    rows.iter().fold(0.0, |acc, v| acc + v)
}

fn sq_dist(a: &[f64], b: &[f64]) -> f64 {
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y) * (x - y))
        .fold(0.0, |acc, v| acc + v)
}

/// KL(P‖Q) given the normaliser `z` of `y` (q floored at `f64::EPSILON`).
fn kl_with_z(y: &[f64], p: &[f64], n: usize, dims: usize, z: f64) -> f64 {
    let rows: Vec<f64> = (0..n)
        .into_par_iter()
        .map(|i| {
            let yi = &y[i * dims..(i + 1) * dims];
            let p_row = &p[i * n..(i + 1) * n];
            let mut kl = 0.0;
            for (j, (yj, &pij)) in y.chunks_exact(dims).zip(p_row).enumerate() {
                if j != i {
                    let q = (1.0 / (1.0 + sq_dist(yi, yj)) / z).max(MACHINE_EPSILON);
                    kl += pij * (pij.max(MACHINE_EPSILON) / q).ln();
                }
            }
            kl
        })
        .collect();
    rows.iter().fold(0.0, |acc, v| acc + v)
}

/// KL(P‖Q) of the embedding `y` (n × dims) for the joint probabilities `p` (n × n).
pub(crate) fn kl_divergence(y: &[f64], p: &[f64], n: usize, dims: usize) -> f64 {
    let z = normaliser(y, n, dims);
    kl_with_z(y, p, n, dims, z)
}

/// The analytic gradient of KL(P‖Q) with respect to `y` (no exaggeration); the optimiser uses
/// the same code path with the exaggeration factor.
#[cfg_attr(not(test), allow(dead_code))]
pub(crate) fn kl_gradient(y: &[f64], p: &[f64], n: usize, dims: usize) -> Vec<f64> {
    let mut ws = Workspace::new(n, dims);
    let mut grad = vec![0.0; n * dims];
    gradient_into(y, p, n, dims, 1.0, &mut ws, &mut grad);
    grad
}

/// The two-phase gradient descent (see the module docs).
fn optimise(
    mut y: Vec<f64>,
    p: &[f64],
    n: usize,
    dims: usize,
    params: &TsneParams,
    progress: &mut dyn FnMut(usize, f64),
) -> Result<TsneResult, TsneError> {
    let lr = params.effective_learning_rate(n);
    let total = params.iterations;
    let m = n * dims;
    let mut ws = Workspace::new(n, dims);
    let mut grad = vec![0.0; m];
    let mut update = vec![0.0; m];
    let mut gains = vec![1.0_f64; m];
    let phases = [
        (
            EXAGGERATION_ITERATIONS.min(total),
            MOMENTUM_EXAGGERATION,
            params.early_exaggeration,
            EXAGGERATION_WITHOUT_PROGRESS,
        ),
        (total, MOMENTUM_FINAL, 1.0, ITERATIONS_WITHOUT_PROGRESS),
    ];
    let mut it = 0;
    for (end, momentum, exaggeration, without_progress) in phases {
        update.fill(0.0);
        gains.fill(1.0);
        let mut best_error = f64::MAX;
        let mut best_iter = it;
        while it < end {
            let z = gradient_into(&y, p, n, dims, exaggeration, &mut ws, &mut grad);
            let check = (it + 1) % CHECK_EVERY == 0;
            let error = if check {
                kl_with_z(&y, p, n, dims, z)
            } else {
                f64::NAN
            };
            for (((yk, gk), uk), gain) in y
                .iter_mut()
                .zip(grad.iter_mut())
                .zip(update.iter_mut())
                .zip(gains.iter_mut())
            {
                if *uk * *gk < 0.0 {
                    *gain += 0.2;
                } else {
                    *gain *= 0.8;
                }
                *gain = (*gain).max(MIN_GAIN);
                *gk *= *gain;
                *uk = momentum * *uk - lr * *gk;
                *yk += *uk;
            }
            it += 1;
            if check {
                if !error.is_finite() || y.iter().any(|v| !v.is_finite()) {
                    return Err(TsneError::Diverged { iteration: it });
                }
                progress(it, error);
                let grad_norm = grad.iter().fold(0.0, |acc, g| acc + g * g).sqrt();
                if error < best_error {
                    best_error = error;
                    best_iter = it;
                } else if it - best_iter > without_progress {
                    break;
                }
                if grad_norm <= MIN_GRAD_NORM {
                    break;
                }
            }
        }
    }
    if y.iter().any(|v| !v.is_finite()) {
        return Err(TsneError::Diverged { iteration: it });
    }
    let kl = kl_divergence(&y, p, n, dims);
    Ok(TsneResult {
        embedding: y,
        kl_divergence: kl,
        iterations: it,
    })
}

/// Independent N(0, 1e-4²) coordinates, row-major.
fn random_init(n: usize, dims: usize, seed: u64) -> Vec<f64> {
    let mut rng = Rng::new(seed);
    (0..n * dims).map(|_| INIT_STD * rng.normal()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gaussian_data(n: usize, d: usize, seed: u64) -> Vec<f64> {
        let mut rng = Rng::new(seed);
        (0..n * d).map(|_| rng.normal()).collect()
    }

    /// Three clusters of 30 points in 50-D, centres 10 apart per coordinate direction.
    fn three_clusters(seed: u64) -> (Vec<f64>, Vec<usize>) {
        let (per, d) = (30, 50);
        let mut rng = Rng::new(seed);
        let mut data = Vec::new();
        let mut labels = Vec::new();
        for c in 0..3 {
            for _ in 0..per {
                for k in 0..d {
                    let centre = if k % 3 == c { 10.0 } else { 0.0 };
                    data.push(centre + rng.normal());
                }
                labels.push(c);
            }
        }
        (data, labels)
    }

    fn no_progress() -> impl FnMut(usize, f64) {
        |_, _| {}
    }

    #[test]
    fn perplexity_calibration_matches_target_entropy() {
        let (n, d) = (120, 10);
        let data = gaussian_data(n, d, 7);
        for perplexity in [5.0, 30.0, 80.0] {
            let p = conditional_probabilities(&data, n, d, perplexity).unwrap();
            for i in 0..n {
                let row = &p[i * n..(i + 1) * n];
                assert_eq!(row[i], 0.0);
                let total: f64 = row.iter().sum();
                assert!((total - 1.0).abs() < 1e-12);
                let entropy: f64 = row.iter().filter(|&&v| v > 0.0).map(|&v| -v * v.ln()).sum();
                assert!(
                    (entropy - perplexity.ln()).abs() < 1e-4,
                    "row {i}: entropy {entropy} vs {}",
                    perplexity.ln()
                );
            }
        }
    }

    #[test]
    fn perplexity_calibration_survives_large_distances() {
        // Squared distances ~1e6: exp(-d) underflows without the shift.
        let (n, d) = (50, 8);
        let data: Vec<f64> = gaussian_data(n, d, 3).iter().map(|v| v * 300.0).collect();
        let p = conditional_probabilities(&data, n, d, 10.0).unwrap();
        for i in 0..n {
            let row = &p[i * n..(i + 1) * n];
            let entropy: f64 = row.iter().filter(|&&v| v > 0.0).map(|&v| -v * v.ln()).sum();
            assert!((entropy - 10f64.ln()).abs() < 1e-4);
        }
    }

    #[test]
    fn joint_probabilities_symmetric_and_normalised() {
        let (n, d) = (40, 5);
        let data = gaussian_data(n, d, 11);
        let p = joint_probabilities(&data, n, d, 10.0).unwrap();
        let mut total = 0.0;
        for i in 0..n {
            assert_eq!(p[i * n + i], 0.0);
            for j in 0..n {
                assert_eq!(p[i * n + j], p[j * n + i]);
                total += p[i * n + j];
            }
        }
        assert!((total - 1.0).abs() < 1e-12);
    }

    #[test]
    fn gradient_matches_finite_differences() {
        let (n, d, dims) = (8, 5, 2);
        let data = gaussian_data(n, d, 5);
        let p = joint_probabilities(&data, n, d, 3.0).unwrap();
        let y = gaussian_data(n, dims, 99);
        let grad = kl_gradient(&y, &p, n, dims);
        let h = 1e-5;
        let mut num = vec![0.0; n * dims];
        for k in 0..n * dims {
            let mut yp = y.clone();
            yp[k] += h;
            let mut ym = y.clone();
            ym[k] -= h;
            num[k] =
                (kl_divergence(&yp, &p, n, dims) - kl_divergence(&ym, &p, n, dims)) / (2.0 * h);
        }
        let diff: f64 = grad
            .iter()
            .zip(&num)
            .map(|(a, b)| (a - b) * (a - b))
            .sum::<f64>()
            .sqrt();
        let norm: f64 = grad.iter().map(|a| a * a).sum::<f64>().sqrt();
        assert!(norm > 1e-3, "degenerate test gradient");
        assert!(diff / norm < 1e-5, "relative error {}", diff / norm);
        for (a, b) in grad.iter().zip(&num) {
            assert!((a - b).abs() < 1e-5 * norm, "{a} vs {b}");
        }
    }

    #[test]
    fn gradient_in_three_dims_matches_finite_differences() {
        // Covers the fixed-size kernel for D = 3 and the dynamic one for D = 4.
        for dims in [3, 4] {
            let (n, d) = (8, 5);
            let data = gaussian_data(n, d, 6);
            let p = joint_probabilities(&data, n, d, 3.0).unwrap();
            let y = gaussian_data(n, dims, 98);
            let grad = kl_gradient(&y, &p, n, dims);
            let h = 1e-5;
            let mut err = 0.0;
            let mut norm = 0.0;
            for k in 0..n * dims {
                let mut yp = y.clone();
                yp[k] += h;
                let mut ym = y.clone();
                ym[k] -= h;
                let fd =
                    (kl_divergence(&yp, &p, n, dims) - kl_divergence(&ym, &p, n, dims)) / (2.0 * h);
                err += (fd - grad[k]) * (fd - grad[k]);
                norm += grad[k] * grad[k];
            }
            assert!((err / norm).sqrt() < 1e-5, "dims {dims}");
        }
    }

    #[test]
    fn fixed_and_dynamic_row_kernels_agree_bitwise() {
        let n = 20;
        let data = gaussian_data(n, 4, 8);
        let p = joint_probabilities(&data, n, 4, 5.0).unwrap();
        let y = gaussian_data(n, 2, 9);
        for i in 0..n {
            let (mut a1, mut r1, mut a2, mut r2) = ([0.0; 2], [0.0; 2], [0.0; 2], [0.0; 2]);
            let p_row = &p[i * n..(i + 1) * n];
            let z1 = row_terms_fixed::<2>(i, &y, p_row, &mut a1, &mut r1);
            let z2 = row_terms_dyn(i, &y, p_row, 2, &mut a2, &mut r2);
            assert_eq!((z1, a1, r1), (z2, a2, r2));
        }
    }

    #[test]
    fn separates_three_clusters() {
        let (data, labels) = three_clusters(2024);
        let n = labels.len();
        let params = TsneParams::new(30.0, 1000, None, 0).unwrap();
        let mut calls = Vec::new();
        let res = tsne(&data, n, 50, &params, &mut |it, kl| calls.push((it, kl))).unwrap();
        assert_eq!(res.embedding.len(), 2 * n);
        assert!(res.kl_divergence.is_finite() && res.kl_divergence > 0.0);
        assert!(!calls.is_empty() && calls.iter().all(|(it, _)| it % 50 == 0));
        let y = &res.embedding;
        let dist = |i: usize, j: usize| {
            ((y[2 * i] - y[2 * j]).powi(2) + (y[2 * i + 1] - y[2 * j + 1]).powi(2)).sqrt()
        };
        for i in 0..n {
            let nn = (0..n)
                .filter(|&j| j != i)
                .min_by(|&a, &b| dist(i, a).total_cmp(&dist(i, b)))
                .unwrap();
            assert_eq!(labels[nn], labels[i], "point {i}");
        }
        let mut centroids = [[0.0; 2]; 3];
        for i in 0..n {
            centroids[labels[i]][0] += y[2 * i] / 30.0;
            centroids[labels[i]][1] += y[2 * i + 1] / 30.0;
        }
        // Spread: largest distance of a member from its centroid.
        let mut spread = [0.0f64; 3];
        for i in 0..n {
            let c = centroids[labels[i]];
            let r = ((y[2 * i] - c[0]).powi(2) + (y[2 * i + 1] - c[1]).powi(2)).sqrt();
            spread[labels[i]] = spread[labels[i]].max(r);
        }
        for a in 0..3 {
            for b in a + 1..3 {
                let between = ((centroids[a][0] - centroids[b][0]).powi(2)
                    + (centroids[a][1] - centroids[b][1]).powi(2))
                .sqrt();
                assert!(
                    between > spread[a] + spread[b],
                    "clusters {a},{b}: {between} vs {} + {}",
                    spread[a],
                    spread[b]
                );
            }
        }
    }

    #[test]
    fn deterministic_across_runs_and_thread_counts() {
        let (data, labels) = three_clusters(7);
        let n = labels.len();
        for init in [Init::Pca, Init::Random] {
            let params = TsneParams::new(15.0, 300, None, 42)
                .unwrap()
                .with_init(init);
            let run = |threads: usize| {
                rayon::ThreadPoolBuilder::new()
                    .num_threads(threads)
                    .build()
                    .unwrap()
                    .install(|| tsne(&data, n, 50, &params, &mut no_progress()).unwrap())
            };
            let one = run(1);
            let two = run(2);
            let again = run(2);
            let bits = |r: &TsneResult| r.embedding.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(&one), bits(&two), "{init:?}");
            assert_eq!(bits(&two), bits(&again), "{init:?}");
            assert_eq!(one.kl_divergence.to_bits(), two.kl_divergence.to_bits());
        }
        // Another seed changes a random initialisation but not a PCA one.
        let run_seed = |init: Init, seed: u64| {
            let params = TsneParams::new(15.0, 250, None, seed)
                .unwrap()
                .with_init(init);
            tsne(&data, n, 50, &params, &mut no_progress())
                .unwrap()
                .embedding
        };
        assert_ne!(run_seed(Init::Random, 1), run_seed(Init::Random, 2));
        assert_eq!(run_seed(Init::Pca, 1), run_seed(Init::Pca, 2));
    }

    #[test]
    fn rejects_bad_parameters() {
        for p in [0.0, -1.0, f64::NAN, f64::INFINITY] {
            let err = TsneParams::new(p, 1000, None, 0).unwrap_err();
            assert!(matches!(err, TsneError::InvalidPerplexity(_)));
            assert!(err.to_string().contains("perplexity"));
        }
        assert_eq!(
            TsneParams::new(30.0, 249, None, 0).unwrap_err(),
            TsneError::TooFewIterations {
                iterations: 249,
                minimum: 250
            }
        );
        for lr in [0.0, -5.0, f64::NAN] {
            assert!(matches!(
                TsneParams::new(30.0, 1000, Some(lr), 0).unwrap_err(),
                TsneError::InvalidLearningRate(_)
            ));
        }
        let base = TsneParams::default();
        assert!(base.clone().with_early_exaggeration(0.5).is_err());
        assert!(base.clone().with_dims(0).is_err());
        assert_eq!(base.effective_learning_rate(100), 50.0);
        assert_eq!(base.effective_learning_rate(4800), 100.0);
        // Perplexity must be below n.
        let data = gaussian_data(10, 3, 1);
        let params = TsneParams::new(10.0, 250, None, 0).unwrap();
        let err = tsne(&data, 10, 3, &params, &mut no_progress()).unwrap_err();
        assert_eq!(
            err,
            TsneError::PerplexityTooLarge {
                perplexity: 10.0,
                n: 10
            }
        );
        assert!(err.to_string().contains("less than the number of rows"));
    }

    #[test]
    fn rejects_bad_inputs() {
        let params = TsneParams::new(2.0, 250, None, 0).unwrap();
        let mut data = gaussian_data(10, 3, 1);
        let err = tsne(&data[..29], 10, 3, &params, &mut no_progress()).unwrap_err();
        assert_eq!(
            err,
            TsneError::LengthMismatch {
                len: 29,
                n: 10,
                d: 3
            }
        );
        assert!(err.to_string().contains("29 values"));
        data[3 * 4 + 2] = f64::NAN;
        let err = tsne(&data, 10, 3, &params, &mut no_progress()).unwrap_err();
        assert!(matches!(
            err,
            TsneError::NonFinite {
                row: 4,
                column: 2,
                ..
            }
        ));
        assert!(err.to_string().contains("row 4, column 2"));
        data[3 * 4 + 2] = f64::NEG_INFINITY;
        assert!(tsne(&data, 10, 3, &params, &mut no_progress()).is_err());
        let err = tsne(&[], MAX_ROWS + 1, 0, &params, &mut no_progress()).unwrap_err();
        assert!(matches!(err, TsneError::TooManyRows { .. }));
        let err = tsne(&[], 5, 0, &params, &mut no_progress()).unwrap_err();
        assert_eq!(err, TsneError::NoColumns { n: 5 });
        let huge = vec![1e200, -1e200, 0.0, 1.0];
        let err = tsne(
            &huge,
            2,
            2,
            &TsneParams::new(1.0, 250, None, 0).unwrap(),
            &mut no_progress(),
        )
        .unwrap_err();
        assert!(matches!(err, TsneError::Overflow { .. }));
    }

    #[test]
    fn tiny_and_degenerate_inputs() {
        let params = TsneParams::default();
        let empty = tsne(&[], 0, 4, &params, &mut no_progress()).unwrap();
        assert!(empty.embedding.is_empty());
        let one = tsne(&[1.0, 2.0], 1, 2, &params, &mut no_progress()).unwrap();
        assert_eq!(one.embedding, vec![0.0, 0.0]);
        assert_eq!(one.iterations, 0);
        // Identical rows: PCA has no variance and falls back to the seeded random start.
        let same = vec![1.5; 12 * 3];
        let p = TsneParams::new(3.0, 250, None, 0).unwrap();
        let res = tsne(&same, 12, 3, &p, &mut no_progress()).unwrap();
        assert!(res.embedding.iter().all(|v| v.is_finite()));
        // Two points: a valid (collinear) result.
        let two = tsne(
            &[0.0, 0.0, 1.0, 1.0],
            2,
            2,
            &TsneParams::new(1.0, 250, None, 0).unwrap(),
            &mut no_progress(),
        )
        .unwrap();
        assert!(two.embedding.iter().all(|v| v.is_finite()));
        assert!(two.embedding[0] != two.embedding[2]);
    }
}
