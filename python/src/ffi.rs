//! trustql's functions for a datafusion-python `SessionContext`, through DataFusion's FFI.
//!
//! Each function is a Python object with the PyCapsule method datafusion-python looks for
//! (`__datafusion_scalar_udf__`, `__datafusion_aggregate_udf__`, `__datafusion_window_udf__`,
//! `__datafusion_table_function__`), holding the FFI struct of the function itself, so
//! `ctx.register_udf(udf(f))` and friends call trustql's code with the caller's Arrow arrays.
//! The functions come from the shared session of a model store (`session::shared_session`),
//! so they see the models that `trustql.Models` creates. Table functions run their scans on
//! this module's runtime.
//!
//! The FFI carries no session settings of ours: inside a datafusion-python session the
//! `trustql.*` settings take their defaults (a `trustql.Session` has them all).

use std::sync::Arc;

use datafusion::catalog::TableFunctionImpl;
use datafusion::logical_expr::{AggregateUDF, ScalarUDF, WindowUDF};
use datafusion_ffi::udaf::FFI_AggregateUDF;
use datafusion_ffi::udf::FFI_ScalarUDF;
use datafusion_ffi::udtf::FFI_TableFunction;
use datafusion_ffi::udwf::FFI_WindowUDF;
use datafusion_python_util::ffi_logical_codec_from_pycapsule;
use pyo3::prelude::*;
use pyo3::types::PyCapsule;

use crate::runtime::runtime;
use crate::session::PySession;

/// A Python class holding one function of DataFusion's kind `$udf`, with the PyCapsule method
/// `$method` that returns its FFI struct `$ffi` in a capsule named `$capsule`.
macro_rules! function_class {
    ($(#[$doc:meta])* $class:ident, $udf:ty, $ffi:ty, $method:ident, $capsule:literal, $kind:literal) => {
        $(#[$doc])*
        #[pyclass(module = "trustql._trustql", frozen)]
        pub struct $class(Arc<$udf>);

        #[pymethods]
        impl $class {
            #[getter]
            fn name(&self) -> String {
                self.0.name().to_string()
            }

            fn $method<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyCapsule>> {
                PyCapsule::new_with_value(py, <$ffi>::from(self.0.clone()), $capsule)
            }

            fn __repr__(&self) -> String {
                format!(concat!("trustql ", $kind, " function {}"), self.0.name())
            }
        }
    };
}

function_class!(
    /// A scalar function for `datafusion.udf(f)`.
    ScalarFunction,
    ScalarUDF,
    FFI_ScalarUDF,
    __datafusion_scalar_udf__,
    c"datafusion_scalar_udf",
    "scalar"
);
function_class!(
    /// An aggregate function for `datafusion.udaf(f)`.
    AggregateFunction,
    AggregateUDF,
    FFI_AggregateUDF,
    __datafusion_aggregate_udf__,
    c"datafusion_aggregate_udf",
    "aggregate"
);
function_class!(
    /// A window function for `datafusion.udwf(f)`.
    WindowFunction,
    WindowUDF,
    FFI_WindowUDF,
    __datafusion_window_udf__,
    c"datafusion_window_udf",
    "window"
);

/// A table function for `datafusion.TableFunction(name, f, ctx)`.
#[pyclass(module = "trustql._trustql", frozen)]
pub struct TableFunction {
    name: String,
    function: Arc<dyn TableFunctionImpl>,
}

#[pymethods]
impl TableFunction {
    #[getter]
    fn name(&self) -> String {
        self.name.clone()
    }

    /// The FFI table function, with the logical codec of `session` (the datafusion-python
    /// context it is registered on) for its arguments.
    fn __datafusion_table_function__<'py>(
        &self,
        py: Python<'py>,
        session: Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyCapsule>> {
        let codec = ffi_logical_codec_from_pycapsule(session.clone(), Some(&session))?;
        let handle = runtime()?.handle().clone();
        let f = FFI_TableFunction::new_with_ffi_codec(self.function.clone(), Some(handle), codec);
        PyCapsule::new_with_value(py, f, c"datafusion_table_function")
    }

    fn __repr__(&self) -> String {
        format!("trustql table function {}", self.name)
    }
}

/// Every function of `session`'s library: trustql's scalar, aggregate, window and table
/// functions, and the session's own table functions (`models()`, `model_types()`,
/// `model_info(name)`), as objects for datafusion-python's `udf`, `udaf`, `udwf` and
/// `TableFunction`.
#[pyfunction]
pub fn functions(py: Python<'_>, session: PyRef<'_, PySession>) -> PyResult<Vec<Py<PyAny>>> {
    let library = session.session().library();
    let mut out: Vec<Py<PyAny>> = Vec::new();
    for f in library.scalar_functions() {
        out.push(Py::new(py, ScalarFunction(f.clone()))?.into_any());
    }
    for f in library.aggregate_functions() {
        out.push(Py::new(py, AggregateFunction(f.clone()))?.into_any());
    }
    for f in library.window_functions() {
        out.push(Py::new(py, WindowFunction(f.clone()))?.into_any());
    }
    // The registered table functions, as the session calls them (trustql's own are wrapped
    // by `call_scan::named_calls` when registered), and the session's model tables.
    let state = session.session().context().state();
    let library_tables = library.table_functions().iter().map(|t| t.name.as_str());
    let session_tables = trustql::session::SESSION_TABLE_FUNCTIONS.into_iter();
    for name in library_tables.chain(session_tables) {
        if let Some(f) = state.table_functions().get(name) {
            let (name, function) = (name.to_string(), f.function().clone());
            out.push(Py::new(py, TableFunction { name, function })?.into_any());
        }
    }
    Ok(out)
}
