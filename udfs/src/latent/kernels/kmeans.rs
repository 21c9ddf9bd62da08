//! k-means clustering of dense vectors: Lloyd's algorithm and mini-batch k-means, with
//! scikit-learn's k-means++ or random initialisation.
//!
//! It exists because the thesis (ch. 3, artist group factors) describes each artist by a
//! dictionary of k "audio words": the centroids of k-means over frame MFCCs, ΔMFCCs and
//! quantile-normalised song descriptors, with k = 2048 words learnt from millions of frames.
//! So the kernel is written to scale: the assignment step is a matrix product, split over
//! threads, and mini-batch k-means learns from samples of the data.
//!
//! # Input
//! `x`, n rows × d columns, row-major, `f32` or `f64` ([`Real`]). Every value must be finite.
//! The fit works on a copy of `x` centred on its column means (as scikit-learn's `KMeans`
//! does, so that the distances of the matrix product below lose less to rounding); the
//! centroids are moved back before they are returned, and the inertia is that of the centred
//! copy (the same up to rounding).
//!
//! # Options ([`KMeansOptions`], checked once by [`KMeansOptions::check`])
//! - `k` ≥ 1 clusters, at most the number of distinct rows (else
//!   [`LatentError::TooManyClusters`], naming the number of distinct rows).
//! - `max_iter` ≥ 1 (scikit-learn's default for `KMeans` is 300).
//! - `tolerance`, relative as in scikit-learn: the absolute tolerance is
//!   `tolerance × mean over columns of the column variance` ([`absolute_tolerance`]), compared
//!   with the sum over centroids of the squared distance each centroid moved in a step. `None`
//!   takes scikit-learn's defaults: 1e-4 for Lloyd (`KMeans`), 0 (off) for mini-batch
//!   (`MiniBatchKMeans`).
//! - `init`: [`Init::KMeansPlusPlus`] or [`Init::Random`].
//! - `batch_size`: 0 for Lloyd's algorithm on all rows; b > 0 for mini-batch k-means with
//!   batches of min(b, n) rows.
//! - `init_size` (mini-batch only): the number of rows the initialisation sees.
//! - `seed`: every random choice comes from [`Rng::new`]`(seed)`.
//!
//! # Initialisation
//! - **k-means++** is scikit-learn's greedy k-means++ (`_kmeans_plusplus`): the first centre is
//!   a uniformly random row; each next centre is the best of 2 + ⌊ln k⌋ candidates, each drawn
//!   with probability proportional to its squared distance to the nearest centre chosen so far,
//!   the best being the one that leaves the smallest sum of those distances. Rows at distance 0
//!   from a chosen centre are never drawn (the draw is from (0, total], not [0, total)), so the
//!   centres are distinct rows; when every row is at distance 0 before k centres are chosen,
//!   the data has fewer than k distinct rows and the fit stops with that number.
//! - **random** takes k distinct rows (as values) in a seeded random order (a partial
//!   Fisher–Yates shuffle that skips rows equal to one already taken). scikit-learn takes k
//!   random row indices without checking that their values differ.
//!
//! For mini-batch k-means the initialisation runs on `init_size` rows drawn without replacement
//! (scikit-learn draws them with replacement). By default `init_size` is scikit-learn's: 3b for
//! batches of b rows, or 3k when 3b < k, at most n. Should those rows hold fewer than k distinct
//! rows, the error says to raise `init_size` ([`LatentError::InitSample`]).
//!
//! # Lloyd's algorithm (`batch_size = 0`), as scikit-learn's `KMeans(algorithm="lloyd")`
//! An iteration assigns every row to its nearest centroid and moves each centroid to the mean
//! of its rows. It stops, as `_kmeans_single_lloyd` does, when an assignment gives the same
//! labels as the one before (strict convergence: that iteration is counted, its update would
//! change nothing), when the centroids moved by at most the absolute tolerance in total (then
//! one more assignment gives the labels of the final centroids), or after `max_iter`
//! iterations (likewise). The inertia is the sum of squared distances of the rows to their
//! centroids; [`KMeansFit::inertia_trace`] holds it after every assignment, and it never rises
//! (up to rounding in near-ties).
//!
//! **Assignment.** The squared distance ‖x‖² − 2 x·c + ‖c‖² is ranked without ‖x‖², so the
//! nearest centroid of a row is the argmin over c of ‖c‖² − 2 x·c (the first on ties). The
//! products x·c of a block of [`CHUNK`] rows are one GEMM (`matrixmultiply`) per block, the
//! blocks processed in parallel (rayon). The inertia adds each row's exact squared distance to
//! its centroid (computed directly, in the data's precision) in `f64`, block by block, and the
//! block sums in block order.
//!
//! **Update.** The rows of each cluster are summed in `f64` in row order (the clusters in
//! parallel), then divided by their count.
//!
//! **Empty clusters**, as scikit-learn's `_relocate_empty_clusters_dense`: each empty cluster
//! (in increasing order) takes one of the rows farthest from their assigned centroid (the
//! farthest first; ties to the lower row), which leaves its cluster. scikit-learn subtracts the
//! moved row from its old cluster's sum; here the means are taken over the amended partition,
//! which is the same up to rounding. A cluster emptied by this (a moved row that was alone)
//! keeps its centroid. [`KMeansFit::relocated`] counts the relocations.
//!
//! # Mini-batch k-means (`batch_size > 0`), as scikit-learn's `MiniBatchKMeans`
//! Each step draws b = min(batch_size, n) rows uniformly with replacement, assigns them to the
//! nearest centroids (as above) and moves each centroid c with m > 0 of them, of count N so far,
//! to (N·c + Σ rows) / (N + m), its count becoming N + m: the learning rate of each row is
//! 1 / count (`_minibatch_update_dense`, computed here in `f64`). The rules taken from
//! scikit-learn 1.6.1, with its default settings:
//! - the number of steps is at most ⌊max_iter · n / b⌋ (`max_iter` epochs);
//! - random reassignment (`reassignment_ratio = 0.01`): when some count is 0, or 10k rows have
//!   been seen since the last reassignment, every centroid whose count is below 0.01 × the
//!   largest count (at most ⌊b/2⌋ of them, the smallest counts first) moves to a distinct
//!   random row of the batch, and their counts become the smallest count of the others;
//! - early stopping (`_mini_batch_convergence`): the batch inertia divided by b is smoothed,
//!   from the second step on, by an exponentially weighted average with weight
//!   α = min(1, 2b / (n + 1)); the fit stops when the squared centroid shift of a step is at
//!   most the absolute tolerance (only when it is > 0), or when the smoothed inertia has not
//!   reached a new minimum for 10 steps (`max_no_improvement = 10`).
//!
//! After the last step every row is assigned to the final centroids, which gives the labels and
//! the inertia. [`KMeansFit::iterations`] is scikit-learn's `n_iter_` (⌈steps · b / n⌉, the
//! epochs begun) and [`KMeansFit::steps`] its `n_steps_`. Not taken from scikit-learn: several
//! initialisations (`n_init`; here one, as with its `n_init = "auto"` for k-means++), sample
//! weights, and sparse input.
//!
//! # Determinism and threads
//! Work is split into blocks of [`CHUNK`] rows fixed by n alone; every sum over rows is formed in
//! row order within a block and the block sums are added in block order; every element of a
//! GEMM is computed the same way whatever block it is in; each cluster's update is one thread's.
//! So a fit is bit-identical whatever the number of threads.

use std::collections::{HashMap, HashSet};
use std::fmt::{Debug, Display};

use rayon::prelude::*;

use super::LatentError;
use crate::common::rng::Rng;

/// Rows per block of the parallel passes (the assignment's GEMMs, the sums over rows).
pub const CHUNK: usize = 256;

/// Steps without a new minimum of the smoothed batch inertia after which mini-batch k-means
/// stops (scikit-learn's `max_no_improvement` default).
pub const MAX_NO_IMPROVEMENT: usize = 10;

/// The fraction of the largest count below which mini-batch k-means reassigns a centroid
/// (scikit-learn's `reassignment_ratio` default).
pub const REASSIGNMENT_RATIO: f64 = 0.01;

/// The floating-point types the kernel clusters: `f32` and `f64`.
pub trait Real: num_traits::Float + Send + Sync + Debug + Display + 'static {
    /// `v` rounded to `Self`.
    fn of(v: f64) -> Self;

    /// `self` as `f64` (exact).
    fn f64(self) -> f64;

    /// `c = alpha · a · bᵀ + beta · c` on this thread, for row-major `a` (m × d), `b` (k × d)
    /// and `c` (m × k); `c` is not read when `beta` is 0. Slices shorter than the shapes leave
    /// `c` untouched (the callers size them from the same shapes).
    #[allow(clippy::too_many_arguments)]
    fn gemm_abt(
        m: usize,
        d: usize,
        k: usize,
        alpha: Self,
        a: &[Self],
        b: &[Self],
        beta: Self,
        c: &mut [Self],
    );
}

