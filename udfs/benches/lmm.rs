//! Mixed-model fit times (issue "Mixed-effects analysis", Performance), through the kernel that
//! `CREATE MODEL ... OPTIONS (type = 'lmer')` calls.
//!
//! Fits, each timed as the best of several repetitions after a warm-up:
//! - `sleepstudy`: `Reaction ~ Days + (Days | Subject)` (REML) on ../shared/data/stats;
//! - `ch5_user`: `fidelity ~ explainer * log(omega) + (1 | dataset:user)` (REML) on the
//!   99,840-row table shaped like the thesis' ch. 5 results that bench/lmm/make_data.py writes
//!   (seeded) — the model statsmodels' MixedLM also fits in bench/lmm/statsmodels_mixedlm.py;
//! - `ch5_spec`: the SPEC §8 model `fidelity ~ explainer * log(omega) + (1 + explainer |
//!   dataset:recsys) + (1 | dataset:recsys:explainer) + (0 + mainstreaminess | dataset:recsys)`
//!   on the same table (statsmodels cannot express its crossed structure).
//!
//! Output: a table on stdout and JSON in `<target>/bench-results/lmm.json` (times, estimates,
//! SEs, σ, log-likelihood) for bench/lmm/compare.py. Run everything with bench/lmm/run.sh.
//! Environment: `TRUSTQL_BENCH_OUT=dir` (default `<target>/bench-results`), `TRUSTQL_LMM_CH5`
//! (the CSV; default `<out>/lmm_ch5.csv`).
//!
//! Without `--bench` (`cargo test --all-targets` builds and runs bench targets) it is a smoke
//! run: sleepstudy once, nothing written.

use std::path::{Path, PathBuf};
use std::time::Instant;

use serde_json::{json, Value};
use trustql_udfs::stats::lmm::{self, Column, Frame, LmmFit, LmmOptions};

/// Reads a CSV without quoting; `kinds` gives each column's kind: 't' text, 'i' integer, 'f'
/// float (empty fields are NULL).
fn read_csv(path: &Path, kinds: &[(&str, char)]) -> Frame {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().expect("empty CSV").split(',').collect();
    let idx: Vec<usize> = kinds
        .iter()
        .map(|(name, _)| {
            header
                .iter()
                .position(|h| h == name)
                .unwrap_or_else(|| panic!("{} has no column {name}", path.display()))
        })
        .collect();
    let mut columns: Vec<Column> = kinds
        .iter()
        .map(|(_, k)| match k {
            't' => Column::Text(Vec::new()),
            'i' => Column::Int(Vec::new()),
            _ => Column::Float(Vec::new()),
        })
        .collect();
    for line in lines.filter(|l| !l.is_empty()) {
        let fields: Vec<&str> = line.split(',').collect();
        for (c, &i) in idx.iter().enumerate() {
            let v = fields[i];
            match &mut columns[c] {
                Column::Text(x) => x.push((!v.is_empty()).then(|| v.to_string())),
                Column::Int(x) => x.push(v.parse().ok()),
                Column::Float(x) => x.push(v.parse().ok()),
                Column::Bool(x) => x.push(v.parse().ok()),
            }
        }
    }
    Frame {
        names: kinds.iter().map(|(n, _)| n.to_string()).collect(),
        columns,
    }
}

fn fit(formula: &str, frame: &Frame) -> LmmFit {
    let mut control = |_: usize, _: f64| Ok(());
    lmm::fit(formula, frame, &LmmOptions::default(), &mut control)
        .unwrap_or_else(|e| panic!("{formula}: {e}"))
}

/// The best of `repeat` timed fits after one warm-up, and the last fit.
fn timed(formula: &str, frame: &Frame, repeat: usize) -> (f64, LmmFit) {
    let mut last = fit(formula, frame);
    let mut best = f64::INFINITY;
    for _ in 0..repeat {
        let t = Instant::now();
        last = fit(formula, frame);
        best = best.min(t.elapsed().as_secs_f64());
    }
    (best, last)
}

fn report(secs: f64, f: &LmmFit, rows: usize) -> Value {
    let s = f.summary();
    let fe = f.fixed_effects();
    json!({
        "seconds": secs,
        "rows": rows,
        "fixef": fe.iter().map(|r| (r.term.clone(), json!(r.estimate))).collect::<serde_json::Map<_, _>>(),
        "se": fe.iter().map(|r| (r.term.clone(), json!(r.std_error))).collect::<serde_json::Map<_, _>>(),
        "sigma": f.sigma(),
        "llf": s.log_likelihood,
        "evaluations": s.evaluations,
        "singular": s.singular,
        "converged": s.converged,
    })
}

fn shared() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared")
}

fn main() {
    let bench = std::env::args().any(|a| a == "--bench");
    let sleep = read_csv(
        &shared().join("data/stats/sleepstudy.csv"),
        &[("Reaction", 'f'), ("Days", 'i'), ("Subject", 'i')],
    );
    let sleep_formula = "Reaction ~ Days + (Days | Subject)";
    if !bench {
        let f = fit(sleep_formula, &sleep);
        assert!(f.summary().converged);
        return;
    }
    let out = std::env::var_os("TRUSTQL_BENCH_OUT")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/bench-results"));
    let ch5_path = std::env::var_os("TRUSTQL_LMM_CH5")
        .map(PathBuf::from)
        .unwrap_or_else(|| out.join("lmm_ch5.csv"));
    let mut fits = serde_json::Map::new();
    let (secs, f) = timed(sleep_formula, &sleep, 50);
    println!("| sleepstudy | 180 | {:.2} ms |", secs * 1e3);
    fits.insert("sleepstudy".into(), report(secs, &f, 180));

    let ch5 = read_csv(
        &ch5_path,
        &[
            ("dataset", 't'),
            ("recsys", 't'),
            ("explainer", 't'),
            ("omega", 'i'),
            ("user", 'i'),
            ("mainstreaminess", 'f'),
            ("fidelity", 'f'),
        ],
    );
    let rows = ch5.columns[0].len();
    let (secs, f) = timed(
        "fidelity ~ explainer * log(omega) + (1 | dataset:user)",
        &ch5,
        3,
    );
    println!("| ch5_user | {rows} | {:.1} ms |", secs * 1e3);
    fits.insert("ch5_user".into(), report(secs, &f, rows));
    let (secs, f) = timed(
        "fidelity ~ explainer * log(omega) + (1 + explainer | dataset:recsys) \
         + (1 | dataset:recsys:explainer) + (0 + mainstreaminess | dataset:recsys)",
        &ch5,
        3,
    );
    println!("| ch5_spec | {rows} | {:.1} ms |", secs * 1e3);
    fits.insert("ch5_spec".into(), report(secs, &f, rows));
    std::fs::create_dir_all(&out).expect("cannot create the results folder");
    let path = out.join("lmm.json");
    std::fs::write(
        &path,
        serde_json::to_string_pretty(&json!({ "fits": fits })).expect("JSON"),
    )
    .expect("cannot write lmm.json");
    eprintln!("wrote {}", path.display());
}
