//! Distance consistency of a representation (thesis §4.3.1, eq. 4.9–4.12; SPEC §7), with
//! percentile-bootstrap confidence intervals.
//!
//! Why: the thesis judges an embedding trustworthy when distances in it behave like distances in
//! audio space: a slightly transformed clip should stay nearest to its own original (within-space
//! consistency), and the two spaces should rank the same pairs as near or far (between-space
//! consistency). These kernels compute the measures for one (transformation, magnitude) cell from
//! distance matrices that the caller has already computed with DTW/SiMPle and Euclidean/cosine.
//!
//! Input for one cell and one space: `dist`, an `n_points × n_originals` row-major matrix of the
//! distances from each transformed point to every **original** (the candidates are the originals
//! only, never other transformed points), and `own[p]`, the column of point `p`'s own original.
//!
//! Definitions:
//! - eq. 4.9: `δ_p = 0` when point `p` is strictly closer to its own original than to every other
//!   original, else `1`; a tie with another original counts as `1`. With a single original, the
//!   condition holds vacuously and `δ = 0` (as in the study's code, `all` of an empty set).
//! - eq. 4.10: `C^W = 1 − mean_p δ_p`.
//! - eq. 4.11: `C^B_ρ` = Spearman's ρ (Pearson correlation of ranks, tied values getting the mean
//!   of their ranks, as SciPy's `spearmanr`) between the flattened audio-space and latent-space
//!   matrices. Choice: the thesis' text takes the distances to `x' ∈ X^ts \ x` (other originals
//!   only), but the study's code and SPEC §7 use the distances to *all* originals, the own one
//!   included; this module follows the code and SPEC. Undefined (an error) when either matrix is
//!   constant.
//! - eq. 4.12: `C^B_acc` = the share of points whose `δ` agrees between the two spaces.
//!
//! Bootstrap (the thesis reports 95 % intervals from 1,000 bootstraps; [`DEFAULT_RESAMPLES`]):
//! - resampling unit: the transformed points (rows), drawn `n_points` times with replacement,
//!   uniformly, with [`Rng::below`] from `Rng::new(seed)`, one replicate after another. Each
//!   replicate recomputes the statistic on the drawn points: the mean of their `δ` for `C^W`, the
//!   agreement of their `δ` pairs for `C^B_acc`, and for `C^B_ρ` Spearman's ρ over all distances
//!   of the drawn rows (a row drawn twice contributes its distances twice; ranks are recomputed
//!   within each replicate). The originals (columns) are kept fixed.
//! - The draws depend only on `seed`, `n_points` and the replicate count, so calls with the same
//!   seed on the same cell resample the same points: the intervals of the two spaces' `C^W` and of
//!   `C^B` are paired.
//! - Interval: the 2.5 % and 97.5 % quantiles of the replicate values with linear interpolation
//!   between order statistics (NumPy's default `quantile` method, Hyndman–Fan type 7: position
//!   `h = (B − 1)·q` in the sorted values, interpolated between `⌊h⌋` and `⌊h⌋ + 1`). The point
//!   estimate is the statistic on the full data. A replicate whose ρ is undefined (all drawn
//!   distances tied in a space) is left out, and [`Interval::replicates`] counts those kept.
//!
//! Spearman replicates do not rebuild and re-sort the resampled arrays: each space's values are
//! sorted once, and a replicate's average ranks are the cumulative multiplicities of the tie
//! groups, O(n_points·n_originals) per replicate instead of O(N log N).

use super::error::AudioError;
use crate::common::rng::Rng;

/// The thesis' number of bootstrap replicates.
pub const DEFAULT_RESAMPLES: usize = 1000;

/// The lower and upper quantiles of the 95 % percentile interval.
const TAILS: (f64, f64) = (0.025, 0.975);

/// Settings of a percentile bootstrap.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Bootstrap {
    /// Number of replicates (≥ 1).
    pub resamples: usize,
    /// Seed of the resampling; the same seed gives the same interval.
    pub seed: u64,
}