/// Whether the slices hold the shapes of [`Real::gemm_abt`].
fn gemm_shapes_ok<T>(m: usize, d: usize, k: usize, a: &[T], b: &[T], c: &[T]) -> bool {
    m > 0
        && d > 0
        && k > 0
        && a.len() >= m * d
        && b.len() >= k * d
        && c.len() >= m * k
        && isize::try_from(m * d + k * d + m * k).is_ok()
}

impl Real for f32 {
    fn of(v: f64) -> Self {
        v as f32
    }

    fn f64(self) -> f64 {
        f64::from(self)
    }

    fn gemm_abt(
        m: usize,
        d: usize,
        k: usize,
        alpha: f32,
        a: &[f32],
        b: &[f32],
        beta: f32,
        c: &mut [f32],
    ) {
        if !gemm_shapes_ok(m, d, k, a, b, c) {
            debug_assert!(false, "gemm_abt: shapes do not match");
            return;
        }
        // SAFETY: A is m × d with strides (d, 1), Bᵀ is d × k read from the k × d matrix `b`
        // with strides (1, d), C is m × k with strides (k, 1); `gemm_shapes_ok` checked that
        // every element these address lies inside the slices, and `c` (borrowed mutably) does
        // not alias `a` or `b`.
        unsafe {
            matrixmultiply::sgemm(
                m,
                d,
                k,
                alpha,
                a.as_ptr(),
                d as isize,
                1,
                b.as_ptr(),
                1,
                d as isize,
                beta,
                c.as_mut_ptr(),
                k as isize,
                1,
            )
        }
    }
}

impl Real for f64 {
    fn of(v: f64) -> Self {
        v
    }

    fn f64(self) -> f64 {
        self
    }

    fn gemm_abt(
        m: usize,
        d: usize,
        k: usize,
        alpha: f64,
        a: &[f64],
        b: &[f64],
        beta: f64,
        c: &mut [f64],
    ) {
        if !gemm_shapes_ok(m, d, k, a, b, c) {
            debug_assert!(false, "gemm_abt: shapes do not match");
            return;
        }
        // SAFETY: as for f32 above.
        unsafe {
            matrixmultiply::dgemm(
                m,
                d,
                k,
                alpha,
                a.as_ptr(),
                d as isize,
                1,
                b.as_ptr(),
                1,
                d as isize,
                beta,
                c.as_mut_ptr(),
                k as isize,
                1,
            )
        }
    }
}

/// How the first centroids are chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Init {
    /// scikit-learn's greedy k-means++.
    KMeansPlusPlus,
    /// k distinct random rows.
    Random,
}

/// Settings of a k-means fit (see the module documentation).
#[derive(Debug, Clone, PartialEq)]
pub struct KMeansOptions {
    pub k: usize,
    pub max_iter: usize,
    /// Relative tolerance; `None`: 1e-4 for Lloyd, 0 for mini-batch (scikit-learn's defaults).
    pub tolerance: Option<f64>,
    pub init: Init,
    /// 0: Lloyd's algorithm; b > 0: mini-batch k-means with batches of min(b, n) rows.
    pub batch_size: usize,
    /// Mini-batch only: rows the initialisation sees; `None`: 3b, or 3k when 3b < k, at most n.
    pub init_size: Option<usize>,
    pub seed: u64,
}

impl Default for KMeansOptions {
    fn default() -> Self {
        KMeansOptions {
            k: 8,
            max_iter: 300,
            tolerance: None,
            init: Init::KMeansPlusPlus,
            batch_size: 0,
            init_size: None,
            seed: 1,
        }
    }
}

/// Checked settings for data of n rows × d columns ([`KMeansOptions::check`]).
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    pub n: usize,
    pub d: usize,
    pub k: usize,
    pub max_iter: usize,
    /// The relative tolerance in force.
    pub tolerance: f64,
    pub init: Init,
    /// 0 for Lloyd, else the batch size min(batch_size, n).
    pub batch: usize,
    /// Rows the initialisation sees (n for Lloyd).
    pub init_size: usize,
    pub seed: u64,
}

impl KMeansOptions {
    /// Checks the options against data `x` of `d` columns: the shapes, every value finite, and
    /// k ≤ n (the number of distinct rows is checked by the initialisation, which finds it).
    pub fn check<T: Real>(&self, x: &[T], d: usize) -> Result<Plan, LatentError> {
        if d == 0 {
            return Err(LatentError::Shape(
                "the vectors must have at least one value".to_string(),
            ));
        }
        if x.len() % d != 0 {
            return Err(LatentError::Shape(format!(
                "{} values do not make rows of {d}",
                x.len()
            )));
        }
        let n = x.len() / d;
        if n == 0 {
            return Err(LatentError::Empty("there are no vectors".to_string()));
        }
        if let Some(v) = x.iter().find(|v| !v.is_finite()) {
            return Err(LatentError::NotFinite {
                what: "every value of the vectors",
                value: v.f64(),
            });
        }
        if self.k == 0 {
            return Err(LatentError::BadOption("k must be at least 1".to_string()));
        }
        if self.max_iter == 0 {
            return Err(LatentError::BadOption(
                "max_iter must be at least 1".to_string(),
            ));
        }
        let default_tol = if self.batch_size == 0 { 1e-4 } else { 0.0 };
        let tolerance = self.tolerance.unwrap_or(default_tol);
        if !(tolerance.is_finite() && tolerance >= 0.0) {
            return Err(LatentError::BadOption(format!(
                "tolerance must be a finite number ≥ 0, got {tolerance}"
            )));
        }
        if self.k > n {
            return Err(LatentError::TooManyClusters {
                k: self.k,
                distinct: distinct_rows(x, d),
            });
        }
        let batch = self.batch_size.min(n);
        let init_size = match (self.batch_size, self.init_size) {
            (0, None) => n,
            (0, Some(_)) => {
                return Err(LatentError::BadOption(
                    "init_size applies to mini-batch k-means only (batch_size > 0)".to_string(),
                ))
            }
            (_, Some(s)) if s < self.k => {
                return Err(LatentError::BadOption(format!(
                "init_size = {s} is smaller than k = {}; the initialisation needs at least k rows",
                self.k
            )))
            }
            (_, Some(s)) => s.min(n),
            (_, None) => {
                let s = batch.saturating_mul(3);
                if s < self.k {
                    self.k.saturating_mul(3).min(n)
                } else {
                    s.min(n)
                }
            }
        };
        Ok(Plan {
            n,
            d,
            k: self.k,
            max_iter: self.max_iter,
            tolerance,
            init: self.init,
            batch,
            init_size,
            seed: self.seed,
        })
    }
}

/// What a fit reports between steps, to show progress and to stop it (for Ctrl-C).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Progress {
    /// `centres` of the `of` initial centroids are chosen.
    Init { centres: usize, of: usize },
    /// Lloyd iteration `iteration` is done: `inertia` of the assignment it started from and
    /// the squared shift of the centroids.
    Lloyd {
        iteration: usize,
        inertia: f64,
        shift: f64,
    },
    /// Mini-batch step `step` of at most `steps` is done; the smoothed batch inertia per row
    /// (`None` in the first step).
    MiniBatch {
        step: usize,
        steps: usize,
        smoothed_inertia: Option<f64>,
    },
}

/// Why a fit stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stop {
    /// Lloyd: an assignment gave the labels of the one before.
    LabelsUnchanged,
    /// The centroids moved by at most the tolerance in a step.
    Tolerance,
    /// Mini-batch: the smoothed batch inertia did not improve for [`MAX_NO_IMPROVEMENT`] steps.
    NoImprovement,
    /// `max_iter` iterations (epochs) were run.
    MaxIter,
}

impl Display for Stop {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Stop::LabelsUnchanged => "labels unchanged",
            Stop::Tolerance => "centroid shift within tolerance",
            Stop::NoImprovement => "no improvement of the smoothed batch inertia",
            Stop::MaxIter => "max_iter reached",
        })
    }
}

/// A fitted k-means model.
#[derive(Debug, Clone, PartialEq)]
pub struct KMeansFit<T> {
    /// k × d, row-major.
    pub centroids: Vec<T>,
    /// The cluster of every row (0-based), nearest to its final centroid.
    pub labels: Vec<u32>,
    /// Σ over rows of the squared distance to the row's centroid.
    pub inertia: f64,
    /// Lloyd iterations, or mini-batch epochs begun (scikit-learn's `n_iter_`).
    pub iterations: usize,
    /// Mini-batch steps (scikit-learn's `n_steps_`); Lloyd: the iterations.
    pub steps: usize,
    /// Whether the fit stopped on a convergence rule before `max_iter`.
    pub converged: bool,
    pub stop: Stop,
    /// Lloyd: the inertia after each assignment (the last is [`Self::inertia`]); empty for
    /// mini-batch.
    pub inertia_trace: Vec<f64>,
    /// The absolute tolerance in force ([`absolute_tolerance`]).
    pub tolerance: f64,
    /// Empty clusters relocated (Lloyd) or centroids reassigned (mini-batch).
    pub relocated: usize,
}

