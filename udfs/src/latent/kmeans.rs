//! The `kmeans` model type: a dictionary of k centroids ("audio words") learnt by k-means from a
//! column of vectors (thesis ch. 3).
//!
//! It exists because the thesis describes artists by the "audio words" of their frames: k-means
//! over frame MFCCs, ΔMFCCs or quantile-normalised song descriptors gives k = 2048 centroids, and
//! each frame is then counted under its nearest one. In SQL:
//!
//! ```sql
//! CREATE MODEL cb OPTIONS (type = 'kmeans', k = 2048, seed = 1, batch_size = 4096)
//!   AS SELECT mfcc AS vector FROM frames;
//! SELECT artist, kmeans_assign('cb', mfcc) AS word, count(*) FROM frames GROUP BY 1, 2;
//! ```
//!
//! The rows are read by [`read_vectors`]: `vector` is a list of numbers (List, LargeList or
//! FixedSizeList; Float32 is clustered in `f32`, other numbers in `f64`), NULL vectors are
//! dropped and counted, every vector must have the same length, and the rows are sorted by their
//! values first so that the model does not depend on the order of the rows. The memory the fit
//! needs is checked against `trustql.memory_limit` before the matrix is built.
//!
//! The fit is [`crate::latent::kernels::kmeans`]: Lloyd's algorithm (`batch_size = 0`, as
//! scikit-learn's `KMeans(algorithm="lloyd", n_init=1)`) or mini-batch k-means (`batch_size > 0`,
//! as `MiniBatchKMeans(n_init=1)`), from scikit-learn's greedy k-means++ or k distinct random
//! rows. The model numbers its centroids in increasing lexicographic order of their values (so
//! that a labelling does not depend on the order in which the initialisation found them) and
//! keeps them as `f32`, with the inertia, the iterations, whether the fit converged and the
//! number of vectors; `model_info` shows them. Progress is reported during the initialisation
//! and every few iterations, and Ctrl-C stops between steps.

use std::time::Instant;

use datafusion::common::{exec_err, plan_err};
use datafusion::error::{DataFusionError, Result};
use serde::{Deserialize, Serialize};

use super::codebook::Codebook;
use super::data::{read_vectors, DenseRows};
use super::kernels::kmeans::{fit, Init, KMeansFit, KMeansOptions, Progress, Real, CHUNK};
use super::kernels::LatentError;
use super::latent_err;
use crate::engine::check_memory;
use crate::model::{
    decode, encode, Model, ModelOptions, ModelType, OptionKind, OptionSpec, TrainContext, Trained,
    TrainingData,
};

/// The `kmeans` model type.
#[derive(Debug)]
pub struct KMeansType;

/// A trained k-means dictionary.
#[derive(Debug, Serialize, Deserialize)]
pub struct KMeansModel {
    k: usize,
    dim: usize,
    /// k × dim, row-major, in increasing lexicographic order.
    centroids: Vec<f32>,
    inertia: f64,
    iterations: usize,
    steps: usize,
    converged: bool,
    /// Why the fit stopped (the kernel's [`super::kernels::kmeans::Stop`], as text).
    stopped: String,
    /// `lloyd` or `mini-batch`.
    algorithm: String,
    /// The vectors the model was trained on.
    n: usize,
}

/// Values of `centroids` shown by `model_info` at most (a larger dictionary shows its size).
const SHOW_CENTROIDS: usize = 256;

const OPTIONS: &[OptionSpec] = &[
    OptionSpec {
        name: "k",
        kind: OptionKind::Int {
            min: 1,
            max: 100_000,
        },
        default: Some("8"),
        doc: "number of clusters (words of the dictionary; the thesis uses 2048); at most the number of distinct vectors",
    },
    OptionSpec {
        name: "init",
        kind: OptionKind::Choice(&["k-means++", "random"]),
        default: Some("k-means++"),
        doc: "'k-means++': scikit-learn's greedy k-means++ (2 + ln k candidates per centre); 'random': k distinct random rows",
    },
    OptionSpec {
        name: "max_iter",
        kind: OptionKind::Int {
            min: 1,
            max: 1_000_000,
        },
        default: Some("300"),
        doc: "the most Lloyd iterations, or mini-batch epochs (passes over n rows)",
    },
    OptionSpec {
        name: "tolerance",
        kind: OptionKind::Float {
            min: 0.0,
            max: f64::INFINITY,
        },
        default: None,
        doc: "stop once the squared centroid shift of a step is at most this times the mean column variance (scikit-learn's tol); absent: 1e-4 for full-batch (KMeans' default), 0 (off) for mini-batch (MiniBatchKMeans' default)",
    },
    OptionSpec {
        name: "batch_size",
        kind: OptionKind::Int {
            min: 0,
            max: 1_000_000_000,
        },
        default: Some("0"),
        doc: "0: Lloyd's algorithm on all rows; b > 0: mini-batch k-means on random batches of b rows (per-centre counts, learning rate 1/count, scikit-learn's stopping rules)",
    },
    OptionSpec {
        name: "init_size",
        kind: OptionKind::Int {
            min: 1,
            max: 1_000_000_000,
        },
        default: None,
        doc: "mini-batch only: the rows the initialisation sees; absent: 3 × batch_size, or 3k when that is less than k (scikit-learn's default)",
    },
    OptionSpec {
        name: "seed",
        kind: OptionKind::Int {
            min: 0,
            max: i64::MAX,
        },
        default: Some("1"),
        doc: "seed of the initialisation and of the mini-batches",
    },
];

