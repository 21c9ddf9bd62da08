//! The arithmetic of recommender evaluation, on plain slices: nDCG with binary relevance,
//! entropy diversity (eDiv, nDiv), and the hash and count rule of the per-user holdout split.
//!
//! # Why this module exists
//!
//! The SQL functions `ndcg`, `ndiv`, `ediv` and `holdout_split` are Arrow adapters around these
//! pure functions, which know nothing about Arrow or SQL, so that the formulas of the thesis
//! (§5.3.1, eq. 5.13–5.14) can be tested against hand-computed values on their own.
//!
//! # Definitions
//!
//! - [`ndcg`]: with binary relevance rel_r ∈ {0, 1} of the item at rank r,
//!   DCG@k = Σ_{r=1..min(k, len)} rel_r / log2(r + 1), IDCG@k = Σ_{r=1..min(k, R)} 1 / log2(r + 1)
//!   with R the number of distinct relevant items, nDCG@k = DCG@k / IDCG@k ∈ [0, 1].
//!   An item counts as relevant only at its first occurrence in the recommended list; a `None`
//!   entry (an unknown item) takes its rank but is never relevant.
//! - [`ediv`] and [`ndiv`] (thesis eq. 5.13–5.14): over N recommendation rows in which item j
//!   occurs c_j times, q_j = c_j / N, eDiv = −Σ_j q_j ln q_j and nDiv = eDiv / ln N ∈ [0, 1].
//!   With N = p·|U'| (every user's top-p list complete, no item twice in one list) q_j is the
//!   thesis' "number of users who have item j, normalised by the number of top-p items".
//! - [`split_hash`] and [`test_count`]: the order of a user's rows and the number of test rows
//!   of the holdout split (see their documentation).

use std::collections::HashSet;
use std::hash::Hash;

use crate::model::KeyRef;

/// nDCG@k of a ranked list against a set of relevant items (binary relevance).
///
/// `recommended` is in rank order (rank 1 first); `relevant` may contain duplicates (counted
/// once). Returns `None` when `relevant` is empty (IDCG = 0, nDCG undefined). `k` must be
/// positive; `k = 0` also gives `None`. A `k` beyond the list's length cuts nothing.
pub fn ndcg<T: Eq + Hash>(recommended: &[Option<T>], relevant: &[T], k: usize) -> Option<f64> {
    let relevant: HashSet<&T> = relevant.iter().collect();
    if relevant.is_empty() || k == 0 {
        return None;
    }
    let mut seen: HashSet<&T> = HashSet::new();
    let mut dcg = 0.0;
    for (r, item) in recommended.iter().take(k).enumerate() {
        if let Some(item) = item {
            if relevant.contains(item) && seen.insert(item) {
                dcg += discount(r);
            }
        }
    }
    let ideal: f64 = (0..k.min(relevant.len())).map(discount).sum();
    Some((dcg / ideal).clamp(0.0, 1.0))
}

/// 1 / log2(rank + 1) for the 0-based position `r` (rank r + 1).
fn discount(r: usize) -> f64 {
    1.0 / ((r + 2) as f64).log2()
}

/// Entropy diversity eDiv = −Σ q_j ln q_j (natural logarithm) of the item counts `counts`
/// (q_j = c_j / N, N = Σ c_j). Zero counts are ignored. `None` when N = 0; 0 when one item
/// takes every row. The result does not depend on the order of `counts`.
pub fn ediv(counts: &[u64]) -> Option<f64> {
    entropy(counts).map(|(e, _)| e)
}

/// Normalised entropy diversity nDiv = eDiv / ln N ∈ [0, 1] (thesis eq. 5.14). `None` when
/// N ≤ 1 (ln N = 0). 1 when every row has a different item.
pub fn ndiv(counts: &[u64]) -> Option<f64> {
    let (e, n) = entropy(counts)?;
    if n <= 1 {
        return None;
    }
    Some((e / (n as f64).ln()).clamp(0.0, 1.0))
}

/// (eDiv, N), summing the terms in increasing count order so that the rounding, too, does not
/// depend on the order in which the counts arrive.
fn entropy(counts: &[u64]) -> Option<(f64, u64)> {
    let mut sorted: Vec<u64> = counts.iter().copied().filter(|&c| c > 0).collect();
    let n: u64 = sorted.iter().sum();
    if n == 0 {
        return None;
    }
    sorted.sort_unstable();
    let nf = n as f64;
    // Folded from +0.0: a single item gives −(1 · ln 1) = −0.0, which must print as 0.
    let e = sorted.iter().fold(0.0, |e, &c| {
        let q = c as f64 / nf;
        e - q * q.ln()
    });
    Some((e.max(0.0), n))
}

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;

