//! Structural tests of `layout`: grid shape, marks, legend, ranges, skipped
//! rows, errors, and the statistics behind boxes, bars and fits.

mod common;

use common::{faceted, num, table, text, Lcg};
use trustql_plot::stats::{box_stats, ols};
use trustql_plot::{layout, Column, Kind, Mark, PlotError, PlotSpec, SkipReason, Table};

fn facet_spec(kind: Kind) -> PlotSpec {
    let mut s = PlotSpec::new(kind, "x", "y");
    s.color = Some("engine".into());
    s.facet_row = Some("dataset".into());
    s.facet_col = Some("threads".into());
    s
}

#[test]
fn facet_grid_shape_labels_and_marks() {
    let t = faceted(5);
    let mut spec = facet_spec(Kind::Scatter);
    spec.fit = true;
    let fig = layout(&t, &spec).unwrap();
    assert_eq!(fig.grid(), (2, 3));
    assert_eq!(fig.panes().len(), 6);
    let p = &fig.panes()[4];
    assert_eq!((p.row, p.col), (1, 1));
    assert_eq!(p.row_label.as_deref(), Some("dataset = movielens"));
    // Numeric facet values are sorted ascending and cleanly formatted.
    assert_eq!(fig.panes()[0].col_label.as_deref(), Some("threads = 1"));
    assert_eq!(fig.panes()[2].col_label.as_deref(), Some("threads = 16"));
    for pane in fig.panes() {
        assert_eq!(pane.marks, 15, "3 engines x 5 rows");
        assert_eq!(pane.fits, 3);
        assert_eq!(pane.x_range, fig.panes()[0].x_range, "shared x range");
        assert_eq!(pane.y_range, fig.panes()[0].y_range, "shared y range");
    }
    let labels: Vec<&str> = fig.legend().iter().map(|e| e.label.as_str()).collect();
    assert_eq!(labels, ["a", "b", "c"]);
    assert_eq!(fig.legend_title(), Some("engine"));
    assert_ne!(fig.legend()[0].color, fig.legend()[1].color);
}

#[test]
fn ranges_cover_the_data() {
    let t = faceted(4);
    let fig = layout(&t, &facet_spec(Kind::Scatter)).unwrap();
    let (Column::Num(xs), Column::Num(ys)) = (t.column("x").unwrap(), t.column("y").unwrap())
    else {
        panic!("numeric")
    };
    let p = &fig.panes()[0];
    for (x, y) in xs.iter().zip(ys) {
        let (x, y) = (x.unwrap(), y.unwrap());
        assert!(p.x_range.0 < x && x < p.x_range.1, "{x} in {:?}", p.x_range);
        assert!(p.y_range.0 < y && y < p.y_range.1, "{y} in {:?}", p.y_range);
    }
    for axis in [fig.x_axis(), fig.y_axis()] {
        assert!((3..=10).contains(&axis.ticks.len()), "{:?}", axis.ticks);
        assert!(axis
            .ticks
            .iter()
            .all(|t| t.pos >= axis.range.0 && t.pos <= axis.range.1));
    }
}

#[test]
fn no_colour_means_no_legend_and_one_pane() {
    let t = table(vec![
        ("x", num(&[1.0, 2.0, 3.0])),
        ("y", num(&[3.0, 1.0, 2.0])),
    ]);
    let fig = layout(&t, &PlotSpec::new(Kind::Line, "x", "y")).unwrap();
    assert_eq!(fig.grid(), (1, 1));
    assert!(fig.legend().is_empty());
    assert_eq!(fig.panes()[0].marks, 3);
    match &fig.panes()[0].items[0] {
        Mark::Line { points, .. } => assert_eq!(points, &[(1.0, 3.0), (2.0, 1.0), (3.0, 2.0)]),
        m => panic!("expected a line, got {m:?}"),
    }
}

