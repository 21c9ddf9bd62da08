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
                let row = &s[k * n_tags..(k + 1) * n_tags];
                for (t, &v) in row.iter().enumerate() {
                    if tags.binary_search(&(t as u32)).is_err() {
                        theta[t] += v - base[j];
                    }
                }
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
        Ok(top)
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
            crate::common::progress::advance(1);
            Ok(explanation)
        })
        .collect()
}
