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
//!   items recommended over the rows of a group;
//! - `hash_uniform(key, seed)`: a seeded uniform number per id, for reproducible samples of
//!   users.
//!
//! The arithmetic is in [`kernels`]; each function's file is its Arrow adapter and documentation.

pub mod ediv;
pub mod hash_uniform;
mod holdout_exec;
pub mod holdout_split;
pub mod item_counts;
pub mod kernels;
pub mod ndcg;
pub mod ndiv;

use crate::library::Library;
use item_counts::ItemCountAggregate;

/// Adds the evaluation functions: `ndcg`, `ndiv`, `ediv`, `hash_uniform` and `holdout_split`.
pub fn register(lib: &mut Library) {
    lib.scalar(ndcg::NdcgFunc::new());
    lib.scalar(hash_uniform::HashUniformFunc::new());
    lib.aggregate(ItemCountAggregate::<ndiv::Ndiv>::new());
    lib.aggregate(ItemCountAggregate::<ediv::Ediv>::new());
    lib.table(
        "holdout_split",
        holdout_split::HoldoutSplitFunc,
        holdout_split::HoldoutSplitFunc.documentation(),
    );
}