/// The callback a fit reports [`Progress`] to; its error stops the fit.
pub type OnProgress<'a> = dyn FnMut(Progress) -> Result<(), LatentError> + 'a;

/// Row `i` of the row-major matrix `x` of `d` columns.
#[inline]
fn row<T>(x: &[T], d: usize, i: usize) -> &[T] {
    &x[i * d..(i + 1) * d]
}

/// The squared Euclidean distance of `a` and `b`, in eight running sums added in a fixed order
/// (so that it vectorises and gives the same bits everywhere).
#[inline]
pub fn sq_dist<T: Real>(a: &[T], b: &[T]) -> T {
    let mut acc = [T::zero(); 8];
    let ca = a.chunks_exact(8);
    let cb = b.chunks_exact(8);
    let (ra, rb) = (ca.remainder(), cb.remainder());
    for (x, y) in ca.zip(cb) {
        for (s, (&p, &q)) in acc.iter_mut().zip(x.iter().zip(y)) {
            let t = p - q;
            *s = *s + t * t;
        }
    }
    let mut tail = T::zero();
    for (&p, &q) in ra.iter().zip(rb) {
        let t = p - q;
        tail = tail + t * t;
    }
    fold8(&acc) + tail
}

/// The eight running sums of [`sq_dist`] added in a fixed tree.
#[inline]
fn fold8<T: Real>(acc: &[T; 8]) -> T {
    ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]))
}

/// The squared norm of `a`, summed as [`sq_dist`] sums.
#[inline]
fn sq_norm<T: Real>(a: &[T]) -> T {
    let mut acc = [T::zero(); 8];
    let ca = a.chunks_exact(8);
    let ra = ca.remainder();
    for x in ca {
        for (s, &p) in acc.iter_mut().zip(x) {
            *s = *s + p * p;
        }
    }
    let mut tail = T::zero();
    for &p in ra {
        tail = tail + p * p;
    }
    fold8(&acc) + tail
}

/// The index of the centroid (rows of `centres`, `f32`, d = `x.len()` columns) nearest to `x`
/// in squared Euclidean distance, computed in `f64`; the first on ties. `None` when `x` is
/// empty or `centres` is not a non-empty multiple of its length.
pub fn nearest(x: &[f64], centres: &[f32]) -> Option<usize> {
    let d = x.len();
    if d == 0 || centres.is_empty() || centres.len() % d != 0 {
        return None;
    }
    let mut best = (f64::INFINITY, 0);
    for (j, c) in centres.chunks_exact(d).enumerate() {
        let s: f64 = x
            .iter()
            .zip(c)
            .map(|(&a, &b)| {
                let t = a - f64::from(b);
                t * t
            })
            .sum();
        if s < best.0 {
            best = (s, j);
        }
    }
    Some(best.1)
}

/// A row's bits with −0 made +0, so that rows equal as numbers have equal keys.
fn row_key<T: Real>(r: &[T]) -> Vec<u64> {
    r.iter().map(|&v| (v.f64() + 0.0).to_bits()).collect()
}

/// The number of distinct rows of `x` (`d` columns), as numbers.
pub fn distinct_rows<T: Real>(x: &[T], d: usize) -> usize {
    if d == 0 {
        return 0;
    }
    x.chunks_exact(d).map(row_key).collect::<HashSet<_>>().len()
}

/// The column means and variances of `x` (`d` columns), in `f64`, summed block by block.
pub fn column_moments<T: Real>(x: &[T], d: usize) -> (Vec<f64>, Vec<f64>) {
    let n = x.len() / d.max(1);
    if n == 0 {
        return (vec![0.0; d], vec![0.0; d]);
    }
    let sums = |f: &(dyn Fn(usize, T) -> f64 + Sync)| -> Vec<f64> {
        let partial: Vec<Vec<f64>> = x
            .par_chunks(CHUNK * d)
            .map(|block| {
                let mut s = vec![0.0; d];
                for r in block.chunks_exact(d) {
                    for (j, (s, &v)) in s.iter_mut().zip(r).enumerate() {
                        *s += f(j, v);
                    }
                }
                s
            })
            .collect();
        let mut total = vec![0.0; d];
        for p in &partial {
            for (t, v) in total.iter_mut().zip(p) {
                *t += v;
            }
        }
        total
    };
    let mean: Vec<f64> = sums(&|_, v| v.f64()).iter().map(|s| s / n as f64).collect();
    let var: Vec<f64> = sums(&|j, v| {
        let t = v.f64() - mean[j];
        t * t
    })
    .iter()
    .map(|s| s / n as f64)
    .collect();
    (mean, var)
}

/// scikit-learn's `_tolerance`: `tolerance` × the mean of the column variances of `x`
/// (0 when `tolerance` is 0).
pub fn absolute_tolerance<T: Real>(x: &[T], d: usize, tolerance: f64) -> f64 {
    if tolerance == 0.0 {
        return 0.0;
    }
    let (_, var) = column_moments(x, d);
    var.iter().sum::<f64>() / d as f64 * tolerance
}

/// Fits k-means to `x` (rows of `d` values) with `options` (see the module documentation).
/// `on_progress` is called between steps and stops the fit with its error.
pub fn fit<T: Real>(
    x: &[T],
    d: usize,
    options: &KMeansOptions,
    on_progress: &mut OnProgress<'_>,
) -> Result<KMeansFit<T>, LatentError> {
    let plan = options.check(x, d)?;
    let (mean, var) = column_moments(x, d);
    let tolerance = if plan.tolerance == 0.0 {
        0.0
    } else {
        var.iter().sum::<f64>() / d as f64 * plan.tolerance
    };
    let mean_t: Vec<T> = mean.iter().map(|&m| T::of(m)).collect();
    let mut xc = x.to_vec();
    xc.par_chunks_mut(d).for_each(|r| {
        for (v, &m) in r.iter_mut().zip(&mean_t) {
            *v = *v - m;
        }
    });
    if let Some(norm) = xc.chunks_exact(d).map(sq_norm).find(|v: &T| !v.is_finite()) {
        return Err(LatentError::NotFinite {
            what: "the squared norm of every vector (values this large overflow)",
            value: norm.f64(),
        });
    }
    let mut rng = Rng::new(plan.seed);
    let mut result = if plan.batch == 0 {
        let centres = initial_centres(&xc, d, plan.k, plan.init, &mut rng, on_progress)?;
        lloyd(&xc, d, centres, plan.max_iter, tolerance, on_progress)?
    } else {
        minibatch(&xc, &plan, tolerance, &mut rng, on_progress)?
    };
    for c in result.centroids.chunks_exact_mut(d) {
        for (v, &m) in c.iter_mut().zip(&mean) {
            *v = T::of(v.f64() + m);
        }
    }
    Ok(result)
}

/// The first k centroids of `x` by `init` (see *Initialisation*).
pub fn initial_centres<T: Real>(
    x: &[T],
    d: usize,
    k: usize,
    init: Init,
    rng: &mut Rng,
    on_progress: &mut OnProgress<'_>,
) -> Result<Vec<T>, LatentError> {
    match init {
        Init::KMeansPlusPlus => kmeans_plusplus(x, d, k, rng, on_progress),
        Init::Random => random_rows(x, d, k, rng),
    }
}

/// k distinct rows of `x` in a seeded random order.
fn random_rows<T: Real>(x: &[T], d: usize, k: usize, rng: &mut Rng) -> Result<Vec<T>, LatentError> {
    let n = x.len() / d;
    // A partial Fisher–Yates shuffle of 0..n whose moved entries live in a map.
    let mut moved: HashMap<usize, usize> = HashMap::new();
    let mut seen: HashSet<Vec<u64>> = HashSet::new();
    let mut centres = Vec::with_capacity(k * d);
    for i in 0..n {
        if seen.len() == k {
            break;
        }
        let j = i + rng.below((n - i) as u64) as usize;
        let at_j = *moved.get(&j).unwrap_or(&j);
        let at_i = *moved.get(&i).unwrap_or(&i);
        moved.insert(j, at_i);
        let r = row(x, d, at_j);
        if seen.insert(row_key(r)) {
            centres.extend_from_slice(r);
        }
    }
    if seen.len() < k {
        return Err(LatentError::TooManyClusters {
            k,
            distinct: seen.len(),
        });
    }
    Ok(centres)
}

