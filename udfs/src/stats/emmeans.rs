//! `emmeans(model, 'factor' [, 'at'])`: estimated marginal means of a mixed model, as the R
//! package emmeans computes them.

use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, Float64Array, StringArray};
use datafusion::catalog::{TableFunctionArgs, TableFunctionImpl, TableProvider};
use datafusion::common::plan_err;
use datafusion::error::Result;
use datafusion::logical_expr::{Documentation, Expr};
use datafusion_macros::user_doc;

use super::lmer::{linear_model, lmm_err, with_linear_fit};
use super::lmm::Emmeans;
use super::table_args::{column, table, Usage};
use crate::model::ModelCatalog;

const USAGE: Usage = Usage {
    name: "emmeans",
    usage: "emmeans('model', 'factor' [, 'variable = v1, v2, ...; ...'])",
};

#[user_doc(
    doc_section(label = "Statistics Functions"),
    description = "Estimated marginal means of a mixed model (type 'lmer') or a GAM (type 'gam') \
for each level of a factor, as the R package emmeans computes them: on the reference grid of every level of every \
factor in the model, with numeric variables at their mean over the rows used (or at the values \
given in `at`; functions such as log(omega) are applied to the grid value), each mean is the \
equal-weight average of the grid's predictions over the other factors' levels. The SE comes \
from the fixed-effect covariance (L V Lᵀ), the 95 % interval from the model's df_method \
(Satterthwaite by default). For a GAM the grid's predictions include the smooths (a smooth's \
covariate at its mean), V is mgcv's Bayesian covariance Vp and df the residual df n − Σ edf, as \
emmeans computes them for mgcv's gam. Columns: the factor (its levels as text, numbers formatted as R does: 0, 0.2), one column per `at` \
variable given several values, emmean, std_error, df, ci_lower, ci_upper. `at` is 'variable = v1, v2, ...' with \
several variables separated by ';'; a variable with several values gives one mean per level and \
value. Pairwise differences are in emmeans_pairs.",
    syntax_example = "emmeans('model', 'factor' [, 'variable = v1, v2, ...; ...'])",
    sql_example = r#"```sql
