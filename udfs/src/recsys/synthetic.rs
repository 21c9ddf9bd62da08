//! Goodbooks-shaped synthetic interactions and item tags, seeded.
//!
//! # Why this module exists
//!
//! The thesis ran its explainer experiment on Goodbooks-10k (53k users, 10k books, 6M ratings,
//! 34k tags), which cannot be shipped with trustql or fetched at run time. A generator of data
//! with the same shape lets the experiment at that scale run anywhere (the SQL table function
//! `goodbooks_synthetic`) and lets the recommender benchmarks (`udfs/benches/recsys.rs`) measure
//! on the same rows the SQL sees. The function is pure: the same scale and seed give the same
//! rows.
//!
//! # The shape
//!
//! At scale 1: 53,424 users × 10,000 items, 6,000,000 distinct (user, item) pairs with ratings
//! 1..5 (Goodbooks' distribution: 2 %, 6 %, 23 %, 36 %, 33 %, mean about 3.9); Zipf-like item
//! popularity (weight ∝ 1/(rank + 50) over a random permutation of the ids); heavy-tailed user
//! activity (a Pareto(20, 1.2) draw per user, scaled so that the degrees, clamped to [20, 2000],
//! sum to the number of interactions: median about 53, mean about 112); 34,000 tags with
//! Zipf-like frequency (weight ∝ 1/(rank + 10)), every tag on at least one item, 10–40 further
//! tags per item, weights ⌊Pareto(1, 1.5)⌋ capped at 10,000. So that there is something to
//! personalise (independent draws from one popularity law would make MostPop the best possible
//! recommender), items and tags belong to 40 latent genres, every user has a favourite genre,
//! and half of a user's draws (and of an item's tag draws) come from the popularity law
//! restricted to that genre. 20 % of each user's interactions (round(0.2·n), at least one, at
//! most n − 1; the first in draw order, i.e. at random) are marked as held out.
//!
//! A scale s keeps the items, tags and genres and has round(53,424·s) users (at least 10) and
//! round(6,000,000·s) interactions (at least 20 per user). Everything is drawn in one stream of
//! [`Rng`] seeded with the seed: users in order, then the tags. The draws are integer arithmetic
//! and IEEE operations except `powf` (the popularity and Pareto laws), which comes from the
//! platform's maths library; with the same library (glibc on Linux) the rows are the same.

use crate::common::rng::Rng;

/// Users at scale 1 (Goodbooks-10k's 53,424).
pub const USERS: usize = 53_424;
/// Items (Goodbooks-10k's 10,000 books), at every scale.
pub const ITEMS: usize = 10_000;
/// Interactions at scale 1 (Goodbooks-10k has 5,976,479 ratings).
pub const INTERACTIONS: usize = 6_000_000;
/// Tags (Goodbooks-10k's 34,252, rounded), at every scale.
pub const TAGS: usize = 34_000;
/// The default seed, the one the recommender benchmarks' figures were measured with.
pub const DEFAULT_SEED: u64 = 20_240_601;
/// Share of each user's interactions marked as held out.
pub const HOLDOUT: f64 = 0.2;
/// The largest scale accepted (534,240 users, 600 million interactions).
pub const MAX_SCALE: f64 = 100.0;
/// Number of latent genres: each item and tag has one, each user a favourite.
const GENRES: usize = 40;
/// Probability that a user's (or an item's tag) draw comes from the favourite genre.
const GENRE_SHARE: f64 = 0.5;
/// Fewest and most interactions of one user.
const MIN_DEGREE: usize = 20;
const MAX_DEGREE: usize = 2_000;

/// (user id, item id, rating) or (item id, tag id, weight).
pub type Triplet = (u32, u32, f32);

/// A generated data set.
#[derive(Debug, Clone)]
pub struct Synthetic {
    pub n_users: usize,
    pub n_items: usize,
    pub n_tags: usize,
    /// The interactions not held out, sorted by user, then item.
    pub train: Vec<Triplet>,
    /// The held-out interactions, sorted by user, then item.
    pub test: Vec<Triplet>,
    /// (item, tag, weight), sorted by item, then tag.
    pub tags: Vec<Triplet>,
}

