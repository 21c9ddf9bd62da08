//! Training of the gradient-based recommenders (FM and NCF): negative sampling, Adam, progress,
//! Ctrl-C, the WRMF initialisation, and parameters that survive the model file.
//!
//! It exists because FM and NCF differ only in their score function; everything around it (SPEC
//! §5) is shared:
//!
//! - objective: for every observed (u, i), −log σ(s⁺) − Σ_{j} log σ(−s⁻_j) over `negatives` items
//!   j drawn uniformly from the items u has not interacted with (rejection sampling), averaged
//!   over the positives of a mini-batch; Adam with learning rate `lr` and weight decay `l2`;
//! - each epoch visits every observed pair once, in a seeded random order;
//! - initialisation: user factors from WRMF on R (`init_iterations` ALS iterations, confidence
//!   1 + `init_alpha`·r), tag factors from one ridge (ALS) half-step, with the user factors fixed,
//!   on the user-tag profile matrix P T̃ (P = the binary interaction matrix, T̃ = the items' tag
//!   vectors scaled to sum 1, as the models see them) whose columns are scaled to unit length, so
//!   that ⟨x_u, z_t⟩ starts as the fitted affinity of user u to tag t (rescaling the tag factors
//!   to the users' norm instead made the initial FM scores large and training slow); item
//!   factors and all other weights start small (normal, SD 0.01) from the seed.

use datafusion::common::{exec_datafusion_err, exec_err, plan_err};
use std::collections::BTreeMap;
use std::time::Instant;

use datafusion::error::Result;
use nalgebra::DMatrix;
use serde::{Deserialize, Serialize};
use tch::nn::{self, OptimizerConfig};
use tch::{Device, Kind, Tensor};

use super::data::RecData;
use super::kernels::als::AlsOptions;
use super::tensors::TagInput;
use super::wrmf::run_als;
use crate::common::rng::Rng;
use crate::common::tensors::{index, torch_err, DeviceTensors};
use crate::model::{ModelOptions, OptionKind, OptionSpec, TaskControl};

/// Named parameter tensors as plain values, for the model file.
#[derive(Debug, Serialize, Deserialize)]
pub struct Params {
    pub names: Vec<String>,
    pub shapes: Vec<Vec<i64>>,
    pub values: Vec<Vec<f32>>,
    #[serde(skip)]
    tensors: DeviceTensors,
}

impl Params {
    /// Copies trained tensors (in a fixed order) to plain values.
    pub fn from_tensors(names: &[&str], tensors: &[Tensor]) -> Result<Params> {
        let mut p = Params {
            names: names.iter().map(|s| s.to_string()).collect(),
            shapes: Vec::new(),
            values: Vec::new(),
            tensors: DeviceTensors::default(),
        };
        for t in tensors {
            p.shapes.push(t.size());
            p.values.push(crate::common::tensors::to_f32_vec(t)?);
        }
        Ok(p)
    }

    /// Parameters from plain values (`values[j]` has the product of `shapes[j]` entries).
    pub fn new(names: &[&str], shapes: Vec<Vec<i64>>, values: Vec<Vec<f32>>) -> Params {
        Params {
            names: names.iter().map(|s| s.to_string()).collect(),
            shapes,
            values,
            tensors: DeviceTensors::default(),
        }
    }

    /// The parameter tensors on `device` (built once per device).
    pub fn on(&self, device: Device) -> Result<Vec<Tensor>> {
        self.tensors.get_vec(device, |d| {
            Ok(self
                .values
                .iter()
                .zip(&self.shapes)
                .map(|(v, s)| Tensor::from_slice(v).view(s.as_slice()).to_device(d))
                .collect())
        })
    }

    /// Number of scalar parameters.
    pub fn count(&self) -> usize {
        self.values.iter().map(Vec::len).sum()
    }
}

/// Validated hyper-parameters of FM and NCF.
#[derive(Debug, Clone)]
pub struct NeuralOptions {
    pub dim: usize,
    pub epochs: usize,
    pub lr: f64,
    pub l2: f64,
    pub negatives: usize,
    pub batch_size: usize,
    pub seed: u64,
    pub init_iterations: usize,
    pub init_alpha: f64,
}

