//! `resample(audio, from_sr, to_sr)`: a clip at another sample rate.

use datafusion::logical_expr::Documentation;
use datafusion_macros::user_doc;

use super::adapter::{arg, sample_rate, ArgSpec, Kind, OutKind, Params, Row, RowFunction, Value};
use super::kernels::resample::{resample, resample_bytes};
use super::kernels::AudioError;

#[user_doc(
    doc_section(label = "Audio Functions"),
    description = "The clip resampled from from_sr to to_sr Hz by band-limited windowed-sinc interpolation (Kaiser window, β 8.6, 48 zero crossings, cut-off at 0.945 of the lower Nyquist frequency); the result has ⌈n · to_sr / from_sr⌉ samples (librosa's rule). Any ratio up to 1024 works, not only rational ones.",
    syntax_example = "resample(audio, from_sr, to_sr)",
    sql_example = r#"```sql
> SELECT cardinality(resample(array_repeat(0.5, 44100), 44100, 22050)) AS n;
+-------+
| n     |
+-------+
| 22050 |
+-------+
```"#,
    argument(name = "audio", description = "The clip."),
    argument(name = "from_sr", description = "Its sample rate in Hz."),
    argument(name = "to_sr", description = "The new sample rate in Hz.")
)]
#[derive(Debug, Default, PartialEq, Eq, Hash)]
pub struct Resample;

static DOC: Resample = Resample;

impl RowFunction for Resample {
    const NAME: &'static str = "resample";
    const ARGS: &'static [ArgSpec] = &[
        arg("audio", Kind::Audio),
        arg("from_sr", Kind::Float),
        arg("to_sr", Kind::Float),
    ];
    const OUT: OutKind = OutKind::Audio;

    fn doc() -> Option<&'static Documentation> {
        DOC.doc()
    }

    fn validate(p: &dyn Params) -> Result<(), AudioError> {
        for i in [1, 2] {
            if let Some(sr) = p.float(i) {
                sample_rate(sr)?;
            }
        }
        Ok(())
    }

    fn compute(row: &Row<'_>) -> Result<Value, AudioError> {
        let from = f64::from(row.sample_rate(1)?);
        let to = f64::from(row.sample_rate(2)?);
        let audio = row.audio(0)?;
        row.check_memory(
            &format!(
                "argument 'to_sr' = {to} (from {from} Hz, {} samples)",
                audio.len()
            ),
            resample_bytes(audio.len(), from, to),
        )?;
        Ok(Value::Samples(resample(audio, from, to)?))
    }
}
