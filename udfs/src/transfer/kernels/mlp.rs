//! The multilayer perceptron with which thesis §2.4.4 evaluates a representation on a target
//! task: scikit-learn's `MLPClassifier` / `MLPRegressor` (which the thesis used), written out so
//! that it trains inside the engine, deterministically, on the CPU.
//!
//! What follows scikit-learn (`sklearn/neural_network/_multilayer_perceptron.py`):
//! - layers `d → h₁ → … → h_L → out`, ReLU on every hidden layer; the output is the identity
//!   with the squared error `Σ(ŷ − y)² / 2n` (regression), one logistic unit with the binary log
//!   loss (two classes, the second class is the positive one) or a softmax with the log loss
//!   (more classes);
//! - weights and biases drawn uniformly from `±√(6 / (fan_in + fan_out))` (Glorot), the weights
//!   of a layer first, row by row (`fan_in × fan_out`), then its biases;
//! - the L2 penalty `alpha · ‖W‖² / 2n_batch` on the weights (not the biases), so the gradient
//!   of a weight is `(Aᵀδ + alpha·W) / n_batch`;
//! - Adam with β₁ = 0.9, β₂ = 0.999, ε = 1e-8 and the step `lr·√(1−β₂ᵗ)/(1−β₁ᵗ) · m/(√v + ε)`;
//! - every epoch, the training rows in a new seeded random order, cut into mini-batches of
//!   `min(batch_size, n)` rows (the last one smaller);
//! - the epoch loss is the mean of the batch losses weighted by batch size; training stops when
//!   it has not improved on the best by `tol` for more than `n_iter_no_change` epochs in a row,
//!   or after `epochs` epochs;
//! - early stopping: a seeded validation split (stratified by class for a classifier) is held
//!   out, the score (accuracy or R²) is computed after every epoch, training stops when it has not
//!   improved by `tol` for more than `n_iter_no_change` epochs, and the weights of the best
//!   epoch are kept.
//!
//! The random numbers come from [`crate::common::rng::Rng`], not NumPy's, so the same seed gives
//! another (but always the same) network than scikit-learn's. Computation is in `f32` for
//! speed (the gradient checks use `f64`); matrix products are [`super::linalg::gemm`], whose
//! results do not depend on the number of threads.

use rayon::prelude::*;

use super::linalg::{gemm, MatRef, Real};
use super::metrics::r2_score;
use super::TransferError;
use crate::common::rng::Rng;

/// Adam's constants (scikit-learn's defaults).
const BETA1: f64 = 0.9;
const BETA2: f64 = 0.999;
const ADAM_EPSILON: f64 = 1e-8;

/// Rows per forward pass when predicting.
const PREDICT_CHUNK: usize = 1024;

/// The output layer and its loss.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Output {
    /// Regression: identity, squared error.
    Identity,
    /// Two classes: one logistic unit, binary log loss.
    Logistic,
    /// More classes: softmax, log loss.
    Softmax,
}

impl Output {
    /// The output for a task: `None` classes for regression, else the number of classes.
    pub fn for_classes(classes: Option<usize>) -> Output {
        match classes {
            None => Output::Identity,
            Some(2) => Output::Logistic,
            Some(_) => Output::Softmax,
        }
    }
}

/// What a network learns: a class index per row (classification) or a value per row.
#[derive(Clone, Copy, Debug)]
pub enum Target<'a, T> {
    /// Class indices below `k`.
    Classes { y: &'a [usize], k: usize },
    /// Values.
    Values(&'a [T]),
}

impl<T: Real> Target<'_, T> {
    fn len(&self) -> usize {
        match self {
            Target::Classes { y, .. } => y.len(),
            Target::Values(y) => y.len(),
        }
    }
}

/// A multilayer perceptron: layer sizes and every weight and bias in one vector (layer by
/// layer: the `fan_in × fan_out` weights row-major, then the `fan_out` biases).
#[derive(Clone, Debug, PartialEq)]
pub struct Network<T> {
    /// `[d, h₁, …, out]`.
    pub sizes: Vec<usize>,
    pub output: Output,
    pub params: Vec<T>,
}

/// Where layer `l`'s weights and biases lie in [`Network::params`].
fn offsets(sizes: &[usize], l: usize) -> (std::ops::Range<usize>, std::ops::Range<usize>) {
    let start: usize = (0..l).map(|i| sizes[i] * sizes[i + 1] + sizes[i + 1]).sum();
    let w = start..start + sizes[l] * sizes[l + 1];
    let b = w.end..w.end + sizes[l + 1];
    (w, b)
}

/// The number of parameters of a network with layer sizes `sizes`.
pub fn parameter_count(sizes: &[usize]) -> usize {
    sizes.windows(2).map(|w| w[0] * w[1] + w[1]).sum()
}

impl<T: Real> Network<T> {
    /// A network with scikit-learn's initialisation (see the module documentation).
    pub fn init(sizes: Vec<usize>, output: Output, rng: &mut Rng) -> Network<T> {
        let mut params = Vec::with_capacity(parameter_count(&sizes));
        for w in sizes.windows(2) {
            let (fan_in, fan_out) = (w[0], w[1]);
            let bound = (6.0 / (fan_in + fan_out) as f64).sqrt();
            for _ in 0..fan_in * fan_out + fan_out {
                params.push(T::of(-bound + 2.0 * bound * rng.next_f64()));
            }
        }
        Network {
            sizes,
            output,
            params,
        }
    }

    /// The number of weight layers.
    pub fn layers(&self) -> usize {
        self.sizes.len() - 1
    }

    /// The width of the input.
    pub fn input_dim(&self) -> usize {
        self.sizes[0]
    }

    /// The width of the output.
    pub fn output_dim(&self) -> usize {
        self.sizes[self.layers()]
    }

