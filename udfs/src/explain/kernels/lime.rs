//! LIME for tag vectors, following the `lime` package's text explainer.
//!
//! LIME (Ribeiro, Singh & Guestrin 2016; thesis eq. 5.19–5.20) explains one prediction
//! `f(u, i, T_i)` by fitting a sparse, locally weighted linear model to the model's scores on
//! perturbed versions of the item's tags. The thesis used the `lime` package's text explainer
//! (`LimeTextExplainer` with `LimeBase`), treating an item's tags as the words of a document;
//! this module reproduces its arithmetic so that explanations, and hence fidelities, are
//! comparable. Scoring the perturbed tag vectors is the caller's job (it needs the model); the
//! steps here are:
//!
//! 1. [`perturbations`]: `M` binary rows over the item's `d` tags. Row 0 is the instance itself
//!    (every tag on). Each other row switches off `s` tags, `s` uniform in `1..=d`, chosen
//!    uniformly without replacement. This is what `lime_text` does today
//!    (`randint(1, d + 1)`; the very first release drew from `1..d`, which never removed every
//!    word). So a row may have every tag off, and for `d = 1` every row but the first does.
//! 2. [`cosine_distances`]: the cosine distance of each row to row 0, times 100 (a row with every
//!    tag off has cosine similarity 0, so distance 100, as scikit-learn's `cosine_distances`
//!    gives for a zero vector).
//! 3. [`kernel_weights`]: `π = √exp(−D² / σ²)` with `σ` the kernel width (default 25).
//! 4. [`select_features`]: at most `ω` features by one of `LimeBase`'s methods
//!    ([`FeatureSelection`]).
//! 5. The surrogate: weighted ridge regression (`α = 1`, with intercept) on the selected
//!    features; the explanation is its coefficients (sorted by decreasing magnitude, as `lime`
//!    returns them), its intercept, its weighted `R²` on the perturbations, and its prediction
//!    for row 0 ([`explain`], or [`explain_with_data`] for arbitrary data and weights).
//!
//! Features are positions in the item's tag row (`0..d`); the caller maps them to tag ids.

use std::fmt;
use std::str::FromStr;

use nalgebra::DMatrix;

use super::lars::{lasso_path_gram, DEFAULT_MAX_ITER};
use super::ridge::WeightedDesign;
use super::{check_finite, invalid, ExplainError};
use crate::common::rng::Rng;

/// `LimeTextExplainer`'s default kernel width `σ`.
pub const DEFAULT_KERNEL_WIDTH: f64 = 25.0;

/// `LimeTextExplainer.explain_instance`'s default number of samples (the instance included).
pub const DEFAULT_SAMPLES: usize = 5000;

/// The ridge penalty of the final surrogate (`LimeBase`'s default `Ridge(alpha=1)`).
pub const SURROGATE_ALPHA: f64 = 1.0;

/// The ridge penalty of the `highest_weights` selection fit.
pub const HIGHEST_WEIGHTS_ALPHA: f64 = 0.01;

/// The largest `ω` for which `auto` uses forward selection (above it, highest weights).
pub const AUTO_FORWARD_SELECTION_MAX: usize = 6;

/// How the (at most `ω`) features of the surrogate are chosen; the names are `lime`'s.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum FeatureSelection {
    /// `forward_selection` when `ω ≤ 6`, otherwise `highest_weights`.
    #[default]
    Auto,
    /// Greedy: repeatedly add the feature whose unpenalised weighted least-squares fit (with
    /// the features already chosen) has the highest weighted `R²`; `min(ω, d)` features in the
    /// order they were added.
    ForwardSelection,
    /// Fit ridge (`α = 0.01`) on all features and keep the `ω` with the largest
    /// `|coefficient × instance value|` (ties: lower index first).
    HighestWeights,
    /// The LARS-lasso path of the centred, weighted data; the last knot (smallest penalty) with
    /// at most `ω` non-zero coefficients, features in increasing order. Like `lime`, when the
    /// path has no knot after the start (constant labels) every feature is returned.
    LassoPath,
    /// Every feature (`ω` is not used).
    None,
}

impl FeatureSelection {
    /// `lime`'s name for the method.
    pub fn name(self) -> &'static str {
        match self {
            FeatureSelection::Auto => "auto",
            FeatureSelection::ForwardSelection => "forward_selection",
            FeatureSelection::HighestWeights => "highest_weights",
            FeatureSelection::LassoPath => "lasso_path",
            FeatureSelection::None => "none",
        }
    }
}

impl fmt::Display for FeatureSelection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for FeatureSelection {
    type Err = ExplainError;

    fn from_str(s: &str) -> Result<FeatureSelection, ExplainError> {
        match s.to_ascii_lowercase().as_str() {
            "auto" => Ok(FeatureSelection::Auto),
            "forward_selection" => Ok(FeatureSelection::ForwardSelection),
            "highest_weights" => Ok(FeatureSelection::HighestWeights),
            "lasso_path" => Ok(FeatureSelection::LassoPath),
            "none" => Ok(FeatureSelection::None),
            _ => invalid(format!(
                "unknown feature selection '{s}' (expected auto, forward_selection, \
                 highest_weights, lasso_path or none)"
            )),
        }
    }
}

/// A binary `samples × features` matrix of perturbations, row-major; row 0 is the instance
/// (every feature on). `true` means the tag is kept.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Perturbations {
    samples: usize,
    features: usize,
    on: Vec<bool>,
    /// Features kept in each row.
    kept: Vec<usize>,
}

