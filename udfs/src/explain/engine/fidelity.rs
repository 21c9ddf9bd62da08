//! Fidelity: scores rebuilt from explanations (ĝ_i = θ · T_i) against the recommender's ranking
//! of each user's candidates, by τ_AP,a.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};

use datafusion::error::Result;
use tch::Device;

use super::lime::lime_each;
use super::options::ExplainOptions;
use super::pdp::PdpCache;
use super::{canonical_sum, explain_each, Explanation, Method};
use crate::model::LoadedModel;
use crate::recsys::recommend::top_k_cancellable;
use crate::recsys::recommender::{Cancel, Recommender};

/// ĝ_i = θ · T_i for an explanation and an item.
/// The terms θ_t · T_i,t are summed in a canonical order (ascending), so that items whose terms
/// are equal get exactly equal ĝ, which τ_AP,a then treats as tied.
pub fn rebuilt_score(rec: &dyn Recommender, theta: &Explanation, item: u32) -> f64 {
    let (tags, weights) = rec.data().t.row(item as usize);
    canonical_sum(
        theta
            .iter()
            .filter_map(|&(t, w)| tags.binary_search(&t).ok().map(|p| w * weights[p] as f64))
            .collect(),
    )
}

/// The rebuilt scores ĝ of each row at each of its complexities `omegas[row]`: θ · T_i of the
/// explanation ([`rebuilt_score`]), except for LIME, where ĝ is the sum of the surrogate's
/// undivided coefficients of the tags the explanation keeps (see [`lime_each`]).
#[allow(clippy::too_many_arguments)]
fn rebuilt_each(
    rec: &dyn Recommender,
    device: Device,
    method: Method,
    rows: &[(u32, u32)],
    omegas: &[Vec<usize>],
    opts: &ExplainOptions,
    pdp_cache: &PdpCache,
    cancelled: Cancel<'_>,
) -> Result<Vec<Vec<f64>>> {
    if method == Method::Lime {
        return Ok(lime_each(rec, device, rows, omegas, opts, cancelled)?
            .into_iter()
            .map(|per_omega| per_omega.into_iter().map(|(_, g)| g).collect())
            .collect());
    }
    let explanations = explain_each(
        rec, device, method, rows, omegas, opts, pdp_cache, cancelled,
    )?;
    Ok(rows
        .iter()
        .zip(explanations)
        .map(|(&(_, i), per_omega)| {
            per_omega
                .iter()
                .map(|theta| rebuilt_score(rec, theta, i))
                .collect()
        })
        .collect())
}

/// Users whose candidates [`fidelity_queries`] scores, explains and measures together: bounds
/// the memory of the score matrix (users × items) and the time between cancellation checks.
const FIDELITY_USERS: usize = 64;

/// A user's candidate items (best first) with the recommender's scores.
pub type Candidates = (Vec<u32>, Vec<f64>);

/// Candidate entries the cache holds at most (about 12 bytes each).
const CANDIDATE_CACHE_ENTRIES: usize = 4 << 20;

/// Each user's top-n unseen items of the model last asked about, so that the fidelity of the
/// four explainers over the same users finds them once: NCF's top-n scores every item through
/// its MLP, which took most of its fidelity time when each explainer did it again. The model is
/// held weakly and compared by identity, so a model that was dropped or replaced never serves
/// its lists; a new model or another n clears the cache, and so does reaching
/// `CANDIDATE_CACHE_ENTRIES`.
#[derive(Default)]
pub struct CandidateCache {
    state: Mutex<Option<CandidateState>>,
}

struct CandidateState {
    model: Weak<LoadedModel>,
    n_items: usize,
    entries: usize,
    lists: HashMap<u32, Arc<Candidates>>,
}

impl std::fmt::Debug for CandidateCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CandidateCache")
    }
}

impl CandidateState {
    /// Whether this state holds the lists of `model` for `n_items`.
    fn holds(&self, model: &Arc<LoadedModel>, n_items: usize) -> bool {
        // A Weak keeps its allocation, so no later model can have the same address.
        self.n_items == n_items && std::ptr::eq(self.model.as_ptr(), Arc::as_ptr(model))
    }
}

