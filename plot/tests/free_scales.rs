//! Structural tests of free facet scales (`free_x` per facet column,
//! `free_y` per facet row): per-column / per-row ranges and ticks, shared
//! ranges without the flags, categorical and log axes, fits, dodging, and
//! the rendered SVG.

mod common;

use common::{count, num, table, text, Lcg};
use trustql_plot::{layout, Axis, Figure, Kind, Mark, PlotSpec, Scale, Table};

/// X data range of each facet column of [`grid_table`].
const COL_X: [(f64, f64); 3] = [(-12.0, 12.0), (0.3, 1.5), (40.0, 320.0)];
/// Y data range of each facet row of [`grid_table`].
const ROW_Y: [(f64, f64); 2] = [(0.01, 0.05), (1000.0, 9000.0)];
const PER_PANE: usize = 12;

/// A 2 (row "r") x 3 (column "c") grid table: x spans `COL_X[c]` in column
/// c, y spans `ROW_Y[r]` in row r (both ends hit exactly), two colour groups.
fn grid_table() -> Table {
    let mut rng = Lcg(11);
    let (mut x, mut y, mut r, mut c, mut g) = (vec![], vec![], vec![], vec![], vec![]);
    for (row, &(ylo, yhi)) in ["r0", "r1"].iter().zip(&ROW_Y) {
        for (col, &(xlo, xhi)) in ["c0", "c1", "c2"].iter().zip(&COL_X) {
            for i in 0..PER_PANE {
                let (fx, fy) = match i {
                    0 => (0.0, 0.0),
                    1 => (1.0, 1.0),
                    _ => (rng.unit(), rng.unit()),
                };
                x.push(xlo + fx * (xhi - xlo));
                y.push(ylo + fy * (yhi - ylo));
                r.push(*row);
                c.push(*col);
                g.push(if i % 2 == 0 { "even" } else { "odd" });
            }
        }
    }
    table(vec![
        ("x", num(&x)),
        ("y", num(&y)),
        ("r", text(&r)),
        ("c", text(&c)),
        ("g", text(&g)),
    ])
}

fn grid_spec(kind: Kind, free_x: bool, free_y: bool) -> PlotSpec {
    let mut s = PlotSpec::new(kind, "x", "y");
    s.color = Some("g".into());
    s.facet_row = Some("r".into());
    s.facet_col = Some("c".into());
    (s.free_x, s.free_y) = (free_x, free_y);
    s
}

fn covers(range: (f64, f64), data: (f64, f64)) -> bool {
    range.0 < data.0 && data.1 < range.1
}

/// The range covers `data` with at most 10% padding per side.
fn fits_tightly(range: (f64, f64), data: (f64, f64)) -> bool {
    let pad = 0.1 * (data.1 - data.0);
    covers(range, data) && range.0 >= data.0 - pad && range.1 <= data.1 + pad
}

fn ticks_inside(axis: &Axis) {
    assert!(axis.ticks.len() >= 2, "{:?}", axis.ticks);
    for t in &axis.ticks {
        assert!(
            axis.range.0 <= t.pos && t.pos <= axis.range.1,
            "tick {} outside {:?}",
            t.pos,
            axis.range
        );
    }
}

fn union(a: &[(f64, f64)]) -> (f64, f64) {
    a.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |m, r| {
        (m.0.min(r.0), m.1.max(r.1))
    })
}

fn check_x(fig: &Figure, free: bool) {
    for pane in fig.panes() {
        let axis = fig.x_axis_of_col(pane.col).unwrap();
        assert_eq!(pane.x_range, axis.data_range(), "pane reports its axis");
        if free {
            let own = COL_X[pane.col];
            assert!(fits_tightly(pane.x_range, own), "{:?}", pane.x_range);
            assert!(!covers(pane.x_range, union(&COL_X)));
            // Other columns' data, unless it lies within this column's.
            let nested = |o: &(f64, f64)| own.0 <= o.0 && o.1 <= own.1;
            for (c, other) in COL_X
                .iter()
                .enumerate()
                .filter(|(c, o)| *c != pane.col && !nested(o))
            {
                assert!(
                    !covers(pane.x_range, *other),
                    "column {} range {:?} covers column {c}'s data",
                    pane.col,
                    pane.x_range
                );
            }
        } else {
            assert!(fits_tightly(pane.x_range, union(&COL_X)));
        }
    }
    for c in 0..3 {
        ticks_inside(fig.x_axis_of_col(c).unwrap());
    }
    assert!(fig.x_axis_of_col(3).is_none());
    assert_eq!(Some(fig.x_axis()), fig.x_axis_of_col(0));
    if !free {
        for c in 1..3 {
            assert_eq!(fig.x_axis_of_col(c), Some(fig.x_axis()), "shared x");
        }
    }
}