impl Default for Bootstrap {
    /// [`DEFAULT_RESAMPLES`] replicates, seed 0.
    fn default() -> Bootstrap {
        Bootstrap {
            resamples: DEFAULT_RESAMPLES,
            seed: 0,
        }
    }
}

/// A point estimate with its 95 % percentile-bootstrap interval.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Interval {
    /// The statistic on the full data.
    pub estimate: f64,
    /// The 2.5 % quantile of the replicates.
    pub lower: f64,
    /// The 97.5 % quantile of the replicates.
    pub upper: f64,
    /// How many replicates had a defined value (all of them, except for ρ on tied data).
    pub replicates: usize,
}

/// All consistency measures of one (transformation, magnitude) cell.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct CellConsistency {
    /// `C^W` in audio space.
    pub within_audio: Interval,
    /// `C^W` in latent space.
    pub within_latent: Interval,
    /// `C^B_ρ` between the spaces.
    pub between_spearman: Interval,
    /// `C^B_acc` between the spaces.
    pub between_accuracy: Interval,
}

/// `δ_p` of eq. 4.9 for every point: 0 when `dist[p, own[p]]` is strictly below every other entry
/// of row `p`, else 1. `dist` is `own.len() × n_originals`, row-major.
pub fn deltas(dist: &[f64], n_originals: usize, own: &[usize]) -> Result<Vec<u8>, AudioError> {
    check_matrix("the distance matrix", dist, n_originals, own.len())?;
    own.iter()
        .zip(dist.chunks_exact(n_originals))
        .enumerate()
        .map(|(p, (&o, row))| {
            let own_distance = *row.get(o).ok_or_else(|| {
                AudioError::BadInput(format!(
                    "point {p}'s own original {o} is out of range ({n_originals} originals)"
                ))
            })?;
            let beaten = row
                .iter()
                .enumerate()
                .any(|(q, &d)| q != o && d <= own_distance);
            Ok(u8::from(beaten))
        })
        .collect()
}

/// `C^W = 1 − mean δ` (eq. 4.10).
pub fn within(deltas: &[u8]) -> Result<f64, AudioError> {
    check_deltas("δ", deltas)?;
    Ok(1.0 - mean_with_counts(deltas, None))
}

/// `C^B_acc`: the share of points whose `δ` agree between audio and latent space (eq. 4.12).
pub fn between_accuracy(delta_audio: &[u8], delta_latent: &[u8]) -> Result<f64, AudioError> {
    let agree = agreement(delta_audio, delta_latent)?;
    Ok(mean_with_counts(&agree, None))
}

/// `C^B_ρ`: Spearman's ρ between the flattened audio-space and latent-space distance matrices
/// (eq. 4.11, all originals as candidates; see the module docs).
pub fn between_spearman(dist_audio: &[f64], dist_latent: &[f64]) -> Result<f64, AudioError> {
    RankedPair::new(dist_audio, dist_latent, dist_audio.len().max(1))?.estimate()
}

/// `C^W` with its 95 % bootstrap interval over the points.
pub fn within_ci(deltas: &[u8], bootstrap: &Bootstrap) -> Result<Interval, AudioError> {
    let estimate = within(deltas)?;
    interval(estimate, deltas.len(), bootstrap, |counts| {
        Some(1.0 - mean_with_counts(deltas, Some(counts)))
    })
}

/// `C^B_acc` with its 95 % bootstrap interval over the points.
pub fn between_accuracy_ci(
    delta_audio: &[u8],
    delta_latent: &[u8],
    bootstrap: &Bootstrap,
) -> Result<Interval, AudioError> {
    let agree = agreement(delta_audio, delta_latent)?;
    let estimate = mean_with_counts(&agree, None);
    interval(estimate, agree.len(), bootstrap, |counts| {
        Some(mean_with_counts(&agree, Some(counts)))
    })
}

