//! Evaluation of recommenders in SQL: a deterministic per-user holdout split, nDCG and nDiv
//! (thesis §5.3.1, eq. 5.13–5.14).
//!
//! These exist so that the accuracy/diversity table of a recommender experiment is a query over
//! the recommendations and the held-out rows, with no step outside SQL. The arithmetic is in
//! [`kernels`].

pub mod ediv;
pub mod item_counts;
pub mod kernels;
pub mod ndcg;
pub mod ndiv;

use std::sync::Arc;

use datafusion::catalog::TableFunctionImpl;
use datafusion::logical_expr::{AggregateUDF, ScalarUDF};

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
    vec![]
}
