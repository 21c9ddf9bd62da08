//! Numeric kernels for rank correlation between two equally long lists of scores.
//!
//! # Why this module exists
//!
//! The trustql engine scores the *fidelity* of an explanation by how well the ranking rebuilt
//! from the explanation agrees with the ranking the model actually produced. The SQL functions
//! `tau_ap`, `tau_ap_a`, `tau_ap_b`, `kendall_tau_b` and `spearman` (and their aggregate forms)
//! are thin Arrow/SQL adapters around the pure functions of this module, which work on plain
//! `&[f64]` slices and know nothing about Arrow or SQL. Keeping the arithmetic here makes it
//! testable on its own and lets it be benchmarked against the straightforward reference
//! implementations in [`naive`].
//!
//! # Conventions (all five coefficients)
//!
//! - **Higher score = better rank.** Item `i` has scores `x[i]` and `y[i]`. A list is turned
//!   into a ranking by sorting its scores in *descending* order: position 1 holds the highest
//!   score.
//! - **Roles.** For the asymmetric AP coefficients `x` is the *reference* (true) list and `y` the
//!   *estimate*; positions are taken from `y`, and concordance is judged against `x`.
//! - **Validation order.** Every function checks, in this order:
//!   1. the lengths differ → [`RankError::LengthMismatch`];
//!   2. a NaN is present → [`RankError::NaN`] for the *first* NaN, all of `x` being scanned
//!      before `y` (`list` is 1 for `x`, 2 for `y`; `index` is 0-based, the message 1-based);
//!   3. fewer than 2 items → `Ok(None)` (a correlation of fewer than two items is undefined);
//!   4. ties the coefficient does not define: [`tau_ap`] rejects ties in `x`
//!      ([`RankError::TiesInReference`], checked first) and then ties in `y`
//!      ([`RankError::TiesInEstimate`]); [`tau_ap_a`] rejects ties in `x` only; [`tau_ap_b`],
//!      [`kendall_tau_b`] and [`spearman`] accept ties in both lists;
//!   5. a zero denominator (0/0) → `Ok(None)`: [`kendall_tau_b`] and [`spearman`] when every
//!      value of one list is tied, [`tau_ap_b`] when every value of one list is tied (its
//!      one-way coefficient then has no item outside the top tie group to average over).
//!      [`tau_ap`] and [`tau_ap_a`] have no such case (their only denominators are `n − 1` and
//!      positions `i − 1 ≥ 1`): an all-tied `y` gives `tau_ap_a = 0`, the expected τ_AP of a
//!      uniformly random order (each `C(i)/(i−1)` has expectation ½), which is also what the
//!      reference `tauAP_a` of ircor computes.
//! - **Equality.** Values are compared numerically, so `-0.0` and `+0.0` are tied. Infinite
//!   values are allowed and rank as the most extreme scores. Sorting uses [`f64::total_cmp`]
//!   after the NaN check, with `-0.0` first normalised to `+0.0` so that the sort order and
//!   numeric equality agree.
//! - **NULLs** are not represented here: the caller drops them (or the pairs containing them)
//!   before calling.
//! - **Range.** Every coefficient lies in `[-1, 1]`; results are clamped to that interval so
//!   that floating-point rounding can never push them a few ulps outside it.
//!
//! # Definitions
//!
//! Let `n` be the number of items.
//!
//! - [`tau_ap`] (Yilmaz, Aslam & Robertson, SIGIR 2008). Sort the items by `y` descending; let
//!   `C(i)` be the number of items at positions `1..i-1` whose `x` is greater than the `x` of
//!   the item at position `i`. Then `tau_AP = 2/(n-1) · Σ_{i=2..n} C(i)/(i-1) − 1`. Defined
//!   only without ties in either list.
//! - [`tau_ap_a`] (Urbano & Marrero, ICTIR 2017, `tau_AP,a`). Ties are allowed in `y` only. It
//!   is the expectation of `tau_ap(x, y')` over all uniformly random tie-breakings `y'` of `y`
//!   (every ordering of every tie group equally likely, groups independent).
//! - [`tau_ap_b`] (Urbano & Marrero, ICTIR 2017, `tau_AP,b`). Ties are allowed in both lists and
//!   the coefficient is symmetric: `tau_ap_b(x, y) = (t(x|y) + t(y|x)) / 2`, where the one-way
//!   `t(a|b)` groups the items into tie groups of `b` ordered by decreasing `b`; for every item
//!   `i` outside the top group, `P_i` is the number of items in strictly higher groups of `b`
//!   and `C_i` the number of those whose `a` is strictly greater than `a_i` (a tie in `a` is not
//!   concordant); with `N'` the number of items outside the top group,
//!   `t(a|b) = 2/N' · Σ_i C_i/P_i − 1`. Without ties this is `(tau_ap(x,y) + tau_ap(y,x)) / 2`.
//!   This is the definition implemented by `tauAP_b` and its helper `tauAP_b_ties` in
//!   julian-urbano/ircor (`R/tauAP.R`; `tauap_b_ties` in the Python port eldrin/pyircor), there
//!   in O(n²); here in O(n log n).
//! - [`kendall_tau_b`]: `(n_c − n_d) / sqrt((n0 − n1)(n0 − n2))`, with `n_c`/`n_d` the
//!   concordant/discordant pairs, `n0 = n(n−1)/2`, and `n1`, `n2` the numbers of pairs tied in
//!   `x`, respectively `y`.
//! - [`spearman`]: the Pearson correlation of the average ("fractional") ranks of `x` and `y`;
//!   tied values get the mean of the ranks they span.
//!
//! # Complexity
//!
//! The functions at the top level are O(n log n) time and O(n) memory (a constant number of
//! allocations per call, none per item): two sorts plus a Fenwick tree for the AP family, Knight's
//! merge-sort algorithm for Kendall, one sort per list for Spearman. The per-tie-group terms of
//! `tau_ap_a` and `tau_ap_b` cost O(g) for a group of size g, O(n) in total.
//!
//! ## How `tau_ap_a` is computed exactly
//!
//! Sort by `y` descending into tie groups. Take an item `a` of a group of size `g` occupying
//! positions `s..s+g-1`. Under a random tie-breaking, `a` lands on each of these positions with
//! probability `1/g`, and when it lands on `s+j`, the `j` group members placed before it are a
//! uniform random subset of the other `g−1` members. The items of earlier groups always precede
//! it. So, with `A_a` the number of items of earlier groups with larger `x` and `m_a` the number
//! of other members of its own group with larger `x`, `E[C] = A_a + j·m_a/(g−1)` at position
//! `s+j`, and the expected contribution of `a` is
//! `(1/g) Σ_{j=0..g-1} (A_a + j·m_a/(g−1)) / (s+j−1)` (position 1 contributes nothing).
//! Since `x` has no ties, every unordered pair of a group has exactly one member with the larger
//! `x`, so `Σ_a m_a = g(g−1)/2` and the group's total contribution simplifies to
//! `(Σ_a A_a) · (1/g) Σ_{p=s..s+g-1} 1/(p−1)  +  (1/2) Σ_{j=1..g-1} j/(s+j−1)`
//! (the first term is dropped for the top group, `s = 1`, where `Σ_a A_a = 0`). These are the
//! "concordants above the group" and "concordants within the group" terms of `tauAP_a` in the
//! reference R package julian-urbano/ircor (`R/tauAP.R`), there computed in O(n²).
//! `Σ_a A_a` comes from a Fenwick tree over the ranks of `x` (every member of the group is
//! queried before any of them is inserted). Finally `tau_AP,a = 2/(n−1) · Σ_groups − 1`.
//!
//! The [`naive`] module holds O(n²) reference versions (for `tau_ap_a`, an exhaustive
//! expectation) written independently of these, for tests and benchmarks.

/// Why a coefficient could not be computed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum RankError {
    /// The two lists differ in length.
    #[error("the lists differ in length ({left} and {right})")]
    LengthMismatch { left: usize, right: usize },
    /// A NaN cannot be ranked. `list` is 1 (x) or 2 (y); `index` is 0-based.
    #[error(
        "NaN at position {} of the {} list (NaN cannot be ranked)",
        .index + 1,
        if *.list == 1 { "first" } else { "second" }
    )]
    NaN { list: u8, index: usize },
    /// The reference list x has tied values, which this coefficient does not define (`tau_ap_a`, `tau_ap`).
    #[error(
        "the reference list (first argument) has tied values, which this coefficient does not \
         define (tau_ap_a allows ties only in the estimate, the second argument): use tau_ap_b, \
         which allows ties in both"
    )]
    TiesInReference,
    /// The estimate list y has tied values, which plain `tau_ap` does not define.
    #[error(
        "the estimate (second argument) has tied values; use tau_ap_a (ties in the estimate) or \
         tau_ap_b (ties in both)"
    )]
    TiesInEstimate,
}

