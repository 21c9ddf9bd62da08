//! The figure module exists to hold the computed, back-end independent
//! description of a plot (panes, marks, axes, legend, pixel geometry) and to
//! build it from a table and a spec in [`layout`].

use crate::canvas::{group_color, Rgba};
use crate::geometry::{self, AxisInput, Geometry, LayoutInput};
use crate::marks::{build_marks, column_categories, Mark};
use crate::prepare::{prepare, Levels, Skipped};
pub use crate::scale::Scale;
use crate::ticks::Tick;
use crate::{Kind, PlotError, PlotSpec, Table};

/// Share of the data span added on each side of a continuous axis.
const EXPAND: f64 = 0.05;

/// One axis: shared by all panes, or with free scales by the panes of one
/// facet column (x) or row (y).
#[derive(Debug, Clone, PartialEq)]
pub struct Axis {
    /// Axis title.
    pub title: String,
    /// Scale type.
    pub scale: Scale,
    /// Visible range in axis space.
    pub range: (f64, f64),
    /// Ticks with labels (positions in axis space).
    pub ticks: Vec<Tick>,
}

impl Axis {
    /// The visible range in data units (`10^range` on a log axis).
    pub fn data_range(&self) -> (f64, f64) {
        match self.scale {
            Scale::Log10 => (10f64.powf(self.range.0), 10f64.powf(self.range.1)),
            _ => self.range,
        }
    }
}

/// One legend entry: a colour group.
#[derive(Debug, Clone, PartialEq)]
pub struct LegendEntry {
    /// The group's value, formatted.
    pub label: String,
    /// The group's colour.
    pub color: Rgba,
}

/// One pane of the facet grid.
#[derive(Debug, Clone, PartialEq)]
pub struct Pane {
    /// Grid row (0-based).
    pub row: usize,
    /// Grid column (0-based).
    pub col: usize,
    /// `"<facet_row column> = <value>"`, when faceting by rows.
    pub row_label: Option<String>,
    /// `"<facet_col column> = <value>"`, when faceting by columns.
    pub col_label: Option<String>,
    /// Visible x range in data units (category positions `-0.5..n-0.5` on a
    /// categorical axis): the same for all panes, or with
    /// [`PlotSpec::free_x`] the range of this pane's facet column.
    pub x_range: (f64, f64),
    /// Visible y range in data units: the same for all panes, or with
    /// [`PlotSpec::free_y`] the range of this pane's facet row.
    pub y_range: (f64, f64),
    /// Number of points, boxes, bars or error bars drawn (line plots count
    /// their points).
    pub marks: usize,
    /// Number of fitted lines drawn.
    pub fits: usize,
    /// The marks in axis space, in drawing order.
    pub items: Vec<Mark>,
}

/// Point radius and opacity of data marks.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct MarkStyle {
    pub radius: f64,
    pub alpha: f64,
}

/// A laid-out figure, ready to render to SVG or PNG.
#[derive(Debug, Clone, PartialEq)]
pub struct Figure {
    pub(crate) kind: Kind,
    pub(crate) title: Option<String>,
    pub(crate) grid: (usize, usize),
    pub(crate) panes: Vec<Pane>,
    /// The first facet column's x axis (the shared one without free x).
    pub(crate) x_axis: Axis,
    /// The first facet row's y axis (the shared one without free y).
    pub(crate) y_axis: Axis,
    /// One x axis per facet column (all equal without free x).
    pub(crate) x_axes: Vec<Axis>,
    /// One y axis per facet row (all equal without free y).
    pub(crate) y_axes: Vec<Axis>,
    pub(crate) legend_title: Option<String>,
    pub(crate) legend: Vec<LegendEntry>,
    pub(crate) skipped: Vec<Skipped>,
    pub(crate) style: MarkStyle,
    pub(crate) geo: Geometry,
}

impl Figure {
    /// Panes in row-major grid order.
    pub fn panes(&self) -> &[Pane] {
        &self.panes
    }

    /// One entry per colour group; empty without a colour column.
    pub fn legend(&self) -> &[LegendEntry] {
        &self.legend
    }

    /// The legend title (the colour column's name).
    pub fn legend_title(&self) -> Option<&str> {
        self.legend_title.as_deref()
    }

    /// Rows left out, per column and reason.
    pub fn skipped(&self) -> &[Skipped] {
        &self.skipped
    }

    /// Grid shape: (rows, columns).
    pub fn grid(&self) -> (usize, usize) {
        self.grid
    }

    /// The shared horizontal axis; with free x scales, the first facet
    /// column's (see [`Figure::x_axis_of_col`]).
    pub fn x_axis(&self) -> &Axis {
        &self.x_axis
    }

    /// The shared vertical axis; with free y scales, the first facet row's
    /// (see [`Figure::y_axis_of_row`]).
    pub fn y_axis(&self) -> &Axis {
        &self.y_axis
    }

    /// The horizontal axis of facet column `col` (0-based), `None` past the
    /// last column. Without free x scales every column has the shared axis.
    pub fn x_axis_of_col(&self, col: usize) -> Option<&Axis> {
        self.x_axes.get(col)
    }

