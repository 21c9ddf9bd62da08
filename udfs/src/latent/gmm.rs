//! The `gmm` model type: a one-dimensional Gaussian mixture over a column of values (thesis
//! §2.2.3).
//!
//! It exists so that a scalar learning source (BPM, release year) becomes a k = 50-component
//! categorical distribution in SQL:
//!
//! ```sql
//! CREATE MODEL z_bpm OPTIONS (type = 'gmm', k = 50, seed = 1) AS SELECT bpm AS value FROM tracks;
//! SELECT track, gmm_posterior('z_bpm', bpm) FROM tracks;
//! ```
//!
//! The `value` column must be numeric; NULL values are dropped and counted, NaN and infinity are
//! errors. The fit starts from k-means++ centres and follows scikit-learn's `GaussianMixture` in
//! its EM steps (`reg_covar` added to the variances, stop when the mean log-likelihood per value
//! changes by less than `tolerance`; [`crate::latent::kernels::gmm`] says where it differs).
//! k larger than the number of
//! distinct values is an error naming both numbers, not silently clamped: every model of one
//! source must give vectors of the same length k (the thesis uses k = 50 for every source), and a
//! smaller k is the user's choice to make.

use std::time::Instant;

use datafusion::common::{exec_err, plan_err};
use datafusion::error::{DataFusionError, Result};
use serde::{Deserialize, Serialize};

use super::data::read_values;
use super::kernels::gmm::{fit, Gmm, GmmOptions};
use super::kernels::LatentError;
use super::latent_err;
use crate::engine::check_memory;
use crate::model::{
    decode, encode, Model, ModelOptions, ModelType, OptionKind, OptionSpec, TrainContext, Trained,
    TrainingData,
};

/// The `gmm` model type.
#[derive(Debug)]
pub struct GmmType;

/// A fitted one-dimensional Gaussian mixture.
#[derive(Debug, Serialize, Deserialize)]
pub struct GmmModel {
    pub gmm: Gmm,
    /// The mean log-likelihood per value of the initial mixture and after each EM step.
    lower_bound: Vec<f64>,
    converged: bool,
    values: usize,
    distinct: usize,
}

const OPTIONS: &[OptionSpec] = &[
    OptionSpec {
        name: "k",
        kind: OptionKind::Int {
            min: 1,
            max: 10_000,
        },
        default: Some("50"),
        doc: "number of Gaussian components (the thesis uses 50); at most the number of distinct values",
    },
    OptionSpec {
        name: "iterations",
        kind: OptionKind::Int {
            min: 0,
            max: 1_000_000,
        },
        default: Some("200"),
        doc: "the most EM steps",
    },
    OptionSpec {
        name: "tolerance",
        kind: OptionKind::Float {
            min: 0.0,
            max: f64::INFINITY,
        },
        default: Some("1e-6"),
        doc: "stop when the mean log-likelihood per value changes by less than this between two steps",
    },
    OptionSpec {
        name: "reg_covar",
        kind: OptionKind::Float {
            min: 0.0,
            max: f64::INFINITY,
        },
        default: Some("1e-6"),
        doc: "added to every variance, as scikit-learn's reg_covar (keeps components on one value finite)",
    },
    OptionSpec {
        name: "seed",
        kind: OptionKind::Int {
            min: 0,
            max: i64::MAX,
        },
        default: Some("1"),
        doc: "seed of the k-means++ initialisation",
    },
];

/// The fitting settings of `gmm` (spec [`OPTIONS`], which holds every default).
impl TryFrom<&ModelOptions> for GmmOptions {
    type Error = DataFusionError;

    fn try_from(options: &ModelOptions) -> Result<Self> {
        Ok(GmmOptions {
            k: options.value("k")?,
            iterations: options.value("iterations")?,
            tolerance: options.value("tolerance")?,
            reg_covar: options.value("reg_covar")?,
            seed: options.value("seed")?,
        })
    }
}

/// Progress lines every this many EM steps.
const PROGRESS_EVERY: usize = 20;