/// `Ok(Some(c))`: the coefficient; `Ok(None)`: undefined (fewer than 2 items, or 0/0);
/// `Err(_)`: the input cannot be ranked by this coefficient.
pub type RankResult = Result<Option<f64>, RankError>;

/// Checks lengths, then NaN (first NaN of `x`, then of `y`).
fn validate(x: &[f64], y: &[f64]) -> Result<(), RankError> {
    if x.len() != y.len() {
        return Err(RankError::LengthMismatch {
            left: x.len(),
            right: y.len(),
        });
    }
    if let Some(index) = x.iter().position(|v| v.is_nan()) {
        return Err(RankError::NaN { list: 1, index });
    }
    if let Some(index) = y.iter().position(|v| v.is_nan()) {
        return Err(RankError::NaN { list: 2, index });
    }
    Ok(())
}

/// Clamps a finished coefficient into `[-1, 1]` (absorbs rounding only).
fn clamp_unit(v: f64) -> f64 {
    v.clamp(-1.0, 1.0)
}

/// `(value, original index)` pairs sorted by ascending value; `-0.0` becomes `+0.0`.
fn sorted_ascending(v: &[f64]) -> Vec<(f64, usize)> {
    // `a + 0.0` maps -0.0 to +0.0 and leaves every other non-NaN value unchanged.
    let mut s: Vec<(f64, usize)> = v.iter().enumerate().map(|(i, &a)| (a + 0.0, i)).collect();
    s.sort_unstable_by(|a, b| a.0.total_cmp(&b.0));
    s
}

/// Dense 0-based ranks (ascending) indexed by item, and the number of distinct values.
fn dense_ranks(sorted: &[(f64, usize)]) -> (Vec<usize>, usize) {
    let mut ranks = vec![0usize; sorted.len()];
    let mut rank = 0usize;
    for k in 0..sorted.len() {
        if k > 0 && sorted[k].0 != sorted[k - 1].0 {
            rank += 1;
        }
        ranks[sorted[k].1] = rank;
    }
    let distinct = if sorted.is_empty() { 0 } else { rank + 1 };
    (ranks, distinct)
}

/// Whether a sorted list has two equal neighbours.
fn has_ties(sorted: &[(f64, usize)]) -> bool {
    sorted.windows(2).any(|w| w[0].0 == w[1].0)
}

/// Fenwick (binary indexed) tree counting inserted ranks.
struct Fenwick {
    tree: Vec<usize>,
    inserted: usize,
}

impl Fenwick {
    fn new(size: usize) -> Self {
        Fenwick {
            tree: vec![0; size],
            inserted: 0,
        }
    }

    fn insert(&mut self, rank: usize) {
        let mut i = rank + 1;
        while i <= self.tree.len() {
            self.tree[i - 1] += 1;
            i += i & i.wrapping_neg();
        }
        self.inserted += 1;
    }

    /// Number of inserted ranks `<= rank`.
    fn count_at_most(&self, rank: usize) -> usize {
        let mut i = rank + 1;
        let mut total = 0;
        while i > 0 {
            total += self.tree[i - 1];
            i &= i - 1;
        }
        total
    }

    /// Number of inserted ranks `> rank`.
    fn count_greater(&self, rank: usize) -> usize {
        self.inserted - self.count_at_most(rank)
    }
}

/// Walks the tie groups of `b` from the highest value down. For each group calls
/// `visit(start, size, above)`: `start` is the 1-based position of its first item, `size` its
/// number of items, and `above` the sum over its members `i` of the number of items in earlier
/// (higher) groups whose `a_rank` is strictly greater than `a_rank[i]`.
fn for_each_group_from_top(
    a_rank: &[usize],
    a_distinct: usize,
    b_sorted: &[(f64, usize)],
    mut visit: impl FnMut(usize, usize, u64),
) {
    let mut fenwick = Fenwick::new(a_distinct);
    let mut end = b_sorted.len();
    let mut placed = 0usize;
    while end > 0 {
        let value = b_sorted[end - 1].0;
        let mut begin = end - 1;
        while begin > 0 && b_sorted[begin - 1].0 == value {
            begin -= 1;
        }
        let group = &b_sorted[begin..end];
        let above: u64 = group
            .iter()
            .map(|&(_, i)| fenwick.count_greater(a_rank[i]) as u64)
            .sum();
        visit(placed + 1, group.len(), above);
        for &(_, i) in group {
            fenwick.insert(a_rank[i]);
        }
        placed += group.len();
        end = begin;
    }
}

/// AP correlation `tau_AP` of Yilmaz, Aslam & Robertson (2008); `x` is the reference list and
/// positions come from `y` (highest `y` first).
///
/// `tau_AP = 2/(n−1) · Σ_{i=2..n} C(i)/(i−1) − 1`, where `C(i)` is the number of items at
/// positions `1..i−1` (in `y` order) whose `x` is greater than the `x` of the item at position
/// `i`. Ties are not defined: [`RankError::TiesInReference`] for ties in `x` (checked first),
/// [`RankError::TiesInEstimate`] for ties in `y`. Fewer than 2 items → `Ok(None)`.
/// O(n log n).
///
/// # Errors
///
/// [`RankError::LengthMismatch`], [`RankError::NaN`], [`RankError::TiesInReference`],
/// [`RankError::TiesInEstimate`], in that order of precedence.
pub fn tau_ap(x: &[f64], y: &[f64]) -> RankResult {
    validate(x, y)?;
    let n = x.len();
    if n < 2 {
        return Ok(None);
    }
    let x_sorted = sorted_ascending(x);
    if has_ties(&x_sorted) {
        return Err(RankError::TiesInReference);
    }
    let y_sorted = sorted_ascending(y);
    if has_ties(&y_sorted) {
        return Err(RankError::TiesInEstimate);
    }
    let (x_rank, x_distinct) = dense_ranks(&x_sorted);
    drop(x_sorted);
    let mut sum = 0.0;
    for_each_group_from_top(&x_rank, x_distinct, &y_sorted, |start, _size, above| {
        if start > 1 {
            sum += above as f64 / (start - 1) as f64;
        }
    });
    Ok(Some(clamp_unit(2.0 * sum / (n - 1) as f64 - 1.0)))
}

/// `tau_AP,a` of Urbano & Marrero (2017): AP correlation when the estimate `y` may have ties
/// (the reference `x` may not: [`RankError::TiesInReference`]).
///
/// It is the expectation of [`tau_ap`]`(x, y')` over all uniformly random tie-breakings `y'` of
/// `y`, computed exactly in O(n log n): with tie groups of `y` (descending) of size `g` starting
/// at position `s`, and `A` the number of (member, item of an earlier group) pairs where the
/// earlier item has the larger `x`,
/// `tau_AP,a = 2/(n−1) · Σ_groups [ A · (1/g) Σ_{p=s..s+g−1} 1/(p−1) + ½ Σ_{j=1..g−1} j/(s+j−1) ] − 1`
/// (the first term is 0 for the top group, `s = 1`). See the module documentation for the
/// derivation. Equals [`tau_ap`] when `y` has no ties. Fewer than 2 items → `Ok(None)`.
///
/// # Errors
///
/// [`RankError::LengthMismatch`], [`RankError::NaN`], then [`RankError::TiesInReference`].
pub fn tau_ap_a(x: &[f64], y: &[f64]) -> RankResult {
    validate(x, y)?;
    let n = x.len();
    if n < 2 {
        return Ok(None);
    }
    let x_sorted = sorted_ascending(x);
    if has_ties(&x_sorted) {
        return Err(RankError::TiesInReference);
    }
    let (x_rank, x_distinct) = dense_ranks(&x_sorted);
    drop(x_sorted);
    let y_sorted = sorted_ascending(y);
    let mut sum = 0.0;
    for_each_group_from_top(&x_rank, x_distinct, &y_sorted, |start, size, above| {
        if start > 1 {
            // Expected 1/(position − 1) of a member, its position uniform over the group.
            let mut harmonic = 0.0;
            for p in start..start + size {
                harmonic += 1.0 / (p - 1) as f64;
            }
            sum += above as f64 * harmonic / size as f64;
        }
        // Concordant pairs inside the group: half of the j members before position s+j.
        for j in 1..size {
            sum += 0.5 * j as f64 / (start + j - 1) as f64;
        }
    });
    Ok(Some(clamp_unit(2.0 * sum / (n - 1) as f64 - 1.0)))
}

