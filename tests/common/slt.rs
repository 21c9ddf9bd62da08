//! The sqllogictest database over a trustql [`Session`], shared by the `.slt` runner and the
//! cluster tests (which run the same files on a cluster).

use std::path::{Path, PathBuf};

use async_trait::async_trait;
use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::util::display::{ArrayFormatter, FormatOptions};
use datafusion::error::DataFusionError;
use sqllogictest::{DBOutput, DefaultColumnType};
use trustql::{Session, SessionOptions};

pub struct TrustqlDb {
    session: Session,
}

#[derive(Debug)]
pub struct SltError(String);

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

/// Opens a session over the model store at the given directory.
pub type Open = std::sync::Arc<
    dyn Fn(PathBuf) -> futures::future::BoxFuture<'static, datafusion::error::Result<Session>>
        + Send
        + Sync,
>;

/// A session on this machine.
pub fn embedded() -> Open {
    std::sync::Arc::new(|models| {
        Box::pin(async move {
            Session::with_options(SessionOptions {
                model_dir: models,
                progress: None,
                status: None,
            })
        })
    })
}

pub async fn run_file(path: &Path, shared: &Path, open: Open) -> Result<(), String> {
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
        let open = open.clone();
        async move {
            let session = open(models).await.map_err(|e| SltError(e.to_string()))?;
            Ok(TrustqlDb { session })
        }
    });
    runner.with_column_validator(sqllogictest::default_column_validator);
    runner
        .run_file_async(&file)
        .await
        .map_err(|e| e.display(true).to_string())
}