> CREATE MODEL oats_fit OPTIONS (type = 'lmer', formula = 'yield ~ Variety + factor(nitro) + (1 | Block/Variety)') AS SELECT * FROM oats;
> SELECT nitro, round(emmean, 3) AS emmean, round(std_error, 3) AS se, round(df, 2) AS df FROM emmeans('oats_fit', 'nitro') ORDER BY nitro;
+-------+---------+-------+------+
| nitro | emmean  | se    | df   |
+-------+---------+-------+------+
| 0     | 78.892  | 7.281 | 7.28 |
| 0.2   | 97.034  | 7.129 | 6.72 |
| 0.4   | 114.198 | 7.129 | 6.72 |
| 0.6   | 124.069 | 7.067 | 6.49 |
+-------+---------+-------+------+
```"#,
    argument(
        name = "model",
        description = "Name of a model of type 'lmer' or 'gam' (a string literal)."
    ),
    argument(
        name = "factor",
        description = "A categorical variable of the model's fixed part (a string literal)."
    ),
    argument(
        name = "at",
        description = "Optional: values of numeric variables, 'variable = v1, v2, ...; ...'."
    )
)]
#[derive(Debug, Default)]
pub struct EmmeansDoc;

impl EmmeansDoc {
    pub fn documentation(&self) -> Option<&Documentation> {
        self.doc()
    }
}

/// Parses `at`: `variable = v1, v2, ...` clauses separated by `;`.
pub(crate) fn parse_at(name: &str, at: &str) -> Result<Vec<(String, Vec<f64>)>> {
    let mut out: Vec<(String, Vec<f64>)> = Vec::new();
    for clause in at.split(';').map(str::trim).filter(|c| !c.is_empty()) {
        let Some((var, values)) = clause.split_once('=') else {
            return plan_err!("{name}: at clause '{clause}' must be 'variable = v1, v2, ...'");
        };
        let var = var.trim();
        if var.is_empty() {
            return plan_err!("{name}: at clause '{clause}' names no variable");
        }
        let mut parsed = Vec::new();
        for v in values.split(',').map(str::trim) {
            match v.parse::<f64>() {
                Ok(x) if x.is_finite() => parsed.push(x),
                _ => {
                    return plan_err!(
                        "{name}: at value '{v}' of variable '{var}' is not a finite number"
                    )
                }
            }
        }
        if out.iter().any(|(n, _)| n == var) {
            return plan_err!("{name}: at names variable '{var}' twice");
        }
        out.push((var.to_string(), parsed));
    }
    Ok(out)
}

/// One column per `at` variable with several values (the grid dimensions of the result), from
/// each row's `(variable, value)` pairs; a variable given one value is the same for every row
/// and is not repeated.
pub(crate) fn at_columns<'a>(
    at: &[(String, Vec<f64>)],
    rows: impl Iterator<Item = &'a [(String, f64)]> + Clone,
) -> Vec<(datafusion::arrow::datatypes::Field, ArrayRef)> {
    at.iter()
        .filter(|(_, values)| values.len() > 1)
        .map(|(var, _)| {
            let values: Vec<Option<f64>> = rows
                .clone()
                .map(|r| r.iter().find(|(n, _)| n == var).map(|(_, v)| *v))
                .collect();
            column(var, Arc::new(Float64Array::from(values)) as ArrayRef, true)
        })
        .collect()
}

/// Values of numeric variables for the reference grid: (variable, values).
pub(crate) type At = Vec<(String, Vec<f64>)>;

/// The estimated marginal means of a call `(model, factor [, at])` of the function `usage`
/// (`emmeans` or `emmeans_pairs`), with the factor's name and the parsed `at`.
pub(crate) fn call_emmeans(
    catalog: &dyn ModelCatalog,
    usage: Usage,
    exprs: &[Expr],
) -> Result<(Emmeans, String, At)> {
    usage.arity(exprs, 2, 3)?;
    let name = usage.text(exprs, 0, "model")?;
    let factor = usage.text(exprs, 1, "factor")?;
    let at = match exprs.get(2) {
        Some(_) => parse_at(usage.name, &usage.text(exprs, 2, "at")?)?,
        None => Vec::new(),
    };
    let model = linear_model(catalog, &name, usage.name)?;
    let emm = with_linear_fit(&model, |fit| {
        super::lmm::emmeans(fit.grid(), &factor, &at).map_err(lmm_err)
    })?;
    Ok((emm, factor, at))
}

/// The `emmeans` table function.
#[derive(Debug)]
pub struct EmmeansFunc {
    catalog: Arc<dyn ModelCatalog>,
}

impl EmmeansFunc {
    pub fn new(catalog: Arc<dyn ModelCatalog>) -> Self {
        Self { catalog }
    }
}

impl TableFunctionImpl for EmmeansFunc {
    fn call_with_args(&self, args: TableFunctionArgs) -> Result<Arc<dyn TableProvider>> {
        let (emm, factor, at) = call_emmeans(self.catalog.as_ref(), USAGE, args.exprs())?;
        let rows = &emm.means;
        let num = |g: fn(&super::lmm::EmmRow) -> f64| -> ArrayRef {
            Arc::new(Float64Array::from_iter_values(rows.iter().map(g)))
        };
        let mut columns = vec![column(
            &factor,
            Arc::new(StringArray::from_iter_values(rows.iter().map(|r| &r.level))),
            false,
        )];
        columns.extend(at_columns(&at, rows.iter().map(|r| r.at.as_slice())));
        columns.push(column("emmean", num(|r| r.emmean), false));
        columns.push(column("std_error", num(|r| r.se), false));
        columns.push(column("df", num(|r| r.df), false));
        columns.push(column("ci_lower", num(|r| r.lower), false));
        columns.push(column("ci_upper", num(|r| r.upper), false));
        table(columns)
    }
}
