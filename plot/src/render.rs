//! Rendering exists as the single drawing routine shared by all output
//! formats: it walks a [`Figure`] and issues primitive calls on a
//! [`Canvas`], so SVG and PNG output cannot drift apart.

use crate::canvas::{group_color, Anchor, Canvas, Paint, Pt, Rgba, Stroke, TextStyle};
use crate::figure::{Axis, Figure, Pane, Scale};
use crate::font::{cap_height, descent, text_width, truncate};
use crate::geometry::{
    centre_baseline, LegendGeo, Rect, AXIS_TITLE_SIZE, ENTRY_H, LEGEND_SIZE, LEGEND_TITLE_SIZE,
    PAD, STRIP_H, STRIP_SIZE, SWATCH_W, TICK_GAP, TICK_LEN, TICK_SIZE, TITLE_SIZE,
};
use crate::marks::Mark;
use crate::Kind;

const WHITE: Rgba = Rgba::hex(0xffffff);
const TEXT: Rgba = Rgba::hex(0x222222);
const TICK_TEXT: Rgba = Rgba::hex(0x4d4d4d);
const GRID: Rgba = Rgba::hex(0xe5e5e5);
const BORDER: Rgba = Rgba::hex(0xa6a6a6);
const STRIP_FILL: Rgba = Rgba::hex(0xebebeb);
/// Opacity of box fills relative to the mark opacity.
const BOX_FILL_ALPHA: f64 = 0.3;

/// Maps axis-space coordinates of one pane to pixels.
struct Frame {
    rect: Rect,
    x: (f64, f64),
    y: (f64, f64),
}

impl Frame {
    fn sx(&self, x: f64) -> f64 {
        self.rect.x + (x - self.x.0) / (self.x.1 - self.x.0) * self.rect.w
    }

    fn sy(&self, y: f64) -> f64 {
        self.rect.y + self.rect.h - (y - self.y.0) / (self.y.1 - self.y.0) * self.rect.h
    }

    fn pt(&self, p: (f64, f64)) -> Pt {
        (self.sx(p.0), self.sy(p.1))
    }

    /// Pixels per unit of x.
    fn x_scale(&self) -> f64 {
        self.rect.w / (self.x.1 - self.x.0)
    }
}

/// Draws the whole figure.
pub(crate) fn render(fig: &Figure, c: &mut dyn Canvas) {
    let (w, h) = fig.geo.size;
    c.rect((0.0, 0.0), (w, h), fill(WHITE), "background");
    draw_titles(fig, c);
    for (pane, rect) in fig.panes.iter().zip(&fig.geo.panes) {
        let frame = Frame {
            rect: *rect,
            x: fig.x_axis_of(pane).range,
            y: fig.y_axis_of(pane).range,
        };
        c.group_start(
            "pane",
            &[
                ("data-row", pane.row.to_string()),
                ("data-col", pane.col.to_string()),
            ],
        );
        draw_pane(fig, pane, &frame, c);
        c.group_end();
    }
    if let Some(geo) = &fig.geo.legend {
        draw_legend(fig, geo, c);
    }
}

fn fill(color: Rgba) -> Paint {
    Paint {
        fill: Some(color),
        stroke: None,
    }
}

/// Dark text of `size` with the given alignment and rotation.
fn style(size: f64, anchor: Anchor, angle: f64) -> TextStyle {
    TextStyle {
        size,
        color: TEXT,
        anchor,
        angle,
    }
}

/// Grey text for tick labels.
fn tick_style(anchor: Anchor, angle: f64) -> TextStyle {
    TextStyle {
        color: TICK_TEXT,
        ..style(TICK_SIZE, anchor, angle)
    }
}

