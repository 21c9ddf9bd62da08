//! Runs every `sql/**/*.slt` file with sqllogictest, each in a fresh session with its own empty
//! model store. `${SHARED}` in a file is replaced by the shared data folder (see
//! `tests/common`), `${TMP}` by a temporary folder of the file's own. Pass a substring as the first argument to run only matching files.

mod common;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use common::slt::{embedded, run_file};

fn slt_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            slt_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "slt") {
            out.push(p);
        }
    }
}

#[tokio::main]
async fn main() {
    let filter = std::env::args().nth(1).filter(|a| !a.starts_with('-'));
    let shared = common::shared();
    let mut files = Vec::new();
    slt_files(&common::repo().join("sql"), &mut files);
    files.sort();
    let files: Vec<PathBuf> = files
        .into_iter()
        .filter(|f| {
            // Matched against the path inside the repository, so that the checkout's own path
            // (a worktree named `wt-eval`, say) does not match every file.
            let inside = f.strip_prefix(common::repo()).unwrap_or(f);
            filter
                .as_ref()
                .is_none_or(|s| inside.to_string_lossy().contains(s.as_str()))
        })
        .collect();
    assert!(!files.is_empty(), "no .slt files found under sql/");
    let shared = Arc::new(shared);
    let mut failed = 0;
    for f in &files {
        let name = f
            .strip_prefix(common::repo())
            .unwrap_or(f)
            .display()
            .to_string();
        match run_file(f, &shared, embedded()).await {
            Ok(()) => println!("ok      {name}"),
            Err(e) => {
                failed += 1;
                println!("FAILED  {name}\n{e}");
            }
        }
    }
    println!("sqllogictest: {} files, {failed} failed", files.len());
    if failed > 0 {
        std::process::exit(1);
    }
}
