//! Geometry exists to turn the abstract figure (grid shape, axes, legend,
//! titles) into pixel positions: it chooses tick counts so labels never
//! overlap, measures every label with the embedded font, and sizes margins,
//! panes, strips and the legend so nothing is clipped.

use crate::canvas::Pt;
use crate::font::{cap_height, text_width, truncate};
use crate::scale::Scale;
use crate::ticks::{linear_labels, log_ticks, nice_step, nice_ticks, Tick};
use crate::PlotError;

/// Outer padding of the figure.
pub(crate) const PAD: f64 = 12.0;
/// Font sizes (pixels per em).
pub(crate) const TITLE_SIZE: f64 = 16.0;
pub(crate) const AXIS_TITLE_SIZE: f64 = 13.0;
pub(crate) const TICK_SIZE: f64 = 11.0;
pub(crate) const STRIP_SIZE: f64 = 11.5;
pub(crate) const LEGEND_TITLE_SIZE: f64 = 12.0;
pub(crate) const LEGEND_SIZE: f64 = 11.0;
/// Tick mark length and gap between tick and label.
pub(crate) const TICK_LEN: f64 = 4.0;
pub(crate) const TICK_GAP: f64 = 3.0;
/// Thickness of facet strips.
pub(crate) const STRIP_H: f64 = 22.0;
/// Legend: gap to the grid, swatch width, row height, gap between columns.
pub(crate) const LEGEND_GAP: f64 = 18.0;
pub(crate) const SWATCH_W: f64 = 18.0;
pub(crate) const ENTRY_H: f64 = 19.0;
const LEGEND_COL_GAP: f64 = 12.0;
const LEGEND_MAX_LABEL: f64 = 170.0;
/// Gap between panes.
const PANE_GAP: f64 = 10.0;
/// Gap between tick labels and axis titles.
const TITLE_GAP: f64 = 7.0;
/// Default plotting area of one pane.
const DEFAULT_PANE: (f64, f64) = (340.0, 250.0);
/// Smallest pane that is still drawn.
const MIN_PANE: f64 = 40.0;
/// Longest category label before truncation.
const MAX_CATEGORY_LABEL: f64 = 150.0;

/// An axis-aligned rectangle in pixels.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Rect {
    pub x: f64,
    pub y: f64,
    pub w: f64,
    pub h: f64,
}

/// What geometry needs to know about one axis.
pub(crate) struct AxisInput {
    pub scale: Scale,
    pub range: (f64, f64),
    pub categories: Option<Vec<String>>,
}

/// Everything the pixel layout depends on.
pub(crate) struct LayoutInput {
    pub grid: (usize, usize),
    /// One x axis per facet column (equal ones when x is shared).
    pub x: Vec<AxisInput>,
    /// One y axis per facet row (equal ones when y is shared).
    pub y: Vec<AxisInput>,
    pub title: Option<String>,
    pub has_row_strips: bool,
    pub has_col_strips: bool,
    pub legend_title: Option<String>,
    pub legend_labels: Vec<String>,
    pub width: Option<u32>,
    pub height: Option<u32>,
}

/// Where the legend goes and how its entries wrap into columns.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct LegendGeo {
    pub at: Pt,
    pub per_col: usize,
    pub col_w: f64,
    pub labels: Vec<String>,
}

/// Pixel layout of a figure.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Geometry {
    pub size: (f64, f64),
    pub panes: Vec<Rect>,
    pub grid_rect: Rect,
    /// X ticks per facet column.
    pub x_ticks: Vec<Vec<Tick>>,
    /// Y ticks per facet row.
    pub y_ticks: Vec<Vec<Tick>>,
    /// Per facet column: 0 for horizontal x tick labels, -90 for vertical ones.
    pub x_label_angles: Vec<f64>,
    pub legend: Option<LegendGeo>,
}

/// Tick labels of the x axis with the space they need.
struct XLabels {
    ticks: Vec<Tick>,
    angle: f64,
    height: f64,
    overhang: (f64, f64),
}

