//! `wrmf`: weighted regularised matrix factorisation for implicit feedback (Hu, Koren & Volinsky
//! 2008), trained by alternating least squares.
//!
//! Minimises Σ_{u,i} c_ui (p_ui − x_uᵀ y_i)² + λ(Σ‖x_u‖² + Σ‖y_i‖²) over all user-item pairs,
//! with preference p_ui = 1 when the user interacted with the item and confidence
//! c_ui = 1 + α r_ui (r = the `value` column; scale it in the AS query, e.g. `ln(1 + plays)`, when
//! raw counts span orders of magnitude). Each half-step solves every user's (then item's) normal
//! equations exactly (`solver = 'cholesky'`) or with `cg_steps` conjugate-gradient steps warm-started
//! from the previous factors (`'cg'`, the default, as in the `implicit` package); both never
//! increase the objective. f(u, i, t) = x_u · y_i does not depend on t.

use std::time::Instant;

use datafusion::error::Result;
use serde::{Deserialize, Serialize};
use tch::{Device, Kind, Tensor};

use super::data::{RecData, Tags};
use super::kernels::als::{wrmf_cancellable, AlsOptions, Factors, Solver};
use super::recommender::{Entity, FactorMatrix, Recommender};
use super::tensors::TagInput;
use super::train::{callback_err, kernel_err};
use crate::common::tensors::{index, matrix_f32, DeviceTensors};
use crate::model::{
    decode, encode, Model, ModelOptions, ModelType, OptionKind, OptionSpec, TaskControl,
    TrainContext, Trained, TrainingData,
};

/// The `wrmf` model type.
#[derive(Debug)]
pub struct WrmfType;

/// A trained WRMF model.
#[derive(Debug, Serialize, Deserialize)]
pub struct Wrmf {
    data: RecData,
    k: usize,
    users: Vec<f32>,
    items: Vec<f32>,
    /// The objective after each iteration.
    objective: Vec<f64>,
    #[serde(skip)]
    tensors: DeviceTensors,
}

/// The hyper-parameters of `wrmf`: its options (spec [`OPTIONS`]) read into the ALS kernel's
/// settings.
impl TryFrom<&ModelOptions> for AlsOptions {
    type Error = datafusion::error::DataFusionError;

    fn try_from(options: &ModelOptions) -> Result<Self> {
        let solver = match options.value::<String>("solver")?.as_str() {
            "cholesky" => Solver::Cholesky,
            _ => Solver::ConjugateGradient {
                steps: options.value("cg_steps")?,
            },
        };
        Ok(AlsOptions {
            factors: options.value("dim")?,
            iterations: options.value("iterations")?,
            alpha: options.value("alpha")?,
            l2: options.value("l2")?,
            solver,
            seed: options.value("seed")?,
            init_scale: 0.01,
        })
    }
}

/// Runs ALS with progress lines and Ctrl-C; returns user and item factors and the objectives.
pub fn run_als(
    label: &str,
    data: &RecData,
    opts: &AlsOptions,
    control: &TaskControl<'_>,
) -> Result<(Factors, Factors, Vec<f64>)> {
    let start = Instant::now();
    let mut objectives = Vec::new();
    let mut on_iteration = |it: usize, obj: f64| {
        control.check_cancelled().map_err(callback_err)?;
        objectives.push(obj);
        control.progress(&format!(
            "{label}: ALS iteration {it}/{}  objective {obj:.6e}  {:.1} s",
            opts.iterations,
            start.elapsed().as_secs_f64()
        ));
        Ok(())
    };
    // Rows solved in parallel check the cancel flag too, so Ctrl-C stops within a half-step.
    let stop = || control.check_cancelled().is_err();
    let (x, y) = wrmf_cancellable(&data.r, opts, &mut on_iteration, &stop)
        .map_err(|e| kernel_err(label, e))?;
    Ok((x, y, objectives))
}

impl Wrmf {
    /// [X, Y] on `device`.
    fn params(&self, device: Device) -> Result<[Tensor; 2]> {
        self.tensors.get(device, |d| {
            Ok(vec![
                matrix_f32(&self.users, self.data.n_users(), self.k, Kind::Float, d),
                matrix_f32(&self.items, self.data.n_items(), self.k, Kind::Float, d),
            ])
        })
    }

    /// The objective after each training iteration.
    pub fn objective(&self) -> &[f64] {
        &self.objective
    }
}

impl Model for Wrmf {
    fn describe(&self) -> Vec<(String, String)> {
        let mut out = self.data.describe();
        out.push(("latent dimension".to_string(), self.k.to_string()));
        if let Some(o) = self.objective.last() {
            out.push(("final objective".to_string(), format!("{o:.6e}")));
        }
        out
    }

    fn to_bytes(&self) -> Result<Vec<u8>> {
        encode(self)
    }

    crate::capabilities!(dyn Recommender);
}

