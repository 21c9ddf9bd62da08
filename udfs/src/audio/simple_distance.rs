//! `simple_distance(a, b, window)`: the SiMPle distance of two frame sequences.

use datafusion::logical_expr::Documentation;
use datafusion_macros::user_doc;

use super::adapter::{arg, ArgSpec, Kind, OutKind, Params, Row, RowFunction, Value};
use super::kernels::simple::simple_distance;
use super::kernels::AudioError;

#[user_doc(
    doc_section(label = "Audio Functions"),
    description = "SiMPle distance (Silva et al. 2016, the thesis' second audio-space distance): the median of the join matrix profile of a searched in b, where the profile at each window of `window` consecutive frames of a is the smallest squared Euclidean distance (summed over the frames and dimensions, no z-normalisation) to any window of b. Asymmetric: a is the transformed clip, b the original. Computed with FFT-based sliding dot products. A sequence shorter than the window is an error.",
    syntax_example = "simple_distance(a, b, window)",
    sql_example = r#"```sql
> SELECT simple_distance([[0.0], [1.0], [5.0]], [[1.0], [5.0], [0.0], [1.0]], 2) AS d;
+-----+
| d   |
+-----+
| 0.0 |
+-----+
```"#,
    argument(
        name = "a",
        description = "The searched sequence (the transformed clip's frames)."
    ),
    argument(
        name = "b",
        description = "The sequence searched in (the original's frames), frames of the same length as a's."
    ),
    argument(
        name = "window",
        description = "Window length in frames (≥ 1; the thesis' study used 50)."
    )
)]
#[derive(Debug, Default, PartialEq, Eq, Hash)]
pub struct SimpleDistance;

static DOC: SimpleDistance = SimpleDistance;

impl RowFunction for SimpleDistance {
    const NAME: &'static str = "simple_distance";
    const ARGS: &'static [ArgSpec] = &[
        arg("a", Kind::Frames),
        arg("b", Kind::Frames),
        arg("window", Kind::Int),
    ];
    const OUT: OutKind = OutKind::Float;

    fn doc() -> Option<&'static Documentation> {
        DOC.doc()
    }

    fn validate(p: &dyn Params) -> Result<(), AudioError> {
        match p.int(2) {
            Some(w) if w < 1 => Err(AudioError::BadParameter(format!(
                "window must be at least 1 frame, got {w}"
            ))),
            _ => Ok(()),
        }
    }

    fn compute(row: &Row<'_>) -> Result<Value, AudioError> {
        let window = row.req_int(2)? as usize;
        Ok(Value::Float(simple_distance(
            &row.frames(0)?,
            &row.frames(1)?,
            window,
        )?))
    }
}