/// One-way `t(a|b)` of `tau_AP,b`: `2/N' · Σ_i C_i/P_i − 1` over the items `i` outside the top
/// tie group of `b`; `None` when there is no such item.
fn tau_ap_b_one_way(a_rank: &[usize], a_distinct: usize, b_sorted: &[(f64, usize)]) -> Option<f64> {
    let mut sum = 0.0;
    let mut counted = 0usize;
    for_each_group_from_top(a_rank, a_distinct, b_sorted, |start, size, above| {
        if start > 1 {
            sum += above as f64 / (start - 1) as f64;
            counted += size;
        }
    });
    if counted == 0 {
        None
    } else {
        Some(2.0 * sum / counted as f64 - 1.0)
    }
}

/// `tau_AP,b` of Urbano & Marrero (2017): symmetric AP correlation allowing ties in both lists.
///
/// `tau_AP,b(x, y) = (t(x|y) + t(y|x)) / 2` with `t(a|b) = 2/N' · Σ_i C_i/P_i − 1`, the sum
/// running over the `N'` items outside the top tie group of `b` (ranked by decreasing `b`),
/// `P_i` the number of items in strictly higher tie groups of `b`, and `C_i` the number of
/// those whose `a` is strictly greater than `a_i`. If either list is entirely tied one of the
/// one-way terms is 0/0 and the result is `Ok(None)`. Without ties it equals
/// `(tau_ap(x, y) + tau_ap(y, x)) / 2`. O(n log n).
///
/// # Errors
///
/// [`RankError::LengthMismatch`], then [`RankError::NaN`]; ties are never an error.
pub fn tau_ap_b(x: &[f64], y: &[f64]) -> RankResult {
    validate(x, y)?;
    if x.len() < 2 {
        return Ok(None);
    }
    let x_sorted = sorted_ascending(x);
    let y_sorted = sorted_ascending(y);
    let (x_rank, x_distinct) = dense_ranks(&x_sorted);
    let (y_rank, y_distinct) = dense_ranks(&y_sorted);
    let x_given_y = tau_ap_b_one_way(&x_rank, x_distinct, &y_sorted);
    let y_given_x = tau_ap_b_one_way(&y_rank, y_distinct, &x_sorted);
    Ok(match (x_given_y, y_given_x) {
        (Some(a), Some(b)) => Some(clamp_unit((a + b) / 2.0)),
        _ => None,
    })
}

/// Number of pairs `k(k−1)/2` summed over the maximal runs of equal neighbours.
fn tied_pairs<T>(sorted: &[T], equal: impl Fn(&T, &T) -> bool) -> u64 {
    let mut total = 0u64;
    let mut run = 1u64;
    for w in sorted.windows(2) {
        if equal(&w[0], &w[1]) {
            run += 1;
        } else {
            total += run * (run - 1) / 2;
            run = 1;
        }
    }
    if !sorted.is_empty() {
        total += run * (run - 1) / 2;
    }
    total
}

/// Sorts `v` ascending with a bottom-up merge sort and returns the number of inversions
/// (pairs `i < j` with `v[i] > v[j]`, strictly).
fn sort_counting_inversions(v: Vec<f64>) -> (Vec<f64>, u64) {
    let n = v.len();
    let mut src = v;
    let mut dst = vec![0.0; n];
    let mut inversions = 0u64;
    let mut width = 1usize;
    while width < n {
        let mut lo = 0usize;
        while lo < n {
            let mid = (lo + width).min(n);
            let hi = (lo + 2 * width).min(n);
            let (mut i, mut j, mut k) = (lo, mid, lo);
            while i < mid && j < hi {
                if src[j] < src[i] {
                    dst[k] = src[j];
                    j += 1;
                    inversions += (mid - i) as u64;
                } else {
                    dst[k] = src[i];
                    i += 1;
                }
                k += 1;
            }
            let rest = mid - i;
            dst[k..k + rest].copy_from_slice(&src[i..mid]);
            k += rest;
            dst[k..hi].copy_from_slice(&src[j..hi]);
            lo = hi;
        }
        std::mem::swap(&mut src, &mut dst);
        width *= 2;
    }
    (src, inversions)
}

/// Kendall's `tau_b`: `(n_c − n_d) / sqrt((n0 − n1)(n0 − n2))`.
///
/// `n_c`, `n_d`: concordant and discordant pairs; `n0 = n(n−1)/2`; `n1`, `n2`: pairs tied in
/// `x`, respectively `y` (pairs tied in both count in both). Fewer than 2 items, or a list whose
/// values are all tied (zero denominator) → `Ok(None)`. O(n log n) by Knight's algorithm: sort
/// by `(x, y)`, then count the swaps a merge sort of the `y` sequence makes, which are the
/// discordant pairs; `n_c − n_d = n0 − n1 − n2 + n3 − 2·n_d` with `n3` the pairs tied in both.
///
/// # Errors
///
/// [`RankError::LengthMismatch`], then [`RankError::NaN`]; ties are never an error.
pub fn kendall_tau_b(x: &[f64], y: &[f64]) -> RankResult {
    validate(x, y)?;
    let n = x.len();
    if n < 2 {
        return Ok(None);
    }
    let mut pairs: Vec<(f64, f64)> = x.iter().zip(y).map(|(&a, &b)| (a + 0.0, b + 0.0)).collect();
    pairs.sort_unstable_by(|a, b| a.0.total_cmp(&b.0).then(a.1.total_cmp(&b.1)));
    let n1 = tied_pairs(&pairs, |a, b| a.0 == b.0);
    let n3 = tied_pairs(&pairs, |a, b| a.0 == b.0 && a.1 == b.1);
    let ys: Vec<f64> = pairs.iter().map(|p| p.1).collect();
    drop(pairs);
    let (ys, discordant) = sort_counting_inversions(ys);
    let n2 = tied_pairs(&ys, |a, b| a == b);
    let n0 = (n as u64) * (n as u64 - 1) / 2;
    if n1 == n0 || n2 == n0 {
        return Ok(None);
    }
    let numerator = i128::from(n0) - i128::from(n1) - i128::from(n2) + i128::from(n3)
        - 2 * i128::from(discordant);
    let denominator = ((n0 - n1) as f64 * (n0 - n2) as f64).sqrt();
    Ok(Some(clamp_unit(numerator as f64 / denominator)))
}

/// Average (fractional) ranks, 1-based: a run of `t` equal values at sorted positions
/// `b+1..b+t` all get `b + (t+1)/2`.
fn average_ranks(v: &[f64]) -> Vec<f64> {
    let sorted = sorted_ascending(v);
    let mut ranks = vec![0.0; v.len()];
    let mut begin = 0usize;
    while begin < sorted.len() {
        let mut end = begin + 1;
        while end < sorted.len() && sorted[end].0 == sorted[begin].0 {
            end += 1;
        }
        let rank = (begin + end + 1) as f64 / 2.0;
        for &(_, i) in &sorted[begin..end] {
            ranks[i] = rank;
        }
        begin = end;
    }
    ranks
}

/// Spearman's rho: the Pearson correlation of the average ranks `r`, `q` of `x` and `y`,
/// `Σ (r_i − m)(q_i − m) / sqrt(Σ (r_i − m)² · Σ (q_i − m)²)` with `m = (n+1)/2`.
///
/// Tied values get the mean of the ranks they span. Fewer than 2 items, or a list whose values
/// are all tied (zero variance) → `Ok(None)`. O(n log n).
///
/// # Errors
///
/// [`RankError::LengthMismatch`], then [`RankError::NaN`]; ties are never an error.
pub fn spearman(x: &[f64], y: &[f64]) -> RankResult {
    validate(x, y)?;
    let n = x.len();
    if n < 2 {
        return Ok(None);
    }
    let rx = average_ranks(x);
    let ry = average_ranks(y);
    let mean = (n + 1) as f64 / 2.0;
    let (mut sxy, mut sxx, mut syy) = (0.0, 0.0, 0.0);
    for (&a, &b) in rx.iter().zip(&ry) {
        let (da, db) = (a - mean, b - mean);
        sxy += da * db;
        sxx += da * da;
        syy += db * db;
    }
    if sxx == 0.0 || syy == 0.0 {
        return Ok(None);
    }
    Ok(Some(clamp_unit(sxy / (sxx * syy).sqrt())))
}