/// The fitting settings of `kmeans` (spec [`OPTIONS`], which holds every default).
impl TryFrom<&ModelOptions> for KMeansOptions {
    type Error = DataFusionError;

    fn try_from(options: &ModelOptions) -> Result<Self> {
        let init: String = options.value("init")?;
        let (k, batch_size): (usize, usize) = (options.value("k")?, options.value("batch_size")?);
        match options.optional::<usize>("init_size")? {
            Some(_) if batch_size == 0 => {
                return plan_err!(
                    "model type 'kmeans': init_size applies to mini-batch k-means only \
                     (batch_size > 0)"
                )
            }
            Some(s) if s < k => {
                return plan_err!(
                    "model type 'kmeans': init_size = {s} is smaller than k = {k}; the \
                     initialisation needs at least k rows"
                )
            }
            _ => {}
        }
        Ok(KMeansOptions {
            k: options.value("k")?,
            max_iter: options.value("max_iter")?,
            tolerance: options.optional("tolerance")?,
            init: if init == "random" {
                Init::Random
            } else {
                Init::KMeansPlusPlus
            },
            batch_size: options.value("batch_size")?,
            init_size: options.optional("init_size")?,
            seed: options.value("seed")?,
        })
    }
}

/// Progress lines every this many Lloyd iterations, mini-batch steps and k-means++ centres.
const LLOYD_EVERY: usize = 10;
const STEPS_EVERY: usize = 100;
const CENTRES_EVERY: usize = 256;

/// The bytes a fit of n vectors of d values of `bytes` each with k clusters holds at its peak:
/// the rows as read, sorted and centred (two of the three at a time), labels, the grouping and
/// the relocation's distances and indices per row, every thread's block of GEMM scores, the
/// centroids (with their `f64` sums) and a mini-batch.
fn memory_needed(n: usize, d: usize, bytes: usize, k: usize, batch: usize) -> f64 {
    let (n, d, s, k, b) = (n as f64, d as f64, bytes as f64, k as f64, batch as f64);
    let threads = rayon::current_num_threads() as f64;
    2.0 * n * d * s
        + n * (8.0 + 4.0 * 3.0 + 8.0)
        + threads * CHUNK as f64 * k * s
        + 4.0 * k * d * 8.0
        + b * (d * s + 4.0 * 2.0)
}

/// The centroids as `f32` rows in increasing lexicographic order.
fn sorted_centroids<T: Real>(fit: &KMeansFit<T>, d: usize) -> Vec<f32> {
    let rows: Vec<Vec<f32>> = fit
        .centroids
        .chunks_exact(d)
        .map(|c| c.iter().map(|v| v.f64() as f32).collect())
        .collect();
    let mut order: Vec<usize> = (0..rows.len()).collect();
    order.sort_by(|&a, &b| {
        rows[a]
            .iter()
            .zip(&rows[b])
            .map(|(p, q)| p.total_cmp(q))
            .find(|o| o.is_ne())
            .unwrap_or(a.cmp(&b))
    });
    order.into_iter().flat_map(|i| rows[i].clone()).collect()
}

/// What the model keeps and reports of a fit.
struct Summary {
    centroids: Vec<f32>,
    inertia: f64,
    iterations: usize,
    steps: usize,
    converged: bool,
    stopped: String,
    tolerance: f64,
    relocated: usize,
    trace: Vec<f64>,
}

fn summary<T: Real>(fit: KMeansFit<T>, d: usize) -> Summary {
    Summary {
        centroids: sorted_centroids(&fit, d),
        inertia: fit.inertia,
        iterations: fit.iterations,
        steps: fit.steps,
        converged: fit.converged,
        stopped: fit.stop.to_string(),
        tolerance: fit.tolerance,
        relocated: fit.relocated,
        trace: fit.inertia_trace,
    }
}

