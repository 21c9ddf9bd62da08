//! Labels as the classification metrics compare them: two columns of one kind (text, integers,
//! numbers or booleans), read row by row into an ordered [`Key`].

use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray};
use datafusion::arrow::datatypes::{DataType, Float64Type, Int64Type};
use datafusion::common::{exec_err, plan_err, ScalarValue};
use datafusion::error::Result;

/// A label, ordered within its kind.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Key {
    Bool(bool),
    Int(i64),
    /// A finite or infinite number (never NaN), −0 stored as 0.
    Float(Number),
    Text(String),
}

/// A non-NaN `f64`, totally ordered.
#[derive(Clone, Copy, Debug)]
pub struct Number(f64);

impl PartialEq for Number {
    fn eq(&self, other: &Self) -> bool {
        self.0.total_cmp(&other.0).is_eq()
    }
}

impl Eq for Number {}

impl PartialOrd for Number {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Number {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.0.total_cmp(&other.0)
    }
}

impl Key {
    fn scalar(&self) -> ScalarValue {
        match self {
            Key::Bool(v) => ScalarValue::Boolean(Some(*v)),
            Key::Int(v) => ScalarValue::Int64(Some(*v)),
            Key::Float(v) => ScalarValue::Float64(Some(v.0)),
            Key::Text(v) => ScalarValue::Utf8(Some(v.clone())),
        }
    }
}

/// The type `function`'s two label arguments are compared as: text, integers (Int64), numbers
/// (Float64) or booleans; labels of different kinds are a planning error.
pub fn pair_type(function: &str, a: &DataType, b: &DataType) -> Result<DataType> {
    let kind = |t: &DataType| -> Option<u8> {
        match t {
            DataType::Null => Some(0),
            DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => Some(1),
            t if t.is_integer() => Some(2),
            t if t.is_numeric() => Some(3),
            DataType::Boolean => Some(4),
            _ => None,
        }
    };
    let (Some(ka), Some(kb)) = (kind(a), kind(b)) else {
        let bad = if kind(a).is_none() { a } else { b };
        return plan_err!(
            "{function}(label, predicted) compares labels (text, integers, numbers or booleans), \
             got {bad}"
        );
    };
    let joint = match (ka.max(kb), ka.min(kb)) {
        (0, _) => 1,
        (k, 0) => k,
        (3, 2) => 3,
        (x, y) if x == y => x,
        _ => {
            return plan_err!(
                "{function}(label, predicted): label is {a} but predicted is {b}; compare labels \
                 of one kind (cast one of them)"
            )
        }
    };
    Ok(match joint {
        1 => DataType::Utf8,
        2 => DataType::Int64,
        3 => DataType::Float64,
        _ => DataType::Boolean,
    })
}

/// The labels of `array` (of a type [`pair_type`] gives), `None` for NULL; NaN is an error.
pub fn keys(function: &str, array: &ArrayRef) -> Result<Vec<Option<Key>>> {
    let n = array.len();
    let valid = |r: usize| array.is_valid(r);
    Ok(match array.data_type() {
        DataType::Utf8 => {
            let a = array.as_string::<i32>();
            (0..n)
                .map(|r| valid(r).then(|| Key::Text(a.value(r).to_string())))
                .collect()
        }
        DataType::Int64 => {
            let a = array.as_primitive::<Int64Type>();
            (0..n)
                .map(|r| valid(r).then(|| Key::Int(a.value(r))))
                .collect()
        }
        DataType::Float64 => {
            let a = array.as_primitive::<Float64Type>();
            let mut out = Vec::with_capacity(n);
            for r in 0..n {
                if !valid(r) {
                    out.push(None);
                    continue;
                }
                let v = a.value(r);
                if v.is_nan() {
                    return exec_err!("{function}: a label is NaN (row {} of a batch)", r + 1);
                }
                // −0 and 0 are one label.
                out.push(Some(Key::Float(Number(v + 0.0))));
            }
            out
        }
        DataType::Boolean => {
            let a = array.as_boolean();
            (0..n)
                .map(|r| valid(r).then(|| Key::Bool(a.value(r))))
                .collect()
        }
        DataType::Null => vec![None; n],
        t => return exec_err!("{function}: unexpected label type {t}"),
    })
}

/// `keys` as a list scalar of `data_type` (an aggregate's state).
pub fn keys_scalar<'a>(keys: impl Iterator<Item = &'a Key>, data_type: &DataType) -> ScalarValue {
    let values: Vec<ScalarValue> = keys.map(Key::scalar).collect();
    ScalarValue::List(ScalarValue::new_list_nullable(&values, data_type))
}

/// `counts` as a list scalar of UInt64 (an aggregate's state).
pub fn counts_scalar(counts: impl Iterator<Item = u64>) -> ScalarValue {
    let values: Vec<ScalarValue> = counts.map(|c| ScalarValue::UInt64(Some(c))).collect();
    ScalarValue::List(ScalarValue::new_list_nullable(&values, &DataType::UInt64))
}

/// A list state's row `row` as an array (empty for NULL).
pub fn list_row(states: &ArrayRef, row: usize) -> Option<ArrayRef> {
    let list = states.as_list_opt::<i32>()?;
    if list.is_null(row) {
        return None;
    }
    Some(Arc::clone(&list.value(row)))
}