/// Straightforward reference implementations of the five coefficients, with the same signature,
/// validation, errors and `None` rules as the fast ones, but written independently of them
/// (pair counting, no sorting). They are O(n²), except [`naive::tau_ap_a`], which enumerates all
/// orderings of every tie group and is therefore `O(n · Σ_groups g!·g)`: only usable when tie
/// groups are small (say ≤ 7). Public because the benchmarks compare against them.
///
/// Each function returns exactly the errors of its namesake at the top level, in the same
/// order of precedence.
pub mod naive {
    use super::{validate, RankError, RankResult};

    /// Whether two items of `v` have equal values (O(n²)).
    fn any_tie(v: &[f64]) -> bool {
        (0..v.len()).any(|i| (i + 1..v.len()).any(|j| v[i] == v[j]))
    }

    /// Number of items whose `b` is greater than `b[i]` (= 1-based position of `i`'s tie group
    /// minus 1).
    fn higher(b: &[f64], i: usize) -> usize {
        b.iter().filter(|&&v| v > b[i]).count()
    }

    /// Number of items with both `b` and `a` greater than those of item `i`.
    fn higher_in_both(a: &[f64], b: &[f64], i: usize) -> usize {
        (0..a.len()).filter(|&j| b[j] > b[i] && a[j] > a[i]).count()
    }

    /// O(n²) `tau_AP = 2/(n−1) · Σ_i C(i)/(i−1) − 1`, see [`super::tau_ap`].
    ///
    /// # Errors
    ///
    /// Exactly those of [`super::tau_ap`].
    pub fn tau_ap(x: &[f64], y: &[f64]) -> RankResult {
        validate(x, y)?;
        let n = x.len();
        if n < 2 {
            return Ok(None);
        }
        if any_tie(x) {
            return Err(RankError::TiesInReference);
        }
        if any_tie(y) {
            return Err(RankError::TiesInEstimate);
        }
        let mut sum = 0.0;
        for i in 0..n {
            let before = higher(y, i);
            if before > 0 {
                sum += higher_in_both(x, y, i) as f64 / before as f64;
            }
        }
        Ok(Some((2.0 * sum / (n - 1) as f64 - 1.0).clamp(-1.0, 1.0)))
    }

    /// Calls `visit` once with every ordering of `items` (Heap's algorithm); returns how many.
    fn for_each_permutation(items: &mut [usize], mut visit: impl FnMut(&[usize])) -> usize {
        let n = items.len();
        let mut counters = vec![0usize; n];
        visit(items);
        let mut visited = 1;
        let mut i = 1;
        while i < n {
            if counters[i] < i {
                if i % 2 == 0 {
                    items.swap(0, i);
                } else {
                    items.swap(counters[i], i);
                }
                visit(items);
                visited += 1;
                counters[i] += 1;
                i = 1;
            } else {
                counters[i] = 0;
                i += 1;
            }
        }
        visited
    }

    /// Brute-force `tau_AP,a`: the average of `tau_ap` over every tie-breaking of `y`.
    ///
    /// A term `C(i)/(i−1)` of `tau_ap` depends only on the order inside the tie group of item
    /// `i` (the items of higher groups precede it whatever the tie-breaking), so by linearity
    /// of expectation the average over all `Π g!` tie-breakings is the sum over groups of the
    /// average over that group's `g!` orderings, each enumerated explicitly here. Exponential
    /// in the largest group size. Ties in `x` → [`RankError::TiesInReference`].
    ///
    /// # Errors
    ///
    /// Exactly those of [`super::tau_ap_a`].
    pub fn tau_ap_a(x: &[f64], y: &[f64]) -> RankResult {
        validate(x, y)?;
        let n = x.len();
        if n < 2 {
            return Ok(None);
        }
        if any_tie(x) {
            return Err(RankError::TiesInReference);
        }
        // Concordant items of strictly higher groups: the same under every tie-breaking.
        let from_higher: Vec<usize> = (0..n).map(|i| higher_in_both(x, y, i)).collect();
        let mut done = vec![false; n];
        let mut sum = 0.0;
        for first in 0..n {
            if done[first] {
                continue;
            }
            let mut group: Vec<usize> = (0..n).filter(|&j| y[j] == y[first]).collect();
            for &j in &group {
                done[j] = true;
            }
            let start = higher(y, first) + 1;
            let mut group_total = 0.0;
            let orderings = for_each_permutation(&mut group, |order| {
                for (k, &a) in order.iter().enumerate() {
                    let position = start + k;
                    if position == 1 {
                        continue;
                    }
                    let from_group = order[..k].iter().filter(|&&m| x[m] > x[a]).count();
                    group_total += (from_higher[a] + from_group) as f64 / (position - 1) as f64;
                }
            });
            sum += group_total / orderings as f64;
        }
        Ok(Some((2.0 * sum / (n - 1) as f64 - 1.0).clamp(-1.0, 1.0)))
    }

    /// O(n²) `tau_AP,a` by pair counting, for benchmarks at sizes where enumerating tie-breakings
    /// is impossible. An item `a` in a tie group of size `g` starting at position `s` lands at
    /// each position `s + j` with probability `1/g`, with `j` uniformly chosen group members
    /// above it, of which `j·m_a/(g−1)` are expected to have a larger x (`m_a` = members with a
    /// larger x); items of higher groups with a larger x (`A_a`) are above it in every case:
    /// `E[C/(p−1)] = (1/g) Σ_j (A_a + j·m_a/(g−1)) / (s+j−1)`. `A_a`, `m_a`, `g` and `s` are
    /// counted item by item over all others.
    pub fn tau_ap_a_quadratic(x: &[f64], y: &[f64]) -> RankResult {
        validate(x, y)?;
        let n = x.len();
        if n < 2 {
            return Ok(None);
        }
        if any_tie(x) {
            return Err(RankError::TiesInReference);
        }
        let mut sum = 0.0;
        for a in 0..n {
            let (mut above, mut group, mut larger_above, mut larger_in_group) = (0, 0, 0, 0);
            for b in 0..n {
                if y[b] > y[a] {
                    above += 1;
                    if x[b] > x[a] {
                        larger_above += 1;
                    }
                } else if y[b] == y[a] {
                    group += 1;
                    if x[b] > x[a] {
                        larger_in_group += 1;
                    }
                }
            }
            let start = above + 1;
            for j in 0..group {
                let position = start + j;
                if position == 1 {
                    continue;
                }
                let from_group = if group > 1 {
                    j as f64 * larger_in_group as f64 / (group - 1) as f64
                } else {
                    0.0
                };
                sum += (larger_above as f64 + from_group) / (position - 1) as f64 / group as f64;
            }
        }
        Ok(Some((2.0 * sum / (n - 1) as f64 - 1.0).clamp(-1.0, 1.0)))
    }

    /// O(n²) one-way `t(a|b) = 2/N' · Σ_i C_i/P_i − 1` of `tau_AP,b`.
    fn one_way(a: &[f64], b: &[f64]) -> Option<f64> {
        let mut sum = 0.0;
        let mut counted = 0usize;
        for i in 0..a.len() {
            let p = higher(b, i);
            if p > 0 {
                counted += 1;
                sum += higher_in_both(a, b, i) as f64 / p as f64;
            }
        }
        if counted == 0 {
            None
        } else {
            Some(2.0 * sum / counted as f64 - 1.0)
        }
    }

    /// O(n²) `tau_AP,b = (t(x|y) + t(y|x)) / 2`, see [`super::tau_ap_b`].
    ///
    /// # Errors
    ///
    /// Exactly those of [`super::tau_ap_b`].
    pub fn tau_ap_b(x: &[f64], y: &[f64]) -> RankResult {
        validate(x, y)?;
        if x.len() < 2 {
            return Ok(None);
        }
        match (one_way(x, y), one_way(y, x)) {
            (Some(a), Some(b)) => Ok(Some(((a + b) / 2.0).clamp(-1.0, 1.0))),
            _ => Ok(None),
        }
    }

