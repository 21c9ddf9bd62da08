//! `f1_macro(label, predicted)`: the unweighted mean of the per-class F1 scores, the usual
//! companion of accuracy on imbalanced classes (thesis Table 2.5's FMA genres).

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

use super::kernels::metrics::{ClassCounts, F1State};
use super::labels::{counts_scalar, keys, keys_scalar, list_row, pair_type, Key};

const NAME: &str = "f1_macro";

#[user_doc(
    doc_section(label = "Transfer Functions"),
    description = "Macro-averaged F1 (scikit-learn's f1_score(label, predicted, average='macro', zero_division=0)): for every class that occurs as a label or a prediction, F1 = 2·TP / (2·TP + FP + FN) (0 for a class never predicted correctly), and the unweighted mean over those classes. Rows where either is NULL are skipped; no rows give NULL. Labels may be text, integers, numbers or booleans, both of one kind. An aggregate (GROUP BY gives one score per group).",
    syntax_example = "f1_macro(label, predicted)",
    sql_example = r#"```sql
> SELECT round(f1_macro(label, predicted), 4) AS f1
  FROM (VALUES (0, 0), (1, 2), (2, 1), (0, 0), (1, 0), (2, 1)) AS t(label, predicted);
+--------+
| f1     |
+--------+
| 0.2667 |
+--------+
```"#,
    argument(name = "label", description = "The true label."),
    argument(name = "predicted", description = "The predicted label.")
)]
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct F1Macro {
    signature: Signature,
}

impl Default for F1Macro {
    fn default() -> Self {
        F1Macro {
            signature: Signature::user_defined(Volatility::Immutable),
        }
    }
}

fn list_field(name: String, item: DataType) -> FieldRef {
    Arc::new(Field::new(
        name,
        DataType::List(Arc::new(Field::new_list_field(item, true))),
        true,
    ))
}

impl AggregateUDFImpl for F1Macro {
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

    fn accumulator(&self, args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        let key_type = args
            .expr_fields
            .first()
            .map_or(DataType::Utf8, |f| f.data_type().clone());
        Ok(Box::new(F1Accumulator {
            key_type,
            state: F1State::default(),
        }))
    }

    fn state_fields(&self, args: StateFieldsArgs) -> Result<Vec<FieldRef>> {
        let key_type = args
            .input_fields
            .first()
            .map_or(DataType::Utf8, |f| f.data_type().clone());
        Ok(vec![
            list_field(format!("{}[classes]", args.name), key_type),
            list_field(format!("{}[tp]", args.name), DataType::UInt64),
            list_field(format!("{}[fp]", args.name), DataType::UInt64),
            list_field(format!("{}[fn]", args.name), DataType::UInt64),
        ])
    }

    fn documentation(&self) -> Option<&Documentation> {
        self.doc()
    }
}

#[derive(Debug)]
struct F1Accumulator {
    key_type: DataType,
    state: F1State<Key>,
}

impl Accumulator for F1Accumulator {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        let (labels, predicted) = (keys(NAME, &values[0])?, keys(NAME, &values[1])?);
        for (l, p) in labels.into_iter().zip(predicted) {
            if let (Some(l), Some(p)) = (l, p) {
                self.state.add(l, p);
            }
        }
        Ok(())
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        for row in 0..states[0].len() {
            let (Some(classes), Some(tp), Some(fp), Some(fn_)) = (
                list_row(&states[0], row),
                list_row(&states[1], row),
                list_row(&states[2], row),
                list_row(&states[3], row),
            ) else {
                continue;
            };
            let classes = keys(NAME, &classes)?;
            let (Some(tp), Some(fp), Some(fn_)) = (
                tp.as_primitive_opt::<UInt64Type>(),
                fp.as_primitive_opt::<UInt64Type>(),
                fn_.as_primitive_opt::<UInt64Type>(),
            ) else {
                return exec_err!("{NAME}: unexpected intermediate state");
            };
            if tp.len() != classes.len() || fp.len() != classes.len() || fn_.len() != classes.len()
            {
                return exec_err!("{NAME}: unexpected intermediate state");
            }
            for (i, class) in classes.into_iter().enumerate() {
                let Some(class) = class else {
                    return exec_err!("{NAME}: unexpected intermediate state");
                };
                self.state.merge_counts(
                    class,
                    ClassCounts {
                        tp: tp.value(i),
                        fp: fp.value(i),
                        fn_: fn_.value(i),
                    },
                );
            }
        }
        Ok(())
    }

    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        let c = &self.state.classes;
        Ok(vec![
            keys_scalar(c.keys(), &self.key_type),
            counts_scalar(c.values().map(|v| v.tp)),
            counts_scalar(c.values().map(|v| v.fp)),
            counts_scalar(c.values().map(|v| v.fn_)),
        ])
    }

    fn evaluate(&mut self) -> Result<ScalarValue> {
        Ok(ScalarValue::Float64(self.state.value()))
    }

    fn size(&self) -> usize {
        std::mem::size_of_val(self)
            + self.state.classes.len() * (std::mem::size_of::<Key>() + 3 * 8 + 32)
    }
}
