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

use crate::library::Library;
use design_aliasing::DesignAliasingFunc;
use sequential_design::SequentialDesignFunc;

/// Adds `sequential_design` and `design_aliasing`.
pub fn register(lib: &mut Library) {
    lib.table(
        "sequential_design",
        SequentialDesignFunc,
        SequentialDesignFunc.documentation(),
    );
    lib.table(
        "design_aliasing",
        DesignAliasingFunc,
        DesignAliasingFunc.documentation(),
    );
}