/// Sets `closest[i]` to min(closest[i], ‖x_i − c‖²) (or to ‖x_i − c‖² when `first`) and returns
/// each block's sum of `closest` in `f64`.
fn update_closest<T: Real>(x: &[T], d: usize, c: &[T], closest: &mut [T], first: bool) -> Vec<f64> {
    closest
        .par_chunks_mut(CHUNK)
        .zip(x.par_chunks(CHUNK * d))
        .map(|(cl, block)| {
            let mut s = 0.0;
            for (v, r) in cl.iter_mut().zip(block.chunks_exact(d)) {
                let dist = sq_dist(r, c);
                if first || dist < *v {
                    *v = dist;
                }
                s += v.f64();
            }
            s
        })
        .collect()
}

/// The row drawn at `r` ∈ (0, total] of the cumulative distribution of `closest` (block sums
/// `sums`, their running totals `prefix`, with `prefix[0] = 0`): a row with `closest > 0`.
fn draw<T: Real>(closest: &[T], sums: &[f64], prefix: &[f64], r: f64) -> usize {
    let blocks = sums.len();
    let b = prefix[1..].partition_point(|&p| p < r).min(blocks - 1);
    let start = b * CHUNK;
    let end = (start + CHUNK).min(closest.len());
    let target = r - prefix[b];
    let mut s = 0.0;
    let mut last_positive = None;
    for (i, &v) in closest[start..end].iter().enumerate() {
        s += v.f64();
        if v > T::zero() {
            last_positive = Some(start + i);
            if s >= target {
                return start + i;
            }
        }
    }
    // Rounding left the target past this block's sum: its last row of positive weight, or
    // (r rounded to 0) the first such row anywhere.
    last_positive
        .or_else(|| closest.iter().position(|&v| v > T::zero()))
        .unwrap_or(0)
}

/// scikit-learn's greedy k-means++ (see *Initialisation*).
fn kmeans_plusplus<T: Real>(
    x: &[T],
    d: usize,
    k: usize,
    rng: &mut Rng,
    on_progress: &mut OnProgress<'_>,
) -> Result<Vec<T>, LatentError> {
    let n = x.len() / d;
    let trials = 2 + (k as f64).ln() as usize;
    let mut centres = Vec::with_capacity(k * d);
    let first = rng.below(n as u64) as usize;
    centres.extend_from_slice(row(x, d, first));
    let mut closest = vec![T::zero(); n];
    let mut sums = update_closest(x, d, row(x, d, first), &mut closest, true);
    for c in 1..k {
        on_progress(Progress::Init { centres: c, of: k })?;
        let mut prefix = Vec::with_capacity(sums.len() + 1);
        prefix.push(0.0);
        for s in &sums {
            prefix.push(prefix[prefix.len() - 1] + s);
        }
        let total = prefix[prefix.len() - 1];
        if total.is_nan() || total <= 0.0 {
            // Every row equals one of the c centres chosen, which are distinct.
            return Err(LatentError::TooManyClusters { k, distinct: c });
        }
        let candidates: Vec<usize> = (0..trials)
            .map(|_| draw(&closest, &sums, &prefix, (1.0 - rng.next_f64()) * total))
            .collect();
        let partial: Vec<Vec<f64>> = closest
            .par_chunks(CHUNK)
            .zip(x.par_chunks(CHUNK * d))
            .map(|(cl, block)| {
                let mut pot = vec![0.0; candidates.len()];
                for (&v, r) in cl.iter().zip(block.chunks_exact(d)) {
                    for (p, &cand) in pot.iter_mut().zip(&candidates) {
                        let dist = sq_dist(r, row(x, d, cand));
                        *p += if dist < v { dist } else { v }.f64();
                    }
                }
                pot
            })
            .collect();
        let mut potentials = vec![0.0; candidates.len()];
        for p in &partial {
            for (t, v) in potentials.iter_mut().zip(p) {
                *t += v;
            }
        }
        let mut best = 0;
        for (t, &p) in potentials.iter().enumerate() {
            if p < potentials[best] {
                best = t;
            }
        }
        let chosen = candidates[best];
        centres.extend_from_slice(row(x, d, chosen));
        sums = update_closest(x, d, row(x, d, chosen), &mut closest, false);
    }
    on_progress(Progress::Init { centres: k, of: k })?;
    Ok(centres)
}

/// Assigns every row of `x` to its nearest centroid by the GEMM of *Assignment*, writing
/// `labels`, and returns the inertia (exact squared distances, summed in block order).
pub fn assign<T: Real>(x: &[T], d: usize, centres: &[T], labels: &mut [u32]) -> f64 {
    let k = centres.len() / d;
    let norms: Vec<T> = centres.chunks_exact(d).map(sq_norm).collect();
    let two = T::of(2.0);
    let partial: Vec<f64> = x
        .par_chunks(CHUNK * d)
        .zip(labels.par_chunks_mut(CHUNK))
        .map_init(
            || vec![T::zero(); CHUNK * k],
            |scores, (block, out)| {
                let m = out.len();
                let scores = &mut scores[..m * k];
                for s in scores.chunks_exact_mut(k) {
                    s.copy_from_slice(&norms);
                }
                // scores = ‖c‖² − 2 x·c
                T::gemm_abt(m, d, k, -two, block, centres, T::one(), scores);
                let mut inertia = 0.0;
                for ((s, label), r) in scores
                    .chunks_exact(k)
                    .zip(out.iter_mut())
                    .zip(block.chunks_exact(d))
                {
                    let mut best = 0;
                    for (j, &v) in s.iter().enumerate() {
                        if v < s[best] {
                            best = j;
                        }
                    }
                    *label = best as u32;
                    inertia += sq_dist(r, row(centres, d, best)).f64();
                }
                inertia
            },
        )
        .collect();
    partial.iter().sum()
}

/// The rows of each cluster: `order` holds the row indices grouped by label (in row order
/// within a cluster), cluster j's at `order[offsets[j]..offsets[j + 1]]`.
fn group_by_label(labels: &[u32], k: usize, order: &mut Vec<u32>) -> Vec<usize> {
    let mut offsets = vec![0usize; k + 1];
    for &l in labels {
        offsets[l as usize + 1] += 1;
    }
    for j in 0..k {
        offsets[j + 1] += offsets[j];
    }
    let mut next = offsets.clone();
    order.clear();
    order.resize(labels.len(), 0);
    for (i, &l) in labels.iter().enumerate() {
        order[next[l as usize]] = i as u32;
        next[l as usize] += 1;
    }
    offsets
}

/// Lloyd's update: relocates empty clusters (amending `labels`, see *Empty clusters*), then
/// returns the mean of each cluster (`old`'s centroid for a cluster emptied by the relocation)
/// and the number of relocations. `order` is scratch space.
pub fn update<T: Real>(
    x: &[T],
    d: usize,
    old: &[T],
    labels: &mut [u32],
    order: &mut Vec<u32>,
) -> (Vec<T>, usize) {
    let k = old.len() / d;
    let n = labels.len();
    let mut counts = vec![0usize; k];
    for &l in labels.iter() {
        counts[l as usize] += 1;
    }
    let empty: Vec<usize> = (0..k).filter(|&j| counts[j] == 0).collect();
    if !empty.is_empty() {
        let dist: Vec<f64> = x
            .par_chunks(CHUNK * d)
            .zip(labels.par_chunks(CHUNK))
            .flat_map_iter(|(block, ls)| {
                block
                    .chunks_exact(d)
                    .zip(ls)
                    .map(|(r, &l)| sq_dist(r, row(old, d, l as usize)).f64())
                    .collect::<Vec<_>>()
            })
            .collect();
        let far_first = |a: &u32, b: &u32| {
            dist[*b as usize]
                .total_cmp(&dist[*a as usize])
                .then(a.cmp(b))
        };
        let m = empty.len().min(n);
        let mut idx: Vec<u32> = (0..n as u32).collect();
        if m < n {
            idx.select_nth_unstable_by(m - 1, far_first);
        }
        idx[..m].sort_by(far_first);
        for (&e, &i) in empty.iter().zip(&idx[..m]) {
            labels[i as usize] = e as u32;
        }
    }
    let offsets = group_by_label(labels, k, order);
    let order: &[u32] = order;
    let mut centres = old.to_vec();
    centres.par_chunks_mut(d).enumerate().for_each_init(
        || vec![0.0f64; d],
        |sum, (j, c)| {
            let rows = &order[offsets[j]..offsets[j + 1]];
            if rows.is_empty() {
                return;
            }
            sum.iter_mut().for_each(|s| *s = 0.0);
            for &i in rows {
                for (s, &v) in sum.iter_mut().zip(row(x, d, i as usize)) {
                    *s += v.f64();
                }
            }
            let count = rows.len() as f64;
            for (c, &s) in c.iter_mut().zip(sum.iter()) {
                *c = T::of(s / count);
            }
        },
    );
    (centres, empty.len())
}

