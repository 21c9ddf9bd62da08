//! `loudness_lufs(audio, sr)`: integrated loudness of a clip (EBU R128).

use datafusion::logical_expr::Documentation;
use datafusion_macros::user_doc;

use super::adapter::{
    arg, check_sample_rate, ArgSpec, Kind, OutKind, Params, Row, RowFunction, Value,
};
use super::kernels::loudness::loudness_lufs;
use super::kernels::AudioError;

#[user_doc(
    doc_section(label = "Audio Functions"),
    description = "Integrated loudness of a clip in LUFS after ITU-R BS.1770-4 / EBU R128: K-weighting, 400 ms blocks with 75 % overlap, an absolute gate at −70 LUFS and a relative gate 10 LU below the ungated loudness (the ebur128 crate, a port of libebur128). −inf when no block passes the absolute gate (silence); a clip shorter than one 400 ms block is an error.",
    syntax_example = "loudness_lufs(audio, sr)",
    sql_example = r#"```sql
> SELECT round(loudness_lufs(a, 22050), 1) AS lufs FROM (SELECT array_agg(CAST(0.1 * sin(value * 0.2849517) AS FLOAT)) AS a FROM generate_series(1, 22050));
+-------+
| lufs  |
+-------+
| -23.0 |
+-------+
```"#,
    argument(name = "audio", description = "The clip: a list of samples."),
    argument(name = "sr", description = "Its sample rate in Hz (8000 to 384000).")
)]
#[derive(Debug, Default, PartialEq, Eq, Hash)]
pub struct LoudnessLufs;

static DOC: LoudnessLufs = LoudnessLufs;

impl RowFunction for LoudnessLufs {
    const NAME: &'static str = "loudness_lufs";
    const ARGS: &'static [ArgSpec] = &[arg("audio", Kind::Audio), arg("sr", Kind::Float)];
    const OUT: OutKind = OutKind::Float;

    fn doc() -> Option<&'static Documentation> {
        DOC.doc()
    }

    fn validate(p: &dyn Params) -> Result<(), AudioError> {
        check_sample_rate(p, 1)
    }

    fn compute(row: &Row<'_>) -> Result<Value, AudioError> {
        let sr = row.sample_rate(1)?;
        Ok(Value::Float(loudness_lufs(row.audio(0)?, sr)?))
    }
}
