//! The arithmetic of thesis Algorithm 2 (sequential generation of experimental runs), on plain
//! level indices.
//!
//! # Why this module exists
//!
//! The SQL functions `sequential_design` and `design_aliasing` are Arrow adapters around
//! [`sequential_design`], which knows nothing about Arrow or SQL, so that the greedy choice, the
//! unbalance and the aliasing can be tested on their own against brute-force recomputations and
//! against designs worked out by hand.
//!
//! # Definitions
//!
//! A factor with k levels is given as level indices 0..k (the adapter orders them ascending by
//! value). An admissible run is one level index per factor. B is the design (runs chosen so far),
//! A the runs still admissible.
//!
//! - **Unbalance of a factor**: max − min of the number of runs of B at each of its levels,
//!   over the levels that are *not exhausted*, i.e. that some run still in A has (thesis
//!   footnote 7); 0 when fewer than two levels are left. **Unbalance of the design**: the maximum
//!   over the factors.
//! - **Main-effect coding** (effect, or sum-to-zero, coding): a factor with k levels has k − 1
//!   contrast columns, one per level j = 1..k−1, valued +1 on runs at level j, −1 on runs at
//!   level 0 (the reference level) and 0 otherwise. A two-level factor is thus the usual ±1
//!   column (+1 at its second level).
//! - **Alias** between two contrast columns u, v of different factors: their Pearson correlation
//!   over the runs of B, N·Σuv − Σu·Σv over √((N·Σu² − (Σu)²)(N·Σv² − (Σv)²)), in [−1, 1]; it is
//!   0 when either column is constant over B (in particular while B has fewer than two runs): a
//!   constant column is confounded with the intercept, not with another main effect, and the
//!   unbalance criterion already drives the design away from it. **Maximum absolute aliasing**:
//!   the largest |alias| over all pairs of columns of different aliased factors (0 when there
//!   are none). Pairs of columns of the same factor are not aliasing between main effects and
//!   are left out.
//! - **Algorithm 2**: while fewer than `n_runs` runs are chosen and A is not empty: O = the runs
//!   of A that minimise the unbalance of B ∪ {o} (with A \ {o} deciding which levels are
//!   exhausted); P = the runs of O that minimise the maximum absolute aliasing of B ∪ {p} (ties
//!   within [`ALIAS_TIE`]); p = P[`Rng::below(|P|)`], one draw of the seeded generator per step,
//!   with P in the order the runs were given; move p from A to B.
//!
//! Each step costs O(|A|·F) for the unbalance of every candidate (per-factor, per-level values
//! precomputed from the counts) plus O(|O|·C²) for the aliasing of the candidates left, with C
//! contrast columns, from running sums and cross-products: nothing is recomputed from the runs.

use crate::common::rng::Rng;

/// Two maximum absolute aliasings closer than this are a tie (they are ratios of integers
/// computed in floating point, so equal ratios may differ in their last bits).
pub const ALIAS_TIE: f64 = 1e-12;

/// One step of the sequential design.
#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    /// Index of the chosen run in the admissible runs.
    pub run: usize,
    /// Unbalance of the design after adding the run.
    pub unbalance: u64,
    /// Maximum absolute aliasing between main effects after adding the run.
    pub max_aliasing: f64,
}

/// The alias between one contrast column of factor `factor_a` and one of factor `factor_b`.
#[derive(Debug, Clone, PartialEq)]
pub struct Alias {
    pub factor_a: usize,
    /// The level (≥ 1) whose contrast column this is; level 0 is the reference.
    pub level_a: usize,
    pub factor_b: usize,
    pub level_b: usize,
    /// Pearson correlation of the two columns over the design (0 if either is constant).
    pub alias: f64,
}

/// A sequential design: its steps, and the alias matrix of the final design.
#[derive(Debug, Clone)]
pub struct Design {
    pub steps: Vec<Step>,
    /// Every pair of contrast columns of different aliased factors, factor a before factor b
    /// in factor order, then by level.
    pub aliases: Vec<Alias>,
}

