//! The user-level partial-dependence explanation (SPEC §6; thesis eq. 5.16–5.17).
//!
//! Partial dependence measures a feature's marginal effect on the model's output by averaging
//! over the other features' observed values. In the thesis the average runs over the items of
//! one user's history, so the explanation is global at the user level: one `θ` per user, over
//! all tags, used to score every candidate item (`ĝ_i = θ · T_i`). SPEC §6 fixes the estimate as
//! an average effect of switching a tag on:
//!
//! ```text
//! θ_t = (1 / |I_u|) Σ_{j ∈ I_u} [ f(u, j, T_j with tag t switched on) − f(u, j, T_j) ]
//! ```
//!
//! ("Switched on" is defined in [`switch_on`]: an absent tag is added with weight 1, a present
//! tag is left as it is, whatever its weight, so its difference is 0.) Subtracting `f(u, j, T_j)`
//! (eq. 5.17 averages `f` itself) changes every `θ_t` by the same per-user constant; with it,
//! `θ_t` is the tag's average marginal effect, and for a model additive in the tags it is exactly
//! the tag's effect times the fraction of history items that lack it.
//!
//! The model evaluations are the caller's (it batches them through the network); [`pdp_theta`]
//! takes them as flat slices, and [`pdp_with_model`] drives a scoring closure for small cases
//! and tests.

use super::{check_finite, invalid, ExplainError};

/// The weight a switched-on tag gets (tags are N-hot).
pub const SWITCHED_ON_WEIGHT: f64 = 1.0;

/// An owned sparse tag row: `(tag indices, tag weights)`.
pub type TagRow = (Vec<usize>, Vec<f64>);

/// `θ_t` for `n_tags` tags from one user's scores.
///
/// `base[j] = f(u, j, T_j)` for the `n = base.len()` history items; `switched` is `n_tags × n`,
/// tag-major: `switched[t · n + j] = f(u, j, T_j with tag t switched on)` (for an item that
/// already has tag `t`, pass `base[j]`). Returns `θ_t = mean_j (switched[t · n + j] − base[j])`,
/// summed in item order. Errors when the history is empty, the lengths disagree, or a score is
/// not finite.
pub fn pdp_theta(base: &[f64], switched: &[f64], n_tags: usize) -> Result<Vec<f64>, ExplainError> {
    let n = base.len();
    if n == 0 {
        return invalid("the user's history is empty: partial dependence is undefined");
    }
    if n_tags.checked_mul(n) != Some(switched.len()) {
        return invalid(format!(
            "{} switched-on scores for {n_tags} tags × {n} history items",
            switched.len()
        ));
    }
    check_finite(base, "base scores")?;
    check_finite(switched, "switched-on scores")?;
    let inv_n = 1.0 / n as f64;
    Ok(switched
        .chunks_exact(n)
        .map(|row| row.iter().zip(base).map(|(s, b)| s - b).sum::<f64>() * inv_n)
        .collect())
}

/// The tag row `T_j` with `tag` switched on: `None` when the tag is already present (any
/// weight; the row is unchanged and its difference is 0, so the model need not be called),
/// otherwise the row with `tag` added with weight [`SWITCHED_ON_WEIGHT`], at its sorted position
/// if `tag_indices` is strictly increasing, appended otherwise. Errors when the lengths differ.
pub fn switch_on(
    tag_indices: &[usize],
    tag_weights: &[f64],
    tag: usize,
) -> Result<Option<TagRow>, ExplainError> {
    if tag_indices.len() != tag_weights.len() {
        return invalid(format!(
            "{} tag indices but {} tag weights",
            tag_indices.len(),
            tag_weights.len()
        ));
    }
    if tag_indices.contains(&tag) {
        return Ok(None);
    }
    let sorted = tag_indices.windows(2).all(|p| p[0] < p[1]);
    let at = if sorted {
        tag_indices.partition_point(|&t| t < tag)
    } else {
        tag_indices.len()
    };
    let mut indices = tag_indices.to_vec();
    let mut weights = tag_weights.to_vec();
    indices.insert(at, tag);
    weights.insert(at, SWITCHED_ON_WEIGHT);
    Ok(Some((indices, weights)))
}