    /// The forward pass of `n` rows: `acts[0]` holds the input (`n × d`); `acts[l]` receives
    /// layer `l`'s activations.
    pub fn forward(&self, acts: &mut [Vec<T>], n: usize) {
        let last = self.layers() - 1;
        for l in 0..self.layers() {
            let (fan_in, fan_out) = (self.sizes[l], self.sizes[l + 1]);
            let (w, b) = offsets(&self.sizes, l);
            let (before, after) = acts.split_at_mut(l + 1);
            let input = &before[l];
            let out = &mut after[0];
            out.clear();
            out.reserve(n * fan_out);
            let bias = &self.params[b];
            for _ in 0..n {
                out.extend_from_slice(bias);
            }
            gemm(
                MatRef::new(input, n, fan_in),
                MatRef::new(&self.params[w], fan_in, fan_out),
                T::one(),
                out,
            );
            if l < last {
                for v in out.iter_mut() {
                    if *v < T::zero() {
                        *v = T::zero();
                    }
                }
            } else {
                activate_output(self.output, out, fan_out);
            }
        }
    }

    /// The loss of `n` rows whose input is in `acts[0]` (the data loss plus the L2 penalty
    /// `alpha·‖W‖²/2n`), and its gradient with respect to every parameter in `grads` (same
    /// layout as `params`). `acts` and `deltas` are work space of `layers() + 1` and `layers()`
    /// vectors.
    pub fn loss_and_gradient(
        &self,
        acts: &mut [Vec<T>],
        deltas: &mut [Vec<T>],
        n: usize,
        target: Target<'_, T>,
        alpha: f64,
        grads: &mut [T],
    ) -> f64 {
        self.forward(acts, n);
        let layers = self.layers();
        let k = self.output_dim();
        let out = &acts[layers];
        let eps = T::epsilon().f64();
        let clip = |p: T| p.f64().clamp(eps, 1.0 - eps);
        // The data loss and the output error δ = ŷ − y (the same form for every output).
        let delta = &mut deltas[layers - 1];
        delta.clear();
        delta.extend_from_slice(out);
        let mut loss = 0.0;
        match (self.output, target) {
            (Output::Softmax, Target::Classes { y, .. }) => {
                for (i, &c) in y.iter().enumerate().take(n) {
                    loss -= clip(out[i * k + c]).ln();
                    delta[i * k + c] = delta[i * k + c] - T::one();
                }
            }
            (Output::Logistic, Target::Classes { y, .. }) => {
                for (i, &c) in y.iter().enumerate().take(n) {
                    let p = clip(out[i]);
                    if c == 1 {
                        loss -= p.ln();
                        delta[i] = delta[i] - T::one();
                    } else {
                        loss -= (1.0 - p).ln();
                    }
                }
            }
            (_, Target::Values(y)) => {
                for (i, &v) in y.iter().enumerate().take(n) {
                    let e = out[i] - v;
                    loss += 0.5 * e.f64() * e.f64();
                    delta[i] = e;
                }
            }
            (Output::Identity, Target::Classes { .. }) => {}
        }
        let nf = n as f64;
        loss /= nf;
        let mut penalty = 0.0;
        for l in 0..layers {
            let (w, _) = offsets(&self.sizes, l);
            penalty += self.params[w]
                .iter()
                .map(|v| v.f64() * v.f64())
                .sum::<f64>();
        }
        loss += 0.5 * alpha * penalty / nf;
        // Back-propagation, last layer first.
        let inv_n = T::of(1.0 / nf);
        let alpha_t = T::of(alpha);
        for l in (0..layers).rev() {
            let (fan_in, fan_out) = (self.sizes[l], self.sizes[l + 1]);
            let (w, b) = offsets(&self.sizes, l);
            {
                let delta = &deltas[l];
                let gw = &mut grads[w.clone()];
                gemm(
                    MatRef::new(&acts[l], n, fan_in).t(),
                    MatRef::new(delta, n, fan_out),
                    T::zero(),
                    gw,
                );
                for (g, &p) in gw.iter_mut().zip(&self.params[w.clone()]) {
                    *g = (*g + alpha_t * p) * inv_n;
                }
                let gb = &mut grads[b];
                gb.iter_mut().for_each(|g| *g = T::zero());
                for row in delta.chunks_exact(fan_out).take(n) {
                    for (g, &d) in gb.iter_mut().zip(row) {
                        *g += d;
                    }
                }
                gb.iter_mut().for_each(|g| *g *= inv_n);
            }
            if l > 0 {
                let (lower, upper) = deltas.split_at_mut(l);
                let prev = &mut lower[l - 1];
                prev.clear();
                prev.resize(n * fan_in, T::zero());
                gemm(
                    MatRef::new(&upper[0], n, fan_out),
                    MatRef::new(&self.params[w], fan_in, fan_out).t(),
                    T::zero(),
                    prev,
                );
                // ReLU's derivative: no error flows through a unit that was off.
                for (d, &a) in prev.iter_mut().zip(&acts[l]) {
                    if a <= T::zero() {
                        *d = T::zero();
                    }
                }
            }
        }
        loss
    }

    /// The outputs for `n` rows of `x` (`n × d`): probabilities of the positive class
    /// (logistic), of every class (softmax) or values (identity), row-major.
    pub fn predict(&self, x: &[T], n: usize) -> Result<Vec<T>, TransferError> {
        let d = self.input_dim();
        if x.len() != n * d {
            return Err(TransferError::Shape {
                n,
                d,
                want: n * d,
                got: x.len(),
            });
        }
        let k = self.output_dim();
        let mut out = Vec::with_capacity(n * k);
        let mut acts: Vec<Vec<T>> = vec![Vec::new(); self.layers() + 1];
        for chunk in x.chunks(PREDICT_CHUNK * d.max(1)) {
            let rows = chunk.len() / d.max(1);
            acts[0].clear();
            acts[0].extend_from_slice(chunk);
            self.forward(&mut acts, rows);
            out.extend_from_slice(&acts[self.layers()]);
        }
        Ok(out)
    }

