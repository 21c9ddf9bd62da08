//! PDP: the user-level partial dependence of the score on each tag (a closed form where the
//! model has one, otherwise switched-on tag vectors scored in batches), cached per (model, user).

use std::collections::HashMap;
use std::sync::Mutex;

use datafusion::error::{DataFusionError, Result};
use tch::{Device, Tensor};

use super::batch::{FlatRows, FORWARD_ROWS};
use super::{truncate, Explanation};
use crate::common::tensors::to_f64_vec;
use crate::model::LoadedModel;
use crate::recsys::recommender::{Cancel, Recommender};

/// The weight a PDP gives a tag it switches on in an item that does not have it.
pub const PDP_SWITCHED_ON_WEIGHT: f32 = crate::explain::kernels::pdp::SWITCHED_ON_WEIGHT as f32;

/// The user-level PDP θ over every tag (eq. 5.16–5.17 as SPEC §6 reads them): θ_t = mean over
/// the items j of the user's history of f(u, j, T_j with tag t switched on) − f(u, j, T_j). A tag
/// j already has contributes 0 for that item; "switched on" adds the tag with weight
/// [`PDP_SWITCHED_ON_WEIGHT`]. A user without history has θ = 0.
pub fn pdp_theta(
    rec: &dyn Recommender,
    device: Device,
    user: u32,
    cancelled: Cancel<'_>,
) -> Result<Vec<f64>> {
    let mut thetas = pdp_thetas(rec, device, &[user], cancelled, &|_, _| {})?;
    thetas
        .pop()
        .ok_or_else(|| DataFusionError::Internal("pdp: no θ for the user".into()))
}

/// How far each user's θ has got in [`pdp_thetas`]: called with the user's position in `users`
/// and the fraction of the work for that user done (1 when its θ is complete), from any thread.
pub type PdpProgress<'a> = &'a (dyn Fn(usize, f64) + Sync);

/// [`pdp_theta`] of each of `users`. On the CPU, with a model that has
/// [`Recommender::switch_on_scores_many`] (uNN), all of them in one pass over the model's tables
/// (uNN builds its users × tags table once per block of tags for all of them, where user by user
/// it would build it once per user); otherwise user by user. The same numbers either way: θ_t
/// sums over the user's history in its order. `progress` hears of each user's part as it is done.
pub fn pdp_thetas(
    rec: &dyn Recommender,
    device: Device,
    users: &[u32],
    cancelled: Cancel<'_>,
    progress: PdpProgress<'_>,
) -> Result<Vec<Vec<f64>>> {
    let data = rec.data();
    let n_tags = data.n_tags();
    if let Some(&u) = users.iter().find(|&&u| u as usize >= data.n_users()) {
        return Err(DataFusionError::Execution(format!(
            "pdp: user index {u} out of range"
        )));
    }
    let weight = PDP_SWITCHED_ON_WEIGHT as f64;
    // Whether the model has the form for many users (asked with none: no work).
    let many = device == Device::Cpu
        && n_tags > 0
        && rec.uses_tags()
        && rec.switch_on_scores_many(&[], weight, cancelled, &|_, _, _, _| Ok(()))?;
    if !many {
        return users
            .iter()
            .enumerate()
            .map(|(n, &u)| {
                let theta = pdp_theta_one(rec, device, u, cancelled)?;
                progress(n, 1.0);
                Ok(theta)
            })
            .collect();
    }
    // Users with history, their items and the unswitched scores f(u, j, T_j).
    let with_history: Vec<(usize, (u32, &[u32]))> = users
        .iter()
        .enumerate()
        .map(|(n, &u)| (n, (u, data.r.row(u as usize).0)))
        .filter(|(_, (_, h))| !h.is_empty())
        .collect();
    let lists: Vec<(u32, &[u32])> = with_history.iter().map(|&(_, l)| l).collect();
    let (mut pair_users, mut pair_items, mut first) = (Vec::new(), Vec::new(), Vec::new());
    for &(u, h) in &lists {
        first.push(pair_users.len());
        pair_users.extend(std::iter::repeat_n(u, h.len()));
        pair_items.extend_from_slice(h);
    }
    cancelled()?;
    let base = crate::recsys::recommender::score_pairs_cancellable(
        rec,
        device,
        &pair_users,
        &pair_items,
        cancelled,
    )?;
    // Per user: the sums of θ and how many tags of all its items are done.
    let sums: Vec<Mutex<(Vec<f64>, usize)>> = lists
        .iter()
        .map(|_| Mutex::new((vec![0.0; n_tags], 0)))
        .collect();
    rec.switch_on_scores_many(&lists, weight, cancelled, &|n, j, t0, row| {
        let (_, items) = lists[n];
        let b = base[first[n] + j];
        let (tags, _) = data.t.row(items[j] as usize);
        let mut sum = sums[n]
            .lock()
            .map_err(|_| DataFusionError::Internal("pdp: a thread panicked".into()))?;
        let (theta, done) = &mut *sum;
        add_switched_row(theta, t0, row, tags, b);
        if j + 1 == items.len() {
            *done += row.len();
            progress(with_history[n].0, *done as f64 / n_tags as f64);
        }
        Ok(())
    })?;
    let mut thetas = vec![vec![0.0; n_tags]; users.len()];
    for ((n, (_, items)), sum) in with_history.iter().zip(sums) {
        let (mut theta, _) = sum
            .into_inner()
            .map_err(|_| DataFusionError::Internal("pdp: a thread panicked".into()))?;
        let len = items.len() as f64;
        theta.iter_mut().for_each(|x| *x /= len);
        thetas[*n] = theta;
    }
    (0..users.len()).for_each(|n| progress(n, 1.0));
    Ok(thetas)
}