impl CandidateCache {
    /// The candidate lists of `users` (top `n_items` unseen by `rec`, the recommender of
    /// `model`): cached ones, and the others computed together in one call.
    #[allow(clippy::too_many_arguments)]
    pub fn lists(
        &self,
        model: &Arc<LoadedModel>,
        rec: &dyn Recommender,
        device: Device,
        n_items: usize,
        users: &[u32],
        cancelled: Cancel<'_>,
    ) -> Result<Vec<Arc<Candidates>>> {
        let found = self.cached(model, n_items, users);
        let missing: Vec<u32> = users
            .iter()
            .zip(&found)
            .filter(|(_, f)| f.is_none())
            .map(|(&u, _)| u)
            .collect();
        if missing.is_empty() {
            return Ok(found.into_iter().flatten().collect());
        }
        let computed = top_k_cancellable(rec, device, n_items, true, &missing, cancelled)?;
        let mut computed = computed.into_iter().map(Arc::new);
        let mut fresh = Vec::with_capacity(missing.len());
        let out: Vec<Arc<Candidates>> = users
            .iter()
            .zip(found)
            .map(|(&u, f)| match f {
                Some(l) => l,
                None => {
                    let l = computed.next().unwrap_or_default();
                    fresh.push((u, l.clone()));
                    l
                }
            })
            .collect();
        self.store(model, n_items, fresh);
        Ok(out)
    }

    /// The cached lists of `users` for `model` and `n_items` (`None` where there is none);
    /// lists of another model or n are dropped.
    fn cached(
        &self,
        model: &Arc<LoadedModel>,
        n_items: usize,
        users: &[u32],
    ) -> Vec<Option<Arc<Candidates>>> {
        let mut found: Vec<Option<Arc<Candidates>>> = vec![None; users.len()];
        if let Ok(mut state) = self.state.lock() {
            if !state.as_ref().is_some_and(|s| s.holds(model, n_items)) {
                *state = None;
            }
            if let Some(s) = state.as_ref() {
                for (f, u) in found.iter_mut().zip(users) {
                    *f = s.lists.get(u).cloned();
                }
            }
        }
        found
    }

    /// Adds lists computed for `model` and `n_items`. The state is checked again: another
    /// thread may have put another model's lists in its place since [`Self::cached`] (two
    /// partitions working on two models), and those must never receive this model's lists.
    fn store(&self, model: &Arc<LoadedModel>, n_items: usize, fresh: Vec<(u32, Arc<Candidates>)>) {
        let Ok(mut state) = self.state.lock() else {
            return;
        };
        if !state.as_ref().is_some_and(|s| s.holds(model, n_items)) {
            *state = Some(CandidateState {
                model: Arc::downgrade(model),
                n_items,
                entries: 0,
                lists: HashMap::new(),
            });
        }
        let Some(s) = state.as_mut() else {
            return;
        };
        let adding: usize = fresh.iter().map(|(_, l)| l.0.len() + 1).sum();
        if s.entries + adding > CANDIDATE_CACHE_ENTRIES {
            s.lists.clear();
            s.entries = 0;
        }
        if adding <= CANDIDATE_CACHE_ENTRIES {
            s.entries += adding;
            s.lists.extend(fresh);
        }
    }
}

/// Fidelity (eq. 5.21) of `method` for each user of `users` at complexity `omega`: see
/// [`fidelity_queries`].
#[allow(clippy::too_many_arguments)]
pub fn fidelity(
    rec: &dyn Recommender,
    device: Device,
    method: Method,
    users: &[u32],
    omega: usize,
    n_items: usize,
    opts: &ExplainOptions,
    pdp_cache: &PdpCache,
    cancelled: Cancel<'_>,
) -> Result<Vec<Option<f64>>> {
    let queries: Vec<(u32, usize)> = users.iter().map(|&u| (u, omega)).collect();
    fidelity_queries(
        rec, device, method, &queries, n_items, opts, pdp_cache, None, cancelled,
    )
}