impl ModelType for KMeansType {
    fn name(&self) -> &'static str {
        "kmeans"
    }

    fn description(&self) -> &'static str {
        "k-means clustering of a column of vectors (Lloyd or mini-batch, k-means++ or random start, as scikit-learn): a dictionary of k centroids for kmeans_assign"
    }

    fn options(&self) -> &'static [OptionSpec] {
        OPTIONS
    }

    fn train(&self, data: &TrainingData, ctx: &TrainContext<'_>) -> Result<Trained> {
        let start = Instant::now();
        let options = KMeansOptions::try_from(ctx.options)?;
        let check = |n: usize, d: usize, bytes: usize| {
            check_memory(
                &format!("kmeans with k = {} on {n} vectors of {d} values", options.k),
                memory_needed(n, d, bytes, options.k, options.batch_size.min(n)),
                ctx.memory_limit,
            )
        };
        let input = read_vectors("kmeans", data, &check, &ctx.control)?;
        let (n, d) = (input.n, input.d);
        let mini = options.batch_size > 0;
        ctx.control.progress(&format!(
            "kmeans: {n} vectors of {d} values ({}), k = {}, {}",
            match input.rows {
                DenseRows::F32(_) => "f32",
                DenseRows::F64(_) => "f64",
            },
            options.k,
            if mini {
                format!("mini-batch of {}", options.batch_size.min(n))
            } else {
                "Lloyd".to_string()
            }
        ));
        let mut on_progress = |p: Progress| -> std::result::Result<(), LatentError> {
            if ctx.control.is_cancelled() {
                return Err(LatentError::Cancelled);
            }
            let line = match p {
                Progress::Init { centres, of } if centres % CENTRES_EVERY == 0 || centres == of => {
                    Some(format!("k-means++ centre {centres}/{of}"))
                }
                Progress::Lloyd {
                    iteration,
                    inertia,
                    shift,
                } if iteration == 1 || iteration % LLOYD_EVERY == 0 => Some(format!(
                    "iteration {iteration}  inertia {inertia:.6e}  centroid shift {shift:.3e}"
                )),
                Progress::MiniBatch {
                    step,
                    steps,
                    smoothed_inertia,
                } if step % STEPS_EVERY == 0 => Some(format!(
                    "mini-batch step {step}/{steps}  smoothed batch inertia {}",
                    smoothed_inertia.map_or("-".to_string(), |v| format!("{v:.6e}"))
                )),
                _ => None,
            };
            if let Some(line) = line {
                ctx.control.progress(&format!(
                    "kmeans: {line}  {:.1} s",
                    start.elapsed().as_secs_f64()
                ));
            }
            Ok(())
        };
        let s = match &input.rows {
            DenseRows::F32(x) => fit(x, d, &options, &mut on_progress).map(|f| summary(f, d)),
            DenseRows::F64(x) => fit(x, d, &options, &mut on_progress).map(|f| summary(f, d)),
        }
        .map_err(|e| latent_err("kmeans", e))?;
        let precision = match input.rows {
            DenseRows::F32(_) => "f32",
            DenseRows::F64(_) => "f64",
        };
        let (unit, algorithm) = if mini {
            ("epochs", "mini-batch")
        } else {
            ("iterations", "lloyd")
        };
        ctx.control.progress(&format!(
            "kmeans: {} after {} {unit}, inertia {:.6e}, {:.3} s",
            s.stopped,
            s.iterations,
            s.inertia,
            start.elapsed().as_secs_f64()
        ));
        let mut training = std::collections::BTreeMap::new();
        training.insert("vectors used".to_string(), n.to_string());
        training.insert(
            "vectors dropped (NULL)".to_string(),
            input.dropped.to_string(),
        );
        training.insert("precision".to_string(), precision.to_string());
        training.insert(
            "tolerance (absolute)".to_string(),
            format!("{:e}", s.tolerance),
        );
        if mini {
            training.insert("mini-batch steps".to_string(), s.steps.to_string());
            training.insert("centroids reassigned".to_string(), s.relocated.to_string());
        } else {
            training.insert(
                "empty clusters relocated".to_string(),
                s.relocated.to_string(),
            );
            let trace: Vec<String> = s.trace.iter().map(|v| format!("{v:.9e}")).collect();
            training.insert("inertia per iteration".to_string(), trace.join(", "));
        }
        training.insert(
            "training seconds".to_string(),
            format!("{:.3}", start.elapsed().as_secs_f64()),
        );
        Ok(Trained {
            model: Box::new(KMeansModel {
                k: options.k,
                dim: d,
                centroids: s.centroids,
                inertia: s.inertia,
                iterations: s.iterations,
                steps: s.steps,
                converged: s.converged,
                stopped: s.stopped,
                algorithm: algorithm.to_string(),
                n,
            }),
            training,
        })
    }

    fn load(&self, _options: &ModelOptions, bytes: &[u8]) -> Result<Box<dyn Model>> {
        let model = decode::<KMeansModel>("kmeans", bytes)?;
        if model.k == 0
            || model.dim == 0
            || model.centroids.len() != model.k * model.dim
            || model.centroids.iter().any(|v| !v.is_finite())
        {
            return exec_err!("the stored 'kmeans' model is damaged: its sizes do not agree");
        }
        Ok(Box::new(model))
    }
}

