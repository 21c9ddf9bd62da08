//! `dtw(a, b [, band])`: exact dynamic time warping between two frame sequences.

use datafusion::logical_expr::Documentation;
use datafusion_macros::user_doc;

use super::adapter::{arg, opt, ArgSpec, Kind, OutKind, Params, Row, RowFunction, Value};
use super::kernels::dtw::dtw;
use super::kernels::AudioError;

#[user_doc(
    doc_section(label = "Audio Functions"),
    description = "Exact dynamic time warping distance between two sequences of frames (e.g. the per-frame MFCCs of two clips): local cost the Euclidean distance between frames, steps (1,0), (0,1), (1,1), the unnormalised sum of the costs along the cheapest path from the first to the last frames (the thesis' study used FastDTW with radius 1, an approximation of this). With band, cells farther than band frames from the straight line between the corners are forbidden (a Sakoe–Chiba band, measured in frames of the shorter sequence); a band too narrow to leave a path is an error.",
    syntax_example = "dtw(a, b [, band])",
    sql_example = r#"```sql
> SELECT dtw([[0.0, 0.0], [1.0, 1.0], [2.0, 2.0]], [[0.0, 0.0], [2.0, 2.0]]) AS d;
+--------------------+
| d                  |
+--------------------+
| 1.4142135623730951 |
+--------------------+
```"#,
    argument(
        name = "a",
        description = "The first sequence: a list of frames, each a list of numbers of the same length."
    ),
    argument(
        name = "b",
        description = "The second sequence, frames of the same length as a's."
    ),
    argument(
        name = "band",
        description = "Optional half-width of the Sakoe–Chiba band, in frames (≥ 0)."
    )
)]
#[derive(Debug, Default, PartialEq, Eq, Hash)]
pub struct Dtw;

static DOC: Dtw = Dtw;

impl RowFunction for Dtw {
    const NAME: &'static str = "dtw";
    const ARGS: &'static [ArgSpec] = &[
        arg("a", Kind::Frames),
        arg("b", Kind::Frames),
        opt("band", Kind::Int),
    ];
    const OUT: OutKind = OutKind::Float;

    fn doc() -> Option<&'static Documentation> {
        DOC.doc()
    }

    fn validate(p: &dyn Params) -> Result<(), AudioError> {
        match p.int(2) {
            Some(b) if b < 0 => Err(AudioError::BadParameter(format!(
                "band must not be negative, got {b}"
            ))),
            _ => Ok(()),
        }
    }

    fn compute(row: &Row<'_>) -> Result<Value, AudioError> {
        let band = row.int(2).map(|b| b as usize);
        Ok(Value::Float(dtw(&row.frames(0)?, &row.frames(1)?, band)?))
    }
}
