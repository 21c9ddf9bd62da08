//! Checks of SQL function arguments shared by every domain: literal counts, seeds, strings and
//! model names.
//!
//! It exists so that every function states the same rule in the same words (a count of `2.5`
//! is refused by `recommend` as by `explain_lime`), and so that no domain imports another for it.

use datafusion::arrow::datatypes::DataType;
use datafusion::common::{plan_err, ScalarValue};
use datafusion::error::Result;
use datafusion::logical_expr::Expr;

/// A count argument given as a literal (`k` of `recommend`, ...): a positive integer. A
/// fractional number (`2.5`), a number out of range or text is an error naming the argument,
/// never silently truncated; an integral float (`3.0`) is accepted.
pub fn positive_integer(
    function: &str,
    argument: &str,
    value: &datafusion::common::ScalarValue,
) -> Result<usize> {
    use datafusion::common::ScalarValue as S;
    let as_i128: Option<i128> = match value {
        S::Int8(Some(v)) => Some(*v as i128),
        S::Int16(Some(v)) => Some(*v as i128),
        S::Int32(Some(v)) => Some(*v as i128),
        S::Int64(Some(v)) => Some(*v as i128),
        S::UInt8(Some(v)) => Some(*v as i128),
        S::UInt16(Some(v)) => Some(*v as i128),
        S::UInt32(Some(v)) => Some(*v as i128),
        S::UInt64(Some(v)) => Some(*v as i128),
        S::Float32(Some(v)) if v.fract() == 0.0 && v.abs() < 1e18 => Some(*v as i128),
        S::Float64(Some(v)) if v.fract() == 0.0 && v.abs() < 1e18 => Some(*v as i128),
        S::Decimal128(Some(v), _, scale) => {
            let unit = 10i128.checked_pow((*scale).max(0) as u32);
            match unit {
                Some(unit) if *scale >= 0 && v % unit == 0 => Some(v / unit),
                _ => None,
            }
        }
        _ => None,
    };
    match as_i128 {
        Some(n) if n >= 1 && n <= i64::MAX as i128 => Ok(n as usize),
        Some(n) => plan_err!("{function}: {argument} must be a positive integer, got {n}"),
        None => plan_err!(
            "{function}: {argument} must be a positive integer, got {value} ({})",
            value.data_type()
        ),
    }
}

/// The type a model-name argument is coerced to.
pub fn model_name_type(function: &str, t: &DataType) -> Result<DataType> {
    if !matches!(
        t,
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View | DataType::Null
    ) {
        return plan_err!("{function}: the model argument must be a model name (text), got {t}");
    }
    Ok(DataType::Utf8)
}

/// A seed given as an integer literal: its 64-bit two's-complement pattern, so that -1 and
/// 18446744073709551615 are the same seed.
pub fn seed_literal(function: &str, arg: &Expr) -> Result<u64> {
    let seed = match arg {
        Expr::Literal(ScalarValue::UInt64(Some(v)), _) => Some(*v),
        Expr::Literal(ScalarValue::UInt32(Some(v)), _) => Some(u64::from(*v)),
        Expr::Literal(ScalarValue::UInt16(Some(v)), _) => Some(u64::from(*v)),
        Expr::Literal(ScalarValue::UInt8(Some(v)), _) => Some(u64::from(*v)),
        Expr::Literal(ScalarValue::Int64(Some(v)), _) => Some(*v as u64),
        Expr::Literal(ScalarValue::Int32(Some(v)), _) => Some(i64::from(*v) as u64),
        Expr::Literal(ScalarValue::Int16(Some(v)), _) => Some(i64::from(*v) as u64),
        Expr::Literal(ScalarValue::Int8(Some(v)), _) => Some(i64::from(*v) as u64),
        _ => None,
    };
    match seed {
        Some(s) => Ok(s),
        None => plan_err!("{function}: seed must be an integer literal, got {arg}"),
    }
}

/// Argument `i` of a table function, which must be a string literal; `what` names it and
/// `usage` is quoted when it is missing.
pub fn string_literal(
    function: &str,
    args: &[Expr],
    i: usize,
    what: &str,
    usage: &str,
) -> Result<String> {
    match args.get(i) {
        Some(Expr::Literal(ScalarValue::Utf8(Some(s)), _))
        | Some(Expr::Literal(ScalarValue::Utf8View(Some(s)), _))
        | Some(Expr::Literal(ScalarValue::LargeUtf8(Some(s)), _)) => Ok(s.clone()),
        Some(other) => plan_err!("{function}: {what} must be a string literal, got {other}"),
        None => plan_err!("{function}: missing argument {what}; usage: {usage}"),
    }
}
