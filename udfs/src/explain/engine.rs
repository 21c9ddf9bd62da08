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

use std::collections::HashMap;
use std::sync::Mutex;

use datafusion::error::{DataFusionError, Result};
use tch::{Device, Tensor};

use super::kernels::lime::{self, FeatureSelection};
use super::kernels::select::top_omega_pairs;
use super::kernels::ExplainError;
use crate::common::rng::Rng;
use crate::common::tensors::{index, to_f64_vec, torch_err};
use crate::recsys::recommender::{Cancel, Recommender};
use crate::recsys::tensors::{SparseTags, TagInput};

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

/// Options of the explainers, validated once (the `options` argument of the SQL functions:
/// `'samples = 1000, kernel_width = 25, feature_selection = lasso_path, seed = 7'`).
#[derive(Clone, Debug, PartialEq)]
pub struct ExplainOptions {
    /// LIME: perturbations per explanation, the instance included (lime's default 5000).
    pub samples: usize,
    /// LIME: kernel width σ of π = √exp(−d²/σ²) on cosine distance × 100 (lime's default 25).
    pub kernel_width: f64,
    /// LIME: how the at most ω features are chosen (lime's `auto` by default).
    pub selection: FeatureSelection,
    /// LIME: the ridge penalty α of the surrogate (lime's `Ridge(alpha=1)`; 0 = unpenalised
    /// weighted least squares).
    pub ridge_alpha: f64,
    /// Random and LIME: the seed.
    pub seed: u64,
    /// Not an option of the string: the session's memory limit in bytes
    /// (`trustql.memory_limit`), which the caller sets; LIME checks `samples` against it.
    pub memory_limit: u64,
}

impl Default for ExplainOptions {
    fn default() -> Self {
        ExplainOptions {
            samples: lime::DEFAULT_SAMPLES,
            kernel_width: lime::DEFAULT_KERNEL_WIDTH,
            selection: FeatureSelection::Auto,
            ridge_alpha: lime::SURROGATE_ALPHA,
            seed: 42,
            memory_limit: crate::engine::memory::default_memory_limit(),
        }
    }
}

/// The option names [`ExplainOptions::parse`] accepts, with their meaning.
pub const OPTION_NAMES: [(&str, &str); 5] = [
    (
        "samples",
        "LIME perturbations per explanation, the instance included (5000)",
    ),
    (
        "kernel_width",
        "LIME kernel width σ on cosine distance × 100 (25)",
    ),
    (
        "feature_selection",
        "LIME feature selection: auto, forward_selection, highest_weights, lasso_path, none (auto)",
    ),
    (
        "ridge_alpha",
        "LIME surrogate's ridge penalty α (1, as lime)",
    ),
    ("seed", "seed of Random and LIME (42)"),
];