/// The sum over centroids of the squared distance between `a` and `b`, in `f64`.
fn shift<T: Real>(a: &[T], b: &[T]) -> f64 {
    a.iter()
        .zip(b)
        .map(|(&u, &v)| {
            let t = u.f64() - v.f64();
            t * t
        })
        .sum()
}

/// Lloyd's algorithm from `centres` (see the module documentation); `tolerance` is absolute.
pub fn lloyd<T: Real>(
    x: &[T],
    d: usize,
    mut centres: Vec<T>,
    max_iter: usize,
    tolerance: f64,
    on_progress: &mut OnProgress<'_>,
) -> Result<KMeansFit<T>, LatentError> {
    let n = x.len() / d;
    let mut labels = vec![u32::MAX; n];
    let mut previous = vec![u32::MAX; n];
    let mut order = Vec::new();
    let mut trace = Vec::new();
    let mut iterations = 0;
    let mut relocated = 0;
    let mut within_tolerance = false;
    let stop = loop {
        std::mem::swap(&mut labels, &mut previous);
        let inertia = assign(x, d, &centres, &mut labels);
        trace.push(inertia);
        if within_tolerance {
            break Stop::Tolerance;
        }
        if iterations == max_iter {
            break Stop::MaxIter;
        }
        if labels == previous {
            iterations += 1;
            break Stop::LabelsUnchanged;
        }
        let (next, moved) = update(x, d, &centres, &mut labels, &mut order);
        relocated += moved;
        let s = shift(&next, &centres);
        centres = next;
        iterations += 1;
        on_progress(Progress::Lloyd {
            iteration: iterations,
            inertia,
            shift: s,
        })?;
        within_tolerance = s <= tolerance;
    };
    Ok(KMeansFit {
        centroids: centres,
        labels,
        inertia: trace.last().copied().unwrap_or(0.0),
        iterations,
        steps: iterations,
        converged: stop != Stop::MaxIter,
        stop,
        inertia_trace: trace,
        tolerance,
        relocated,
    })
}

/// `m` distinct indices of 0..n in a seeded random order (a partial Fisher–Yates shuffle).
fn sample_without_replacement(n: usize, m: usize, rng: &mut Rng) -> Vec<usize> {
    let mut moved: HashMap<usize, usize> = HashMap::new();
    let mut out = Vec::with_capacity(m);
    for i in 0..m.min(n) {
        let j = i + rng.below((n - i) as u64) as usize;
        let at_j = *moved.get(&j).unwrap_or(&j);
        let at_i = *moved.get(&i).unwrap_or(&i);
        moved.insert(j, at_i);
        out.push(at_j);
    }
    out
}