/// Figure title and the two axis titles.
fn draw_titles(fig: &Figure, c: &mut dyn Canvas) {
    let (w, h) = fig.geo.size;
    let grid = fig.geo.grid_rect;
    let centred = |s: &str, size: f64, centre: f64, lo: f64, hi: f64| -> (String, f64) {
        let s = truncate(s, size, hi - lo);
        let half = text_width(&s, size) / 2.0;
        (s, centre.clamp(lo + half, (hi - half).max(lo + half)))
    };
    if let Some(title) = &fig.title {
        let (s, x) = centred(title, TITLE_SIZE, grid.x + grid.w / 2.0, PAD, w - PAD);
        c.text(
            (x, PAD + cap_height(TITLE_SIZE) + 2.0),
            &s,
            style(TITLE_SIZE, Anchor::Middle, 0.0),
            "title",
        );
    }
    let (s, x) = centred(
        &fig.x_axis.title,
        AXIS_TITLE_SIZE,
        grid.x + grid.w / 2.0,
        PAD,
        w - PAD,
    );
    let base = h - PAD - descent(AXIS_TITLE_SIZE);
    c.text(
        (x, base),
        &s,
        style(AXIS_TITLE_SIZE, Anchor::Middle, 0.0),
        "axis-title x",
    );
    let (s, y) = centred(
        &fig.y_axis.title,
        AXIS_TITLE_SIZE,
        grid.y + grid.h / 2.0,
        PAD,
        h - PAD,
    );
    let x = PAD + cap_height(AXIS_TITLE_SIZE);
    c.text(
        (x, y),
        &s,
        style(AXIS_TITLE_SIZE, Anchor::Middle, -90.0),
        "axis-title y",
    );
}

/// Background, grid, marks, border, tick labels on outer panes and strips.
fn draw_pane(fig: &Figure, pane: &Pane, f: &Frame, c: &mut dyn Canvas) {
    let r = f.rect;
    c.rect((r.x, r.y), (r.w, r.h), fill(WHITE), "pane-background");
    let grid = Stroke::new(GRID, 1.0);
    for t in &fig.x_axis_of(pane).ticks {
        c.line((f.sx(t.pos), r.y), (f.sx(t.pos), r.y + r.h), grid, "grid");
    }
    for t in &fig.y_axis_of(pane).ticks {
        c.line((r.x, f.sy(t.pos)), (r.x + r.w, f.sy(t.pos)), grid, "grid");
    }
    for m in &pane.items {
        draw_mark(fig, m, f, c);
    }
    let border = Paint {
        fill: None,
        stroke: Some(Stroke::new(BORDER, 1.0)),
    };
    c.rect((r.x, r.y), (r.w, r.h), border, "pane-border");
    let (rows, cols) = fig.grid;
    // Columns share x and rows share y (also with free scales), so tick
    // labels go on the outer panes only.
    if pane.row + 1 == rows {
        let angle = fig.geo.x_label_angles.get(pane.col).copied();
        draw_x_ticks(fig.x_axis_of(pane), angle.unwrap_or(0.0), f, c);
    }
    if pane.col == 0 {
        draw_y_ticks(fig.y_axis_of(pane), f, c);
    }
    if let (0, Some(label)) = (pane.row, &pane.col_label) {
        let strip = Rect {
            x: r.x,
            y: r.y - STRIP_H,
            w: r.w,
            h: STRIP_H,
        };
        draw_strip(strip, label, 0.0, c);
    }
    if let (true, Some(label)) = (pane.col + 1 == cols, &pane.row_label) {
        let strip = Rect {
            x: r.x + r.w,
            y: r.y,
            w: STRIP_H,
            h: r.h,
        };
        draw_strip(strip, label, 90.0, c);
    }
}

fn draw_x_ticks(axis: &Axis, angle: f64, f: &Frame, c: &mut dyn Canvas) {
    let bottom = f.rect.y + f.rect.h;
    let tick = Stroke::new(BORDER, 1.0);
    for t in &axis.ticks {
        let x = f.sx(t.pos);
        c.line((x, bottom), (x, bottom + TICK_LEN), tick, "tick");
        if t.label.is_empty() {
            continue;
        }
        let y = bottom + TICK_LEN + TICK_GAP;
        if angle == 0.0 {
            c.text(
                (x, y + cap_height(TICK_SIZE)),
                &t.label,
                tick_style(Anchor::Middle, 0.0),
                "tick-label x",
            );
        } else {
            let at = (x + centre_baseline(TICK_SIZE), y);
            c.text(at, &t.label, tick_style(Anchor::End, angle), "tick-label x");
        }
    }
}