impl TryFrom<&ModelOptions> for NeuralOptions {
    type Error = datafusion::error::DataFusionError;

    /// The options of [`NEURAL_OPTIONS`] (NCF's spec changes two defaults), read once.
    fn try_from(options: &ModelOptions) -> Result<NeuralOptions> {
        Ok(NeuralOptions {
            dim: options.value("dim")?,
            epochs: options.value("epochs")?,
            lr: options.value("lr")?,
            l2: options.value("l2")?,
            negatives: options.value("negatives")?,
            batch_size: options.value("batch_size")?,
            seed: options.value("seed")?,
            init_iterations: options.value("init_iterations")?,
            init_alpha: options.value("init_alpha")?,
        })
    }
}

/// The options FM and NCF share (NCF adds `hidden` and changes the defaults of `epochs` and
/// `lr`). On Last.fm 2K, 5 epochs at lr 0.001 left FM below MostPop (nDCG@100 0.02 against 0.17)
/// while lr 0.01 reached 0.31; NCF reached 0.33 in 3 epochs at lr 0.001.
pub const NEURAL_OPTIONS: [OptionSpec; 10] = [
    OptionSpec {
        name: "tags",
        kind: OptionKind::Table,
        default: None,
        doc: "table or view of (item, tag [, weight]) giving each item's tag vector (required)",
    },
    OptionSpec {
        name: "dim",
        kind: OptionKind::Int { min: 1, max: 4096 },
        default: Some("64"),
        doc: "latent dimension h",
    },
    OptionSpec {
        name: "epochs",
        kind: OptionKind::Int {
            min: 1,
            max: 100_000,
        },
        default: Some("10"),
        doc: "passes over the observed interactions",
    },
    OptionSpec {
        name: "lr",
        kind: OptionKind::Float {
            min: 0.0,
            max: 10.0,
        },
        default: Some("0.001"),
        doc: "Adam learning rate",
    },
    OptionSpec {
        name: "l2",
        kind: OptionKind::Float { min: 0.0, max: 1e6 },
        default: Some("0.0"),
        doc: "Adam weight decay (L2 penalty on all parameters)",
    },
    OptionSpec {
        name: "negatives",
        kind: OptionKind::Int {
            min: 1,
            max: 10_000,
        },
        default: Some("10"),
        doc: "negative items sampled per observed interaction",
    },
    OptionSpec {
        name: "batch_size",
        kind: OptionKind::Int {
            min: 1,
            max: 10_000_000,
        },
        default: Some("1024"),
        doc: "observed interactions per Adam step",
    },
    OptionSpec {
        name: "seed",
        kind: OptionKind::Int {
            min: 0,
            max: i64::MAX,
        },
        default: Some("42"),
        doc: "seed of the initialisation, the visiting order and the negative samples",
    },
    OptionSpec {
        name: "init_iterations",
        kind: OptionKind::Int {
            min: 0,
            max: 10_000,
        },
        default: Some("15"),
        doc:
            "WRMF iterations that initialise the user (and, through them, tag) factors; 0 = random",
    },
    OptionSpec {
        name: "init_alpha",
        kind: OptionKind::Float { min: 0.0, max: 1e9 },
        default: Some("1.0"),
        doc: "confidence slope of that WRMF (c = 1 + init_alpha * value)",
    },
];

/// Normal(0, sd²) values from `rng`.
pub fn normal_values(rng: &mut Rng, n: usize, sd: f64) -> Vec<f32> {
    (0..n).map(|_| (rng.normal() * sd) as f32).collect()
}