    /// O(n²) Kendall `tau_b = (n_c − n_d) / sqrt((n0 − n1)(n0 − n2))` by counting every pair.
    ///
    /// # Errors
    ///
    /// Exactly those of [`super::kendall_tau_b`].
    pub fn kendall_tau_b(x: &[f64], y: &[f64]) -> RankResult {
        validate(x, y)?;
        let n = x.len();
        if n < 2 {
            return Ok(None);
        }
        let sign = |d: f64| {
            if d > 0.0 {
                1i64
            } else if d < 0.0 {
                -1
            } else {
                0
            }
        };
        let (mut score, mut tied_x, mut tied_y) = (0i64, 0u64, 0u64);
        for i in 0..n {
            for j in i + 1..n {
                let (sx, sy) = (sign(x[i] - x[j]), sign(y[i] - y[j]));
                score += sx * sy;
                tied_x += u64::from(sx == 0);
                tied_y += u64::from(sy == 0);
            }
        }
        let pairs = (n * (n - 1) / 2) as u64;
        if tied_x == pairs || tied_y == pairs {
            return Ok(None);
        }
        let denominator = (((pairs - tied_x) as f64) * ((pairs - tied_y) as f64)).sqrt();
        Ok(Some((score as f64 / denominator).clamp(-1.0, 1.0)))
    }

    /// Average rank of item `i`: `1 + #{smaller} + #{other equal}/2`.
    fn average_rank(v: &[f64], i: usize) -> f64 {
        let smaller = v.iter().filter(|&&a| a < v[i]).count();
        let equal = v.iter().filter(|&&a| a == v[i]).count();
        1.0 + smaller as f64 + (equal - 1) as f64 / 2.0
    }

