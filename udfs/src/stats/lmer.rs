//! The `lmer` model type: a linear mixed model fitted by `CREATE MODEL`.
//!
//! It exists so that the analysis of an experiment is SQL over its results table: `CREATE MODEL m
//! OPTIONS (type = 'lmer', formula = 'y ~ x + (1 | g)') AS SELECT ...` converts the query's rows to
//! the kernel's named columns ([`crate::stats::lmm::Frame`]), fits the model (REML by default) with
//! progress and Ctrl-C, and stores the fit like any other model, so that `fixed_effects(m)`,
//! `variance_components(m)`, `random_effects(m)`, `model_fit(m)`, `emmeans(m, ...)` and
//! `bootstrap_ci(m, ...)` can read it later, in this session or another.
//!
//! # Data it refuses
//! As lme4 refuses a constant response ("Response is constant"), a fit whose estimates would not
//! be numbers is an error that names the problem, never a model with infinite t statistics and
//! NaN p-values: a constant response (no variation to model); NaN or ±infinity in the response
//! or in a predictor, including a categorical one (SQL NULL marks a missing value: rows with a
//! NULL in a used column are dropped and counted, rows with NaN or infinity are not dropped
//! silently); values whose sums of squares overflow (`max |y| = 1e+305`) or vanish, with the
//! advice to rescale; a response the model reproduces exactly (σ̂ = 0). Options that name columns
//! (`factors`) must name columns of the `AS` query. Formulas are parsed with limits on nesting
//! and length (see [`crate::stats::lmm::formula`]).
//!
//! # Determinism
//! The rows are taken in content order ([`TrainingData::content_ranks`]) and the fitting kernel
//! is sequential, so the same rows give a bit-identical fit, with the same number of criterion
//! evaluations, whatever order DataFusion delivers them in and however many threads run.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use datafusion::arrow::array::{Array, ArrayRef, AsArray};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Float64Type, Int64Type};
use datafusion::common::{exec_err, plan_err};
use datafusion::error::{DataFusionError, Result};
use serde::{Deserialize, Serialize};

use super::gam::GamFit;
use super::gam_model::GamModel;
use super::lmm::grid::GridModel;
use super::lmm::{self, Column, DfMethod, Frame, LmmError, LmmFit, LmmOptions};
use crate::model::{
    decode, encode, LoadedModel, Model, ModelCatalog, ModelOptions, ModelType, OptionKind,
    OptionSpec, TrainContext, Trained, TrainingData,
};

/// The `lmer` model type.
#[derive(Debug)]
pub struct LmerType;

/// A fitted linear mixed model.
#[derive(Debug, Serialize, Deserialize)]
pub struct LmerModel {
    pub fit: LmmFit,
}

const OPTIONS: &[OptionSpec] = &[
    OptionSpec {
        name: "formula",
        kind: OptionKind::Text,
        default: None,
        doc: "the model in lme4's formula language, e.g. 'Reaction ~ Days + (Days | Subject)' (required)",
    },
    OptionSpec {
        name: "reml",
        kind: OptionKind::Bool,
        default: Some("true"),
        doc: "true: restricted maximum likelihood (REML, lme4's default); false: maximum likelihood",
    },
    OptionSpec {
        name: "factors",
        kind: OptionKind::Text,
        default: None,
        doc: "comma-separated numeric columns of the AS query to treat as categorical (text and boolean columns always are); none by default",
    },
    OptionSpec {
        name: "df_method",
        kind: OptionKind::Choice(&["satterthwaite", "asymptotic"]),
        default: Some("satterthwaite"),
        doc: "degrees of freedom of t tests and intervals: Satterthwaite (as lmerTest) or asymptotic (normal)",
    },
    OptionSpec {
        name: "max_evaluations",
        kind: OptionKind::Int {
            min: 10,
            max: 10_000_000,
        },
        default: Some("100000"),
        doc: "the most deviance evaluations the optimiser may use",
    },
];

/// Progress lines every this many evaluations of the criterion.
const PROGRESS_EVERY: usize = 200;