#[test]
fn skipped_rows_are_counted_per_column_and_reason() {
    let mut t = Table::new();
    t.push(
        "x",
        Column::Num(vec![
            Some(1.0),
            None,
            Some(3.0),
            Some(f64::NAN),
            Some(5.0),
            Some(-1.0),
            Some(7.0),
        ]),
    )
    .unwrap();
    t.push(
        "y",
        Column::Num(vec![
            Some(1.0),
            Some(2.0),
            Some(f64::INFINITY),
            Some(4.0),
            Some(0.0),
            Some(6.0),
            Some(7.0),
        ]),
    )
    .unwrap();
    t.push(
        "g",
        Column::Text(vec![
            Some("a".into()),
            Some("a".into()),
            Some("a".into()),
            None,
            Some("b".into()),
            Some("b".into()),
            None,
        ]),
    )
    .unwrap();
    let mut spec = PlotSpec::new(Kind::Scatter, "x", "y");
    spec.color = Some("g".into());
    spec.log_x = true;
    spec.log_y = true;
    let fig = layout(&t, &spec).unwrap();
    let count = |col: &str, why: SkipReason| {
        fig.skipped()
            .iter()
            .find(|s| s.column == col && s.reason == why)
            .map_or(0, |s| s.rows)
    };
    assert_eq!(count("x", SkipReason::Null), 1);
    assert_eq!(count("x", SkipReason::NonFinite), 1);
    assert_eq!(count("x", SkipReason::NonPositiveOnLogAxis), 1);
    assert_eq!(count("y", SkipReason::NonFinite), 1);
    assert_eq!(count("y", SkipReason::NonPositiveOnLogAxis), 1);
    assert_eq!(count("g", SkipReason::Null), 1);
    assert_eq!(fig.skipped().iter().map(|s| s.rows).sum::<usize>(), 6);
    assert_eq!(fig.panes()[0].marks, 1);
}

#[test]
fn all_rows_skipped_is_an_error() {
    let t = table(vec![
        ("x", Column::Num(vec![None, None])),
        ("y", num(&[1.0, 2.0])),
    ]);
    let err = layout(&t, &PlotSpec::new(Kind::Scatter, "x", "y")).unwrap_err();
    assert!(
        matches!(err, PlotError::NothingToPlot { rows: 2, .. }),
        "{err}"
    );
    assert!(err.to_string().contains("NULL in `x`: 2 rows"), "{err}");
}

#[test]
fn errors_name_the_problem() {
    let t = table(vec![
        ("x", num(&[1.0])),
        ("y", num(&[1.0])),
        ("name", text(&["a"])),
    ]);
    let err = layout(&t, &PlotSpec::new(Kind::Scatter, "x", "nope"))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("`nope`") && err.contains("x, y, name"),
        "{err}"
    );

    let err = layout(&t, &PlotSpec::new(Kind::Scatter, "x", "name")).unwrap_err();
    assert!(
        matches!(err, PlotError::NotNumeric { role: "y", .. }),
        "{err}"
    );
    assert!(err.to_string().contains("`name`") && err.to_string().contains("text"));

    let err = layout(&t, &PlotSpec::new(Kind::ErrorBar, "x", "y"))
        .unwrap_err()
        .to_string();
    assert!(err.contains("lower") && err.contains("upper"), "{err}");
    let mut s = PlotSpec::new(Kind::ErrorBar, "x", "y");
    s.lower = Some("y".into());
    assert!(layout(&t, &s).is_err(), "upper missing");

    let err = "violin".parse::<Kind>().unwrap_err().to_string();
    assert!(
        err.contains("violin") && err.contains("scatter, line, box, bar, errorbar"),
        "{err}"
    );
    assert_eq!("ErrorBar".parse::<Kind>().unwrap(), Kind::ErrorBar);
    assert_eq!(" BOX ".parse::<Kind>().unwrap(), Kind::Box);

    let mut s = PlotSpec::new(Kind::Box, "x", "y");
    s.fit = true;
    assert!(layout(&t, &s).is_err(), "fit on a box plot");
    let mut s = PlotSpec::new(Kind::Scatter, "name", "y");
    s.log_x = true;
    assert!(layout(&t, &s).is_err(), "log on a categorical axis");

    let mut bad = Table::new();
    bad.push("a", num(&[1.0, 2.0])).unwrap();
    assert!(matches!(
        bad.push("b", num(&[1.0])),
        Err(PlotError::LengthMismatch { .. })
    ));
    assert!(matches!(
        bad.push("a", num(&[1.0, 2.0])),
        Err(PlotError::DuplicateColumn(_))
    ));
}

