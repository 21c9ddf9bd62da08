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
/// occur at that category (among the rows the dodge was built from: the whole
/// figure, or one facet column with free x scales) share the slot.
struct Dodge {
    present: Vec<Vec<usize>>,
}

impl Dodge {
    fn new(p: &Prepared, n_categories: usize, rows: impl Iterator<Item = usize>) -> Self {
        let mut present = vec![Vec::new(); n_categories];
        for row in rows {
            let g = group_of(p, row);
            if let Some(list) = p.x.get(row).and_then(|x| present.get_mut(*x as usize)) {
                if !list.contains(&g) {
                    list.push(g);
                }
            }
        }
        present.iter_mut().for_each(|l| l.sort_unstable());
        Dodge { present }
    }

    /// Centre and width of `group`'s share of the slot of category `cat`
    /// drawn at axis position `at`.
    fn place(&self, cat: usize, at: f64, group: usize, slot: f64) -> (f64, f64) {
        let list = self.present.get(cat).map_or(&[][..], |l| l.as_slice());
        let k = list.len().max(1) as f64;
        let j = list.iter().position(|g| *g == group).unwrap_or(0) as f64;
        let width = slot / k;
        (at - slot / 2.0 + (j + 0.5) * width, width)
    }
}

/// The x categories each facet column shows: indices into
/// `Prepared::x_categories`, in their global order. A category's axis
/// position in a column is its index in that column's list. Without free x
/// scales every column shows every category; with them, only those present
/// in the column's rows. Empty lists for a numeric x axis.
pub(crate) fn column_categories(p: &Prepared, cols: usize, free_x: bool) -> Vec<Vec<usize>> {
    let cols = cols.max(1);
    let n_cat = p.x_categories.as_ref().map_or(0, Vec::len);
    if !free_x {
        return vec![(0..n_cat).collect(); cols];
    }
    let mut present = vec![vec![false; n_cat]; cols];
    for (row, x) in p.x.iter().enumerate() {
        if let Some(cell) = present
            .get_mut(col_of(p, row))
            .and_then(|c| c.get_mut(*x as usize))
        {
            *cell = true;
        }
    }
    present
        .iter()
        .map(|c| (0..n_cat).filter(|&k| c.get(k) == Some(&true)).collect())
        .collect()
}

/// Where each category sits in one facet column: `pos[cat]` is its axis
/// position, `None` when the column does not show it.
fn positions(shown: &[usize], n_cat: usize) -> Vec<Option<usize>> {
    let mut pos = vec![None; n_cat];
    for (i, &cat) in shown.iter().enumerate() {
        if let Some(p) = pos.get_mut(cat) {
            *p = Some(i);
        }
    }
    pos
}

fn col_of(p: &Prepared, row: usize) -> usize {
    p.facet_col.as_ref().map_or(0, |l| l.index[row])
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
        let c = col_of(p, row);
        if let Some(pane) = buckets.get_mut(r * grid.1 + c) {
            pane[group_of(p, row)].push(row);
        }
    }
    buckets
}

/// The marks of every pane, row-major over `grid` (rows, columns). `shown`
/// holds the categories of each facet column (see [`column_categories`]);
/// with `free_x`, boxes, bars and error bars are dodged per column.
pub(crate) fn build_marks(
    p: &Prepared,
    kind: Kind,
    fit: bool,
    grid: (usize, usize),
    shown: &[Vec<usize>],
    free_x: bool,
) -> Vec<Vec<Mark>> {
    let n_cat = p.x_categories.as_ref().map_or(0, Vec::len);
    let cols = grid.1.max(1);
    let columns: Vec<(Vec<Option<usize>>, Dodge)> = (0..cols)
        .map(|c| {
            let pos = positions(shown.get(c).map_or(&[][..], Vec::as_slice), n_cat);
            let rows = (0..p.y.len()).filter(|&r| !free_x || col_of(p, r) == c);
            (pos, Dodge::new(p, n_cat, rows))
        })
        .collect();
    bucket_rows(p, grid)
        .iter()
        .enumerate()
        .map(|(i, groups)| {
            let Some((pos, dodge)) = columns.get(i % cols) else {
                return Vec::new();
            };
            let cx = ColumnX { p, pos, n_cat };
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
                        x: cx.at(r),
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
                                rows.iter().map(|&r| (cx.at(r), p.y[r])).collect();
                            points.sort_by(|a, b| a.0.total_cmp(&b.0));
                            Mark::Line { points, group: g }
                        }),
                ),
                Kind::Box | Kind::Bar => {
                    per_category(p, kind, groups, pos, dodge, &mut marks);
                }
                Kind::ErrorBar => {
                    for (g, rows) in groups.iter().enumerate() {
                        for &r in rows {
                            let x = if n_cat > 0 {
                                dodge.place(p.x[r] as usize, cx.at(r), g, ERRORBAR_SLOT).0
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

/// Axis-space x of rows within one facet column.
struct ColumnX<'a> {
    p: &'a Prepared,
    pos: &'a [Option<usize>],
    n_cat: usize,
}

impl ColumnX<'_> {
    /// The row's x: the data value (log10 on a log axis), or the position of
    /// its category in the column.
    fn at(&self, row: usize) -> f64 {
        let x = self.p.x[row];
        if self.n_cat == 0 {
            return x;
        }
        self.pos
            .get(x as usize)
            .copied()
            .flatten()
            .map_or(x, |i| i as f64)
    }
}

/// Box or bar marks for each category shown in a pane's column (`pos`) and
/// each group of the pane.
fn per_category(
    p: &Prepared,
    kind: Kind,
    groups: &[Vec<usize>],
    pos: &[Option<usize>],
    dodge: &Dodge,
    out: &mut Vec<Mark>,
) {
    for (cat, at) in pos
        .iter()
        .enumerate()
        .filter_map(|(cat, at)| at.map(|a| (cat, a as f64)))
    {
        for (g, rows) in groups.iter().enumerate() {
            let in_cat = |vals: &[f64]| -> Vec<f64> {
                rows.iter()
                    .filter(|&&r| p.x[r] as usize == cat)
                    .map(|&r| vals[r])
                    .collect()
            };
            if kind == Kind::Box {
                let (x, width) = dodge.place(cat, at, g, BOX_SLOT);
                if let Some(stats) = box_stats(&in_cat(&p.y)) {
                    out.push(Mark::Box {
                        x,
                        width: width * 0.9,
                        stats,
                        group: g,
                    });
                }
            } else if let Some(m) = mean(&in_cat(&p.y_raw)) {
                let (x, width) = dodge.place(cat, at, g, BAR_SLOT);
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
