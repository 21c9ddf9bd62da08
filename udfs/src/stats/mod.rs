//! Statistics for analysing experiments.
//!
//! The thesis plans its experiments with sequential designs and analyses them with hierarchical
//! linear models; this module brings them into SQL so that planning and analysing an experiment
//! are queries over tables:
//!
//! - [`design`]: thesis Algorithm 2, sequential experimental designs (`sequential_design`,
//!   `design_aliasing`).

pub mod design;

use std::sync::Arc;

use datafusion::catalog::TableFunctionImpl;
use datafusion::logical_expr::Documentation;

/// Every statistics table function, by name.
pub fn table_functions() -> Vec<(&'static str, Arc<dyn TableFunctionImpl>)> {
    design::table_functions()
}

/// The documentation of the statistics table functions, by name.
pub fn table_function_docs() -> Vec<(&'static str, &'static Documentation)> {
    design::table_function_docs()
}
