//! The same seed gives the same bits on the CPU whatever the thread count: every model type
//! that trains on the CPU is trained by two `trustql` processes, one with a single thread for
//! rayon and one DataFusion partition, the other with four of each, and the stored parameters
//! (the model file's payload) must be identical byte for byte.
//!
//! libtorch's own thread count (OpenMP) is the same in both: its parallel kernels (matrix
//! products) split their sums by thread count, so the libtorch-trained types (`vgg`) are
//! bit-identical for a given libtorch thread count, not across them (documented in the README).
//! `fm` and `ncf` train on the CPU with kernels of their own (rayon), so they are compared here.

mod common;

use std::path::Path;
use std::process::Command;

const DATA: &str = "CREATE TABLE plays AS SELECT v % 97 AS \"user\", (v * 7919) % 211 AS item, \
  1.0 + (v % 5) AS value FROM generate_series(1, 6000) AS t(v);
CREATE TABLE tg AS SELECT DISTINCT item, item % 13 AS tag, 1.0 + item % 3 AS weight FROM plays;
CREATE TABLE feat AS SELECT DISTINCT item, [item % 5, (item * 3) % 7, 1.0] AS features FROM plays;
CREATE TABLE sleep AS SELECT v % 10 AS \"Days\", v % 18 AS \"Subject\", \
  250.0 + 10.4 * (v % 10) + ((v * 37) % 23) + 3.0 * (v % 18) AS \"Reaction\" FROM generate_series(1, 180) AS t(v);";

/// Each model: its name, options and `AS` query.
const MODELS: &[(&str, &str, &str)] = &[
    ("inn", "type = 'inn', dim = 8, tags = 'tg'", PLAYS),
    ("unn", "type = 'unn', dim = 8, tags = 'tg'", PLAYS),
    (
        "fm",
        "type = 'fm', dim = 8, epochs = 3, tags = 'tg', seed = 5",
        PLAYS,
    ),
    (
        "ncf",
        "type = 'ncf', dim = 8, epochs = 2, hidden = 16, tags = 'tg', seed = 5",
        PLAYS,
    ),
    ("wrmf", "type = 'wrmf', dim = 8, iterations = 4", PLAYS),
    (
        "content_wrmf",
        "type = 'content_wrmf', dim = 8, iterations = 4, features = 'feat', seed = 5",
        PLAYS,
    ),
    ("mostpop", "type = 'mostpop', tags = 'tg'", PLAYS),
    ("random", "type = 'random', seed = 5", PLAYS),
    (
        "plsa",
        "type = 'plsa', k = 4, iterations = 20, tfidf = true, seed = 5",
        "SELECT \"user\" AS doc, item % 40 AS term, value AS weight FROM plays",
    ),
    (
        "lda",
        "type = 'lda', k = 4, max_iter = 5, evaluate_every = 2, seed = 5",
        "SELECT \"user\" AS doc, item % 40 AS term, value AS weight FROM plays",
    ),
    (
        "gmm",
        "type = 'gmm', k = 3, seed = 5",
        "SELECT value + (item % 7) / 10.0 AS value FROM plays",
    ),
    (
        "kmeans",
        "type = 'kmeans', k = 6, seed = 5",
        "SELECT [\"user\" % 7 + value, (item % 11) / 3.0, value] AS vector FROM plays",
    ),
    (
        "kmeans_mini",
        "type = 'kmeans', k = 6, batch_size = 256, seed = 5",
        "SELECT [\"user\" % 7 + value, (item % 11) / 3.0, value] AS vector FROM plays",
    ),
    (
        "mlp",
        "type = 'mlp', task = 'classify', hidden = '16,8', epochs = 5, seed = 5",
        "SELECT [\"user\" % 7, item % 11, value] AS features, CAST((\"user\" + item) % 3 AS VARCHAR) AS label FROM plays",
    ),
    (
        "lmer",
        "type = 'lmer', formula = 'Reaction ~ Days + (Days | Subject)'",
        "SELECT * FROM sleep",
    ),
];

const PLAYS: &str = "SELECT * FROM plays";

fn train_all(dir: &Path, threads: usize) {
    let mut script = format!("SET datafusion.execution.target_partitions = {threads};\n{DATA}\n");
    for (name, options, query) in MODELS {
        script.push_str(&format!(
            "CREATE MODEL {name} OPTIONS ({options}) AS {query};\n"
        ));
    }
    let file = dir.join("train.sql");
    std::fs::write(&file, script).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_trustql"))
        .args(["-q", "--models"])
        .arg(dir)
        .arg("-f")
        .arg(&file)
        .env_remove("LD_LIBRARY_PATH")
        .env("RAYON_NUM_THREADS", threads.to_string())
        .env("OMP_NUM_THREADS", "2")
        .env("MKL_NUM_THREADS", "2")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{} threads: {}",
        threads,
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn models_are_bit_identical_on_one_and_four_threads() {
    let one = tempfile::tempdir().unwrap();
    let four = tempfile::tempdir().unwrap();
    train_all(one.path(), 1);
    train_all(four.path(), 4);
    let names: Vec<&str> = MODELS.iter().map(|(n, _, _)| *n).collect();
    let mut differ = Vec::new();
    for name in names {
        let file = format!("{name}.tqm");
        let (h1, p1) = trustql::store::read_model(&one.path().join(&file)).unwrap();
        let (h4, p4) = trustql::store::read_model(&four.path().join(&file)).unwrap();
        assert_eq!(h1.options, h4.options);
        if p1 != p4 {
            let first = p1.iter().zip(&p4).position(|(a, b)| a != b);
            differ.push(format!(
                "{name}: payloads differ ({} vs {} bytes, first difference at byte {first:?})",
                p1.len(),
                p4.len()
            ));
        }
    }
    assert!(differ.is_empty(), "{}", differ.join("\n"));
}