/// Why generation did not finish.
#[derive(Debug, Clone, PartialEq)]
pub enum SyntheticError {
    /// The scale is not a number in (0, [`MAX_SCALE`]].
    Scale(f64),
    /// The stop flag was raised.
    Stopped,
}

impl std::fmt::Display for SyntheticError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SyntheticError::Scale(s) => write!(f, "scale must be in (0, {MAX_SCALE}], got {s}"),
            SyntheticError::Stopped => write!(f, "stopped"),
        }
    }
}

/// Number of users and of interactions at `scale`.
pub fn size(scale: f64) -> Result<(usize, usize), SyntheticError> {
    if !(scale > 0.0 && scale <= MAX_SCALE) {
        return Err(SyntheticError::Scale(scale));
    }
    let n_users = ((USERS as f64 * scale).round() as usize).max(10);
    let total = ((INTERACTIONS as f64 * scale).round() as usize).max(n_users * MIN_DEGREE);
    Ok((n_users, total))
}

/// Bytes the generator holds at its peak for `scale` (the interactions, the tags and the
/// per-user draw state), for the memory check before generating.
pub fn bytes_needed(scale: f64) -> Result<f64, SyntheticError> {
    let (n_users, total) = size(scale)?;
    let triplet = std::mem::size_of::<Triplet>() as f64;
    let tag_rows = (TAGS + ITEMS * 40) as f64;
    Ok(total as f64 * triplet * 1.25 + n_users as f64 * 16.0 + tag_rows * triplet)
}

/// The data set at `scale` drawn from `seed`; `stop` is polled between users and returns true
/// to abandon the work (Ctrl-C).
pub fn goodbooks(
    scale: f64,
    seed: u64,
    stop: &dyn Fn() -> bool,
) -> Result<Synthetic, SyntheticError> {
    let (n_users, total) = size(scale)?;
    let mut rng = Rng::new(seed);
    let items = Zipf::new(ITEMS, 50.0, 1.0, &mut rng);
    let item_genre: Vec<u32> = (0..ITEMS)
        .map(|_| rng.below(GENRES as u64) as u32)
        .collect();
    let item_genres = genre_laws(&items, &item_genre, 50.0 / GENRES as f64);
    let degrees = user_degrees(n_users, total, &mut rng);
    let mut stamp = vec![u32::MAX; ITEMS];
    let (mut train, mut test) = (
        Vec::with_capacity(total - total / 5),
        Vec::with_capacity(total / 4 + n_users),
    );
    let mut row: Vec<u32> = Vec::new();
    for (u, &d) in degrees.iter().enumerate() {
        if u % 1024 == 0 && stop() {
            return Err(SyntheticError::Stopped);
        }
        row.clear();
        let favourite = &item_genres[rng.below(GENRES as u64) as usize];
        while row.len() < d {
            // Half the draws from the favourite genre; a repeat there falls back to a global
            // draw, so that heavy users who exhaust their genre still terminate.
            let mut i = items.sample(&mut rng);
            if rng.next_f64() < GENRE_SHARE && !favourite.ids.is_empty() {
                let j = favourite.sample(&mut rng);
                if stamp[j as usize] != u as u32 {
                    i = j;
                }
            }
            if stamp[i as usize] != u as u32 {
                stamp[i as usize] = u as u32;
                row.push(i);
            }
        }
        // `row` is in draw order, i.e. random: the first 20 % are held out.
        let held = ((d as f64 * HOLDOUT).round() as usize).clamp(1, d - 1);
        let mut part: Vec<Triplet> = row
            .iter()
            .map(|&i| (u as u32, i, rating(&mut rng)))
            .collect();
        let mut rest = part.split_off(held);
        part.sort_by_key(|t| t.1);
        rest.sort_by_key(|t| t.1);
        test.extend(part);
        train.extend(rest);
    }
    let tags = item_tags(&item_genre, &mut rng);
    Ok(Synthetic {
        n_users,
        n_items: ITEMS,
        n_tags: TAGS,
        train,
        test,
        tags,
    })
}

