//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

#[cfg(target_os = "linux")]
pub mod pty;
pub mod slt;

/// The repository root.
pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The shared data folder: `$TRUSTQL_SHARED`, else `../shared` beside the repository, else
/// `/work/shared`. Tests that need data fail (they are not skipped) when none exists.
pub fn shared() -> PathBuf {
    if let Some(p) = std::env::var_os("TRUSTQL_SHARED") {
        return PathBuf::from(p);
    }
    let beside = repo().join("..").join("shared");
    if beside.join("data").is_dir() {
        return beside.canonicalize().unwrap_or(beside);
    }
    let fixed = Path::new("/work/shared");
    assert!(
        fixed.join("data").is_dir(),
        "the shared data folder was not found: set TRUSTQL_SHARED to the folder holding data/ and reference/"
    );
    fixed.to_path_buf()
}

/// Runs the trustql binary from the repository root with `args` (after `-q --models
/// <dir>/models`), asserting that it succeeds.
pub fn cli(dir: &Path, args: &[&str]) -> std::process::Output {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_trustql"))
        .current_dir(repo())
        .env("NO_COLOR", "1")
        .arg("-q")
        .arg("--models")
        .arg(dir.join("models"))
        .args(args)
        .output()
        .expect("trustql runs");
    assert!(
        out.status.success(),
        "trustql {args:?} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// The rows of a query run by [`cli`], as CSV fields (without the header).
pub fn cli_rows(dir: &Path, sql: &str) -> Vec<Vec<String>> {
    let out = cli(dir, &["--format", "csv", "-c", sql]);
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .skip(1)
        .map(|l| l.split(',').map(str::to_string).collect())
        .collect()
}

/// A CSV field as a number.
pub fn num(s: &str) -> f64 {
    s.parse().unwrap_or_else(|_| panic!("not a number: {s}"))
}