#[test]
fn box_plot_quantiles_whiskers_and_outliers() {
    // Group "p": 1..=9 and 30. Type-7 quartiles: q1 = 3.25, median = 5.5,
    // q3 = 7.75; IQR 4.5, upper fence 14.5, so 30 is an outlier and the
    // upper whisker ends at 9; the lower whisker at 1.
    let mut ys: Vec<f64> = (1..=9).map(f64::from).collect();
    ys.push(30.0);
    ys.extend([2.0, 4.0, 6.0]);
    let mut xs = vec!["p"; 10];
    xs.extend(["q"; 3]);
    let t = table(vec![("grp", text(&xs)), ("v", num(&ys))]);
    let fig = layout(&t, &PlotSpec::new(Kind::Box, "grp", "v")).unwrap();
    let pane = &fig.panes()[0];
    assert_eq!(pane.marks, 2);
    let Mark::Box { x, stats, .. } = &pane.items[0] else {
        panic!("box")
    };
    assert_eq!(*x, 0.0);
    assert!((stats.q1 - 3.25).abs() < 1e-12);
    assert!((stats.median - 5.5).abs() < 1e-12);
    assert!((stats.q3 - 7.75).abs() < 1e-12);
    assert_eq!((stats.whisker_lo, stats.whisker_hi), (1.0, 9.0));
    assert_eq!(stats.outliers, [30.0]);
    let Mark::Box { stats, .. } = &pane.items[1] else {
        panic!("box")
    };
    assert_eq!((stats.q1, stats.median, stats.q3), (3.0, 4.0, 5.0));
    assert_eq!(box_stats(&[]), None);
    // Categories keep first-appearance order.
    let labels: Vec<&str> = fig
        .x_axis()
        .ticks
        .iter()
        .map(|t| t.label.as_str())
        .collect();
    assert_eq!(labels, ["p", "q"]);
}

#[test]
fn bars_are_group_means_and_dodged() {
    let t = table(vec![
        ("cat", text(&["b", "b", "a", "a", "b"])),
        ("v", num(&[1.0, 3.0, 10.0, 20.0, 8.0])),
        ("g", num(&[0.2, 0.2, 0.1, 0.2, 0.1])),
    ]);
    let mut s = PlotSpec::new(Kind::Bar, "cat", "v");
    s.color = Some("g".into());
    let fig = layout(&t, &s).unwrap();
    let bars: Vec<(f64, f64, usize)> = fig.panes()[0]
        .items
        .iter()
        .map(|m| match m {
            Mark::Bar { x, top, group, .. } => (*x, *top, *group),
            m => panic!("bar expected, got {m:?}"),
        })
        .collect();
    // Category "b" is first (first appearance); groups 0.1 < 0.2 sorted.
    assert_eq!(bars.len(), 4);
    assert_eq!((bars[0].1, bars[0].2), (8.0, 0));
    assert_eq!((bars[1].1, bars[1].2), (2.0, 1));
    assert!(
        bars[0].0 < 0.0 && bars[1].0 > 0.0,
        "dodged around category 0"
    );
    assert_eq!(fig.y_axis().range.0, 0.0, "bars start at zero");
    let labels: Vec<&str> = fig.legend().iter().map(|e| e.label.as_str()).collect();
    assert_eq!(labels, ["0.1", "0.2"]);
}

#[test]
fn fit_matches_hand_computed_ols() {
    // x = 1..5, y = [2, 4, 5, 4, 5]: slope 0.6, intercept 2.2.
    let t = table(vec![
        ("x", num(&[1.0, 2.0, 3.0, 4.0, 5.0])),
        ("y", num(&[2.0, 4.0, 5.0, 4.0, 5.0])),
    ]);
    let mut s = PlotSpec::new(Kind::Scatter, "x", "y");
    s.fit = true;
    let fig = layout(&t, &s).unwrap();
    let pane = &fig.panes()[0];
    assert_eq!((pane.marks, pane.fits), (5, 1));
    let Some(Mark::Fit {
        intercept,
        slope,
        from,
        to,
        ..
    }) = pane.items.last()
    else {
        panic!("fit")
    };
    assert!((slope - 0.6).abs() < 1e-12 && (intercept - 2.2).abs() < 1e-12);
    assert_eq!((from.0, to.0), (1.0, 5.0));
    assert!((to.1 - 5.2).abs() < 1e-12);
    let (a, b) = ols(&[1.0, 2.0, 3.0, 4.0, 5.0], &[2.0, 4.0, 5.0, 4.0, 5.0]).unwrap();
    assert!((a - 2.2).abs() < 1e-12 && (b - 0.6).abs() < 1e-12);
}

