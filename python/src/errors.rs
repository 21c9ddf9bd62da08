//! trustql's errors as Python exceptions, with the CLI's messages.
//!
//! `trustql.Error` is the base; `PlanningError` (the statement is wrong: unknown column,
//! function or table, bad argument, malformed SQL), `ExecutionError` (the data or the machine
//! refused while running: a bad value, a file that cannot be read, memory) and `ModelError`
//! (a model statement failed, or a statement named a model or model type the store does not
//! have) derive from it. The kind follows DataFusion's error variant, found at the root of the
//! error's context chain; the message is the CLI's (`DataFusionError`'s display).

use datafusion::error::DataFusionError;
use pyo3::create_exception;
use pyo3::exceptions::PyException;
use pyo3::prelude::*;

create_exception!(
    _trustql,
    Error,
    PyException,
    "Every error trustql reports; its message is the CLI's."
);
create_exception!(
    _trustql,
    PlanningError,
    Error,
    "The statement is wrong: malformed SQL, an unknown table, column or function, a bad argument."
);
create_exception!(
    _trustql,
    ExecutionError,
    Error,
    "The statement was refused while running: bad data, an unreadable file, not enough memory."
);
create_exception!(
    _trustql,
    ModelError,
    Error,
    "A model statement failed (CREATE/DROP/DESCRIBE MODEL), or a statement named a model or \
     model type that the store does not have."
);

pub fn add(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add("Error", py.get_type::<Error>())?;
    m.add("PlanningError", py.get_type::<PlanningError>())?;
    m.add("ExecutionError", py.get_type::<ExecutionError>())?;
    m.add("ModelError", py.get_type::<ModelError>())?;
    Ok(())
}

/// What kind of Python exception an error is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Planning,
    Execution,
    Model,
}

/// The kind of `e`; `model_statement` says whether the statement was model DDL.
pub fn kind(e: &DataFusionError, model_statement: bool) -> Kind {
    kind_with_message(e, &e.to_string(), model_statement)
}

/// [`kind`], with `e`'s message already made.
fn kind_with_message(e: &DataFusionError, message: &str, model_statement: bool) -> Kind {
    if model_statement
        || message.contains("unknown model '")
        || message.contains("unknown model type '")
    {
        return Kind::Model;
    }
    match e.find_root() {
        DataFusionError::Plan(_)
        | DataFusionError::SQL(..)
        | DataFusionError::SchemaError(..)
        | DataFusionError::NotImplemented(_)
        | DataFusionError::Configuration(_) => Kind::Planning,
        _ => Kind::Execution,
    }
}

/// `e` as a Python exception of its kind.
pub fn to_py(e: DataFusionError, model_statement: bool) -> PyErr {
    let message = e.to_string();
    new(kind_with_message(&e, &message, model_statement), message)
}

/// An exception of `kind` saying `message`.
pub fn new(kind: Kind, message: String) -> PyErr {
    match kind {
        Kind::Planning => PlanningError::new_err(message),
        Kind::Execution => ExecutionError::new_err(message),
        Kind::Model => ModelError::new_err(message),
    }
}