/// Thesis Algorithm 2.
///
/// `levels[f]` is the number of levels of factor f (at least 2); `aliased[f]` says whether its
/// main effect enters the aliasing criterion; `runs[i][f]` is the level of factor f in
/// admissible run i. Chooses `n_runs` runs (fewer if the admissible runs run out).
pub fn sequential_design(
    levels: &[usize],
    aliased: &[bool],
    runs: &[Vec<usize>],
    n_runs: usize,
    seed: u64,
) -> Result<Design, DesignError> {
    validate(levels, aliased, runs)?;
    if n_runs == 0 {
        return Err(DesignError::NoRunsAsked);
    }
    let coding = Coding::new(levels, aliased);
    let mut balance = Balance::new(levels, runs);
    let mut sums = AliasSums::new(&coding);
    let mut remaining: Vec<usize> = (0..runs.len()).collect();
    let mut rng = Rng::new(seed);
    let mut steps = Vec::with_capacity(n_runs.min(runs.len()));
    let mut x = vec![0i64; coding.width()];
    let mut best: Vec<usize> = Vec::new();
    let mut ties: Vec<usize> = Vec::new();
    while steps.len() < n_runs && !remaining.is_empty() {
        // O: the runs minimising the unbalance of B ∪ {o} (positions in `remaining`).
        let if_added = balance.unbalance_if_added();
        let unbalance_of = |run: &[usize]| -> u64 {
            run.iter()
                .enumerate()
                .map(|(f, &l)| if_added[f][l])
                .max()
                .unwrap_or(0)
        };
        let mut min_unbalance = u64::MAX;
        best.clear();
        for (pos, &i) in remaining.iter().enumerate() {
            let u = unbalance_of(&runs[i]);
            if u < min_unbalance {
                min_unbalance = u;
                best.clear();
            }
            if u == min_unbalance {
                best.push(pos);
            }
        }
        // P: those of O minimising the maximum absolute aliasing of B ∪ {p}.
        let mut min_alias = f64::INFINITY;
        let mut alias_of = Vec::with_capacity(best.len());
        for &pos in &best {
            coding.code(&runs[remaining[pos]], &mut x);
            let a = sums.max_abs_with(&x);
            min_alias = min_alias.min(a);
            alias_of.push(a);
        }
        ties.clear();
        ties.extend(
            best.iter()
                .zip(&alias_of)
                .filter(|(_, &a)| a <= min_alias + ALIAS_TIE)
                .map(|(&pos, _)| pos),
        );
        let pick = rng.below(ties.len() as u64) as usize;
        let pos = ties[pick];
        let run = remaining.remove(pos);
        let max_aliasing = best
            .iter()
            .position(|&p| p == pos)
            .map(|k| alias_of[k])
            .unwrap_or(min_alias);
        coding.code(&runs[run], &mut x);
        sums.add(&x);
        balance.add(&runs[run]);
        steps.push(Step {
            run,
            unbalance: min_unbalance,
            max_aliasing,
        });
    }
    Ok(Design {
        steps,
        aliases: sums.matrix(&coding),
    })
}

/// Why [`sequential_design`] refused its input.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DesignError {
    /// Zero runs were asked for.
    #[error("the number of runs must be positive")]
    NoRunsAsked,
    /// There are no factors.
    #[error("a design needs at least one factor")]
    NoFactors,
    /// The aliasing flags do not match the factors one to one.
    #[error("{factors} factors but {flags} aliasing flags")]
    FlagCount {
        /// The number of factors.
        factors: usize,
        /// The number of aliasing flags.
        flags: usize,
    },
    /// A factor with fewer than two levels.
    #[error("factor {factor} has {levels} level(s); a factor needs at least two")]
    TooFewLevels {
        /// The factor's position.
        factor: usize,
        /// Its number of levels.
        levels: usize,
    },
    /// No admissible run was given.
    #[error("there are no admissible runs")]
    NoAdmissibleRuns,
    /// A run whose length is not the number of factors.
    #[error("run {run} has {len} levels for {factors} factors")]
    RunLength {
        /// The run's position.
        run: usize,
        /// Its length.
        len: usize,
        /// The number of factors.
        factors: usize,
    },
    /// A run naming a level its factor does not have.
    #[error("run {run} has level {level} of factor {factor}, which has {levels} levels")]
    LevelOutOfRange {
        /// The run's position.
        run: usize,
        /// The level it names.
        level: usize,
        /// The factor's position.
        factor: usize,
        /// The factor's number of levels.
        levels: usize,
    },
}

