//! `crop(audio, start_sample, n_samples)`: a window of a clip.

use datafusion::logical_expr::Documentation;
use datafusion_macros::user_doc;

use super::adapter::{arg, ArgSpec, Kind, OutKind, Params, Row, RowFunction, Value};
use super::kernels::AudioError;

#[user_doc(
    doc_section(label = "Audio Functions"),
    description = "The n_samples samples of a clip from start_sample (0-based); a window that runs past the end is cut there (the result is shorter), one that starts past the end is empty. Negative arguments are errors.",
    syntax_example = "crop(audio, start_sample, n_samples)",
    sql_example = r#"```sql
> SELECT crop([0.0, 0.1, 0.2, 0.3, 0.4], 1, 3) AS c;
+-----------------+
| c               |
+-----------------+
| [0.1, 0.2, 0.3] |
+-----------------+
```"#,
    argument(name = "audio", description = "The clip."),
    argument(
        name = "start_sample",
        description = "Index of the first sample kept, from 0."
    ),
    argument(name = "n_samples", description = "How many samples to keep.")
)]
#[derive(Debug, Default, PartialEq, Eq, Hash)]
pub struct Crop;

static DOC: Crop = Crop;

impl RowFunction for Crop {
    const NAME: &'static str = "crop";
    const ARGS: &'static [ArgSpec] = &[
        arg("audio", Kind::Audio),
        arg("start_sample", Kind::Int),
        arg("n_samples", Kind::Int),
    ];
    const OUT: OutKind = OutKind::Audio;

    fn doc() -> Option<&'static Documentation> {
        DOC.doc()
    }

    fn validate(p: &dyn Params) -> Result<(), AudioError> {
        for (i, what) in [(1, "start_sample"), (2, "n_samples")] {
            if let Some(v) = p.int(i).filter(|v| *v < 0) {
                return Err(AudioError::BadParameter(format!(
                    "{what} must not be negative, got {v}"
                )));
            }
        }
        Ok(())
    }

    fn compute(row: &Row<'_>) -> Result<Value, AudioError> {
        let a = row.audio(0)?;
        let start = usize::try_from(row.req_int(1)?).map_err(|_| {
            AudioError::BadParameter("start_sample must not be negative".to_string())
        })?;
        let n = usize::try_from(row.req_int(2)?)
            .map_err(|_| AudioError::BadParameter("n_samples must not be negative".to_string()))?;
        let from = start.min(a.len());
        let to = from.saturating_add(n).min(a.len());
        Ok(Value::Samples(a[from..to].to_vec()))
    }
}
