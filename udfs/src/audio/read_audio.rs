//! `read_audio(glob [, sample_rate])`: a folder of audio files as a table of clips.
//!
//! Experiments on audio start from files; this table function turns a glob pattern into one row
//! per file (path, sample rate, channels, duration, samples), decoding lazily at execution time,
//! a file at a time and several files in parallel, so that a query that reads a large folder
//! holds only the clips in flight. Every clip is mixed down to mono (the mean of its channels)
//! and resampled to the requested rate (22,050 Hz unless given), the convention of the thesis'
//! study; `channels` and `duration` describe the file as stored.

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

use async_trait::async_trait;
use datafusion::arrow::array::{Float64Array, Int64Array, RecordBatch, StringArray};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::catalog::{Session, TableFunctionImpl, TableProvider};
use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::common::{
    exec_datafusion_err, internal_err, plan_datafusion_err, plan_err, ScalarValue,
};
use datafusion::error::Result;
use datafusion::execution::{SendableRecordBatchStream, TaskContext};
use datafusion::logical_expr::{Documentation, Expr, TableType};
use datafusion::physical_expr::{EquivalenceProperties, PhysicalExpr};
use datafusion::physical_plan::execution_plan::{Boundedness, EmissionType};
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::{
    DisplayAs, DisplayFormatType, ExecutionPlan, Partitioning, PlanProperties,
};
use datafusion_macros::user_doc;
use futures::StreamExt;

use super::adapter::{audio_type, samples_array};
use super::kernels::{codec, resample};
use crate::engine::memory::{check_memory, memory_limit};

/// The function's name.
pub const NAME: &str = "read_audio";
/// The sample rate clips are resampled to unless the call names another.
pub const DEFAULT_SAMPLE_RATE: i64 = 22_050;
/// The accepted range of sample rates (defined in [`super::rates`], which the Arrow adapter
/// shares).
pub use super::rates::SAMPLE_RATES;

#[user_doc(
    doc_section(label = "Audio Functions"),
    description = "Reads the audio files matching a glob pattern (WAV, FLAC, OGG/Vorbis, MP3), one row per file in path order: path, sample_rate (of the samples returned), channels and duration (seconds) of the file as stored, and samples (list<float32> in [-1, 1]), mixed to mono as the mean of the channels and resampled to sample_rate (default 22050 Hz, the thesis' rate) with a band-limited windowed-sinc filter. Files are decoded when the query runs, several in parallel. A pattern that matches no file, an undecodable or empty file are errors that name the pattern or file.",
    syntax_example = "read_audio(glob [, sample_rate])",
    sql_example = r#"```sql
> SELECT regexp_replace(path, '.*/', '') AS file, sample_rate, channels, round(duration, 2) AS duration, cardinality(samples) AS n
  FROM read_audio('../shared/data/audio/noise/applause.wav');