impl ExplainOptions {
    /// Parses `name = value` pairs separated by commas. Every problem is an error that names it
    /// and the option's position in the list (1-based): an empty entry, an entry that is not
    /// `name = value`, an unknown name, a bad value, or a name given twice (which value was meant
    /// is not clear). An empty or blank string gives the defaults.
    pub fn parse(text: &str) -> std::result::Result<ExplainOptions, String> {
        let mut out = ExplainOptions::default();
        if text.trim().is_empty() {
            return Ok(out);
        }
        let mut seen: Vec<(String, usize)> = Vec::new();
        for (k, raw) in text.split(',').enumerate() {
            let position = k + 1;
            let part = raw.trim();
            let at = format!("option {position} of '{}'", text.trim());
            if part.is_empty() {
                return Err(format!(
                    "{at} is empty (options are name = value pairs separated by commas)"
                ));
            }
            let Some((name, value)) = part.split_once('=') else {
                return Err(format!("{at} ('{part}') is not of the form name = value"));
            };
            let (name, value) = (name.trim().to_ascii_lowercase(), value.trim());
            if name.is_empty() || value.is_empty() {
                return Err(format!("{at} ('{part}') is not of the form name = value"));
            }
            if let Some((_, first)) = seen.iter().find(|(n, _)| *n == name) {
                return Err(format!(
                    "{at}: '{name}' is given twice (options {first} and {position}); give it once"
                ));
            }
            seen.push((name.clone(), position));
            let value = value.trim_matches('\'').trim_matches('"');
            let bad = |msg: String| format!("{at}: {msg}");
            match name.as_str() {
                "samples" => {
                    out.samples =
                        value
                            .parse()
                            .ok()
                            .filter(|&n: &usize| n >= 2)
                            .ok_or_else(|| {
                                bad(format!("samples must be an integer ≥ 2, got '{value}'"))
                            })?
                }
                "kernel_width" => {
                    out.kernel_width = value
                        .parse()
                        .ok()
                        .filter(|&w: &f64| w.is_finite() && w > 0.0)
                        .ok_or_else(|| {
                            bad(format!(
                                "kernel_width must be a positive number, got '{value}'"
                            ))
                        })?
                }
                "feature_selection" => {
                    out.selection = value.parse().map_err(|_| {
                        bad(format!(
                            "feature_selection must be one of auto, forward_selection, \
                             highest_weights, lasso_path, none; got '{value}'"
                        ))
                    })?
                }
                "ridge_alpha" => {
                    out.ridge_alpha = value
                        .parse()
                        .ok()
                        .filter(|&a: &f64| a.is_finite() && a >= 0.0)
                        .ok_or_else(|| {
                            bad(format!("ridge_alpha must be a number ≥ 0, got '{value}'"))
                        })?
                }
                "seed" => {
                    out.seed = value.parse().map_err(|_| {
                        bad(format!(
                            "seed must be a non-negative integer, got '{value}'"
                        ))
                    })?
                }
                _ => {
                    let known: Vec<&str> = OPTION_NAMES.iter().map(|o| o.0).collect();
                    return Err(bad(format!(
                        "unknown option '{name}' (known: {})",
                        known.join(", ")
                    )));
                }
            }
        }
        Ok(out)
    }

    /// An error when LIME's buffers for `rows` rows explained together, whose items have at
    /// most `features` tags, would exceed [`Self::memory_limit`]. Per row the perturbation
    /// matrix (a byte and an f64 per sample and feature, and the surrogate's weighted copy) and
    /// the per-sample vectors (distances, kernel weights, labels); for the rows scored together
    /// the flat sparse rows (20 bytes per kept tag, 8 per sample for the ids) and their labels.
    pub fn check_lime_memory(&self, rows: usize, features: usize) -> Result<()> {
        let (s, d, r) = (self.samples as f64, features as f64, rows as f64);
        let per_row = s * (17.0 * d + 40.0);
        let scored_together = r * s * (20.0 * d + 24.0);
        crate::engine::check_memory(
            &format!("option 'samples' = {}", self.samples),
            per_row + scored_together,
            self.memory_limit,
        )
    }
}

/// An explanation: (tag index, weight), at most ω entries, by decreasing |weight|.
pub type Explanation = Vec<(u32, f64)>;