fn validate(levels: &[usize], aliased: &[bool], runs: &[Vec<usize>]) -> Result<(), DesignError> {
    if levels.is_empty() {
        return Err(DesignError::NoFactors);
    }
    if aliased.len() != levels.len() {
        return Err(DesignError::FlagCount {
            factors: levels.len(),
            flags: aliased.len(),
        });
    }
    if let Some(f) = levels.iter().position(|&k| k < 2) {
        return Err(DesignError::TooFewLevels {
            factor: f,
            levels: levels[f],
        });
    }
    if runs.is_empty() {
        return Err(DesignError::NoAdmissibleRuns);
    }
    for (i, run) in runs.iter().enumerate() {
        if run.len() != levels.len() {
            return Err(DesignError::RunLength {
                run: i,
                len: run.len(),
                factors: levels.len(),
            });
        }
        if let Some(f) = (0..run.len()).find(|&f| run[f] >= levels[f]) {
            return Err(DesignError::LevelOutOfRange {
                run: i,
                level: run[f],
                factor: f,
                levels: levels[f],
            });
        }
    }
    Ok(())
}

/// The effect coding of the aliased factors' main effects.
struct Coding {
    /// (factor, level) of each contrast column.
    columns: Vec<(usize, usize)>,
    /// First contrast column of each factor (`None` for factors that are not aliased).
    first: Vec<Option<usize>>,
    levels: Vec<usize>,
}

impl Coding {
    fn new(levels: &[usize], aliased: &[bool]) -> Coding {
        let mut columns = Vec::new();
        let mut first = Vec::with_capacity(levels.len());
        for (f, (&k, &a)) in levels.iter().zip(aliased).enumerate() {
            if a {
                first.push(Some(columns.len()));
                columns.extend((1..k).map(|l| (f, l)));
            } else {
                first.push(None);
            }
        }
        Coding {
            columns,
            first,
            levels: levels.to_vec(),
        }
    }

    fn width(&self) -> usize {
        self.columns.len()
    }

    /// The contrast columns' values of a run.
    fn code(&self, run: &[usize], x: &mut [i64]) {
        for (f, &l) in run.iter().enumerate() {
            let Some(start) = self.first[f] else {
                continue;
            };
            let cols = &mut x[start..start + self.levels[f] - 1];
            if l == 0 {
                cols.fill(-1);
            } else {
                cols.fill(0);
                cols[l - 1] = 1;
            }
        }
    }
}

/// Pearson correlation from integer sums over n runs (0 if either column is constant).
fn correlation(n: i64, su: i64, sv: i64, qu: i64, qv: i64, cross: i64) -> f64 {
    let vu = n * qu - su * su;
    let vv = n * qv - sv * sv;
    if vu <= 0 || vv <= 0 {
        return 0.0;
    }
    let cov = (n * cross - su * sv) as f64;
    (cov / ((vu as f64) * (vv as f64)).sqrt()).clamp(-1.0, 1.0)
}

/// Running sums, sums of squares and cross-products of the contrast columns over the design.
struct AliasSums {
    n: i64,
    sum: Vec<i64>,
    sq: Vec<i64>,
    /// Pairs of columns of different factors.
    pairs: Vec<(usize, usize)>,
    cross: Vec<i64>,
}

impl AliasSums {
    fn new(coding: &Coding) -> AliasSums {
        let c = &coding.columns;
        let mut pairs = Vec::new();
        for u in 0..c.len() {
            for v in u + 1..c.len() {
                if c[u].0 != c[v].0 {
                    pairs.push((u, v));
                }
            }
        }
        AliasSums {
            n: 0,
            sum: vec![0; c.len()],
            sq: vec![0; c.len()],
            cross: vec![0; pairs.len()],
            pairs,
        }
    }

    /// Maximum absolute aliasing of the design with the coded run `x` added.
    fn max_abs_with(&self, x: &[i64]) -> f64 {
        let n = self.n + 1;
        let mut max = 0.0f64;
        for (&(u, v), &c) in self.pairs.iter().zip(&self.cross) {
            let r = correlation(
                n,
                self.sum[u] + x[u],
                self.sum[v] + x[v],
                self.sq[u] + x[u] * x[u],
                self.sq[v] + x[v] * x[v],
                c + x[u] * x[v],
            );
            max = max.max(r.abs());
        }
        max
    }

    fn add(&mut self, x: &[i64]) {
        self.n += 1;
        for (u, &xu) in x.iter().enumerate() {
            self.sum[u] += xu;
            self.sq[u] += xu * xu;
        }
        for (&(u, v), c) in self.pairs.iter().zip(self.cross.iter_mut()) {
            *c += x[u] * x[v];
        }
    }

