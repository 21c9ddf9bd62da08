//! The figure module exists to hold the computed, back-end independent
//! description of a plot (panes, marks, axes, legend, pixel geometry) and to
//! build it from a table and a spec in [`layout`].

use crate::canvas::{group_color, Rgba};
use crate::geometry::{self, AxisInput, Geometry, LayoutInput};
use crate::marks::{build_marks, Mark};
use crate::prepare::{prepare, Levels, Skipped};
use crate::ticks::Tick;
use crate::{Kind, PlotError, PlotSpec, Table};

/// Share of the data span added on each side of a continuous axis.
const EXPAND: f64 = 0.05;

/// How positions on an axis map to values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scale {
    /// Continuous, linear.
    Linear,
    /// Continuous, log10: axis space holds log10 of the values.
    Log10,
    /// Discrete categories at positions 0, 1, … in axis space.
    Categorical,
}

/// One axis shared by all panes.
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
    /// categorical axis); the same for all panes.
    pub x_range: (f64, f64),
    /// Visible y range in data units; the same for all panes.
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
    pub(crate) x_axis: Axis,
    pub(crate) y_axis: Axis,
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

    /// The shared horizontal axis.
    pub fn x_axis(&self) -> &Axis {
        &self.x_axis
    }

    /// The shared vertical axis.
    pub fn y_axis(&self) -> &Axis {
        &self.y_axis
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
/// undrawable rows, computes marks, shared axes with nice ticks, the legend
/// and the pixel layout.
pub fn layout(table: &Table, spec: &PlotSpec) -> Result<Figure, PlotError> {
    let p = prepare(table, spec)?;
    let n_levels = |l: &Option<Levels>| l.as_ref().map_or(1, |l| l.labels.len());
    let grid = (n_levels(&p.facet_row), n_levels(&p.facet_col));
    let items = build_marks(&p, spec.kind, spec.fit, grid);

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
    let (x_range, y_range) = ranges(&items, spec.kind, &p.x_categories, spec.log_y);

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
    let input = LayoutInput {
        grid,
        x: AxisInput {
            scale: x_scale,
            range: x_range,
            categories: p.x_categories.clone(),
        },
        y: AxisInput {
            scale: y_scale,
            range: y_range,
            categories: None,
        },
        title: spec.title.clone(),
        has_row_strips: p.facet_row.is_some(),
        has_col_strips: p.facet_col.is_some(),
        legend_title: legend_title.clone(),
        legend_labels: legend.iter().map(|e| e.label.clone()).collect(),
        width: spec.width,
        height: spec.height,
    };
    let geo = geometry::compute(&input)?;
    let x_axis = Axis {
        title: spec.x_label.clone().unwrap_or_else(|| spec.x.clone()),
        scale: x_scale,
        range: x_range,
        ticks: geo.x_ticks.clone(),
    };
    let y_axis = Axis {
        title: spec.y_label.clone().unwrap_or_else(|| spec.y.clone()),
        scale: y_scale,
        range: y_range,
        ticks: geo.y_ticks.clone(),
    };
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
                x_range: x_axis.data_range(),
                y_range: y_axis.data_range(),
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

/// Shared x and y ranges (axis space) covering every mark of every pane.
fn ranges(
    items: &[Vec<Mark>],
    kind: Kind,
    cats: &Option<Vec<String>>,
    log_y: bool,
) -> ((f64, f64), (f64, f64)) {
    let ext = items.iter().flatten().map(Mark::extent).fold(
        (
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::INFINITY,
            f64::NEG_INFINITY,
        ),
        |a, e| (a.0.min(e.0), a.1.max(e.1), a.2.min(e.2), a.3.max(e.3)),
    );
    let x = match cats {
        Some(c) => (-0.5, c.len().max(1) as f64 - 0.5),
        None => expand(ext.0, ext.1, false),
    };
    // Linear bars start at zero, and the axis ends there without padding.
    let bars_from_zero = kind == Kind::Bar && !log_y;
    let y = if bars_from_zero {
        let (lo, hi) = expand(ext.2.min(0.0), ext.3.max(0.0), false);
        (
            if ext.2 >= 0.0 { 0.0 } else { lo },
            if ext.3 <= 0.0 { 0.0 } else { hi },
        )
    } else {
        expand(ext.2, ext.3, log_y)
    };
    (x, y)
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