/// Computes the pixel layout.
pub(crate) fn compute(inp: &LayoutInput) -> Result<Geometry, PlotError> {
    let (rows, cols) = (inp.grid.0.max(1) as f64, inp.grid.1.max(1) as f64);
    let title_h = if inp.title.is_some() {
        TITLE_SIZE * 1.25 + 8.0
    } else {
        0.0
    };
    let top = PAD + title_h + if inp.has_col_strips { STRIP_H } else { 0.0 };
    let bottom_fixed = TICK_LEN + TICK_GAP + TITLE_GAP + AXIS_TITLE_SIZE * 1.2 + PAD;
    let pane_h_for = |x_label_h: f64| {
        inp.height.map_or(DEFAULT_PANE.1, |h| {
            (h as f64 - top - bottom_fixed - x_label_h - (rows - 1.0) * PANE_GAP) / rows
        })
    };
    let est_pane_h = pane_h_for(TICK_SIZE);
    let y_fits = |t: &[Tick], px: f64| {
        t.windows(2)
            .all(|w| (w[1].pos - w[0].pos).abs() * px >= TICK_SIZE * 2.5)
    };
    let y_ticks: Vec<Vec<Tick>> = inp
        .y
        .iter()
        .map(|axis| continuous_ticks(axis, est_pane_h, 45.0, &y_fits))
        .collect();
    // Y tick labels are drawn left of the first column, one row's at a time.
    let y_label_w = y_ticks
        .iter()
        .flatten()
        .map(|t| text_width(&t.label, TICK_SIZE))
        .fold(0.0, f64::max);
    let left = PAD + AXIS_TITLE_SIZE * 1.2 + TITLE_GAP + y_label_w + TICK_GAP + TICK_LEN;
    let legend = legend_columns(inp, rows * est_pane_h + (rows - 1.0) * PANE_GAP);
    // Slack after the legend for fallback fonts wider than DejaVu Sans.
    let legend_w = legend.as_ref().map_or(0.0, |(w, _)| LEGEND_GAP + w + 6.0);
    let right =
        |extra: f64| (if inp.has_row_strips { STRIP_H } else { 0.0 }) + legend_w + PAD + extra;
    let pane_w_for = |gap: f64, extra: f64| {
        inp.width.map_or(DEFAULT_PANE.0, |w| {
            (w as f64 - left - right(extra) - (cols - 1.0) * gap) / cols
        })
    };
    let mut pane_w = pane_w_for(PANE_GAP, 0.0);
    check_pane(pane_w, "width", inp.width)?;
    let xls: Vec<XLabels> = inp.x.iter().map(|axis| x_labels(axis, pane_w)).collect();
    // Neighbouring columns' labels (the right end of one column's, the left
    // end of the next one's) must not touch.
    let gap_x = xls
        .windows(2)
        .map(|w| w[0].overhang.1 + w[1].overhang.0 + 8.0)
        .fold(PANE_GAP, f64::max);
    let last_overhang = xls.last().map_or(0.0, |xl| xl.overhang.1);
    let extra_right = if inp.has_row_strips || legend.is_some() {
        0.0
    } else {
        (last_overhang - PAD + 2.0).max(0.0)
    };
    if gap_x > PANE_GAP || extra_right > 0.0 {
        pane_w = pane_w_for(gap_x, extra_right);
        check_pane(pane_w, "width", inp.width)?;
    }
    let x_label_h = xls.iter().map(|xl| xl.height).fold(0.0, f64::max);
    let pane_h = pane_h_for(x_label_h);
    check_pane(pane_h, "height", inp.height)?;

    let grid_rect = Rect {
        x: left,
        y: top,
        w: cols * pane_w + (cols - 1.0) * gap_x,
        h: rows * pane_h + (rows - 1.0) * PANE_GAP,
    };
    // A default-width figure grows to fit its title.
    let title_w = inp
        .title
        .as_ref()
        .map_or(0.0, |t| text_width(t, TITLE_SIZE) + 2.0 * PAD);
    let natural_w = (grid_rect.x + grid_rect.w + right(extra_right)).max(title_w);
    let size = (
        inp.width.map_or(natural_w, f64::from),
        inp.height.map_or(
            grid_rect.y + grid_rect.h + x_label_h + bottom_fixed,
            f64::from,
        ),
    );
    let panes = (0..inp.grid.0.max(1) * inp.grid.1.max(1))
        .map(|i| Rect {
            x: left + (i % inp.grid.1.max(1)) as f64 * (pane_w + gap_x),
            y: top + (i / inp.grid.1.max(1)) as f64 * (pane_h + PANE_GAP),
            w: pane_w,
            h: pane_h,
        })
        .collect();
    let legend = legend.map(|(w, per_col)| place_legend(inp, &grid_rect, w, per_col));
    Ok(Geometry {
        size,
        panes,
        grid_rect,
        x_label_angles: xls.iter().map(|xl| xl.angle).collect(),
        x_ticks: xls.into_iter().map(|xl| xl.ticks).collect(),
        y_ticks,
        legend,
    })
}

fn check_pane(v: f64, what: &str, given: Option<u32>) -> Result<(), PlotError> {
    if v >= MIN_PANE {
        return Ok(());
    }
    Err(PlotError::InvalidSpec(format!(
        "figure {what} {} px is too small: each pane would be {v:.0} px (minimum {MIN_PANE})",
        given.unwrap_or(0)
    )))
}

/// Ticks of a continuous axis `len` pixels long: as many as fit, at most
/// one per `px_per_tick` pixels (3 to 8), checked with `fits(ticks, px per unit)`.
fn continuous_ticks(
    axis: &AxisInput,
    len: f64,
    px_per_tick: f64,
    fits: &dyn Fn(&[Tick], f64) -> bool,
) -> Vec<Tick> {
    let (lo, hi) = axis.range;
    let px = len / (hi - lo).max(f64::MIN_POSITIVE);
    let max_target = ((len / px_per_tick).round() as usize).clamp(3, 8);
    // Decade ticks are cheap to read, so a log axis may have a few more.
    let max_target = if axis.scale == Scale::Log10 {
        max_target + 3
    } else {
        max_target
    };
    let mut ticks = Vec::new();
    for target in (2..=max_target).rev() {
        ticks = match axis.scale {
            Scale::Log10 => log_ticks(lo, hi, target),
            _ => {
                let vals = nice_ticks(lo, hi, target);
                let labels = linear_labels(&vals, nice_step(lo, hi, target).unwrap_or(1.0));
                vals.into_iter()
                    .zip(labels)
                    .map(|(pos, label)| Tick { pos, label })
                    .collect()
            }
        };
        if fits(&ticks, px) {
            break;
        }
    }
    ticks
}