impl Perturbations {
    /// Wraps a row-major mask of `features` columns (for callers that build their own).
    ///
    /// Errors when `features` is 0, the mask is empty or not a whole number of rows, or row 0
    /// is not all on.
    pub fn new(features: usize, on: Vec<bool>) -> Result<Perturbations, ExplainError> {
        if features == 0 {
            return invalid("perturbations need at least one feature");
        }
        if on.is_empty() || on.len() % features != 0 {
            return invalid(format!(
                "a mask of {} values is not a whole number of rows of {features}",
                on.len()
            ));
        }
        if on[..features].iter().any(|&b| !b) {
            return invalid("row 0 of the perturbations must be the instance (all on)");
        }
        let kept = on
            .chunks_exact(features)
            .map(|row| row.iter().filter(|&&b| b).count())
            .collect();
        Ok(Perturbations {
            samples: on.len() / features,
            features,
            on,
            kept,
        })
    }

    /// Number of rows (the instance included).
    pub fn samples(&self) -> usize {
        self.samples
    }

    /// Number of features `d`.
    pub fn features(&self) -> usize {
        self.features
    }

    /// Row `k` (`true` = kept). Panics if `k >= samples()`, like slice indexing.
    pub fn row(&self, k: usize) -> &[bool] {
        &self.on[k * self.features..(k + 1) * self.features]
    }

    /// The whole mask, row-major.
    pub fn as_slice(&self) -> &[bool] {
        &self.on
    }

    /// Number of features kept in row `k`.
    pub fn kept(&self, k: usize) -> usize {
        self.kept[k]
    }

    /// The mask as a `samples × features` matrix of zeros and ones.
    pub fn to_matrix(&self) -> DMatrix<f64> {
        // Sample by sample: the d columns' current cache lines stay in the L1 cache across
        // consecutive samples, and every value is written (no branch).
        let (n, d) = (self.samples, self.features);
        let mut values = vec![0.0f64; n * d];
        for (k, row) in self.on.chunks_exact(d).enumerate() {
            for (j, &on) in row.iter().enumerate() {
                values[j * n + k] = f64::from(u8::from(on));
            }
        }
        DMatrix::from_vec(n, d, values)
    }

    /// The mask as row-major `samples × features` zeros and ones.
    pub fn to_rows(&self) -> Vec<f64> {
        self.on.iter().map(|&on| f64::from(u8::from(on))).collect()
    }
}

/// Draws `samples` perturbations of an instance with `d` features, as `lime_text` does.
///
/// Row 0 keeps every feature. Each other row draws a number `s` uniform in `1..=d` and switches
/// off `s` features chosen uniformly without replacement (a partial Fisher–Yates shuffle). For
/// `d = 1` every row after the first therefore has its only feature off. Errors when `d` or
/// `samples` is 0.
pub fn perturbations(
    d: usize,
    samples: usize,
    rng: &mut Rng,
) -> Result<Perturbations, ExplainError> {
    if d == 0 {
        return invalid("cannot perturb an instance with no features");
    }
    if samples == 0 {
        return invalid("at least one sample (the instance) is needed");
    }
    let Some(total) = d.checked_mul(samples) else {
        return invalid(format!("{samples} samples of {d} features overflow"));
    };
    let mut on = vec![true; total];
    let mut kept = Vec::with_capacity(samples);
    kept.push(d);
    // `order` is the identity before each row. Step `i` of the shuffle swaps positions `i` and
    // `j >= i` and switches off the feature that lands at `i`; position `i` is never read again
    // in the row, so only position `j` is written, and afterwards the written positions are
    // reset (cheaper than undoing the swaps, and than rewriting all d entries when few features
    // are switched off). The row's draws are taken first, in the order the steps use them, so
    // that the generator runs in a tight loop.
    let mut order: Vec<usize> = (0..d).collect();
    let mut steps: Vec<u64> = Vec::with_capacity(d);
    for row in on.chunks_mut(d).skip(1) {
        let off = 1 + rng.below(d as u64) as usize;
        steps.clear();
        steps.extend((0..off).map(|_| rng.next_u64()));
        for (i, step) in steps.iter_mut().enumerate() {
            let j = i + Rng::scale_below(*step, (d - i) as u64) as usize;
            let picked = order[j];
            order[j] = order[i];
            row[picked] = false;
            *step = j as u64;
        }
        for &j in &steps {
            order[j as usize] = j as usize;
        }
        kept.push(d - off);
    }
    Ok(Perturbations {
        samples,
        features: d,
        on,
        kept,
    })
}

/// The cosine distance of each row of `z` to row 0, times 100 (`lime_text`'s distances).
///
/// Row 0 is all ones, so a row keeping `k` of the `d` features has cosine similarity
/// `k / (√k √d) = √(k / d)`; a row keeping none has similarity 0 (distance 100).
pub fn cosine_distances(z: &Perturbations) -> Vec<f64> {
    let d = z.features() as f64;
    (0..z.samples())
        .map(|k| {
            let kept = z.kept(k) as f64;
            (1.0 - (kept / d).sqrt()) * 100.0
        })
        .collect()
}

/// `lime_text`'s kernel `√exp(−D² / σ²)` of each distance, with `σ = kernel_width > 0`.
pub fn kernel_weights(distances: &[f64], kernel_width: f64) -> Result<Vec<f64>, ExplainError> {
    if !(kernel_width.is_finite() && kernel_width > 0.0) {
        return invalid(format!(
            "kernel width must be finite and positive, got {kernel_width}"
        ));
    }
    check_finite(distances, "distances")?;
    let s2 = kernel_width * kernel_width;
    Ok(distances
        .iter()
        .map(|dist| (-(dist * dist) / s2).exp().sqrt())
        .collect())
}

