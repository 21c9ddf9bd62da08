//! The explainers run against a recommender: batched tensor work on the session device, then the
//! pure kernels of [`super::kernels`].
//!
//! It exists because every explainer needs the model's scores for many tag vectors, and those are
//! cheap only in bulk: one batch of SQL rows becomes one batched computation. Saliency takes one
//! backward pass per chunk of rows (gradients with respect to the weights of each item's own
//! tags); LIME scores the perturbations of many rows in one forward pass and fits the surrogates
//! afterwards; PDP scores every (history item, tag) pair of a user in large chunks and is cached
//! per (model, user), since it does not depend on the item or on ω.
//!
//! Rules shared by every explainer (SPEC §6, thesis §5.3.2):
//! - an explanation is a list of (tag index, weight) with at most ω entries, the ω largest
//!   |weight|, sorted by decreasing |weight|, ties to the lower tag index; zero weights are not
//!   listed;
//! - the local explainers (Random, Saliency, LIME) draw their candidate tags from the item's own
//!   tags, so an item without tags has an empty explanation; PDP is user-level and ranges over
//!   every tag of the model;
//! - weights are per unit of tag weight (θ_t multiplies T_i,t in the rebuilt score ĝ_i = θ · T_i):
//!   saliency's derivative is that already; LIME's surrogate coefficient (the effect of switching
//!   a tag from its weight to 0) is divided by the tag's weight; PDP switches a tag on with
//!   weight 1. For N-hot tags (all weights 1) this changes nothing;
//! - every random choice is seeded by (seed, user index, item index), so an explanation does not
//!   depend on which other rows share its batch.
//!
//! Layout: this file holds the explainer names ([`Method`]), the shared rules (truncation to ω,
//! row seeds) and the dispatch ([`explain`], [`explain_each`]); `options` parses the
//! explainers' options, `batch` scores many built tag vectors in bounded forward passes, and
//! `saliency`, `lime` and `pdp` drive one explainer each; `fidelity` rebuilds scores from
//! explanations and measures fidelity.

mod batch;
mod fidelity;
mod lime;
mod options;
mod pdp;
mod saliency;

use datafusion::common::exec_datafusion_err;
use datafusion::error::{DataFusionError, Result};
use tch::Device;

use super::kernels::select::top_omega_pairs;
use super::kernels::ExplainError;
use crate::common::rng::Rng;
use crate::recsys::recommender::{Cancel, Recommender};

pub use self::fidelity::{
    fidelity, fidelity_of, fidelity_queries, rebuilt_score, CandidateCache, Candidates,
};
pub use self::lime::{explain_lime, explain_lime_each};
pub use self::options::{ExplainOptions, OPTION_NAMES};
pub use self::pdp::{
    explain_pdp, pdp_theta, pdp_thetas, PdpCache, PDP_CACHE_TOP, PDP_SWITCHED_ON_WEIGHT,
};
pub use self::saliency::explain_saliency;

/// The explainers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Method {
    Random,
    Pdp,
    Saliency,
    Lime,
}

impl Method {
    /// Every explainer, in the thesis' order.
    pub const ALL: [Method; 4] = [Method::Random, Method::Pdp, Method::Saliency, Method::Lime];

    /// The SQL name (`'random'`, `'pdp'`, `'saliency'`, `'lime'`).
    pub fn name(self) -> &'static str {
        match self {
            Method::Random => "random",
            Method::Pdp => "pdp",
            Method::Saliency => "saliency",
            Method::Lime => "lime",
        }
    }

    /// The explainer called `name` (case-insensitive).
    pub fn parse(name: &str) -> Option<Method> {
        let lower = name.trim().to_ascii_lowercase();
        Method::ALL.into_iter().find(|m| m.name() == lower)
    }

    /// Whether explanations are per (user, item) rather than per user.
    pub fn is_local(self) -> bool {
        self != Method::Pdp
    }
}

/// An explanation: (tag index, weight), at most ω entries, by decreasing |weight|.
pub type Explanation = Vec<(u32, f64)>;