impl Recommender for Wrmf {
    fn data(&self) -> &RecData {
        &self.data
    }

    fn uses_tags(&self) -> bool {
        false
    }

    fn forward(
        &self,
        device: Device,
        users: &Tensor,
        items: &Tensor,
        _tags: &TagInput,
    ) -> Result<Tensor> {
        let [x, y] = self.params(device)?;
        Ok(
            (x.index_select(0, users) * y.index_select(0, items)).sum_dim_intlist(
                1,
                false,
                Kind::Float,
            ),
        )
    }

    fn score_all_items(
        &self,
        device: Device,
        users: &[u32],
        _cancelled: super::recommender::Cancel<'_>,
    ) -> Result<Tensor> {
        let [x, y] = self.params(device)?;
        Ok(x.index_select(0, &index(users, device)).matmul(&y.tr()))
    }

    fn factors(&self) -> Vec<FactorMatrix> {
        vec![
            FactorMatrix {
                entity: Entity::User,
                k: self.k,
                values: self.users.clone(),
            },
            FactorMatrix {
                entity: Entity::Item,
                k: self.k,
                values: self.items.clone(),
            },
        ]
    }
}

/// Options of WRMF; FM and NCF reuse the ALS ones for their initialisation.
pub const ALS_OPTION_SPECS: [OptionSpec; 6] = [
    OptionSpec {
        name: "iterations",
        kind: OptionKind::Int {
            min: 1,
            max: 10_000,
        },
        default: Some("15"),
        doc: "ALS iterations (each updates all users, then all items)",
    },
    OptionSpec {
        name: "alpha",
        kind: OptionKind::Float { min: 0.0, max: 1e9 },
        default: Some("1.0"),
        doc: "confidence slope: c = 1 + alpha * value (Hu et al. used 40 on their data)",
    },
    OptionSpec {
        name: "l2",
        kind: OptionKind::Float { min: 0.0, max: 1e9 },
        default: Some("0.01"),
        doc: "L2 regularisation λ of the factors",
    },
    OptionSpec {
        name: "solver",
        kind: OptionKind::Choice(&["cg", "cholesky"]),
        default: Some("cg"),
        doc: "'cg': conjugate gradient warm-started from the last factors; 'cholesky': exact",
    },
    OptionSpec {
        name: "cg_steps",
        kind: OptionKind::Int { min: 1, max: 1000 },
        default: Some("3"),
        doc: "conjugate-gradient steps per user or item and half-iteration",
    },
    OptionSpec {
        name: "seed",
        kind: OptionKind::Int {
            min: 0,
            max: i64::MAX,
        },
        default: Some("42"),
        doc: "seed of the random initial factors",
    },
];

const OPTIONS: &[OptionSpec] = &[
    OptionSpec {
        name: "dim",
        kind: OptionKind::Int { min: 1, max: 4096 },
        default: Some("64"),
        doc: "number of latent factors",
    },
    ALS_OPTION_SPECS[0],
    ALS_OPTION_SPECS[1],
    ALS_OPTION_SPECS[2],
    ALS_OPTION_SPECS[3],
    ALS_OPTION_SPECS[4],
    ALS_OPTION_SPECS[5],
    OptionSpec {
        name: "tags",
        kind: OptionKind::Table,
        default: None,
        doc: "table or view of (item, tag, weight): not used for the score",
    },
];

impl ModelType for WrmfType {
    fn name(&self) -> &'static str {
        "wrmf"
    }

    fn description(&self) -> &'static str {
        "implicit-feedback matrix factorisation by alternating least squares (Hu, Koren & Volinsky 2008)"
    }

    fn options(&self) -> &'static [OptionSpec] {
        OPTIONS
    }

    fn train(&self, data: &TrainingData, ctx: &TrainContext<'_>) -> Result<Trained> {
        let start = Instant::now();
        let (rec, mut training) =
            RecData::from_training("wrmf", data, Tags::Optional, &ctx.control)?;
        let opts = AlsOptions::try_from(ctx.options)?;
        let k = opts.factors;
        super::train::memory::check_als("wrmf", &rec, k, ctx.memory_limit)?;
        let (x, y, objective) = run_als("wrmf", &rec, &opts, &ctx.control)?;
        let fmt: Vec<String> = objective.iter().map(|o| format!("{o:.9e}")).collect();
        training.insert("objective per iteration".to_string(), fmt.join(", "));
        training.insert(
            "training seconds".to_string(),
            format!("{:.3}", start.elapsed().as_secs_f64()),
        );
        Ok(Trained {
            model: Box::new(Wrmf {
                data: rec,
                k,
                users: x.data,
                items: y.data,
                objective,
                tensors: DeviceTensors::default(),
            }),
            training,
        })
    }

    fn load(&self, _options: &ModelOptions, bytes: &[u8]) -> Result<Box<dyn Model>> {
        Ok(Box::new(decode::<Wrmf>("wrmf", bytes)?))
    }
}
