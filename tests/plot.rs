//! Figures through the session: `COPY ... (FORMAT plot)` writes an SVG whose structure (panes,
//! points, fit lines, legend entries) matches the data, and a PNG of the requested scale; the
//! REPL's `\plot` draws the last printed result the same way; skipped rows reach the progress
//! output as a warning.

use std::sync::{Arc, Mutex};

use trustql::plot::OptionValue;
use trustql::script::{run_statement, PrintOptions};
use trustql::{Session, SessionOptions};

const DATA: &str = "CREATE TABLE runs AS SELECT CAST(value AS DOUBLE) AS omega, \
    CASE value % 3 WHEN 0 THEN 'lime' WHEN 1 THEN 'pdp' ELSE 'random' END AS explainer, \
    CASE WHEN value % 2 = 0 THEN 'lastfm' ELSE 'movielens' END AS dataset, \
    0.01 * value + 0.1 * (value % 3) AS fidelity FROM generate_series(1, 60)";

fn session(lines: Arc<Mutex<Vec<String>>>) -> Session {
    let dir = tempfile::tempdir().unwrap();
    Session::with_options(SessionOptions {
        model_dir: dir.path().join("models"),
        progress: Some(Arc::new(move |l: &str| {
            lines.lock().unwrap().push(l.to_string())
        })),
        status: None,
    })
    .unwrap()
}

fn count(svg: &str, class: &str) -> usize {
    svg.matches(&format!("class=\"{class}\"")).count()
}

#[tokio::test]
async fn copy_writes_a_figure_of_the_data() {
    let lines = Arc::new(Mutex::new(Vec::new()));
    let s = session(lines.clone());
    s.execute(DATA).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let svg_path = dir.path().join("figs/fidelity.svg");
    s.execute(&format!(
        "COPY (SELECT * FROM runs) TO '{}' (FORMAT plot, kind 'scatter', x 'omega', y 'fidelity', \
         color 'explainer', facet_col 'dataset', fit true, title 'Fidelity')",
        svg_path.display()
    ))
    .await
    .unwrap();
    let svg = std::fs::read_to_string(&svg_path).unwrap();
    assert!(svg.starts_with("<svg") || svg.starts_with("<?xml"));
    assert_eq!(count(&svg, "pane"), 2);
    assert_eq!(count(&svg, "point"), 60);
    // One fit per explainer per pane.
    assert_eq!(count(&svg, "fit"), 6);
    assert_eq!(count(&svg, "legend-entry"), 3);
    for label in [
        "Fidelity",
        "omega",
        "fidelity",
        "dataset = lastfm",
        "explainer",
    ] {
        assert!(svg.contains(label), "{label}");
    }
    assert!(lines.lock().unwrap().is_empty());

    // PNG at twice the figure's size by default, scale 1 on request.
    let png_path = dir.path().join("fidelity.png");
    for (scale, factor) in [("", 2), (", scale 1", 1)] {
        s.execute(&format!(
            "COPY runs TO '{}' (FORMAT plot, kind 'line', x 'omega', y 'fidelity', color 'explainer', width 600, height 400{scale})",
            png_path.display()
        ))
        .await
        .unwrap();
        let png = std::fs::read(&png_path).unwrap();
        assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
        let width = u32::from_be_bytes([png[16], png[17], png[18], png[19]]);
        let height = u32::from_be_bytes([png[20], png[21], png[22], png[23]]);
        assert_eq!((width, height), (600 * factor, 400 * factor));
    }
}

#[tokio::test]
async fn skipped_rows_are_counted_in_a_warning() {
    let lines = Arc::new(Mutex::new(Vec::new()));
    let s = session(lines.clone());
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("skips.svg");
    s.execute(&format!(
        "COPY (SELECT * FROM (VALUES (1.0, 2.0), (2.0, NULL), (3.0, 'NaN'::double), (0.0, 1.0), (4.0, 5.0)) AS t(x, y)) \
         TO '{}' (FORMAT plot, kind 'scatter', x 'x', y 'y', log_x true)",
        path.display()
    ))
    .await
    .unwrap();
    let svg = std::fs::read_to_string(&path).unwrap();
    assert_eq!(count(&svg, "point"), 2);
    let lines = lines.lock().unwrap();
    assert_eq!(lines.len(), 1, "{lines:?}");
    let w = &lines[0];
    assert!(w.starts_with("warning: plot"), "{w}");
    for part in [
        "skipped 3 row(s)",
        "1 NULL in y",
        "1 NaN or infinite in y",
        "1 not positive on a log axis in x",
    ] {
        assert!(w.contains(part), "{part}: {w}");
    }
}

#[tokio::test]
async fn plot_draws_the_last_printed_result() {
    let s = session(Arc::new(Mutex::new(Vec::new())));
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("last.svg");
    let options = vec![
        ("kind".to_string(), OptionValue::Text("bar".into())),
        ("x".to_string(), OptionValue::Text("explainer".into())),
        ("y".to_string(), OptionValue::Text("fidelity".into())),
    ];
    assert!(s
        .plot_last(&path, &options)
        .unwrap_err()
        .to_string()
        .contains("run a query first"));
    let opts = PrintOptions {
        quiet: true,
        ..PrintOptions::default()
    };
    let mut out = Vec::new();
    run_statement(&s, DATA, &opts, &mut out).await.unwrap();
    run_statement(&s, "SELECT explainer, fidelity FROM runs", &opts, &mut out)
        .await
        .unwrap();
    let batch = s.plot_last(&path, &options).unwrap();
    assert_eq!(batch.num_rows(), 1);
    let svg = std::fs::read_to_string(&path).unwrap();
    assert_eq!(count(&svg, "bar"), 3);
}