/// User and tag factors to start from: WRMF user factors and a ridge half-step for tags (see the
/// module docs), or small random values when `init_iterations` is 0.
pub fn initial_factors(
    label: &str,
    data: &RecData,
    opts: &NeuralOptions,
    rng: &mut Rng,
    control: &TaskControl<'_>,
) -> Result<(Vec<f32>, Vec<f32>)> {
    let (nu, nt, h) = (data.n_users(), data.n_tags(), opts.dim);
    if opts.init_iterations == 0 {
        return Ok((
            normal_values(rng, nu * h, 0.01),
            normal_values(rng, nt * h, 0.01),
        ));
    }
    let als = AlsOptions {
        factors: h,
        iterations: opts.init_iterations,
        alpha: opts.init_alpha as f32,
        l2: 0.01,
        solver: super::kernels::als::Solver::ConjugateGradient { steps: 3 },
        seed: opts.seed,
        init_scale: 0.01,
    };
    let (x, _, _) = run_als(
        &format!("{label} (WRMF initialisation)"),
        data,
        &als,
        control,
    )?;
    let xm = DMatrix::from_row_slice(nu, h, &x.data.iter().map(|&v| v as f64).collect::<Vec<_>>());
    // Profiles Tᵁ = P T̃ with P binary and T̃ the items' tag vectors scaled to sum 1; each tag's
    // profile column is scaled to unit length so that popular and rare tags start on one scale.
    let mut p = data.r.clone();
    p.data.iter_mut().for_each(|v| *v = 1.0);
    let mut t_norm = data.t.clone();
    for i in 0..t_norm.n_rows {
        let (a, b) = (t_norm.indptr[i], t_norm.indptr[i + 1]);
        let sum: f32 = t_norm.data[a..b].iter().sum();
        if sum > 0.0 {
            t_norm.data[a..b].iter_mut().for_each(|v| *v /= sum);
        }
    }
    let mut col_sq = vec![0.0f64; nt];
    let mut scratch = vec![0.0f64; nt];
    let mut touched: Vec<usize> = Vec::new();
    for u in 0..nu {
        for &i in p.row(u).0 {
            let (tags, weights) = t_norm.row(i as usize);
            for (&t, &w) in tags.iter().zip(weights) {
                if scratch[t as usize] == 0.0 {
                    touched.push(t as usize);
                }
                scratch[t as usize] += w as f64;
            }
        }
        for &t in &touched {
            col_sq[t] += scratch[t] * scratch[t];
            scratch[t] = 0.0;
        }
        touched.clear();
    }
    // Z = D⁻¹ (Tᵁ)ᵀ X (XᵀX + λI)⁻¹ = D⁻¹ T̃ᵀ (Pᵀ X) (XᵀX + λI)⁻¹, D = the column norms.
    let ptx = p.t_mul_dense(&xm);
    let mut profile_x = t_norm.t_mul_dense(&ptx);
    for (t, mut row) in profile_x.row_iter_mut().enumerate() {
        if col_sq[t] > 0.0 {
            row /= col_sq[t].sqrt();
        }
    }
    let mut gram = xm.transpose() * &xm;
    for j in 0..h {
        gram[(j, j)] += 0.01;
    }
    let inv = gram
        .try_inverse()
        .ok_or_else(|| exec_datafusion_err!("{label}: the WRMF user factors are degenerate"))?;
    // Z keeps the ridge scale, so ⟨x_u, z_t⟩ starts as the fitted (column-normalised) affinity
    // of user u to tag t and the initial tag terms of the score are small.
    let z = profile_x * inv;
    let z: Vec<f32> = z.transpose().as_slice().iter().map(|&v| v as f32).collect();
    Ok((x.data, z))
}

/// A score function of a batch, given the parameter tensors in the model's fixed order.
pub type ScoreFn = dyn Fn(&[Tensor], &Tensor, Option<&Tensor>, &TagInput) -> Tensor;

/// The negative-sampling loop both training paths share: every epoch visits the observed pairs
/// in a seeded random order (Fisher–Yates), cuts them into batches of `batch_size` positives,
/// draws `negatives` items per positive uniformly from the items the user has not interacted
/// with (rejection sampling; a user who has seen every item gets an arbitrary seen item), and
/// hands the batch to `step` as users and items, positives first, then the negatives of
/// positive p at rows b + p·negatives + j. `step` returns the batch's loss. Progress, Ctrl-C
/// between batches and a non-finite epoch loss are handled here. Returns the mean batch loss of
/// every epoch.
pub fn run_epochs(
    label: &str,
    data: &RecData,
    opts: &NeuralOptions,
    rng: &mut Rng,
    control: &TaskControl<'_>,
    mut step: impl FnMut(&[u32], &[u32], usize) -> Result<f64>,
) -> Result<Vec<f64>> {
    run_prepared_epochs(
        label,
        data,
        opts,
        rng,
        control,
        || (),
        |_: &mut SampledBatch<()>| Ok(()),
        |batch: &SampledBatch<()>| step(&batch.users, &batch.items, batch.positives),
    )
}