/// The SplitMix64 output function of `x` (Steele, Lea & Flood 2014): z = x + 0x9E3779B97F4A7C15,
/// z = (z ^ z >> 30) · 0xBF58476D1CE4E5B9, z = (z ^ z >> 27) · 0x94D049BB133111EB, z ^ z >> 31,
/// all wrapping modulo 2^64.
pub fn splitmix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

fn fnv1a(mut h: u64, bytes: &[u8]) -> u64 {
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(FNV_PRIME);
    }
    h
}

fn absorb(h: u64, key: KeyRef<'_>) -> u64 {
    match key {
        KeyRef::Int(v) => fnv1a(fnv1a(h, &[1]), &v.to_le_bytes()),
        KeyRef::Text(s) => {
            let h = fnv1a(h, &[2]);
            let h = fnv1a(h, &(s.len() as u64).to_le_bytes());
            fnv1a(h, s.as_bytes())
        }
    }
}

/// The 64-bit hash that orders a user's rows in the holdout split.
///
/// FNV-1a (64-bit; prime 0x100000001B3) started from the offset basis 0xCBF29CE484222325 XOR
/// [`splitmix64`]`(seed)`, fed with the user id and then the item id, each encoded as
/// - an integer id: the byte 0x01 followed by its 8 little-endian bytes (as i64);
/// - a text id: the byte 0x02, its UTF-8 length in bytes as 8 little-endian bytes (u64), and
///   its UTF-8 bytes;
///
/// and finished with [`splitmix64`]. It depends on nothing but its arguments (no process-random
/// state), so a split is the same on every machine and in every version.
pub fn split_hash(seed: u64, user: KeyRef<'_>, item: KeyRef<'_>) -> u64 {
    let h = FNV_OFFSET ^ splitmix64(seed);
    splitmix64(absorb(absorb(h, user), item))
}