/// Fidelity (eq. 5.21) of `method` for each (user, ω) of `queries`: the user's top-`n` unseen
/// items by f are the reference list; each item's rebuilt score ĝ_i = θ · T_i (θ of the item
/// for local explainers, of the user for PDP) is the approximation; fidelity = τ_AP,a(f, ĝ).
/// Items with equal f keep the order of the top-n list (τ_AP,a needs a reference without ties).
/// `None` for a user with fewer than 2 candidate items. The queries of one user share its
/// candidate list and, for LIME, its scored perturbations ([`explain_each`]). With `candidates`
/// (a cache and the loaded model `rec` belongs to), candidate lists found for an earlier call
/// are reused.
#[allow(clippy::too_many_arguments)]
pub fn fidelity_queries(
    rec: &dyn Recommender,
    device: Device,
    method: Method,
    queries: &[(u32, usize)],
    n_items: usize,
    opts: &ExplainOptions,
    pdp_cache: &PdpCache,
    candidates: Option<(&CandidateCache, &Arc<LoadedModel>)>,
    cancelled: Cancel<'_>,
) -> Result<Vec<Option<f64>>> {
    // Distinct users in order of first appearance, each with its distinct ωs.
    let mut users: Vec<u32> = Vec::new();
    let mut user_omegas: Vec<Vec<usize>> = Vec::new();
    let mut position = std::collections::HashMap::new();
    for &(u, omega) in queries {
        let p = *position.entry(u).or_insert_with(|| {
            users.push(u);
            user_omegas.push(Vec::new());
            users.len() - 1
        });
        if !user_omegas[p].contains(&omega) {
            user_omegas[p].push(omega);
        }
    }
    let block = FIDELITY_USERS.min(users.len());
    let n_items = n_items.min(rec.data().n_items());
    // The status counts candidate items: n_items per user, fewer for some (shrunk below).
    crate::common::progress::set_total((users.len() * n_items) as u64);
    let most_omegas = user_omegas.iter().map(Vec::len).max().unwrap_or(0);
    // Per block: the score matrix (f64 and the model's f32) over all items; per candidate its
    // row, list entry and ωs, and one explanation of at most the item's tags per ω.
    let max_tags = (0..rec.data().n_items())
        .map(|i| rec.data().t.row(i).0.len())
        .max()
        .unwrap_or(0);
    let largest_omega = user_omegas.iter().flatten().copied().max().unwrap_or(1);
    let entries = if method == Method::Pdp {
        rec.data().n_tags()
    } else {
        max_tags
    }
    .min(largest_omega);
    let per_candidate = 48.0 + most_omegas as f64 * (40.0 + 16.0 * entries as f64);
    crate::engine::check_memory(
        &format!("fidelity over {n_items} candidate items per user"),
        block as f64 * (12.0 * rec.data().n_items() as f64 + n_items as f64 * per_candidate),
        opts.memory_limit,
    )?;
    let mut by_user: Vec<Vec<Option<f64>>> = Vec::with_capacity(users.len());
    for (block_users, block_omegas) in users
        .chunks(FIDELITY_USERS)
        .zip(user_omegas.chunks(FIDELITY_USERS))
    {
        cancelled()?;
        let lists: Vec<Arc<Candidates>> = match candidates {
            Some((cache, model)) => {
                cache.lists(model, rec, device, n_items, block_users, cancelled)?
            }
            None => top_k_cancellable(rec, device, n_items, true, block_users, cancelled)?
                .into_iter()
                .map(Arc::new)
                .collect(),
        };
        let mut rows = Vec::new();
        let mut row_omegas = Vec::new();
        for ((&u, list), omegas) in block_users.iter().zip(&lists).zip(block_omegas) {
            let items = &list.0;
            rows.extend(items.iter().map(|&i| (u, i)));
            row_omegas.extend(std::iter::repeat_n(omegas.clone(), items.len()));
        }
        crate::common::progress::shrink_total((block_users.len() * n_items - rows.len()) as u64);
        let rebuilt = rebuilt_each(
            rec,
            device,
            method,
            &rows,
            &row_omegas,
            opts,
            pdp_cache,
            cancelled,
        )?;
        // Fidelity of each (user, ω).
        let mut at = 0;
        for (list, omegas) in lists.iter().zip(block_omegas) {
            let items = &list.0;
            let g_rows = &rebuilt[at..at + items.len()];
            at += items.len();
            // The reference is the recommender's ranking of the candidates, best first (equal
            // scores in the order the top-n list gives them): τ_AP,a depends only on the
            // reference's order, and so needs no ties in it.
            let reference: Vec<f64> = (0..items.len()).map(|k| (items.len() - k) as f64).collect();
            by_user.push(
                (0..omegas.len())
                    .map(|k| {
                        let g: Vec<f64> = g_rows.iter().map(|per_omega| per_omega[k]).collect();
                        fidelity_of(&reference, &g)
                    })
                    .collect(),
            );
        }
    }
    Ok(queries
        .iter()
        .map(|(u, omega)| {
            let p = position[u];
            let k = user_omegas[p].iter().position(|o| o == omega).unwrap_or(0);
            by_user[p][k]
        })
        .collect())
}

