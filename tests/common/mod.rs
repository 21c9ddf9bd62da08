//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

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
