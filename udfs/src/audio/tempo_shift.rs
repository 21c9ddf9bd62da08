//! `tempo_shift(audio, sr, rate)`: a clip played faster or slower, its pitch kept.

use datafusion::logical_expr::Documentation;
use datafusion_macros::user_doc;

use super::adapter::{
    arg, check_range_param, check_sample_rate, ArgSpec, Kind, OutKind, Params, Row, RowFunction,
    Value,
};
use super::kernels::vocoder::{stretch_bytes, tempo_shift, MAX_RATE, MIN_RATE};
use super::kernels::AudioError;

#[user_doc(
    doc_section(label = "Audio Functions"),
    description = "The clip played rate times as fast without changing its pitch (rate > 1 is faster and shorter), by a phase-vocoder time stretch as librosa's time_stretch (STFT n_fft 2048, hop 512, periodic Hann, phases advanced by each bin's expected advance plus the measured deviation); the result has round(n / rate) samples. The thesis' tempo-shift transformation (rates 0.3 to 1.5). The clip must be longer than 2048 samples.",
    syntax_example = "tempo_shift(audio, sr, rate)",
    sql_example = r#"```sql
> SELECT cardinality(tempo_shift(array_repeat(0.5, 22050), 22050, 0.5)) AS n;
+-------+
| n     |
+-------+
| 44100 |
+-------+
```"#,
    argument(name = "audio", description = "The clip."),
    argument(name = "sr", description = "Its sample rate in Hz."),
    argument(name = "rate", description = "The speed factor (0.01 to 100).")
)]
#[derive(Debug, Default, PartialEq, Eq, Hash)]
pub struct TempoShift;

static DOC: TempoShift = TempoShift;

impl RowFunction for TempoShift {
    const NAME: &'static str = "tempo_shift";
    const ARGS: &'static [ArgSpec] = &[
        arg("audio", Kind::Audio),
        arg("sr", Kind::Float),
        arg("rate", Kind::Float),
    ];
    const OUT: OutKind = OutKind::Audio;

    fn doc() -> Option<&'static Documentation> {
        DOC.doc()
    }

    fn validate(p: &dyn Params) -> Result<(), AudioError> {
        check_sample_rate(p, 1)?;
        check_range_param(p, 2, "rate", MIN_RATE, MAX_RATE)
    }

    fn compute(row: &Row<'_>) -> Result<Value, AudioError> {
        let sr = f64::from(row.sample_rate(1)?);
        let (audio, rate) = (row.audio(0)?, row.req_float(2)?);
        row.check_memory(
            &format!("argument 'rate' = {rate} ({} samples)", audio.len()),
            stretch_bytes(audio.len(), rate),
        )?;
        Ok(Value::Samples(tempo_shift(audio, sr, rate)?))
    }
}