/// `C^B_ρ` with its 95 % bootstrap interval over the points (rows of `n_originals` distances).
pub fn between_spearman_ci(
    dist_audio: &[f64],
    dist_latent: &[f64],
    n_originals: usize,
    bootstrap: &Bootstrap,
) -> Result<Interval, AudioError> {
    let pair = RankedPair::new(dist_audio, dist_latent, n_originals)?;
    let estimate = pair.estimate()?;
    let mut scratch = pair.scratch();
    interval(estimate, pair.n_rows(), bootstrap, |counts| {
        pair.rho_into(Some(counts), &mut scratch)
    })
}

/// Every measure of one cell, with intervals from one seed (so they are paired): the audio-space
/// and latent-space matrices are `own.len() × n_originals`, row-major.
pub fn cell_consistency(
    dist_audio: &[f64],
    dist_latent: &[f64],
    n_originals: usize,
    own: &[usize],
    bootstrap: &Bootstrap,
) -> Result<CellConsistency, AudioError> {
    let delta_audio = deltas(dist_audio, n_originals, own).map_err(|e| e.context("audio"))?;
    let delta_latent = deltas(dist_latent, n_originals, own).map_err(|e| e.context("latent"))?;
    Ok(CellConsistency {
        within_audio: within_ci(&delta_audio, bootstrap)?,
        within_latent: within_ci(&delta_latent, bootstrap)?,
        between_spearman: between_spearman_ci(dist_audio, dist_latent, n_originals, bootstrap)?,
        between_accuracy: between_accuracy_ci(&delta_audio, &delta_latent, bootstrap)?,
    })
}

/// Checks a matrix of `rows × columns` finite distances with at least one row and column.
fn check_matrix(name: &str, dist: &[f64], columns: usize, rows: usize) -> Result<(), AudioError> {
    if columns == 0 || rows == 0 {
        return Err(AudioError::BadInput(format!(
            "{name} is empty ({rows} points × {columns} originals)"
        )));
    }
    if rows.checked_mul(columns) != Some(dist.len()) {
        return Err(AudioError::BadInput(format!(
            "{name} holds {} values, not {rows} points × {columns} originals",
            dist.len()
        )));
    }
    if let Some(at) = dist.iter().position(|d| !d.is_finite()) {
        return Err(AudioError::BadInput(format!(
            "{name}: the distance from point {} to original {} (value {at}) is not finite ({})",
            at / columns,
            at % columns,
            dist[at]
        )));
    }
    Ok(())
}

/// Checks a non-empty list of 0/1 values.
fn check_deltas(name: &str, deltas: &[u8]) -> Result<(), AudioError> {
    if deltas.is_empty() {
        return Err(AudioError::BadInput(format!("{name} has no points")));
    }
    if let Some(p) = deltas.iter().position(|&d| d > 1) {
        return Err(AudioError::BadInput(format!(
            "{name} of point {p} is {}, not 0 or 1",
            deltas[p]
        )));
    }
    Ok(())
}

/// 1 where the two spaces' `δ` agree, 0 where they differ.
fn agreement(delta_audio: &[u8], delta_latent: &[u8]) -> Result<Vec<u8>, AudioError> {
    check_deltas("the audio-space δ", delta_audio)?;
    check_deltas("the latent-space δ", delta_latent)?;
    if delta_audio.len() != delta_latent.len() {
        return Err(AudioError::BadInput(format!(
            "the spaces have different numbers of points: {} in audio space, {} in latent space",
            delta_audio.len(),
            delta_latent.len()
        )));
    }
    Ok(delta_audio
        .iter()
        .zip(delta_latent)
        .map(|(a, l)| u8::from(a == l))
        .collect())
}

