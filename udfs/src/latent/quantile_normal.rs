//! `quantile_normal(value [, n_quantiles]) OVER (PARTITION BY ...)`: normal scores of a column,
//! one window partition at a time.
//!
//! It exists for thesis §3.3.1: feature set e is a song-level descriptor vector whose every
//! dimension is quantile-normalised to N(0, 1) before the k-means dictionary. On a long
//! (song, dim, value) table that is `quantile_normal(value) OVER (PARTITION BY dim)`. It is a
//! window function because a value's score depends on every value of its partition: the
//! evaluator receives the whole partition at once (`uses_window_frame` is false, so ORDER BY
//! and a frame in the OVER clause change nothing). The maths, scikit-learn's
//! `QuantileTransformer(output_distribution='normal', subsample=None)` fitted and applied to
//! the partition, is in [`super::kernels::quantile`]. NULL values stay NULL and are left out of
//! the fit; NaN and ±inf are execution errors; `n_quantiles` is a literal, checked when the
//! query is planned.

use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, Float64Array};
use datafusion::arrow::datatypes::{DataType, Field, FieldRef, Float64Type};
use datafusion::common::{exec_err, plan_err};
use datafusion::error::Result;
use datafusion::logical_expr::function::{PartitionEvaluatorArgs, WindowUDFFieldArgs};
use datafusion::logical_expr::{
    Documentation, PartitionEvaluator, Signature, Volatility, WindowUDFImpl,
};
use datafusion::physical_expr::expressions::Literal;
use datafusion_macros::user_doc;

use super::kernels::quantile::quantile_normal;
use super::latent_err;
use crate::common::args::positive_integer;

/// The number of quantiles when the call gives none (scikit-learn's default).
pub const DEFAULT_N_QUANTILES: usize = 1000;

const NAME: &str = "quantile_normal";

#[user_doc(
    doc_section(label = "Latent Factor Functions"),
    description = "A window function (it needs an OVER clause): the normal score of each value \
among the values of its window partition, as scikit-learn's \
QuantileTransformer(n_quantiles, output_distribution='normal', subsample=None) fitted and \
applied to the partition. With n the partition's non-NULL values, min(n_quantiles, n) \
quantiles at evenly spaced levels 0..1 (numpy's linear percentiles) define a piecewise-linear \
CDF (tied values share a level between the first and last levels of the quantiles they \
equal, where scikit-learn puts it), and the score is its inverse normal, clipped to \
-5.19934 .. 5.19934. Values within 1e-7 (absolutely) of the \
partition's smallest value score -5.19934, of its largest 5.19934; so does every value of a \
partition with one distinct value (-5.19934, as scikit-learn). The whole partition is used: \
ORDER BY and a frame in the OVER clause change nothing. NULL values stay NULL and are left out; \
NaN and infinite values are errors. Float64.",
    syntax_example = "quantile_normal(value [, n_quantiles]) OVER ([PARTITION BY group])",
    sql_example = r#"```sql
> SELECT dim, song, round(quantile_normal(value) OVER (PARTITION BY dim), 4) AS z
  FROM (VALUES ('energy', 1, 0.2), ('energy', 2, 0.9), ('energy', 3, 0.5), ('energy', 4, 0.3),
               ('energy', 5, 0.7), ('tempo', 1, 90.0), ('tempo', 2, 150.0), ('tempo', 3, 120.0))
       AS t(dim, song, value)
  ORDER BY dim, song;
