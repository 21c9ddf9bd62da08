//! `transform_audio(audio, sr, transform, magnitude [, seed [, noise]])`: one of the robustness
//! study's five transformations (SPEC §7, thesis Fig. 4.3) chosen by its code, so that a table
//! of (transform, magnitude) pairs such as `sql/experiments/transformations.csv` applies to clips
//! with one call instead of a `CASE` over the five functions in every experiment script.

use datafusion::logical_expr::Documentation;
use datafusion_macros::user_doc;

use super::adapter::{
    arg, check_finite_param, check_range_param, check_sample_rate, opt, ArgSpec, Kind, OutKind,
    Params, Row, RowFunction, Value,
};
use super::kernels::codec::mp3_roundtrip;
use super::kernels::noise::{add_pink_noise, mix_at_snr};
use super::kernels::vocoder::{
    pitch_shift, pitch_shift_bytes, stretch_bytes, tempo_shift, MAX_RATE, MAX_SEMITONES, MIN_RATE,
};
use super::kernels::AudioError;

#[user_doc(
    doc_section(label = "Audio Functions"),
    description = "A clip under one of the robustness study's transformations, chosen by its code: 'PS' pitch_shift(audio, sr, magnitude) in semitones, 'TS' tempo_shift(audio, sr, magnitude) as a rate, 'PN' add_pink_noise(audio, magnitude, seed) at an SNR in dB, 'EN' mix_noise(audio, noise, magnitude, seed) at an SNR in dB, 'MP' mp3_roundtrip(audio, sr, magnitude) at a bit rate in kb/s (a whole number). Each gives exactly what the named function gives. seed is needed by PN and EN, noise by EN; the others ignore them. Codes are case-insensitive; any other is an error that lists them.",
    syntax_example = "transform_audio(audio, sr, transform, magnitude [, seed [, noise]])",
    sql_example = r#"```sql
> SELECT transform_audio(a, 22050, 'PN', 20, 42) = add_pink_noise(a, 20, 42) AS same FROM (SELECT array_agg(CAST(0.1 * sin(value * 0.2849517) AS FLOAT)) AS a FROM generate_series(1, 22050));
+------+
| same |
+------+
| true |
+------+
```"#,
    argument(name = "audio", description = "The clip."),
    argument(name = "sr", description = "Its sample rate in Hz."),
    argument(
        name = "transform",
        description = "The transformation's code: 'PS', 'TS', 'PN', 'EN' or 'MP'."
    ),
    argument(
        name = "magnitude",
        description = "Semitones (PS), rate (TS), SNR in dB (PN, EN) or kb/s (MP)."
    ),
    argument(name = "seed", description = "The noise's seed (PN, EN)."),
    argument(name = "noise", description = "The noise recording mixed in (EN).")
)]
#[derive(Debug, Default, PartialEq, Eq, Hash)]
pub struct TransformAudio;

static DOC: TransformAudio = TransformAudio;

/// The five transformations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Transform {
    PitchShift,
    TempoShift,
    PinkNoise,
    EnvironmentalNoise,
    Mp3,
}

const CODES: &str = "'PS', 'TS', 'PN', 'EN' or 'MP'";

fn transform(code: &str) -> Result<Transform, AudioError> {
    Ok(match code.to_ascii_uppercase().as_str() {
        "PS" => Transform::PitchShift,
        "TS" => Transform::TempoShift,
        "PN" => Transform::PinkNoise,
        "EN" => Transform::EnvironmentalNoise,
        "MP" => Transform::Mp3,
        _ => {
            return Err(AudioError::BadParameter(format!(
                "unknown transformation '{code}' (expected {CODES})"
            )))
        }
    })
}

/// An MP3 magnitude as a bit rate in kb/s.
fn kbps(magnitude: f64) -> Result<u32, AudioError> {
    if magnitude.fract() == 0.0 && (1.0..=f64::from(u32::MAX)).contains(&magnitude) {
        Ok(magnitude as u32)
    } else {
        Err(AudioError::BadParameter(format!(
            "MP's magnitude is a bit rate in kb/s, a positive whole number, got {magnitude}"
        )))
    }
}

impl RowFunction for TransformAudio {
    const NAME: &'static str = "transform_audio";
    const ARGS: &'static [ArgSpec] = &[
        arg("audio", Kind::Audio),
        arg("sr", Kind::Float),
        arg("transform", Kind::Text),
        arg("magnitude", Kind::Float),
        opt("seed", Kind::Int),
        opt("noise", Kind::Audio),
    ];
    const OUT: OutKind = OutKind::Audio;

    fn doc() -> Option<&'static Documentation> {
        DOC.doc()
    }

    fn validate(p: &dyn Params) -> Result<(), AudioError> {
        check_sample_rate(p, 1)?;
        check_finite_param(p, 3, "magnitude")?;
        match p.text(2).map(transform).transpose()? {
            Some(Transform::Mp3) => p.float(3).map_or(Ok(()), |m| kbps(m).map(|_| ())),
            Some(Transform::PitchShift) => check_range_param(
                p,
                3,
                "PS's magnitude (semitones)",
                -MAX_SEMITONES,
                MAX_SEMITONES,
            ),
            Some(Transform::TempoShift) => {
                check_range_param(p, 3, "TS's magnitude (a rate)", MIN_RATE, MAX_RATE)
            }
            _ => Ok(()),
        }
    }

    fn compute(row: &Row<'_>) -> Result<Value, AudioError> {
        let audio = row.audio(0)?;
        let sr = row.sample_rate(1)?;
        let t = transform(row.text(2).unwrap_or_default())?;
        let magnitude = row.req_float(3)?;
        let seed = || match row.int(4) {
            Some(s) => Ok(s as u64),
            None => Err(AudioError::BadParameter(format!(
                "{} needs a seed (argument 5)",
                row.text(2).unwrap_or_default()
            ))),
        };
        let n = audio.len();
        Ok(Value::Samples(match t {
            Transform::PitchShift => {
                row.check_memory(
                    &format!("argument 'magnitude' = {magnitude} semitones ({n} samples)"),
                    pitch_shift_bytes(n, magnitude),
                )?;
                pitch_shift(audio, f64::from(sr), magnitude)?
            }
            Transform::TempoShift => {
                row.check_memory(
                    &format!("argument 'magnitude' = rate {magnitude} ({n} samples)"),
                    stretch_bytes(n, magnitude),
                )?;
                tempo_shift(audio, f64::from(sr), magnitude)?
            }
            Transform::PinkNoise => add_pink_noise(audio, magnitude, seed()?)?,
            Transform::EnvironmentalNoise => {
                if !row.has(5) {
                    return Err(AudioError::BadParameter(
                        "EN needs a noise recording (argument 6)".to_string(),
                    ));
                }
                mix_at_snr(audio, row.audio(5)?, magnitude, seed()?)?
            }
            Transform::Mp3 => mp3_roundtrip(audio, sr, kbps(magnitude)?)?,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_case_insensitive_and_unknown_ones_listed() {
        assert_eq!(transform("ps").ok(), Some(Transform::PitchShift));
        assert_eq!(transform("EN").ok(), Some(Transform::EnvironmentalNoise));
        let e = transform("XX").expect_err("unknown").to_string();
        assert!(e.contains("'XX'") && e.contains(CODES), "{e}");
    }

    #[test]
    fn mp3_magnitudes_are_whole_bit_rates() {
        assert_eq!(kbps(320.0).ok(), Some(320));
        assert!(kbps(320.5).is_err());
        assert!(kbps(0.0).is_err());
        assert!(kbps(-64.0).is_err());
    }
}