/// The mean of 0/1 values, each weighted by its multiplicity in `counts` (all 1 when `None`);
/// the multiplicities of a replicate add up to the number of values.
fn mean_with_counts(values: &[u8], counts: Option<&[u32]>) -> f64 {
    let total: u64 = match counts {
        None => values.iter().map(|&v| u64::from(v)).sum(),
        Some(c) => values
            .iter()
            .zip(c)
            .map(|(&v, &k)| u64::from(v) * u64::from(k))
            .sum(),
    };
    total as f64 / values.len() as f64
}

/// The point estimate and the percentile interval of `statistic` over `resamples` replicates,
/// each given the multiplicity of every one of the `n` points in that replicate.
fn interval(
    estimate: f64,
    n: usize,
    bootstrap: &Bootstrap,
    mut statistic: impl FnMut(&[u32]) -> Option<f64>,
) -> Result<Interval, AudioError> {
    if bootstrap.resamples == 0 {
        return Err(AudioError::BadParameter(
            "the bootstrap needs at least 1 resample".to_string(),
        ));
    }
    let mut rng = Rng::new(bootstrap.seed);
    let mut counts = vec![0u32; n];
    let mut values = Vec::with_capacity(bootstrap.resamples);
    for _ in 0..bootstrap.resamples {
        counts.fill(0);
        for _ in 0..n {
            if let Some(c) = counts.get_mut(rng.below(n as u64) as usize) {
                *c += 1;
            }
        }
        values.extend(statistic(&counts));
    }
    values.sort_by(f64::total_cmp);
    let (lower, upper) = match (quantile(&values, TAILS.0), quantile(&values, TAILS.1)) {
        (Some(lower), Some(upper)) => (lower, upper),
        _ => {
            return Err(AudioError::BadInput(
                "no bootstrap replicate had a defined value".to_string(),
            ))
        }
    };
    Ok(Interval {
        estimate,
        lower,
        upper,
        replicates: values.len(),
    })
}

/// The `q` quantile of sorted values, NumPy's default linear interpolation; `None` when empty.
fn quantile(sorted: &[f64], q: f64) -> Option<f64> {
    let last = sorted.len().checked_sub(1)?;
    let h = last as f64 * q;
    let below = (h.floor() as usize).min(last);
    let low = sorted[below];
    let high = sorted[(below + 1).min(last)];
    Some(low + (h - below as f64) * (high - low))
}

/// One space's values sorted once, in tie groups, for ranking any resample of its rows.
struct SortedValues {
    /// Indices of the values, in increasing order of value.
    order: Vec<usize>,
    /// The row (point) of each entry of `order`.
    rows: Vec<usize>,
    /// End (exclusive) in `order` of each group of equal values.
    group_ends: Vec<usize>,
}

impl SortedValues {
    /// Sorts a row-major matrix with `columns` values per row.
    fn new(values: &[f64], columns: usize) -> SortedValues {
        let mut order: Vec<usize> = (0..values.len()).collect();
        order.sort_by(|&x, &y| values[x].total_cmp(&values[y]));
        let rows = order.iter().map(|&e| e / columns).collect();
        let mut group_ends = Vec::new();
        for (k, pair) in order.windows(2).enumerate() {
            if values[pair[0]] != values[pair[1]] {
                group_ends.push(k + 1);
            }
        }
        group_ends.push(order.len());
        SortedValues {
            order,
            rows,
            group_ends,
        }
    }

    /// Average ranks (1-based) of the values in the resample where row `r` appears `counts[r]`
    /// times (once each when `None`), written into `ranks`. Entries of rows not drawn get a rank
    /// too, which their zero weight then ignores.
    fn ranks(&self, counts: Option<&[u32]>, ranks: &mut [f64]) {
        let mut start = 0;
        let mut before = 0.0;
        for &end in &self.group_ends {
            let total = match counts {
                None => (end - start) as f64,
                Some(c) => self.rows[start..end].iter().map(|&r| f64::from(c[r])).sum(),
            };
            let rank = before + (total + 1.0) / 2.0;
            for &e in &self.order[start..end] {
                ranks[e] = rank;
            }
            before += total;
            start = end;
        }
    }
}