/// Tags: every tag on one random item (so that all of them occur), then 10..40 Zipf draws per
/// item, half of them from the tags of the item's genre.
fn item_tags(item_genre: &[u32], rng: &mut Rng) -> Vec<Triplet> {
    let tag_zipf = Zipf::new(TAGS, 10.0, 1.0, rng);
    let tag_genre: Vec<u32> = (0..TAGS).map(|_| rng.below(GENRES as u64) as u32).collect();
    let tag_genres = genre_laws(&tag_zipf, &tag_genre, 10.0 / GENRES as f64);
    let mut per_item: Vec<Vec<u32>> = vec![Vec::new(); ITEMS];
    for t in 0..TAGS as u32 {
        per_item[rng.below(ITEMS as u64) as usize].push(t);
    }
    let mut tags = Vec::new();
    let mut tag_stamp = vec![u32::MAX; TAGS];
    for (i, extra) in per_item.iter().enumerate() {
        let want = 10 + rng.below(31) as usize;
        let genre = &tag_genres[item_genre[i] as usize];
        let mut chosen: Vec<u32> = Vec::with_capacity(want + extra.len());
        for &t in extra {
            tag_stamp[t as usize] = i as u32;
            chosen.push(t);
        }
        let mut drawn = 0;
        while drawn < want {
            let mut t = tag_zipf.sample(rng);
            if rng.next_f64() < GENRE_SHARE && !genre.ids.is_empty() {
                let g = genre.sample(rng);
                if tag_stamp[g as usize] != i as u32 {
                    t = g;
                }
            }
            if tag_stamp[t as usize] != i as u32 {
                tag_stamp[t as usize] = i as u32;
                chosen.push(t);
                drawn += 1;
            }
        }
        chosen.sort_unstable();
        for t in chosen {
            // Pareto(1, 1.5) counts, as tag counts are heavy-tailed; at least 1.
            let w = (1.0 - rng.next_f64())
                .powf(-1.0 / 1.5)
                .floor()
                .min(10_000.0);
            tags.push((i as u32, t, w as f32));
        }
    }
    tags
}

/// A random permutation of 0..n (Fisher–Yates).
fn permutation(n: usize, rng: &mut Rng) -> Vec<u32> {
    let mut p: Vec<u32> = (0..n as u32).collect();
    for i in (1..n).rev() {
        p.swap(i, rng.below(i as u64 + 1) as usize);
    }
    p
}

/// Sampling from weights 1/(rank + offset)^exponent over a list of ids in rank order.
struct Zipf {
    cumulative: Vec<f64>,
    ids: Vec<u32>,
}

impl Zipf {
    /// The law over a random permutation of the ids 0..n.
    fn new(n: usize, offset: f64, exponent: f64, rng: &mut Rng) -> Zipf {
        Zipf::over(permutation(n, rng), offset, exponent)
    }

    fn over(ids: Vec<u32>, offset: f64, exponent: f64) -> Zipf {
        let mut acc = 0.0;
        let cumulative = (0..ids.len())
            .map(|r| {
                acc += (r as f64 + offset).powf(-exponent);
                acc
            })
            .collect();
        Zipf { cumulative, ids }
    }

    /// One id (the law must not be empty).
    fn sample(&self, rng: &mut Rng) -> u32 {
        let total = self.cumulative.last().copied().unwrap_or(0.0);
        let x = rng.next_f64() * total;
        let r = self.cumulative.partition_point(|&c| c <= x);
        self.ids[r.min(self.ids.len() - 1)]
    }
}

