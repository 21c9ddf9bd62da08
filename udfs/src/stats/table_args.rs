//! Argument parsing and result building shared by the mixed-model table functions.
//!
//! The table functions `fixed_effects`, `variance_components`, `random_effects`, `model_fit`,
//! `emmeans` and `bootstrap_ci` all take a model name first and literal arguments after it, and
//! all return a small in-memory table; this module does that once, with errors that name the
//! function and its usage.

use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, RecordBatch};
use datafusion::arrow::datatypes::{Field, Schema};
use datafusion::catalog::TableProvider;
use datafusion::common::{plan_err, ScalarValue};
use datafusion::datasource::MemTable;
use datafusion::error::Result;
use datafusion::logical_expr::Expr;

/// A function's name and usage line, for errors.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Usage {
    pub name: &'static str,
    pub usage: &'static str,
}

impl Usage {
    /// Checks the number of arguments.
    pub fn arity(&self, args: &[Expr], min: usize, max: usize) -> Result<()> {
        if args.len() < min || args.len() > max {
            let expected = if min == max {
                format!("{min}")
            } else {
                format!("{min} to {max}")
            };
            return plan_err!(
                "{} takes {expected} arguments, got {}; usage: {}",
                self.name,
                args.len(),
                self.usage
            );
        }
        Ok(())
    }

    /// A string literal argument.
    pub fn text(&self, args: &[Expr], i: usize, what: &str) -> Result<String> {
        match args.get(i) {
            Some(Expr::Literal(ScalarValue::Utf8(Some(s)), _))
            | Some(Expr::Literal(ScalarValue::Utf8View(Some(s)), _))
            | Some(Expr::Literal(ScalarValue::LargeUtf8(Some(s)), _)) => Ok(s.clone()),
            Some(other) => plan_err!(
                "{}: {what} must be a string literal, got {other}; usage: {}",
                self.name,
                self.usage
            ),
            None => plan_err!(
                "{}: missing argument {what}; usage: {}",
                self.name,
                self.usage
            ),
        }
    }

    /// An integer literal argument in `[min, max]`.
    pub fn int(&self, args: &[Expr], i: usize, what: &str, min: i64, max: i64) -> Result<i64> {
        let value = match args.get(i) {
            Some(Expr::Literal(v, _)) if !v.is_null() && v.data_type().is_integer() => {
                match v.cast_to(&datafusion::arrow::datatypes::DataType::Int64)? {
                    ScalarValue::Int64(Some(x)) => Some(x),
                    _ => None,
                }
            }
            _ => None,
        };
        match value {
            Some(x) if (min..=max).contains(&x) => Ok(x),
            Some(x) => plan_err!(
                "{}: {what} must be between {min} and {max}, got {x}",
                self.name
            ),
            None => plan_err!(
                "{}: {what} must be an integer literal, got {}; usage: {}",
                self.name,
                args.get(i).map_or("nothing".to_string(), |e| e.to_string()),
                self.usage
            ),
        }
    }
}

/// One column of a result table.
pub(crate) fn column(name: &str, array: ArrayRef, nullable: bool) -> (Field, ArrayRef) {
    (Field::new(name, array.data_type().clone(), nullable), array)
}

/// An in-memory table from its columns.
pub(crate) fn table(columns: Vec<(Field, ArrayRef)>) -> Result<Arc<dyn TableProvider>> {
    let (fields, arrays): (Vec<Field>, Vec<ArrayRef>) = columns.into_iter().unzip();
    let schema = Arc::new(Schema::new(fields));
    let batch = RecordBatch::try_new(schema.clone(), arrays)?;
    Ok(Arc::new(MemTable::try_new(schema, vec![vec![batch]])?))
}
