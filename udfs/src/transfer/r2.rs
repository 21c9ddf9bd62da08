//! `r2(y, y_hat)`: the coefficient of determination (thesis §2.4.1's metric for the regression
//! targets, arousal and valence).

use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray};
use datafusion::arrow::datatypes::{DataType, Field, FieldRef, Float64Type, UInt64Type};
use datafusion::common::{exec_err, plan_err, ScalarValue};
use datafusion::error::Result;
use datafusion::logical_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion::logical_expr::{
    Accumulator, AggregateUDFImpl, Documentation, Signature, Volatility,
};
use datafusion_macros::user_doc;

use super::kernels::metrics::R2State;

const NAME: &str = "r2";

#[user_doc(
    doc_section(label = "Transfer Functions"),
    description = "The coefficient of determination R² = 1 − Σ(y − ŷ)² / Σ(y − ȳ)² of predictions y_hat for values y (scikit-learn's r2_score): 1 for perfect predictions, 0 for predicting the mean, negative for worse. When every y is equal it is 1 if the predictions are exact and 0 otherwise (scikit-learn's force_finite). Rows where either is NULL are skipped; fewer than two rows give NULL. An aggregate (GROUP BY gives one R² per group).",
    syntax_example = "r2(y, y_hat)",
    sql_example = r#"```sql
> SELECT round(r2(y, y_hat), 4) AS r2
  FROM (VALUES (3.0, 2.5), (-0.5, 0.0), (2.0, 2.0), (7.0, 8.0)) AS t(y, y_hat);
+--------+
| r2     |
+--------+
| 0.9486 |
+--------+
```"#,
    argument(name = "y", description = "The true value."),
    argument(name = "y_hat", description = "The predicted value.")
)]
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct R2 {
    signature: Signature,
}

impl Default for R2 {
    fn default() -> Self {
        R2 {
            signature: Signature::user_defined(Volatility::Immutable),
        }
    }
}

impl AggregateUDFImpl for R2 {
    fn name(&self) -> &str {
        NAME
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        let [a, b] = arg_types else {
            return plan_err!(
                "{NAME}(y, y_hat) takes 2 arguments, got {}",
                arg_types.len()
            );
        };
        for t in [a, b] {
            if !(t.is_numeric() || t == &DataType::Null) {
                return plan_err!("{NAME}(y, y_hat) takes numbers, got {t}");
            }
        }
        Ok(vec![DataType::Float64, DataType::Float64])
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Float64)
    }

    fn accumulator(&self, _args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        Ok(Box::<R2Accumulator>::default())
    }

    fn state_fields(&self, args: StateFieldsArgs) -> Result<Vec<FieldRef>> {
        let field = |part: &str, t: DataType| -> FieldRef {
            Arc::new(Field::new(format!("{}[{part}]", args.name), t, true))
        };
        Ok(vec![
            field("n", DataType::UInt64),
            field("mean", DataType::Float64),
            field("m2", DataType::Float64),
            field("ss_res", DataType::Float64),
        ])
    }

    fn documentation(&self) -> Option<&Documentation> {
        self.doc()
    }
}

#[derive(Debug, Default)]
struct R2Accumulator {
    state: R2State,
}

impl Accumulator for R2Accumulator {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        let (Some(y), Some(y_hat)) = (
            values[0].as_primitive_opt::<Float64Type>(),
            values[1].as_primitive_opt::<Float64Type>(),
        ) else {
            return exec_err!("{NAME}: arguments must be numbers");
        };
        for r in 0..y.len() {
            if y.is_valid(r) && y_hat.is_valid(r) {
                let (a, b) = (y.value(r), y_hat.value(r));
                if !a.is_finite() || !b.is_finite() {
                    return exec_err!("{NAME}: values must be finite, got y = {a} and y_hat = {b}");
                }
                self.state.add(a, b);
            }
        }
        Ok(())
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        let (Some(n), Some(mean), Some(m2), Some(ss)) = (
            states[0].as_primitive_opt::<UInt64Type>(),
            states[1].as_primitive_opt::<Float64Type>(),
            states[2].as_primitive_opt::<Float64Type>(),
            states[3].as_primitive_opt::<Float64Type>(),
        ) else {
            return exec_err!("{NAME}: unexpected intermediate state");
        };
        for r in 0..n.len() {
            if n.is_valid(r) && mean.is_valid(r) && m2.is_valid(r) && ss.is_valid(r) {
                self.state.merge(&R2State {
                    n: n.value(r),
                    mean: mean.value(r),
                    m2: m2.value(r),
                    ss_res: ss.value(r),
                });
            }
        }
        Ok(())
    }

    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        let s = self.state;
        Ok(vec![
            ScalarValue::UInt64(Some(s.n)),
            ScalarValue::Float64(Some(s.mean)),
            ScalarValue::Float64(Some(s.m2)),
            ScalarValue::Float64(Some(s.ss_res)),
        ])
    }

    fn evaluate(&mut self) -> Result<ScalarValue> {
        Ok(ScalarValue::Float64(self.state.value()))
    }

    fn size(&self) -> usize {
        std::mem::size_of_val(self)
    }
}