fn kernel_err(e: ExplainError) -> DataFusionError {
    DataFusionError::Execution(format!("explainer: {e}"))
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

/// Rows of perturbed tag vectors LIME and PDP build before scoring them.
const FORWARD_ROWS: usize = 65_536;

/// Rows per forward pass: bounds a model's per-row temporaries (NCF's hidden layer of 1,024
/// units: 16 MB of f32 per pass) however many rows LIME or PDP build.
const SCORE_ROWS: usize = 4096;

/// Rows of sparse tag vectors built flat, for large batches without per-row allocations.
#[derive(Default)]
struct FlatRows {
    users: Vec<u32>,
    items: Vec<u32>,
    rows: Vec<i64>,
    cols: Vec<i64>,
    vals: Vec<f32>,
}

impl FlatRows {
    fn len(&self) -> usize {
        self.users.len()
    }

    fn is_empty(&self) -> bool {
        self.users.is_empty()
    }

    fn clear(&mut self) {
        self.users.clear();
        self.items.clear();
        self.rows.clear();
        self.cols.clear();
        self.vals.clear();
    }

    /// A row of (tag, weight) entries.
    fn push(&mut self, user: u32, item: u32, entries: impl Iterator<Item = (u32, f32)>) {
        let r = self.users.len() as i64;
        self.users.push(user);
        self.items.push(item);
        for (t, w) in entries {
            self.rows.push(r);
            self.cols.push(t as i64);
            self.vals.push(w);
        }
    }

    /// A row with the tags of `tags`/`weights` plus tag `t` of weight `w` inserted at `pos`.
    #[allow(clippy::too_many_arguments)]
    fn push_switched(
        &mut self,
        user: u32,
        item: u32,
        tags: &[u32],
        weights: &[f32],
        pos: usize,
        t: u32,
        w: f32,
    ) {
        let before = tags[..pos]
            .iter()
            .copied()
            .zip(weights[..pos].iter().copied());
        let after = tags[pos..]
            .iter()
            .copied()
            .zip(weights[pos..].iter().copied());
        self.push(
            user,
            item,
            before.chain(std::iter::once((t, w))).chain(after),
        );
    }

    /// f(u, i, t) of every row, without gradients, in forward passes of [`SCORE_ROWS`] rows.
    fn score(
        &self,
        rec: &dyn Recommender,
        device: Device,
        cancelled: Cancel<'_>,
    ) -> Result<Vec<f64>> {
        let mut out = Vec::with_capacity(self.len());
        // Entries of row r are at rows[starts[r]..starts[r + 1]] (rows are pushed in order).
        let mut at = 0;
        for first in (0..self.len()).step_by(SCORE_ROWS) {
            cancelled()?;
            let last = (first + SCORE_ROWS).min(self.len());
            let end = at + self.rows[at..].partition_point(|&r| (r as usize) < last);
            let rows: Vec<i64> = self.rows[at..end]
                .iter()
                .map(|&r| r - first as i64)
                .collect();
            let tags = TagInput::Sparse(SparseTags {
                rows: Tensor::from_slice(&rows).to_device(device),
                cols: Tensor::from_slice(&self.cols[at..end]).to_device(device),
                vals: Tensor::from_slice(&self.vals[at..end])
                    .to_kind(rec.kind())
                    .to_device(device),
                batch: (last - first) as i64,
            });
            let s = tch::no_grad(|| {
                rec.forward(
                    device,
                    &index(&self.users[first..last], device),
                    &index(&self.items[first..last], device),
                    &tags,
                )
            })?;
            out.extend(to_f64_vec(&s)?);
            at = end;
        }
        Ok(out)
    }
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

/// Rows per backward pass of [`explain_saliency`].
const SALIENCY_ROWS: usize = 2048;

/// Saliency explanations (eq. 5.18): θ = ∂f(u, i, t)/∂t at t = T_i, over the item's own tags,
/// truncated to ω. One backward pass per chunk of rows.
pub fn explain_saliency(
    rec: &dyn Recommender,
    device: Device,
    rows: &[(u32, u32)],
    omega: usize,
    cancelled: Cancel<'_>,
) -> Result<Vec<Explanation>> {
    let data = rec.data();
    let mut out = Vec::with_capacity(rows.len());
    for chunk in rows.chunks(SALIENCY_ROWS) {
        cancelled()?;
        if !rec.uses_tags() {
            // ∂f/∂t = 0: nothing to list.
            out.extend(chunk.iter().map(|_| Vec::new()));
            continue;
        }
        let lists: Vec<(Vec<u32>, Vec<f32>)> = chunk
            .iter()
            .map(|&(_, i)| {
                let (c, v) = data.t.row(i as usize);
                (c.to_vec(), v.to_vec())
            })
            .collect();
        let sparse = SparseTags::from_lists(&lists, rec.kind(), device);
        let vals = sparse.vals.detach().set_requires_grad(true);
        let input = TagInput::Sparse(SparseTags {
            rows: sparse.rows.shallow_clone(),
            cols: sparse.cols.shallow_clone(),
            vals: vals.shallow_clone(),
            batch: sparse.batch,
        });
        let users: Vec<u32> = chunk.iter().map(|r| r.0).collect();
        let items: Vec<u32> = chunk.iter().map(|r| r.1).collect();
        let s = rec.forward(
            device,
            &index(&users, device),
            &index(&items, device),
            &input,
        )?;
        let grads = if s.requires_grad() && vals.numel() > 0 {
            let g = Tensor::f_run_backward(&[s.sum(s.kind())], &[&vals], false, false)
                .map_err(torch_err)?;
            match g.into_iter().next() {
                Some(g) => to_f64_vec(&g)?,
                None => vec![0.0; vals.numel()],
            }
        } else {
            vec![0.0; vals.numel()]
        };
        let mut at = 0;
        for (tags, _) in &lists {
            let pairs = tags
                .iter()
                .zip(&grads[at..at + tags.len()])
                .map(|(&t, &g)| (t, g))
                .collect();
            at += tags.len();
            out.push(truncate(pairs, omega));
        }
    }
    Ok(out)
}

/// LIME explanations (eq. 5.19–5.20), as `lime`'s text explainer over the item's tags: the
/// perturbations of many rows are scored in shared forward passes, then each surrogate is
/// fitted. A perturbed tag vector keeps the weights of the tags it keeps.
pub fn explain_lime(
    rec: &dyn Recommender,
    device: Device,
    rows: &[(u32, u32)],
    omega: usize,
    opts: &ExplainOptions,
    cancelled: Cancel<'_>,
) -> Result<Vec<Explanation>> {
    let omegas = vec![vec![omega]; rows.len()];
    let out = explain_lime_each(rec, device, rows, &omegas, opts, cancelled)?;
    Ok(out.into_iter().flatten().collect())
}

/// LIME explanations of each row at each of its complexities `omegas[row]`: the perturbations
/// and their scores do not depend on ω (they are seeded by the row alone), so they are made and
/// scored once per row, and only the surrogate is fitted once per ω.
pub fn explain_lime_each(
    rec: &dyn Recommender,
    device: Device,
    rows: &[(u32, u32)],
    omegas: &[Vec<usize>],
    opts: &ExplainOptions,
    cancelled: Cancel<'_>,
) -> Result<Vec<Vec<Explanation>>> {
    Ok(lime_each(rec, device, rows, omegas, opts, cancelled)?
        .into_iter()
        .map(|per_omega| per_omega.into_iter().map(|(e, _)| e).collect())
        .collect())
}

/// Σ of `values` in a canonical order (ascending by [`f64::total_cmp`]), so that two equal
/// multisets of terms give bit-identical sums whatever order they come in.
fn canonical_sum(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values.into_iter().sum()
}

/// [`explain_lime_each`], each explanation with its rebuilt score ĝ_i: the sum of the
/// surrogate's coefficients of the tags the explanation keeps, undivided (θ_t · T_i,t with
/// θ_t = c_t / T_i,t is c_t up to rounding, and rounding would make items whose surrogates agree
/// exactly differ by an ulp). Summed in a canonical order, so equal coefficients give equal ĝ.
fn lime_each(
    rec: &dyn Recommender,
    device: Device,
    rows: &[(u32, u32)],
    omegas: &[Vec<usize>],
    opts: &ExplainOptions,
    cancelled: Cancel<'_>,
) -> Result<Vec<Vec<(Explanation, f64)>>> {
    let data = rec.data();
    let mut out: Vec<Vec<(Explanation, f64)>> = Vec::with_capacity(rows.len());
    // Rows are processed in groups whose perturbations fill about FORWARD_ROWS rows.
    let per_group = (FORWARD_ROWS / opts.samples.max(1)).max(1);
    let features = rows
        .iter()
        .map(|&(_, i)| data.t.row(i as usize).0.len())
        .max()
        .unwrap_or(0);
    if features > 0 {
        opts.check_lime_memory(per_group.min(rows.len()), features)?;
    }
    for (group, group_omegas) in rows.chunks(per_group).zip(omegas.chunks(per_group)) {
        cancelled()?;
        let mut perturbed = Vec::with_capacity(group.len());
        let mut batch = FlatRows::default();
        for &(u, i) in group {
            let (tags, weights) = data.t.row(i as usize);
            if tags.is_empty() {
                perturbed.push(None);
                continue;
            }
            let mut rng = Rng::new(row_seed(opts.seed, u, i));
            let z = lime::perturbations(tags.len(), opts.samples, &mut rng).map_err(kernel_err)?;
            for k in 0..z.samples() {
                if k % 65_536 == 65_535 {
                    cancelled()?;
                }
                let kept = tags
                    .iter()
                    .zip(weights)
                    .zip(z.row(k))
                    .filter(|(_, &on)| on)
                    .map(|((&t, &w), _)| (t, w));
                batch.push(u, i, kept);
            }
            perturbed.push(Some(z));
        }
        let labels = batch.score(rec, device, cancelled)?;
        drop(batch);
        let mut at = 0;
        for ((&(_, i), z), row_omegas) in group.iter().zip(perturbed).zip(group_omegas) {
            cancelled()?;
            let Some(z) = z else {
                out.push(vec![(Vec::new(), 0.0); row_omegas.len()]);
                continue;
            };
            let y = &labels[at..at + z.samples()];
            at += z.samples();
            let (tags, weights) = data.t.row(i as usize);
            let w = lime::kernel_weights(&lime::cosine_distances(&z), opts.kernel_width)
                .map_err(kernel_err)?;
            let x = z.to_matrix();
            drop(z);
            let explanations =
                lime::explain_each_omega(&x, y, &w, row_omegas, opts.selection, opts.ridge_alpha)
                    .map_err(kernel_err)?;
            let mut per_omega = Vec::with_capacity(row_omegas.len());
            for (e, &omega) in explanations.iter().zip(row_omegas) {
                // The surrogate's coefficient is the effect of the whole tag (switching it from
                // its weight to 0); per unit of weight, like the other explainers, it is divided
                // by the weight, so that θ · T_i rebuilds the surrogate's score.
                let whole: Vec<(u32, f64)> = e
                    .coefficients
                    .iter()
                    .filter(|&&(f, _)| weights[f] > 0.0)
                    .map(|&(f, c)| (tags[f], c))
                    .collect();
                let per_unit: Vec<(u32, f64)> = e
                    .coefficients
                    .iter()
                    .filter(|&&(f, _)| weights[f] > 0.0)
                    .map(|&(f, c)| (tags[f], c / weights[f] as f64))
                    .collect();
                let kept = truncate(per_unit, omega);
                // ĝ from the undivided coefficients of the tags the explanation keeps.
                let g = canonical_sum(
                    kept.iter()
                        .filter_map(|&(t, _)| {
                            whole.iter().find(|&&(wt, _)| wt == t).map(|&(_, c)| c)
                        })
                        .collect(),
                );
                per_omega.push((kept, g));
            }
            out.push(per_omega);
        }
    }
    Ok(out)
}

/// The weight a PDP gives a tag it switches on in an item that does not have it.
pub const PDP_SWITCHED_ON_WEIGHT: f32 = super::kernels::pdp::SWITCHED_ON_WEIGHT as f32;

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
#[derive(Default)]
pub struct PdpCache {
    entries: Mutex<HashMap<(usize, u32), std::sync::Arc<Explanation>>>,
}

impl PdpCache {
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
            if omega > PDP_CACHE_TOP {
                let theta = pdp_theta(rec, device, u, cancelled)?;
                let pairs = theta
                    .iter()
                    .enumerate()
                    .map(|(t, &w)| (t as u32, w))
                    .collect();
                return Ok(truncate(pairs, omega));
            }
            let top = cache.top(rec, device, u, cancelled)?;
            Ok(top.iter().take(omega).copied().collect())
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
        Method::Random => Ok(explain_random(rec, rows, omega, opts)),
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
        rec, device, method, &queries, n_items, opts, pdp_cache, cancelled,
    )
}

/// Fidelity (eq. 5.21) of `method` for each (user, ω) of `queries`: the user's top-`n` unseen
/// items by f are the reference list; each item's rebuilt score ĝ_i = θ · T_i (θ of the item
/// for local explainers, of the user for PDP) is the approximation; fidelity = τ_AP,a(f, ĝ).
/// Items with equal f keep the order of the top-n list (τ_AP,a needs a reference without ties).
/// `None` for a user with fewer than 2 candidate items. The queries of one user share its
/// candidate list and, for LIME, its scored perturbations ([`explain_each`]).
#[allow(clippy::too_many_arguments)]
pub fn fidelity_queries(
    rec: &dyn Recommender,
    device: Device,
    method: Method,
    queries: &[(u32, usize)],
    n_items: usize,
    opts: &ExplainOptions,
    pdp_cache: &PdpCache,
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
        let lists = crate::recsys::recommend::top_k_cancellable(
            rec,
            device,
            n_items,
            true,
            block_users,
            cancelled,
        )?;
        let mut rows = Vec::new();
        let mut row_omegas = Vec::new();
        for ((&u, (items, _)), omegas) in block_users.iter().zip(&lists).zip(block_omegas) {
            rows.extend(items.iter().map(|&i| (u, i)));
            row_omegas.extend(std::iter::repeat_n(omegas.clone(), items.len()));
        }
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
        for ((items, _), omegas) in lists.iter().zip(block_omegas) {
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

    #[test]
    fn options_parse_and_reject() {
        let o = ExplainOptions::parse(
            "samples = 100, kernel_width=10, feature_selection = 'lasso_path', seed=7",
        )
        .unwrap();
        assert_eq!(o.samples, 100);
        assert_eq!(o.kernel_width, 10.0);
        assert_eq!(o.selection, FeatureSelection::LassoPath);
        assert_eq!(o.seed, 7);
        assert_eq!(
            ExplainOptions::parse("").unwrap(),
            ExplainOptions::default()
        );
        for (bad, needle) in [
            ("samples = 1", "samples"),
            ("kernel_width = -2", "kernel_width"),
            ("feature_selection = best", "feature_selection"),
            ("seed = x", "seed"),
            ("depth = 3", "unknown option 'depth'"),
            ("samples", "name = value"),
        ] {
            let e = ExplainOptions::parse(bad).unwrap_err();
            assert!(e.contains(needle), "{bad}: {e}");
        }
        // Every error names the option's position; a repeated name, an empty entry, a missing
        // name or value are errors too (a repeated seed used to keep one of the two silently).
        for (bad, message) in [
            (
                "seed=1,seed=2",
                "option 2 of 'seed=1,seed=2': 'seed' is given twice (options 1 and 2); give it once",
            ),
            (
                "samples = 10, SEED = 1, seed = 1",
                "option 3 of 'samples = 10, SEED = 1, seed = 1': 'seed' is given twice (options 2 and 3); give it once",
            ),
            (
                "seed = 1,, samples = 10",
                "option 2 of 'seed = 1,, samples = 10' is empty (options are name = value pairs separated by commas)",
            ),
            (
                "seed = 1,",
                "option 2 of 'seed = 1,' is empty (options are name = value pairs separated by commas)",
            ),
            ("= 3", "option 1 of '= 3' ('= 3') is not of the form name = value"),
            ("seed =", "option 1 of 'seed =' ('seed =') is not of the form name = value"),
            (
                "seed = 1, samples 10",
                "option 2 of 'seed = 1, samples 10' ('samples 10') is not of the form name = value",
            ),
            (
                "seed = 1, depth = 3",
                "option 2 of 'seed = 1, depth = 3': unknown option 'depth' (known: samples, kernel_width, feature_selection, ridge_alpha, seed)",
            ),
            (
                "samples = 2.5",
                "option 1 of 'samples = 2.5': samples must be an integer ≥ 2, got '2.5'",
            ),
        ] {
            assert_eq!(ExplainOptions::parse(bad).unwrap_err(), message, "{bad}");
        }
        // Blank strings are the defaults.
        assert_eq!(
            ExplainOptions::parse("  ").unwrap(),
            ExplainOptions::default()
        );
    }

    #[test]
    fn lime_memory_estimate_by_hand() {
        let opts = ExplainOptions {
            samples: 1000,
            memory_limit: 1 << 30,
            ..Default::default()
        };
        // 65 rows scored together, items of at most 10 tags:
        // 1000 · (17·10 + 40) + 65 · 1000 · (20·10 + 24) = 210,000 + 14,560,000 bytes.
        assert!(opts.check_lime_memory(65, 10).is_ok());
        let tight = ExplainOptions {
            memory_limit: 14_770_000 - 1,
            ..opts.clone()
        };
        let e = tight.check_lime_memory(65, 10).unwrap_err().to_string();
        assert!(
            e.contains("option 'samples' = 1000 needs about 14.1 MiB"),
            "{e}"
        );
        let exact = ExplainOptions {
            memory_limit: 14_770_000,
            ..opts
        };
        assert!(exact.check_lime_memory(65, 10).is_ok());
    }

    #[test]
    fn row_seeds_differ_and_repeat() {
        assert_eq!(row_seed(42, 1, 2), row_seed(42, 1, 2));
        assert_ne!(row_seed(42, 1, 2), row_seed(42, 2, 1));
        assert_ne!(row_seed(42, 1, 2), row_seed(43, 1, 2));
    }
}