+--------------+-------------+----------+----------+-------+
| file         | sample_rate | channels | duration | n     |
+--------------+-------------+----------+----------+-------+
| applause.wav | 22050       | 1        | 2.06     | 45474 |
+--------------+-------------+----------+----------+-------+
```"#,
    argument(
        name = "glob",
        description = "A path or glob pattern (`*`, `?`, `[...]`, `**`), relative to the working directory."
    ),
    argument(
        name = "sample_rate",
        description = "The sample rate of the returned samples, in Hz (1000 to 384000); default 22050."
    )
)]
#[derive(Debug, Default)]
pub struct ReadAudioFunc;

impl ReadAudioFunc {
    /// The function's documentation (table functions have no hook for it in DataFusion).
    pub fn documentation(&self) -> Option<&Documentation> {
        self.doc()
    }
}

fn schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("path", DataType::Utf8, false),
        Field::new("sample_rate", DataType::Int64, false),
        Field::new("channels", DataType::Int64, false),
        Field::new("duration", DataType::Float64, false),
        Field::new("samples", audio_type(), false),
    ]))
}

fn literal_text(arg: Option<&Expr>) -> Result<String> {
    match arg {
        Some(Expr::Literal(ScalarValue::Utf8(Some(s)), _))
        | Some(Expr::Literal(ScalarValue::Utf8View(Some(s)), _))
        | Some(Expr::Literal(ScalarValue::LargeUtf8(Some(s)), _)) => Ok(s.clone()),
        Some(other) => plan_err!("{NAME}: glob must be a string literal, got {other}"),
        None => plan_err!("{NAME}: missing argument glob; usage: read_audio(glob [, sample_rate])"),
    }
}

fn literal_rate(arg: Option<&Expr>) -> Result<i64> {
    let Some(arg) = arg else {
        return Ok(DEFAULT_SAMPLE_RATE);
    };
    let rate = match arg {
        Expr::Literal(v, _) if v.data_type().is_integer() && !v.is_null() => {
            match v.cast_to(&DataType::Int64)? {
                ScalarValue::Int64(Some(x)) => Some(x),
                _ => None,
            }
        }
        _ => None,
    };
    match rate {
        Some(r) if SAMPLE_RATES.contains(&r) => Ok(r),
        Some(r) => plan_err!(
            "{NAME}: sample_rate must be between {} and {} Hz, got {r}",
            SAMPLE_RATES.start(),
            SAMPLE_RATES.end()
        ),
        None => plan_err!("{NAME}: sample_rate must be an integer literal (Hz), got {arg}"),
    }
}

/// The files a pattern matches, sorted; an error when it matches none.
pub fn expand(pattern: &str) -> Result<Vec<PathBuf>> {
    let paths = glob::glob(pattern)
        .map_err(|e| plan_datafusion_err!("{NAME}: bad pattern '{pattern}': {e}"))?;
    let mut files = Vec::new();
    for p in paths {
        match p {
            Ok(p) if p.is_file() => files.push(p),
            Ok(_) => {}
            Err(e) => return plan_err!("{NAME}: cannot read {}: {}", e.path().display(), e),
        }
    }
    if files.is_empty() {
        return plan_err!("{NAME}: no file matches '{pattern}'");
    }
    files.sort();
    Ok(files)
}

impl TableFunctionImpl for ReadAudioFunc {
    fn call(&self, args: &[Expr]) -> Result<Arc<dyn TableProvider>> {
        if args.is_empty() || args.len() > 2 {
            return plan_err!(
                "{NAME} takes 1 or 2 arguments, got {}; usage: read_audio(glob [, sample_rate])",
                args.len()
            );
        }
        let pattern = literal_text(args.first())?;
        let sample_rate = literal_rate(args.get(1))?;
        Ok(Arc::new(AudioFiles {
            files: Arc::new(expand(&pattern)?),
            sample_rate,
        }))
    }
}

/// The table of a `read_audio` call.
#[derive(Debug)]
struct AudioFiles {
    files: Arc<Vec<PathBuf>>,
    sample_rate: i64,
}

#[async_trait]
impl TableProvider for AudioFiles {
    fn schema(&self) -> SchemaRef {
        schema()
    }

    fn table_type(&self) -> TableType {
        TableType::Temporary
    }

    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        _filters: &[Expr],
        _limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let partitions = state
            .config_options()
            .execution
            .target_partitions
            .clamp(1, self.files.len().max(1));
        let out = match projection {
            Some(p) => Arc::new(schema().project(p)?),
            None => schema(),
        };
        Ok(Arc::new(ReadAudioExec {
            files: self.files.clone(),
            sample_rate: self.sample_rate,
            memory_limit: memory_limit(state.config_options()),
            projection: projection.cloned(),
            properties: Arc::new(PlanProperties::new(
                EquivalenceProperties::new(out),
                Partitioning::UnknownPartitioning(partitions),
                EmissionType::Incremental,
                Boundedness::Bounded,
            )),
        }))
    }
}

/// Decodes the files of partition `p` (every `n`-th file from the `p`-th).
#[derive(Debug)]
struct ReadAudioExec {
    files: Arc<Vec<PathBuf>>,
    sample_rate: i64,
    /// The session's memory limit (bytes), which decoding and resampling one file must fit.
    memory_limit: u64,
    projection: Option<Vec<usize>>,
    properties: Arc<PlanProperties>,
}

impl DisplayAs for ReadAudioExec {
    fn fmt_as(&self, _t: DisplayFormatType, f: &mut fmt::Formatter) -> fmt::Result {
        write!(
            f,
            "ReadAudioExec: {} file(s) at {} Hz",
            self.files.len(),
            self.sample_rate
        )
    }
}

/// One file as a one-row batch of the full schema; a damaged file, or one whose samples would
/// not fit in `memory_limit` bytes, is an error naming it.
fn read_one(path: &std::path::Path, sample_rate: i64, memory_limit: u64) -> Result<RecordBatch> {
    let decoded = codec::decode_file_within(path, memory_limit)
        .map_err(|e| exec_datafusion_err!("{NAME}: {e}"))?;
    let channels = decoded.channels;
    let native = decoded.sample_rate;
    let mono = decoded
        .into_mono()
        .map_err(|e| exec_datafusion_err!("{NAME}: {}: {e}", path.display()))?;
    let duration = mono.len() as f64 / f64::from(native);
    let samples = if i64::from(native) == sample_rate {
        mono
    } else {
        // The output at the new rate, and the resampler's f64 copy of the input.
        let ratio = sample_rate as f64 / f64::from(native);
        let need = mono.len() as f64 * (4.0 * ratio + 8.0);
        check_memory(
            &format!(
                "{NAME}: resampling {} from {native} Hz to {sample_rate} Hz",
                path.display()
            ),
            need,
            memory_limit,
        )?;
        resample::resample(&mono, f64::from(native), sample_rate as f64)
            .map_err(|e| exec_datafusion_err!("{NAME}: {}: {e}", path.display()))?
    };
    Ok(RecordBatch::try_new(
        schema(),
        vec![
            Arc::new(StringArray::from(vec![path.display().to_string()])),
            Arc::new(Int64Array::from(vec![sample_rate])),
            Arc::new(Int64Array::from(vec![channels as i64])),
            Arc::new(Float64Array::from(vec![duration])),
            Arc::new(samples_array(vec![Some(samples)])),
        ],
    )?)
}

impl ExecutionPlan for ReadAudioExec {
    fn name(&self) -> &str {
        "ReadAudioExec"
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        &self.properties
    }

    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        vec![]
    }

    fn apply_expressions(
        &self,
        _f: &mut dyn FnMut(&Arc<dyn PhysicalExpr>) -> Result<TreeNodeRecursion>,
    ) -> Result<TreeNodeRecursion> {
        Ok(TreeNodeRecursion::Continue)
    }

    fn with_new_children(
        self: Arc<Self>,
        children: Vec<Arc<dyn ExecutionPlan>>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        if children.is_empty() {
            Ok(self)
        } else {
            internal_err!("ReadAudioExec has no children")
        }
    }

    fn execute(
        &self,
        partition: usize,
        _context: Arc<TaskContext>,
    ) -> Result<SendableRecordBatchStream> {
        let n = self.properties.partitioning.partition_count();
        if partition >= n {
            return internal_err!("ReadAudioExec has {n} partitions, asked for {partition}");
        }
        let mine: Vec<PathBuf> = self
            .files
            .iter()
            .skip(partition)
            .step_by(n)
            .cloned()
            .collect();
        let sample_rate = self.sample_rate;
        let memory_limit = self.memory_limit;
        let projection = self.projection.clone();
        let stream = futures::stream::iter(mine).then(move |path| {
            let projection = projection.clone();
            async move {
                let batch = datafusion::common::runtime::SpawnedTask::spawn_blocking(move || {
                    read_one(&path, sample_rate, memory_limit)
                })
                .join()
                .await
                .map_err(|e| exec_datafusion_err!("{NAME}: {e}"))??;
                match &projection {
                    Some(p) => Ok(batch.project(p)?),
                    None => Ok(batch),
                }
            }
        });
        Ok(Box::pin(RecordBatchStreamAdapter::new(
            self.schema(),
            stream.boxed(),
        )))
    }
}
