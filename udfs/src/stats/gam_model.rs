//! The `gam` model type: a generalised additive model fitted by `CREATE MODEL`, as mgcv's `gam`.
//!
//! Thesis ch. 4 analyses its robustness experiments with GAMs; this type lets that analysis be
//! SQL over the results table: `CREATE MODEL m OPTIONS (type = 'gam', formula = 'cw ~
//! transformation * task + s(m01, by = interaction(transformation, task), k = 6, bs = ''cr'')')
//! AS SELECT ...` converts the query's rows to the kernel's named columns (the same conversion
//! as `lmer`'s, in content order, so the fit does not depend on row order), fits the model
//! ([`crate::stats::gam`]) with progress and Ctrl-C, and stores it, so that `fixed_effects`,
//! `smooth_terms`, `model_fit`, `joint_tests`, `emmeans`, `emmeans_pairs` and `gam_predict`
//! read it later.
//!
//! Supported: Gaussian family with identity link; smooths `s(x, k, bs = 'cr' | 'tp', by)`;
//! smoothing parameters by REML (default) or GCV (`method = 'GCV.Cp'`). See the kernel's docs for
//! what is not supported.

use std::collections::BTreeMap;
use std::time::Instant;

use datafusion::common::plan_err;
use datafusion::error::{DataFusionError, Result};
use serde::{Deserialize, Serialize};

use super::gam::{fit_gam, GamFit, GamOptions, Method};
use super::lmer::{factors_option, frame, lmm_err};
use super::lmm::LmmError;
use crate::model::{
    decode, encode, Model, ModelOptions, ModelType, OptionKind, OptionSpec, TrainContext, Trained,
    TrainingData,
};

/// The `sp` option: positive finite numbers separated by commas.
fn parse_sp(text: &str) -> Result<Vec<f64>> {
    text.split(',')
        .map(|t| {
            let t = t.trim();
            match t.parse::<f64>() {
                Ok(v) if v.is_finite() && v > 0.0 => Ok(v),
                _ => plan_err!(
                    "gam: sp must be positive numbers separated by commas (one per smooth), got \
                     '{t}' in '{text}'"
                ),
            }
        })
        .collect()
}

/// The `gam` model type.
#[derive(Debug)]
pub struct GamType;

/// A fitted GAM.
#[derive(Debug, Serialize, Deserialize)]
pub struct GamModel {
    pub fit: GamFit,
}

const OPTIONS: &[OptionSpec] = &[
    OptionSpec {
        name: "formula",
        kind: OptionKind::Text,
        default: None,
        doc: "the model in mgcv's formula language, e.g. 'y ~ f + s(x, by = f, bs = ''cr'')' (required)",
    },
    OptionSpec {
        name: "method",
        kind: OptionKind::Choice(&["reml", "gcv.cp"]),
        default: Some("reml"),
        doc: "how the smoothing parameters are chosen: 'REML' (restricted maximum likelihood, the default) or 'GCV.Cp' (generalised cross-validation), as mgcv's method argument",
    },
    OptionSpec {
        name: "factors",
        kind: OptionKind::Text,
        default: None,
        doc: "comma-separated numeric columns of the AS query to treat as categorical (text and boolean columns always are); none by default",
    },
    OptionSpec {
        name: "sp",
        kind: OptionKind::Text,
        default: None,
        doc: "fixed smoothing parameters instead of estimated ones, comma-separated, one per smooth in the order smooth_terms lists them (mgcv's sp argument, relative to the scaled penalties); estimated by default",
    },
];

impl ModelType for GamType {
    fn name(&self) -> &'static str {
        "gam"
    }

    fn description(&self) -> &'static str {
        "generalised additive model in mgcv's formula language (Gaussian, identity link), smoothing by REML or GCV (Wood 2017)"
    }

    fn options(&self) -> &'static [OptionSpec] {
        OPTIONS
    }

    fn train(&self, data: &TrainingData, ctx: &TrainContext<'_>) -> Result<Trained> {
        let start = Instant::now();
        let Some(formula) = ctx.options.text("formula") else {
            return plan_err!(
                "model type 'gam' needs a formula, e.g. OPTIONS (type = 'gam', \
                 formula = 'y ~ s(x)')"
            );
        };
        let method = match ctx.options.value::<String>("method")?.as_str() {
            "gcv.cp" => Method::Gcv,
            _ => Method::Reml,
        };
        let factors = factors_option(ctx.options)?;
        let sp = match ctx.options.text("sp") {
            None => None,
            Some(text) => Some(parse_sp(text)?),
        };
        let options = GamOptions {
            method,
            factors,
            memory_limit: Some(ctx.memory_limit),
            sp,
        };
        let frame = frame(data, "gam")?;
        let mut control = |iteration: usize, score: f64| -> std::result::Result<(), LmmError> {
            if ctx.control.check_cancelled().is_err() {
                return Err(LmmError::new("cancelled by the user"));
            }
            if iteration > 0 {
                ctx.control.progress(&format!(
                    "gam: Newton iteration {iteration}, score {score:.6}, {:.1} s",
                    start.elapsed().as_secs_f64()
                ));
            }
            Ok(())
        };
        let fit = fit_gam(formula, &frame, &options, &mut control).map_err(|e| {
            if ctx.control.check_cancelled().is_err() {
                DataFusionError::Execution("cancelled by the user".to_string())
            } else {
                lmm_err(e)
            }
        })?;
        ctx.control.progress(&format!(
            "gam: fitted {} rows ({} dropped for NULLs), {} coefficients, {} smooths by {} in {} \
             iterations, {:.4} s",
            fit.n,
            fit.rows_dropped,
            fit.beta.len(),
            fit.smooths.len(),
            method_name(fit.method),
            fit.iterations,
            start.elapsed().as_secs_f64()
        ));
        if !fit.converged {
            ctx.control
                .progress("gam: warning: the smoothing-parameter optimisation did not converge");
        }
        let mut training = BTreeMap::new();
        training.insert("rows".to_string(), fit.n.to_string());
        training.insert(
            "rows dropped (NULLs)".to_string(),
            fit.rows_dropped.to_string(),
        );
        training.insert("iterations".to_string(), fit.iterations.to_string());
        training.insert("converged".to_string(), fit.converged.to_string());
        Ok(Trained {
            model: Box::new(GamModel { fit }),
            training,
        })
    }

    fn load(&self, _options: &ModelOptions, bytes: &[u8]) -> Result<Box<dyn Model>> {
        Ok(Box::new(decode::<GamModel>("gam", bytes)?))
    }
}

/// mgcv's name of a smoothing-parameter method.
pub(crate) fn method_name(m: Method) -> &'static str {
    match m {
        Method::Reml => "REML",
        Method::Gcv => "GCV.Cp",
    }
}

impl Model for GamModel {
    fn describe(&self) -> Vec<(String, String)> {
        let f = &self.fit;
        vec![
            ("formula".to_string(), f.formula.clone()),
            ("method".to_string(), method_name(f.method).to_string()),
            ("observations".to_string(), f.n.to_string()),
            ("coefficients".to_string(), f.beta.len().to_string()),
            ("smooths".to_string(), f.smooths.len().to_string()),
            ("total edf".to_string(), format!("{:.3}", f.edf_total())),
            ("adjusted R²".to_string(), format!("{:.4}", f.r_squared_adj)),
        ]
    }

    fn to_bytes(&self) -> Result<Vec<u8>> {
        encode(self)
    }
}