    /// The vertical axis of facet row `row` (0-based), `None` past the last
    /// row. Without free y scales every row has the shared axis.
    pub fn y_axis_of_row(&self, row: usize) -> Option<&Axis> {
        self.y_axes.get(row)
    }

    /// The x axis pane `pane` is drawn with.
    pub(crate) fn x_axis_of(&self, pane: &Pane) -> &Axis {
        self.x_axes.get(pane.col).unwrap_or(&self.x_axis)
    }

    /// The y axis pane `pane` is drawn with.
    pub(crate) fn y_axis_of(&self, pane: &Pane) -> &Axis {
        self.y_axes.get(pane.row).unwrap_or(&self.y_axis)
    }

    /// Figure size in pixels (width, height).
    pub fn size(&self) -> (u32, u32) {
        (
            self.geo.size.0.round() as u32,
            self.geo.size.1.round() as u32,
        )
    }

    /// Pixel rectangle `[x, y, width, height]` of pane `index` (row-major)
    /// in the rendered figure.
    pub fn pane_rect(&self, index: usize) -> Option<[f64; 4]> {
        self.geo.panes.get(index).map(|r| [r.x, r.y, r.w, r.h])
    }

    /// The plot kind.
    pub fn kind(&self) -> Kind {
        self.kind
    }
}

/// Builds the figure for `spec` from `table`: validates the spec, skips
/// undrawable rows, computes marks, axes with nice ticks (shared, or per
/// facet column / row with free scales), the legend and the pixel layout.
pub fn layout(table: &Table, spec: &PlotSpec) -> Result<Figure, PlotError> {
    let p = prepare(table, spec)?;
    let n_levels = |l: &Option<Levels>| l.as_ref().map_or(1, |l| l.labels.len());
    let grid = (n_levels(&p.facet_row), n_levels(&p.facet_col));
    let shown = column_categories(&p, grid.1, spec.free_x);
    let items = build_marks(&p, spec.kind, spec.fit, grid, &shown, spec.free_x);

    let x_scale = match (&p.x_categories, spec.log_x) {
        (Some(_), _) => Scale::Categorical,
        (None, true) => Scale::Log10,
        (None, false) => Scale::Linear,
    };
    let y_scale = if spec.log_y {
        Scale::Log10
    } else {
        Scale::Linear
    };
    let extents: Vec<Extent> = items.iter().map(|m| extent(m)).collect();
    let cols = grid.1.max(1);
    // Each axis covers the panes it is shared by: all of them, or with free
    // scales those of its facet column (x) or row (y).
    let covering = |keep: &dyn Fn(usize) -> bool| {
        extents
            .iter()
            .enumerate()
            .filter(|(i, _)| keep(*i))
            .fold(Extent::EMPTY, |a, (_, e)| a.union(e))
    };
    let x_ranges: Vec<(f64, f64)> = (0..cols)
        .map(|c| {
            let ext = covering(&|i| !spec.free_x || i % cols == c);
            let n_cat = p
                .x_categories
                .as_ref()
                .map(|_| shown.get(c).map_or(0, Vec::len));
            x_range(&ext, n_cat)
        })
        .collect();
    let y_ranges: Vec<(f64, f64)> = (0..grid.0.max(1))
        .map(|r| {
            let ext = covering(&|i| !spec.free_y || i / cols == r);
            y_range(&ext, spec.kind, spec.log_y)
        })
        .collect();

    let legend: Vec<LegendEntry> = p.color.as_ref().map_or_else(Vec::new, |c| {
        c.labels
            .iter()
            .enumerate()
            .map(|(i, label)| LegendEntry {
                label: label.clone(),
                color: group_color(i, c.labels.len()),
            })
            .collect()
    });
    let legend_title = p.color.as_ref().map(|c| c.name.clone());
    let x_inputs: Vec<AxisInput> = x_ranges
        .iter()
        .enumerate()
        .map(|(c, range)| AxisInput {
            scale: x_scale,
            range: *range,
            categories: p.x_categories.as_ref().map(|all| {
                shown
                    .get(c)
                    .map_or(&[][..], Vec::as_slice)
                    .iter()
                    .filter_map(|&k| all.get(k).cloned())
                    .collect()
            }),
        })
        .collect();
    let y_inputs: Vec<AxisInput> = y_ranges
        .iter()
        .map(|range| AxisInput {
            scale: y_scale,
            range: *range,
            categories: None,
        })
        .collect();
    let input = LayoutInput {
        grid,
        x: x_inputs,
        y: y_inputs,
        title: spec.title.clone(),
        has_row_strips: p.facet_row.is_some(),
        has_col_strips: p.facet_col.is_some(),
        legend_title: legend_title.clone(),
        legend_labels: legend.iter().map(|e| e.label.clone()).collect(),
        width: spec.width,
        height: spec.height,
    };
    let geo = geometry::compute(&input)?;
    let x_title = spec.x_label.clone().unwrap_or_else(|| spec.x.clone());
    let x_axes: Vec<Axis> = x_ranges
        .iter()
        .zip(&geo.x_ticks)
        .map(|(range, ticks)| Axis {
            title: x_title.clone(),
            scale: x_scale,
            range: *range,
            ticks: ticks.clone(),
        })
        .collect();
    let y_title = spec.y_label.clone().unwrap_or_else(|| spec.y.clone());
    let y_axes: Vec<Axis> = y_ranges
        .iter()
        .zip(&geo.y_ticks)
        .map(|(range, ticks)| Axis {
            title: y_title.clone(),
            scale: y_scale,
            range: *range,
            ticks: ticks.clone(),
        })
        .collect();
    let first = |axes: &[Axis], title: String, scale: Scale| {
        axes.first().cloned().unwrap_or(Axis {
            title,
            scale,
            range: (0.0, 1.0),
            ticks: Vec::new(),
        })
    };
    let x_axis = first(&x_axes, x_title, x_scale);
    let y_axis = first(&y_axes, y_title, y_scale);
    let panes = items
        .into_iter()
        .enumerate()
        .map(|(i, items)| {
            let (row, col) = (i / grid.1, i % grid.1);
            let strip = |l: &Option<Levels>, k: usize| {
                l.as_ref().map(|l| {
                    format!(
                        "{} = {}",
                        l.name,
                        l.labels.get(k).map_or("", String::as_str)
                    )
                })
            };
            Pane {
                row,
                col,
                row_label: strip(&p.facet_row, row),
                col_label: strip(&p.facet_col, col),
                x_range: x_axes.get(col).unwrap_or(&x_axis).data_range(),
                y_range: y_axes.get(row).unwrap_or(&y_axis).data_range(),
                marks: items.iter().map(Mark::data_count).sum(),
                fits: items
                    .iter()
                    .filter(|m| matches!(m, Mark::Fit { .. }))
                    .count(),
                items,
            }
        })
        .collect();
    let default_alpha = if spec.kind == Kind::Scatter { 0.8 } else { 1.0 };
    Ok(Figure {
        kind: spec.kind,
        title: spec.title.clone(),
        grid,
        panes,
        x_axis,
        y_axis,
        x_axes,
        y_axes,
        legend_title,
        legend,
        skipped: p.skipped,
        style: MarkStyle {
            radius: spec.point_size.unwrap_or(2.5),
            alpha: spec.alpha.unwrap_or(default_alpha),
        },
        geo,
    })
}