/// A kernel error as a DataFusion error (plan errors: they are about the formula or the data's
/// shape, found before any fitting work that a retry could change).
pub(crate) fn lmm_err(e: LmmError) -> DataFusionError {
    DataFusionError::Plan(e.to_string())
}

/// Converts one Arrow column to a kernel column: integers stay integers (so that `factors` can
/// name them), other numbers become floats, strings text, booleans booleans; dictionary-encoded
/// columns are decoded first.
pub(crate) fn to_column(name: &str, array: &ArrayRef) -> Result<Column> {
    let dt = array.data_type();
    let decoded;
    let array = match dt {
        DataType::Dictionary(_, value) => {
            decoded = cast(array, value)?;
            &decoded
        }
        _ => array,
    };
    let dt = array.data_type();
    Ok(match dt {
        DataType::Int8
        | DataType::Int16
        | DataType::Int32
        | DataType::Int64
        | DataType::UInt8
        | DataType::UInt16
        | DataType::UInt32 => {
            let a = cast(array, &DataType::Int64)?;
            Column::Int(a.as_primitive::<Int64Type>().iter().collect())
        }
        DataType::UInt64
        | DataType::Float16
        | DataType::Float32
        | DataType::Float64
        | DataType::Decimal128(_, _)
        | DataType::Decimal256(_, _) => {
            let a = cast(array, &DataType::Float64)?;
            Column::Float(a.as_primitive::<Float64Type>().iter().collect())
        }
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => {
            let a = cast(array, &DataType::Utf8)?;
            Column::Text(
                a.as_string::<i32>()
                    .iter()
                    .map(|v| v.map(str::to_string))
                    .collect(),
            )
        }
        DataType::Boolean => Column::Bool(array.as_boolean().iter().collect()),
        DataType::Null => Column::Float(vec![None; array.len()]),
        other => {
            return plan_err!(
                "column \"{name}\" has type {other}, which a model formula cannot use \
                 (numbers, text and booleans can be used)"
            )
        }
    })
}

/// The rows of the `AS` query as the kernel's named columns, in content order
/// ([`TrainingData::content_ranks`] over every column): the fit's sums then add the same numbers
/// in the same order however DataFusion delivered the rows (joins, `UNION ALL` and
/// multi-partition scans deliver them in any order), so a fit depends on the rows and not on
/// their order, to the last bit and in the optimiser's evaluation count.
pub(crate) fn frame(data: &TrainingData, model_type: &str) -> Result<Frame> {
    let names: Vec<String> = data
        .schema
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .collect();
    let name_refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let ranks = data.content_ranks(model_type, &name_refs)?;
    let mut order = vec![0; ranks.len()];
    for (row, &rank) in ranks.iter().enumerate() {
        order[rank] = row;
    }
    let mut columns = Vec::new();
    for (c, name) in names.iter().enumerate() {
        let mut parts = Vec::with_capacity(data.batches.len());
        for batch in &data.batches {
            parts.push(to_column(name, batch.column(c))?);
        }
        columns.push(permute(concat(parts, data.num_rows()), &order));
    }
    Ok(Frame { names, columns })
}

/// The rows of `column` in the order `order` (a permutation of its row indices).
fn permute(column: Column, order: &[usize]) -> Column {
    fn take<T: Clone>(v: Vec<T>, order: &[usize]) -> Vec<T> {
        order.iter().filter_map(|&i| v.get(i).cloned()).collect()
    }
    match column {
        Column::Float(v) => Column::Float(take(v, order)),
        Column::Int(v) => Column::Int(take(v, order)),
        Column::Text(v) => Column::Text(take(v, order)),
        Column::Bool(v) => Column::Bool(take(v, order)),
    }
}