    fn matrix(&self, coding: &Coding) -> Vec<Alias> {
        self.pairs
            .iter()
            .zip(&self.cross)
            .map(|(&(u, v), &c)| Alias {
                factor_a: coding.columns[u].0,
                level_a: coding.columns[u].1,
                factor_b: coding.columns[v].0,
                level_b: coding.columns[v].1,
                alias: correlation(self.n, self.sum[u], self.sum[v], self.sq[u], self.sq[v], c),
            })
            .collect()
    }
}

/// Level counts of the design and of the runs still admissible.
struct Balance {
    chosen: Vec<Vec<u64>>,
    left: Vec<Vec<u64>>,
}

/// Extremes of the chosen counts over a factor's non-exhausted levels: the two largest and the
/// two smallest (value, level), so that any one level can be left out.
#[derive(Default)]
struct Extremes {
    max: [Option<(u64, usize)>; 2],
    min: [Option<(u64, usize)>; 2],
}

impl Extremes {
    fn push(&mut self, value: u64, level: usize) {
        let v = Some((value, level));
        match self.max {
            [None, _] => self.max[0] = v,
            [Some((m, _)), _] if value > m => self.max = [v, self.max[0]],
            [_, None] => self.max[1] = v,
            [_, Some((m, _))] if value > m => self.max[1] = v,
            _ => {}
        }
        match self.min {
            [None, _] => self.min[0] = v,
            [Some((m, _)), _] if value < m => self.min = [v, self.min[0]],
            [_, None] => self.min[1] = v,
            [_, Some((m, _))] if value < m => self.min[1] = v,
            _ => {}
        }
    }

    /// (max, min) over the levels other than `skip`.
    fn without(&self, skip: usize) -> (Option<u64>, Option<u64>) {
        let pick = |pair: &[Option<(u64, usize)>; 2]| {
            pair.iter()
                .flatten()
                .find(|&&(_, l)| l != skip)
                .map(|&(v, _)| v)
        };
        (pick(&self.max), pick(&self.min))
    }
}

impl Balance {
    fn new(levels: &[usize], runs: &[Vec<usize>]) -> Balance {
        let mut left: Vec<Vec<u64>> = levels.iter().map(|&k| vec![0; k]).collect();
        for run in runs {
            for (f, &l) in run.iter().enumerate() {
                left[f][l] += 1;
            }
        }
        Balance {
            chosen: levels.iter().map(|&k| vec![0; k]).collect(),
            left,
        }
    }

    /// `u[f][l]`: the unbalance of factor f once a run at its level l moves from A to B
    /// (meaningful for levels some run of A still has).
    fn unbalance_if_added(&self) -> Vec<Vec<u64>> {
        self.chosen
            .iter()
            .zip(&self.left)
            .map(|(chosen, left)| {
                let mut ext = Extremes::default();
                for (l, (&c, &r)) in chosen.iter().zip(left).enumerate() {
                    if r > 0 {
                        ext.push(c, l);
                    }
                }
                (0..chosen.len())
                    .map(|l| {
                        let (mut max, mut min) = ext.without(l);
                        // Level l stays in play if a run of A other than the one added has it.
                        if left[l] >= 2 {
                            let c = chosen[l] + 1;
                            max = Some(max.map_or(c, |m| m.max(c)));
                            min = Some(min.map_or(c, |m| m.min(c)));
                        }
                        match (max, min) {
                            (Some(max), Some(min)) => max - min,
                            _ => 0,
                        }
                    })
                    .collect()
            })
            .collect()
    }

