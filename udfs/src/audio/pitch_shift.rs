//! `pitch_shift(audio, sr, semitones)`: a clip shifted in pitch, its length kept.

use datafusion::logical_expr::Documentation;
use datafusion_macros::user_doc;

use super::adapter::{
    arg, check_range_param, check_sample_rate, ArgSpec, Kind, OutKind, Params, Row, RowFunction,
    Value,
};
use super::kernels::vocoder::{pitch_shift, pitch_shift_bytes, MAX_SEMITONES};
use super::kernels::AudioError;

#[user_doc(
    doc_section(label = "Audio Functions"),
    description = "The clip shifted in pitch by semitones (fractions allowed; negative is lower) without changing its length, by librosa's method: a phase-vocoder time stretch by 2^(−semitones/12) (STFT n_fft 2048, hop 512, periodic Hann), then band-limited resampling back to the original duration, cropped or zero-padded at the end to exactly the input's length. The thesis' pitch-shift transformation (±0.25 to ±12 semitones). The clip must be longer than 2048 samples.",
    syntax_example = "pitch_shift(audio, sr, semitones)",
    sql_example = r#"```sql
> SELECT cardinality(pitch_shift(array_repeat(0.5, 22050), 22050, 2)) AS n;
+-------+
| n     |
+-------+
| 22050 |
+-------+
```"#,
    argument(name = "audio", description = "The clip."),
    argument(name = "sr", description = "Its sample rate in Hz."),
    argument(
        name = "semitones",
        description = "The shift in semitones (−48 to 48)."
    )
)]
#[derive(Debug, Default, PartialEq, Eq, Hash)]
pub struct PitchShift;

static DOC: PitchShift = PitchShift;

impl RowFunction for PitchShift {
    const NAME: &'static str = "pitch_shift";
    const ARGS: &'static [ArgSpec] = &[
        arg("audio", Kind::Audio),
        arg("sr", Kind::Float),
        arg("semitones", Kind::Float),
    ];
    const OUT: OutKind = OutKind::Audio;

    fn doc() -> Option<&'static Documentation> {
        DOC.doc()
    }

    fn validate(p: &dyn Params) -> Result<(), AudioError> {
        check_sample_rate(p, 1)?;
        check_range_param(p, 2, "semitones", -MAX_SEMITONES, MAX_SEMITONES)
    }

    fn compute(row: &Row<'_>) -> Result<Value, AudioError> {
        let sr = f64::from(row.sample_rate(1)?);
        let (audio, semitones) = (row.audio(0)?, row.req_float(2)?);
        row.check_memory(
            &format!(
                "argument 'semitones' = {semitones} ({} samples)",
                audio.len()
            ),
            pitch_shift_bytes(audio.len(), semitones),
        )?;
        Ok(Value::Samples(pitch_shift(audio, sr, semitones)?))
    }
}
