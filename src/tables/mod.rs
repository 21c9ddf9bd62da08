//! Table functions of the engine: the model store as tables, so it can be filtered and joined
//! like any other data (`SHOW MODELS` and `DESCRIBE MODEL` print the same tables).

pub mod model_info;
pub mod model_types;
pub mod models;

use datafusion::common::{plan_err, ScalarValue};
use datafusion::error::Result;
use datafusion::logical_expr::Expr;

/// The string literal argument `i` of a table function call.
pub(crate) fn string_arg(function: &str, args: &[Expr], i: usize, what: &str) -> Result<String> {
    match args.get(i) {
        Some(Expr::Literal(ScalarValue::Utf8(Some(s)), _))
        | Some(Expr::Literal(ScalarValue::Utf8View(Some(s)), _))
        | Some(Expr::Literal(ScalarValue::LargeUtf8(Some(s)), _)) => Ok(s.clone()),
        Some(other) => plan_err!("{function}: {what} must be a string literal, got {other}"),
        None => plan_err!("{function}: missing argument {what}"),
    }
}
