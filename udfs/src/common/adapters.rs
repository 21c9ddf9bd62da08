//! Helpers shared by the UDF adapters of every domain (the Arrow side of the functions).

use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

use datafusion::arrow::array::ArrayRef;
use datafusion::arrow::datatypes::{DataType, Field};
use datafusion::catalog::{Session, TableProvider};
use datafusion::common::{plan_datafusion_err, plan_err, ScalarValue, TableReference};
use datafusion::error::Result;
use datafusion::logical_expr::ColumnarValue;

/// Returns `out` as a scalar when every argument was a scalar, else as an array, so that a
/// function called on literals folds to a literal.
pub fn columnar(out: ArrayRef, all_scalar: bool) -> Result<ColumnarValue> {
    if all_scalar {
        Ok(ColumnarValue::Scalar(ScalarValue::try_from_array(
            out.as_ref(),
            0,
        )?))
    } else {
        Ok(ColumnarValue::Array(out))
    }
}

/// Polls `fut` once: catalog lookups of in-memory schemas are ready at once, and planning must
/// not block a runtime thread on one that is not.
fn ready<F: Future>(fut: F) -> Option<F::Output> {
    let mut fut = pin!(fut);
    match fut.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(v) => Some(v),
        Poll::Pending => None,
    }
}

/// The table or view called `name` (resolved against the session's default catalog and schema),
/// for the table function `function` that takes a table by name; errors name the function and
/// list the tables there are.
pub fn resolve_table(
    session: &dyn Session,
    function: &str,
    name: &str,
) -> Result<Arc<dyn TableProvider>> {
    let defaults = &session.config_options().catalog;
    let reference =
        TableReference::from(name).resolve(&defaults.default_catalog, &defaults.default_schema);
    let catalog = session
        .catalog_list()
        .catalog(&reference.catalog)
        .ok_or_else(|| {
            plan_datafusion_err!(
                "{function}: table '{name}' not found: no catalog '{}'",
                reference.catalog
            )
        })?;
    let schema = catalog.schema(&reference.schema).ok_or_else(|| {
        plan_datafusion_err!(
            "{function}: table '{name}' not found: no schema '{}.{}'",
            reference.catalog,
            reference.schema
        )
    })?;
    let not_found = || {
        let mut names = schema.table_names();
        names.sort();
        let known = if names.is_empty() {
            "none".to_string()
        } else {
            names.join(", ")
        };
        plan_err!(
            "{function}: table '{name}' not found (tables in {}.{}: {known})",
            reference.catalog,
            reference.schema
        )
    };
    if !schema.table_exist(&reference.table) {
        return not_found();
    }
    match ready(schema.table(&reference.table)) {
        Some(Ok(Some(table))) => Ok(table),
        Some(Ok(None)) => not_found(),
        Some(Err(e)) => Err(e),
        None => plan_err!(
            "{function}: table '{name}' is in a catalog that cannot be read while planning; copy it into a table first (CREATE TABLE t AS SELECT ...)"
        ),
    }
}

/// State a function keeps for speed (a cache), which does not change what it computes: it takes
/// no part in the function's equality or hash, so a function struct holding one still derives
/// `PartialEq`, `Eq` and `Hash` (with its model catalog as a [`crate::model::CatalogRef`]).
#[derive(Debug, Default)]
pub struct Cache<T>(pub std::sync::Arc<T>);

impl<T> std::ops::Deref for Cache<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T> PartialEq for Cache<T> {
    fn eq(&self, _other: &Self) -> bool {
        true
    }
}

impl<T> Eq for Cache<T> {}

impl<T> std::hash::Hash for Cache<T> {
    fn hash<H: std::hash::Hasher>(&self, _state: &mut H) {}
}

/// Whether `t` is a list (List, LargeList or FixedSizeList) of numbers, or NULL: the types a
/// feature or vector argument accepts in every domain.
pub fn is_number_list(t: &DataType) -> bool {
    match t {
        DataType::Null => true,
        DataType::List(f) | DataType::LargeList(f) | DataType::FixedSizeList(f, _) => {
            f.data_type().is_numeric() || f.data_type() == &DataType::Null
        }
        _ => false,
    }
}

/// The `List<Float64>` type that number lists are cast to before they are read.
pub fn f64_list_type() -> DataType {
    DataType::List(Arc::new(Field::new_list_field(DataType::Float64, true)))
}