/// A uniform number in [0, 1) determined by `seed` and `key` alone: the top 53 bits of
/// [`split_hash`]'s construction fed with the key only (FNV-1a from the offset basis XOR
/// [`splitmix64`]`(seed)`, the key encoded as there, finished with [`splitmix64`]), times 2⁻⁵³.
/// Ordering keys by it and keeping the first n is a seeded uniform sample without replacement.
pub fn key_uniform(seed: u64, key: KeyRef<'_>) -> f64 {
    let h = splitmix64(absorb(FNV_OFFSET ^ splitmix64(seed), key));
    (h >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
}

/// The number of test rows of a user with `n` rows: round(ratio · n), halves rounded up (away
/// from zero), at most n − 1 so that the user keeps a training row (0 when n ≤ 1).
/// `ratio` must be in [0, 1).
pub fn test_count(n: usize, ratio: f64) -> usize {
    if n <= 1 {
        return 0;
    }
    let t = (ratio * n as f64).round();
    if t <= 0.0 {
        0
    } else {
        (t as usize).min(n - 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-12
    }

    // Discounts by hand: 1/log2(2) = 1, 1/log2(3) = 0.63092975357145743710,
    // 1/log2(4) = 0.5, 1/log2(5) = 0.43067655807339306, 1/log2(6) = 0.38685280723454163.
    const D3: f64 = 0.630_929_753_571_457_4;
    const D5: f64 = 0.430_676_558_073_393_06;

    #[test]
    fn ndcg_perfect_and_empty_hits() {
        assert_eq!(ndcg(&[Some(1), Some(2)], &[1, 2], 2), Some(1.0));
        assert_eq!(ndcg(&[Some(1), Some(2)], &[3], 2), Some(0.0));
        assert_eq!(ndcg::<i32>(&[], &[3], 5), Some(0.0));
    }

    #[test]
    fn ndcg_hand_values() {
        // hit at rank 3 only; one relevant item: DCG = 1/log2(4) = 0.5, IDCG = 1.
        assert_eq!(ndcg(&[Some(1), Some(2), Some(3)], &[3], 3), Some(0.5));
        // hits at ranks 1 and 3, two relevant: (1 + 0.5) / (1 + D3).
        let v = ndcg(&[Some("a"), Some("b"), Some("c")], &["a", "c"], 3);
        assert!(close(v.unwrap_or(f64::NAN), 1.5 / (1.0 + D3)));
        // three relevant items but k = 2: IDCG over min(k, 3) = 2 ranks; hit at rank 2 only.
        let v = ndcg(&[Some(9), Some(5), Some(7)], &[5, 7, 8], 2);
        assert!(close(v.unwrap_or(f64::NAN), D3 / (1.0 + D3)));
        // hit at rank 4 of 5, one relevant item.
        let v = ndcg(&[Some(1), Some(2), Some(3), Some(4), Some(5)], &[4], 5);
        assert!(close(v.unwrap_or(f64::NAN), D5));
    }

    #[test]
    fn ndcg_k_cuts_the_list_and_may_exceed_it() {
        // the only hit is at rank 3, beyond k = 2.
        assert_eq!(ndcg(&[Some(1), Some(2), Some(3)], &[3], 2), Some(0.0));
        // k = 100 beyond a list of 2: DCG = 1 (rank 1); IDCG over min(100, 2 relevant) = 1 + D3.
        let v = ndcg(&[Some(1), Some(2)], &[1, 3], 100);
        assert!(close(v.unwrap_or(f64::NAN), 1.0 / (1.0 + D3)));
    }

    #[test]
    fn ndcg_duplicates_count_once() {
        // item 1 at ranks 1 and 2: only rank 1 counts; relevant {1, 2}, hit 2 at rank 3.
        let v = ndcg(&[Some(1), Some(1), Some(2)], &[1, 2], 3);
        assert!(close(v.unwrap_or(f64::NAN), 1.5 / (1.0 + D3)));
        // a duplicated relevant item cannot push nDCG above 1.
        assert_eq!(ndcg(&[Some(1), Some(1)], &[1], 2), Some(1.0));
        // duplicates in the relevant list count once: relevant is {1}, IDCG = 1.
        let v = ndcg(&[Some(2), Some(1)], &[1, 1, 1], 2);
        assert!(close(v.unwrap_or(f64::NAN), D3));
    }

    #[test]
    fn ndcg_unknown_entries_take_a_rank() {
        // None at rank 1, hit at rank 2.
        let v = ndcg(&[None, Some(1)], &[1], 2);
        assert!(close(v.unwrap_or(f64::NAN), D3));
    }

    #[test]
    fn ndcg_undefined_without_relevant_items() {
        assert_eq!(ndcg(&[Some(1)], &[], 3), None);
        assert_eq!(ndcg(&[Some(1)], &[1], 0), None);
    }

    #[test]
    fn entropy_hand_values() {
        // four distinct items once each: eDiv = ln 4, nDiv = 1.
        assert!(close(ediv(&[1, 1, 1, 1]).unwrap_or(f64::NAN), 4f64.ln()));
        assert!(close(ndiv(&[1, 1, 1, 1]).unwrap_or(f64::NAN), 1.0));
        // counts 2, 1, 1 (N = 4): q = 1/2, 1/4, 1/4; eDiv = ln2/2 + 2·ln4/4 = 1.5 ln 2;
        // nDiv = 1.5 ln 2 / ln 4 = 0.75.
        assert!(close(ediv(&[2, 1, 1]).unwrap_or(f64::NAN), 1.5 * 2f64.ln()));
        assert!(close(ndiv(&[1, 2, 1]).unwrap_or(f64::NAN), 0.75));
        // counts 3, 1 (N = 4): eDiv = −(3/4 ln 3/4 + 1/4 ln 1/4) = 0.5623351446188083.
        assert!(close(
            ediv(&[3, 1]).unwrap_or(f64::NAN),
            0.562_335_144_618_808_3
        ));
        // one item takes all rows: no diversity (a positive zero, not −0).
        assert_eq!(ediv(&[4]).map(f64::to_bits), Some(0f64.to_bits()));
        assert_eq!(ndiv(&[4]).map(f64::to_bits), Some(0f64.to_bits()));
        assert_eq!(ediv(&[1]).map(f64::to_bits), Some(0f64.to_bits()));
    }

    #[test]
    fn entropy_edge_cases() {
        assert_eq!(ediv(&[]), None);
        assert_eq!(ediv(&[0, 0]), None);
        assert_eq!(ndiv(&[]), None);
        // N = 1: eDiv = 0, nDiv undefined (ln 1 = 0).
        assert_eq!(ediv(&[1]), Some(0.0));
        assert_eq!(ndiv(&[1, 0]), None);
        // zero counts change nothing.
        assert_eq!(ndiv(&[2, 0, 1, 1]), ndiv(&[2, 1, 1]));
    }

    #[test]
    fn entropy_does_not_depend_on_count_order() {
        let a = [7, 1, 3, 3, 12, 1, 5, 2];
        let mut b = a;
        b.reverse();
        assert_eq!(ediv(&a), ediv(&b));
        assert_eq!(ndiv(&a), ndiv(&b));
    }

    #[test]
    fn splitmix64_reference_values() {
        // The first outputs of the SplitMix64 generator seeded with 0 (state advanced by the
        // golden gamma before mixing), as published with the reference C implementation.
        assert_eq!(splitmix64(0), 0xe220_a839_7b1d_cdaf);
        assert_eq!(splitmix64(0x9e37_79b9_7f4a_7c15), 0x6e78_9e6a_a1b9_65f4);
    }

    const SPLIT_HASH_42_2_51: u64 = 0x6cbd_1332_a78a_5a2b;
    const SPLIT_HASH_7_ALICE_SONG: u64 = 0x30dd_1546_696c_d964;

    #[test]
    fn split_hash_reference_values() {
        // Computed independently with a Python transcription of the documented byte encoding.
        assert_eq!(
            split_hash(42, KeyRef::Int(2), KeyRef::Int(51)),
            SPLIT_HASH_42_2_51
        );
        assert_eq!(
            split_hash(7, KeyRef::Text("alice"), KeyRef::Text("song")),
            SPLIT_HASH_7_ALICE_SONG
        );
    }

    #[test]
    fn split_hash_separates_its_inputs() {
        let h = split_hash(1, KeyRef::Int(1), KeyRef::Int(2));
        assert_ne!(h, split_hash(2, KeyRef::Int(1), KeyRef::Int(2)));
        assert_ne!(h, split_hash(1, KeyRef::Int(2), KeyRef::Int(1)));
        assert_ne!(h, split_hash(1, KeyRef::Text("1"), KeyRef::Int(2)));
        // the length prefix keeps ("ab", "c") and ("a", "bc") apart.
        assert_ne!(
            split_hash(1, KeyRef::Text("ab"), KeyRef::Text("c")),
            split_hash(1, KeyRef::Text("a"), KeyRef::Text("bc"))
        );
    }

    #[test]
    fn test_count_rounds_half_up_and_keeps_a_training_row() {
        assert_eq!(test_count(0, 0.5), 0);
        assert_eq!(test_count(1, 0.9), 0);
        assert_eq!(test_count(2, 0.25), 1); // 0.5 rounds up
        assert_eq!(test_count(2, 0.2), 0); // 0.4
        assert_eq!(test_count(2, 0.9), 1); // 1.8 → 2, clamped to n − 1
        assert_eq!(test_count(10, 0.2), 2);
        assert_eq!(test_count(10, 0.25), 3); // 2.5 rounds up
        assert_eq!(test_count(10, 0.0), 0);
        assert_eq!(test_count(3, 0.99), 2); // 2.97 → 3, clamped
        assert_eq!(test_count(7, 0.3), 2); // 2.1
    }

    #[test]
    fn key_uniform_is_the_hash_of_its_definition_and_looks_uniform() {
        // The definition spelled out by hand for the integer key 7 and seed 3.
        let mut h: u64 = 0xcbf2_9ce4_8422_2325 ^ splitmix64(3);
        for b in std::iter::once(1u8).chain(7i64.to_le_bytes()) {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
        let expected = (splitmix64(h) >> 11) as f64 / 9_007_199_254_740_992.0;
        assert_eq!(key_uniform(3, KeyRef::Int(7)), expected);
        assert_ne!(key_uniform(4, KeyRef::Int(7)), expected);
        assert_ne!(key_uniform(3, KeyRef::Text("7")), expected);
        // 20,000 consecutive ids: mean near 1/2, every tenth of [0, 1) near 2,000 (a chi-square
        // with 9 degrees of freedom far below its 0.999 quantile, 27.9), none outside [0, 1).
        let n = 20_000;
        let mut bins = [0usize; 10];
        let mut sum = 0.0;
        for id in 0..n {
            let x = key_uniform(42, KeyRef::Int(id));
            assert!((0.0..1.0).contains(&x));
            sum += x;
            bins[(x * 10.0) as usize] += 1;
        }
        assert!((sum / n as f64 - 0.5).abs() < 0.01);
        let e = n as f64 / 10.0;
        let chi2: f64 = bins.iter().map(|&c| (c as f64 - e).powi(2) / e).sum();
        assert!(chi2 < 27.9, "chi-square {chi2}, bins {bins:?}");
    }
}