/// `LimeBase.forward_selection`: greedily adds the feature whose unpenalised (ridge `α = 0`)
/// weighted fit together with the features already chosen has the highest weighted `R²`
/// (strictly higher wins, so ties go to the lower index), `min(ω, d)` times. Returns the
/// features in the order they were added.
pub fn forward_selection(
    design: &WeightedDesign,
    omega: usize,
) -> Result<Vec<usize>, ExplainError> {
    check_omega(omega)?;
    let d = design.features();
    // One R² per remaining feature and step: down contiguous columns.
    design.prepare_columns();
    let mut used: Vec<usize> = Vec::with_capacity(omega.min(d));
    let mut is_used = vec![false; d];
    let mut cols: Vec<usize> = Vec::with_capacity(omega.min(d));
    for _ in 0..omega.min(d) {
        // lime starts from -1e8 and keeps the first strictly better score.
        let mut best: Option<(usize, f64)> = None;
        for feature in (0..d).filter(|&f| !is_used[f]) {
            cols.clear();
            cols.extend_from_slice(&used);
            cols.push(feature);
            let fit = design.fit(&cols, 0.0)?;
            let score = design.r2(&cols, &fit)?;
            let max = best.map_or(-100_000_000.0, |(_, s)| s);
            if score > max {
                best = Some((feature, score));
            }
        }
        // A weighted least-squares fit with an intercept has R² >= 0, so some feature always
        // beats lime's starting value; stopping here only guards against the impossible.
        let Some((feature, _)) = best else {
            break;
        };
        used.push(feature);
        is_used[feature] = true;
    }
    Ok(used)
}

/// `LimeBase`'s `highest_weights`: ridge (`α = 0.01`, intercept) on all features, then the
/// `min(ω, d)` features with the largest `|coefficient × x0|` (`x0` the instance's row), ties to
/// the lower index.
pub fn highest_weights(
    design: &WeightedDesign,
    x0: &[f64],
    omega: usize,
) -> Result<Vec<usize>, ExplainError> {
    check_omega(omega)?;
    let d = design.features();
    if x0.len() != d {
        return invalid(format!("instance has {} values for {d} features", x0.len()));
    }
    let cols: Vec<usize> = (0..d).collect();
    let fit = design.fit(&cols, HIGHEST_WEIGHTS_ALPHA)?;
    let weighted: Vec<f64> = fit.coef.iter().zip(x0).map(|(c, x)| c * x).collect();
    let mut order = cols;
    // Stable sort: equal magnitudes keep increasing index order, as Python's sorted does.
    order.sort_by(|&a, &b| weighted[b].abs().total_cmp(&weighted[a].abs()));
    order.truncate(omega.min(d));
    Ok(order)
}

/// `LimeBase`'s `lasso_path`: the LARS-lasso path of the centred, weighted data
/// ([`WeightedDesign::weighted_data`], [`WeightedDesign::weighted_labels`]); scanning the knots
/// from the last (smallest penalty) back to the second, the first with at most `ω` non-zero
/// coefficients gives the features (increasing order). If the path has a single knot (all
/// correlations already zero, e.g. constant labels), `lime`'s loop never runs and every feature
/// is returned; if no knot qualifies, the second knot's features are returned (it has one).
pub fn lasso_path_selection(
    design: &WeightedDesign,
    omega: usize,
) -> Result<Vec<usize>, ExplainError> {
    check_omega(omega)?;
    Ok(lasso_pick(&lasso_knots(design)?, design.features(), omega))
}

/// The coefficients at each knot of the LARS-lasso path of `design`'s centred, weighted data.
fn lasso_knots(design: &WeightedDesign) -> Result<Vec<Vec<f64>>, ExplainError> {
    let xy: Vec<f64> = design.weighted_xty().iter().copied().collect();
    Ok(lasso_path_gram(design.gram(), &xy, design.samples(), DEFAULT_MAX_ITER)?.coefs)
}

/// [`lasso_path_selection`]'s scan of the knots `coefs` of a path over `d` features.
fn lasso_pick(coefs: &[Vec<f64>], d: usize, omega: usize) -> Vec<usize> {
    let mut nonzero: Vec<usize> = (0..d).collect();
    for knot in coefs.iter().skip(1).rev() {
        nonzero = (0..knot.len()).filter(|&j| knot[j] != 0.0).collect();
        if nonzero.len() <= omega {
            break;
        }
    }
    nonzero
}

/// Selects the surrogate's features from `data` (samples × features, row 0 the instance),
/// `labels` and sample `weights`, as `LimeBase.feature_selection`.
pub fn select_features(
    data: &DMatrix<f64>,
    labels: &[f64],
    weights: &[f64],
    omega: usize,
    method: FeatureSelection,
) -> Result<Vec<usize>, ExplainError> {
    let design = WeightedDesign::new(data, labels, weights)?;
    let x0: Vec<f64> = data.row(0).iter().copied().collect();
    let mut selections = select_for_each(&design, &x0, &[omega], method)?;
    Ok(selections.pop().unwrap_or_default())
}

/// The features `method` selects at each complexity of `omegas` (each at least 1), doing the
/// work the complexities share once:
///
/// - forward selection is greedy and deterministic, so its choice for `ω` is the first `ω` steps
///   of one path run to the largest `ω`;
/// - highest weights ranks every feature by one ridge fit and keeps the first `ω`;
/// - the lasso path is computed once and scanned for each `ω`.
///
/// Each selection equals what `LimeBase.feature_selection` returns for that `ω` alone.
pub fn select_for_each(
    design: &WeightedDesign,
    x0: &[f64],
    omegas: &[usize],
    method: FeatureSelection,
) -> Result<Vec<Vec<usize>>, ExplainError> {
    for &omega in omegas {
        check_omega(omega)?;
    }
    let d = design.features();
    let resolve = |omega: usize| match method {
        FeatureSelection::Auto if omega <= AUTO_FORWARD_SELECTION_MAX => {
            FeatureSelection::ForwardSelection
        }
        FeatureSelection::Auto => FeatureSelection::HighestWeights,
        other => other,
    };
    let longest = |m: FeatureSelection| omegas.iter().copied().filter(|&o| resolve(o) == m).max();
    let forward = match longest(FeatureSelection::ForwardSelection) {
        Some(omega) => forward_selection(design, omega)?,
        None => Vec::new(),
    };
    let ranked = match longest(FeatureSelection::HighestWeights) {
        Some(_) => highest_weights(design, x0, d.max(1))?,
        None => Vec::new(),
    };
    let knots = match longest(FeatureSelection::LassoPath) {
        Some(_) => lasso_knots(design)?,
        None => Vec::new(),
    };
    Ok(omegas
        .iter()
        .map(|&omega| match resolve(omega) {
            FeatureSelection::ForwardSelection => forward[..omega.min(forward.len())].to_vec(),
            FeatureSelection::HighestWeights => ranked[..omega.min(ranked.len())].to_vec(),
            FeatureSelection::LassoPath => lasso_pick(&knots, d, omega),
            FeatureSelection::None | FeatureSelection::Auto => (0..d).collect(),
        })
        .collect())
}