/// [`run_prepared_epochs`] for a CPU training kernel that steps on
/// [`FmBatch`](super::kernels::fm::FmBatch)es (FM's and NCF's): each batch is prepared for
/// `shape` (its distinct items, touched rows and their contributions found) on the sampling
/// thread while a step runs. Kernel errors name `label`.
pub fn run_kernel_epochs(
    label: &str,
    data: &RecData,
    opts: &NeuralOptions,
    rng: &mut Rng,
    control: &TaskControl<'_>,
    shape: super::kernels::fm::FmShape,
    mut step: impl FnMut(
        &super::kernels::fm::FmBatch,
    ) -> std::result::Result<f64, super::kernels::KernelError>,
) -> Result<Vec<f64>> {
    use super::kernels::fm::{FmBatch, ItemTags, ScaledTags};
    let kernel_err = |e| super::train::kernel_err(label, e);
    let t = &data.t;
    let tags = ItemTags {
        indptr: &t.indptr,
        indices: &t.indices,
        data: &t.data,
    };
    let tags = ScaledTags::new(shape, tags).map_err(kernel_err)?;
    let negatives = opts.negatives;
    run_prepared_epochs(
        label,
        data,
        opts,
        rng,
        control,
        || FmBatch::new(shape),
        |batch: &mut SampledBatch<FmBatch>| {
            let SampledBatch {
                users, items, plan, ..
            } = batch;
            plan.prepare(users, items, negatives, &tags)
                .map_err(kernel_err)
        },
        |batch: &SampledBatch<FmBatch>| step(&batch.plan).map_err(kernel_err),
    )
}

/// A batch of [`run_prepared_epochs`]: b positives, then `negatives` rows per positive, and
/// whatever the training step prepared from them ahead of time.
#[derive(Debug)]
pub struct SampledBatch<P> {
    pub users: Vec<u32>,
    pub items: Vec<u32>,
    /// b, the number of positives.
    pub positives: usize,
    pub plan: P,
}

/// Batches sampled (and prepared) ahead of the one being trained on.
const BATCHES_AHEAD: usize = 2;

/// What the sampling thread tells the training loop.
enum Sampled<P> {
    Batch(SampledBatch<P>),
    EpochEnd,
    Failed(datafusion::error::DataFusionError),
}

