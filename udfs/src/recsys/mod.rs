//! Recommenders: model types trained by `CREATE MODEL`, and the functions that use them.
//!
//! A recommender scores (user, item) pairs; ids are any integer or text column, and an id the
//! model never saw scores NULL rather than failing, because scoring usually runs over a join with
//! held-out data that contains new users and items.

pub mod eval;
pub mod kernels;
pub mod mostpop;
pub mod score;

use std::sync::Arc;

use datafusion::catalog::TableFunctionImpl;
use datafusion::logical_expr::{AggregateUDF, ScalarUDF};

use crate::model::{ModelCatalog, ModelType};

/// The recommender model types.
pub fn model_types() -> Vec<Arc<dyn ModelType>> {
    vec![Arc::new(mostpop::MostPopType)]
}

/// The recommender functions.
pub fn scalar_functions(catalog: Arc<dyn ModelCatalog>) -> Vec<Arc<ScalarUDF>> {
    let mut udfs = vec![Arc::new(ScalarUDF::new_from_impl(score::ScoreFunc::new(
        catalog,
    )))];
    udfs.extend(eval::scalar_functions());
    udfs
}

/// The recommender aggregate functions.
pub fn aggregate_functions() -> Vec<Arc<AggregateUDF>> {
    eval::aggregate_functions()
}

/// The recommender table functions, by name.
pub fn table_functions(
    _catalog: Arc<dyn ModelCatalog>,
) -> Vec<(&'static str, Arc<dyn TableFunctionImpl>)> {
    eval::table_functions()
}