    /// The class probabilities (`n × k`) of a classifier's rows: `[1 − p, p]` for a logistic
    /// output, the softmax otherwise.
    pub fn predict_proba(&self, x: &[T], n: usize) -> Result<Vec<T>, TransferError> {
        let out = self.predict(x, n)?;
        Ok(match self.output {
            Output::Logistic => out.iter().flat_map(|&p| [T::one() - p, p]).collect(),
            _ => out,
        })
    }
}

/// The output activation on `out` (rows of `k`).
fn activate_output<T: Real>(output: Output, out: &mut [T], k: usize) {
    match output {
        Output::Identity => {}
        Output::Logistic => {
            for v in out.iter_mut() {
                *v = logistic(*v);
            }
        }
        Output::Softmax => {
            for row in out.chunks_exact_mut(k) {
                let max = row.iter().fold(T::neg_infinity(), |m, &v| m.max(v));
                let mut sum = T::zero();
                for v in row.iter_mut() {
                    *v = (*v - max).exp();
                    sum += *v;
                }
                for v in row.iter_mut() {
                    *v = *v / sum;
                }
            }
        }
    }
}

/// 1 / (1 + e^−z), without overflow for large |z|.
fn logistic<T: Real>(z: T) -> T {
    if z >= T::zero() {
        T::one() / (T::one() + (-z).exp())
    } else {
        let e = z.exp();
        e / (T::one() + e)
    }
}

/// Adam, as scikit-learn's `AdamOptimizer`.
#[derive(Clone, Debug)]
pub struct Adam<T> {
    lr: f64,
    t: i32,
    m: Vec<T>,
    v: Vec<T>,
}

/// Parameters per parallel block of the Adam update.
const ADAM_BLOCK: usize = 1 << 14;

impl<T: Real> Adam<T> {
    pub fn new(lr: f64, n_params: usize) -> Self {
        Adam {
            lr,
            t: 0,
            m: vec![T::zero(); n_params],
            v: vec![T::zero(); n_params],
        }
    }

    /// One step: `params -= lr·√(1−β₂ᵗ)/(1−β₁ᵗ) · m / (√v + ε)`.
    pub fn step(&mut self, params: &mut [T], grads: &[T]) {
        self.t = self.t.saturating_add(1);
        let lr_t = self.lr * (1.0 - BETA2.powi(self.t)).sqrt() / (1.0 - BETA1.powi(self.t));
        let (b1, b2, eps, lr_t) = (T::of(BETA1), T::of(BETA2), T::of(ADAM_EPSILON), T::of(lr_t));
        let (c1, c2) = (T::one() - b1, T::one() - b2);
        params
            .par_chunks_mut(ADAM_BLOCK)
            .zip(grads.par_chunks(ADAM_BLOCK))
            .zip(self.m.par_chunks_mut(ADAM_BLOCK))
            .zip(self.v.par_chunks_mut(ADAM_BLOCK))
            .for_each(|(((p, g), m), v)| {
                for i in 0..p.len() {
                    m[i] = b1 * m[i] + c1 * g[i];
                    v[i] = b2 * v[i] + c2 * g[i] * g[i];
                    p[i] = p[i] - lr_t * m[i] / (v[i].sqrt() + eps);
                }
            });
    }
}

/// The options of a training run (the model type's options, checked).
#[derive(Clone, Debug, PartialEq)]
pub struct TrainOptions {
    pub hidden: Vec<usize>,
    pub epochs: usize,
    pub lr: f64,
    pub batch_size: usize,
    /// The L2 penalty (scikit-learn's `alpha`).
    pub l2: f64,
    pub seed: u64,
    pub early_stopping: bool,
    pub validation_fraction: f64,
    pub tol: f64,
    pub n_iter_no_change: usize,
}

/// What the caller hears after every epoch.
#[derive(Clone, Debug)]
pub struct Epoch {
    pub epoch: usize,
    pub loss: f64,
    /// The validation score (early stopping only).
    pub validation: Option<f64>,
}

/// A trained network with its history.
#[derive(Clone, Debug)]
pub struct Fit<T> {
    pub network: Network<T>,
    /// The training loss of every epoch run.
    pub loss_curve: Vec<f64>,
    /// The validation score of every epoch (early stopping only).
    pub validation_scores: Vec<f64>,
    /// Whether training stopped before `epochs` (no improvement).
    pub converged: bool,
    /// Rows trained on and held out for validation.
    pub n_train: usize,
    pub n_validation: usize,
}