#[test]
fn fit_on_log_axes_is_a_power_law() {
    let xs: Vec<f64> = (0..6).map(|k| 10f64.powi(k)).collect();
    let ys: Vec<f64> = xs.iter().map(|x| 3.0 * x.powf(1.5)).collect();
    let t = table(vec![("n", num(&xs)), ("t", num(&ys))]);
    let mut s = PlotSpec::new(Kind::Scatter, "n", "t");
    (s.log_x, s.log_y, s.fit) = (true, true, true);
    let fig = layout(&t, &s).unwrap();
    let Some(Mark::Fit {
        intercept, slope, ..
    }) = fig.panes()[0].items.last()
    else {
        panic!("fit")
    };
    assert!((slope - 1.5).abs() < 1e-9 && (intercept - 3f64.log10()).abs() < 1e-9);
    let labels: Vec<&str> = fig
        .x_axis()
        .ticks
        .iter()
        .map(|t| t.label.as_str())
        .collect();
    assert!(
        labels.contains(&"1") && labels.contains(&"100"),
        "{labels:?}"
    );
    let (lo, hi) = fig.panes()[0].x_range;
    assert!(lo < 1.0 && hi > 1e5, "data units: {lo}..{hi}");
}

#[test]
fn errorbars_on_categories_and_numbers() {
    let t = table(vec![
        ("m", text(&["A", "A", "B"])),
        ("k", num(&[1.0, 2.0, 3.0])),
        ("v", num(&[0.3, 0.4, 0.5])),
        ("lo", num(&[0.2, 0.35, 0.45])),
        ("hi", num(&[0.5, 0.45, 0.55])),
        ("d", text(&["x", "y", "x"])),
    ]);
    let mut s = PlotSpec::new(Kind::ErrorBar, "m", "v");
    (s.lower, s.upper, s.color) = (Some("lo".into()), Some("hi".into()), Some("d".into()));
    let fig = layout(&t, &s).unwrap();
    assert_eq!(fig.panes()[0].marks, 3);
    let xs: Vec<f64> = fig.panes()[0]
        .items
        .iter()
        .filter_map(|m| {
            if let Mark::ErrorBar { x, .. } = m {
                Some(*x)
            } else {
                None
            }
        })
        .collect();
    assert!(
        xs[0] < 0.0 && xs[1] == 1.0 && xs[2] > 0.0,
        "dodged at A, centred at B: {xs:?}"
    );
    assert!(fig.panes()[0].y_range.0 < 0.2 && fig.panes()[0].y_range.1 > 0.55);
    s.x = "k".into();
    let fig = layout(&t, &s).unwrap();
    assert_eq!(fig.x_axis().scale, trustql_plot::Scale::Linear);
}

#[test]
fn random_tables_never_panic() {
    let mut rng = Lcg(99);
    for case in 0..60 {
        let n = 1 + (rng.unit() * 40.0) as usize;
        let mut cell = || {
            let r = rng.unit();
            if r < 0.1 {
                None
            } else if r < 0.15 {
                Some(f64::NAN)
            } else {
                Some(rng.range(-5.0, 1e3))
            }
        };
        let xs: Vec<Option<f64>> = (0..n).map(|_| cell()).collect();
        let ys: Vec<Option<f64>> = (0..n).map(|_| cell()).collect();
        let gs: Vec<Option<String>> = (0..n).map(|i| Some(format!("g{}", i % 3))).collect();
        let mut t = Table::new();
        t.push("x", Column::Num(xs)).unwrap();
        t.push("y", Column::Num(ys.clone())).unwrap();
        t.push(
            "lo",
            Column::Num(ys.iter().map(|v| v.map(|v| v - 1.0)).collect()),
        )
        .unwrap();
        t.push(
            "hi",
            Column::Num(ys.iter().map(|v| v.map(|v| v + 1.0)).collect()),
        )
        .unwrap();
        t.push("g", Column::Text(gs)).unwrap();
        for kind in [
            Kind::Scatter,
            Kind::Line,
            Kind::Box,
            Kind::Bar,
            Kind::ErrorBar,
        ] {
            let mut s = PlotSpec::new(kind, "x", "y");
            s.color = Some("g".into());
            s.facet_col = Some("g".into());
            s.log_y = case % 2 == 0;
            if kind == Kind::ErrorBar {
                (s.lower, s.upper) = (Some("lo".into()), Some("hi".into()));
            }
            s.fit = matches!(kind, Kind::Scatter | Kind::Line);
            if let Ok(fig) = layout(&t, &s) {
                assert!(fig.to_svg().starts_with("<svg"));
            }
        }
    }
}