/// Concatenates the per-batch pieces of one column (all of the same variant).
fn concat(parts: Vec<Column>, rows: usize) -> Column {
    let mut it = parts.into_iter();
    let Some(mut first) = it.next() else {
        return Column::Float(Vec::new());
    };
    for part in it {
        match (&mut first, part) {
            (Column::Float(a), Column::Float(b)) => a.extend(b),
            (Column::Int(a), Column::Int(b)) => a.extend(b),
            (Column::Text(a), Column::Text(b)) => a.extend(b),
            (Column::Bool(a), Column::Bool(b)) => a.extend(b),
            // Every batch has the query's schema, so the variants agree.
            _ => {}
        }
    }
    debug_assert_eq!(column_len(&first), rows);
    first
}

fn column_len(c: &Column) -> usize {
    match c {
        Column::Float(v) => v.len(),
        Column::Int(v) => v.len(),
        Column::Text(v) => v.len(),
        Column::Bool(v) => v.len(),
    }
}

/// The columns named by the `factors` option (comma-separated; none when it is absent).
pub(crate) fn factors_option(options: &ModelOptions) -> Result<Vec<String>> {
    Ok(options
        .optional::<String>("factors")?
        .unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect())
}

/// The fitting options from the model's validated options (spec [`OPTIONS`], which holds every
/// default; the `formula` option is read where the model is trained).
impl TryFrom<&ModelOptions> for LmmOptions {
    type Error = DataFusionError;

    fn try_from(options: &ModelOptions) -> Result<LmmOptions> {
        let factors = factors_option(options)?;
        Ok(LmmOptions {
            reml: options.value("reml")?,
            factors,
            df_method: match options.value::<String>("df_method")?.as_str() {
                "asymptotic" => DfMethod::Asymptotic,
                _ => DfMethod::Satterthwaite,
            },
            max_evaluations: options.value("max_evaluations")?,
            memory_limit: None,
        })
    }
}

impl ModelType for LmerType {
    fn name(&self) -> &'static str {
        "lmer"
    }

    fn description(&self) -> &'static str {
        "linear mixed model in lme4's formula language, fitted by REML or ML (Bates et al. 2015)"
    }

    fn options(&self) -> &'static [OptionSpec] {
        OPTIONS
    }

    fn train(&self, data: &TrainingData, ctx: &TrainContext<'_>) -> Result<Trained> {
        let start = Instant::now();
        let Some(formula) = ctx.options.text("formula") else {
            return plan_err!(
                "model type 'lmer' needs a formula, e.g. OPTIONS (type = 'lmer', \
                 formula = 'y ~ x + (1 | g)')"
            );
        };
        let options = LmmOptions {
            memory_limit: Some(ctx.memory_limit),
            ..LmmOptions::try_from(ctx.options)?
        };
        let frame = frame(data, "lmer")?;
        let mut control =
            |evaluations: usize, criterion: f64| -> std::result::Result<(), LmmError> {
                if ctx.control.check_cancelled().is_err() {
                    return Err(LmmError::new("cancelled by the user"));
                }
                if evaluations > 0 && evaluations % PROGRESS_EVERY == 0 {
                    ctx.control.progress(&format!(
                        "lmer: {evaluations} evaluations, criterion {criterion:.6}, {:.1} s",
                        start.elapsed().as_secs_f64()
                    ));
                }
                Ok(())
            };
        let fit = lmm::fit(formula, &frame, &options, &mut control).map_err(|e| {
            if ctx.control.check_cancelled().is_err() {
                DataFusionError::Execution("cancelled by the user".to_string())
            } else {
                lmm_err(e)
            }
        })?;
        let s = fit.summary();
        for w in &s.warnings {
            ctx.control.progress(&format!("lmer: warning: {w}"));
        }
        ctx.control.progress(&format!(
            "lmer: fitted {} rows ({} dropped for NULLs) by {} in {} evaluations, {:.4} s",
            s.n,
            s.rows_dropped,
            if s.reml { "REML" } else { "ML" },
            s.evaluations,
            start.elapsed().as_secs_f64()
        ));
        let mut training = BTreeMap::new();
        training.insert("rows".to_string(), s.n.to_string());
        training.insert(
            "rows dropped (NULLs)".to_string(),
            s.rows_dropped.to_string(),
        );
        training.insert("evaluations".to_string(), s.evaluations.to_string());
        training.insert("converged".to_string(), s.converged.to_string());
        training.insert("singular".to_string(), s.singular.to_string());
        if !s.warnings.is_empty() {
            training.insert("warnings".to_string(), s.warnings.join("; "));
        }
        Ok(Trained {
            model: Box::new(LmerModel { fit }),
            training,
        })
    }

    fn load(&self, _options: &ModelOptions, bytes: &[u8]) -> Result<Box<dyn Model>> {
        Ok(Box::new(decode::<LmerModel>("lmer", bytes)?))
    }
}