/// τ_AP,a(f, ĝ) with f the reference: `None` for fewer than 2 items, NaN, or ties in f.
pub fn fidelity_of(f: &[f64], g: &[f64]) -> Option<f64> {
    crate::ranking::kernels::tau_ap_a(f, g).ok().flatten()
}
#[cfg(test)]
mod tests {
    use super::*;

    /// A model with nothing in it: the cache only compares models by identity.
    #[derive(Debug)]
    struct Empty;

    impl crate::model::Model for Empty {
        fn describe(&self) -> Vec<(String, String)> {
            Vec::new()
        }

        fn to_bytes(&self) -> Result<Vec<u8>> {
            Ok(Vec::new())
        }
    }

    fn loaded(name: &str) -> Arc<LoadedModel> {
        Arc::new(LoadedModel {
            name: name.to_string(),
            model_type: "empty".to_string(),
            options: Default::default(),
            training: Default::default(),
            model: Box::new(Empty),
        })
    }

    fn list(items: &[u32]) -> Arc<Candidates> {
        Arc::new((items.to_vec(), items.iter().map(|&i| i as f64).collect()))
    }

    /// Two partitions, two models: A looks its users up (nothing), B puts its lists in the
    /// cache, then A stores the lists it computed meanwhile. B's users must still get B's
    /// lists, and A's A's (the cache once handed A's lists to B's users: the fidelity of a
    /// whole batch of users then changed from run to run).
    #[test]
    fn lists_of_one_model_never_serve_another() {
        let cache = CandidateCache::default();
        let (a, b) = (loaded("a"), loaded("b"));
        let users = [1u32, 2, 3];
        assert!(cache.cached(&a, 20, &users).iter().all(Option::is_none));
        assert!(cache.cached(&b, 20, &users).iter().all(Option::is_none));
        cache.store(&b, 20, vec![(1, list(&[10, 11])), (2, list(&[12, 13]))]);
        cache.store(&a, 20, vec![(1, list(&[90, 91])), (3, list(&[92, 93]))]);
        let for_b = cache.cached(&b, 20, &users);
        assert!(
            for_b.iter().all(Option::is_none),
            "B sees lists not its own"
        );
        cache.store(&b, 20, vec![(1, list(&[10, 11]))]);
        let for_b = cache.cached(&b, 20, &users);
        assert_eq!(for_b[0].as_ref().map(|l| l.0.clone()), Some(vec![10, 11]));
        assert!(for_b[1].is_none() && for_b[2].is_none());
        // Another n is another cache too.
        assert!(cache.cached(&b, 10, &users).iter().all(Option::is_none));
        let for_a = cache.cached(&a, 20, &users);
        assert!(for_a.iter().all(Option::is_none));
    }

    #[test]
    fn fidelity_of_perfect_reversed_and_constant_explanations() {
        let f = [5.0, 4.0, 3.5, 2.0, 1.0, 0.5];
        // Any strictly increasing transform of f ranks the items identically.
        let perfect: Vec<f64> = f.iter().map(|x| 3.0 * x - 1.0).collect();
        assert_eq!(fidelity_of(&f, &perfect), Some(1.0));
        let reversed: Vec<f64> = f.iter().map(|x| -x).collect();
        assert_eq!(fidelity_of(&f, &reversed), Some(-1.0));
        // An all-tied ĝ is a random order in expectation: τ_AP,a = 0.
        let tied = [0.0; 6];
        assert!(fidelity_of(&f, &tied).unwrap().abs() < 1e-12);
        // Ties in the reference, or a single item: undefined.
        assert_eq!(fidelity_of(&[1.0, 1.0, 0.0], &[1.0, 2.0, 3.0]), None);
        assert_eq!(fidelity_of(&[1.0], &[1.0]), None);
    }
}
