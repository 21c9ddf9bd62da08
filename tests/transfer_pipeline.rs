//! The transferability experiment's driver (`scripts/transfer_experiment.sh`) end to end on the
//! committed corpus sample, at the `quick` scale: the learning sources and targets
//! (`transfer_data.sql`), the design, and the first runs of `transfer_run.sql` with real models
//! (the MFCC baseline, the untrained network, one trained SS-R network), each evaluated on every
//! target with five MLP repetitions and the cold-start recommender. Then the driver is started
//! again and must continue with the next unfinished run, leaving the finished ones as they are.
//! The analysis of finished runs is `tests/transfer_analysis.rs` (it needs tens of runs).

mod common;

use std::path::Path;
use std::process::Command;

fn driver(bin: &str, dir: &Path, runs: &str) {
    let out = Command::new("bash")
        .current_dir(common::repo())
        .env("NO_COLOR", "1")
        .args(["scripts/transfer_experiment.sh", "quick", "--no-analysis"])
        .args(["--bin", bin, "--dir", dir.to_str().unwrap(), "--runs", runs])
        .output()
        .expect("bash runs");
    assert!(
        out.status.success(),
        "transfer_experiment.sh failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The rows of a query as CSV lines (without the header).
fn rows(dir: &Path, sql: &str) -> Vec<Vec<String>> {
    let out = Command::new(env!("CARGO_BIN_EXE_trustql"))
        .current_dir(common::repo())
        .args(["-q", "--format", "csv", "-c", sql])
        .arg("--models")
        .arg(dir.join("query_models"))
        .output()
        .expect("trustql runs");
    assert!(
        out.status.success(),
        "{sql}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .skip(1)
        .map(|l| l.split(',').map(str::to_string).collect())
        .collect()
}

fn finished(dir: &Path) -> Vec<(String, std::time::SystemTime)> {
    let mut out: Vec<_> = std::fs::read_dir(dir.join("scores"))
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
    let bin = env!("CARGO_BIN_EXE_trustql");
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let d = dir.to_str().unwrap();

    driver(bin, dir, "3");
    for file in [
        "learn.parquet",
        "targets.parquet",
        "listens.parquet",
        "design.csv",
    ] {
        assert!(dir.join(file).is_file(), "{file} missing");
    }
    let first = finished(dir);
    let names: Vec<&str> = first.iter().map(|(n, _)| n.as_str()).collect();
    let design = rows(
        dir,
        &format!("SELECT run, strategy FROM '{d}/design.csv' ORDER BY phase, run LIMIT 1"),
    );
    let first_design_run = format!("{}.parquet", design[0][0]);
    assert_eq!(design[0][1], "ss_r");
    let mut expected = vec!["b_mfcc.parquet", "b_rand.parquet", &first_design_run];
    expected.sort();
    assert_eq!(names, expected);

    // Every target of every run: five repetitions of a score in its metric's range.
    let scores = rows(
        dir,
        &format!(
            "SELECT run, target, metric, count(*), count(DISTINCT repetition), \
             bool_and(score IS NOT NULL AND NOT isnan(score)), \
             bool_and(CASE metric WHEN 'r2' THEN score <= 1 ELSE score BETWEEN 0 AND 1 END) \
             FROM '{d}/scores/' GROUP BY run, target, metric ORDER BY run, target"
        ),
    );
    assert_eq!(scores.len(), 3 * 7, "{scores:?}");
    for r in &scores {
        assert_eq!(&r[3..], ["5", "5", "true", "true"], "{r:?}");
        let metric = match r[1].as_str() {
            "density" | "key_margin" => "r2",
            "recommend" => "ndcg",
            _ => "accuracy",
        };
        assert_eq!(r[2], metric, "{r:?}");
    }
    // The targets hold disjoint scores from the learning clips.
    let overlap = rows(
        dir,
        &format!(
            "SELECT count(*) FROM '{d}/learn.parquet' l JOIN '{d}/targets.parquet' t ON l.clip = t.clip"
        ),
    );
    assert_eq!(overlap, vec![vec!["0"]]);

    // A second start does one more run and leaves the finished ones untouched.
    driver(bin, dir, "1");
    let second = finished(dir);
    assert_eq!(second.len(), first.len() + 1, "{second:?}");
    for f in &first {
        assert!(second.contains(f), "{} was redone", f.0);
    }
}
