//! Sequential experimental designs (thesis §2.4.3, Algorithm 2).
//!
//! The thesis could not run all 1,230 admissible combinations of representation strategy and
//! learning sources, so it chose its runs one at a time, each time the run that kept the design
//! most balanced and, among those, least aliased. This module makes that procedure a query, so
//! that the next runs of an experiment and the quality of the design so far come from SQL:
//!
//! - `sequential_design(table, runs, seed [, factors [, alias_factors]])` (table function): the
//!   admissible runs of a table in the order Algorithm 2 chooses them, with the running
//!   unbalance and maximum absolute aliasing;
//! - `design_aliasing(table, runs, seed [, factors [, alias_factors]])` (table function): the
//!   alias matrix between main effects of that design.
//!
//! The algorithm and the definitions are in [`kernels`]; each function's file is its Arrow
//! adapter and documentation.

pub mod design_aliasing;
pub mod kernels;
pub mod sequential_design;

use std::sync::Arc;

use datafusion::catalog::TableFunctionImpl;
use datafusion::logical_expr::Documentation;

use design_aliasing::DesignAliasingFunc;
use sequential_design::SequentialDesignFunc;

/// The design table functions, by name.
pub fn table_functions() -> Vec<(&'static str, Arc<dyn TableFunctionImpl>)> {
    vec![
        ("sequential_design", Arc::new(SequentialDesignFunc)),
        ("design_aliasing", Arc::new(DesignAliasingFunc)),
    ]
}

/// Their documentation, by name (DataFusion's table functions carry none themselves).
pub fn table_function_docs() -> Vec<(&'static str, &'static Documentation)> {
    static DESIGN: SequentialDesignFunc = SequentialDesignFunc;
    static ALIASING: DesignAliasingFunc = DesignAliasingFunc;
    [
        ("sequential_design", DESIGN.documentation()),
        ("design_aliasing", ALIASING.documentation()),
    ]
    .into_iter()
    .filter_map(|(name, doc)| doc.map(|d| (name, d)))
    .collect()
}
