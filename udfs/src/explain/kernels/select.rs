//! Truncating an explanation to complexity `ω`, and rebuilding the explainer's score from it.
//!
//! SPEC §6 (thesis §5.3.2) compares explainers at a fixed complexity: only the `ω` entries of
//! `θ` with the largest magnitude stay non-zero (explainers that cannot enforce this themselves,
//! such as saliency, PDP and random, are truncated after the fact), and the explainer's score for
//! an item is `ĝ_i = θ · T_i`, the dot product with the item's (N-hot, possibly weighted) tag
//! row. Fidelity then ranks items by `ĝ`. Both steps are here so that every explainer truncates
//! and scores the same way.

use super::{check_finite, invalid, ExplainError};

/// The `ω` entries of `weights` with the largest `|weight|`, as `(index, weight)` sorted by
/// decreasing `|weight|`, ties to the lower index. Zero and NaN weights are never kept, so fewer
/// than `ω` entries come back when fewer are non-zero; `ω = 0` gives none.
pub fn top_omega(weights: &[f64], omega: usize) -> Vec<(usize, f64)> {
    let entries: Vec<(usize, f64)> = weights.iter().copied().enumerate().collect();
    top_omega_pairs(&entries, omega)
}

/// [`top_omega`] for an explanation already given as `(index, weight)` pairs (for instance
/// LIME's surrogate): the `ω` pairs of largest `|weight|`, ties to the lower index, zero and NaN
/// weights dropped.
pub fn top_omega_pairs(entries: &[(usize, f64)], omega: usize) -> Vec<(usize, f64)> {
    let mut kept: Vec<(usize, f64)> = entries
        .iter()
        .copied()
        .filter(|&(_, w)| w != 0.0 && !w.is_nan())
        .collect();
    let order =
        |a: &(usize, f64), b: &(usize, f64)| b.1.abs().total_cmp(&a.1.abs()).then(a.0.cmp(&b.0));
    if omega == 0 {
        return Vec::new();
    }
    if kept.len() > omega {
        kept.select_nth_unstable_by(omega - 1, order);
        kept.truncate(omega);
        // Kept explanations (PDP's per-user cache) would otherwise hold the capacity of every
        // entry: 190 KB instead of 16 KB per Last.fm user.
        kept.shrink_to_fit();
    }
    kept.sort_by(order);
    kept
}

/// A sparse explanation `θ`, indexed by tag, for evaluating `ĝ_i = θ · T_i` on many items.
#[derive(Clone, Debug, PartialEq)]
pub struct SparseTheta {
    /// Tag indices, strictly increasing.
    indices: Vec<usize>,
    /// `θ` for each tag of `indices`.
    values: Vec<f64>,
}

impl SparseTheta {
    /// Builds `θ` from `(tag, weight)` pairs in any order. Errors when a tag appears twice or a
    /// weight is not finite.
    pub fn new(entries: &[(usize, f64)]) -> Result<SparseTheta, ExplainError> {
        let mut sorted = entries.to_vec();
        sorted.sort_by_key(|&(t, _)| t);
        if let Some(pair) = sorted.windows(2).find(|p| p[0].0 == p[1].0) {
            return invalid(format!(
                "tag {} appears twice in the explanation",
                pair[0].0
            ));
        }
        let (indices, values): (Vec<usize>, Vec<f64>) = sorted.into_iter().unzip();
        check_finite(&values, "explanation")?;
        Ok(SparseTheta { indices, values })
    }

    /// The `ω`-truncation of a dense `θ` (see [`top_omega`]).
    pub fn top_omega(weights: &[f64], omega: usize) -> Result<SparseTheta, ExplainError> {
        SparseTheta::new(&top_omega(weights, omega))
    }

    /// Number of non-zero entries.
    pub fn len(&self) -> usize {
        self.indices.len()
    }

    /// Whether `θ` is all zero.
    pub fn is_empty(&self) -> bool {
        self.indices.is_empty()
    }

    /// `θ_tag` (zero when absent).
    pub fn get(&self, tag: usize) -> f64 {
        match self.indices.binary_search(&tag) {
            Ok(p) => self.values[p],
            Err(_) => 0.0,
        }
    }

    /// The entries as `(tag, weight)`, by increasing tag.
    pub fn entries(&self) -> impl Iterator<Item = (usize, f64)> + '_ {
        self.indices
            .iter()
            .copied()
            .zip(self.values.iter().copied())
    }

    /// `ĝ_i = θ · T_i` for an item's sparse tag row (`tag_indices[k]` has weight
    /// `tag_weights[k]`, any order; a repeated tag counts once per occurrence, as in a sparse
    /// vector given in coordinate form). The sum runs in row order. Errors when the lengths
    /// differ or a weight is not finite.
    pub fn score(&self, tag_indices: &[usize], tag_weights: &[f64]) -> Result<f64, ExplainError> {
        if tag_indices.len() != tag_weights.len() {
            return invalid(format!(
                "{} tag indices but {} tag weights",
                tag_indices.len(),
                tag_weights.len()
            ));
        }
        check_finite(tag_weights, "tag weights")?;
        Ok(tag_indices
            .iter()
            .zip(tag_weights)
            .map(|(&t, w)| self.get(t) * w)
            .sum())
    }
}

