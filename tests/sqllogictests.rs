//! Runs every `sql/**/*.slt` file with sqllogictest, each in a fresh session with its own empty
//! model store. `${SHARED}` in a file is replaced by the shared data folder (see
//! `tests/common`), `${TMP}` by a temporary folder of the file's own. Pass a substring as the first argument to run only matching files.

mod common;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use async_trait::async_trait;
use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::util::display::{ArrayFormatter, FormatOptions};
use datafusion::error::DataFusionError;
use sqllogictest::{DBOutput, DefaultColumnType};
use trustql::{Session, SessionOptions};

struct TrustqlDb {
    session: Session,
}

#[derive(Debug)]
struct SltError(String);

impl std::fmt::Display for SltError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for SltError {}

fn rows(batches: &[RecordBatch]) -> Result<Vec<Vec<String>>, DataFusionError> {
    let opts = FormatOptions::default().with_null("NULL");
    let mut out = Vec::new();
    for b in batches {
        let fmts = b
            .columns()
            .iter()
            .map(|c| ArrayFormatter::try_new(c.as_ref(), &opts))
            .collect::<Result<Vec<_>, _>>()?;
        for r in 0..b.num_rows() {
            out.push(
                fmts.iter()
                    .map(|f| {
                        let s = f.value(r).to_string();
                        if s.is_empty() {
                            "(empty)".to_string()
                        } else {
                            s
                        }
                    })
                    .collect(),
            );
        }
    }
    Ok(out)
}

#[async_trait]
impl sqllogictest::AsyncDB for TrustqlDb {
    type Error = SltError;
    type ColumnType = DefaultColumnType;

    async fn run(&mut self, sql: &str) -> Result<DBOutput<DefaultColumnType>, SltError> {
        let run = async {
            let df = self.session.sql(sql).await?;
            let width = df.schema().fields().len();
            let batches = df.collect().await?;
            Ok::<_, DataFusionError>((width, batches))
        };
        let (width, batches) = run.await.map_err(|e| SltError(e.to_string()))?;
        if width == 0 {
            return Ok(DBOutput::StatementComplete(0));
        }
        Ok(DBOutput::Rows {
            types: vec![DefaultColumnType::Any; width],
            rows: rows(&batches).map_err(|e| SltError(e.to_string()))?,
        })
    }

    async fn shutdown(&mut self) {}

    fn engine_name(&self) -> &str {
        "trustql"
    }
}

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

async fn run_file(path: &Path, shared: &Path) -> Result<(), String> {
    let text = std::fs::read_to_string(path).map_err(|e| e.to_string())?;
    let work = tempfile::tempdir().map_err(|e| e.to_string())?;
    let text = text
        .replace("${SHARED}", &shared.display().to_string())
        .replace("${TMP}", &work.path().display().to_string());
    let file = work.path().join(path.file_name().unwrap_or_default());
    std::fs::write(&file, text).map_err(|e| e.to_string())?;
    let models = work.path().join("models");
    let mut runner = sqllogictest::Runner::new(move || {
        let models = models.clone();
        async move {
            let session = Session::with_options(SessionOptions {
                model_dir: models,
                progress: None,
                status: None,
            })
            .map_err(|e| SltError(e.to_string()))?;
            Ok(TrustqlDb { session })
        }
    });
    runner.with_column_validator(sqllogictest::default_column_validator);
    runner
        .run_file_async(&file)
        .await
        .map_err(|e| e.display(true).to_string())
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
        match run_file(f, &shared).await {
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
