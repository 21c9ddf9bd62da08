//! `match_loudness(audio, reference, sr)`: a clip gained to a reference's loudness.

use datafusion::logical_expr::Documentation;
use datafusion_macros::user_doc;

use super::adapter::{
    arg, check_sample_rate, ArgSpec, Kind, OutKind, Params, Row, RowFunction, Value,
};
use super::kernels::loudness::match_loudness;
use super::kernels::AudioError;

#[user_doc(
    doc_section(label = "Audio Functions"),
    description = "A clip gained so that its integrated loudness (loudness_lufs, EBU R128) equals a reference clip's: the thesis' loudness normalisation of every transformed clip to its original. The gain is applied as it is, never clipped, so samples may exceed ±1 (write_wav keeps them, as 32-bit float). A silent clip or reference (loudness −inf) is an error.",
    syntax_example = "match_loudness(audio, reference, sr)",
    sql_example = r#"```sql
> SELECT round(loudness_lufs(match_loudness(a, b, 22050), 22050), 1) AS lufs FROM (SELECT array_agg(CAST(0.1 * sin(value * 0.2849517) AS FLOAT)) AS a FROM generate_series(1, 22050)) CROSS JOIN (SELECT array_agg(CAST(0.5 * sin(value * 0.1) AS FLOAT)) AS b FROM generate_series(1, 22050));
+------+
| lufs |
+------+
| -9.7 |
+------+
```"#,
    argument(name = "audio", description = "The clip to gain."),
    argument(
        name = "reference",
        description = "The clip whose loudness to match (e.g. the original)."
    ),
    argument(name = "sr", description = "The sample rate of both, in Hz.")
)]
#[derive(Debug, Default, PartialEq, Eq, Hash)]
pub struct MatchLoudness;

static DOC: MatchLoudness = MatchLoudness;

impl RowFunction for MatchLoudness {
    const NAME: &'static str = "match_loudness";
    const ARGS: &'static [ArgSpec] = &[
        arg("audio", Kind::Audio),
        arg("reference", Kind::Audio),
        arg("sr", Kind::Float),
    ];
    const OUT: OutKind = OutKind::Audio;

    fn doc() -> Option<&'static Documentation> {
        DOC.doc()
    }

    fn validate(p: &dyn Params) -> Result<(), AudioError> {
        check_sample_rate(p, 2)
    }

    fn compute(row: &Row<'_>) -> Result<Value, AudioError> {
        let sr = row.sample_rate(2)?;
        Ok(Value::Samples(
            match_loudness(row.audio(0)?, row.audio(1)?, sr)?.samples,
        ))
    }
}
