//! `mp3_roundtrip(audio, sr, kbps)`: a clip encoded to MP3 and decoded back.

use datafusion::logical_expr::Documentation;
use datafusion_macros::user_doc;

use super::adapter::{arg, sample_rate, ArgSpec, Kind, OutKind, Params, Row, RowFunction, Value};
use super::kernels::codec::{mp3_bitrates, mp3_roundtrip};
use super::kernels::AudioError;

#[user_doc(
    doc_section(label = "Audio Functions"),
    description = "The clip encoded as constant-bit-rate MP3 at kbps with LAME 3.100 and decoded back (symphonia), aligned to the input and exactly as long (the encoder delay and padding removed): the thesis' compression transformation. Bit rates: 8, 16, 24, 32, 40, 48, 64, 80, 96, 112, 128 and 160 kb/s at 22050 Hz (MPEG-2), and 192, 224, 256 and 320 kb/s by encoding at twice the rate (MPEG-1; the clip is upsampled and the result downsampled by a half-band filter); other rates are an error that lists the allowed ones.",
    syntax_example = "mp3_roundtrip(audio, sr, kbps)",
    sql_example = r#"```sql
> SELECT cardinality(mp3_roundtrip(a, 22050, 64)) AS n FROM (SELECT array_agg(CAST(0.1 * sin(value * 0.2849517) AS FLOAT)) AS a FROM generate_series(1, 22050));
+-------+
| n     |
+-------+
| 22050 |
+-------+
```"#,
    argument(name = "audio", description = "The clip."),
    argument(
        name = "sr",
        description = "Its sample rate in Hz (an MP3 rate: 8000 to 48000)."
    ),
    argument(name = "kbps", description = "The constant bit rate in kb/s.")
)]
#[derive(Debug, Default, PartialEq, Eq, Hash)]
pub struct Mp3Roundtrip;

static DOC: Mp3Roundtrip = Mp3Roundtrip;

impl RowFunction for Mp3Roundtrip {
    const NAME: &'static str = "mp3_roundtrip";
    const ARGS: &'static [ArgSpec] = &[
        arg("audio", Kind::Audio),
        arg("sr", Kind::Float),
        arg("kbps", Kind::Int),
    ];
    const OUT: OutKind = OutKind::Audio;

    fn doc() -> Option<&'static Documentation> {
        DOC.doc()
    }

    fn validate(p: &dyn Params) -> Result<(), AudioError> {
        if let Some(sr) = p.float(1) {
            let sr = sample_rate(sr)?;
            if let Some(k) = p.int(2) {
                let allowed = mp3_bitrates(sr);
                if !allowed.iter().any(|&a| i64::from(a) == k) {
                    return Err(AudioError::BadParameter(format!(
                        "MP3 at {sr} Hz cannot be {k} kb/s; allowed: {allowed:?}"
                    )));
                }
            }
        }
        Ok(())
    }

    fn compute(row: &Row<'_>) -> Result<Value, AudioError> {
        let sr = row.sample_rate(1)?;
        let kbps = u32::try_from(row.req_int(2)?)
            .map_err(|_| AudioError::BadParameter("kbps must be positive".to_string()))?;
        Ok(Value::Samples(mp3_roundtrip(row.audio(0)?, sr, kbps)?))
    }
}