/// `ĝ_i = θ · T_i` for a sparse `θ` (`(tag, weight)` pairs, any order, no repeated tag) and an
/// item's sparse tag row. For many items, build a [`SparseTheta`] once instead.
pub fn reconstruct(
    theta: &[(usize, f64)],
    tag_indices: &[usize],
    tag_weights: &[f64],
) -> Result<f64, ExplainError> {
    SparseTheta::new(theta)?.score(tag_indices, tag_weights)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::common::rng::Rng;

    #[test]
    fn kept_pairs_do_not_hold_the_capacity_of_all_entries() {
        // PDP's cache keeps one such list per user and model: with the input's capacity it held
        // 190 KB per Last.fm user instead of 16 KB.
        let entries: Vec<(usize, f64)> = (0..10_000).map(|t| (t, t as f64 + 1.0)).collect();
        let kept = top_omega_pairs(&entries, 20);
        assert_eq!(kept.len(), 20);
        assert!(kept.capacity() < 100, "capacity {}", kept.capacity());
        assert_eq!(kept[0], (9_999, 10_000.0));
    }

    /// Brute force: repeatedly take the first index with the largest remaining magnitude.
    fn brute_top(weights: &[f64], omega: usize) -> Vec<(usize, f64)> {
        let mut taken = vec![false; weights.len()];
        let mut out = Vec::new();
        for _ in 0..omega {
            let mut best: Option<usize> = None;
            for (i, w) in weights.iter().enumerate() {
                if taken[i] || *w == 0.0 || w.is_nan() {
                    continue;
                }
                if best.is_none_or(|b| w.abs() > weights[b].abs()) {
                    best = Some(i);
                }
            }
            match best {
                Some(b) => {
                    taken[b] = true;
                    out.push((b, weights[b]));
                }
                None => break,
            }
        }
        out
    }

    #[test]
    fn top_omega_keeps_largest_magnitudes() {
        let w = [0.5, -3.0, 0.0, 2.0, -0.1, 3.0];
        assert_eq!(top_omega(&w, 3), vec![(1, -3.0), (5, 3.0), (3, 2.0)]);
        assert_eq!(top_omega(&w, 0), vec![]);
        // Zero weights are dropped even when omega allows more.
        assert_eq!(top_omega(&w, 10).len(), 5);
        assert_eq!(top_omega(&[0.0, 0.0], 2), vec![]);
        assert_eq!(top_omega(&[f64::NAN, 1.0], 2), vec![(1, 1.0)]);
        assert_eq!(top_omega(&[], 3), vec![]);
    }

    #[test]
    fn top_omega_matches_brute_force() {
        let mut rng = Rng::new(9);
        for _ in 0..300 {
            let n = rng.below(40) as usize;
            // Few distinct values, so ties (and sign-only differences) are common.
            let w: Vec<f64> = (0..n).map(|_| (rng.below(7) as f64 - 3.0) * 0.5).collect();
            let omega = rng.below(12) as usize;
            assert_eq!(top_omega(&w, omega), brute_top(&w, omega), "{w:?} {omega}");
        }
    }

    #[test]
    fn top_omega_pairs_breaks_ties_by_index() {
        let pairs = [(7, 1.0), (2, -1.0), (5, 0.0), (4, 2.0)];
        assert_eq!(top_omega_pairs(&pairs, 2), vec![(4, 2.0), (2, -1.0)]);
    }

    #[test]
    fn reconstruct_is_the_sparse_dot_product() {
        let theta = [(9, 0.5), (2, -1.0), (4, 2.0)];
        // Item tags 2 (w 1), 3 (w 1), 9 (w 0.25): −1 + 0 + 0.125.
        let g = reconstruct(&theta, &[2, 3, 9], &[1.0, 1.0, 0.25]).unwrap();
        assert!((g - (-0.875)).abs() < 1e-15);
        assert_eq!(reconstruct(&theta, &[], &[]).unwrap(), 0.0);
        assert!(reconstruct(&theta, &[1], &[]).is_err());
        assert!(reconstruct(&[(1, 1.0), (1, 2.0)], &[1], &[1.0]).is_err());
        assert!(reconstruct(&[(1, f64::NAN)], &[1], &[1.0]).is_err());
    }

    #[test]
    fn sparse_theta_matches_dense_dot() {
        let mut rng = Rng::new(21);
        for _ in 0..100 {
            let n_tags = 1 + rng.below(50) as usize;
            let dense: Vec<f64> = (0..n_tags).map(|_| rng.normal()).collect();
            let omega = 1 + rng.below(10) as usize;
            let theta = SparseTheta::top_omega(&dense, omega).unwrap();
            let mut truncated = vec![0.0; n_tags];
            for (t, w) in theta.entries() {
                truncated[t] = w;
            }
            assert_eq!(theta.len(), omega.min(n_tags));
            let idx: Vec<usize> = (0..n_tags).filter(|_| rng.next_f64() < 0.3).collect();
            let wts: Vec<f64> = idx.iter().map(|_| rng.next_f64()).collect();
            let dot: f64 = idx.iter().zip(&wts).map(|(&t, w)| truncated[t] * w).sum();
            let g = theta.score(&idx, &wts).unwrap();
            assert!((g - dot).abs() < 1e-12);
        }
    }
}
