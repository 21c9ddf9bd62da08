//! Mark building exists to turn prepared rows into the geometric things a
//! pane shows (points, lines, boxes, bars, error bars, fitted lines), in axis
//! space, independent of pixels, so they can be inspected and tested before
//! any rendering.

use crate::prepare::Prepared;
use crate::stats::{box_stats, mean, ols, BoxStats};
use crate::Kind;

/// Share of a category slot covered by dodged boxes or bars.
const BOX_SLOT: f64 = 0.75;
/// Share of a category slot covered by bars.
const BAR_SLOT: f64 = 0.8;
/// Share of a category slot over which error bars of different groups spread.
const ERRORBAR_SLOT: f64 = 0.4;

/// One drawn element in axis space: x and y are log10 values on log axes
/// and category indices (0, 1, …) on a categorical x axis. `group` is the
/// colour group (index into [`crate::Figure::legend`]; 0 without a colour
/// column).
#[derive(Debug, Clone, PartialEq)]
pub enum Mark {
    /// A scatter point.
    Point {
        /// Horizontal position.
        x: f64,
        /// Vertical position.
        y: f64,
        /// Colour group.
        group: usize,
    },
    /// A polyline through points sorted by x, with a marker at each point.
    Line {
        /// Vertices.
        points: Vec<(f64, f64)>,
        /// Colour group.
        group: usize,
    },
    /// A box-and-whisker summary centred at `x`.
    Box {
        /// Centre.
        x: f64,
        /// Width in axis units.
        width: f64,
        /// Quartiles, whiskers and outliers (in axis space).
        stats: BoxStats,
        /// Colour group.
        group: usize,
    },
    /// A bar from the baseline (0, or the axis minimum on a log axis) to `top`.
    Bar {
        /// Centre.
        x: f64,
        /// Width in axis units.
        width: f64,
        /// Mean of y over the bar's rows (in axis space).
        top: f64,
        /// Colour group.
        group: usize,
    },
    /// A point with a vertical interval.
    ErrorBar {
        /// Horizontal position (dodged on a categorical axis).
        x: f64,
        /// The point.
        y: f64,
        /// Lower end of the interval.
        lower: f64,
        /// Upper end of the interval.
        upper: f64,
        /// Colour group.
        group: usize,
    },
    /// A least-squares line `y = intercept + slope * x` in axis space, drawn
    /// across the group's x range.
    Fit {
        /// Left end.
        from: (f64, f64),
        /// Right end.
        to: (f64, f64),
        /// Intercept in axis space.
        intercept: f64,
        /// Slope in axis space.
        slope: f64,
        /// Colour group.
        group: usize,
    },
}

impl Mark {
    /// How many data marks this counts as for [`crate::Pane::marks`].
    pub(crate) fn data_count(&self) -> usize {
        match self {
            Mark::Line { points, .. } => points.len(),
            Mark::Fit { .. } => 0,
            _ => 1,
        }
    }

    /// Extent `(x_lo, x_hi, y_lo, y_hi)` in axis space.
    pub(crate) fn extent(&self) -> (f64, f64, f64, f64) {
        match self {
            Mark::Point { x, y, .. } => (*x, *x, *y, *y),
            Mark::Line { points, .. } => points.iter().fold(
                (
                    f64::INFINITY,
                    f64::NEG_INFINITY,
                    f64::INFINITY,
                    f64::NEG_INFINITY,
                ),
                |(a, b, c, d), (x, y)| (a.min(*x), b.max(*x), c.min(*y), d.max(*y)),
            ),
            Mark::Box {
                x, width, stats, ..
            } => {
                let lo = stats
                    .outliers
                    .iter()
                    .fold(stats.whisker_lo, |m, v| m.min(*v));
                let hi = stats
                    .outliers
                    .iter()
                    .fold(stats.whisker_hi, |m, v| m.max(*v));
                (x - width / 2.0, x + width / 2.0, lo, hi)
            }
            Mark::Bar { x, width, top, .. } => (x - width / 2.0, x + width / 2.0, *top, *top),
            Mark::ErrorBar {
                x, y, lower, upper, ..
            } => (*x, *x, lower.min(*upper).min(*y), upper.max(*lower).max(*y)),
            Mark::Fit { from, to, .. } => (from.0, to.0, from.1.min(to.1), from.1.max(to.1)),
        }
    }
}

/// Places groups side by side within a category slot: only the groups that
/// occur at that category (anywhere in the figure) share the slot.
struct Dodge {
    present: Vec<Vec<usize>>,
}

impl Dodge {
    fn new(p: &Prepared, n_categories: usize) -> Self {
        let mut present = vec![Vec::new(); n_categories];
        for (row, x) in p.x.iter().enumerate() {
            let g = group_of(p, row);
            if let Some(list) = present.get_mut(*x as usize) {
                if !list.contains(&g) {
                    list.push(g);
                }
            }
        }
        present.iter_mut().for_each(|l| l.sort_unstable());
        Dodge { present }
    }

    /// Centre and width of `group`'s share of category `cat`'s slot.
    fn place(&self, cat: usize, group: usize, slot: f64) -> (f64, f64) {
        let list = self.present.get(cat).map_or(&[][..], |l| l.as_slice());
        let k = list.len().max(1) as f64;
        let j = list.iter().position(|g| *g == group).unwrap_or(0) as f64;
        let width = slot / k;
        (cat as f64 - slot / 2.0 + (j + 0.5) * width, width)
    }
}