fn draw_y_ticks(axis: &Axis, f: &Frame, c: &mut dyn Canvas) {
    let left = f.rect.x;
    let tick = Stroke::new(BORDER, 1.0);
    for t in &axis.ticks {
        let y = f.sy(t.pos);
        c.line((left - TICK_LEN, y), (left, y), tick, "tick");
        let at = (left - TICK_LEN - TICK_GAP, y + centre_baseline(TICK_SIZE));
        c.text(at, &t.label, tick_style(Anchor::End, 0.0), "tick-label y");
    }
}

/// A facet strip; `angle` 90 draws the label top-to-bottom in a vertical strip.
fn draw_strip(r: Rect, label: &str, angle: f64, c: &mut dyn Canvas) {
    let border = Stroke::new(BORDER, 1.0);
    c.rect(
        (r.x, r.y),
        (r.w, r.h),
        Paint {
            fill: Some(STRIP_FILL),
            stroke: Some(border),
        },
        "strip",
    );
    let along = if angle == 0.0 { r.w } else { r.h };
    let s = truncate(label, STRIP_SIZE, along - 8.0);
    let (cx, cy) = (r.x + r.w / 2.0, r.y + r.h / 2.0);
    let at = if angle == 0.0 {
        (cx, cy + centre_baseline(STRIP_SIZE))
    } else {
        (cx - centre_baseline(STRIP_SIZE), cy)
    };
    c.text(
        at,
        &s,
        style(STRIP_SIZE, Anchor::Middle, angle),
        "strip-label",
    );
}

fn draw_mark(fig: &Figure, m: &Mark, f: &Frame, c: &mut dyn Canvas) {
    let style = fig.style;
    let color = |g: usize| {
        fig.legend
            .get(g)
            .map_or_else(|| group_color(0, 1), |e| e.color)
    };
    match m {
        Mark::Point { x, y, group } => {
            c.circle(
                f.pt((*x, *y)),
                style.radius,
                fill(color(*group).with_alpha(style.alpha)),
                "point",
            );
        }
        Mark::Line { points, group } => {
            let pts: Vec<Pt> = points.iter().map(|p| f.pt(*p)).collect();
            c.polyline(
                &pts,
                Stroke::new(color(*group).with_alpha(style.alpha), 1.8),
                "line",
            );
            for p in &pts {
                c.circle(
                    *p,
                    style.radius * 0.9,
                    fill(color(*group).with_alpha(style.alpha)),
                    "marker",
                );
            }
        }
        Mark::Box {
            x,
            width,
            stats,
            group,
        } => draw_box(fig, f, (*x, *width), stats, color(*group), c),
        Mark::Bar {
            x,
            width,
            top,
            group,
        } => {
            let base = if fig.y_axis.scale == Scale::Log10 {
                f.y.0
            } else {
                0.0
            };
            let (x0, x1) = (f.sx(x - width / 2.0), f.sx(x + width / 2.0));
            let (y0, y1) = (f.sy(*top).min(f.sy(base)), f.sy(*top).max(f.sy(base)));
            c.rect(
                (x0, y0),
                (x1 - x0, y1 - y0),
                fill(color(*group).with_alpha(style.alpha)),
                "bar",
            );
        }
        Mark::ErrorBar {
            x,
            y,
            lower,
            upper,
            group,
        } => {
            let col = color(*group).with_alpha(style.alpha);
            let stroke = Stroke::new(col, 1.4);
            let cap = if fig.x_axis.scale == Scale::Categorical {
                (f.x_scale() * 0.06).clamp(2.0, 5.0)
            } else {
                4.0
            };
            let (px, lo, hi) = (f.sx(*x), f.sy(*lower), f.sy(*upper));
            c.group_start("errorbar", &[]);
            c.line((px, lo), (px, hi), stroke, "");
            c.line((px - cap, lo), (px + cap, lo), stroke, "");
            c.line((px - cap, hi), (px + cap, hi), stroke, "");
            c.circle((px, f.sy(*y)), style.radius, fill(col), "");
            c.group_end();
        }
        Mark::Fit {
            from, to, group, ..
        } => {
            c.line(
                f.pt(*from),
                f.pt(*to),
                Stroke::new(WHITE.with_alpha(0.8), 4.0),
                "fit-halo",
            );
            c.line(
                f.pt(*from),
                f.pt(*to),
                Stroke::new(color(*group), 2.0),
                "fit",
            );
        }
    }
}