fn check_omega(omega: usize) -> Result<(), ExplainError> {
    if omega == 0 {
        return invalid("the explanation complexity omega must be at least 1");
    }
    Ok(())
}

/// A LIME explanation: the surrogate `ĝ(z) = intercept + Σ coef · z_feature`.
#[derive(Clone, Debug, PartialEq)]
pub struct Explanation {
    /// `(feature, coefficient)` for each selected feature, by decreasing `|coefficient|`
    /// (equal magnitudes keep the selection order), as `lime`'s `local_exp`.
    pub coefficients: Vec<(usize, f64)>,
    /// The surrogate's intercept.
    pub intercept: f64,
    /// The surrogate's weighted `R²` on the perturbations (`lime`'s `score`).
    pub score: f64,
    /// The surrogate's prediction for row 0, the instance (`lime`'s `local_pred`).
    pub local_prediction: f64,
}

impl Explanation {
    /// The selected features, in the order of [`Explanation::coefficients`].
    pub fn features(&self) -> Vec<usize> {
        self.coefficients.iter().map(|&(f, _)| f).collect()
    }
}

/// `LimeBase.explain_instance_with_data`: selects at most `ω` features of `data` (samples ×
/// features, row 0 the instance) by `method`, then fits the surrogate, weighted ridge with
/// penalty `surrogate_alpha` (`lime`: [`SURROGATE_ALPHA`]) and an intercept, on them.
///
/// `labels[k]` is the model's score for row `k`, `weights[k]` its kernel weight. Errors for
/// `ω = 0`, empty data, mismatched lengths, non-finite values, negative weights or weights
/// summing to zero.
pub fn explain_with_data(
    data: &DMatrix<f64>,
    labels: &[f64],
    weights: &[f64],
    omega: usize,
    method: FeatureSelection,
    surrogate_alpha: f64,
) -> Result<Explanation, ExplainError> {
    let mut out = explain_each_omega(data, labels, weights, &[omega], method, surrogate_alpha)?;
    match out.pop() {
        Some(e) => Ok(e),
        None => Err(ExplainError::Numerical("no explanation was made".into())),
    }
}

/// [`explain_with_data`] at each complexity of `omegas`, centring and weighting the data once and
/// sharing the feature selection's work between the complexities ([`select_for_each`]). The
/// result for each `ω` equals [`explain_with_data`]'s for that `ω`.
pub fn explain_each_omega(
    data: &DMatrix<f64>,
    labels: &[f64],
    weights: &[f64],
    omegas: &[usize],
    method: FeatureSelection,
    surrogate_alpha: f64,
) -> Result<Vec<Explanation>, ExplainError> {
    // The transpose's column-major storage is `data` row by row.
    explain_each_omega_rows(
        data.transpose().as_slice(),
        data.ncols(),
        labels,
        weights,
        omegas,
        method,
        surrogate_alpha,
    )
}

/// [`explain_each_omega`] for data given row-major (`x` holds rows of `features` values; row 0
/// the instance), as LIME's perturbations are built.
pub fn explain_each_omega_rows(
    x: &[f64],
    features: usize,
    labels: &[f64],
    weights: &[f64],
    omegas: &[usize],
    method: FeatureSelection,
    surrogate_alpha: f64,
) -> Result<Vec<Explanation>, ExplainError> {
    for &omega in omegas {
        check_omega(omega)?;
    }
    if features == 0 {
        return invalid("no features to explain");
    }
    let design = WeightedDesign::from_rows(x, x.len() / features, features, labels, weights)?;
    explain_design(&design, &x[..features], omegas, method, surrogate_alpha)
}

/// The explanations at each of `omegas` from a weighted design and the instance's row `x0`.
fn explain_design(
    design: &WeightedDesign,
    x0: &[f64],
    omegas: &[usize],
    method: FeatureSelection,
    surrogate_alpha: f64,
) -> Result<Vec<Explanation>, ExplainError> {
    select_for_each(design, x0, omegas, method)?
        .into_iter()
        .map(|used| {
            let fit = design.fit(&used, surrogate_alpha)?;
            let score = design.r2(&used, &fit)?;
            let local_prediction = fit.intercept
                + used
                    .iter()
                    .zip(&fit.coef)
                    .map(|(&c, b)| x0[c] * b)
                    .sum::<f64>();
            let mut coefficients: Vec<(usize, f64)> = used.into_iter().zip(fit.coef).collect();
            coefficients.sort_by(|a, b| b.1.abs().total_cmp(&a.1.abs()));
            Ok(Explanation {
                coefficients,
                intercept: fit.intercept,
                score,
                local_prediction,
            })
        })
        .collect()
}