    /// O(n²) Spearman rho: Pearson correlation of average ranks, see [`super::spearman`].
    ///
    /// # Errors
    ///
    /// Exactly those of [`super::spearman`].
    pub fn spearman(x: &[f64], y: &[f64]) -> RankResult {
        validate(x, y)?;
        let n = x.len();
        if n < 2 {
            return Ok(None);
        }
        let rx: Vec<f64> = (0..n).map(|i| average_rank(x, i)).collect();
        let ry: Vec<f64> = (0..n).map(|i| average_rank(y, i)).collect();
        let mx = rx.iter().sum::<f64>() / n as f64;
        let my = ry.iter().sum::<f64>() / n as f64;
        let cov: f64 = rx.iter().zip(&ry).map(|(a, b)| (a - mx) * (b - my)).sum();
        let vx: f64 = rx.iter().map(|a| (a - mx) * (a - mx)).sum();
        let vy: f64 = ry.iter().map(|b| (b - my) * (b - my)).sum();
        if vx == 0.0 || vy == 0.0 {
            return Ok(None);
        }
        Ok(Some((cov / (vx.sqrt() * vy.sqrt())).clamp(-1.0, 1.0)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    type Kernel = fn(&[f64], &[f64]) -> RankResult;

    /// The five fast kernels with their naive counterparts.
    const ALL: [(&str, Kernel, Kernel); 5] = [
        ("tau_ap", tau_ap, naive::tau_ap),
        ("tau_ap_a", tau_ap_a, naive::tau_ap_a),
        ("tau_ap_b", tau_ap_b, naive::tau_ap_b),
        ("kendall_tau_b", kendall_tau_b, naive::kendall_tau_b),
        ("spearman", spearman, naive::spearman),
    ];

    /// Seeded splitmix64 generator.
    struct Rng(u64);

    impl Rng {
        fn next_u64(&mut self) -> u64 {
            self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = self.0;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^ (z >> 31)
        }

        /// Uniform in `0..bound` (bound > 0; the modulo bias is irrelevant here).
        fn below(&mut self, bound: usize) -> usize {
            (self.next_u64() % bound as u64) as usize
        }

        /// Uniform in `[0, 1)`.
        fn unit(&mut self) -> f64 {
            (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
        }

        fn shuffle<T>(&mut self, v: &mut [T]) {
            for i in (1..v.len()).rev() {
                let j = self.below(i + 1);
                v.swap(i, j);
            }
        }

        /// `n` distinct values: a shuffled, scaled and shifted `0..n`.
        fn distinct(&mut self, n: usize) -> Vec<f64> {
            let scale = 0.1 + self.unit();
            let shift = self.unit() * 10.0 - 5.0;
            let mut v: Vec<f64> = (0..n).map(|k| k as f64 * scale + shift).collect();
            self.shuffle(&mut v);
            v
        }

        /// `n` values drawn from `0..levels` (many ties when `levels` is small).
        fn small_ints(&mut self, n: usize, levels: usize) -> Vec<f64> {
            (0..n).map(|_| self.below(levels) as f64).collect()
        }

        /// `n` values from a random number of levels in `1..n+2`.
        fn tied(&mut self, n: usize) -> Vec<f64> {
            let levels = 1 + self.below(n + 2);
            self.small_ints(n, levels)
        }

        /// `grouped` with a largest group size drawn from `1..=max_group`.
        fn grouped_random(&mut self, n: usize, max_group: usize) -> Vec<f64> {
            let largest = 1 + self.below(max_group);
            self.grouped(n, largest)
        }

        /// `n` values in tie groups of 1..=`max_group` items, randomly placed.
        fn grouped(&mut self, n: usize, max_group: usize) -> Vec<f64> {
            let mut order: Vec<usize> = (0..n).collect();
            self.shuffle(&mut order);
            let mut v = vec![0.0; n];
            let mut at = 0;
            let mut value = 0.0;
            while at < n {
                let size = (1 + self.below(max_group)).min(n - at);
                for &i in &order[at..at + size] {
                    v[i] = value;
                }
                value += 1.0 + self.unit();
                at += size;
            }
            v
        }
    }

    fn value(r: RankResult) -> f64 {
        match r {
            Ok(Some(v)) => v,
            other => panic!("expected a value, got {other:?}"),
        }
    }

    fn assert_close(got: RankResult, want: f64, tol: f64, what: &str) {
        let v = value(got);
        assert!((v - want).abs() <= tol, "{what}: got {v}, want {want}");
    }

    fn assert_same(fast: RankResult, slow: RankResult, what: &str) {
        match (&fast, &slow) {
            (Ok(Some(a)), Ok(Some(b))) => {
                assert!((a - b).abs() <= 1e-12, "{what}: fast {a} vs naive {b}")
            }
            _ => assert_eq!(fast, slow, "{what}"),
        }
    }

    // ---- reference values ---------------------------------------------------------------------
    // Inputs and expected values from /work/shared/reference/tau_ap.json (test vectors of the
    // reference implementation of Urbano & Marrero 2017: R package julian-urbano/ircor and its
    // Python port eldrin/pyircor, tests/test_pyircor.py). Expected values there have 10 decimals.

    struct RefSet {
        x: [f64; 10],
        y: [f64; 10],
        x_ties: [f64; 10],
        y_ties: [f64; 10],
        kendall_tau: f64,
        kendall_tau_a_x_yties: f64,
        kendall_tau_b_ties: f64,
        tau_ap_xy: f64,
        tau_ap_yx: f64,
        tau_ap_a_x_yties: f64,
        tau_ap_b_xy: f64,
        tau_ap_b_ties: f64,
    }

    const REF_SETS: [RefSet; 3] = [
        RefSet {
            x: [
                0.897, 0.372, 0.908, 0.898, 0.661, 0.062, 0.177, 0.384, 0.498, 0.992,
            ],
            y: [
                0.82, 0.406, 0.817, 0.953, 0.673, 0.073, 0.364, 0.547, 0.589, 0.988,
            ],
            x_ties: [0.9, 0.4, 0.9, 0.9, 0.7, 0.1, 0.2, 0.4, 0.5, 1.0],
            y_ties: [0.8, 0.4, 0.8, 1.0, 0.7, 0.1, 0.4, 0.5, 0.6, 1.0],
            kendall_tau: 0.9111111111,
            kendall_tau_a_x_yties: 0.8888888889,
            kendall_tau_b_ties: 0.9398272508,
            tau_ap_xy: 0.8518518519,
            tau_ap_yx: 0.8148148148,
            tau_ap_a_x_yties: 0.7453703704,
            tau_ap_b_xy: 0.8333333333,
            tau_ap_b_ties: 0.7321428571,
        },
        RefSet {
            x: [
                0.266, 0.573, 0.202, 0.945, 0.629, 0.206, 0.687, 0.77, 0.718, 0.38,
            ],
            y: [
                0.263, 0.843, 0.728, 0.928, 0.08, 0.114, 0.467, 0.641, 0.973, 0.644,
            ],
            x_ties: [0.3, 0.6, 0.2, 0.9, 0.6, 0.2, 0.7, 0.8, 0.7, 0.4],
            y_ties: [0.3, 0.8, 0.7, 0.9, 0.1, 0.1, 0.5, 0.6, 1.0, 0.6],
            kendall_tau: 0.2888888889,
            kendall_tau_a_x_yties: 0.3333333333,
            kendall_tau_b_ties: 0.3764966443,
            tau_ap_xy: 0.2503527337,
            tau_ap_yx: 0.3256613757,
            tau_ap_a_x_yties: 0.2691798942,
            tau_ap_b_xy: 0.2880070547,
            tau_ap_b_ties: 0.296957672,
        },
        RefSet {
            x: [
                0.185, 0.573, 0.944, 0.129, 0.468, 0.553, 0.761, 0.405, 0.976, 0.445,
            ],
            y: [
                0.845, 0.272, 0.275, 0.924, 0.605, 0.334, 0.162, 0.872, 0.018, 0.25,
            ],
            x_ties: [0.2, 0.6, 0.9, 0.1, 0.5, 0.6, 0.8, 0.4, 1.0, 0.4],
            y_ties: [0.8, 0.3, 0.3, 0.9, 0.6, 0.3, 0.2, 0.9, 0.0, 0.2],
            kendall_tau: -0.6888888889,
            kendall_tau_a_x_yties: -0.6222222222,
            kendall_tau_b_ties: -0.6510278099,
            tau_ap_xy: -0.6970899471,
            tau_ap_yx: -0.6388888889,
            tau_ap_a_x_yties: -0.5558201058,
            tau_ap_b_xy: -0.667989418,
            tau_ap_b_ties: -0.7046957672,
        },
    ];

    /// Pairs tied in `v`, counted directly (for converting tau_b to tau_a).
    fn count_tied_pairs(v: &[f64]) -> usize {
        (0..v.len())
            .map(|i| (i + 1..v.len()).filter(|&j| v[i] == v[j]).count())
            .sum()
    }

    #[test]
    fn reference_values_from_ircor() {
        const TOL: f64 = 1e-9;
        for (k, s) in REF_SETS.iter().enumerate() {
            for (name, fast) in [("fast", tau_ap as Kernel), ("naive", naive::tau_ap)] {
                let what = |key: &str| format!("set{} {key} ({name})", k + 1);
                assert_close(fast(&s.x, &s.y), s.tau_ap_xy, TOL, &what("tau_ap(x,y)"));
                assert_close(fast(&s.y, &s.x), s.tau_ap_yx, TOL, &what("tau_ap(y,x)"));
            }
            for (name, kt, ta, tb) in [
                (
                    "fast",
                    kendall_tau_b as Kernel,
                    tau_ap_a as Kernel,
                    tau_ap_b as Kernel,
                ),
                (
                    "naive",
                    naive::kendall_tau_b,
                    naive::tau_ap_a,
                    naive::tau_ap_b,
                ),
            ] {
                let what = |key: &str| format!("set{} {key} ({name})", k + 1);
                assert_close(
                    kt(&s.x, &s.y),
                    s.kendall_tau,
                    TOL,
                    &what("kendall_tau(x,y)"),
                );
                assert_close(
                    kt(&s.x_ties, &s.y_ties),
                    s.kendall_tau_b_ties,
                    TOL,
                    &what("kendall_tau_b(x_ties,y_ties)"),
                );
                // tau_a = (n_c − n_d)/n0 and, x having no ties, tau_b = (n_c − n_d)/sqrt(n0(n0 − n2)).
                let n0 = 45.0;
                let n2 = count_tied_pairs(&s.y_ties) as f64;
                let tau_a = value(kt(&s.x, &s.y_ties)) * ((n0 - n2) / n0).sqrt();
                assert!(
                    (tau_a - s.kendall_tau_a_x_yties).abs() <= TOL,
                    "{}: {tau_a}",
                    what("kendall_tau_a(x,y_ties)")
                );
                assert_close(ta(&s.x, &s.y), s.tau_ap_xy, TOL, &what("tau_ap_a(x,y)"));
                assert_close(
                    ta(&s.x, &s.y_ties),
                    s.tau_ap_a_x_yties,
                    TOL,
                    &what("tau_ap_a(x,y_ties)"),
                );
                assert_close(tb(&s.x, &s.y), s.tau_ap_b_xy, TOL, &what("tau_ap_b(x,y)"));
                assert_close(
                    tb(&s.x_ties, &s.y_ties),
                    s.tau_ap_b_ties,
                    TOL,
                    &what("tau_ap_b(x_ties,y_ties)"),
                );
                assert_close(
                    tb(&s.y_ties, &s.x_ties),
                    s.tau_ap_b_ties,
                    TOL,
                    &what("tau_ap_b(y_ties,x_ties)"),
                );
            }
        }
    }

    /// The usage example of the ircor README (values printed there to 7 decimals;
    /// "ircor_readme_example_tau_ap_a": 0.6074515 in /work/shared/reference/tau_ap.json).
    /// The rounded lists are R's `round(v*5)/5` (IEC 60559: 4.5 rounds to 4).
    #[test]
    fn ircor_readme_example() {
        const TOL: f64 = 1e-7;
        let x = [0.06, 0.2, 0.27, 0.37, 0.57, 0.63, 0.66, 0.9, 0.91, 0.94];
        let y = [0.37, 0.06, 0.2, 0.27, 0.57, 0.66, 0.63, 0.91, 0.9, 0.94];
        let y_rounded = [0.4, 0.0, 0.2, 0.2, 0.6, 0.6, 0.6, 1.0, 0.8, 1.0];
        let x_rounded = [0.0, 0.2, 0.2, 0.4, 0.6, 0.6, 0.6, 0.8, 1.0, 1.0];
        for (kt, tp, ta, tb) in [
            (
                kendall_tau_b as Kernel,
                tau_ap as Kernel,
                tau_ap_a as Kernel,
                tau_ap_b as Kernel,
            ),
            (
                naive::kendall_tau_b,
                naive::tau_ap,
                naive::tau_ap_a,
                naive::tau_ap_b,
            ),
        ] {
            assert_close(kt(&x, &y), 0.7777778, TOL, "tau(x,y)");
            assert_close(tp(&x, &y), 0.7491182, TOL, "tauAP(x,y)");
            let n2 = count_tied_pairs(&y_rounded) as f64;
            let tau_a = value(kt(&x, &y_rounded)) * ((45.0 - n2) / 45.0).sqrt();
            assert!((tau_a - 0.7111111).abs() <= TOL, "tau_a(x,y): {tau_a}");
            assert_close(ta(&x, &y_rounded), 0.6074515, TOL, "tauAP_a(x,y)");
            assert_close(kt(&x_rounded, &y_rounded), 0.75, TOL, "tau_b(x,y)");
            assert_close(tb(&x_rounded, &y_rounded), 0.6269841, TOL, "tauAP_b(x,y)");
        }
    }

    // ---- fast versus naive ----------------------------------------------------------------------

    #[test]
    fn fast_matches_naive_without_ties() {
        let mut rng = Rng(0x5EED_0001);
        for round in 0..400 {
            let n = 2 + rng.below(59);
            let x = rng.distinct(n);
            let y = rng.distinct(n);
            for (name, fast, slow) in ALL {
                let what = format!("{name} round {round} n {n}");
                assert_same(fast(&x, &y), slow(&x, &y), &what);
            }
        }
    }

    #[test]
    fn fast_matches_naive_with_ties_in_both() {
        let mut rng = Rng(0x5EED_0002);
        for round in 0..600 {
            let n = 2 + rng.below(59);
            let x = rng.tied(n);
            let y = rng.tied(n);
            for (name, fast, slow) in [
                ("tau_ap_b", tau_ap_b as Kernel, naive::tau_ap_b as Kernel),
                ("kendall_tau_b", kendall_tau_b, naive::kendall_tau_b),
                ("spearman", spearman, naive::spearman),
                ("tau_ap", tau_ap, naive::tau_ap),
            ] {
                let what = format!("{name} round {round} n {n}");
                assert_same(fast(&x, &y), slow(&x, &y), &what);
            }
        }
    }

    #[test]
    fn fast_tau_ap_a_matches_brute_force_expectation() {
        let mut rng = Rng(0x5EED_0003);
        for round in 0..400 {
            let n = 2 + rng.below(59);
            let x = rng.distinct(n);
            let y = rng.grouped_random(n, 5);
            let what = format!("tau_ap_a round {round} n {n}");
            assert_same(tau_ap_a(&x, &y), naive::tau_ap_a(&x, &y), &what);
            // And the tie-tolerant coefficients on the same inputs.
            assert_same(tau_ap_b(&x, &y), naive::tau_ap_b(&x, &y), &what);
            assert_same(kendall_tau_b(&x, &y), naive::kendall_tau_b(&x, &y), &what);
        }
    }

    /// Every ordering of every tie group of `y` at once (the full product), as explicit
    /// positions; calls `visit` with tie-free scores `y'` (higher = earlier).
    fn for_each_tie_breaking(y: &[f64], mut visit: impl FnMut(&[f64])) {
        let n = y.len();
        let mut items: Vec<usize> = (0..n).collect();
        items.sort_by(|&a, &b| y[b].total_cmp(&y[a]));
        let mut groups: Vec<Vec<usize>> = Vec::new();
        for &i in &items {
            match groups.last_mut() {
                Some(g) if y[g[0]] == y[i] => g.push(i),
                _ => groups.push(vec![i]),
            }
        }
        // All permutations of each group, by plain recursion.
        fn perms(rest: &[usize]) -> Vec<Vec<usize>> {
            if rest.len() <= 1 {
                return vec![rest.to_vec()];
            }
            let mut out = Vec::new();
            for k in 0..rest.len() {
                let mut others = rest.to_vec();
                let head = others.remove(k);
                for mut tail in perms(&others) {
                    tail.insert(0, head);
                    out.push(tail);
                }
            }
            out
        }
        let options: Vec<Vec<Vec<usize>>> = groups.iter().map(|g| perms(g)).collect();
        let mut choice = vec![0usize; options.len()];
        let mut broken = vec![0.0; n];
        loop {
            let mut position = 0;
            for (g, &c) in options.iter().zip(&choice) {
                for &i in &g[c] {
                    broken[i] = (n - position) as f64;
                    position += 1;
                }
            }
            visit(&broken);
            // Odometer over the choices.
            let mut k = 0;
            loop {
                if k == choice.len() {
                    return;
                }
                choice[k] += 1;
                if choice[k] < options[k].len() {
                    break;
                }
                choice[k] = 0;
                k += 1;
            }
        }
    }

    #[test]
    fn tau_ap_a_is_the_average_of_tau_ap_over_all_tie_breakings() {
        let mut rng = Rng(0x5EED_0004);
        for round in 0..200 {
            let n = 2 + rng.below(8);
            let x = rng.distinct(n);
            let y = rng.grouped_random(n, 4);
            let (mut total, mut count) = (0.0, 0usize);
            for_each_tie_breaking(&y, |broken| {
                total += value(naive::tau_ap(&x, broken));
                count += 1;
            });
            let mean = total / count as f64;
            let what = format!("round {round} n {n} y {y:?}");
            assert_close(tau_ap_a(&x, &y), mean, 1e-12, &what);
            assert_close(naive::tau_ap_a(&x, &y), mean, 1e-12, &what);
        }
    }

    // ---- properties ---------------------------------------------------------------------------

    #[test]
    fn identical_lists_give_one() {
        let mut rng = Rng(0x5EED_0005);
        for _ in 0..50 {
            let n = 2 + rng.below(80);
            let x = rng.distinct(n);
            for (name, fast, slow) in ALL {
                assert_close(fast(&x, &x), 1.0, 1e-12, name);
                assert_close(slow(&x, &x), 1.0, 1e-12, name);
            }
            // With ties (but not all tied) the tie-tolerant symmetric ones still give 1.
            let t = rng.small_ints(n, 3);
            if t.iter().any(|&v| v != t[0]) {
                for f in [tau_ap_b as Kernel, kendall_tau_b, spearman] {
                    assert_close(f(&t, &t), 1.0, 1e-12, "ties, x = y");
                }
            }
        }
    }

    #[test]
    fn reversed_lists_give_minus_one() {
        let mut rng = Rng(0x5EED_0006);
        for _ in 0..50 {
            let n = 2 + rng.below(80);
            let x = rng.distinct(n);
            let reversed: Vec<f64> = x.iter().map(|v| -v).collect();
            for f in [
                tau_ap as Kernel,
                tau_ap_a,
                tau_ap_b,
                kendall_tau_b,
                spearman,
            ] {
                assert_close(f(&x, &reversed), -1.0, 1e-12, "reversed");
            }
        }
    }

    #[test]
    fn tau_ap_b_is_symmetric_and_averages_both_directions() {
        let mut rng = Rng(0x5EED_0007);
        for _ in 0..200 {
            let n = 2 + rng.below(100);
            let x = rng.tied(n);
            let y = rng.tied(n);
            assert_same(tau_ap_b(&x, &y), tau_ap_b(&y, &x), "symmetry");
            let x = rng.distinct(n);
            let y = rng.distinct(n);
            let both = (value(tau_ap(&x, &y)) + value(tau_ap(&y, &x))) / 2.0;
            assert_close(tau_ap_b(&x, &y), both, 1e-12, "no ties");
        }
    }

    #[test]
    fn tau_ap_a_equals_tau_ap_without_ties() {
        let mut rng = Rng(0x5EED_0008);
        for _ in 0..200 {
            let n = 2 + rng.below(200);
            let x = rng.distinct(n);
            let y = rng.distinct(n);
            assert_close(tau_ap_a(&x, &y), value(tau_ap(&x, &y)), 1e-12, "no ties");
        }
    }

    #[test]
    fn hand_computed_small_cases() {
        // y order: items 2, 0, 1 (y = 3, 2, 1). x of those: 1, 3, 2.
        // C(2) = #{x > 3 among [1]} = 0; C(3) = #{x > 2 among [1, 3]} = 1.
        // tau_AP = 2/2 · (0/1 + 1/2) − 1 = −0.5.
        let x = [3.0, 2.0, 1.0];
        let y = [2.0, 1.0, 3.0];
        assert_close(tau_ap(&x, &y), -0.5, 1e-15, "tau_ap");
        assert_close(naive::tau_ap(&x, &y), -0.5, 1e-15, "naive tau_ap");
        // Kendall: pairs (0,1) concordant, (0,2) discordant, (1,2) discordant → −1/3.
        assert_close(kendall_tau_b(&x, &y), -1.0 / 3.0, 1e-15, "kendall");
        // Spearman with ties: ranks x = (1.5, 1.5, 3), y = (1, 2, 3) → r = sqrt(3)/2.
        let xt = [0.0, 0.0, 5.0];
        let yt = [1.0, 2.0, 3.0];
        assert_close(spearman(&xt, &yt), 3f64.sqrt() / 2.0, 1e-15, "spearman");
        // tau_ap_a with y all tied: the expectation is 0 (every order equally likely).
        assert_close(
            tau_ap_a(&[1.0, 2.0, 3.0], &[7.0; 3]),
            0.0,
            1e-15,
            "all tied",
        );
    }

    // ---- errors and undefined values ----------------------------------------------------------

    #[test]
    fn errors_and_undefined_values() {
        let nan = f64::NAN;
        for (name, fast, slow) in ALL {
            for f in [fast, slow] {
                assert_eq!(
                    f(&[1.0, 2.0, 3.0], &[1.0, 2.0]),
                    Err(RankError::LengthMismatch { left: 3, right: 2 }),
                    "{name}"
                );
                // Length is checked before NaN.
                assert_eq!(
                    f(&[nan], &[1.0, 2.0]),
                    Err(RankError::LengthMismatch { left: 1, right: 2 }),
                    "{name}"
                );
                assert_eq!(
                    f(&[1.0, 2.0, nan, nan], &[1.0, 2.0, 3.0, 4.0]),
                    Err(RankError::NaN { list: 1, index: 2 }),
                    "{name}"
                );
                assert_eq!(
                    f(&[1.0, 2.0, 3.0], &[1.0, nan, 3.0]),
                    Err(RankError::NaN { list: 2, index: 1 }),
                    "{name}"
                );
                // x is scanned before y; NaN is checked before n < 2 and before ties.
                assert_eq!(
                    f(&[1.0, 1.0, nan], &[nan, 2.0, 2.0]),
                    Err(RankError::NaN { list: 1, index: 2 }),
                    "{name}"
                );
                assert_eq!(f(&[nan], &[1.0]), Err(RankError::NaN { list: 1, index: 0 }));
                assert_eq!(f(&[], &[]), Ok(None), "{name}");
                assert_eq!(f(&[1.0], &[2.0]), Ok(None), "{name}");
            }
        }
        for f in [tau_ap as Kernel, naive::tau_ap] {
            assert_eq!(
                f(&[1.0, 1.0, 2.0], &[1.0, 2.0, 3.0]),
                Err(RankError::TiesInReference)
            );
            // Ties in x are reported before ties in y.
            assert_eq!(
                f(&[1.0, 1.0, 2.0], &[1.0, 1.0, 3.0]),
                Err(RankError::TiesInReference)
            );
            assert_eq!(
                f(&[1.0, 2.0, 3.0], &[1.0, 3.0, 3.0]),
                Err(RankError::TiesInEstimate)
            );
        }
        for f in [tau_ap_a as Kernel, naive::tau_ap_a] {
            assert_eq!(
                f(&[1.0, 1.0, 2.0], &[1.0, 2.0, 3.0]),
                Err(RankError::TiesInReference)
            );
            assert!(f(&[1.0, 2.0, 3.0], &[1.0, 3.0, 3.0]).is_ok());
        }
        // A list whose values are all tied: zero denominator.
        for f in [
            kendall_tau_b as Kernel,
            naive::kendall_tau_b,
            spearman,
            naive::spearman,
            tau_ap_b,
            naive::tau_ap_b,
        ] {
            assert_eq!(f(&[4.0, 4.0, 4.0], &[1.0, 2.0, 3.0]), Ok(None));
            assert_eq!(f(&[1.0, 2.0, 3.0], &[4.0, 4.0, 4.0]), Ok(None));
            assert_eq!(f(&[4.0, 4.0], &[4.0, 4.0]), Ok(None));
        }
    }

    #[test]
    fn all_tied_lists_follow_the_maths() {
        // tau_ap_a with every y tied has no zero denominator: it is the expected tau_ap of a
        // uniformly random order. By hand for n = 3 (ircor's tauAP_a: no "above" term; each
        // item's "within" term is (1/1 + 2/2) / 2 / 3 = 1/3, so 2/2 · 1 − 1 = 0), and against
        // the brute-force average over all n! orders for n = 2..7.
        assert_eq!(tau_ap_a(&[1.0, 2.0, 3.0], &[5.0, 5.0, 5.0]), Ok(Some(0.0)));
        let mut rng = Rng(0x5EED_7AE5);
        for n in 2..8 {
            let x = rng.distinct(n);
            let y = vec![5.0; n];
            let fast = value(tau_ap_a(&x, &y));
            let brute = value(naive::tau_ap_a(&x, &y));
            assert!(
                fast.abs() < 1e-15 && brute.abs() < 1e-12,
                "n={n}: {fast} {brute}"
            );
        }
        // tau_ap: every tie is an error, an all-tied list included (x is checked first).
        assert_eq!(
            tau_ap(&[1.0, 2.0, 3.0], &[5.0, 5.0, 5.0]),
            Err(RankError::TiesInEstimate)
        );
        assert_eq!(
            tau_ap(&[5.0, 5.0, 5.0], &[5.0, 5.0, 5.0]),
            Err(RankError::TiesInReference)
        );
        // tau_ap_a: an all-tied reference is a tie in x, an error, not NULL.
        assert_eq!(
            tau_ap_a(&[5.0, 5.0, 5.0], &[1.0, 2.0, 3.0]),
            Err(RankError::TiesInReference)
        );
        // One value off an all-tied list: defined again for every coefficient that allows the
        // ties (untied pairs; an item outside the top group; non-zero variance). By hand for
        // x = [1,2,3], y = [5,5,4]: pair (1,2) is tied in y, pairs (1,3) and (2,3) discordant,
        // so n_c − n_d = −2, n0 = 3, n1 = 0, n2 = 1 and τ_b = −2 / sqrt(3 · 2).
        let kb = value(kendall_tau_b(&[1.0, 2.0, 3.0], &[5.0, 5.0, 4.0]));
        assert!((kb - (-2.0 / 6f64.sqrt())).abs() < 1e-15, "{kb}");
        assert!(tau_ap_b(&[1.0, 2.0, 3.0], &[5.0, 5.0, 4.0])
            .unwrap()
            .is_some());
        assert!(spearman(&[1.0, 2.0, 3.0], &[5.0, 5.0, 4.0])
            .unwrap()
            .is_some());
    }

    #[test]
    fn error_messages() {
        let m = |e: RankError| e.to_string();
        assert_eq!(
            m(RankError::LengthMismatch { left: 3, right: 4 }),
            "the lists differ in length (3 and 4)"
        );
        assert_eq!(
            m(RankError::NaN { list: 2, index: 1 }),
            "NaN at position 2 of the second list (NaN cannot be ranked)"
        );
        assert_eq!(
            m(RankError::NaN { list: 1, index: 0 }),
            "NaN at position 1 of the first list (NaN cannot be ranked)"
        );
        assert!(m(RankError::TiesInReference).contains("use tau_ap_b"));
        assert!(m(RankError::TiesInEstimate).contains("use tau_ap_a"));
    }

    #[test]
    fn signed_zeros_tie_and_infinities_rank() {
        let x = [0.0, -0.0, 1.0];
        let y = [1.0, 2.0, 3.0];
        assert_eq!(tau_ap(&x, &y), Err(RankError::TiesInReference));
        assert_eq!(tau_ap(&y, &x), Err(RankError::TiesInEstimate));
        assert_eq!(tau_ap_a(&x, &y), Err(RankError::TiesInReference));
        assert_eq!(naive::tau_ap(&y, &x), Err(RankError::TiesInEstimate));
        let mut rng = Rng(0x5EED_0009);
        for _ in 0..200 {
            let n = 2 + rng.below(30);
            let pick =
                |r: &mut Rng| [-0.0, 0.0, 1.0, -1.0, f64::INFINITY, f64::NEG_INFINITY][r.below(6)];
            let a: Vec<f64> = (0..n).map(|_| pick(&mut rng)).collect();
            let b: Vec<f64> = (0..n).map(|_| pick(&mut rng)).collect();
            for (name, fast, slow) in [
                ("tau_ap_b", tau_ap_b as Kernel, naive::tau_ap_b as Kernel),
                ("kendall_tau_b", kendall_tau_b, naive::kendall_tau_b),
                ("spearman", spearman, naive::spearman),
            ] {
                assert_same(fast(&a, &b), slow(&a, &b), name);
            }
        }
        let x = [f64::NEG_INFINITY, 0.0, f64::INFINITY];
        assert_close(tau_ap(&x, &[1.0, 2.0, 3.0]), 1.0, 0.0, "infinities");
        assert_close(spearman(&x, &[1.0, 2.0, 3.0]), 1.0, 0.0, "infinities");
    }

    // ---- scale ---------------------------------------------------------------------------------

    #[test]
    fn large_inputs_run_and_stay_in_range() {
        let mut rng = Rng(0x5EED_000A);
        let n = 100_000;
        let x: Vec<f64> = (0..n).map(|_| rng.unit()).collect();
        let y: Vec<f64> = x.iter().map(|v| v + 0.3 * rng.unit()).collect();
        let y_ties: Vec<f64> = y.iter().map(|v| (v * 50.0).floor()).collect();
        let x_ties: Vec<f64> = x.iter().map(|v| (v * 70.0).floor()).collect();
        let cases: [(Kernel, &[f64], &[f64]); 7] = [
            (tau_ap, &x, &y),
            (tau_ap_a, &x, &y),
            (tau_ap_a, &x, &y_ties),
            (tau_ap_b, &x_ties, &y_ties),
            (kendall_tau_b, &x_ties, &y_ties),
            (spearman, &x_ties, &y_ties),
            (spearman, &x, &y),
        ];
        for (k, (f, a, b)) in cases.iter().enumerate() {
            let v = value(f(a, b));
            // Strongly (positively) related lists.
            assert!(v > 0.3 && v <= 1.0, "case {k}: {v}");
        }
    }

    #[test]
    fn quadratic_tau_ap_a_matches_fast_and_brute_force() {
        let mut rng = Rng(99);
        for n in 2..60 {
            let x = rng.distinct(n);
            let y = rng.grouped(n, 5);
            let quad = naive::tau_ap_a_quadratic(&x, &y).unwrap().unwrap();
            let fast = tau_ap_a(&x, &y).unwrap().unwrap();
            let brute = naive::tau_ap_a(&x, &y).unwrap().unwrap();
            assert!(
                (quad - fast).abs() < 1e-12 && (quad - brute).abs() < 1e-12,
                "n={n}"
            );
        }
        // Large tie groups, beyond brute force: quadratic against fast.
        let x = rng.distinct(2000);
        let y = rng.small_ints(2000, 7);
        let quad = naive::tau_ap_a_quadratic(&x, &y).unwrap().unwrap();
        let fast = tau_ap_a(&x, &y).unwrap().unwrap();
        assert!((quad - fast).abs() < 1e-12, "{quad} vs {fast}");
    }
}
