//! Rank correlation: how alike two rankings of the same items are.
//!
//! The thesis scores an explanation's fidelity by the top-weighted rank correlation τ_AP,a between
//! the recommender's ranking and the one rebuilt from the explanation, so these coefficients are
//! the measuring instrument of the whole explainability study. Each coefficient is one SQL
//! function in two forms:
//!
//! - `tau_ap(x, y)` on two lists (one row gives one value), and
//! - `tau_ap_agg(x, y)`, an aggregate over (x, y) rows (GROUP BY, window frames).
//!
//! DataFusion resolves a name to a scalar function before an aggregate one, so the two forms
//! cannot share a name; the aggregate carries the `_agg` suffix.
//!
//! Conventions (all five): higher value = better rank; pairs where either value is NULL are
//! skipped (like SQL aggregates skip NULLs); a NULL list gives NULL; lists of different length
//! and NaN values are errors; fewer than 2 pairs give NULL. Beyond that, NULL exactly where the
//! coefficient's formula divides 0 by 0, decided from the maths of each:
//!
//! - `tau_ap`: never (its denominators n − 1 and i − 1 are never 0); any tie is an error;
//! - `tau_ap_a`: never; a tie in x is an error, and an all-tied y gives 0 (the expected τ_AP of a
//!   random order, as in the reference ircor);
//! - `tau_ap_b`, `kendall_tau_b`, `spearman`: when every value of x or every value of y is tied
//!   (no item outside the top tie group; no untied pair; zero rank variance).
//!
//! See [`kernels`] for the formulas.

pub mod adapter;
pub mod kendall_tau_b;
pub mod kernels;
pub mod spearman;
pub mod tau_ap;
pub mod tau_ap_a;
pub mod tau_ap_b;

use crate::library::Library;
use adapter::{Coefficient, RankAggregate, RankScalar};

/// Adds the rank-correlation functions (a scalar and an aggregate per coefficient).
pub fn register(lib: &mut Library) {
    fn pair<C: Coefficient>(lib: &mut Library) {
        lib.scalar(RankScalar::<C>::new());
        lib.aggregate(RankAggregate::<C>::new());
    }
    pair::<tau_ap::TauAp>(lib);
    pair::<tau_ap_a::TauApA>(lib);
    pair::<tau_ap_b::TauApB>(lib);
    pair::<kendall_tau_b::KendallTauB>(lib);
    pair::<spearman::Spearman>(lib);
}