/// Explains one instance from its perturbations `z` (see [`perturbations`]) and the model's
/// scores `labels[k]` for each row `k`, as `LimeTextExplainer.explain_instance` does after
/// scoring: cosine distances ×100, kernel of width `kernel_width` (`lime`: 25), selection of at
/// most `ω` features by `method`, and the `α = 1` ridge surrogate.
pub fn explain(
    labels: &[f64],
    z: &Perturbations,
    omega: usize,
    method: FeatureSelection,
    kernel_width: f64,
) -> Result<Explanation, ExplainError> {
    if labels.len() != z.samples() {
        return invalid(format!(
            "{} labels for {} perturbations",
            labels.len(),
            z.samples()
        ));
    }
    let weights = kernel_weights(&cosine_distances(z), kernel_width)?;
    explain_with_data(
        &z.to_matrix(),
        labels,
        &weights,
        omega,
        method,
        SURROGATE_ALPHA,
    )
}
#[cfg(test)]
mod tests {
    use super::*;
    use crate::explain::kernels::lars::lasso_path as lars_lasso_path;
    use crate::explain::kernels::lars::tests::check_path_against_cd;
    use crate::explain::kernels::ridge::tests::closed_form;

    /// Labels of an exactly linear model `b + z · w` on the perturbations.
    fn linear_labels(z: &Perturbations, b: f64, w: &[f64]) -> Vec<f64> {
        (0..z.samples())
            .map(|k| {
                b + z
                    .row(k)
                    .iter()
                    .zip(w)
                    .map(|(&on, wj)| if on { *wj } else { 0.0 })
                    .sum::<f64>()
            })
            .collect()
    }

    /// A non-linear "model" of the tags, for problems without an exact answer.
    fn nonlinear_labels(z: &Perturbations, rng: &mut Rng) -> Vec<f64> {
        let d = z.features();
        let a: Vec<f64> = (0..d).map(|_| rng.normal()).collect();
        (0..z.samples())
            .map(|k| {
                let row = z.row(k);
                let lin: f64 = row
                    .iter()
                    .zip(&a)
                    .map(|(&on, aj)| if on { *aj } else { 0.0 })
                    .sum();
                let inter = if row[0] && row[d - 1] { 0.7 } else { 0.0 };
                lin.tanh() + inter
            })
            .collect()
    }

    fn weights_of(z: &Perturbations) -> Vec<f64> {
        kernel_weights(&cosine_distances(z), DEFAULT_KERNEL_WIDTH).unwrap()
    }

    #[test]
    fn perturbations_follow_lime() {
        let mut rng = Rng::new(42);
        let (d, m) = (7, 300);
        let z = perturbations(d, m, &mut rng).unwrap();
        assert_eq!((z.samples(), z.features()), (m, d));
        assert!(z.row(0).iter().all(|&b| b));
        for k in 1..m {
            let removed = d - z.kept(k);
            assert!((1..=d).contains(&removed), "row {k} removes {removed}");
        }
        let again = perturbations(d, m, &mut Rng::new(42)).unwrap();
        assert_eq!(z, again);
        let other = perturbations(d, m, &mut Rng::new(43)).unwrap();
        assert_ne!(z, other);
    }

    #[test]
    fn perturbations_equal_a_fresh_shuffle_per_row() {
        // The direct reading of lime_text's draw: each row starts from the identity order (no
        // undone swaps), as the documentation says. Every d from 1 to 40, and Last.fm's
        // largest tag count (329), same seed.
        for d in (1..=40).chain([64, 329]) {
            let z = perturbations(d, 200, &mut Rng::new(d as u64)).unwrap();
            let mut rng = Rng::new(d as u64);
            let mut want = vec![true; d];
            for k in 1..200 {
                let mut row = vec![true; d];
                let mut order: Vec<usize> = (0..d).collect();
                let off = 1 + rng.below(d as u64) as usize;
                for i in 0..off {
                    let j = i + rng.below((d - i) as u64) as usize;
                    order.swap(i, j);
                    row[order[i]] = false;
                }
                assert_eq!(z.kept(k), row.iter().filter(|&&b| b).count());
                want.extend(row);
            }
            assert_eq!(z.as_slice(), &want[..], "d = {d}");
            assert_eq!(Perturbations::new(d, want).unwrap(), z);
        }
    }

    #[test]
    fn removal_counts_and_positions_are_uniform() {
        let mut rng = Rng::new(7);
        let (d, m) = (4, 40_001);
        let z = perturbations(d, m, &mut rng).unwrap();
        let mut by_count = vec![0usize; d + 1];
        let mut by_feature = vec![0usize; d];
        for k in 1..m {
            by_count[d - z.kept(k)] += 1;
            for (j, &on) in z.row(k).iter().enumerate() {
                if !on {
                    by_feature[j] += 1;
                }
            }
        }
        let rows = (m - 1) as f64;
        assert_eq!(by_count[0], 0);
        for &c in &by_count[1..] {
            let p = c as f64 / rows;
            assert!((p - 0.25).abs() < 0.01, "{by_count:?}");
        }
        // P(feature off) = E[removed] / d = (d + 1) / (2 d).
        for &c in &by_feature {
            let p = c as f64 / rows;
            assert!((p - 0.625).abs() < 0.01, "{by_feature:?}");
        }
    }

    #[test]
    fn single_feature_rows_switch_it_off() {
        let z = perturbations(1, 5, &mut Rng::new(1)).unwrap();
        assert_eq!(z.as_slice(), &[true, false, false, false, false]);
        let dist = cosine_distances(&z);
        assert_eq!(dist, vec![0.0, 100.0, 100.0, 100.0, 100.0]);
        let w = kernel_weights(&dist, 25.0).unwrap();
        assert_eq!(w[0], 1.0);
        assert!((w[1] - (-8.0f64).exp()).abs() < 1e-18);
        // The surrogate still fits: on = 3, off = 1.
        let labels = [3.0, 1.0, 1.0, 1.0, 1.0];
        let e = explain(&labels, &z, 1, FeatureSelection::Auto, 25.0).unwrap();
        assert_eq!(e.features(), vec![0]);
        assert!(e.coefficients[0].1 > 0.0);
    }