/// A seeded split for early stopping: (training rows, validation rows), with
/// `⌈fraction·n⌉` validation rows, spread over the classes in proportion (largest remainders)
/// for a classifier.
fn validation_split(
    n: usize,
    target: &Target<'_, impl Real>,
    fraction: f64,
    rng: &mut Rng,
) -> Result<(Vec<usize>, Vec<usize>), TransferError> {
    let n_val = ((fraction * n as f64).ceil() as usize).min(n);
    let shuffled = |rows: &mut Vec<usize>, rng: &mut Rng| {
        for j in (1..rows.len()).rev() {
            rows.swap(j, rng.below(j as u64 + 1) as usize);
        }
    };
    let mut groups: Vec<Vec<usize>> = match target {
        Target::Classes { y, k } => {
            let mut g = vec![Vec::new(); *k];
            for (i, &c) in y.iter().enumerate() {
                g[c].push(i);
            }
            g
        }
        Target::Values(_) => vec![(0..n).collect()],
    };
    // Validation rows per group: the floor of the proportional share, then one more for the
    // largest remainders (ties to the earlier group).
    let shares: Vec<f64> = groups
        .iter()
        .map(|g| n_val as f64 * g.len() as f64 / n as f64)
        .collect();
    let mut take: Vec<usize> = shares.iter().map(|s| s.floor() as usize).collect();
    let mut left = n_val - take.iter().sum::<usize>();
    let mut by_remainder: Vec<usize> = (0..groups.len()).collect();
    by_remainder.sort_by(|&a, &b| {
        let (ra, rb) = (shares[a] - shares[a].floor(), shares[b] - shares[b].floor());
        rb.total_cmp(&ra).then(a.cmp(&b))
    });
    for g in by_remainder {
        if left == 0 {
            break;
        }
        if take[g] < groups[g].len() {
            take[g] += 1;
            left -= 1;
        }
    }
    let (mut train, mut val) = (Vec::new(), Vec::new());
    for (g, rows) in groups.iter_mut().enumerate() {
        shuffled(rows, rng);
        val.extend_from_slice(&rows[..take[g]]);
        train.extend_from_slice(&rows[take[g]..]);
    }
    if val.is_empty() || train.is_empty() {
        return Err(TransferError::Split {
            fraction,
            n,
            validation: val.len(),
            train: train.len(),
        });
    }
    train.sort_unstable();
    val.sort_unstable();
    Ok((train, val))
}

/// The score scikit-learn's early stopping watches: accuracy for a classifier, R² for a
/// regressor, of `network` on `rows` of `x`.
fn score<T: Real>(
    network: &Network<T>,
    x: &[T],
    d: usize,
    rows: &[usize],
    target: &Target<'_, T>,
) -> Result<f64, TransferError> {
    let mut xs = Vec::with_capacity(rows.len() * d);
    for &r in rows {
        xs.extend_from_slice(&x[r * d..(r + 1) * d]);
    }
    match target {
        Target::Classes { y, .. } => {
            let p = network.predict_proba(&xs, rows.len())?;
            let k = p.len() / rows.len().max(1);
            let correct = rows
                .iter()
                .zip(p.chunks_exact(k.max(1)))
                .filter(|(&r, row)| argmax::<T>(row) == y[r])
                .count();
            Ok(correct as f64 / rows.len() as f64)
        }
        Target::Values(y) => {
            let pred = network.predict(&xs, rows.len())?;
            let truth: Vec<f64> = rows.iter().map(|&r| y[r].f64()).collect();
            let pred: Vec<f64> = pred.iter().map(|v| v.f64()).collect();
            Ok(r2_score(&truth, &pred).unwrap_or(f64::NAN))
        }
    }
}

/// The index of the largest value (the first of ties), as NumPy's `argmax`.
pub fn argmax<T: Real>(row: &[T]) -> usize {
    let mut best = 0;
    for (i, &v) in row.iter().enumerate() {
        if v > row[best] {
            best = i;
        }
    }
    best
}

/// Trains a network on `n` rows of `x` (`n × d`, row-major, already standardised if wanted).
/// `cancelled` is asked before every mini-batch (Ctrl-C: training stops with
/// [`TransferError::Cancelled`]); `on_epoch` hears every epoch and stops training by returning
/// an error.
pub fn fit<T: Real>(
    x: &[T],
    n: usize,
    d: usize,
    target: Target<'_, T>,
    opts: &TrainOptions,
    cancelled: &dyn Fn() -> bool,
    on_epoch: &mut dyn FnMut(&Epoch) -> Result<(), TransferError>,
) -> Result<Fit<T>, TransferError> {
    if n == 0 {
        return Err(TransferError::NoRows);
    }
    if d == 0 {
        return Err(TransferError::NoFeatures);
    }
    if x.len() != n * d {
        return Err(TransferError::Shape {
            n,
            d,
            want: n * d,
            got: x.len(),
        });
    }
    if target.len() != n {
        return Err(TransferError::TargetCount {
            rows: n,
            targets: target.len(),
        });
    }
    let classes = match target {
        Target::Classes { y, k } => {
            if k < 2 {
                return Err(TransferError::TooFewClasses(k));
            }
            if let Some((row, &class)) = y.iter().enumerate().find(|(_, &c)| c >= k) {
                return Err(TransferError::ClassIndex { row, class, k });
            }
            Some(k)
        }
        Target::Values(y) => {
            if let Some(row) = y.iter().position(|v| !v.is_finite()) {
                return Err(TransferError::NotFinite {
                    what: "the label",
                    row,
                });
            }
            None
        }
    };
    if let Some(p) = x.iter().position(|v| !v.is_finite()) {
        return Err(TransferError::NotFinite {
            what: "a feature",
            row: p / d,
        });
    }
    let output = Output::for_classes(classes);
    let out_dim = match classes {
        Some(k) if k > 2 => k,
        _ => 1,
    };
    let mut sizes = vec![d];
    sizes.extend(opts.hidden.iter().copied());
    sizes.push(out_dim);
    let mut rng = Rng::new(opts.seed);
    let mut network: Network<T> = Network::init(sizes, output, &mut rng);
    let (train, validation) = if opts.early_stopping {
        validation_split(n, &target, opts.validation_fraction, &mut rng)?
    } else {
        ((0..n).collect(), Vec::new())
    };
    let n_train = train.len();
    let batch = opts.batch_size.clamp(1, n_train);
    let layers = network.layers();
    let mut acts: Vec<Vec<T>> = vec![Vec::new(); layers + 1];
    let mut deltas: Vec<Vec<T>> = vec![Vec::new(); layers];
    let mut grads = vec![T::zero(); network.params.len()];
    let mut adam = Adam::new(opts.lr, network.params.len());
    let mut order = train;
    let mut batch_classes: Vec<usize> = Vec::with_capacity(batch);
    let mut batch_values: Vec<T> = Vec::with_capacity(batch);
    let (mut best_loss, mut best_score) = (f64::INFINITY, f64::NEG_INFINITY);
    let mut best_params: Option<Vec<T>> = None;
    let mut no_improvement = 0usize;
    let mut loss_curve = Vec::with_capacity(opts.epochs);
    let mut validation_scores = Vec::new();
    let mut converged = false;
    for epoch in 1..=opts.epochs {
        for j in (1..order.len()).rev() {
            order.swap(j, rng.below(j as u64 + 1) as usize);
        }
        let mut total = 0.0;
        for rows in order.chunks(batch) {
            if cancelled() {
                return Err(TransferError::Cancelled);
            }
            let input = &mut acts[0];
            input.clear();
            for &r in rows {
                input.extend_from_slice(&x[r * d..(r + 1) * d]);
            }
            let batch_target = match target {
                Target::Classes { y, k } => {
                    batch_classes.clear();
                    batch_classes.extend(rows.iter().map(|&r| y[r]));
                    Target::Classes {
                        y: &batch_classes,
                        k,
                    }
                }
                Target::Values(y) => {
                    batch_values.clear();
                    batch_values.extend(rows.iter().map(|&r| y[r]));
                    Target::Values(&batch_values)
                }
            };
            let loss = network.loss_and_gradient(
                &mut acts,
                &mut deltas,
                rows.len(),
                batch_target,
                opts.l2,
                &mut grads,
            );
            total += loss * rows.len() as f64;
            adam.step(&mut network.params, &grads);
        }
        let loss = total / n_train as f64;
        if !loss.is_finite() || network.params.iter().any(|v| !v.is_finite()) {
            return Err(TransferError::Diverged { epoch, loss });
        }
        loss_curve.push(loss);
        let mut validation_score = None;
        if opts.early_stopping {
            let s = score(&network, x, d, &validation, &target)?;
            validation_scores.push(s);
            validation_score = Some(s);
            if s < best_score + opts.tol {
                no_improvement += 1;
            } else {
                no_improvement = 0;
            }
            if s > best_score {
                best_score = s;
                best_params = Some(network.params.clone());
            }
        } else {
            if loss > best_loss - opts.tol {
                no_improvement += 1;
            } else {
                no_improvement = 0;
            }
            if loss < best_loss {
                best_loss = loss;
            }
        }
        on_epoch(&Epoch {
            epoch,
            loss,
            validation: validation_score,
        })?;
        if no_improvement > opts.n_iter_no_change {
            converged = epoch < opts.epochs;
            break;
        }
    }
    if let Some(best) = best_params {
        network.params = best;
    }
    Ok(Fit {
        network,
        loss_curve,
        validation_scores,
        converged,
        n_train,
        n_validation: validation.len(),
    })
}