/// Bounding box `(x_lo, x_hi, y_lo, y_hi)` of marks in axis space.
#[derive(Debug, Clone, Copy)]
struct Extent(f64, f64, f64, f64);

impl Extent {
    const EMPTY: Extent = Extent(
        f64::INFINITY,
        f64::NEG_INFINITY,
        f64::INFINITY,
        f64::NEG_INFINITY,
    );

    fn union(self, e: &Extent) -> Extent {
        Extent(
            self.0.min(e.0),
            self.1.max(e.1),
            self.2.min(e.2),
            self.3.max(e.3),
        )
    }
}

/// The extent of one pane's marks.
fn extent(marks: &[Mark]) -> Extent {
    marks
        .iter()
        .map(Mark::extent)
        .fold(Extent::EMPTY, |a, e| a.union(&Extent(e.0, e.1, e.2, e.3)))
}

/// The x range (axis space) covering `ext`; `n_cat` categories at
/// positions `0..n_cat` on a categorical axis.
fn x_range(ext: &Extent, n_cat: Option<usize>) -> (f64, f64) {
    match n_cat {
        Some(n) => (-0.5, n.max(1) as f64 - 0.5),
        None => expand(ext.0, ext.1, false),
    }
}

/// The y range (axis space) covering `ext`.
fn y_range(ext: &Extent, kind: Kind, log_y: bool) -> (f64, f64) {
    // Linear bars start at zero, and the axis ends there without padding.
    let bars_from_zero = kind == Kind::Bar && !log_y;
    if bars_from_zero {
        let (lo, hi) = expand(ext.2.min(0.0), ext.3.max(0.0), false);
        let range = (
            if ext.2 >= 0.0 { 0.0 } else { lo },
            if ext.3 <= 0.0 { 0.0 } else { hi },
        );
        // All bars of height zero: keep a visible range above the baseline.
        if range.1 > range.0 {
            range
        } else {
            (0.0, 1.0)
        }
    } else {
        expand(ext.2, ext.3, log_y)
    }
}

/// Pads a data range by [`EXPAND`] on both sides; widens a degenerate range.
fn expand(lo: f64, hi: f64, log: bool) -> (f64, f64) {
    if !(lo.is_finite() && hi.is_finite()) {
        return (0.0, 1.0);
    }
    let span = hi - lo;
    if span <= 1e-12 * lo.abs().max(hi.abs()).max(1e-300) {
        let half = if log || lo == 0.0 {
            0.5
        } else {
            lo.abs() * 0.1
        };
        return (lo - half, hi + half);
    }
    (lo - EXPAND * span, hi + EXPAND * span)
}