/// The audio-space and latent-space matrices of one cell, sorted for Spearman's ρ.
struct RankedPair {
    columns: usize,
    audio: SortedValues,
    latent: SortedValues,
}

/// Rank buffers reused across replicates.
struct RankScratch {
    audio: Vec<f64>,
    latent: Vec<f64>,
}

impl RankedPair {
    /// Validates two `rows × columns` matrices of the same shape and sorts them.
    fn new(audio: &[f64], latent: &[f64], columns: usize) -> Result<RankedPair, AudioError> {
        if audio.len() != latent.len() {
            return Err(AudioError::BadInput(format!(
                "the spaces' distance matrices differ in size: {} and {} values",
                audio.len(),
                latent.len()
            )));
        }
        let rows = audio.len() / columns.max(1);
        check_matrix("the audio-space distance matrix", audio, columns, rows)?;
        check_matrix("the latent-space distance matrix", latent, columns, rows)?;
        Ok(RankedPair {
            columns,
            audio: SortedValues::new(audio, columns),
            latent: SortedValues::new(latent, columns),
        })
    }

    fn n_rows(&self) -> usize {
        self.audio.order.len() / self.columns
    }

    fn scratch(&self) -> RankScratch {
        let n = self.audio.order.len();
        RankScratch {
            audio: vec![0.0; n],
            latent: vec![0.0; n],
        }
    }

    /// ρ of the full data; an error when it is undefined.
    fn estimate(&self) -> Result<f64, AudioError> {
        self.rho_into(None, &mut self.scratch()).ok_or_else(|| {
            AudioError::BadInput(
                "Spearman's ρ is undefined: every distance is equal in one of the spaces"
                    .to_string(),
            )
        })
    }