+--------+------+---------+
| dim    | song | z       |
+--------+------+---------+
| energy | 1    | -5.1993 |
| energy | 2    | 5.1993  |
| energy | 3    | 0.0     |
| energy | 4    | -0.6745 |
| energy | 5    | 0.6745  |
| tempo  | 1    | -5.1993 |
| tempo  | 2    | 5.1993  |
| tempo  | 3    | 0.0     |
+--------+------+---------+
```"#,
    argument(
        name = "value",
        description = "A number (one dimension of a descriptor, say). NULL stays NULL."
    ),
    argument(
        name = "n_quantiles",
        description = "The most quantiles to fit: a literal integer ≥ 2, default 1000."
    )
)]
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct QuantileNormalFunc {
    signature: Signature,
}

impl QuantileNormalFunc {
    pub fn new() -> Self {
        Self {
            signature: Signature::user_defined(Volatility::Immutable),
        }
    }
}

impl Default for QuantileNormalFunc {
    fn default() -> Self {
        Self::new()
    }
}

/// The `n_quantiles` argument: a literal integer ≥ 2.
fn n_quantiles(args: &PartitionEvaluatorArgs) -> Result<usize> {
    let Some(expr) = args.input_exprs().get(1) else {
        return Ok(DEFAULT_N_QUANTILES);
    };
    let Some(literal) = expr.downcast_ref::<Literal>() else {
        return plan_err!(
            "{NAME}: n_quantiles must be a literal integer (one value for the whole partition), \
             got the expression {expr}"
        );
    };
    let n = positive_integer(NAME, "n_quantiles", literal.value())?;
    if n < 2 {
        return plan_err!("{NAME}: n_quantiles must be at least 2, got {n}");
    }
    Ok(n)
}

impl WindowUDFImpl for QuantileNormalFunc {
    fn name(&self) -> &str {
        NAME
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        let (value, n_quantiles) = match arg_types {
            [value] => (value, None),
            [value, n] => (value, Some(n)),
            _ => {
                return plan_err!(
                    "{NAME}(value [, n_quantiles]) takes 1 or 2 arguments, got {}",
                    arg_types.len()
                )
            }
        };
        if !(value.is_numeric() || value == &DataType::Null) {
            return plan_err!("{NAME}: the value must be a number, got {value}");
        }
        let mut types = vec![DataType::Float64];
        if let Some(n) = n_quantiles {
            if !(n.is_numeric() || n == &DataType::Null) {
                return plan_err!("{NAME}: n_quantiles must be an integer, got {n}");
            }
            // Kept as it is, so that 2.5 is refused rather than truncated.
            types.push(n.clone());
        }
        Ok(types)
    }

    fn partition_evaluator(
        &self,
        args: PartitionEvaluatorArgs,
    ) -> Result<Box<dyn PartitionEvaluator>> {
        // Called once while the query is planned, so a bad n_quantiles is a planning error.
        Ok(Box::new(QuantileNormalEvaluator {
            n_quantiles: n_quantiles(&args)?,
        }))
    }

    fn field(&self, field_args: WindowUDFFieldArgs) -> Result<FieldRef> {
        Ok(Arc::new(Field::new(
            field_args.name(),
            DataType::Float64,
            true,
        )))
    }

    fn documentation(&self) -> Option<&Documentation> {
        self.doc()
    }
}

/// Scores one partition at a time, all of it at once.
#[derive(Debug)]
struct QuantileNormalEvaluator {
    n_quantiles: usize,
}

impl PartitionEvaluator for QuantileNormalEvaluator {
    fn evaluate_all(&mut self, values: &[ArrayRef], num_rows: usize) -> Result<ArrayRef> {
        let Some(column) = values.first() else {
            return exec_err!("{NAME}: no value argument");
        };
        let Some(column) = column.as_primitive_opt::<Float64Type>() else {
            return exec_err!(
                "{NAME}: the value must be a number, got {}",
                column.data_type()
            );
        };
        if column.len() != num_rows {
            return exec_err!(
                "{NAME}: the partition has {num_rows} rows but {} values",
                column.len()
            );
        }
        let present: Vec<f64> = column.iter().flatten().collect();
        if present.is_empty() {
            return Ok(Arc::new(Float64Array::new_null(num_rows)));
        }
        let scores =
            quantile_normal(&present, self.n_quantiles).map_err(|e| latent_err(NAME, e))?;
        let mut scores = scores.into_iter();
        let out: Float64Array = (0..num_rows)
            .map(|row| {
                if column.is_null(row) {
                    None
                } else {
                    scores.next()
                }
            })
            .collect();
        Ok(Arc::new(out))
    }
}
