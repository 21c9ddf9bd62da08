//! Shared helpers for the integration tests: a seeded generator and table
//! builders.
#![allow(dead_code)]

use trustql_plot::{Column, Table};

/// Small deterministic generator (64-bit LCG).
pub struct Lcg(pub u64);

impl Lcg {
    /// Uniform in [0, 1).
    pub fn unit(&mut self) -> f64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Uniform in [lo, hi).
    pub fn range(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * self.unit()
    }
}

pub fn num(v: &[f64]) -> Column {
    Column::Num(v.iter().copied().map(Some).collect())
}

pub fn text(v: &[&str]) -> Column {
    Column::Text(v.iter().map(|s| Some(s.to_string())).collect())
}

pub fn table(cols: Vec<(&str, Column)>) -> Table {
    let mut t = Table::new();
    for (name, col) in cols {
        t.push(name, col).unwrap();
    }
    t
}

/// Number of occurrences of `needle` in `hay`.
pub fn count(hay: &str, needle: &str) -> usize {
    hay.matches(needle).count()
}

/// A 2 (dataset) x 3 (threads) x 3 (engine) table with `per` rows per cell;
/// y = 2 + 3 x exactly for engine "a" so fits can be checked.
pub fn faceted(per: usize) -> Table {
    let mut rng = Lcg(7);
    let (mut x, mut y, mut e, mut d, mut th) = (vec![], vec![], vec![], vec![], vec![]);
    for dataset in ["lastfm", "movielens"] {
        for threads in [16.0, 1.0, 4.0] {
            for engine in ["a", "b", "c"] {
                for _ in 0..per {
                    let xv = rng.range(0.0, 10.0);
                    x.push(xv);
                    y.push(if engine == "a" {
                        2.0 + 3.0 * xv
                    } else {
                        rng.range(0.0, 50.0)
                    });
                    e.push(engine);
                    d.push(dataset);
                    th.push(threads);
                }
            }
        }
    }
    table(vec![
        ("x", num(&x)),
        ("y", num(&y)),
        ("engine", text(&e)),
        ("dataset", text(&d)),
        ("threads", num(&th)),
    ])
}