/// Per-feature standardisation, as scikit-learn's `StandardScaler`: the mean and the
/// population standard deviation of each column (a constant column is scaled by 1).
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Standardizer {
    pub mean: Vec<f64>,
    pub scale: Vec<f64>,
}

impl Standardizer {
    /// The statistics of `n` rows of `x` (`n × d`), computed in two passes.
    pub fn fit(x: &[f64], n: usize, d: usize) -> Standardizer {
        let mut mean = vec![0.0; d];
        for row in x.chunks_exact(d.max(1)).take(n) {
            for (m, &v) in mean.iter_mut().zip(row) {
                *m += v;
            }
        }
        mean.iter_mut().for_each(|m| *m /= n.max(1) as f64);
        let mut var = vec![0.0; d];
        for row in x.chunks_exact(d.max(1)).take(n) {
            for ((s, &v), &m) in var.iter_mut().zip(row).zip(&mean) {
                *s += (v - m) * (v - m);
            }
        }
        let scale = var
            .iter()
            .map(|s| {
                let sd = (s / n.max(1) as f64).sqrt();
                if sd > 0.0 && sd.is_finite() {
                    sd
                } else {
                    1.0
                }
            })
            .collect();
        Standardizer { mean, scale }
    }

    /// No change (mean 0, scale 1).
    pub fn identity(d: usize) -> Standardizer {
        Standardizer {
            mean: vec![0.0; d],
            scale: vec![1.0; d],
        }
    }