/// A Zipf law (exponent 1) restricted to the ids of each genre, in the same popularity order.
fn genre_laws(law: &Zipf, genre_of: &[u32], offset: f64) -> Vec<Zipf> {
    (0..GENRES as u32)
        .map(|g| {
            let ids: Vec<u32> = law
                .ids
                .iter()
                .copied()
                .filter(|&i| genre_of[i as usize] == g)
                .collect();
            Zipf::over(ids, offset, 1.0)
        })
        .collect()
}

/// Interactions per user: a Pareto(20, 1.2) draw scaled so that the degrees, clamped to
/// [20, 2000], sum to exactly `total` (which [`size`] keeps within [20·n, 2000·n]).
fn user_degrees(n_users: usize, total: usize, rng: &mut Rng) -> Vec<usize> {
    let max = MAX_DEGREE.min(ITEMS / 4);
    let raw: Vec<f64> = (0..n_users)
        .map(|_| 20.0 * (1.0 - rng.next_f64()).powf(-1.0 / 1.2))
        .collect();
    let degrees = |s: f64| -> Vec<usize> {
        raw.iter()
            .map(|&r| ((r * s).round() as usize).clamp(MIN_DEGREE, max))
            .collect()
    };
    let (mut lo, mut hi) = (1e-3f64, 1e3f64);
    for _ in 0..100 {
        let mid = (lo * hi).sqrt();
        if degrees(mid).iter().sum::<usize>() < total {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    let mut d = degrees(lo);
    let mut sum: usize = d.iter().sum();
    while sum != total {
        let u = rng.below(n_users as u64) as usize;
        if sum < total && d[u] < max {
            d[u] += 1;
            sum += 1;
        } else if sum > total && d[u] > MIN_DEGREE {
            d[u] -= 1;
            sum -= 1;
        }
    }
    d
}

/// Goodbooks-like rating distribution (mean about 3.9).
fn rating(rng: &mut Rng) -> f32 {
    let x = rng.next_f64();
    [0.02, 0.08, 0.31, 0.67, 1.0]
        .iter()
        .position(|&c| x < c)
        .unwrap_or(4) as f32
        + 1.0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn never() -> bool {
        false
    }

    #[test]
    fn shape_at_a_small_scale() {
        let d = goodbooks(0.01, DEFAULT_SEED, &never).unwrap();
        let (n_users, total) = size(0.01).unwrap();
        assert_eq!(d.n_users, n_users);
        assert_eq!(d.train.len() + d.test.len(), total);
        // Sorted by (user, item), distinct pairs, ids in range, ratings 1..5.
        for part in [&d.train, &d.test] {
            assert!(part.windows(2).all(|w| (w[0].0, w[0].1) < (w[1].0, w[1].1)));
            assert!(part.iter().all(|t| (t.0 as usize) < n_users
                && (t.1 as usize) < ITEMS
                && t.2.fract() == 0.0
                && (1.0..=5.0).contains(&t.2)));
        }
        let mut per_user = vec![(0usize, 0usize); n_users];
        for t in &d.train {
            per_user[t.0 as usize].0 += 1;
        }
        for t in &d.test {
            per_user[t.0 as usize].1 += 1;
        }
        let mut pairs: Vec<(u32, u32)> =
            d.train.iter().chain(&d.test).map(|t| (t.0, t.1)).collect();
        pairs.sort_unstable();
        pairs.dedup();
        assert_eq!(pairs.len(), total, "a (user, item) pair occurs twice");
        for (u, &(train, test)) in per_user.iter().enumerate() {
            let n = train + test;
            assert!(
                (MIN_DEGREE..=MAX_DEGREE).contains(&n),
                "user {u} has {n} interactions"
            );
            let held = ((n as f64 * HOLDOUT).round() as usize).clamp(1, n - 1);
            assert_eq!(test, held, "user {u}");
        }
        // Every tag occurs; 10..40 drawn tags per item plus the ones placed first.
        let mut tag_seen = vec![false; TAGS];
        let mut per_item = vec![0usize; ITEMS];
        for t in &d.tags {
            tag_seen[t.1 as usize] = true;
            per_item[t.0 as usize] += 1;
            assert!(t.2 >= 1.0 && t.2 <= 10_000.0 && t.2.fract() == 0.0);
        }
        assert!(tag_seen.iter().all(|&s| s));
        assert!(per_item.iter().all(|&n| n >= 10));
        assert!(d
            .tags
            .windows(2)
            .all(|w| (w[0].0, w[0].1) < (w[1].0, w[1].1)));
        // Goodbooks' rating distribution: mean about 3.9.
        let mean = d.train.iter().map(|t| f64::from(t.2)).sum::<f64>() / d.train.len() as f64;
        assert!((mean - 3.91).abs() < 0.05, "mean rating {mean}");
    }

    #[test]
    fn popularity_is_heavy_tailed_and_users_follow_a_genre() {
        let d = goodbooks(0.02, 7, &never).unwrap();
        let mut per_item = vec![0usize; ITEMS];
        for t in d.train.iter().chain(&d.test) {
            per_item[t.1 as usize] += 1;
        }
        per_item.sort_unstable();
        let median = per_item[ITEMS / 2] as f64;
        let max = per_item[ITEMS - 1] as f64;
        assert!(max > 20.0 * median, "max {max}, median {median}");
        // A user's items concentrate in one genre: the mean share of a user's most frequent
        // genre is far above what the same statistic gives for genres unrelated to the draws
        // (labels from another stream), about 0.1 for users of 20-2000 items and 40 genres.
        let mut rng = Rng::new(7);
        let _items = Zipf::new(ITEMS, 50.0, 1.0, &mut rng);
        let genre: Vec<u32> = (0..ITEMS)
            .map(|_| rng.below(GENRES as u64) as u32)
            .collect();
        let mut other = Rng::new(8);
        let unrelated: Vec<u32> = (0..ITEMS)
            .map(|_| other.below(GENRES as u64) as u32)
            .collect();
        let all: Vec<Triplet> = {
            let mut v: Vec<Triplet> = d.train.iter().chain(&d.test).copied().collect();
            v.sort_by_key(|t| (t.0, t.1));
            v
        };
        let top_share = |labels: &[u32]| {
            let (mut sum, mut users, mut start) = (0.0, 0usize, 0usize);
            while start < all.len() {
                let u = all[start].0;
                let end = start + all[start..].partition_point(|t| t.0 == u);
                let mut counts = [0usize; GENRES];
                for t in &all[start..end] {
                    counts[labels[t.1 as usize] as usize] += 1;
                }
                sum += counts.iter().copied().max().unwrap_or(0) as f64 / (end - start) as f64;
                users += 1;
                start = end;
            }
            sum / users as f64
        };
        let (share, baseline) = (top_share(&genre), top_share(&unrelated));
        assert!(
            share > 0.3 && share > 2.5 * baseline,
            "top genre share {share}, unrelated {baseline}"
        );
    }

    #[test]
    fn the_same_seed_gives_the_same_rows_and_another_seed_others() {
        let a = goodbooks(0.005, 11, &never).unwrap();
        let b = goodbooks(0.005, 11, &never).unwrap();
        let c = goodbooks(0.005, 12, &never).unwrap();
        assert_eq!((&a.train, &a.test, &a.tags), (&b.train, &b.test, &b.tags));
        assert_ne!(a.train, c.train);
        assert_ne!(a.tags, c.tags);
    }

    #[test]
    fn bad_scales_and_stops_are_errors() {
        for s in [0.0, -1.0, f64::NAN, f64::INFINITY, MAX_SCALE * 1.01] {
            assert!(matches!(
                goodbooks(s, 1, &never),
                Err(SyntheticError::Scale(_))
            ));
        }
        assert_eq!(
            goodbooks(0.01, 1, &|| true).unwrap_err(),
            SyntheticError::Stopped
        );
        assert!(bytes_needed(1.0).unwrap() > 6e6 * 12.0);
        assert!(bytes_needed(0.0).is_err());
    }
}