/// [`run_epochs`] with a preparation step: the batches are drawn, in the same order from the
/// same generator, on a thread of their own that runs up to [`BATCHES_AHEAD`] batches ahead of
/// training, and `prepare` runs there on each batch before `step` sees it (FM works out which
/// parameter rows a batch touches from its users and items alone). Sampling and preparing are
/// serial work that would otherwise leave the other core idle between the parallel passes of a
/// step; the batches, and so the trained parameters, are the same as sampling in line. `new_plan`
/// makes the (reused) per-batch state.
#[allow(clippy::too_many_arguments)]
pub fn run_prepared_epochs<P: Send>(
    label: &str,
    data: &RecData,
    opts: &NeuralOptions,
    rng: &mut Rng,
    control: &TaskControl<'_>,
    new_plan: impl Fn() -> P + Send,
    mut prepare: impl FnMut(&mut SampledBatch<P>) -> Result<()> + Send,
    mut step: impl FnMut(&SampledBatch<P>) -> Result<f64>,
) -> Result<Vec<f64>> {
    use std::sync::mpsc;
    let start = Instant::now();
    let r = &data.r;
    let n_items = data.n_items() as u64;
    // Observed pairs as (user, item).
    let mut pairs: Vec<(u32, u32)> = Vec::with_capacity(r.nnz());
    for u in 0..r.n_rows {
        pairs.extend(r.row(u).0.iter().map(|&i| (u as u32, i)));
    }
    if pairs.is_empty() {
        return plan_err!("{label}: no interactions to train on");
    }
    let n_pairs = pairs.len();
    let (batch_size, negatives, epochs) = (opts.batch_size, opts.negatives, opts.epochs);
    let rows = batch_size.min(n_pairs) * (1 + negatives);
    let (to_train, from_sampler) = mpsc::channel::<Sampled<P>>();
    let (to_sampler, returned) = mpsc::channel::<SampledBatch<P>>();
    std::thread::scope(|scope| {
        // The sampler: it stops when the training loop has gone (an error or Ctrl-C there).
        scope.spawn(move || {
            let mut made = 0usize;
            for _ in 1..=epochs {
                // Fisher–Yates with the seeded generator.
                for k in (1..pairs.len()).rev() {
                    let j = rng.below(k as u64 + 1) as usize;
                    pairs.swap(k, j);
                }
                for batch in pairs.chunks(batch_size) {
                    let mut out = if made < BATCHES_AHEAD + 1 {
                        made += 1;
                        SampledBatch {
                            users: Vec::with_capacity(rows),
                            items: Vec::with_capacity(rows),
                            positives: 0,
                            plan: new_plan(),
                        }
                    } else {
                        match returned.recv() {
                            Ok(out) => out,
                            Err(_) => return,
                        }
                    };
                    out.positives = batch.len();
                    out.users.clear();
                    out.items.clear();
                    out.users.extend(batch.iter().map(|p| p.0));
                    out.items.extend(batch.iter().map(|p| p.1));
                    for &(u, _) in batch {
                        let seen = r.row(u as usize).0.len() as u64;
                        for _ in 0..negatives {
                            let mut j = rng.below(n_items) as u32;
                            if seen < n_items {
                                while r.contains(u as usize, j) {
                                    j = rng.below(n_items) as u32;
                                }
                            }
                            out.users.push(u);
                            out.items.push(j);
                        }
                    }
                    let message = match prepare(&mut out) {
                        Ok(()) => Sampled::Batch(out),
                        Err(e) => Sampled::Failed(e),
                    };
                    let failed = matches!(message, Sampled::Failed(_));
                    if to_train.send(message).is_err() || failed {
                        return;
                    }
                }
                if to_train.send(Sampled::EpochEnd).is_err() {
                    return;
                }
            }
        });
        // Owned here, so that returning (an error, Ctrl-C) drops them and the sampler, blocked
        // on a returned batch, stops; the scope then waits for it.
        let (to_sampler, from_sampler) = (to_sampler, from_sampler);
        let mut losses = Vec::with_capacity(epochs);
        for epoch in 1..=epochs {
            let meter = control.meter(
                format!("{label}: epoch {epoch}/{epochs}"),
                "pairs",
                Some(n_pairs as u64),
            );
            let _scope = crate::common::progress::enter(meter.as_ref());
            let (mut total, mut batches) = (0.0, 0usize);
            loop {
                match from_sampler.recv() {
                    Ok(Sampled::Batch(batch)) => {
                        control.check_cancelled()?;
                        total += step(&batch)?;
                        batches += 1;
                        crate::common::progress::advance(batch.positives as u64);
                        // The sampler may have finished: a batch nobody takes back is dropped.
                        let _ = to_sampler.send(batch);
                    }
                    Ok(Sampled::EpochEnd) => break,
                    Ok(Sampled::Failed(e)) => return Err(e),
                    // It stops early only after `Failed` or when this side has gone, so this
                    // is a panic, which the scope raises again.
                    Err(_) => return exec_err!("{label}: the sampling thread stopped"),
                }
            }
            let mean = total / batches.max(1) as f64;
            if !mean.is_finite() {
                return exec_err!(
                    "{label}: the training loss became {mean} in epoch {epoch}; lower lr"
                );
            }
            losses.push(mean);
            control.progress(&format!(
                "{label}: epoch {epoch}/{epochs}  loss {mean:.5}  {:.1} s",
                start.elapsed().as_secs_f64()
            ));
        }
        Ok(losses)
    })
}

/// The negative-sampling loss of a batch's scores `s` (b positives, then `negatives` per
/// positive): −mean log σ(s⁺) − mean over positives of Σ log σ(−s⁻).
pub fn sampling_loss(s: &Tensor, b: usize, negatives: usize) -> Tensor {
    let pos = s.narrow(0, 0, b as i64);
    let neg = s
        .narrow(0, b as i64, (b * negatives) as i64)
        .view([b as i64, -1]);
    -(pos.log_sigmoid().mean(Kind::Float)
        + (-neg)
            .log_sigmoid()
            .sum_dim_intlist(1, false, Kind::Float)
            .mean(Kind::Float))
}