impl Model for KMeansModel {
    fn describe(&self) -> Vec<(String, String)> {
        let centroids = if self.centroids.len() <= SHOW_CENTROIDS {
            self.centroids
                .chunks_exact(self.dim.max(1))
                .map(|c| {
                    let v: Vec<String> = c.iter().map(|x| x.to_string()).collect();
                    format!("[{}]", v.join(", "))
                })
                .collect::<Vec<_>>()
                .join(", ")
        } else {
            format!(
                "{} × {} values (shown up to {SHOW_CENTROIDS})",
                self.k, self.dim
            )
        };
        let mut out = vec![
            ("clusters".to_string(), self.k.to_string()),
            ("dimension".to_string(), self.dim.to_string()),
            ("vectors".to_string(), self.n.to_string()),
            ("algorithm".to_string(), self.algorithm.clone()),
            ("inertia".to_string(), self.inertia.to_string()),
            ("iterations".to_string(), self.iterations.to_string()),
            ("converged".to_string(), self.converged.to_string()),
            ("stopped by".to_string(), self.stopped.clone()),
            ("centroids".to_string(), centroids),
        ];
        if self.algorithm == "mini-batch" {
            out.push(("mini-batch steps".to_string(), self.steps.to_string()));
        }
        out
    }

    fn to_bytes(&self) -> Result<Vec<u8>> {
        encode(self)
    }

    crate::capabilities!(dyn Codebook);
}

impl Codebook for KMeansModel {
    fn k(&self) -> usize {
        self.k
    }

    fn dim(&self) -> usize {
        self.dim
    }

    fn centroids(&self) -> &[f32] {
        &self.centroids
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn model() -> KMeansModel {
        KMeansModel {
            k: 3,
            dim: 2,
            centroids: vec![0.0, 0.0, 0.0, 10.0, 10.0, 0.0],
            inertia: 4.0,
            iterations: 2,
            steps: 2,
            converged: true,
            stopped: "labels unchanged".to_string(),
            algorithm: "lloyd".to_string(),
            n: 12,
        }
    }

    #[test]
    fn a_stored_model_loads_back_and_damage_is_refused() {
        let bytes = model().to_bytes().unwrap();
        let back = KMeansType.load(&ModelOptions::default(), &bytes).unwrap();
        let book = back.capability::<dyn Codebook>().unwrap();
        assert_eq!((book.k(), book.dim()), (3, 2));
        assert_eq!(book.centroid(2), Some(&[10.0f32, 0.0][..]));
        assert_eq!(book.centroid(3), None);
        assert_eq!(book.nearest(&[1.0, 8.0]), Some(1));
        assert_eq!(book.nearest(&[9.0, -1.0]), Some(2));
        assert_eq!(book.nearest(&[1.0]), None);
        let info = back.describe();
        let get = |p: &str| info.iter().find(|(k, _)| k == p).map(|(_, v)| v.clone());
        assert_eq!(get("centroids").unwrap(), "[0, 0], [0, 10], [10, 0]");
        assert_eq!(get("inertia").unwrap(), "4");
        let damaged = KMeansModel {
            centroids: vec![0.0; 5],
            ..model()
        };
        let e = KMeansType
            .load(&ModelOptions::default(), &damaged.to_bytes().unwrap())
            .unwrap_err();
        assert!(e.to_string().contains("damaged"), "{e}");
        assert!(KMeansType
            .load(&ModelOptions::default(), &bytes[..bytes.len() / 2])
            .is_err());
    }

    #[test]
    fn centroids_are_numbered_in_lexicographic_order() {
        let fit = KMeansFit {
            centroids: vec![1.0f64, 5.0, 0.0, 7.0, 1.0, -2.0],
            labels: vec![],
            inertia: 0.0,
            iterations: 1,
            steps: 1,
            converged: true,
            stop: super::super::kernels::kmeans::Stop::LabelsUnchanged,
            inertia_trace: vec![],
            tolerance: 0.0,
            relocated: 0,
        };
        assert_eq!(
            sorted_centroids(&fit, 2),
            vec![0.0, 7.0, 1.0, -2.0, 1.0, 5.0]
        );
    }
}
