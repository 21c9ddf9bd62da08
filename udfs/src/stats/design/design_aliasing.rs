//! `design_aliasing(table, runs, seed [, factors [, alias_factors]])`: the alias matrix of the
//! design that `sequential_design` chooses with the same arguments, so that the orthogonality of
//! a design (thesis Fig. 2.7) is a query too.
//!
//! It shares its planning and execution with [`super::sequential_design`]; only the output
//! differs.

use std::sync::Arc;

use datafusion::catalog::{TableFunctionArgs, TableFunctionImpl, TableProvider};
use datafusion::error::Result;
use datafusion::logical_expr::Documentation;
use datafusion_macros::user_doc;

use super::sequential_design::{plan_design, Output};

#[user_doc(
    doc_section(label = "Statistical Functions"),
    description = "The alias matrix between main effects of the design that sequential_design \
chooses with the same arguments (table function): one row per pair of contrast columns of two \
different aliased factors, (factor_a, level_a, factor_b, level_b, alias), factor_a before \
factor_b in the order of the factors, then by level; each pair appears once (the matrix is \
symmetric) and pairs within one factor are left out. A factor with k levels, ascending by value, \
has one contrast column per level after the first (that level's name is level_a or level_b): +1 \
at that level, −1 at the first level, 0 elsewhere; alias is the signed Pearson correlation of the \
two columns over the design runs (0 when either is constant over them), so the design's \
max_aliasing is the largest abs(alias). The levels are shown as text. Arguments and errors are \
those of sequential_design; runs chooses the design of the first runs runs.",
    syntax_example = "design_aliasing(table, runs, seed [, factors [, alias_factors]])",
    sql_example = r#"```sql
> CREATE TABLE runs AS SELECT a, b, c FROM (VALUES (-1), (1)) AS ta(a) CROSS JOIN (VALUES ('x'), ('y')) AS tb(b) CROSS JOIN (VALUES (1), (2), (3)) AS tc(c);
> SELECT factor_a, level_a, factor_b, level_b, alias FROM design_aliasing('runs', NULL, 42);
+----------+---------+----------+---------+-------+
| factor_a | level_a | factor_b | level_b | alias |
+----------+---------+----------+---------+-------+
| a        | 1       | b        | y       | 0.0   |
| a        | 1       | c        | 2       | 0.0   |
| a        | 1       | c        | 3       | 0.0   |
| b        | y       | c        | 2       | 0.0   |
| b        | y       | c        | 3       | 0.0   |
+----------+---------+----------+---------+-------+
```"#,
    argument(
        name = "table",
        description = "Name of a registered table or view of admissible runs (a string literal)."
    ),
    argument(
        name = "runs",
        description = "Number of runs of the design (a positive integer), or NULL for all."
    ),
    argument(
        name = "seed",
        description = "Integer seed of the tie-breaking generator (any 64-bit integer)."
    ),
    argument(
        name = "factors",
        description = "Comma-separated factor columns (default '*', every column)."
    ),
    argument(
        name = "alias_factors",
        description = "Comma-separated factors whose main effects are aliased (default '*', \
every factor)."
    )
)]
#[derive(Debug, Default)]
pub struct DesignAliasingFunc;

impl DesignAliasingFunc {
    /// The documentation of `design_aliasing` (table functions have no documentation hook in
    /// DataFusion, so it is exposed here).
    pub fn documentation(&self) -> Option<&Documentation> {
        self.doc()
    }
}

impl TableFunctionImpl for DesignAliasingFunc {
    fn call_with_args(&self, args: TableFunctionArgs) -> Result<Arc<dyn TableProvider>> {
        plan_design(Output::Aliasing, args)
    }
}