/// X tick labels for a pane `pane_w` pixels wide: continuous ticks thinned
/// until they fit side by side; categories horizontal if they fit, else
/// vertical, else every k-th label.
fn x_labels(axis: &AxisInput, pane_w: f64) -> XLabels {
    let (lo, hi) = axis.range;
    let px = pane_w / (hi - lo).max(f64::MIN_POSITIVE);
    let line_h = TICK_SIZE;
    let Some(cats) = &axis.categories else {
        let ticks = continuous_ticks(axis, pane_w, 70.0, &|t: &[Tick], px| {
            t.windows(2).all(|w| {
                let need =
                    (text_width(&w[0].label, TICK_SIZE) + text_width(&w[1].label, TICK_SIZE)) / 2.0
                        + 10.0;
                (w[1].pos - w[0].pos).abs() * px >= need
            })
        });
        let overhang = |t: Option<&Tick>, edge: f64| {
            t.map_or(0.0, |t| {
                (text_width(&t.label, TICK_SIZE) / 2.0 - (t.pos - edge).abs() * px).max(0.0)
            })
        };
        let overhang = (overhang(ticks.first(), lo), overhang(ticks.last(), hi));
        return XLabels {
            ticks,
            angle: 0.0,
            height: line_h,
            overhang,
        };
    };
    let labels: Vec<String> = cats
        .iter()
        .map(|c| truncate(c, TICK_SIZE, MAX_CATEGORY_LABEL))
        .collect();
    let max_w = labels
        .iter()
        .map(|l| text_width(l, TICK_SIZE))
        .fold(0.0, f64::max);
    let horizontal = max_w + 8.0 <= px;
    let every = if horizontal {
        1
    } else {
        ((line_h * 1.3) / px).ceil().max(1.0) as usize
    };
    let ticks = labels
        .into_iter()
        .enumerate()
        .map(|(i, label)| Tick {
            pos: i as f64,
            label: if i % every == 0 { label } else { String::new() },
        })
        .collect();
    if horizontal {
        XLabels {
            ticks,
            angle: 0.0,
            height: line_h,
            overhang: (0.0, 0.0),
        }
    } else {
        XLabels {
            ticks,
            angle: -90.0,
            height: max_w,
            overhang: (0.0, 0.0),
        }
    }
}

/// Legend width and entries per column, wrapping into several columns when
/// the entries are taller than `grid_h`; `None` without a legend.
fn legend_columns(inp: &LayoutInput, grid_h: f64) -> Option<(f64, usize)> {
    let title = inp.legend_title.as_ref()?;
    let n = inp.legend_labels.len().max(1);
    let per_col = (((grid_h - LEGEND_TITLE_SIZE * 1.8) / ENTRY_H)
        .floor()
        .max(1.0) as usize)
        .min(n);
    let n_cols = n.div_ceil(per_col) as f64;
    let label_w = inp
        .legend_labels
        .iter()
        .map(|l| text_width(&truncate(l, LEGEND_SIZE, LEGEND_MAX_LABEL), LEGEND_SIZE))
        .fold(0.0, f64::max);
    let col_w = SWATCH_W + 6.0 + label_w;
    let title_w = text_width(title, LEGEND_TITLE_SIZE).min(LEGEND_MAX_LABEL + SWATCH_W);
    Some((
        (n_cols * col_w + (n_cols - 1.0) * LEGEND_COL_GAP).max(title_w),
        per_col,
    ))
}

/// Puts the legend right of the grid (and of the row strips), vertically
/// centred on the grid.
fn place_legend(inp: &LayoutInput, grid: &Rect, width: f64, per_col: usize) -> LegendGeo {
    let n = inp.legend_labels.len().min(per_col) as f64;
    let height = LEGEND_TITLE_SIZE * 1.8 + n * ENTRY_H;
    let x = grid.x + grid.w + if inp.has_row_strips { STRIP_H } else { 0.0 } + LEGEND_GAP;
    let y = grid.y + ((grid.h - height) / 2.0).max(0.0);
    let n_cols = inp.legend_labels.len().div_ceil(per_col.max(1)).max(1) as f64;
    LegendGeo {
        at: (x, y),
        per_col,
        col_w: (width - (n_cols - 1.0) * LEGEND_COL_GAP) / n_cols + LEGEND_COL_GAP,
        labels: inp
            .legend_labels
            .iter()
            .map(|l| truncate(l, LEGEND_SIZE, LEGEND_MAX_LABEL))
            .collect(),
    }
}

/// Baseline offset that vertically centres a line of text of `size` on a
/// point.
pub(crate) fn centre_baseline(size: f64) -> f64 {
    cap_height(size) / 2.0
}
