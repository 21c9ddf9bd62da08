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
    let rows = opts.batch_size.min(pairs.len()) * (1 + opts.negatives);
    let mut users: Vec<u32> = Vec::with_capacity(rows);
    let mut items: Vec<u32> = Vec::with_capacity(rows);
    let mut losses = Vec::with_capacity(opts.epochs);
    for epoch in 1..=opts.epochs {
        // Fisher–Yates with the seeded generator.
        for k in (1..pairs.len()).rev() {
            let j = rng.below(k as u64 + 1) as usize;
            pairs.swap(k, j);
        }
        let (mut total, mut batches) = (0.0, 0usize);
        let meter = control.meter(
            format!("{label}: epoch {epoch}/{}", opts.epochs),
            "pairs",
            Some(pairs.len() as u64),
        );
        let _scope = crate::common::progress::enter(meter.as_ref());
        for batch in pairs.chunks(opts.batch_size) {
            control.check_cancelled()?;
            let b = batch.len();
            users.clear();
            items.clear();
            users.extend(batch.iter().map(|p| p.0));
            items.extend(batch.iter().map(|p| p.1));
            for &(u, _) in batch {
                let seen = r.row(u as usize).0.len() as u64;
                for _ in 0..opts.negatives {
                    let mut j = rng.below(n_items) as u32;
                    if seen < n_items {
                        while r.contains(u as usize, j) {
                            j = rng.below(n_items) as u32;
                        }
                    }
                    users.push(u);
                    items.push(j);
                }
            }
            total += step(&users, &items, b)?;
            batches += 1;
            crate::common::progress::advance(b as u64);
        }
        let mean = total / batches.max(1) as f64;
        if !mean.is_finite() {
            return exec_err!(
                "{label}: the training loss became {mean} in epoch {epoch}; lower lr"
            );
        }
        losses.push(mean);
        control.progress(&format!(
            "{label}: epoch {epoch}/{}  loss {mean:.5}  {:.1} s",
            opts.epochs,
            start.elapsed().as_secs_f64()
        ));
    }
    Ok(losses)
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