/// Adds an item's switched-on scores `row` (tags `t0..t0 + row.len()`) less its unswitched score
/// `base` to the sums of θ, except at the item's own tags `own` (sorted), which contribute 0.
fn add_switched_row(theta: &mut [f64], t0: usize, row: &[f64], own: &[u32], base: f64) {
    let mut pos = own.partition_point(|&t| (t as usize) < t0);
    for (q, &v) in row.iter().enumerate() {
        let t = t0 + q;
        while pos < own.len() && (own[pos] as usize) < t {
            pos += 1;
        }
        if pos < own.len() && own[pos] as usize == t {
            continue;
        }
        theta[t] += v - base;
    }
}

/// [`pdp_theta`] for one user, with [`Recommender::switch_on_scores`] where the model has it and
/// through [`Recommender::forward`] otherwise.
fn pdp_theta_one(
    rec: &dyn Recommender,
    device: Device,
    user: u32,
    cancelled: Cancel<'_>,
) -> Result<Vec<f64>> {
    let data = rec.data();
    let n_tags = data.n_tags();
    let mut theta = vec![0.0; n_tags];
    let (history, _) = data.r.row(user as usize);
    if history.is_empty() || n_tags == 0 || !rec.uses_tags() {
        return Ok(theta);
    }
    cancelled()?;
    let base =
        crate::recsys::recommender::score_pairs(rec, device, &vec![user; history.len()], history)?;
    // A closed form where the model has one, in blocks of history items (the first block's
    // answer says whether there is one).
    const BLOCK: usize = 256;
    let weight = PDP_SWITCHED_ON_WEIGHT as f64;
    let mut blocks = history.chunks(BLOCK).enumerate();
    let first = match blocks.next() {
        Some((_, block)) => rec.switch_on_scores(device, user, block, weight, cancelled)?,
        None => None,
    };
    if let Some(first) = first {
        let mut add = |b: usize, block: &[u32], s: &Tensor| -> Result<()> {
            let s = to_f64_vec(s)?;
            for (k, &item) in block.iter().enumerate() {
                let j = b * BLOCK + k;
                let (tags, _) = data.t.row(item as usize);
                add_switched_row(
                    &mut theta,
                    0,
                    &s[k * n_tags..(k + 1) * n_tags],
                    tags,
                    base[j],
                );
            }
            Ok(())
        };
        add(0, &history[..history.len().min(BLOCK)], &first)?;
        for (b, block) in blocks {
            cancelled()?;
            let s = rec
                .switch_on_scores(device, user, block, weight, cancelled)?
                .ok_or_else(|| {
                    DataFusionError::Internal("switch_on_scores answered only some blocks".into())
                })?;
            add(b, block, &s)?;
        }
        let n = history.len() as f64;
        theta.iter_mut().for_each(|x| *x /= n);
        return Ok(theta);
    }
    // Rows (user, history item j with tag t switched on), built flat (no per-row allocation)
    // and scored in forward passes of about FORWARD_ROWS rows.
    let mut batch = FlatRows::default();
    let mut target: Vec<(usize, usize)> = Vec::new();
    let mut flush = |batch: &mut FlatRows, target: &mut Vec<(usize, usize)>| -> Result<()> {
        cancelled()?;
        let scores = batch.score(rec, device, cancelled)?;
        for (&(t, j), s) in target.iter().zip(scores) {
            theta[t] += s - base[j];
        }
        batch.clear();
        target.clear();
        Ok(())
    };
    for (j, &item) in history.iter().enumerate() {
        let (tags, weights) = data.t.row(item as usize);
        let mut pos = 0;
        for t in 0..n_tags as u32 {
            while pos < tags.len() && tags[pos] < t {
                pos += 1;
            }
            if pos < tags.len() && tags[pos] == t {
                continue;
            }
            batch.push_switched(user, item, tags, weights, pos, t, PDP_SWITCHED_ON_WEIGHT);
            target.push((t as usize, j));
            if batch.len() >= FORWARD_ROWS {
                flush(&mut batch, &mut target)?;
            }
        }
    }
    if !batch.is_empty() {
        flush(&mut batch, &mut target)?;
    }
    let n = history.len() as f64;
    theta.iter_mut().for_each(|x| *x /= n);
    Ok(theta)
}