fn check_y(fig: &Figure, free: bool) {
    for pane in fig.panes() {
        let axis = fig.y_axis_of_row(pane.row).unwrap();
        assert_eq!(pane.y_range, axis.data_range(), "pane reports its axis");
        if free {
            let own = ROW_Y[pane.row];
            assert!(fits_tightly(pane.y_range, own), "{:?}", pane.y_range);
            let other = ROW_Y[1 - pane.row];
            assert!(!covers(pane.y_range, other), "{:?}", pane.y_range);
        } else {
            assert!(fits_tightly(pane.y_range, union(&ROW_Y)));
        }
    }
    for r in 0..2 {
        ticks_inside(fig.y_axis_of_row(r).unwrap());
    }
    assert!(fig.y_axis_of_row(2).is_none());
    assert_eq!(Some(fig.y_axis()), fig.y_axis_of_row(0));
    if !free {
        assert_eq!(fig.y_axis_of_row(1), Some(fig.y_axis()), "shared y");
    }
}

fn check_svg(fig: &Figure) {
    let svg = fig.to_svg();
    assert_eq!(count(&svg, r#"class="pane""#), 6);
    assert_eq!(count(&svg, r#"class="point""#), 6 * PER_PANE);
    // X labels under the bottom row (one set per column), y labels left of
    // the first column (one set per row).
    let x_labels: usize = (0..3)
        .map(|c| fig.x_axis_of_col(c).unwrap().ticks.len())
        .sum();
    let y_labels: usize = (0..2)
        .map(|r| fig.y_axis_of_row(r).unwrap().ticks.len())
        .sum();
    assert_eq!(count(&svg, r#"class="tick-label x""#), x_labels);
    assert_eq!(count(&svg, r#"class="tick-label y""#), y_labels);
    assert!(fig.to_png().is_ok());
}

#[test]
fn free_x_gives_each_column_its_own_range() {
    let fig = layout(&grid_table(), &grid_spec(Kind::Scatter, true, false)).unwrap();
    assert_eq!(fig.grid(), (2, 3));
    check_x(&fig, true);
    check_y(&fig, false);
    check_svg(&fig);
    // Panes in one column share the column's range.
    let p = fig.panes();
    for c in 0..3 {
        assert_eq!(p[c].x_range, p[3 + c].x_range);
    }
    assert_ne!(p[0].x_range, p[1].x_range);
}

#[test]
fn free_y_gives_each_row_its_own_range() {
    let fig = layout(&grid_table(), &grid_spec(Kind::Scatter, false, true)).unwrap();
    check_x(&fig, false);
    check_y(&fig, true);
    check_svg(&fig);
    let p = fig.panes();
    assert_eq!(p[0].y_range, p[2].y_range);
    assert_ne!(p[0].y_range, p[3].y_range);
}

#[test]
fn free_x_and_y_together() {
    let fig = layout(&grid_table(), &grid_spec(Kind::Scatter, true, true)).unwrap();
    check_x(&fig, true);
    check_y(&fig, true);
    check_svg(&fig);
}

#[test]
fn without_flags_ranges_are_shared() {
    let spec = grid_spec(Kind::Scatter, false, false);
    assert!(!PlotSpec::new(Kind::Scatter, "x", "y").free_x);
    assert!(!PlotSpec::new(Kind::Scatter, "x", "y").free_y);
    let fig = layout(&grid_table(), &spec).unwrap();
    check_x(&fig, false);
    check_y(&fig, false);
    check_svg(&fig);
}

#[test]
fn free_scales_without_facets_change_nothing() {
    let t = grid_table();
    let plain = layout(&t, &PlotSpec::new(Kind::Scatter, "x", "y")).unwrap();
    let mut s = PlotSpec::new(Kind::Scatter, "x", "y");
    (s.free_x, s.free_y) = (true, true);
    let free = layout(&t, &s).unwrap();
    assert_eq!(plain, free);
    assert_eq!(plain.to_svg(), free.to_svg());
}

#[test]
fn fits_and_lines_stay_inside_free_ranges() {
    for kind in [Kind::Scatter, Kind::Line] {
        let mut s = grid_spec(kind, true, true);
        s.fit = true;
        let fig = layout(&grid_table(), &s).unwrap();
        for pane in fig.panes() {
            assert_eq!(pane.fits, 2);
            assert_eq!(pane.marks, PER_PANE);
            let (xa, ya) = (
                fig.x_axis_of_col(pane.col).unwrap(),
                fig.y_axis_of_row(pane.row).unwrap(),
            );
            for m in &pane.items {
                let pts: Vec<(f64, f64)> = match m {
                    Mark::Fit { from, to, .. } => vec![*from, *to],
                    Mark::Line { points, .. } => points.clone(),
                    Mark::Point { x, y, .. } => vec![(*x, *y)],
                    m => panic!("unexpected {m:?}"),
                };
                for (x, y) in pts {
                    assert!(xa.range.0 <= x && x <= xa.range.1, "{x} in {:?}", xa.range);
                    assert!(ya.range.0 <= y && y <= ya.range.1, "{y} in {:?}", ya.range);
                }
            }
        }
    }
}

#[test]
fn free_log_axes_per_column_and_row() {
    // Column c spans 10^(2c)..10^(2c+1); row r spans 10^(-3r)..10^(-3r+1).
    let (mut x, mut y, mut r, mut c) = (vec![], vec![], vec![], vec![]);
    for row in 0..2 {
        for col in 0..3 {
            for i in 0..5 {
                let f = i as f64 / 4.0;
                x.push(10f64.powf(2.0 * col as f64 + f));
                y.push(10f64.powf(-3.0 * row as f64 + f));
                r.push(row as f64);
                c.push(col as f64);
            }
        }
    }
    let t = table(vec![
        ("x", num(&x)),
        ("y", num(&y)),
        ("r", num(&r)),
        ("c", num(&c)),
    ]);
    let mut s = PlotSpec::new(Kind::Scatter, "x", "y");
    (s.facet_row, s.facet_col) = (Some("r".into()), Some("c".into()));
    (s.log_x, s.log_y, s.free_x, s.free_y, s.fit) = (true, true, true, true, true);
    let fig = layout(&t, &s).unwrap();
    for col in 0..3 {
        let a = fig.x_axis_of_col(col).unwrap();
        assert_eq!(a.scale, Scale::Log10);
        let lo = 2.0 * col as f64;
        assert!(a.range.0 < lo && a.range.0 > lo - 0.2, "{:?}", a.range);
        assert!(
            a.range.1 > lo + 1.0 && a.range.1 < lo + 1.2,
            "{:?}",
            a.range
        );
        ticks_inside(a);
    }
    for row in 0..2 {
        let a = fig.y_axis_of_row(row).unwrap();
        let lo = -3.0 * row as f64;
        assert!(a.range.0 < lo && a.range.1 > lo + 1.0 && a.range.1 < lo + 1.2);
        ticks_inside(a);
    }
    let p = &fig.panes()[5];
    assert!(
        p.x_range.0 > 5e3 && p.x_range.1 < 2e5,
        "data units {:?}",
        p.x_range
    );
    assert!(
        p.y_range.0 > 5e-4 && p.y_range.1 < 2e-2,
        "data units {:?}",
        p.y_range
    );
    assert_eq!(p.fits, 1);
}

/// Box/bar table: facet column "f" with categories {a, b, c} in column "one"
/// and {c, d} in column "two"; group "h" only at "c" in column "two".
fn categorical_table() -> Table {
    let rows = [
        ("one", "a", "g", 1.0),
        ("one", "a", "g", 2.0),
        ("one", "b", "g", 3.0),
        ("one", "c", "g", 4.0),
        ("one", "c", "g", 5.0),
        ("two", "c", "g", 100.0),
        ("two", "c", "h", 300.0),
        ("two", "d", "g", 200.0),
        ("two", "d", "g", 220.0),
    ];
    table(vec![
        ("f", text(&rows.map(|r| r.0))),
        ("cat", text(&rows.map(|r| r.1))),
        ("grp", text(&rows.map(|r| r.2))),
        ("v", num(&rows.map(|r| r.3))),
    ])
}

fn labels(axis: &Axis) -> Vec<&str> {
    axis.ticks.iter().map(|t| t.label.as_str()).collect()
}

#[test]
fn free_categorical_x_keeps_each_columns_categories() {
    let t = categorical_table();
    for kind in [Kind::Box, Kind::Bar] {
        let mut s = PlotSpec::new(kind, "cat", "v");
        (s.facet_col, s.color, s.free_x) = (Some("f".into()), Some("grp".into()), true);
        let fig = layout(&t, &s).unwrap();
        let (a0, a1) = (fig.x_axis_of_col(0).unwrap(), fig.x_axis_of_col(1).unwrap());
        assert_eq!(a0.scale, Scale::Categorical);
        assert_eq!(labels(a0), ["a", "b", "c"]);
        assert_eq!(labels(a1), ["c", "d"]);
        assert_eq!(a0.range, (-0.5, 2.5));
        assert_eq!(a1.range, (-0.5, 1.5));
        assert_eq!(fig.panes()[1].x_range, (-0.5, 1.5));
        // Column two: "c" (two groups, dodged) at 0, "d" (one group) at 1.
        let xs: Vec<(f64, f64, usize)> = fig.panes()[1]
            .items
            .iter()
            .map(|m| match m {
                Mark::Box {
                    x, width, group, ..
                }
                | Mark::Bar {
                    x, width, group, ..
                } => (*x, *width, *group),
                m => panic!("unexpected {m:?}"),
            })
            .collect();
        assert_eq!(xs.len(), 3, "{kind}: {xs:?}");
        assert!(
            xs[0].0 < 0.0 && xs[1].0 > 0.0 && xs[0].2 != xs[1].2,
            "{xs:?}"
        );
        assert!((xs[2].0 - 1.0).abs() < 1e-12, "undodged at d: {xs:?}");
        // Column one: only group g, so undodged at 0, 1, 2.
        let xs: Vec<f64> = fig.panes()[0]
            .items
            .iter()
            .map(|m| match m {
                Mark::Box { x, .. } | Mark::Bar { x, .. } => *x,
                m => panic!("unexpected {m:?}"),
            })
            .collect();
        assert_eq!(xs, [0.0, 1.0, 2.0], "{kind}");
        let svg = fig.to_svg();
        assert_eq!(count(&svg, r#"class="tick-label x""#), 5);
        assert!(fig.to_png().is_ok());

        // Without free x both columns show all four categories.
        s.free_x = false;
        let fig = layout(&t, &s).unwrap();
        for c in 0..2 {
            assert_eq!(labels(fig.x_axis_of_col(c).unwrap()), ["a", "b", "c", "d"]);
        }
    }
}

#[test]
fn free_categorical_errorbars_and_text_scatter() {
    let t = categorical_table();
    let mut s = PlotSpec::new(Kind::ErrorBar, "cat", "v");
    (s.lower, s.upper) = (Some("v".into()), Some("v".into()));
    (s.facet_col, s.color, s.free_x) = (Some("f".into()), Some("grp".into()), true);
    let fig = layout(&t, &s).unwrap();
    let xs: Vec<f64> = fig.panes()[1]
        .items
        .iter()
        .filter_map(|m| match m {
            Mark::ErrorBar { x, .. } => Some(*x),
            _ => None,
        })
        .collect();
    // Rows of column two in group order: g at c, d, d; then h at c.
    assert_eq!(xs.len(), 4);
    assert!(xs[0] < 0.0 && xs[3] > 0.0, "dodged at c: {xs:?}");
    assert_eq!((xs[1], xs[2]), (1.0, 1.0));

    let mut s = PlotSpec::new(Kind::Scatter, "cat", "v");
    (s.facet_col, s.free_x, s.free_y) = (Some("f".into()), true, true);
    let fig = layout(&t, &s).unwrap();
    let xs: Vec<f64> = fig.panes()[1]
        .items
        .iter()
        .filter_map(|m| match m {
            Mark::Point { x, .. } => Some(*x),
            _ => None,
        })
        .collect();
    assert_eq!(xs, [0.0, 0.0, 1.0, 1.0]);
    // One facet row: free y is the shared y.
    assert_eq!(fig.panes()[0].y_range, fig.panes()[1].y_range);
}

#[test]
fn free_bars_start_at_zero_per_row() {
    let t = table(vec![
        ("cat", text(&["a", "b", "a", "b"])),
        ("v", num(&[2.0, 4.0, 2000.0, 4000.0])),
        ("r", text(&["small", "small", "big", "big"])),
    ]);
    let mut s = PlotSpec::new(Kind::Bar, "cat", "v");
    (s.facet_row, s.free_y) = (Some("r".into()), true);
    let fig = layout(&t, &s).unwrap();
    let (r0, r1) = (fig.panes()[0].y_range, fig.panes()[1].y_range);
    assert_eq!(r0.0, 0.0);
    assert_eq!(r1.0, 0.0);
    assert!(r0.1 > 4.0 && r0.1 < 5.0, "{r0:?}");
    assert!(r1.1 > 4000.0 && r1.1 < 5000.0, "{r1:?}");
}
