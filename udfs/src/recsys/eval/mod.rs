//! Evaluation of recommenders in SQL: a deterministic per-user holdout split, nDCG and nDiv
//! (thesis §5.3.1, eq. 5.13–5.14).
//!
//! These exist so that the accuracy/diversity table of a recommender experiment is a query over
//! the recommendations and the held-out rows, with no step outside SQL:
//!
//! - `holdout_split(table, ratio, seed [, user_column [, item_column]])` (table function): the
//!   table's rows with a boolean `test` column, a seeded per-user split;
//! - `ndcg(recommended, relevant, k)`: nDCG@k of one user's ranked list against the user's
//!   held-out items (binary relevance);
//! - `ndiv(item)` and `ediv(item)` (aggregates): normalised and plain entropy diversity of the
//!   items recommended over the rows of a group.
//!
//! The arithmetic is in [`kernels`]; each function's file is its Arrow adapter and documentation.

pub mod ediv;
pub mod holdout_split;
pub mod item_counts;
pub mod kernels;
pub mod ndcg;
pub mod ndiv;

use std::sync::Arc;

use datafusion::catalog::TableFunctionImpl;
use datafusion::logical_expr::{AggregateUDF, Documentation, ScalarUDF};

use item_counts::ItemCountAggregate;

/// The evaluation scalar functions.
pub fn scalar_functions() -> Vec<Arc<ScalarUDF>> {
    vec![Arc::new(ScalarUDF::new_from_impl(ndcg::NdcgFunc::new()))]
}

/// The evaluation aggregate functions.
pub fn aggregate_functions() -> Vec<Arc<AggregateUDF>> {
    vec![
        Arc::new(AggregateUDF::new_from_impl(
            ItemCountAggregate::<ndiv::Ndiv>::new(),
        )),
        Arc::new(AggregateUDF::new_from_impl(
            ItemCountAggregate::<ediv::Ediv>::new(),
        )),
    ]
}

/// The evaluation table functions, by name.
pub fn table_functions() -> Vec<(&'static str, Arc<dyn TableFunctionImpl>)> {
    vec![("holdout_split", Arc::new(holdout_split::HoldoutSplitFunc))]
}

/// The documentation of the evaluation table functions, by name (DataFusion's table functions
/// carry none themselves).
pub fn table_function_docs() -> Vec<(&'static str, &'static Documentation)> {
    static SPLIT: holdout_split::HoldoutSplitFunc = holdout_split::HoldoutSplitFunc;
    SPLIT
        .documentation()
        .map(|d| ("holdout_split", d))
        .into_iter()
        .collect()
}