/// How many of a user's PDP weights the cache keeps (the largest |θ|): explanations with
/// ω ≤ this are served from the cache; larger ω recompute.
pub const PDP_CACHE_TOP: usize = 1024;

/// Users whose PDP weights the cache holds, per process.
const PDP_CACHE_USERS: usize = 16_384;

impl std::fmt::Debug for PdpCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PdpCache")
    }
}

/// A cache of PDP explanations by (model identity, user): PDP is user-level, so every item and
/// every ω of a user share one computation. Bounded: cleared when full.
///
/// A model is identified by the address of its data while it is loaded; the functions that own
/// a cache [`bind`](PdpCache::bind) the loaded model before using it, so that a model dropped or
/// replaced (whose successor may get the same address) loses its entries.
#[derive(Default)]
pub struct PdpCache {
    entries: Mutex<HashMap<(usize, u32), std::sync::Arc<Explanation>>>,
    models: Mutex<HashMap<usize, std::sync::Weak<LoadedModel>>>,
}

impl PdpCache {
    /// Declares that `rec` is the recommender of `model` from now on: the entries of an earlier
    /// model at the same address are dropped.
    pub fn bind(&self, model: &std::sync::Arc<LoadedModel>, rec: &dyn Recommender) {
        let address = rec.data() as *const _ as usize;
        let Ok(mut models) = self.models.lock() else {
            return;
        };
        // A Weak keeps its allocation, so no later model can have the same address.
        let same = models
            .get(&address)
            .is_some_and(|w| std::ptr::eq(w.as_ptr(), std::sync::Arc::as_ptr(model)));
        if !same {
            // Entries of an earlier model at this address, and of models no longer loaded
            // (dropped from the registry's cache), go.
            models.retain(|&a, w| a != address && w.strong_count() > 0);
            if let Ok(mut map) = self.entries.lock() {
                map.retain(|&(a, _), _| models.contains_key(&a));
            }
            models.insert(address, std::sync::Arc::downgrade(model));
        }
    }

    /// The largest-|θ| [`PDP_CACHE_TOP`] PDP weights of `user` (computed on a miss).
    pub fn top(
        &self,
        rec: &dyn Recommender,
        device: Device,
        user: u32,
        cancelled: Cancel<'_>,
    ) -> Result<std::sync::Arc<Explanation>> {
        // The model's data address identifies it while it is loaded.
        let key = (rec.data() as *const _ as usize, user);
        if let Ok(map) = self.entries.lock() {
            if let Some(e) = map.get(&key) {
                return Ok(e.clone());
            }
        }
        let theta = pdp_theta(rec, device, user, cancelled)?;
        Ok(self.insert(key, &theta))
    }