/// Trains `params` (leaf tensors created from the initial values) by negative sampling
/// ([`run_epochs`]) and libtorch's Adam through autograd. Returns the trained tensors and the
/// mean loss of every epoch.
#[allow(clippy::too_many_arguments)]
pub fn train(
    label: &str,
    data: &RecData,
    opts: &NeuralOptions,
    names: &[&str],
    initial: Vec<Tensor>,
    score: &ScoreFn,
    device: Device,
    rng: &mut Rng,
    control: &TaskControl<'_>,
) -> Result<(Vec<Tensor>, Vec<f64>)> {
    let vs = nn::VarStore::new(device);
    let root = vs.root();
    let params: Vec<Tensor> = names
        .iter()
        .zip(&initial)
        .map(|(n, t)| root.var_copy(n, &t.to_device(device)))
        .collect();
    let mut opt = nn::Adam {
        wd: opts.l2,
        ..Default::default()
    }
    .build(&vs, opts.lr)
    .map_err(torch_err)?;
    let negatives = opts.negatives;
    let losses = run_epochs(label, data, opts, rng, control, |users, items, b| {
        let tags = TagInput::own(data, items, Kind::Float, device);
        let s = score(
            &params,
            &index(users, device),
            Some(&index(items, device)),
            &tags,
        );
        let loss = sampling_loss(&s, b, negatives);
        opt.backward_step(&loss);
        Ok(loss.double_value(&[]))
    })?;
    let trained = params
        .iter()
        .map(|t| t.detach().to_device(Device::Cpu))
        .collect();
    Ok((trained, losses))
}

/// Training facts of a neural model.
pub fn facts(
    mut training: BTreeMap<String, String>,
    losses: &[f64],
    start: Instant,
) -> BTreeMap<String, String> {
    let fmt: Vec<String> = losses.iter().map(|l| format!("{l:.5}")).collect();
    training.insert("loss per epoch".to_string(), fmt.join(", "));
    training.insert(
        "training seconds".to_string(),
        format!("{:.3}", start.elapsed().as_secs_f64()),
    );
    training
}