fn draw_box(
    fig: &Figure,
    f: &Frame,
    (x, width): (f64, f64),
    s: &crate::stats::BoxStats,
    color: Rgba,
    c: &mut dyn Canvas,
) {
    let alpha = fig.style.alpha;
    let stroke = Stroke::new(color.with_alpha(alpha), 1.3);
    let (x0, x1, cx) = (f.sx(x - width / 2.0), f.sx(x + width / 2.0), f.sx(x));
    let (q1, q3) = (f.sy(s.q1), f.sy(s.q3));
    c.group_start("box", &[]);
    c.line((cx, q3), (cx, f.sy(s.whisker_hi)), stroke, "whisker");
    c.line((cx, q1), (cx, f.sy(s.whisker_lo)), stroke, "whisker");
    let paint = Paint {
        fill: Some(color.with_alpha(BOX_FILL_ALPHA * alpha)),
        stroke: Some(stroke),
    };
    c.rect((x0, q3), (x1 - x0, q1 - q3), paint, "");
    let median = f.sy(s.median);
    c.line(
        (x0, median),
        (x1, median),
        Stroke::new(color.with_alpha(alpha), 2.4),
        "median",
    );
    for o in &s.outliers {
        let p = Paint {
            fill: Some(WHITE),
            stroke: Some(Stroke::new(color.with_alpha(alpha), 1.1)),
        };
        c.circle(
            (cx, f.sy(*o)),
            (fig.style.radius * 0.85).max(1.5),
            p,
            "outlier",
        );
    }
    c.group_end();
}

fn draw_legend(fig: &Figure, geo: &LegendGeo, c: &mut dyn Canvas) {
    let (x, y) = geo.at;
    c.group_start("legend", &[]);
    if let Some(title) = &fig.legend_title {
        let s = truncate(title, LEGEND_TITLE_SIZE, fig.geo.size.0 - x - PAD);
        c.text(
            (x, y + cap_height(LEGEND_TITLE_SIZE)),
            &s,
            style(LEGEND_TITLE_SIZE, Anchor::Start, 0.0),
            "legend-title",
        );
    }
    let y0 = y + LEGEND_TITLE_SIZE * 1.8;
    let with_fit = fig.panes.iter().any(|p| p.fits > 0);
    for (k, (entry, label)) in fig.legend.iter().zip(&geo.labels).enumerate() {
        let per_col = geo.per_col.max(1);
        let ex = x + (k / per_col) as f64 * geo.col_w;
        let cy = y0 + (k % per_col) as f64 * ENTRY_H + ENTRY_H / 2.0;
        c.group_start("legend-entry", &[]);
        draw_swatch(fig, (ex + SWATCH_W / 2.0, cy), entry.color, with_fit, c);
        let at = (ex + SWATCH_W + 6.0, cy + centre_baseline(LEGEND_SIZE));
        c.text(
            at,
            label,
            style(LEGEND_SIZE, Anchor::Start, 0.0),
            "legend-label",
        );
        c.group_end();
    }
    c.group_end();
}

fn draw_swatch(fig: &Figure, (cx, cy): Pt, color: Rgba, with_line: bool, c: &mut dyn Canvas) {
    let alpha = fig.style.alpha;
    let half = SWATCH_W / 2.0;
    let r = fig.style.radius.clamp(3.0, 6.0);
    match fig.kind {
        Kind::Box => {
            let paint = Paint {
                fill: Some(color.with_alpha(BOX_FILL_ALPHA * alpha)),
                stroke: Some(Stroke::new(color.with_alpha(alpha), 1.3)),
            };
            c.rect((cx - 6.0, cy - 6.0), (12.0, 12.0), paint, "swatch");
        }
        Kind::Bar => c.rect(
            (cx - 6.0, cy - 6.0),
            (12.0, 12.0),
            fill(color.with_alpha(alpha)),
            "swatch",
        ),
        Kind::Line | Kind::Scatter | Kind::ErrorBar => {
            if fig.kind == Kind::Line || with_line {
                c.line(
                    (cx - half, cy),
                    (cx + half, cy),
                    Stroke::new(color, 2.0),
                    "swatch",
                );
            }
            c.circle(
                (cx, cy),
                r,
                fill(color.with_alpha(alpha.max(0.8))),
                "swatch",
            );
        }
    }
}
