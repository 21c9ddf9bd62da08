//! The artist-group-factor experiment's driver (`scripts/agf_experiment.sh`) end to end on the
//! committed corpus sample, at the `quick` scale: the tracks, the stratified split and the four
//! AGF targets (`agf_data.sql`: MFCC and ΔMFCC frame dictionaries by k-means, quantile-normalised
//! song descriptors, sub-genre labels, LDA per feature set), the five single-task networks with
//! their segment features, and the first evaluations of STN sets (`agf_eval.sql`). Then the
//! driver is started again and must do the next evaluation only, leaving finished ones as they
//! are; the analysis (`agf_analyse.sql`) runs on what is finished.

mod common;

use std::path::Path;
use std::process::Command;

use common::{cli, cli_rows, num};

fn driver(dir: &Path, runs: &str) {
    let out = Command::new("bash")
        .current_dir(common::repo())
        .env("NO_COLOR", "1")
        .args(["scripts/agf_experiment.sh", "quick", "--no-analysis"])
        .args(["--bin", env!("CARGO_BIN_EXE_trustql")])
        .args(["--dir", dir.to_str().unwrap(), "--runs", runs])
        .output()
        .expect("bash runs");
    assert!(
        out.status.success(),
        "agf_experiment.sh failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn files(dir: &Path) -> Vec<(String, std::time::SystemTime)> {
    let mut out: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            let name = e.file_name().to_string_lossy().into_owned();
            (name, e.metadata().unwrap().modified().unwrap())
        })
        .collect();
    out.sort();
    out
}

#[test]
fn quick_experiment_runs_and_resumes() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let d = dir.to_str().unwrap();

    // The data (always), then eight steps: the five STNs and three evaluations.
    driver(dir, "8");
    assert!(dir.join("agf.parquet").is_file());
    let nets: Vec<String> = files(&dir.join("features"))
        .into_iter()
        .map(|(n, _)| n)
        .collect();
    assert_eq!(
        nets,
        ["stn_d", "stn_e", "stn_g", "stn_m", "stn_s"].map(|n| format!("{n}.parquet"))
    );
    let first = files(&dir.join("scores"));
    let names: Vec<&str> = first.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        ["stn_d.parquet", "stn_g.parquet", "stn_m.parquet"],
        "the first sets of Table 3.4's order"
    );

    // The split: within each genre, round(0.15 n) validation tracks; AGFs for training tracks
    // only, each a distribution over the 4 groups of the quick scale; g one-hot.
    let split = cli_rows(
        dir,
        &format!(
            "SELECT genre, count(*), sum(CASE WHEN split = 'valid' THEN 1 ELSE 0 END) FROM '{d}/agf.parquet' GROUP BY genre"
        ),
    );
    assert!(split.len() >= 10, "{split:?}");
    for r in &split {
        assert_eq!(num(&r[2]), (0.15 * num(&r[1])).round(), "{r:?}");
    }
    let targets = cli_rows(
        dir,
        &format!(
            "SELECT split, count(*), count(m), count(d), count(e), count(s), \
             bool_and(cardinality(g) = {} AND array_max(g) = 1.0 AND array_min(g) = 0.0 AND array_sum(g) = 1.0), \
             bool_and(m IS NULL OR (cardinality(m) = 4 AND abs(array_sum(m) - 1.0) < 1e-5 AND array_min(m) >= 0.0)), \
             bool_and(s IS NULL OR (cardinality(s) = 4 AND abs(array_sum(s) - 1.0) < 1e-5)) \
             FROM '{d}/agf.parquet' GROUP BY split ORDER BY split",
            split.len()
        ),
    );
    assert_eq!(targets.len(), 2, "{targets:?}");
    let (train, valid) = (&targets[0], &targets[1]);
    assert_eq!(train[0], "train");
    assert_eq!(&train[2..6], [&train[1]; 4].map(String::as_str));
    assert_eq!(&train[6..], ["true", "true", "true"]);
    assert_eq!(&valid[2..], ["0", "0", "0", "0", "true", "true", "true"]);
    // The tracks of one artist share its groups.
    let per_artist = cli_rows(
        dir,
        &format!(
            "SELECT count(*) FROM (SELECT performer FROM '{d}/agf.parquet' WHERE split = 'train' \
             GROUP BY performer HAVING count(DISTINCT array_to_string(m, ',')) > 1 OR count(DISTINCT array_to_string(s, ',')) > 1)"
        ),
    );
    assert_eq!(per_artist, vec![vec!["0"]]);

    // Segment features: one per second of every track (4 s clips), 32 values at width 0.125.
    let segments = cli_rows(
        dir,
        &format!(
            "SELECT count(DISTINCT track), min(cardinality(features)), max(cardinality(features)), max(seg) \
             FROM '{d}/features/stn_g.parquet'"
        ),
    );
    assert_eq!(&segments[0][1..3], ["32", "32"]);
    assert!(num(&segments[0][3]) >= 2.0, "{segments:?}");

    // Scores: a finite log loss and F1 and accuracy in [0, 1] on every validation track.
    let scores = cli_rows(
        dir,
        &format!(
            "SELECT run, architecture, tasks, n_tasks, tracks, log_loss, f1, accuracy FROM '{d}/scores/' ORDER BY run"
        ),
    );
    let valid_tracks = &valid[1];
    for r in &scores {
        assert_eq!(r[1], "stn");
        assert_eq!(r[3], "1");
        assert_eq!(&r[4], valid_tracks);
        let (log_loss, f1, accuracy) = (num(&r[5]), num(&r[6]), num(&r[7]));
        assert!(log_loss.is_finite() && log_loss > 0.0, "{r:?}");
        assert!(
            (0.0..=1.0).contains(&f1) && (0.0..=1.0).contains(&accuracy),
            "{r:?}"
        );
    }

    // A second start does the next evaluation (e) only.
    driver(dir, "1");
    let second = files(&dir.join("scores"));
    assert_eq!(second.len(), 4);
    for (name, modified) in &first {
        let again = second.iter().find(|(n, _)| n == name).unwrap();
        assert_eq!(&again.1, modified, "{name} was redone");
    }
    assert!(second.iter().any(|(n, _)| n == "stn_e.parquet"));

    // The analysis runs on the finished evaluations.
    let out = cli(
        dir,
        &[
            "-v",
            &format!("dir={d}"),
            "-f",
            "sql/experiments/agf_analyse.sql",
        ],
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("stn_log_loss"), "{text}");
}