/// `θ_t` for each tag of `tags` by calling `model(j, tag_indices, tag_weights)` for history item
/// `j` (`history[j]` is its sparse tag row): once per item for `f(u, j, T_j)`, and once per item
/// and tag that the item lacks. Returns `θ` in the order of `tags`. Errors like [`pdp_theta`],
/// or when the model returns a non-finite score.
pub fn pdp_with_model<F>(
    history: &[(&[usize], &[f64])],
    tags: &[usize],
    mut model: F,
) -> Result<Vec<f64>, ExplainError>
where
    F: FnMut(usize, &[usize], &[f64]) -> f64,
{
    let n = history.len();
    let base: Vec<f64> = history
        .iter()
        .enumerate()
        .map(|(j, (idx, w))| model(j, idx, w))
        .collect();
    let mut switched = Vec::with_capacity(tags.len() * n);
    for &t in tags {
        for (j, (idx, w)) in history.iter().enumerate() {
            match switch_on(idx, w, t)? {
                None => switched.push(base[j]),
                Some((on_idx, on_w)) => switched.push(model(j, &on_idx, &on_w)),
            }
        }
    }
    pdp_theta(&base, &switched, tags.len())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::common::rng::Rng;

    #[test]
    fn pdp_theta_matches_brute_force_loop() {
        let mut rng = Rng::new(17);
        for _ in 0..50 {
            let n = 1 + rng.below(20) as usize;
            let n_tags = rng.below(15) as usize;
            let base: Vec<f64> = (0..n).map(|_| rng.normal()).collect();
            let switched: Vec<f64> = (0..n * n_tags).map(|_| rng.normal()).collect();
            let theta = pdp_theta(&base, &switched, n_tags).unwrap();
            assert_eq!(theta.len(), n_tags);
            for (t, th) in theta.iter().enumerate() {
                let mut total = 0.0;
                for j in 0..n {
                    total += switched[t * n + j] - base[j];
                }
                let expected = total / n as f64;
                assert!((th - expected).abs() < 1e-12, "{th} vs {expected}");
            }
        }
    }

    /// An additive model: f(u, j, T) = bias_j + Σ_t effect_t · T_t.
    fn additive<'a>(
        bias: &'a [f64],
        effect: &'a [f64],
    ) -> impl Fn(usize, &[usize], &[f64]) -> f64 + 'a {
        move |j, idx, w| bias[j] + idx.iter().zip(w).map(|(&t, x)| effect[t] * x).sum::<f64>()
    }

    #[test]
    fn additive_model_recovers_tag_effects() {
        let effect = [0.5, -2.0, 1.25, 3.0, -0.75, 0.0];
        let bias = [10.0, -1.0, 0.3, 2.0];
        // History items use tags 0..3 only; tag 1 appears in two of the four items (once with
        // an N-hot weight of 0.5), tag 0 in one.
        let rows: Vec<TagRow> = vec![
            (vec![0, 1], vec![1.0, 0.5]),
            (vec![1], vec![1.0]),
            (vec![2], vec![1.0]),
            (vec![], vec![]),
        ];
        let history: Vec<(&[usize], &[f64])> = rows
            .iter()
            .map(|(i, w)| (i.as_slice(), w.as_slice()))
            .collect();
        let tags: Vec<usize> = (0..effect.len()).collect();
        let theta = pdp_with_model(&history, &tags, additive(&bias, &effect)).unwrap();
        // Tags absent from every history item: θ_t is exactly the tag's effect.
        for t in [3, 4, 5] {
            assert!(
                (theta[t] - effect[t]).abs() < 1e-12,
                "tag {t}: {}",
                theta[t]
            );
        }
        // Otherwise: effect × fraction of items lacking the tag.
        assert!((theta[0] - effect[0] * 3.0 / 4.0).abs() < 1e-12);
        assert!((theta[1] - effect[1] * 2.0 / 4.0).abs() < 1e-12);
        assert!((theta[2] - effect[2] * 3.0 / 4.0).abs() < 1e-12);
    }

    #[test]
    fn flat_kernel_agrees_with_model_driver() {
        let mut rng = Rng::new(4);
        let n_tags = 12;
        let effect: Vec<f64> = (0..n_tags).map(|_| rng.normal()).collect();
        let bias: Vec<f64> = (0..8).map(|_| rng.normal()).collect();
        let rows: Vec<TagRow> = (0..8)
            .map(|_| {
                let idx: Vec<usize> = (0..n_tags).filter(|_| rng.next_f64() < 0.3).collect();
                let w = idx.iter().map(|_| 1.0).collect();
                (idx, w)
            })
            .collect();
        let history: Vec<(&[usize], &[f64])> = rows
            .iter()
            .map(|(i, w)| (i.as_slice(), w.as_slice()))
            .collect();
        let tags: Vec<usize> = (0..n_tags).collect();
        // A non-additive model (interaction between tags 0 and 1, and a non-linearity).
        let model = |j: usize, idx: &[usize], w: &[f64]| {
            let lin: f64 = bias[j] + idx.iter().zip(w).map(|(&t, x)| effect[t] * x).sum::<f64>();
            let inter = if idx.contains(&0) && idx.contains(&1) {
                2.0
            } else {
                0.0
            };
            lin.tanh() + inter
        };
        let driven = pdp_with_model(&history, &tags, model).unwrap();
        let base: Vec<f64> = history
            .iter()
            .enumerate()
            .map(|(j, (i, w))| model(j, i, w))
            .collect();
        let mut switched = Vec::new();
        for &t in &tags {
            for (j, (i, w)) in history.iter().enumerate() {
                let (mut i2, mut w2) = (i.to_vec(), w.to_vec());
                if !i2.contains(&t) {
                    i2.push(t);
                    w2.push(1.0);
                }
                switched.push(model(j, &i2, &w2));
            }
        }
        let flat = pdp_theta(&base, &switched, n_tags).unwrap();
        for (a, b) in driven.iter().zip(&flat) {
            assert!((a - b).abs() < 1e-12);
        }
    }

    #[test]
    fn switch_on_rules() {
        assert_eq!(switch_on(&[1, 4], &[1.0, 0.5], 4).unwrap(), None);
        assert_eq!(
            switch_on(&[1, 4], &[1.0, 0.5], 2).unwrap(),
            Some((vec![1, 2, 4], vec![1.0, 1.0, 0.5]))
        );
        assert_eq!(
            switch_on(&[4, 1], &[1.0, 0.5], 2).unwrap(),
            Some((vec![4, 1, 2], vec![1.0, 0.5, 1.0]))
        );
        assert_eq!(switch_on(&[], &[], 0).unwrap(), Some((vec![0], vec![1.0])));
        assert!(switch_on(&[1], &[], 0).is_err());
    }

    #[test]
    fn rejects_bad_input() {
        assert!(pdp_theta(&[], &[], 0).is_err());
        assert!(pdp_theta(&[1.0, 2.0], &[1.0, 2.0, 3.0], 2).is_err());
        assert!(pdp_theta(&[1.0], &[f64::INFINITY], 1).is_err());
        assert!(pdp_theta(&[f64::NAN], &[1.0], 1).is_err());
        assert_eq!(pdp_theta(&[1.0, 2.0], &[], 0).unwrap(), Vec::<f64>::new());
        let history: Vec<(&[usize], &[f64])> = vec![];
        assert!(pdp_with_model(&history, &[0], |_, _, _| 0.0).is_err());
    }
}