fn group_of(p: &Prepared, row: usize) -> usize {
    p.color.as_ref().map_or(0, |c| c.index[row])
}

/// Rows of each pane (row-major) and colour group.
fn bucket_rows(p: &Prepared, grid: (usize, usize)) -> Vec<Vec<Vec<usize>>> {
    let n_groups = p.color.as_ref().map_or(1, |c| c.labels.len());
    let mut buckets = vec![vec![Vec::new(); n_groups]; grid.0 * grid.1];
    for row in 0..p.y.len() {
        let r = p.facet_row.as_ref().map_or(0, |l| l.index[row]);
        let c = p.facet_col.as_ref().map_or(0, |l| l.index[row]);
        if let Some(pane) = buckets.get_mut(r * grid.1 + c) {
            pane[group_of(p, row)].push(row);
        }
    }
    buckets
}

/// The marks of every pane, row-major over `grid` (rows, columns).
pub(crate) fn build_marks(
    p: &Prepared,
    kind: Kind,
    fit: bool,
    grid: (usize, usize),
) -> Vec<Vec<Mark>> {
    let n_cat = p.x_categories.as_ref().map_or(0, Vec::len);
    let dodge = Dodge::new(p, n_cat);
    bucket_rows(p, grid)
        .iter()
        .map(|groups| {
            let mut marks = Vec::new();
            match kind {
                Kind::Scatter => {
                    let mut rows: Vec<(usize, usize)> = groups
                        .iter()
                        .enumerate()
                        .flat_map(|(g, rows)| rows.iter().map(move |r| (*r, g)))
                        .collect();
                    rows.sort_unstable();
                    marks.extend(rows.iter().map(|&(r, g)| Mark::Point {
                        x: p.x[r],
                        y: p.y[r],
                        group: g,
                    }));
                }
                Kind::Line => marks.extend(
                    groups
                        .iter()
                        .enumerate()
                        .filter(|(_, r)| !r.is_empty())
                        .map(|(g, rows)| {
                            let mut points: Vec<(f64, f64)> =
                                rows.iter().map(|&r| (p.x[r], p.y[r])).collect();
                            points.sort_by(|a, b| a.0.total_cmp(&b.0));
                            Mark::Line { points, group: g }
                        }),
                ),
                Kind::Box | Kind::Bar => per_category(p, kind, groups, n_cat, &dodge, &mut marks),
                Kind::ErrorBar => {
                    for (g, rows) in groups.iter().enumerate() {
                        for &r in rows {
                            let x = if n_cat > 0 {
                                dodge.place(p.x[r] as usize, g, ERRORBAR_SLOT).0
                            } else {
                                p.x[r]
                            };
                            let (lower, upper) = p
                                .interval
                                .as_ref()
                                .map_or((p.y[r], p.y[r]), |(l, u)| (l[r], u[r]));
                            marks.push(Mark::ErrorBar {
                                x,
                                y: p.y[r],
                                lower,
                                upper,
                                group: g,
                            });
                        }
                    }
                }
            }
            if fit {
                marks.extend(
                    groups
                        .iter()
                        .enumerate()
                        .filter_map(|(g, rows)| fit_line(p, rows, g)),
                );
            }
            marks
        })
        .collect()
}

/// Box or bar marks for each category and group of one pane.
fn per_category(
    p: &Prepared,
    kind: Kind,
    groups: &[Vec<usize>],
    n_cat: usize,
    dodge: &Dodge,
    out: &mut Vec<Mark>,
) {
    for cat in 0..n_cat {
        for (g, rows) in groups.iter().enumerate() {
            let in_cat = |vals: &[f64]| -> Vec<f64> {
                rows.iter()
                    .filter(|&&r| p.x[r] as usize == cat)
                    .map(|&r| vals[r])
                    .collect()
            };
            if kind == Kind::Box {
                let (x, width) = dodge.place(cat, g, BOX_SLOT);
                if let Some(stats) = box_stats(&in_cat(&p.y)) {
                    out.push(Mark::Box {
                        x,
                        width: width * 0.9,
                        stats,
                        group: g,
                    });
                }
            } else if let Some(m) = mean(&in_cat(&p.y_raw)) {
                let (x, width) = dodge.place(cat, g, BAR_SLOT);
                // The mean is taken of the data values; on a log axis the bar top is log10(mean).
                let top = if p.log_y { m.log10() } else { m };
                out.push(Mark::Bar {
                    x,
                    width: width * 0.92,
                    top,
                    group: g,
                });
            }
        }
    }
}

/// The least-squares line of one group's rows, across their x range.
fn fit_line(p: &Prepared, rows: &[usize], group: usize) -> Option<Mark> {
    let xs: Vec<f64> = rows.iter().map(|&r| p.x[r]).collect();
    let ys: Vec<f64> = rows.iter().map(|&r| p.y[r]).collect();
    let (intercept, slope) = ols(&xs, &ys)?;
    let lo = xs.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = xs.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    Some(Mark::Fit {
        from: (lo, intercept + slope * lo),
        to: (hi, intercept + slope * hi),
        intercept,
        slope,
        group,
    })
}