impl Model for LmerModel {
    fn describe(&self) -> Vec<(String, String)> {
        let s = self.fit.summary();
        let mut out = vec![
            ("formula".to_string(), self.fit.design.formula.clone()),
            (
                "method".to_string(),
                if s.reml { "REML" } else { "ML" }.to_string(),
            ),
            ("observations".to_string(), s.n.to_string()),
        ];
        for (g, n) in &s.groups {
            out.push((format!("groups: {g}"), n.to_string()));
        }
        out.push((
            "log-likelihood".to_string(),
            format!("{:.4}", s.log_likelihood),
        ));
        out.push(("singular".to_string(), s.singular.to_string()));
        out
    }

    fn to_bytes(&self) -> Result<Vec<u8>> {
        encode(self)
    }
}

/// The fitted mixed model called `name`, for the function `function`, or a clear error.
pub(crate) fn mixed_model(
    catalog: &dyn ModelCatalog,
    name: &str,
    function: &str,
) -> Result<Arc<LoadedModel>> {
    let model = catalog.model(name)?;
    if model
        .model
        .downcast_ref::<LmerModel>()
        .map(|m| &m.fit)
        .is_none()
    {
        return plan_err!(
            "{function}: model '{name}' has type '{}', not 'lmer' (a mixed model)",
            model.model_type
        );
    }
    Ok(model)
}

/// The fitted linear model (a mixed model or a GAM) called `name`, for the function `function`.
pub(crate) fn linear_model(
    catalog: &dyn ModelCatalog,
    name: &str,
    function: &str,
) -> Result<Arc<LoadedModel>> {
    let model = catalog.model(name)?;
    if model.model.downcast_ref::<LmerModel>().is_none()
        && model.model.downcast_ref::<GamModel>().is_none()
    {
        return plan_err!(
            "{function}: model '{name}' has type '{}', not 'lmer' or 'gam'",
            model.model_type
        );
    }
    Ok(model)
}

/// The fit of a model that [`linear_model`] returned.
pub(crate) enum LinearFit<'a> {
    Lmer(&'a LmmFit),
    Gam(&'a GamFit),
}

impl LinearFit<'_> {
    /// The fit as a reference-grid model (emmeans, joint tests).
    pub fn grid(&self) -> &dyn GridModel {
        match self {
            LinearFit::Lmer(f) => *f,
            LinearFit::Gam(f) => *f,
        }
    }
}

/// Runs `f` on the fit of a model that [`linear_model`] returned.
pub(crate) fn with_linear_fit<T>(
    model: &LoadedModel,
    f: impl FnOnce(LinearFit<'_>) -> Result<T>,
) -> Result<T> {
    if let Some(m) = model.model.downcast_ref::<LmerModel>() {
        return f(LinearFit::Lmer(&m.fit));
    }
    match model.model.downcast_ref::<GamModel>() {
        Some(m) => f(LinearFit::Gam(&m.fit)),
        None => exec_err!("model '{}' is neither a mixed model nor a GAM", model.name),
    }
}

/// Runs `f` on the fit of a model that [`mixed_model`] returned.
pub(crate) fn with_fit<T>(model: &LoadedModel, f: impl FnOnce(&LmmFit) -> Result<T>) -> Result<T> {
    match model.model.downcast_ref::<LmerModel>().map(|m| &m.fit) {
        Some(fit) => f(fit),
        None => exec_err!("model '{}' is not a mixed model", model.name),
    }
}
