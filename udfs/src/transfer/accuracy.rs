//! `accuracy(label, predicted)`: the share of rows whose prediction is the label (thesis §2.4.1's
//! metric for the classification targets).

use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray};
use datafusion::arrow::datatypes::{DataType, Field, FieldRef, UInt64Type};
use datafusion::common::{exec_err, plan_err, ScalarValue};
use datafusion::error::Result;
use datafusion::logical_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion::logical_expr::{
    Accumulator, AggregateUDFImpl, Documentation, Signature, Volatility,
};
use datafusion_macros::user_doc;

use super::kernels::metrics::AccuracyState;
use super::labels::{keys, pair_type};

const NAME: &str = "accuracy";

#[user_doc(
    doc_section(label = "Transfer Functions"),
    description = "Classification accuracy (scikit-learn's accuracy_score): the fraction of rows whose predicted label equals the true label. Rows where either is NULL are skipped; no rows give NULL. Labels may be text, integers, numbers or booleans, both of one kind. An aggregate: GROUP BY target, repetition gives one accuracy per group.",
    syntax_example = "accuracy(label, predicted)",
    sql_example = r#"```sql
> SELECT accuracy(label, predicted) AS acc
  FROM (VALUES ('rock', 'rock'), ('jazz', 'rock'), ('pop', 'pop'), ('jazz', NULL)) AS t(label, predicted);
+--------------------+
| acc                |
+--------------------+
| 0.6666666666666666 |
+--------------------+
```"#,
    argument(name = "label", description = "The true label."),
    argument(name = "predicted", description = "The predicted label.")
)]
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct Accuracy {
    signature: Signature,
}

impl Default for Accuracy {
    fn default() -> Self {
        Accuracy {
            signature: Signature::user_defined(Volatility::Immutable),
        }
    }
}

impl AggregateUDFImpl for Accuracy {
    fn name(&self) -> &str {
        NAME
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        let [a, b] = arg_types else {
            return plan_err!(
                "{NAME}(label, predicted) takes 2 arguments, got {}",
                arg_types.len()
            );
        };
        let t = pair_type(NAME, a, b)?;
        Ok(vec![t.clone(), t])
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Float64)
    }

    fn accumulator(&self, _args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        Ok(Box::<AccuracyAccumulator>::default())
    }

    fn state_fields(&self, args: StateFieldsArgs) -> Result<Vec<FieldRef>> {
        Ok(vec![
            Arc::new(Field::new(
                format!("{}[correct]", args.name),
                DataType::UInt64,
                true,
            )),
            Arc::new(Field::new(
                format!("{}[total]", args.name),
                DataType::UInt64,
                true,
            )),
        ])
    }

    fn documentation(&self) -> Option<&Documentation> {
        self.doc()
    }
}

#[derive(Debug, Default)]
struct AccuracyAccumulator {
    state: AccuracyState,
}

impl Accumulator for AccuracyAccumulator {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        let (labels, predicted) = (keys(NAME, &values[0])?, keys(NAME, &values[1])?);
        for (l, p) in labels.iter().zip(&predicted) {
            if let (Some(l), Some(p)) = (l, p) {
                self.state.add(l == p);
            }
        }
        Ok(())
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        let (Some(correct), Some(total)) = (
            states[0].as_primitive_opt::<UInt64Type>(),
            states[1].as_primitive_opt::<UInt64Type>(),
        ) else {
            return exec_err!("{NAME}: unexpected intermediate state");
        };
        for r in 0..correct.len() {
            if correct.is_valid(r) && total.is_valid(r) {
                self.state.merge(&AccuracyState {
                    correct: correct.value(r),
                    total: total.value(r),
                });
            }
        }
        Ok(())
    }

    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        Ok(vec![
            ScalarValue::UInt64(Some(self.state.correct)),
            ScalarValue::UInt64(Some(self.state.total)),
        ])
    }

    fn evaluate(&mut self) -> Result<ScalarValue> {
        Ok(ScalarValue::Float64(self.state.value()))
    }

    fn size(&self) -> usize {
        std::mem::size_of_val(self)
    }
}
