//! The extension module `trustql._trustql`, which the Python package `trustql` (python/trustql)
//! wraps; users import the package, not this module.
//!
//! It exists so that people who run experiments in notebooks get trustql without leaving
//! Python, in two ways:
//! - [`session::PySession`]: a whole trustql session (model store, `SET trustql.*`, the model
//!   DDL, `COPY ... (FORMAT plot)`, every function), whose results cross into Python as Arrow C
//!   streams, without copying;
//! - [`ffi`]: trustql's functions exported through DataFusion's FFI, for a user's own
//!   datafusion-python `SessionContext`.
//!
//! Statements run on this module's tokio runtime while the calling thread waits without the
//! GIL; that thread alone calls back into Python (progress, Ctrl-C), see [`runtime`].

mod errors;
mod ffi;
mod reports;
mod runtime;
mod session;
mod stream;

use pyo3::prelude::*;

#[pymodule]
fn _trustql(m: &Bound<'_, PyModule>) -> PyResult<()> {
    errors::add(m)?;
    m.add_class::<session::PySession>()?;
    m.add_class::<session::QueryResult>()?;
    m.add_class::<ffi::ScalarFunction>()?;
    m.add_class::<ffi::AggregateFunction>()?;
    m.add_class::<ffi::WindowFunction>()?;
    m.add_class::<ffi::TableFunction>()?;
    m.add_function(wrap_pyfunction!(session::shared_session, m)?)?;
    m.add_function(wrap_pyfunction!(ffi::functions, m)?)?;
    m.add("DATAFUSION_VERSION", datafusion::DATAFUSION_VERSION)?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