    /// `(x − mean) / scale` of rows of `x`, in the network's type.
    pub fn apply<T: Real>(&self, x: &[f64]) -> Vec<T> {
        let d = self.mean.len().max(1);
        let mut out = Vec::with_capacity(x.len());
        for row in x.chunks(d) {
            for ((&v, &m), &s) in row.iter().zip(&self.mean).zip(&self.scale) {
                out.push(T::of((v - m) / s));
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use nalgebra::{DMatrix, DVector};

    fn random_network(sizes: &[usize], output: Output, seed: u64) -> Network<f64> {
        let mut rng = Rng::new(seed);
        let mut net: Network<f64> = Network::init(sizes.to_vec(), output, &mut rng);
        // Larger, varied weights so that every unit matters.
        for p in &mut net.params {
            *p = rng.normal();
        }
        net
    }

    fn loss_of(
        net: &Network<f64>,
        x: &[f64],
        n: usize,
        target: Target<'_, f64>,
        alpha: f64,
    ) -> f64 {
        let mut acts = vec![Vec::new(); net.layers() + 1];
        let mut deltas = vec![Vec::new(); net.layers()];
        let mut grads = vec![0.0; net.params.len()];
        acts[0] = x.to_vec();
        net.loss_and_gradient(&mut acts, &mut deltas, n, target, alpha, &mut grads)
    }

    /// Back-propagation against central finite differences, for every parameter.
    fn check_gradient(output: Output, target: Target<'_, f64>, x: &[f64], sizes: &[usize]) {
        let n = target.len();
        let alpha = 0.3;
        let net = random_network(sizes, output, 11);
        let mut acts = vec![x.to_vec()];
        acts.resize(net.layers() + 1, Vec::new());
        let mut deltas = vec![Vec::new(); net.layers()];
        let mut grads = vec![0.0; net.params.len()];
        net.loss_and_gradient(&mut acts, &mut deltas, n, target, alpha, &mut grads);
        let h = 1e-6;
        for (i, &backprop) in grads.iter().enumerate() {
            let (mut up, mut down) = (net.clone(), net.clone());
            up.params[i] += h;
            down.params[i] -= h;
            let numeric = (loss_of(&up, x, n, target, alpha) - loss_of(&down, x, n, target, alpha))
                / (2.0 * h);
            assert!(
                (numeric - backprop).abs() < 1e-6 * (1.0 + numeric.abs()),
                "{output:?}: parameter {i}: backprop {backprop} vs finite difference {numeric}"
            );
        }
    }

    fn data(n: usize, d: usize, seed: u64) -> Vec<f64> {
        let mut rng = Rng::new(seed);
        (0..n * d).map(|_| rng.normal()).collect()
    }

    #[test]
    fn gradients_match_finite_differences() {
        let (n, d) = (7, 4);
        let x = data(n, d, 1);
        let classes = [0, 2, 1, 1, 0, 2, 2];
        check_gradient(
            Output::Softmax,
            Target::Classes { y: &classes, k: 3 },
            &x,
            &[d, 5, 3, 3],
        );
        let binary = [0, 1, 1, 0, 1, 0, 0];
        check_gradient(
            Output::Logistic,
            Target::Classes { y: &binary, k: 2 },
            &x,
            &[d, 6, 1],
        );
        let values = [0.5, -1.0, 2.0, 0.0, 1.5, -0.3, 0.8];
        check_gradient(Output::Identity, Target::Values(&values), &x, &[d, 4, 4, 1]);
    }

    #[test]
    fn loss_of_a_tiny_network_by_hand() {
        // d = 2 → 2 hidden (ReLU) → 1 logistic output; weights chosen by hand.
        // W1 = [[1, -1], [2, 0.5]], b1 = [0, 0.5], W2 = [[1], [-2]], b2 = [0.25].
        let net = Network {
            sizes: vec![2, 2, 1],
            output: Output::Logistic,
            params: vec![1.0, -1.0, 2.0, 0.5, 0.0, 0.5, 1.0, -2.0, 0.25],
        };
        let x = [1.0, 1.0, -1.0, 0.0];
        // Row 1: z1 = [1+2, -1+0.5+0.5] = [3, 0] → h = [3, 0]; z2 = 3 + 0.25 = 3.25.
        // Row 2: z1 = [-1, 1+0.5] = [-1, 1.5] → h = [0, 1.5]; z2 = -3 + 0.25 = -2.75.
        let p1 = 1.0 / (1.0 + (-3.25f64).exp());
        let p2 = 1.0 / (1.0 + (2.75f64).exp());
        let y = [1, 0];
        let alpha = 0.1;
        let penalty = 1.0 + 1.0 + 4.0 + 0.25 + 1.0 + 4.0;
        let want = (-(p1.ln()) - (1.0 - p2).ln()) / 2.0 + 0.5 * alpha * penalty / 2.0;
        let got = loss_of(&net, &x, 2, Target::Classes { y: &y, k: 2 }, alpha);
        assert!((got - want).abs() < 1e-12, "{got} vs {want}");
        // The output layer's weight gradient by hand: (hᵀ(p − y) + alpha·W2) / n.
        let mut acts = vec![x.to_vec(), vec![], vec![]];
        let mut deltas = vec![vec![], vec![]];
        let mut g = vec![0.0; 9];
        net.loss_and_gradient(
            &mut acts,
            &mut deltas,
            2,
            Target::Classes { y: &y, k: 2 },
            alpha,
            &mut g,
        );
        let g_w2_0 = (3.0 * (p1 - 1.0) + 0.0 * p2 + alpha * 1.0) / 2.0;
        let g_w2_1 = (0.0 * (p1 - 1.0) + 1.5 * p2 + alpha * -2.0) / 2.0;
        let g_b2 = ((p1 - 1.0) + p2) / 2.0;
        assert!((g[6] - g_w2_0).abs() < 1e-12);
        assert!((g[7] - g_w2_1).abs() < 1e-12);
        assert!((g[8] - g_b2).abs() < 1e-12);
    }

    #[test]
    fn adam_steps_as_written() {
        let mut adam: Adam<f64> = Adam::new(0.1, 2);
        let mut p = vec![1.0, -2.0];
        let g1 = [0.5, -1.0];
        adam.step(&mut p, &g1);
        // t = 1: m = 0.1 g, v = 0.001 g², lr_t = 0.1·√0.001/0.1.
        let lr1 = 0.1 * (0.001f64).sqrt() / 0.1;
        let want0 = 1.0 - lr1 * (0.1 * 0.5) / ((0.001f64 * 0.25).sqrt() + 1e-8);
        assert!((p[0] - want0).abs() < 1e-14, "{} vs {want0}", p[0]);
        let g2 = [0.25, 0.0];
        adam.step(&mut p, &g2);
        let m: f64 = 0.9 * 0.05 + 0.1 * 0.25;
        let v: f64 = 0.999 * 0.00025 + 0.001 * 0.0625;
        let lr2 = 0.1 * (1.0 - 0.999f64.powi(2)).sqrt() / (1.0 - 0.9f64.powi(2));
        let want0 = want0 - lr2 * m / (v.sqrt() + 1e-8);
        assert!((p[0] - want0).abs() < 1e-14, "{} vs {want0}", p[0]);
    }

    #[test]
    fn init_is_glorot_uniform_and_seeded() {
        let mut rng = Rng::new(5);
        let net: Network<f64> = Network::init(vec![30, 20, 4], Output::Softmax, &mut rng);
        assert_eq!(net.params.len(), 30 * 20 + 20 + 20 * 4 + 4);
        let b1 = (6.0f64 / 50.0).sqrt();
        let b2 = (6.0f64 / 24.0).sqrt();
        let (w1, bias1) = offsets(&net.sizes, 0);
        assert!(net.params[w1].iter().all(|v| v.abs() <= b1));
        assert!(net.params[bias1].iter().all(|v| v.abs() <= b1));
        let (w2, _) = offsets(&net.sizes, 1);
        assert!(net.params[w2.clone()].iter().all(|v| v.abs() <= b2));
        assert!(net.params[w2].iter().any(|v| v.abs() > 0.8 * b2));
        let again: Network<f64> = Network::init(vec![30, 20, 4], Output::Softmax, &mut Rng::new(5));
        assert_eq!(net, again);
    }

    fn options(hidden: &[usize], epochs: usize) -> TrainOptions {
        TrainOptions {
            hidden: hidden.to_vec(),
            epochs,
            lr: 0.01,
            batch_size: 32,
            l2: 1e-4,
            seed: 3,
            early_stopping: false,
            validation_fraction: 0.1,
            tol: 1e-4,
            n_iter_no_change: 10,
        }
    }

    #[test]
    fn separable_classes_are_learned() {
        // Three classes separated by the sign pattern of two linear functions.
        let (n, d) = (300, 5);
        let x = data(n, d, 21);
        let y: Vec<usize> = x
            .chunks(d)
            .map(|r| {
                let a = r[0] + 0.5 * r[1];
                let b = r[2] - r[3];
                if a > 0.3 {
                    0
                } else if b > 0.0 {
                    1
                } else {
                    2
                }
            })
            .collect();
        let xf: Vec<f32> = x.iter().map(|&v| v as f32).collect();
        let fit = fit(
            &xf,
            n,
            d,
            Target::Classes { y: &y, k: 3 },
            &options(&[32, 32], 200),
            &|| false,
            &mut |_| Ok(()),
        )
        .unwrap();
        let p = fit.network.predict_proba(&xf, n).unwrap();
        let correct = p
            .chunks(3)
            .zip(&y)
            .filter(|(r, &c)| argmax::<f32>(r) == c)
            .count();
        assert!(correct as f64 / n as f64 > 0.97, "{correct} of {n}");
        for row in p.chunks(3) {
            assert!((row.iter().sum::<f32>() - 1.0).abs() < 1e-5);
        }
        // The loss went down.
        assert!(fit.loss_curve.last().unwrap() < &(0.3 * fit.loss_curve[0]));
    }

    #[test]
    fn regression_matches_least_squares_on_linear_data() {
        let (n, d) = (400, 6);
        let x = data(n, d, 31);
        let beta = [1.0, -2.0, 0.5, 0.0, 3.0, -1.0];
        let mut rng = Rng::new(32);
        let y: Vec<f64> = x
            .chunks(d)
            .map(|r| {
                r.iter().zip(&beta).map(|(a, b)| a * b).sum::<f64>() + 0.5 + 0.3 * rng.normal()
            })
            .collect();
        // The least-squares fit with an intercept, by the normal equations (Cholesky) (independent of the MLP).
        let design = DMatrix::from_fn(n, d + 1, |i, j| if j == 0 { 1.0 } else { x[i * d + j - 1] });
        let xtx = design.transpose() * &design;
        let xty = design.transpose() * DVector::from_vec(y.clone());
        let coef = xtx.cholesky().expect("full rank").solve(&xty);
        let ols: Vec<f64> = (design * coef).iter().copied().collect();
        let r2 = |pred: &[f64]| {
            let mean = y.iter().sum::<f64>() / n as f64;
            let ss_tot: f64 = y.iter().map(|v| (v - mean).powi(2)).sum();
            let ss_res: f64 = y.iter().zip(pred).map(|(a, b)| (a - b).powi(2)).sum();
            1.0 - ss_res / ss_tot
        };
        let r2_ols = r2(&ols);
        assert!(r2_ols > 0.98, "{r2_ols}");
        let xf: Vec<f32> = x.iter().map(|&v| v as f32).collect();
        let yf: Vec<f32> = y.iter().map(|&v| v as f32).collect();
        let fit = fit(
            &xf,
            n,
            d,
            Target::Values(&yf),
            &options(&[16], 300),
            &|| false,
            &mut |_| Ok(()),
        )
        .unwrap();
        let pred: Vec<f64> = fit
            .network
            .predict(&xf, n)
            .unwrap()
            .iter()
            .map(|&v| v as f64)
            .collect();
        let r2_mlp = r2(&pred);
        assert!(
            (r2_mlp - r2_ols).abs() < 0.01,
            "MLP R² {r2_mlp} vs least squares {r2_ols}"
        );
    }

    #[test]
    fn same_seed_same_bits_and_another_seed_differs() {
        let (n, d) = (120, 8);
        let x: Vec<f32> = data(n, d, 41).iter().map(|&v| v as f32).collect();
        let y: Vec<usize> = (0..n).map(|i| i % 4).collect();
        let run = |seed: u64| {
            let mut o = options(&[10, 10], 15);
            o.seed = seed;
            fit(
                &x,
                n,
                d,
                Target::Classes { y: &y, k: 4 },
                &o,
                &|| false,
                &mut |_| Ok(()),
            )
            .unwrap()
            .network
        };
        let (a, b) = (run(7), run(7));
        assert_eq!(a.params, b.params);
        assert_ne!(a.params, run(8).params);
        // The same bits on one thread as on the default pool.
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(1)
            .build()
            .unwrap();
        let c = pool.install(|| run(7));
        assert_eq!(a.params, c.params);
        // A row's prediction does not depend on the rows predicted with it.
        let all = a.predict_proba(&x, n).unwrap();
        let one = a.predict_proba(&x[5 * d..6 * d], 1).unwrap();
        assert_eq!(&all[5 * 4..6 * 4], &one[..]);
    }

    #[test]
    fn early_stopping_keeps_the_best_epoch_and_tol_stops() {
        let (n, d) = (200, 3);
        let x: Vec<f32> = data(n, d, 51).iter().map(|&v| v as f32).collect();
        // Pure noise labels: validation accuracy cannot keep improving.
        let y: Vec<usize> = {
            let mut rng = Rng::new(52);
            (0..n).map(|_| rng.below(2) as usize).collect()
        };
        let mut o = options(&[8], 500);
        o.early_stopping = true;
        o.validation_fraction = 0.2;
        let mut epochs = 0;
        let f = fit(
            &x,
            n,
            d,
            Target::Classes { y: &y, k: 2 },
            &o,
            &|| false,
            &mut |_| {
                epochs += 1;
                Ok(())
            },
        )
        .unwrap();
        assert_eq!((f.n_train, f.n_validation), (160, 40));
        assert!(f.converged && epochs < 500, "{epochs}");
        assert_eq!(f.validation_scores.len(), epochs);
        // The kept weights score the best validation score seen.
        let best = f
            .validation_scores
            .iter()
            .cloned()
            .fold(f64::NEG_INFINITY, f64::max);
        let mut rng = Rng::new(o.seed);
        let _: Network<f32> = Network::init(vec![3, 8, 1], Output::Logistic, &mut rng);
        let classes: Target<'_, f32> = Target::Classes { y: &y, k: 2 };
        let (_, val) = validation_split(n, &classes, 0.2, &mut rng).unwrap();
        let s = score(&f.network, &x, d, &val, &Target::Classes { y: &y, k: 2 }).unwrap();
        assert_eq!(s, best);
        // Without early stopping, a huge tol stops after n_iter_no_change + 2 epochs (the first
        // epoch always improves on the infinite initial best).
        let mut o = options(&[8], 500);
        o.tol = 1e9;
        o.n_iter_no_change = 4;
        let f = fit(
            &x,
            n,
            d,
            Target::Classes { y: &y, k: 2 },
            &o,
            &|| false,
            &mut |_| Ok(()),
        )
        .unwrap();
        assert_eq!(f.loss_curve.len(), 6);
    }

    #[test]
    fn the_stratified_split_keeps_class_shares() {
        let y: Vec<usize> = (0..100)
            .map(|i| {
                if i < 70 {
                    0
                } else if i < 90 {
                    1
                } else {
                    2
                }
            })
            .collect();
        let target: Target<'_, f32> = Target::Classes { y: &y, k: 3 };
        let (train, val) = validation_split(100, &target, 0.1, &mut Rng::new(1)).unwrap();
        assert_eq!(val.len(), 10);
        let count = |c: usize| val.iter().filter(|&&r| y[r] == c).count();
        assert_eq!((count(0), count(1), count(2)), (7, 2, 1));
        let mut all: Vec<usize> = train.iter().chain(&val).copied().collect();
        all.sort();
        assert_eq!(all, (0..100).collect::<Vec<_>>());
        let e = validation_split(
            5,
            &Target::<'_, f32>::Values(&[0.0; 5]),
            1.0,
            &mut Rng::new(1),
        )
        .unwrap_err();
        assert!(
            e.to_string()
                .contains("leaves 5 rows for validation and 0 for training"),
            "{e}"
        );
    }

    #[test]
    fn errors_name_the_problem() {
        let o = options(&[4], 2);
        let e = fit::<f32>(&[], 0, 3, Target::Values(&[]), &o, &|| false, &mut |_| {
            Ok(())
        })
        .unwrap_err();
        assert_eq!(e, TransferError::NoRows);
        let e = fit::<f32>(
            &[1.0, 2.0],
            2,
            1,
            Target::Classes { y: &[0, 0], k: 1 },
            &o,
            &|| false,
            &mut |_| Ok(()),
        )
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "a classifier needs at least two distinct classes, got 1"
        );
        let e = fit::<f32>(
            &[1.0, f32::NAN],
            2,
            1,
            Target::Values(&[1.0, 2.0]),
            &o,
            &|| false,
            &mut |_| Ok(()),
        )
        .unwrap_err();
        assert_eq!(e.to_string(), "a feature is not finite in row 1");
        let e = fit::<f32>(
            &[1.0, 2.0],
            2,
            1,
            Target::Values(&[1.0, 2.0]),
            &o,
            &|| false,
            &mut |_| Err(TransferError::Cancelled),
        )
        .unwrap_err();
        assert_eq!(e, TransferError::Cancelled);
        let mut big = o.clone();
        big.epochs = 100;
        // Unscaled inputs of 1e30: the gradients overflow float32 in the first steps.
        let x: Vec<f32> = (0..40).map(|i| (i as f32 - 20.0) * 1e30).collect();
        let y: Vec<f32> = (0..40).map(|i| i as f32).collect();
        let e = fit::<f32>(&x, 40, 1, Target::Values(&y), &big, &|| false, &mut |_| {
            Ok(())
        })
        .unwrap_err();
        assert!(matches!(e, TransferError::Diverged { .. }), "{e}");
    }

    #[test]
    fn standardizer_is_standard_scaler() {
        let x = [1.0, 5.0, 3.0, 5.0, 5.0, 5.0];
        let s = Standardizer::fit(&x, 3, 2);
        assert_eq!(s.mean, vec![3.0, 5.0]);
        // Population standard deviation √(8/3); the constant column keeps scale 1.
        assert!((s.scale[0] - (8.0f64 / 3.0).sqrt()).abs() < 1e-15);
        assert_eq!(s.scale[1], 1.0);
        let z: Vec<f64> = s.apply(&x);
        assert!((z[0] + (1.5f64).sqrt()).abs() < 1e-12 && z[1] == 0.0);
    }
}