    #[test]
    fn distances_and_weights() {
        let mut rng = Rng::new(5);
        let z = perturbations(9, 500, &mut rng).unwrap();
        let dist = cosine_distances(&z);
        let w = kernel_weights(&dist, DEFAULT_KERNEL_WIDTH).unwrap();
        assert_eq!(dist[0], 0.0);
        assert_eq!(w[0], 1.0);
        for k in 0..z.samples() {
            let kept = z.kept(k) as f64;
            let expected = 100.0 * (1.0 - kept / (kept.sqrt() * 3.0));
            if kept > 0.0 {
                assert!((dist[k] - expected).abs() < 1e-12);
            } else {
                assert_eq!(dist[k], 100.0);
            }
            assert!(w[k] > 0.0 && w[k] <= 1.0);
            assert!((w[k] - (-dist[k] * dist[k] / 625.0).exp().sqrt()).abs() < 1e-15);
        }
        // Keeping 1 of 4 tags: cosine 1/2, distance 50, weight √exp(−4) = e^−2.
        let z =
            Perturbations::new(4, vec![true, true, true, true, true, false, false, false]).unwrap();
        let w = kernel_weights(&cosine_distances(&z), 25.0).unwrap();
        assert!((w[1] - (-2.0f64).exp()).abs() < 1e-15);
        assert!(kernel_weights(&[1.0], 0.0).is_err());
        assert!(kernel_weights(&[1.0], f64::NAN).is_err());
    }

    #[test]
    fn surrogate_recovers_a_linear_model() {
        let mut rng = Rng::new(2024);
        let d = 10;
        let z = perturbations(d, 800, &mut rng).unwrap();
        let mut w = vec![0.0; d];
        w[1] = 2.0;
        w[4] = -1.5;
        w[7] = 0.8;
        let support = [1usize, 4, 7];
        let b = 0.3;
        let labels = linear_labels(&z, b, &w);
        let weights = weights_of(&z);
        let data = z.to_matrix();
        let methods = [
            (FeatureSelection::ForwardSelection, vec![3, 4, 6]),
            (FeatureSelection::HighestWeights, vec![3, 5, 10]),
            (FeatureSelection::LassoPath, vec![3, 5, 10]),
            (FeatureSelection::Auto, vec![3, 6, 7, 10]),
            (FeatureSelection::None, vec![1]),
        ];
        for (method, omegas) in methods {
            for omega in omegas {
                // Unpenalised surrogate: exact recovery.
                let e = explain_with_data(&data, &labels, &weights, omega, method, 0.0).unwrap();
                let feats = e.features();
                for s in support {
                    assert!(feats.contains(&s), "{method} ω={omega}: {feats:?}");
                }
                if method != FeatureSelection::None {
                    assert!(feats.len() <= omega, "{method} ω={omega}: {feats:?}");
                }
                for &(f, c) in &e.coefficients {
                    assert!((c - w[f]).abs() < 1e-9, "{method} ω={omega}: {f} {c}");
                }
                assert!((e.intercept - b).abs() < 1e-9);
                assert!((e.score - 1.0).abs() < 1e-12);
                assert!((e.local_prediction - (b + 2.0 - 1.5 + 0.8)).abs() < 1e-9);
                // The true features come first (largest |coefficient|).
                assert_eq!(&feats[..3], &[1, 4, 7]);
                // lime's surrogate (ridge α = 1): same features, slightly shrunk.
                let e1 = explain(&labels, &z, omega, method, DEFAULT_KERNEL_WIDTH).unwrap();
                assert_eq!(e1.features().len(), feats.len());
                for &(f, c) in &e1.coefficients {
                    assert!((c - w[f]).abs() < 0.02 * w[f].abs() + 0.01, "{f} {c}");
                }
                assert!(e1.score > 0.999);
            }
        }
    }

    #[test]
    fn surrogate_is_the_closed_form_ridge_on_the_selection() {
        let mut rng = Rng::new(99);
        let d = 6;
        let z = perturbations(d, 200, &mut rng).unwrap();
        let labels = nonlinear_labels(&z, &mut rng);
        let weights = weights_of(&z);
        let e = explain(&labels, &z, 3, FeatureSelection::Auto, DEFAULT_KERNEL_WIDTH).unwrap();
        let feats = e.features();
        let sub = DMatrix::from_fn(z.samples(), feats.len(), |k, c| {
            if z.row(k)[feats[c]] {
                1.0
            } else {
                0.0
            }
        });
        let (beta, b0) = closed_form(&sub, &labels, &weights, SURROGATE_ALPHA);
        for (c, &(_, coef)) in e.coefficients.iter().enumerate() {
            assert!((coef - beta[c]).abs() < 1e-10);
        }
        assert!((e.intercept - b0).abs() < 1e-10);
        let pred: Vec<f64> = (0..z.samples())
            .map(|k| b0 + (0..feats.len()).map(|c| sub[(k, c)] * beta[c]).sum::<f64>())
            .collect();
        let wsum: f64 = weights.iter().sum();
        let mean = labels.iter().zip(&weights).map(|(y, w)| y * w).sum::<f64>() / wsum;
        let sse: f64 = (0..z.samples())
            .map(|k| weights[k] * (labels[k] - pred[k]).powi(2))
            .sum();
        let sst: f64 = (0..z.samples())
            .map(|k| weights[k] * (labels[k] - mean).powi(2))
            .sum();
        assert!((e.score - (1.0 - sse / sst)).abs() < 1e-10);
        assert!((e.local_prediction - pred[0]).abs() < 1e-10);
        // Sorted by decreasing |coefficient|.
        for p in e.coefficients.windows(2) {
            assert!(p[0].1.abs() >= p[1].1.abs());
        }
    }