/// The check that a CPU training kernel takes the steps libtorch's autograd and Adam take (the
/// CUDA path): the same 8 seeded batches (4 positives, 3 negatives each, over the fixed tag
/// matrix of [`super::kernels::test_support::TagMatrix::fixed`]) through `kernel_step` and
/// through `score` + [`sampling_loss`] + Adam; the losses must agree within 1e-5. The returned
/// run then compares the kernel's final parameters ([`AutogradRun::compare`]).
#[cfg(test)]
pub(crate) fn check_kernel_against_autograd(
    names: &[&str],
    initial: &[(Vec<i64>, Vec<f32>)],
    score: &ScoreFn,
    (n_users, n_items, n_tags): (usize, usize, usize),
    (lr, wd): (f64, f64),
    mut kernel_step: impl FnMut(&[u32], &[u32], usize, super::kernels::fm::ItemTags<'_>) -> f64,
) -> AutogradRun {
    use super::kernels::test_support::{batch, TagMatrix};
    use super::tensors::{SparseTags, TagInput};
    use crate::common::tensors::{index, to_f32_vec};
    let (matrix, lists) = TagMatrix::fixed(n_items, n_tags);
    let cpu = Device::Cpu;
    let vs = nn::VarStore::new(cpu);
    let root = vs.root();
    let params: Vec<Tensor> = names
        .iter()
        .zip(initial)
        .map(|(n, (s, v))| root.var_copy(n, &Tensor::from_slice(v).view(s.as_slice())))
        .collect();
    let mut opt = nn::Adam {
        wd,
        ..Default::default()
    }
    .build(&vs, lr)
    .unwrap();
    let (b, negatives) = (4usize, 3usize);
    let mut draw = Rng::new(5);
    for step in 0..8 {
        let (users, items) = batch(&mut draw, b, negatives, n_users, n_items);
        let ours = kernel_step(&users, &items, negatives, matrix.tags());
        let batch_lists: Vec<_> = items.iter().map(|&i| lists[i as usize].clone()).collect();
        let input = TagInput::Sparse(SparseTags::from_lists(&batch_lists, Kind::Float, cpu));
        let s = score(
            &params,
            &index(&users, cpu),
            Some(&index(&items, cpu)),
            &input,
        );
        let loss = sampling_loss(&s, b, negatives);
        opt.backward_step(&loss);
        let theirs = loss.double_value(&[]);
        assert!(
            (ours - theirs).abs() < 1e-5,
            "step {step}: loss {ours} vs {theirs}"
        );
    }
    AutogradRun {
        names: names.iter().map(|n| n.to_string()).collect(),
        initial: initial.iter().map(|(_, v)| v.clone()).collect(),
        trained: params
            .iter()
            .map(|t| to_f32_vec(&t.detach()).unwrap())
            .collect(),
    }
}

/// The parameters libtorch trained in [`check_kernel_against_autograd`].
#[cfg(test)]
pub(crate) struct AutogradRun {
    names: Vec<String>,
    initial: Vec<Vec<f32>>,
    trained: Vec<Vec<f32>>,
}

#[cfg(test)]
impl AutogradRun {
    /// The kernel's final parameters (in the same order) agree with libtorch's within 2e-5, and
    /// they moved by more than 0.02 (many times the tolerance).
    pub(crate) fn compare(self, ours: &[Vec<f32>]) {
        assert_eq!(ours.len(), self.trained.len());
        let mut moved = 0.0f64;
        for (((name, mine), theirs), start) in self
            .names
            .iter()
            .zip(ours)
            .zip(&self.trained)
            .zip(&self.initial)
        {
            assert_eq!(mine.len(), theirs.len(), "{name}");
            for (j, (&a, &b)) in mine.iter().zip(theirs).enumerate() {
                assert!(
                    (a - b).abs() < 2e-5,
                    "{name}[{j}]: kernel {a}, libtorch {b}"
                );
                moved = moved.max((a - start[j]).abs() as f64);
            }
        }
        assert!(moved > 0.02, "{moved}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::TrainingData;
    use datafusion::arrow::array::{ArrayRef, Int64Array};
    use datafusion::arrow::record_batch::RecordBatch;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;

    /// 40 users × 30 items; user 7 has seen every item (its negatives are arbitrary seen items).
    fn data() -> RecData {
        let (mut users, mut items) = (Vec::new(), Vec::new());
        for u in 0..40i64 {
            for i in 0..30i64 {
                if u == 7 || (u * 7 + i * 3) % 5 == 0 {
                    users.push(u);
                    items.push(i);
                }
            }
        }
        let batch = RecordBatch::try_from_iter([
            ("user", Arc::new(Int64Array::from(users)) as ArrayRef),
            ("item", Arc::new(Int64Array::from(items)) as ArrayRef),
        ])
        .unwrap();
        let training = TrainingData {
            schema: batch.schema(),
            batches: vec![batch],
            tables: BTreeMap::new(),
        };
        let cancel = AtomicBool::new(false);
        let control = TaskControl::new(&|_| {}, &cancel);
        RecData::from_training(
            "test",
            &training,
            super::super::data::Tags::Optional,
            &control,
        )
        .unwrap()
        .0
    }

    fn options(epochs: usize) -> NeuralOptions {
        NeuralOptions {
            dim: 4,
            epochs,
            lr: 0.01,
            l2: 0.0,
            negatives: 3,
            batch_size: 16,
            seed: 9,
            init_iterations: 1,
            init_alpha: 1.0,
        }
    }

    /// The batches as sampled in line, one after the other (the loop before sampling moved to a
    /// thread of its own): the reference for the pipelined loop.
    fn serial_batches(data: &RecData, opts: &NeuralOptions, rng: &mut Rng) -> Vec<Vec<u32>> {
        let r = &data.r;
        let n_items = data.n_items() as u64;
        let mut pairs: Vec<(u32, u32)> = Vec::new();
        for u in 0..r.n_rows {
            pairs.extend(r.row(u).0.iter().map(|&i| (u as u32, i)));
        }
        let mut out = Vec::new();
        for _ in 0..opts.epochs {
            for k in (1..pairs.len()).rev() {
                let j = rng.below(k as u64 + 1) as usize;
                pairs.swap(k, j);
            }
            for batch in pairs.chunks(opts.batch_size) {
                let mut users: Vec<u32> = batch.iter().map(|p| p.0).collect();
                let mut items: Vec<u32> = batch.iter().map(|p| p.1).collect();
                for &(u, _) in batch {
                    for _ in 0..opts.negatives {
                        let mut j = rng.below(n_items) as u32;
                        if (r.row(u as usize).0.len() as u64) < n_items {
                            while r.contains(u as usize, j) {
                                j = rng.below(n_items) as u32;
                            }
                        }
                        users.push(u);
                        items.push(j);
                    }
                }
                users.extend(items);
                users.push(batch.len() as u32);
                out.push(users);
            }
        }
        out
    }

    /// Sampling ahead on another thread hands `step` the batches sampling in line gives, in the
    /// same order, each prepared for itself, and leaves the generator where sampling in line
    /// leaves it.
    #[test]
    fn batches_sampled_ahead_are_the_batches_sampled_in_line() {
        let data = data();
        let opts = options(3);
        let mut expected_rng = Rng::new(4);
        let expected = serial_batches(&data, &opts, &mut expected_rng);
        assert!(
            expected.len() > 3 * BATCHES_AHEAD,
            "{} batches",
            expected.len()
        );
        let cancel = AtomicBool::new(false);
        let control = TaskControl::new(&|_| {}, &cancel);
        let mut rng = Rng::new(4);
        let mut seen = Vec::new();
        let losses = run_prepared_epochs(
            "test",
            &data,
            &opts,
            &mut rng,
            &control,
            Vec::new,
            |batch: &mut SampledBatch<Vec<u32>>| {
                batch.plan = batch.users.iter().chain(&batch.items).copied().collect();
                Ok(())
            },
            |batch: &SampledBatch<Vec<u32>>| {
                let mut flat: Vec<u32> = batch.users.iter().chain(&batch.items).copied().collect();
                assert_eq!(batch.plan, flat, "prepared for another batch");
                flat.push(batch.positives as u32);
                seen.push(flat);
                Ok(seen.len() as f64)
            },
        )
        .unwrap();
        assert_eq!(seen, expected);
        assert_eq!(losses.len(), 3);
        assert_eq!(rng.below(1 << 40), expected_rng.below(1 << 40));
    }

    /// An error from a step, a failed preparation or Ctrl-C ends training with that error (the
    /// sampler stops instead of waiting forever).
    #[test]
    fn errors_and_cancellation_stop_the_sampler() {
        let data = data();
        let opts = options(50);
        let cancel = AtomicBool::new(false);
        let control = TaskControl::new(&|_| {}, &cancel);
        type Step<'a> = dyn FnMut(&[u32], &[u32], usize) -> Result<f64> + 'a;
        let run = |step: &mut Step<'_>| {
            run_epochs("test", &data, &opts, &mut Rng::new(1), &control, step)
        };
        let mut steps = 0;
        let failed = run(&mut |_, _, _| {
            steps += 1;
            if steps == 5 {
                exec_err!("step five failed")
            } else {
                Ok(1.0)
            }
        });
        assert!(failed.unwrap_err().to_string().contains("step five failed"));
        let mut prepared = 0;
        let failed = run_prepared_epochs(
            "test",
            &data,
            &opts,
            &mut Rng::new(1),
            &control,
            || (),
            |_: &mut SampledBatch<()>| {
                prepared += 1;
                if prepared == 4 {
                    exec_err!("preparing batch four failed")
                } else {
                    Ok(())
                }
            },
            |_: &SampledBatch<()>| Ok(1.0),
        );
        assert!(failed
            .unwrap_err()
            .to_string()
            .contains("preparing batch four failed"));
        let mut steps = 0;
        let cancelled = run(&mut |_, _, _| {
            steps += 1;
            if steps == 3 {
                cancel.store(true, Ordering::Relaxed);
            }
            Ok(1.0)
        });
        assert!(cancelled.is_err());
        assert_eq!(steps, 3, "a step ran after Ctrl-C");
    }
}
