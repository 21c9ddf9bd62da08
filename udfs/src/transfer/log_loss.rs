//! `log_loss(p)`: the mean negative log-likelihood of the true classes, from the probability
//! each row's true class got (`class_probability(model, features, label)`).

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

use super::kernels::metrics::LogLossState;

const NAME: &str = "log_loss";

#[user_doc(
    doc_section(label = "Transfer Functions"),
    description = "Log loss (cross-entropy, scikit-learn's log_loss): the mean over rows of −ln p, where p is the probability the classifier gave the row's true class, clipped to [1e-15, 1 − 1e-15] (scikit-learn's clipping before version 1.5). Pass class_probability(model, features, label), or any probability in [0, 1] (outside is an error). NULL rows are skipped; no rows give NULL. An aggregate (GROUP BY gives one loss per group).",
    syntax_example = "log_loss(p)",
    sql_example = r#"```sql
> SELECT round(log_loss(p), 4) AS loss FROM (VALUES (0.9), (0.5), (NULL)) AS t(p);
+--------+
| loss   |
+--------+
| 0.3993 |
+--------+
```"#,
    argument(
        name = "p",
        description = "The probability given to the row's true class."
    )
)]
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct LogLoss {
    signature: Signature,
}

impl Default for LogLoss {
    fn default() -> Self {
        LogLoss {
            signature: Signature::user_defined(Volatility::Immutable),
        }
    }
}

impl AggregateUDFImpl for LogLoss {
    fn name(&self) -> &str {
        NAME
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        match arg_types {
            [t] if t.is_numeric() || t == &DataType::Null => Ok(vec![DataType::Float64]),
            [t] => plan_err!(
                "{NAME}(p) takes the probability of the true class (a number), got {t}; \
                 use class_probability(model, features, label)"
            ),
            _ => plan_err!("{NAME}(p) takes 1 argument, got {}", arg_types.len()),
        }
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Float64)
    }

    fn accumulator(&self, _args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        Ok(Box::<LogLossAccumulator>::default())
    }

    fn state_fields(&self, args: StateFieldsArgs) -> Result<Vec<FieldRef>> {
        Ok(vec![
            Arc::new(Field::new(
                format!("{}[n]", args.name),
                DataType::UInt64,
                true,
            )),
            Arc::new(Field::new(
                format!("{}[sum]", args.name),
                DataType::Float64,
                true,
            )),
        ])
    }

    fn documentation(&self) -> Option<&Documentation> {
        self.doc()
    }
}

#[derive(Debug, Default)]
struct LogLossAccumulator {
    state: LogLossState,
}

impl Accumulator for LogLossAccumulator {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        let Some(p) = values[0].as_primitive_opt::<Float64Type>() else {
            return exec_err!("{NAME}: the argument must be a number");
        };
        for r in 0..p.len() {
            if p.is_valid(r) {
                if let Err(e) = self.state.add(p.value(r)) {
                    return exec_err!("{NAME}: {e}");
                }
            }
        }
        Ok(())
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        let (Some(n), Some(sum)) = (
            states[0].as_primitive_opt::<UInt64Type>(),
            states[1].as_primitive_opt::<Float64Type>(),
        ) else {
            return exec_err!("{NAME}: unexpected intermediate state");
        };
        for r in 0..n.len() {
            if n.is_valid(r) && sum.is_valid(r) {
                self.state.merge(&LogLossState {
                    n: n.value(r),
                    sum: sum.value(r),
                });
            }
        }
        Ok(())
    }

    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        Ok(vec![
            ScalarValue::UInt64(Some(self.state.n)),
            ScalarValue::Float64(Some(self.state.sum)),
        ])
    }

    fn evaluate(&mut self) -> Result<ScalarValue> {
        Ok(ScalarValue::Float64(self.state.value()))
    }

    fn size(&self) -> usize {
        std::mem::size_of_val(self)
    }
}