    #[test]
    fn selections_for_many_omegas_equal_each_omega_alone() {
        let mut rng = Rng::new(7);
        for d in [1, 3, 12, 40] {
            let z = perturbations(d, 300, &mut rng).unwrap();
            let labels = nonlinear_labels(&z, &mut rng);
            let weights = weights_of(&z);
            let data = z.to_matrix();
            let design = WeightedDesign::new(&data, &labels, &weights).unwrap();
            let x0: Vec<f64> = data.row(0).iter().copied().collect();
            let omegas = [1, 2, 4, 8, 16, 32, 3];
            for method in [
                FeatureSelection::Auto,
                FeatureSelection::ForwardSelection,
                FeatureSelection::HighestWeights,
                FeatureSelection::LassoPath,
                FeatureSelection::None,
            ] {
                let shared = select_for_each(&design, &x0, &omegas, method).unwrap();
                for (&omega, got) in omegas.iter().zip(&shared) {
                    let alone = match method {
                        FeatureSelection::Auto if omega <= AUTO_FORWARD_SELECTION_MAX => {
                            forward_selection(&design, omega).unwrap()
                        }
                        FeatureSelection::Auto | FeatureSelection::HighestWeights => {
                            highest_weights(&design, &x0, omega).unwrap()
                        }
                        FeatureSelection::ForwardSelection => {
                            forward_selection(&design, omega).unwrap()
                        }
                        FeatureSelection::LassoPath => {
                            lasso_path_selection(&design, omega).unwrap()
                        }
                        FeatureSelection::None => (0..d).collect(),
                    };
                    assert_eq!(got, &alone, "d = {d}, {method}, ω = {omega}");
                }
                let each =
                    explain_each_omega(&data, &labels, &weights, &omegas, method, 1.0).unwrap();
                for (e, used) in each.iter().zip(&shared) {
                    let mut feats = e.features();
                    feats.sort_unstable();
                    let mut used = used.clone();
                    used.sort_unstable();
                    assert_eq!(feats, used);
                }
            }
        }
        let data = DMatrix::from_row_slice(3, 1, &[1.0, 0.0, 1.0]);
        let design = WeightedDesign::new(&data, &[1.0, 0.0, 2.0], &[1.0; 3]).unwrap();
        assert!(select_for_each(&design, &[1.0; 2], &[2, 0], FeatureSelection::Auto).is_err());
    }

    /// The weighted R² of an unpenalised fit on `cols`, computed independently.
    fn brute_r2(data: &DMatrix<f64>, y: &[f64], w: &[f64], cols: &[usize]) -> f64 {
        let sub = DMatrix::from_fn(data.nrows(), cols.len(), |k, c| data[(k, cols[c])]);
        let (beta, b0) = closed_form(&sub, y, w, 0.0);
        let wsum: f64 = w.iter().sum();
        let mean = y.iter().zip(w).map(|(a, b)| a * b).sum::<f64>() / wsum;
        let (mut sse, mut sst) = (0.0, 0.0);
        for k in 0..data.nrows() {
            let p = b0 + (0..cols.len()).map(|c| sub[(k, c)] * beta[c]).sum::<f64>();
            sse += w[k] * (y[k] - p).powi(2);
            sst += w[k] * (y[k] - mean).powi(2);
        }
        1.0 - sse / sst
    }

    #[test]
    fn forward_selection_matches_brute_force_greedy() {
        let mut rng = Rng::new(31);
        for _ in 0..10 {
            let d = 6;
            let z = perturbations(d, 80, &mut rng).unwrap();
            let labels = nonlinear_labels(&z, &mut rng);
            let weights = weights_of(&z);
            let data = z.to_matrix();
            // Greedy by brute force: try every remaining feature with an independent solver.
            let mut used: Vec<usize> = Vec::new();
            for _ in 0..d {
                let best = (0..d)
                    .filter(|f| !used.contains(f))
                    .map(|f| {
                        let mut cols = used.clone();
                        cols.push(f);
                        (f, brute_r2(&data, &labels, &weights, &cols))
                    })
                    .fold(None, |acc: Option<(usize, f64)>, (f, s)| match acc {
                        Some((_, m)) if s <= m => acc,
                        _ => Some((f, s)),
                    })
                    .unwrap();
                used.push(best.0);
            }
            for omega in 1..=d + 2 {
                let got = select_features(
                    &data,
                    &labels,
                    &weights,
                    omega,
                    FeatureSelection::ForwardSelection,
                )
                .unwrap();
                assert_eq!(got, used[..omega.min(d)].to_vec());
            }
        }
    }

    #[test]
    fn forward_selection_is_best_subset_on_an_orthogonal_design() {
        // A full 2^d factorial with equal weights has orthogonal centred columns, so R² is
        // additive over features and the greedy choice is the best subset of every size.
        let d = 5;
        let rows = 1usize << d;
        let data = DMatrix::from_fn(rows, d, |k, j| {
            // Row 0 is all ones (the instance).
            if ((rows - 1 - k) >> j) & 1 == 1 {
                1.0
            } else {
                0.0
            }
        });
        let weights = vec![1.0; rows];
        let mut rng = Rng::new(77);
        for _ in 0..10 {
            let labels: Vec<f64> = (0..rows).map(|_| rng.normal()).collect();
            for omega in 1..=d {
                let mut got = select_features(
                    &data,
                    &labels,
                    &weights,
                    omega,
                    FeatureSelection::ForwardSelection,
                )
                .unwrap();
                got.sort_unstable();
                let mut best: Option<(Vec<usize>, f64)> = None;
                for mask in 0u32..(1 << d) {
                    if mask.count_ones() as usize != omega {
                        continue;
                    }
                    let cols: Vec<usize> = (0..d).filter(|j| mask >> j & 1 == 1).collect();
                    let r2 = brute_r2(&data, &labels, &weights, &cols);
                    if best.as_ref().is_none_or(|(_, m)| r2 > *m) {
                        best = Some((cols, r2));
                    }
                }
                assert_eq!(got, best.unwrap().0, "omega {omega}");
            }
        }
    }