/// Mini-batch k-means (see the module documentation) on centred data; `tolerance` is absolute.
fn minibatch<T: Real>(
    x: &[T],
    plan: &Plan,
    tolerance: f64,
    rng: &mut Rng,
    on_progress: &mut OnProgress<'_>,
) -> Result<KMeansFit<T>, LatentError> {
    let (n, d, k, b) = (plan.n, plan.d, plan.k, plan.batch);
    let mut centres = if plan.init_size < n {
        let rows = sample_without_replacement(n, plan.init_size, rng);
        let mut sample = Vec::with_capacity(rows.len() * d);
        for &i in &rows {
            sample.extend_from_slice(row(x, d, i));
        }
        initial_centres(&sample, d, k, plan.init, rng, on_progress).map_err(|e| match e {
            LatentError::TooManyClusters { k, distinct } => LatentError::InitSample {
                k,
                init_size: plan.init_size,
                distinct,
            },
            e => e,
        })?
    } else {
        initial_centres(x, d, k, plan.init, rng, on_progress)?
    };
    let steps = ((plan.max_iter as u128 * n as u128) / b as u128).max(1) as usize;
    let mut counts = vec![0.0f64; k];
    let mut batch = vec![T::zero(); b * d];
    let mut labels = vec![0u32; b];
    let mut order = Vec::new();
    let mut smoothed: Option<f64> = None;
    let mut smoothed_min: Option<f64> = None;
    let mut no_improvement = 0;
    let mut since_reassign = 0usize;
    let mut relocated = 0;
    let alpha = (b as f64 * 2.0 / (n as f64 + 1.0)).min(1.0);
    let mut done = 0;
    let mut stop = Stop::MaxIter;
    for step in 1..=steps {
        done = step;
        // scikit-learn's `_random_reassign`, decided before the step.
        since_reassign += b;
        let reassign = counts.contains(&0.0) || since_reassign >= 10 * k;
        if reassign {
            since_reassign = 0;
        }
        for r in batch.chunks_exact_mut(d) {
            let i = rng.below(n as u64) as usize;
            r.copy_from_slice(row(x, d, i));
        }
        let batch_inertia = assign(&batch, d, &centres, &mut labels);
        let offsets = group_by_label(&labels, k, &mut order);
        let mut next = centres.clone();
        {
            let order: &[u32] = &order;
            let batch: &[T] = &batch;
            next.par_chunks_mut(d)
                .zip(counts.par_iter_mut())
                .enumerate()
                .for_each_init(
                    || vec![0.0f64; d],
                    |sum, (j, (c, count))| {
                        let rows = &order[offsets[j]..offsets[j + 1]];
                        if rows.is_empty() {
                            return;
                        }
                        for (s, &v) in sum.iter_mut().zip(c.iter()) {
                            *s = v.f64() * *count;
                        }
                        for &i in rows {
                            for (s, &v) in sum.iter_mut().zip(row(batch, d, i as usize)) {
                                *s += v.f64();
                            }
                        }
                        *count += rows.len() as f64;
                        for (c, &s) in c.iter_mut().zip(sum.iter()) {
                            *c = T::of(s / *count);
                        }
                    },
                );
        }
        if reassign {
            let max = counts.iter().copied().fold(0.0, f64::max);
            let mut flagged: Vec<usize> = (0..k)
                .filter(|&j| counts[j] < REASSIGNMENT_RATIO * max)
                .collect();
            let cap = b / 2;
            if flagged.len() as f64 > 0.5 * b as f64 {
                // Keep the `cap` smallest counts (ties to the lower index).
                let mut by_count: Vec<usize> = (0..k).collect();
                by_count.sort_by(|&p, &q| counts[p].total_cmp(&counts[q]).then(p.cmp(&q)));
                let keep: HashSet<usize> = by_count[..cap].iter().copied().collect();
                flagged.retain(|j| keep.contains(j));
            }
            if !flagged.is_empty() {
                let rows = sample_without_replacement(b, flagged.len(), rng);
                let mut is_flagged = vec![false; k];
                for (&j, &i) in flagged.iter().zip(&rows) {
                    next[j * d..(j + 1) * d].copy_from_slice(row(&batch, d, i));
                    is_flagged[j] = true;
                }
                let min_other = (0..k)
                    .filter(|&j| !is_flagged[j])
                    .map(|j| counts[j])
                    .fold(f64::INFINITY, f64::min);
                for &j in &flagged {
                    counts[j] = min_other;
                }
                relocated += flagged.len();
            }
        }
        let moved = if tolerance > 0.0 {
            shift(&next, &centres)
        } else {
            0.0
        };
        centres = next;
        // scikit-learn's `_mini_batch_convergence`.
        let per_row = batch_inertia / b as f64;
        let mut converged = None;
        if step > 1 {
            let s = match smoothed {
                None => per_row,
                Some(s) => s * (1.0 - alpha) + per_row * alpha,
            };
            smoothed = Some(s);
            if tolerance > 0.0 && moved <= tolerance {
                converged = Some(Stop::Tolerance);
            } else {
                if smoothed_min.is_none_or(|m| s < m) {
                    no_improvement = 0;
                    smoothed_min = Some(s);
                } else {
                    no_improvement += 1;
                }
                if no_improvement >= MAX_NO_IMPROVEMENT {
                    converged = Some(Stop::NoImprovement);
                }
            }
        }
        on_progress(Progress::MiniBatch {
            step,
            steps,
            smoothed_inertia: smoothed,
        })?;
        if let Some(s) = converged {
            stop = s;
            break;
        }
    }
    let mut all = vec![0u32; n];
    let inertia = assign(x, d, &centres, &mut all);
    Ok(KMeansFit {
        centroids: centres,
        labels: all,
        inertia,
        iterations: (done as u128 * b as u128).div_ceil(n as u128) as usize,
        steps: done,
        converged: stop != Stop::MaxIter,
        stop,
        inertia_trace: Vec::new(),
        tolerance,
        relocated,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_progress() -> impl FnMut(Progress) -> Result<(), LatentError> {
        |_| Ok(())
    }

    /// n rows of d standard normal values (f64).
    fn normal_rows(n: usize, d: usize, seed: u64) -> Vec<f64> {
        let mut rng = Rng::new(seed);
        (0..n * d).map(|_| rng.normal()).collect()
    }

    /// n rows around k planted centres (`spread` · N(0, 1) per coordinate) with N(0, noise²)
    /// noise, rows in a random order; and each row's planted cluster.
    fn planted(
        n: usize,
        d: usize,
        k: usize,
        spread: f64,
        noise: f64,
        seed: u64,
    ) -> (Vec<f64>, Vec<usize>) {
        let mut rng = Rng::new(seed);
        let centres: Vec<f64> = (0..k * d).map(|_| spread * rng.normal()).collect();
        let mut x = Vec::with_capacity(n * d);
        let mut truth = Vec::with_capacity(n);
        for i in 0..n {
            // Every cluster gets rows; the rest at random.
            let c = if i < k {
                i
            } else {
                rng.below(k as u64) as usize
            };
            truth.push(c);
            for j in 0..d {
                x.push(centres[c * d + j] + noise * rng.normal());
            }
        }
        (x, truth)
    }

    /// The squared distance by the textbook loop, in f64.
    fn brute_dist<T: Real>(a: &[T], b: &[T]) -> f64 {
        let mut s = 0.0;
        for j in 0..a.len() {
            let t = a[j].f64() - b[j].f64();
            s += t * t;
        }
        s
    }

    /// The nearest centre of each row by a direct loop (first on ties) and the inertia.
    fn brute_assign<T: Real>(x: &[T], d: usize, centres: &[T]) -> (Vec<u32>, f64) {
        let k = centres.len() / d;
        let mut labels = Vec::new();
        let mut inertia = 0.0;
        for r in x.chunks(d) {
            let mut best = 0;
            let mut best_d = f64::INFINITY;
            for j in 0..k {
                let dist = brute_dist(r, &centres[j * d..(j + 1) * d]);
                if dist < best_d {
                    best_d = dist;
                    best = j;
                }
            }
            labels.push(best as u32);
            inertia += best_d;
        }
        (labels, inertia)
    }

    /// Explicit means of the rows of each label, with scikit-learn's relocation of empty
    /// clusters written out: sort every row by its distance to its old centre.
    fn brute_update(x: &[f64], d: usize, old: &[f64], labels: &mut [u32]) -> Vec<f64> {
        let k = old.len() / d;
        let n = labels.len();
        let count = |labels: &[u32], j: usize| labels.iter().filter(|&&l| l as usize == j).count();
        let empty: Vec<usize> = (0..k).filter(|&j| count(labels, j) == 0).collect();
        if !empty.is_empty() {
            let mut rows: Vec<(f64, usize)> = (0..n)
                .map(|i| {
                    let l = labels[i] as usize;
                    (
                        brute_dist(&x[i * d..(i + 1) * d], &old[l * d..(l + 1) * d]),
                        i,
                    )
                })
                .collect();
            rows.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
            for (e, &(_, i)) in empty.iter().zip(&rows) {
                labels[i] = *e as u32;
            }
        }
        let mut out = old.to_vec();
        for j in 0..k {
            let members: Vec<usize> = (0..n).filter(|&i| labels[i] as usize == j).collect();
            if members.is_empty() {
                continue;
            }
            for f in 0..d {
                let s: f64 = members.iter().map(|&i| x[i * d + f]).sum();
                out[j * d + f] = s / members.len() as f64;
            }
        }
        out
    }

    fn close(a: &[f64], b: &[f64], tol: f64) -> bool {
        a.len() == b.len()
            && a.iter()
                .zip(b)
                .all(|(x, y)| (x - y).abs() <= tol * (1.0 + y.abs()))
    }

    /// Whether `labels` is `truth` up to a renumbering of the clusters.
    fn same_partition(labels: &[u32], truth: &[usize], k: usize) -> bool {
        let mut map = vec![usize::MAX; k];
        let mut used = vec![false; k];
        for (&l, &t) in labels.iter().zip(truth) {
            let l = l as usize;
            if map[l] == usize::MAX {
                if used[t] {
                    return false;
                }
                map[l] = t;
                used[t] = true;
            } else if map[l] != t {
                return false;
            }
        }
        true
    }

    #[test]
    fn assignment_and_update_equal_brute_force() {
        // 1000 rows: three full blocks and a partial one; d = 7 (the tail only) and d = 19 (two
        // vectors of eight and a tail).
        for (d, seed) in [(7, 1), (19, 2)] {
            let n = 1000;
            let x = normal_rows(n, d, seed);
            let k = 13;
            let centres: Vec<f64> = (0..k)
                .flat_map(|j| x[(j * 37) * d..(j * 37 + 1) * d].to_vec())
                .collect();
            let mut labels = vec![0; n];
            let inertia = assign(&x, d, &centres, &mut labels);
            let (want, want_inertia) = brute_assign(&x, d, &centres);
            assert_eq!(labels, want, "d = {d}");
            assert!((inertia - want_inertia).abs() < 1e-10 * want_inertia);
            let mut brute_labels = labels.clone();
            let want_centres = brute_update(&x, d, &centres, &mut brute_labels);
            let (got, relocated) = update(&x, d, &centres, &mut labels, &mut Vec::new());
            assert_eq!(relocated, 0);
            assert!(close(&got, &want_centres, 1e-12), "d = {d}");
            // In f32 the GEMM's rounding may only swap near-ties.
            let x32: Vec<f32> = x.iter().map(|&v| v as f32).collect();
            let c32: Vec<f32> = centres.iter().map(|&v| v as f32).collect();
            let mut l32 = vec![0; n];
            let i32_ = assign(&x32, d, &c32, &mut l32);
            let (want32, want_i32) = brute_assign(&x32, d, &c32);
            for i in 0..n {
                if l32[i] != want32[i] {
                    let r = &x32[i * d..(i + 1) * d];
                    let a = brute_dist(r, &c32[l32[i] as usize * d..(l32[i] as usize + 1) * d]);
                    let b = brute_dist(
                        r,
                        &c32[want32[i] as usize * d..(want32[i] as usize + 1) * d],
                    );
                    assert!((a - b).abs() < 1e-4 * (1.0 + b), "row {i}: {a} vs {b}");
                }
            }
            assert!((i32_ - want_i32).abs() < 1e-5 * want_i32);
        }
    }

    /// Lloyd's algorithm with scikit-learn's stopping rules, written plainly on the brute-force
    /// steps.
    fn brute_lloyd(
        x: &[f64],
        d: usize,
        mut centres: Vec<f64>,
        max_iter: usize,
        tol: f64,
    ) -> (Vec<f64>, Vec<u32>, usize, Stop) {
        let mut old: Option<Vec<u32>> = None;
        for i in 0..max_iter {
            let (mut labels, _) = brute_assign(x, d, &centres);
            if old.as_ref() == Some(&labels) {
                return (centres, labels, i + 1, Stop::LabelsUnchanged);
            }
            let next = brute_update(x, d, &centres, &mut labels);
            let shift: f64 = next
                .iter()
                .zip(&centres)
                .map(|(a, b)| (a - b) * (a - b))
                .sum();
            centres = next;
            if shift <= tol {
                let (labels, _) = brute_assign(x, d, &centres);
                return (centres, labels, i + 1, Stop::Tolerance);
            }
            old = Some(labels);
        }
        let (labels, _) = brute_assign(x, d, &centres);
        (centres, labels, max_iter, Stop::MaxIter)
    }

    #[test]
    fn lloyd_equals_a_brute_force_lloyd() {
        let d = 4;
        let (x, _) = planted(700, d, 6, 1.5, 1.0, 5);
        let mut rng = Rng::new(3);
        let start = random_rows(&x, d, 6, &mut rng).unwrap();
        for (max_iter, tol) in [(100, 0.0), (3, 0.0), (100, 1e-3)] {
            let fit = lloyd(&x, d, start.clone(), max_iter, tol, &mut no_progress()).unwrap();
            let (centres, labels, iterations, stop) =
                brute_lloyd(&x, d, start.clone(), max_iter, tol);
            assert_eq!(fit.labels, labels, "{max_iter} {tol}");
            assert!(close(&fit.centroids, &centres, 1e-10));
            assert_eq!((fit.iterations, fit.stop), (iterations, stop));
            assert!(fit.iterations > 2, "the data takes a few iterations");
            let (_, inertia) = brute_assign(&x, d, &centres);
            assert!((fit.inertia - inertia).abs() < 1e-10 * inertia);
        }
    }

    #[test]
    fn planted_clusters_are_recovered_exactly() {
        let (d, k) = (8, 5);
        let (x, truth) = planted(1500, d, k, 20.0, 1.0, 11);
        let x32: Vec<f32> = x.iter().map(|&v| v as f32).collect();
        for (init, batch_size) in [
            (Init::KMeansPlusPlus, 0),
            (Init::Random, 0),
            (Init::KMeansPlusPlus, 100),
        ] {
            let options = KMeansOptions {
                k,
                init,
                batch_size,
                seed: 4,
                ..KMeansOptions::default()
            };
            let fit64 = fit(&x, d, &options, &mut no_progress()).unwrap();
            let fit32 = fit(&x32, d, &options, &mut no_progress()).unwrap();
            assert!(
                same_partition(&fit64.labels, &truth, k),
                "{init:?} {batch_size}"
            );
            assert!(
                same_partition(&fit32.labels, &truth, k),
                "{init:?} {batch_size}"
            );
            assert!(fit64.converged);
            // Lloyd's centroids are the planted clusters' means.
            if batch_size == 0 {
                for j in 0..k {
                    let members: Vec<usize> = (0..truth.len())
                        .filter(|&i| fit64.labels[i] == j as u32)
                        .collect();
                    for f in 0..d {
                        let mean = members.iter().map(|&i| x[i * d + f]).sum::<f64>()
                            / members.len() as f64;
                        assert!((fit64.centroids[j * d + f] - mean).abs() < 1e-9);
                        assert!((f64::from(fit32.centroids[j * d + f]) - mean).abs() < 1e-3);
                    }
                }
            }
        }
    }

    #[test]
    fn inertia_never_rises() {
        // Unstructured data and many clusters: long runs, empty clusters possible.
        let d = 5;
        let mut rng = Rng::new(8);
        let x: Vec<f64> = (0..2000 * d).map(|_| rng.next_f64()).collect();
        let x32: Vec<f32> = x.iter().map(|&v| v as f32).collect();
        for init in [Init::Random, Init::KMeansPlusPlus] {
            let options = KMeansOptions {
                k: 40,
                init,
                tolerance: Some(0.0),
                seed: 2,
                ..KMeansOptions::default()
            };
            let f = fit(&x, d, &options, &mut no_progress()).unwrap();
            assert!(f.inertia_trace.len() > 10);
            for w in f.inertia_trace.windows(2) {
                assert!(w[1] <= w[0] * (1.0 + 1e-12), "{} then {}", w[0], w[1]);
            }
            let extra = usize::from(f.stop != Stop::LabelsUnchanged);
            assert_eq!(f.inertia_trace.len(), f.iterations + extra);
            let f = fit(&x32, d, &options, &mut no_progress()).unwrap();
            for w in f.inertia_trace.windows(2) {
                assert!(w[1] <= w[0] * (1.0 + 1e-6), "{} then {}", w[0], w[1]);
            }
        }
    }

    #[test]
    fn same_bits_whatever_the_thread_count() {
        let d = 6;
        let (x, _) = planted(3001, d, 9, 2.0, 1.0, 13);
        let x32: Vec<f32> = x.iter().map(|&v| v as f32).collect();
        for batch_size in [0, 200] {
            let options = KMeansOptions {
                k: 9,
                batch_size,
                seed: 21,
                ..KMeansOptions::default()
            };
            let run = |threads: usize, options: &KMeansOptions| {
                rayon::ThreadPoolBuilder::new()
                    .num_threads(threads)
                    .build()
                    .unwrap()
                    .install(|| fit(&x32, d, options, &mut no_progress()).unwrap())
            };
            let bits = |f: &KMeansFit<f32>| {
                let mut b: Vec<u64> = f.centroids.iter().map(|v| u64::from(v.to_bits())).collect();
                b.extend(f.labels.iter().map(|&l| u64::from(l)));
                b.push(f.inertia.to_bits());
                b.extend(f.inertia_trace.iter().map(|v| v.to_bits()));
                b.push(f.steps as u64);
                b
            };
            let one = run(1, &options);
            assert_eq!(bits(&one), bits(&run(2, &options)), "batch {batch_size}");
            assert_eq!(bits(&one), bits(&run(3, &options)), "batch {batch_size}");
            let other = run(
                2,
                &KMeansOptions {
                    seed: 22,
                    ..options.clone()
                },
            );
            assert_ne!(bits(&one), bits(&other), "another seed starts elsewhere");
        }
    }

    #[test]
    fn initialisations_pick_distinct_rows() {
        // 12 distinct points, each 40 times, in a random order.
        let d = 3;
        let points = normal_rows(12, d, 4);
        let mut rng = Rng::new(6);
        let mut x = Vec::new();
        let mut copies: Vec<usize> = (0..480).map(|i| i % 12).collect();
        for i in (1..copies.len()).rev() {
            copies.swap(i, rng.below(i as u64 + 1) as usize);
        }
        for &p in &copies {
            x.extend_from_slice(&points[p * d..(p + 1) * d]);
        }
        for init in [Init::KMeansPlusPlus, Init::Random] {
            for seed in 0..5 {
                let mut rng = Rng::new(seed);
                let c = initial_centres(&x, d, 12, init, &mut rng, &mut no_progress()).unwrap();
                let mut got: Vec<Vec<u64>> = c.chunks(d).map(row_key).collect();
                let mut want: Vec<Vec<u64>> = points.chunks(d).map(row_key).collect();
                got.sort();
                want.sort();
                assert_eq!(got, want, "{init:?} seed {seed}: the 12 distinct points");
            }
            let options = KMeansOptions {
                k: 13,
                init,
                ..KMeansOptions::default()
            };
            assert_eq!(
                fit(&x, d, &options, &mut no_progress()).unwrap_err(),
                LatentError::TooManyClusters {
                    k: 13,
                    distinct: 12
                }
            );
        }
        // k-means++ on distinct rows: k distinct rows of the data.
        let x = normal_rows(300, 2, 9);
        let mut rng = Rng::new(1);
        let c = initial_centres(
            &x,
            2,
            50,
            Init::KMeansPlusPlus,
            &mut rng,
            &mut no_progress(),
        )
        .unwrap();
        let keys: HashSet<Vec<u64>> = c.chunks(2).map(row_key).collect();
        assert_eq!(keys.len(), 50);
        let rows: HashSet<Vec<u64>> = x.chunks(2).map(row_key).collect();
        assert!(keys.is_subset(&rows));
    }

    #[test]
    fn minibatch_comes_within_a_few_percent_of_lloyd() {
        // Eight well-separated clusters (on closer ones both algorithms may merge two clusters,
        // and which does depends on the seed).
        let (d, k, n) = (10, 8, 20_000);
        let (x, truth) = planted(n, d, k, 8.0, 1.0, 17);
        let x32: Vec<f32> = x.iter().map(|&v| v as f32).collect();
        for seed in 1..4 {
            let lloyd = fit(
                &x32,
                d,
                &KMeansOptions {
                    k,
                    seed,
                    ..KMeansOptions::default()
                },
                &mut no_progress(),
            )
            .unwrap();
            for batch_size in [256, 1024] {
                let mini = fit(
                    &x32,
                    d,
                    &KMeansOptions {
                        k,
                        seed,
                        batch_size,
                        ..KMeansOptions::default()
                    },
                    &mut no_progress(),
                )
                .unwrap();
                assert!(
                    mini.inertia <= 1.03 * lloyd.inertia,
                    "seed {seed}, batch {batch_size}: {} vs {}",
                    mini.inertia,
                    lloyd.inertia
                );
                assert!(mini.inertia >= lloyd.inertia * 0.999);
                assert!(mini.converged && mini.stop == Stop::NoImprovement);
                assert!(mini.steps < 300 * n / batch_size);
                assert_eq!(mini.iterations, (mini.steps * batch_size).div_ceil(n));
                assert!(same_partition_fraction(&mini.labels, &truth, k) > 0.99);
            }
        }
    }

    /// The fraction of rows whose label maps to their planted cluster by the majority map.
    fn same_partition_fraction(labels: &[u32], truth: &[usize], k: usize) -> f64 {
        let mut table = vec![vec![0usize; k]; k];
        for (&l, &t) in labels.iter().zip(truth) {
            table[l as usize][t] += 1;
        }
        let hits: usize = table
            .iter()
            .map(|r| r.iter().max().copied().unwrap_or(0))
            .sum();
        hits as f64 / labels.len() as f64
    }

    #[test]
    fn empty_clusters_take_the_farthest_rows() {
        let x = vec![0.0, 1.0, 2.0, 10.0, 11.0];
        let centres = vec![0.5, 10.5, 100.0];
        let mut labels = vec![0; 5];
        assign(&x, 1, &centres, &mut labels);
        assert_eq!(labels, vec![0, 0, 0, 1, 1]);
        // Row 2 (2.25 from its centre) is the farthest: it becomes cluster 2.
        let (next, relocated) = update(&x, 1, &centres, &mut labels, &mut Vec::new());
        assert_eq!(relocated, 1);
        assert_eq!(labels, vec![0, 0, 2, 1, 1]);
        assert_eq!(next, vec![0.5, 10.5, 2.0]);
        let f = lloyd(&x, 1, centres, 10, 0.0, &mut no_progress()).unwrap();
        assert_eq!(f.centroids, vec![0.5, 10.5, 2.0]);
        assert_eq!(f.inertia, 1.0);
        assert_eq!(f.relocated, 1);
        assert_eq!(f.stop, Stop::LabelsUnchanged);
    }

    #[test]
    fn tolerance_is_relative_to_the_mean_column_variance() {
        // Column variances 1 and 4: the mean is 2.5.
        let x = vec![0.0, 0.0, 2.0, 4.0];
        assert!((absolute_tolerance(&x, 2, 1e-4) - 2.5e-4).abs() < 1e-18);
        assert_eq!(absolute_tolerance(&x, 2, 0.0), 0.0);
        // A huge tolerance stops after the first update, with one more assignment.
        let (x, _) = planted(500, 3, 4, 1.0, 1.0, 2);
        let f = fit(
            &x,
            3,
            &KMeansOptions {
                k: 4,
                tolerance: Some(1e6),
                ..KMeansOptions::default()
            },
            &mut no_progress(),
        )
        .unwrap();
        assert_eq!(
            (f.iterations, f.stop, f.converged),
            (1, Stop::Tolerance, true)
        );
        assert_eq!(f.inertia_trace.len(), 2);
        let (_, var) = column_moments(&x, 3);
        assert!((f.tolerance - 1e6 * var.iter().sum::<f64>() / 3.0).abs() < 1e-6);
    }

    #[test]
    fn the_callback_reports_and_stops() {
        let (x, _) = planted(800, 3, 4, 1.0, 1.0, 7);
        for (batch_size, stop_at) in [(0, 2), (50, 3)] {
            let mut seen = Vec::new();
            let e = fit(
                &x,
                3,
                &KMeansOptions {
                    k: 4,
                    batch_size,
                    tolerance: Some(0.0),
                    ..KMeansOptions::default()
                },
                &mut |p| {
                    seen.push(p);
                    match p {
                        Progress::Lloyd { iteration, .. } if iteration == stop_at => {
                            Err(LatentError::Cancelled)
                        }
                        Progress::MiniBatch { step, .. } if step == stop_at => {
                            Err(LatentError::Cancelled)
                        }
                        _ => Ok(()),
                    }
                },
            )
            .unwrap_err();
            assert_eq!(e, LatentError::Cancelled);
            // k-means++ reported its centres 1..=4, then the steps up to the stop.
            let inits = seen
                .iter()
                .filter(|p| matches!(p, Progress::Init { .. }))
                .count();
            assert_eq!(inits, 4);
            assert_eq!(seen.len(), 4 + stop_at);
        }
        let e = fit(
            &x,
            3,
            &KMeansOptions {
                k: 4,
                ..KMeansOptions::default()
            },
            &mut |p| match p {
                Progress::Init { centres: 2, .. } => Err(LatentError::Cancelled),
                _ => Ok(()),
            },
        )
        .unwrap_err();
        assert_eq!(e, LatentError::Cancelled);
    }

    #[test]
    fn bad_options_and_data_are_errors() {
        let x = normal_rows(10, 2, 1);
        let fit2 =
            |x: &[f64], d: usize, o: KMeansOptions| fit(x, d, &o, &mut no_progress()).unwrap_err();
        let k = |k| KMeansOptions {
            k,
            ..KMeansOptions::default()
        };
        assert_eq!(
            fit2(&x, 2, k(11)),
            LatentError::TooManyClusters {
                k: 11,
                distinct: 10
            }
        );
        assert_eq!(
            fit2(&x, 2, k(0)),
            LatentError::BadOption("k must be at least 1".to_string())
        );
        assert!(matches!(
            fit2(
                &x,
                2,
                KMeansOptions {
                    max_iter: 0,
                    ..k(2)
                }
            ),
            LatentError::BadOption(_)
        ));
        assert!(matches!(fit2(&x, 3, k(2)), LatentError::Shape(_)));
        assert!(matches!(fit2(&x, 0, k(2)), LatentError::Shape(_)));
        assert!(matches!(fit2(&[], 2, k(2)), LatentError::Empty(_)));
        assert!(matches!(
            fit2(
                &x,
                2,
                KMeansOptions {
                    tolerance: Some(-1.0),
                    ..k(2)
                }
            ),
            LatentError::BadOption(_)
        ));
        for bad in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
            let mut y = x.clone();
            y[7] = bad;
            let e = fit2(&y, 2, k(2));
            assert!(matches!(e, LatentError::NotFinite { .. }), "{e}");
            assert!(e.to_string().contains("must be finite"), "{e}");
        }
        // Values whose squares overflow f32.
        let big: Vec<f32> = vec![0.0, 0.0, 3e19, 3e19, -3e19, 3e19];
        let e = fit(&big, 2, &k(2), &mut no_progress()).unwrap_err();
        assert!(matches!(e, LatentError::NotFinite { .. }), "{e}");
        let e = fit2(
            &x,
            2,
            KMeansOptions {
                init_size: Some(5),
                ..k(2)
            },
        );
        assert!(e.to_string().contains("mini-batch"), "{e}");
        let e = fit2(
            &x,
            2,
            KMeansOptions {
                init_size: Some(1),
                batch_size: 4,
                ..k(2)
            },
        );
        assert!(
            e.to_string()
                .contains("init_size = 1 is smaller than k = 2"),
            "{e}"
        );
        // 1000 rows of which 990 are two points: 5 rows drawn hold too few distinct ones.
        let mut y = Vec::new();
        for i in 0..1000 {
            let v = if i < 990 { (i % 2) as f64 } else { i as f64 };
            y.extend_from_slice(&[v, -v]);
        }
        let e = fit2(
            &y,
            2,
            KMeansOptions {
                init_size: Some(5),
                batch_size: 10,
                seed: 3,
                ..k(5)
            },
        );
        match e {
            LatentError::InitSample {
                k: 5,
                init_size: 5,
                distinct,
            } => assert!(distinct < 5),
            e => panic!("{e}"),
        }
        // The same data has 12 distinct rows: Lloyd with k = 5 fits.
        assert!(fit(&y, 2, &k(5), &mut no_progress()).is_ok());
    }

    #[test]
    fn check_resolves_scikit_learn_defaults() {
        let x = vec![0.0f64; 1000 * 2];
        let plan = |o: KMeansOptions| o.check(&x, 2).unwrap();
        let lloyd = plan(KMeansOptions::default());
        assert_eq!(
            (lloyd.tolerance, lloyd.batch, lloyd.init_size),
            (1e-4, 0, 1000)
        );
        let mini = plan(KMeansOptions {
            batch_size: 100,
            ..KMeansOptions::default()
        });
        assert_eq!(
            (mini.tolerance, mini.batch, mini.init_size),
            (0.0, 100, 300)
        );
        let small = plan(KMeansOptions {
            batch_size: 2,
            ..KMeansOptions::default()
        });
        assert_eq!(small.init_size, 24);
        let big = plan(KMeansOptions {
            batch_size: 5000,
            ..KMeansOptions::default()
        });
        assert_eq!((big.batch, big.init_size), (1000, 1000));
        let given = plan(KMeansOptions {
            batch_size: 10,
            init_size: Some(50),
            tolerance: Some(0.5),
            ..KMeansOptions::default()
        });
        assert_eq!((given.init_size, given.tolerance), (50, 0.5));
    }

    #[test]
    fn nearest_is_the_first_closest_centroid() {
        let d = 5;
        let x = normal_rows(200, d, 3);
        let centres: Vec<f32> = normal_rows(17, d, 4).iter().map(|&v| v as f32).collect();
        let c64: Vec<f64> = centres.iter().map(|&v| f64::from(v)).collect();
        let (want, _) = brute_assign(&x, d, &c64);
        for (r, &w) in x.chunks(d).zip(&want) {
            assert_eq!(nearest(r, &centres), Some(w as usize));
        }
        // Ties go to the lower index; shapes that do not fit give None.
        assert_eq!(nearest(&[1.0, 0.0], &[0.0, 0.0, 2.0, 0.0]), Some(0));
        assert_eq!(nearest(&[3.0, 0.0], &[0.0, 0.0, 2.0, 0.0]), Some(1));
        assert_eq!(nearest(&[1.0, 0.0, 0.0], &[0.0, 0.0]), None);
        assert_eq!(nearest(&[], &[0.0]), None);
    }
}