    fn add(&mut self, run: &[usize]) {
        for (f, &l) in run.iter().enumerate() {
            self.chosen[f][l] += 1;
            self.left[f][l] -= 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Brute force: the unbalance of the design `chosen` with `left` still admissible.
    fn brute_unbalance(
        levels: &[usize],
        runs: &[Vec<usize>],
        chosen: &[usize],
        left: &[usize],
    ) -> u64 {
        let mut worst = 0;
        for (f, &k) in levels.iter().enumerate() {
            let counts: Vec<u64> = (0..k)
                .filter(|&l| left.iter().any(|&i| runs[i][f] == l))
                .map(|l| chosen.iter().filter(|&&i| runs[i][f] == l).count() as u64)
                .collect();
            if let (Some(max), Some(min)) = (counts.iter().max(), counts.iter().min()) {
                worst = worst.max(max - min);
            }
        }
        worst
    }

    /// Brute force: the effect-coded columns of the design, as f64, by (factor, level).
    fn brute_columns(
        levels: &[usize],
        aliased: &[bool],
        runs: &[Vec<usize>],
        chosen: &[usize],
    ) -> Vec<((usize, usize), Vec<f64>)> {
        let mut cols = Vec::new();
        for (f, &k) in levels.iter().enumerate() {
            if !aliased[f] {
                continue;
            }
            for j in 1..k {
                let col = chosen
                    .iter()
                    .map(|&i| {
                        let l = runs[i][f];
                        if l == j {
                            1.0
                        } else if l == 0 {
                            -1.0
                        } else {
                            0.0
                        }
                    })
                    .collect();
                cols.push(((f, j), col));
            }
        }
        cols
    }

    fn pearson(a: &[f64], b: &[f64]) -> f64 {
        let n = a.len() as f64;
        let ma = a.iter().sum::<f64>() / n;
        let mb = b.iter().sum::<f64>() / n;
        let sab: f64 = a.iter().zip(b).map(|(x, y)| (x - ma) * (y - mb)).sum();
        let saa: f64 = a.iter().map(|x| (x - ma) * (x - ma)).sum();
        let sbb: f64 = b.iter().map(|y| (y - mb) * (y - mb)).sum();
        if saa < 1e-9 || sbb < 1e-9 {
            0.0
        } else {
            sab / (saa * sbb).sqrt()
        }
    }

    /// Brute force: the alias matrix (factor a, level a, factor b, level b, alias).
    fn brute_aliases(
        levels: &[usize],
        aliased: &[bool],
        runs: &[Vec<usize>],
        chosen: &[usize],
    ) -> Vec<(usize, usize, usize, usize, f64)> {
        let cols = brute_columns(levels, aliased, runs, chosen);
        let mut out = Vec::new();
        for (u, ((fa, la), a)) in cols.iter().enumerate() {
            for ((fb, lb), b) in &cols[u + 1..] {
                if fa != fb {
                    out.push((*fa, *la, *fb, *lb, pearson(a, b)));
                }
            }
        }
        out
    }

    fn brute_max_alias(
        levels: &[usize],
        aliased: &[bool],
        runs: &[Vec<usize>],
        chosen: &[usize],
    ) -> f64 {
        brute_aliases(levels, aliased, runs, chosen)
            .iter()
            .map(|a| a.4.abs())
            .fold(0.0, f64::max)
    }

    /// Every run of the full factorial with these level counts, first factor slowest.
    fn full_factorial(levels: &[usize]) -> Vec<Vec<usize>> {
        let mut runs = vec![vec![]];
        for &k in levels {
            runs = runs
                .into_iter()
                .flat_map(|r: Vec<usize>| {
                    (0..k).map(move |l| {
                        let mut r = r.clone();
                        r.push(l);
                        r
                    })
                })
                .collect();
        }
        runs
    }

    /// Checks every step of `design` by brute force: the reported unbalance and aliasing are
    /// those of the prefix, and the chosen run was among the lexicographic minimisers of
    /// (unbalance, max aliasing) over the runs still admissible.
    fn check_greedy(levels: &[usize], aliased: &[bool], runs: &[Vec<usize>], design: &Design) {
        let mut chosen: Vec<usize> = Vec::new();
        let mut left: Vec<usize> = (0..runs.len()).collect();
        for (s, step) in design.steps.iter().enumerate() {
            assert!(
                left.contains(&step.run),
                "step {s}: run {} not admissible",
                step.run
            );
            let score = |i: usize| {
                let mut b = chosen.clone();
                b.push(i);
                let a: Vec<usize> = left.iter().copied().filter(|&j| j != i).collect();
                (
                    brute_unbalance(levels, runs, &b, &a),
                    brute_max_alias(levels, aliased, runs, &b),
                )
            };
            let (u, a) = score(step.run);
            assert_eq!(step.unbalance, u, "step {s}: unbalance");
            assert!(
                (step.max_aliasing - a).abs() < 1e-9,
                "step {s}: aliasing {} vs {a}",
                step.max_aliasing
            );
            for &i in &left {
                let (ui, ai) = score(i);
                assert!(
                    ui >= u,
                    "step {s}: run {i} has a smaller unbalance {ui} < {u}"
                );
                if ui == u {
                    assert!(
                        ai >= a - 1e-9,
                        "step {s}: run {i} has a smaller aliasing {ai} < {a}"
                    );
                }
            }
            left.retain(|&i| i != step.run);
            chosen.push(step.run);
        }
        let brute = brute_aliases(levels, aliased, runs, &chosen);
        assert_eq!(brute.len(), design.aliases.len());
        for (b, a) in brute.iter().zip(&design.aliases) {
            assert_eq!(
                (b.0, b.1, b.2, b.3),
                (a.factor_a, a.level_a, a.factor_b, a.level_b)
            );
            assert!((b.4 - a.alias).abs() < 1e-9, "alias {:?} vs {}", b, a.alias);
        }
    }

    #[test]
    fn incremental_equals_brute_force_on_random_designs() {
        let mut rng = Rng::new(2024);
        for case in 0..40 {
            let n_factors = 1 + rng.below(4) as usize;
            let levels: Vec<usize> = (0..n_factors).map(|_| 2 + rng.below(3) as usize).collect();
            let aliased: Vec<bool> = (0..n_factors).map(|_| rng.below(4) != 0).collect();
            // A random admissible set: a random subset of the full factorial, some runs twice,
            // kept only if every level occurs.
            let mut runs: Vec<Vec<usize>> = full_factorial(&levels)
                .into_iter()
                .filter(|_| rng.below(3) != 0)
                .collect();
            let dups: Vec<Vec<usize>> =
                runs.iter().filter(|_| rng.below(5) == 0).cloned().collect();
            runs.extend(dups);
            let every_level =
                (0..n_factors).all(|f| (0..levels[f]).all(|l| runs.iter().any(|r| r[f] == l)));
            if !every_level {
                continue;
            }
            let n_runs = 1 + rng.below(runs.len() as u64 + 2) as usize;
            let design = sequential_design(&levels, &aliased, &runs, n_runs, case).unwrap();
            assert_eq!(design.steps.len(), n_runs.min(runs.len()));
            check_greedy(&levels, &aliased, &runs, &design);
        }
    }

    #[test]
    fn two_cubed_factorial_alternates_balance_and_ends_orthogonal() {
        // Worked out by hand for the 2^3 full factorial (4 runs per level, so no level is
        // exhausted before step 6): after an odd number of runs every factor is 1 off balance;
        // at steps 2 and 4 the only runs that rebalance all three factors are the complement of
        // the last one, always still available (the 8 runs are 4 complementary pairs). At step 6
        // every choice gives 0: a factor not rebalanced has its other level exhausted by it.
        // After 7 runs each factor has one level exhausted, so its unbalance is 0 (footnote 7).
        // A 4-run foldover {r, r̄, s, s̄} always has two columns i, j with a_i·b_i = a_j·b_j,
        // hence fully aliased (|alias| = 1); the full factorial at 8 runs is orthogonal.
        let levels = [2, 2, 2];
        let runs = full_factorial(&levels);
        for seed in 0..20 {
            let design = sequential_design(&levels, &[true; 3], &runs, 100, seed).unwrap();
            let unbalance: Vec<u64> = design.steps.iter().map(|s| s.unbalance).collect();
            assert_eq!(unbalance, [1, 0, 1, 0, 1, 0, 0, 0]);
            let r = |s: usize| &runs[design.steps[s].run];
            for pair in [(0, 1), (2, 3)] {
                assert!(
                    (0..3).all(|f| r(pair.0)[f] != r(pair.1)[f]),
                    "seed {seed}: not a foldover"
                );
            }
            assert_eq!(design.steps[1].max_aliasing, 1.0);
            assert_eq!(design.steps[3].max_aliasing, 1.0);
            assert_eq!(design.steps[7].max_aliasing, 0.0);
            assert!(design.aliases.iter().all(|a| a.alias == 0.0));
            check_greedy(&levels, &[true; 3], &runs, &design);
        }
    }

    #[test]
    fn full_factorial_chosen_whole_is_balanced_and_orthogonal() {
        let levels = [2, 2, 3];
        let runs = full_factorial(&levels);
        let design = sequential_design(&levels, &[true; 3], &runs, runs.len(), 5).unwrap();
        let mut order: Vec<usize> = design.steps.iter().map(|s| s.run).collect();
        order.sort_unstable();
        assert_eq!(order, (0..12).collect::<Vec<_>>());
        // (2 + 2·1) pairs of a two-level column with another factor's column... all zero.
        assert_eq!(design.aliases.len(), 1 + 2 + 2);
        assert!(design.aliases.iter().all(|a| a.alias.abs() < 1e-12));
        // Balanced two-level factors after every even number of runs is not guaranteed for the
        // three-level factor, but at 12 runs every level has its full count.
        assert_eq!(design.steps[11].unbalance, 0);
        check_greedy(&levels, &[true; 3], &runs, &design);
    }

    #[test]
    fn seeds() {
        let levels = [2, 3, 4];
        let runs = full_factorial(&levels);
        let order = |seed| -> Vec<usize> {
            sequential_design(&levels, &[true; 3], &runs, 10, seed)
                .unwrap()
                .steps
                .iter()
                .map(|s| s.run)
                .collect()
        };
        assert_eq!(order(7), order(7));
        let orders: std::collections::HashSet<Vec<usize>> = (0..10).map(order).collect();
        assert!(orders.len() > 1, "ten seeds gave one design");
        // The sequence does not depend on the number of runs asked for.
        let long = sequential_design(&levels, &[true; 3], &runs, 20, 7).unwrap();
        assert_eq!(
            long.steps[..10].iter().map(|s| s.run).collect::<Vec<_>>(),
            order(7)
        );
    }

    #[test]
    fn errors() {
        let runs = vec![vec![0, 1], vec![1, 0]];
        assert!(sequential_design(&[2, 2], &[true; 2], &[], 1, 0)
            .unwrap_err()
            .to_string()
            .contains("no admissible runs"));
        assert!(sequential_design(&[2, 2], &[true; 2], &runs, 0, 0)
            .unwrap_err()
            .to_string()
            .contains("must be positive"));
        assert!(sequential_design(&[2, 1], &[true; 2], &runs, 1, 0)
            .unwrap_err()
            .to_string()
            .contains("at least two"));
        assert!(sequential_design(&[], &[], &runs, 1, 0).is_err());
        assert!(sequential_design(&[2, 2], &[true], &runs, 1, 0).is_err());
        assert!(sequential_design(&[2, 2], &[true; 2], &[vec![0, 2]], 1, 0)
            .unwrap_err()
            .to_string()
            .contains("level 2 of factor 1"));
        assert!(sequential_design(&[2, 2], &[true; 2], &[vec![0]], 1, 0).is_err());
    }

    #[test]
    fn no_aliased_factor_means_zero_aliasing() {
        let levels = [2, 3];
        let runs = full_factorial(&levels);
        let design = sequential_design(&levels, &[false, true], &runs, 6, 1).unwrap();
        assert!(design.steps.iter().all(|s| s.max_aliasing == 0.0));
        assert!(design.aliases.is_empty());
    }

    /// The thesis setting (§2.4.3, phase 3): 5 multi-source strategies × the subsets of 8
    /// two-level source factors with n = 2..7 sources present, n itself a 6-level factor:
    /// 5 · (28 + 56 + 70 + 56 + 28 + 8) = 1,230 admissible runs, of which 352 were run.
    fn thesis_runs() -> (Vec<usize>, Vec<Vec<usize>>) {
        let mut runs = Vec::new();
        for strategy in 0..5 {
            for mask in 0u32..256 {
                let n = mask.count_ones() as usize;
                if (2..=7).contains(&n) {
                    let mut run = vec![strategy];
                    run.extend((0..8).map(|b| ((mask >> b) & 1) as usize));
                    run.push(n - 2);
                    runs.push(run);
                }
            }
        }
        let mut levels = vec![5];
        levels.extend([2; 8]);
        levels.push(6);
        (levels, runs)
    }

    /// The same seed gives the same bits under any thread pool: the algorithm is sequential (its
    /// running sums are integers, its aliasings computed in one fixed order), so no scheduling
    /// can change a tie or a draw. The SQL adapter also orders the runs by content, so the row
    /// order of the table does not matter either (`sql/stats/sequential_design.slt`).
    #[test]
    fn same_bits_under_any_thread_pool() {
        let (levels, runs) = thesis_runs();
        let mut aliased = vec![true; 9];
        aliased.push(false);
        let bits = |threads: usize| -> Vec<(usize, u64, u64)> {
            rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap()
                .install(|| sequential_design(&levels, &aliased, &runs, 120, 5))
                .unwrap()
                .steps
                .iter()
                .map(|s| (s.run, s.unbalance, s.max_aliasing.to_bits()))
                .collect()
        };
        let one = bits(1);
        assert_eq!(one.len(), 120);
        assert_eq!(bits(2), one);
        assert_eq!(bits(4), one);
    }

    #[test]
    fn thesis_setting() {
        let (levels, runs) = thesis_runs();
        assert_eq!(runs.len(), 1230);
        // n = the sum of the sources is aliased with them by construction (its contrasts
        // correlate ~0.3 with each source whatever the design), so only strategy and sources
        // enter the aliasing; n is balanced all the same.
        let mut aliased = vec![true; 9];
        aliased.push(false);
        let mut rng = Rng::new(99);
        for seed in [0, 1, 2, 3] {
            let design = sequential_design(&levels, &aliased, &runs, 352, seed).unwrap();
            assert_eq!(design.steps.len(), 352);
            let chosen: Vec<usize> = design.steps.iter().map(|s| s.run).collect();
            let mut distinct = chosen.clone();
            distinct.sort_unstable();
            distinct.dedup();
            assert_eq!(distinct.len(), 352, "a run chosen twice");
            // The reported running unbalance, recomputed by brute force, never exceeds its
            // value one step earlier by more than 1 (adding one run changes any count by 1).
            let mut left: Vec<usize> = (0..runs.len()).collect();
            let mut previous = 0;
            for (s, step) in design.steps.iter().enumerate() {
                left.retain(|&i| i != step.run);
                let u = brute_unbalance(&levels, &runs, &chosen[..=s], &left);
                assert_eq!(step.unbalance, u, "seed {seed}, step {s}");
                assert!(u <= previous + 1);
                previous = u;
            }
            // Balancing n against the sources is impossible: balanced sources need a mean n of
            // 4, balanced levels 2..7 of n give a mean of 4.5, so the unbalance must grow with
            // the design (to about 30 at 352 runs). Simple random sampling of 352 of the 1,230
            // runs would give n = 4 about 100 runs and n = 7 about 11 (unbalance ~90): the
            // greedy design must stay far below that, and below a random sample of the same
            // size drawn here.
            let sample: Vec<usize> = {
                let mut pool: Vec<usize> = (0..runs.len()).collect();
                (0..352)
                    .map(|_| pool.swap_remove(rng.below(pool.len() as u64) as usize))
                    .collect()
            };
            let sample_left: Vec<usize> = (0..runs.len()).filter(|i| !sample.contains(i)).collect();
            let random_unbalance = brute_unbalance(&levels, &runs, &sample, &sample_left);
            let last = design.steps[351].unbalance;
            assert!(last <= 40, "seed {seed}: unbalance {last}");
            assert!(
                last < random_unbalance,
                "seed {seed}: {last} vs random {random_unbalance}"
            );
            // Counts per level: n = 7 has only 40 admissible runs; no count exceeds its
            // admissible total; every factor's spread over its non-exhausted levels is within
            // the design's unbalance.
            let counts = |f: usize| -> Vec<usize> {
                (0..levels[f])
                    .map(|l| chosen.iter().filter(|&&i| runs[i][f] == l).count())
                    .collect()
            };
            assert!(counts(9)[5] <= 40);
            assert_eq!(counts(0).iter().sum::<usize>(), 352);
            for f in 0..levels.len() {
                let c = counts(f);
                let spread = c.iter().max().unwrap() - c.iter().min().unwrap();
                let exhausted = (0..levels[f]).any(|l| !left.iter().any(|&i| runs[i][f] == l));
                assert!(
                    exhausted || spread as u64 <= last,
                    "seed {seed}, factor {f}: {c:?}"
                );
            }
            // Aliasing between main effects of strategy and sources: a random 352-run sample has
            // correlations of standard deviation 1/√352 ≈ 0.053 plus the sources' structural
            // correlation through n (~0.07), so its maximum over the 60 pairs is ~0.15; the greedy
            // design must keep every pair below 0.1 and beat the random sample.
            let greedy = brute_max_alias(&levels, &aliased, &runs, &chosen);
            let random = brute_max_alias(&levels, &aliased, &runs, &sample);
            assert!((design.steps[351].max_aliasing - greedy).abs() < 1e-9);
            assert!(greedy < 0.1, "seed {seed}: max aliasing {greedy}");
            assert!(greedy < random, "seed {seed}: {greedy} vs random {random}");
            let brute = brute_aliases(&levels, &aliased, &runs, &chosen);
            for (b, a) in brute.iter().zip(&design.aliases) {
                assert!((b.4 - a.alias).abs() < 1e-9);
            }
        }
    }
}