    #[test]
    fn highest_weights_orders_by_coefficient_times_instance() {
        let mut rng = Rng::new(12);
        let (n, d) = (60, 7);
        // General data: row 0 is not all ones, so x0 matters.
        let data = DMatrix::from_fn(n, d, |_, _| rng.normal());
        let labels: Vec<f64> = (0..n).map(|_| rng.normal()).collect();
        let weights: Vec<f64> = (0..n).map(|_| rng.next_f64() + 0.1).collect();
        let (beta, _) = closed_form(&data, &labels, &weights, HIGHEST_WEIGHTS_ALPHA);
        let mut expected: Vec<usize> = (0..d).collect();
        expected.sort_by(|&a, &b| {
            (beta[b] * data[(0, b)])
                .abs()
                .total_cmp(&(beta[a] * data[(0, a)]).abs())
        });
        for omega in 1..=d + 1 {
            let got = select_features(
                &data,
                &labels,
                &weights,
                omega,
                FeatureSelection::HighestWeights,
            )
            .unwrap();
            assert_eq!(got, expected[..omega.min(d)].to_vec());
        }
    }

    #[test]
    fn lasso_selection_takes_the_last_knot_within_omega() {
        let mut rng = Rng::new(55);
        for _ in 0..10 {
            let d = 8;
            let z = perturbations(d, 150, &mut rng).unwrap();
            let labels = nonlinear_labels(&z, &mut rng);
            let weights = weights_of(&z);
            let data = z.to_matrix();
            let design = WeightedDesign::new(&data, &labels, &weights).unwrap();
            let ys: Vec<f64> = design.weighted_labels().iter().copied().collect();
            let path = lars_lasso_path(&design.weighted_data(), &ys, DEFAULT_MAX_ITER).unwrap();
            // On this (centred, kernel-weighted, binary) data the knots are lasso solutions.
            check_path_against_cd(&design.weighted_data(), &ys, &path);
            let support =
                |k: usize| -> Vec<usize> { (0..d).filter(|&j| path.coefs[k][j] != 0.0).collect() };
            for omega in 1..=d {
                let got =
                    select_features(&data, &labels, &weights, omega, FeatureSelection::LassoPath)
                        .unwrap();
                let k = (1..path.coefs.len())
                    .rev()
                    .find(|&k| support(k).len() <= omega)
                    .unwrap();
                assert_eq!(got, support(k), "omega {omega}");
                assert!(got.len() <= omega);
            }
        }
    }

    #[test]
    fn lasso_selection_with_constant_labels_keeps_every_feature() {
        // lime's loop over the path never runs when the path is a single knot.
        let z = perturbations(5, 50, &mut Rng::new(3)).unwrap();
        let labels = vec![0.5; 50];
        let got = select_features(
            &z.to_matrix(),
            &labels,
            &weights_of(&z),
            2,
            FeatureSelection::LassoPath,
        )
        .unwrap();
        assert_eq!(got, vec![0, 1, 2, 3, 4]);
    }

    #[test]
    fn auto_switches_at_six() {
        let mut rng = Rng::new(8);
        let z = perturbations(12, 300, &mut rng).unwrap();
        let labels = nonlinear_labels(&z, &mut rng);
        let weights = weights_of(&z);
        let data = z.to_matrix();
        let sel = |omega, method| select_features(&data, &labels, &weights, omega, method).unwrap();
        assert_eq!(
            sel(6, FeatureSelection::Auto),
            sel(6, FeatureSelection::ForwardSelection)
        );
        assert_eq!(
            sel(7, FeatureSelection::Auto),
            sel(7, FeatureSelection::HighestWeights)
        );
        assert_eq!(sel(3, FeatureSelection::None), (0..12).collect::<Vec<_>>());
    }

    #[test]
    fn same_seed_same_explanation() {
        let run = |seed| {
            let mut rng = Rng::new(seed);
            let z = perturbations(9, 400, &mut rng).unwrap();
            let labels = nonlinear_labels(&z, &mut rng);
            explain(&labels, &z, 4, FeatureSelection::Auto, DEFAULT_KERNEL_WIDTH).unwrap()
        };
        assert_eq!(run(5), run(5));
        assert_ne!(run(5), run(6));
    }

    #[test]
    fn feature_selection_names_round_trip() {
        for m in [
            FeatureSelection::Auto,
            FeatureSelection::ForwardSelection,
            FeatureSelection::HighestWeights,
            FeatureSelection::LassoPath,
            FeatureSelection::None,
        ] {
            assert_eq!(m.name().parse::<FeatureSelection>().unwrap(), m);
        }
        assert!("lasso".parse::<FeatureSelection>().is_err());
    }

    #[test]
    fn rejects_bad_input() {
        let mut rng = Rng::new(1);
        assert!(perturbations(0, 10, &mut rng).is_err());
        assert!(perturbations(3, 0, &mut rng).is_err());
        let z = perturbations(3, 10, &mut rng).unwrap();
        let labels = vec![1.0; 10];
        let auto = FeatureSelection::Auto;
        assert!(explain(&labels, &z, 0, auto, 25.0).is_err());
        assert!(explain(&labels[..9], &z, 2, auto, 25.0).is_err());
        assert!(explain(&labels, &z, 2, auto, -1.0).is_err());
        let mut bad = labels.clone();
        bad[3] = f64::NAN;
        assert!(explain(&bad, &z, 2, auto, 25.0).is_err());
        assert!(Perturbations::new(0, vec![]).is_err());
        assert!(Perturbations::new(2, vec![true, false]).is_err());
        assert!(Perturbations::new(2, vec![true, true, false]).is_err());
        let data = DMatrix::<f64>::zeros(3, 0);
        assert!(explain_with_data(&data, &[1.0; 3], &[1.0; 3], 1, auto, 1.0).is_err());
    }
}
