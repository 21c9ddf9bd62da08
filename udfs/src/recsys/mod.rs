//! Recommenders: model types trained by `CREATE MODEL`, and the functions that use them.
//!
//! A recommender scores (user, item) pairs; ids are any integer or text column, and an id the
//! model never saw scores NULL rather than failing, because scoring usually runs over a join with
//! held-out data that contains new users and items.

pub mod mostpop;
pub mod score;

use std::sync::Arc;

use datafusion::logical_expr::ScalarUDF;

use crate::model::{ModelCatalog, ModelType};

/// The recommender model types.
pub fn model_types() -> Vec<Arc<dyn ModelType>> {
    vec![Arc::new(mostpop::MostPopType)]
}

/// The recommender functions.
pub fn scalar_functions(catalog: Arc<dyn ModelCatalog>) -> Vec<Arc<ScalarUDF>> {
    vec![Arc::new(ScalarUDF::new_from_impl(score::ScoreFunc::new(
        catalog,
    )))]
}