    /// Those of `users` whose PDP weights the cache does not hold, sorted and distinct.
    pub fn missing(&self, rec: &dyn Recommender, users: &[u32]) -> Vec<u32> {
        let address = rec.data() as *const _ as usize;
        let mut missing: Vec<u32> = match self.entries.lock() {
            Ok(map) => users
                .iter()
                .copied()
                .filter(|&u| !map.contains_key(&(address, u)))
                .collect(),
            Err(_) => users.to_vec(),
        };
        missing.sort_unstable();
        missing.dedup();
        missing
    }

    /// Computes and keeps the PDP weights of `users`, all in one [`pdp_thetas`] call (`progress`
    /// as there).
    pub fn fill(
        &self,
        rec: &dyn Recommender,
        device: Device,
        users: &[u32],
        cancelled: Cancel<'_>,
        progress: PdpProgress<'_>,
    ) -> Result<()> {
        if users.is_empty() {
            return Ok(());
        }
        let address = rec.data() as *const _ as usize;
        let thetas = pdp_thetas(rec, device, users, cancelled, progress)?;
        for (&u, theta) in users.iter().zip(&thetas) {
            self.insert((address, u), theta);
        }
        Ok(())
    }

    /// Keeps the largest-|θ| [`PDP_CACHE_TOP`] weights of `theta` under `key`.
    fn insert(&self, key: (usize, u32), theta: &[f64]) -> std::sync::Arc<Explanation> {
        let pairs = theta
            .iter()
            .enumerate()
            .map(|(t, &w)| (t as u32, w))
            .collect();
        let top = std::sync::Arc::new(truncate(pairs, PDP_CACHE_TOP));
        if let Ok(mut map) = self.entries.lock() {
            if map.len() >= PDP_CACHE_USERS {
                map.clear();
            }
            map.insert(key, top.clone());
        }
        top
    }
}

/// PDP explanations of rows (user-level: the item only selects nothing; every row of a user
/// gets the user's θ truncated to ω).
pub fn explain_pdp(
    rec: &dyn Recommender,
    device: Device,
    rows: &[(u32, u32)],
    omega: usize,
    cache: &PdpCache,
    cancelled: Cancel<'_>,
) -> Result<Vec<Explanation>> {
    // Users whose rows were counted as done while their θ was computed.
    let mut counted: std::collections::HashSet<u32> = Default::default();
    if omega <= PDP_CACHE_TOP {
        // Every user of the rows at once (uNN builds its big table once for all of them); each
        // user's rows count as done in step with its θ, from the threads that compute it.
        let users: Vec<u32> = rows.iter().map(|&(u, _)| u).collect();
        let missing = cache.missing(rec, &users);
        let mut rows_of: std::collections::HashMap<u32, u64> = Default::default();
        for &u in &users {
            *rows_of.entry(u).or_insert(0) += 1;
        }
        let meter = crate::common::progress::current();
        let credited: Mutex<Vec<u64>> = Mutex::new(vec![0; missing.len()]);
        let progress = |n: usize, done: f64| {
            let (Some(meter), Some(u)) = (&meter, missing.get(n)) else {
                return;
            };
            let rows = rows_of.get(u).copied().unwrap_or(0);
            let target = (done.clamp(0.0, 1.0) * rows as f64).floor() as u64;
            if let Ok(mut c) = credited.lock() {
                if target > c[n] {
                    meter.advance(target - c[n]);
                    c[n] = target;
                }
            }
        };
        cache.fill(rec, device, &missing, cancelled, &progress)?;
        counted.extend(missing.iter().copied());
    }
    rows.iter()
        .map(|&(u, _)| {
            cancelled()?;
            let explanation = if omega > PDP_CACHE_TOP {
                let theta = pdp_theta(rec, device, u, cancelled)?;
                let pairs = theta
                    .iter()
                    .enumerate()
                    .map(|(t, &w)| (t as u32, w))
                    .collect();
                truncate(pairs, omega)
            } else {
                let top = cache.top(rec, device, u, cancelled)?;
                top.iter().take(omega).copied().collect()
            };
            if !counted.contains(&u) {
                crate::common::progress::advance(1);
            }
            Ok(explanation)
        })
        .collect()
}
