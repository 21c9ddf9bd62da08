//! `to_mono(channels)`: channels mixed down to one.

use datafusion::logical_expr::Documentation;
use datafusion_macros::user_doc;

use super::adapter::{arg, ArgSpec, Kind, OutKind, Row, RowFunction, Value};
use super::kernels::codec::to_mono;
use super::kernels::AudioError;

#[user_doc(
    doc_section(label = "Audio Functions"),
    description = "Mixes channels down to mono: the mean of the channels, sample by sample (read_audio already returns mono clips; this is for clips kept as a list of channels). Channels of different lengths are an error.",
    syntax_example = "to_mono(channels)",
    sql_example = r#"```sql
> SELECT to_mono([[0.0, 1.0, 0.5], [1.0, 0.0, 0.5]]) AS m;
+-----------------+
| m               |
+-----------------+
| [0.5, 0.5, 0.5] |
+-----------------+
```"#,
    argument(
        name = "channels",
        description = "A list of channels, each a list of samples of the same length."
    )
)]
#[derive(Debug, Default, PartialEq, Eq, Hash)]
pub struct ToMono;

static DOC: ToMono = ToMono;

impl RowFunction for ToMono {
    const NAME: &'static str = "to_mono";
    const ARGS: &'static [ArgSpec] = &[arg("channels", Kind::Frames)];
    const OUT: OutKind = OutKind::Audio;

    fn doc() -> Option<&'static Documentation> {
        DOC.doc()
    }

    fn compute(row: &Row<'_>) -> Result<Value, AudioError> {
        let c = row
            .frames(0)
            .map_err(|e| AudioError::BadInput(e.to_string().replace("frame", "channel")))?;
        let interleaved: Vec<f32> = c.transposed().data.iter().map(|&v| v as f32).collect();
        Ok(Value::Samples(to_mono(&interleaved, c.n_frames.max(1))?))
    }
}