impl ModelType for GmmType {
    fn name(&self) -> &'static str {
        "gmm"
    }

    fn description(&self) -> &'static str {
        "one-dimensional Gaussian mixture of a column of values by EM (k-means++ start, scikit-learn's reg_covar and tolerance): posterior P(component | value)"
    }

    fn options(&self) -> &'static [OptionSpec] {
        OPTIONS
    }

    fn train(&self, data: &TrainingData, ctx: &TrainContext<'_>) -> Result<Trained> {
        let start = Instant::now();
        let options = GmmOptions::try_from(ctx.options)?;
        let (values, dropped) = read_values("gmm", data)?;
        if values.is_empty() {
            return plan_err!(
                "model type 'gmm': the AS query returned no non-NULL value; there is nothing to train on"
            );
        }
        // Sorted copy, distinct values and counts, responsibilities and a scratch row each.
        let need = values.len() as f64 * 8.0 * 3.0 + values.len() as f64 * options.k as f64 * 8.0;
        check_memory(
            &format!("gmm with k = {} on {} values", options.k, values.len()),
            need,
            ctx.memory_limit,
        )?;
        let total = options.iterations;
        let mut on_step = |t: usize, lb: f64| -> std::result::Result<(), LatentError> {
            if ctx.control.is_cancelled() {
                return Err(LatentError::Cancelled);
            }
            if t % PROGRESS_EVERY == 0 {
                ctx.control.progress(&format!(
                    "gmm: EM step {t}/{total}  mean log-likelihood {lb:.9}  {:.1} s",
                    start.elapsed().as_secs_f64()
                ));
            }
            Ok(())
        };
        let result = fit(&values, &options, &mut on_step).map_err(|e| latent_err("gmm", e))?;
        ctx.control.progress(&format!(
            "gmm: {} values ({} distinct), {} EM steps, {}, {:.3} s",
            result.n,
            result.distinct,
            result.steps,
            if result.converged {
                "converged"
            } else {
                "stopped at the step limit"
            },
            start.elapsed().as_secs_f64()
        ));
        let mut training = std::collections::BTreeMap::new();
        training.insert("values used".to_string(), result.n.to_string());
        training.insert("values dropped (NULL)".to_string(), dropped.to_string());
        training.insert("distinct values".to_string(), result.distinct.to_string());
        training.insert("EM steps".to_string(), result.steps.to_string());
        training.insert("converged".to_string(), result.converged.to_string());
        let trace: Vec<String> = result
            .lower_bound
            .iter()
            .map(|l| format!("{l:.9e}"))
            .collect();
        training.insert("mean log-likelihood per step".to_string(), trace.join(", "));
        training.insert(
            "training seconds".to_string(),
            format!("{:.3}", start.elapsed().as_secs_f64()),
        );
        Ok(Trained {
            model: Box::new(GmmModel {
                gmm: result.gmm,
                lower_bound: result.lower_bound,
                converged: result.converged,
                values: result.n,
                distinct: result.distinct,
            }),
            training,
        })
    }

    fn load(&self, _options: &ModelOptions, bytes: &[u8]) -> Result<Box<dyn Model>> {
        let model = decode::<GmmModel>("gmm", bytes)?;
        let g = &model.gmm;
        if g.weights.is_empty()
            || g.means.len() != g.k()
            || g.variances.len() != g.k()
            || g.variances.iter().any(|v| v.is_nan() || *v <= 0.0)
        {
            return exec_err!("the stored 'gmm' model is damaged: its parameters do not agree");
        }
        Ok(Box::new(model))
    }
}

impl Model for GmmModel {
    fn describe(&self) -> Vec<(String, String)> {
        let fmt = |v: &[f64]| {
            v.iter()
                .map(|x| format!("{x:.6}"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let mut out = vec![
            ("components".to_string(), self.gmm.k().to_string()),
            ("values".to_string(), self.values.to_string()),
            ("distinct values".to_string(), self.distinct.to_string()),
            ("weights".to_string(), fmt(&self.gmm.weights)),
            ("means".to_string(), fmt(&self.gmm.means)),
            ("variances".to_string(), fmt(&self.gmm.variances)),
            ("converged".to_string(), self.converged.to_string()),
        ];
        if let Some(l) = self.lower_bound.last() {
            out.push(("final mean log-likelihood".to_string(), format!("{l:.9e}")));
        }
        out
    }

    fn to_bytes(&self) -> Result<Vec<u8>> {
        encode(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stored_model_loads_back_and_damage_is_refused() {
        let model = GmmModel {
            gmm: Gmm {
                weights: vec![0.5, 0.5],
                means: vec![0.0, 10.0],
                variances: vec![1.0, 4.0],
            },
            lower_bound: vec![-2.0],
            converged: true,
            values: 10,
            distinct: 9,
        };
        let bytes = model.to_bytes().unwrap();
        let back = GmmType.load(&ModelOptions::default(), &bytes).unwrap();
        let back = back.downcast_ref::<GmmModel>().unwrap();
        assert_eq!(back.gmm, model.gmm);
        let mut damaged = decode::<GmmModel>("gmm", &bytes).unwrap();
        damaged.gmm.variances[1] = 0.0;
        let e = GmmType
            .load(&ModelOptions::default(), &damaged.to_bytes().unwrap())
            .unwrap_err();
        assert!(e.to_string().contains("damaged"), "{e}");
        assert!(GmmType.load(&ModelOptions::default(), &bytes[..5]).is_err());
    }
}
