//! `write_wav(path, audio, sr)`: writes a clip to a WAV file.

use datafusion::logical_expr::Documentation;
use datafusion_macros::user_doc;

use super::adapter::{
    arg, check_sample_rate, ArgSpec, Kind, OutKind, Params, Row, RowFunction, Value,
};
use super::kernels::codec::{wav_bytes, write_wav};
use super::kernels::AudioError;

#[user_doc(
    doc_section(label = "Audio Functions"),
    description = "Writes a clip to a mono WAV file (32-bit float samples, so values beyond ±1 are kept) atomically (a temporary file in the same folder, then renamed), so that a person can listen to a perturbation; returns the clip's duration in seconds. The folder must exist.",
    syntax_example = "write_wav(path, audio, sr)",
    sql_example = r#"```sql
> SELECT write_wav('/tmp/example_tone.wav', [0.0, 0.5, -0.5, 0.0], 22050) * 22050 AS samples;
+---------+
| samples |
+---------+
| 4.0     |
+---------+
```"#,
    argument(
        name = "path",
        description = "The file to write (replaced if it exists)."
    ),
    argument(name = "audio", description = "The clip."),
    argument(name = "sr", description = "Its sample rate in Hz.")
)]
#[derive(Debug, Default, PartialEq, Eq, Hash)]
pub struct WriteWav;

static DOC: WriteWav = WriteWav;

impl RowFunction for WriteWav {
    const NAME: &'static str = "write_wav";
    const ARGS: &'static [ArgSpec] = &[
        arg("path", Kind::Text),
        arg("audio", Kind::Audio),
        arg("sr", Kind::Float),
    ];
    const OUT: OutKind = OutKind::Float;
    const SIDE_EFFECTS: bool = true;

    fn doc() -> Option<&'static Documentation> {
        DOC.doc()
    }

    fn validate(p: &dyn Params) -> Result<(), AudioError> {
        check_sample_rate(p, 2)
    }

    fn compute(row: &Row<'_>) -> Result<Value, AudioError> {
        let sr = row.sample_rate(2)?;
        let path = row.text(0).unwrap_or_default();
        let audio = row.audio(1)?;
        row.check_memory(
            &format!("argument 'audio' ({} samples) as a WAV file", audio.len()),
            wav_bytes(audio.len()),
        )?;
        write_wav(std::path::Path::new(path), audio, sr)?;
        Ok(Value::Float(audio.len() as f64 / f64::from(sr)))
    }
}