    /// ρ of the resample given by `counts`, using `scratch` for the ranks; `None` when either
    /// space's resampled values are all tied.
    fn rho_into(&self, counts: Option<&[u32]>, scratch: &mut RankScratch) -> Option<f64> {
        self.audio.ranks(counts, &mut scratch.audio);
        self.latent.ranks(counts, &mut scratch.latent);
        // A resample has as many values as the data, so the mean rank is (N + 1) / 2.
        let mean = (scratch.audio.len() as f64 + 1.0) / 2.0;
        let (mut sxy, mut sxx, mut syy) = (0.0, 0.0, 0.0);
        let rows = scratch
            .audio
            .chunks_exact(self.columns)
            .zip(scratch.latent.chunks_exact(self.columns));
        for (r, (xs, ys)) in rows.enumerate() {
            let w = counts.map_or(1.0, |c| f64::from(c[r]));
            if w == 0.0 {
                continue;
            }
            let (mut rxy, mut rxx, mut ryy) = (0.0, 0.0, 0.0);
            for (&x, &y) in xs.iter().zip(ys) {
                let (dx, dy) = (x - mean, y - mean);
                rxy += dx * dy;
                rxx += dx * dx;
                ryy += dy * dy;
            }
            sxy += w * rxy;
            sxx += w * rxx;
            syy += w * ryy;
        }
        (sxx > 0.0 && syy > 0.0).then(|| (sxy / (sxx * syy).sqrt()).clamp(-1.0, 1.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Average ranks by counting, O(N²).
    fn naive_ranks(v: &[f64]) -> Vec<f64> {
        v.iter()
            .map(|&x| {
                let less = v.iter().filter(|&&y| y < x).count() as f64;
                let equal = v.iter().filter(|&&y| y == x).count() as f64;
                less + (equal + 1.0) / 2.0
            })
            .collect()
    }

    /// Pearson correlation of the naive ranks, straight from the definition.
    fn naive_spearman(x: &[f64], y: &[f64]) -> f64 {
        let (rx, ry) = (naive_ranks(x), naive_ranks(y));
        let n = x.len() as f64;
        let (mx, my) = (rx.iter().sum::<f64>() / n, ry.iter().sum::<f64>() / n);
        let mut c = 0.0;
        let mut vx = 0.0;
        let mut vy = 0.0;
        for i in 0..x.len() {
            c += (rx[i] - mx) * (ry[i] - my);
            vx += (rx[i] - mx).powi(2);
            vy += (ry[i] - my).powi(2);
        }
        c / (vx * vy).sqrt()
    }

    /// Integer-valued distances (many ties), latent ones partly following the audio ones.
    fn random_cell(rng: &mut Rng, rows: usize, columns: usize) -> (Vec<f64>, Vec<f64>) {
        let audio: Vec<f64> = (0..rows * columns).map(|_| rng.below(6) as f64).collect();
        let latent = audio
            .iter()
            .map(|&a| a + rng.below(4) as f64 * 0.5)
            .collect();
        (audio, latent)
    }

    #[test]
    fn deltas_by_hand() {
        // p0 strictly closest to its own; p1 tied with another; p2 beaten by another.
        let dist = [1.0, 2.0, 3.0, 1.0, 1.0, 5.0, 4.0, 1.0, 2.0];
        let d = deltas(&dist, 3, &[0, 1, 2]).unwrap();
        assert_eq!(d, vec![0, 1, 1]);
        assert!((within(&d).unwrap() - 1.0 / 3.0).abs() < 1e-15);
        assert_eq!(deltas(&dist, 3, &[0, 0, 1]).unwrap(), vec![0, 1, 0]);
        // A single original: vacuously nearest.
        assert_eq!(deltas(&[7.0, 0.5], 1, &[0, 0]).unwrap(), vec![0, 0]);
        assert_eq!(between_accuracy(&[0, 1, 1, 0], &[0, 0, 1, 1]).unwrap(), 0.5);
        assert_eq!(within(&[0, 0, 0, 0]).unwrap(), 1.0);
    }

    #[test]
    fn errors_name_the_problem() {
        let e = deltas(&[1.0, 2.0, 3.0], 2, &[0, 1])
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("3 values") && e.contains("2 points × 2 originals"),
            "{e}"
        );
        let e = deltas(&[1.0, 2.0], 2, &[2]).unwrap_err().to_string();
        assert!(e.contains("point 0's own original 2"), "{e}");
        let e = deltas(&[1.0, f64::NAN], 2, &[0]).unwrap_err().to_string();
        assert!(e.contains("point 0 to original 1"), "{e}");
        assert!(within(&[]).unwrap_err().to_string().contains("no points"));
        assert!(within(&[0, 2])
            .unwrap_err()
            .to_string()
            .contains("point 1 is 2"));
        assert!(between_accuracy(&[0, 1], &[0])
            .unwrap_err()
            .to_string()
            .contains("2 in audio"));
        let e = between_spearman(&[1.0, 1.0, 1.0], &[1.0, 2.0, 3.0])
            .unwrap_err()
            .to_string();
        assert!(e.contains("undefined"), "{e}");
        assert!(between_spearman(&[1.0, 2.0], &[1.0])
            .unwrap_err()
            .to_string()
            .contains("2 and 1"));
        let zero = Bootstrap {
            resamples: 0,
            seed: 1,
        };
        assert!(within_ci(&[0, 1], &zero)
            .unwrap_err()
            .to_string()
            .contains("at least 1"));
        let e = between_spearman_ci(&[1.0, 2.0, 3.0], &[3.0, 2.0, 1.0], 2, &zero)
            .unwrap_err()
            .to_string();
        assert!(e.contains("3 values"), "{e}");
    }

    #[test]
    fn spearman_by_hand_and_against_naive() {
        assert_eq!(
            between_spearman(&[1.0, 2.0, 3.0], &[10.0, 20.0, 30.0]).unwrap(),
            1.0
        );
        assert_eq!(
            between_spearman(&[1.0, 2.0, 3.0], &[3.0, 2.0, 1.0]).unwrap(),
            -1.0
        );
        // Ties: ranks x = [1.5, 1.5, 3], y = [1, 2, 3] → ρ = 1.5 / √(1.5·2) = √3 / 2.
        let rho = between_spearman(&[5.0, 5.0, 9.0], &[1.0, 2.0, 3.0]).unwrap();
        assert!((rho - 3f64.sqrt() / 2.0).abs() < 1e-15);
        let mut rng = Rng::new(17);
        for (rows, columns) in [(1, 3), (4, 5), (9, 7), (20, 3)] {
            let (audio, latent) = random_cell(&mut rng, rows, columns);
            let got = between_spearman(&audio, &latent).unwrap();
            let expected = naive_spearman(&audio, &latent);
            assert!((got - expected).abs() < 1e-12, "{got} vs {expected}");
        }
    }

    #[test]
    fn weighted_ranks_equal_ranks_of_the_materialised_resample() {
        let mut rng = Rng::new(23);
        let (rows, columns) = (7, 4);
        let (audio, latent) = random_cell(&mut rng, rows, columns);
        let pair = RankedPair::new(&audio, &latent, columns).unwrap();
        let mut scratch = pair.scratch();
        for _ in 0..20 {
            let mut counts = vec![0u32; rows];
            for _ in 0..rows {
                counts[rng.below(rows as u64) as usize] += 1;
            }
            let (mut xa, mut xl) = (Vec::new(), Vec::new());
            for (r, &c) in counts.iter().enumerate() {
                for _ in 0..c {
                    xa.extend_from_slice(&audio[r * columns..(r + 1) * columns]);
                    xl.extend_from_slice(&latent[r * columns..(r + 1) * columns]);
                }
            }
            let got = pair.rho_into(Some(&counts), &mut scratch).unwrap();
            let expected = naive_spearman(&xa, &xl);
            assert!(
                (got - expected).abs() < 1e-12,
                "{counts:?}: {got} vs {expected}"
            );
        }
    }

    #[test]
    fn spearman_interval_equals_a_naive_bootstrap() {
        // The same draws as documented (Rng::new(seed), n_points draws of below(n_points) per
        // replicate), materialised and ranked naively; quantiles by NumPy's linear rule.
        let mut rng = Rng::new(31);
        let (rows, columns) = (8, 5);
        let (audio, latent) = random_cell(&mut rng, rows, columns);
        let settings = Bootstrap {
            resamples: 60,
            seed: 4,
        };
        let got = between_spearman_ci(&audio, &latent, columns, &settings).unwrap();
        let mut draws = Rng::new(settings.seed);
        let mut replicates = Vec::new();
        for _ in 0..settings.resamples {
            let (mut xa, mut xl) = (Vec::new(), Vec::new());
            for _ in 0..rows {
                let r = draws.below(rows as u64) as usize;
                xa.extend_from_slice(&audio[r * columns..(r + 1) * columns]);
                xl.extend_from_slice(&latent[r * columns..(r + 1) * columns]);
            }
            let rho = naive_spearman(&xa, &xl);
            if rho.is_finite() {
                replicates.push(rho);
            }
        }
        replicates.sort_by(f64::total_cmp);
        let k = replicates.len() as f64 - 1.0;
        let at = |q: f64| {
            let h = k * q;
            let lo = h.floor() as usize;
            replicates[lo]
                + (h - lo as f64)
                    * (replicates[(lo + 1).min(replicates.len() - 1)] - replicates[lo])
        };
        assert_eq!(got.replicates, replicates.len());
        assert!(
            (got.lower - at(0.025)).abs() < 1e-12,
            "{} vs {}",
            got.lower,
            at(0.025)
        );
        assert!(
            (got.upper - at(0.975)).abs() < 1e-12,
            "{} vs {}",
            got.upper,
            at(0.975)
        );
        assert!((got.estimate - naive_spearman(&audio, &latent)).abs() < 1e-12);
    }

    #[test]
    fn quantiles_like_numpy() {
        // np.quantile(np.arange(1, 11), [0.025, 0.5, 0.975]) == [1.225, 5.5, 9.775]
        let v: Vec<f64> = (1..=10).map(f64::from).collect();
        assert!((quantile(&v, 0.025).unwrap() - 1.225).abs() < 1e-12);
        assert!((quantile(&v, 0.5).unwrap() - 5.5).abs() < 1e-12);
        assert!((quantile(&v, 0.975).unwrap() - 9.775).abs() < 1e-12);
        assert_eq!(quantile(&[4.0], 0.975), Some(4.0));
        assert_eq!(quantile(&[], 0.5), None);
    }

    #[test]
    fn bootstrap_is_seeded_and_covers_the_estimate() {
        let mut rng = Rng::new(41);
        let n = 400;
        let deltas: Vec<u8> = (0..n).map(|_| u8::from(rng.next_f64() < 0.3)).collect();
        let settings = Bootstrap::default();
        let a = within_ci(&deltas, &settings).unwrap();
        assert_eq!(a, within_ci(&deltas, &settings).unwrap());
        let other = within_ci(
            &deltas,
            &Bootstrap {
                seed: 1,
                ..settings
            },
        )
        .unwrap();
        assert_ne!((a.lower, a.upper), (other.lower, other.upper));
        assert_eq!(a.replicates, DEFAULT_RESAMPLES);
        assert!(a.lower < a.estimate && a.estimate < a.upper, "{a:?}");
        // The percentile interval of a mean of 0/1 values is about ±1.96 standard errors.
        let p = 1.0 - a.estimate;
        let width = 2.0 * 1.96 * (p * (1.0 - p) / n as f64).sqrt();
        let got = a.upper - a.lower;
        assert!((got - width).abs() < 0.15 * width, "width {got} vs {width}");
    }

    #[test]
    fn cell_measures_and_pairing() {
        let mut rng = Rng::new(53);
        let (rows, columns) = (30, 6);
        let own: Vec<usize> = (0..rows).map(|p| p % columns).collect();
        // Own original nearer than the others most of the time, in both spaces.
        let audio: Vec<f64> = (0..rows * columns)
            .map(|e| {
                let base = if own[e / columns] == e % columns {
                    1.0
                } else {
                    3.0
                };
                base + 2.5 * rng.next_f64()
            })
            .collect();
        let latent: Vec<f64> = audio.iter().map(|&a| a + rng.next_f64()).collect();
        let settings = Bootstrap {
            resamples: 300,
            seed: 9,
        };
        let cell = cell_consistency(&audio, &latent, columns, &own, &settings).unwrap();
        let da = deltas(&audio, columns, &own).unwrap();
        let dl = deltas(&latent, columns, &own).unwrap();
        assert_eq!(cell.within_audio, within_ci(&da, &settings).unwrap());
        assert_eq!(cell.within_latent.estimate, within(&dl).unwrap());
        assert_eq!(
            cell.between_accuracy.estimate,
            between_accuracy(&da, &dl).unwrap()
        );
        assert_eq!(
            cell.between_spearman.estimate,
            between_spearman(&audio, &latent).unwrap()
        );
        for i in [
            cell.within_audio,
            cell.within_latent,
            cell.between_spearman,
            cell.between_accuracy,
        ] {
            assert!(i.lower <= i.estimate && i.estimate <= i.upper, "{i:?}");
            assert!((0.0..=1.0).contains(&i.lower) && i.upper <= 1.0, "{i:?}");
        }
        assert!(cell.within_audio.estimate > 0.5 && cell.between_spearman.estimate > 0.5);
        let e = cell_consistency(&audio, &latent[1..], columns, &own, &settings)
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("latent:"), "{e}");
    }
}