fn kernel_err(e: ExplainError) -> DataFusionError {
    exec_datafusion_err!("explainer: {e}")
}

/// A seed for one (user, item) row: SplitMix64-style mixing of the three numbers.
fn row_seed(seed: u64, user: u32, item: u32) -> u64 {
    let mut z = seed ^ ((user as u64) << 32 | item as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Keeps the ω largest |weight| of (tag index, weight) pairs.
fn truncate(pairs: Vec<(u32, f64)>, omega: usize) -> Explanation {
    let entries: Vec<(usize, f64)> = pairs.iter().map(|&(t, w)| (t as usize, w)).collect();
    top_omega_pairs(&entries, omega)
        .into_iter()
        .map(|(t, w)| (t as u32, w))
        .collect()
}
/// Σ of `values` in a canonical order (ascending by [`f64::total_cmp`]), so that two equal
/// multisets of terms give bit-identical sums whatever order they come in.
fn canonical_sum(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values.into_iter().sum()
}

/// Random explanations (eq. 5.15): θ_t ~ N(0, 1) for each of the item's tags, truncated to ω.
pub fn explain_random(
    rec: &dyn Recommender,
    rows: &[(u32, u32)],
    omega: usize,
    opts: &ExplainOptions,
) -> Vec<Explanation> {
    rows.iter()
        .map(|&(u, i)| {
            let mut rng = Rng::new(row_seed(opts.seed, u, i));
            let (tags, _) = rec.data().t.row(i as usize);
            let pairs = tags.iter().map(|&t| (t, rng.normal())).collect();
            truncate(pairs, omega)
        })
        .collect()
}
/// Explanations of `rows` (user index, item index) by `method`.
#[allow(clippy::too_many_arguments)]
pub fn explain(
    rec: &dyn Recommender,
    device: Device,
    method: Method,
    rows: &[(u32, u32)],
    omega: usize,
    opts: &ExplainOptions,
    pdp_cache: &PdpCache,
    cancelled: Cancel<'_>,
) -> Result<Vec<Explanation>> {
    match method {
        Method::Random => {
            let explanations = explain_random(rec, rows, omega, opts);
            crate::common::progress::advance(rows.len() as u64);
            Ok(explanations)
        }
        Method::Saliency => explain_saliency(rec, device, rows, omega, cancelled),
        Method::Lime => explain_lime(rec, device, rows, omega, opts, cancelled),
        Method::Pdp => explain_pdp(rec, device, rows, omega, pdp_cache, cancelled),
    }
}

/// Explanations of each row at each of its complexities `omegas[row]` (a row's list may repeat
/// nothing and be in any order): LIME fits one surrogate per ω on shared perturbations; the other
/// explainers compute each row's explanation once at the largest ω asked for and truncate it.
#[allow(clippy::too_many_arguments)]
pub fn explain_each(
    rec: &dyn Recommender,
    device: Device,
    method: Method,
    rows: &[(u32, u32)],
    omegas: &[Vec<usize>],
    opts: &ExplainOptions,
    pdp_cache: &PdpCache,
    cancelled: Cancel<'_>,
) -> Result<Vec<Vec<Explanation>>> {
    if method == Method::Lime {
        return explain_lime_each(rec, device, rows, omegas, opts, cancelled);
    }
    let largest = omegas.iter().flatten().copied().max().unwrap_or(1);
    let full = explain(
        rec, device, method, rows, largest, opts, pdp_cache, cancelled,
    )?;
    Ok(full
        .into_iter()
        .zip(omegas)
        .map(|(theta, row_omegas)| {
            row_omegas
                .iter()
                .map(|&omega| truncate(theta.clone(), omega))
                .collect()
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn row_seeds_differ_and_repeat() {
        assert_eq!(row_seed(42, 1, 2), row_seed(42, 1, 2));
        assert_ne!(row_seed(42, 1, 2), row_seed(42, 2, 1));
        assert_ne!(row_seed(42, 1, 2), row_seed(43, 1, 2));
    }
}
