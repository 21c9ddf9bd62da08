//! The `options` argument of the feature functions (`stft_db`, `melspectrogram`, `mfcc`).
//!
//! The feature functions default to librosa's parameters (or the thesis' where the function is
//! the thesis' input representation); a study that used others names them in a constant string
//! of `name = value` pairs, e.g. `'n_fft = 1024, hop = 256, window = hann_symmetric'`. This
//! module parses that string once into changes of the kernels' parameter structs, with errors
//! that name the option. [`for_each_option`] and [`flag`] are the grammar every audio function
//! with such a string shares (`render_midi` too).

use super::kernels::error::check_memory;
use super::kernels::mel::MelParams;
use super::kernels::stft::{PadMode, Precision, StftParams, Window};
use super::kernels::AudioError;

/// The options every feature function accepts, with their meaning.
pub const OPTION_NAMES: [(&str, &str); 10] = [
    ("n_fft", "FFT and window length in samples"),
    ("hop", "samples between frames"),
    (
        "window",
        "hann (periodic, librosa) or hann_symmetric (the study's)",
    ),
    (
        "center",
        "true: frames centred on t·hop with n_fft/2 padding each side",
    ),
    (
        "pad",
        "padding when centred: constant (zeros, librosa) or reflect",
    ),
    ("n_mels", "mel bands"),
    ("fmin", "lowest mel edge in Hz"),
    ("fmax", "highest mel edge in Hz"),
    ("top_db", "dB floor below the maximum, or none"),
    (
        "precision",
        "f32 or f64: what the STFT and mel bands are computed in",
    ),
];

/// Parameters after the options are applied.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct FeatureParams {
    /// The STFT.
    pub stft: StftParams,
    /// The mel bank (ignored by functions without one).
    pub mel: MelParams,
    /// The dB floor (ignored by functions without dB).
    pub top_db: Option<f64>,
}

/// Calls `apply(name, value)` for each `name = value` pair of `text`, pairs separated by commas
/// (empty ones skipped): the name trimmed and lowercased, the value trimmed and stripped of
/// quotes. A pair without `=` is an error; `apply` words the errors about a name or value.
pub fn for_each_option(
    text: &str,
    mut apply: impl FnMut(&str, &str) -> Result<(), AudioError>,
) -> Result<(), AudioError> {
    for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let Some((name, value)) = part.split_once('=') else {
            return Err(AudioError::BadParameter(format!(
                "option '{part}' is not of the form name = value"
            )));
        };
        let name = name.trim().to_ascii_lowercase();
        apply(&name, value.trim().trim_matches('\'').trim_matches('"'))?;
    }
    Ok(())
}

/// A `true` / `false` option (any case).
pub fn flag(name: &str, value: &str) -> Result<bool, AudioError> {
    match value.to_ascii_lowercase().as_str() {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => Err(AudioError::BadParameter(format!(
            "option {name} must be true or false, got '{value}'"
        ))),
    }
}

fn number(name: &str, value: &str) -> Result<f64, AudioError> {
    value
        .parse::<f64>()
        .ok()
        .filter(|v| v.is_finite())
        .ok_or_else(|| {
            AudioError::BadParameter(format!("option {name} must be a number, got '{value}'"))
        })
}

/// The largest value a count option may take; what it sizes is then checked against the
/// session's memory limit ([`check_feature_memory`]).
pub const MAX_COUNT: usize = u32::MAX as usize;

fn count(name: &str, value: &str, min: usize) -> Result<usize, AudioError> {
    value
        .parse::<usize>()
        .ok()
        .filter(|&v| (min..=MAX_COUNT).contains(&v))
        .ok_or_else(|| {
            AudioError::BadParameter(format!(
                "option {name} must be an integer between {min} and {MAX_COUNT}, got '{value}'"
            ))
        })
}

/// Checks, before anything is allocated, that the features of a clip of `n_samples` fit the
/// session's memory limit (`limit`, bytes): the FFT plan and padded signal (`n_fft`), the mel
/// filter bank (`n_mels`, 0 without one) and DCT (`n_mfcc`, 0 without one), and the output of
/// `out_dim` values per frame (`hop` sets the number of frames, the option `out_option` names
/// sets `out_dim`). The estimate counts the largest buffers; the error names the option or
/// options that need the most.
pub fn check_feature_memory(
    stft: &StftParams,
    n_mels: usize,
    n_mfcc: usize,
    (out_option, out_dim): (&str, usize),
    n_samples: usize,
    limit: u64,
) -> Result<(), AudioError> {
    let n_fft = stft.n_fft as f64;
    let n_bins = stft.n_bins() as f64;
    let padded = n_samples as f64 + if stft.center { n_fft } else { 0.0 };
    let frames = ((padded - n_fft) / stft.hop.max(1) as f64).floor().max(0.0) + 1.0;
    let bank = if n_mels > 0 {
        n_mels as f64 * 64.0 + n_bins * 24.0
    } else {
        0.0
    };
    let parts = [
        // Complex buffers, scratch and twiddles of the FFT; the signal as f64.
        (
            format!("option 'n_fft' = {}", stft.n_fft),
            n_fft * 64.0 + padded * 8.0,
        ),
        (format!("option 'n_mels' = {n_mels}"), bank),
        (
            format!("option 'n_mfcc' = {n_mfcc}"),
            n_mfcc as f64 * n_mels as f64 * 4.0,
        ),
        // f64 frames, then their f32 copy in the result.
        (
            format!(
                "options 'hop' = {} and '{out_option}' ({frames} frames of {out_dim} values)",
                stft.hop
            ),
            frames * out_dim as f64 * 12.0,
        ),
    ];
    let total: f64 = parts.iter().map(|p| p.1).sum();
    let what = parts
        .iter()
        .max_by(|a, b| a.1.total_cmp(&b.1))
        .map_or("the options", |p| p.0.as_str());
    check_memory(what, total, limit)
}

impl FeatureParams {
    /// Applies `text` (`name = value` pairs separated by commas) to `self`.
    pub fn with_options(mut self, text: &str) -> Result<FeatureParams, AudioError> {
        for_each_option(text, |name, value| {
            match name {
                "n_fft" => self.stft.n_fft = count(name, value, 2)?,
                "hop" => self.stft.hop = count(name, value, 1)?,
                "window" => {
                    self.stft.window = match value.to_ascii_lowercase().as_str() {
                        "hann" | "hann_periodic" => Window::HannPeriodic,
                        "hann_symmetric" => Window::HannSymmetric,
                        _ => {
                            return Err(AudioError::BadParameter(format!(
                                "option window must be hann or hann_symmetric, got '{value}'"
                            )))
                        }
                    }
                }
                "center" => self.stft.center = flag(name, value)?,
                "pad" => {
                    self.stft.pad = match value.to_ascii_lowercase().as_str() {
                        "constant" | "zeros" => PadMode::Constant,
                        "reflect" => PadMode::Reflect,
                        _ => {
                            return Err(AudioError::BadParameter(format!(
                                "option pad must be constant or reflect, got '{value}'"
                            )))
                        }
                    }
                }
                "precision" => {
                    self.stft.precision = match value.to_ascii_lowercase().as_str() {
                        "f32" | "float32" => Precision::F32,
                        "f64" | "float64" => Precision::F64,
                        _ => {
                            return Err(AudioError::BadParameter(format!(
                                "option precision must be f32 or f64, got '{value}'"
                            )))
                        }
                    }
                }
                "n_mels" => self.mel.n_mels = count(name, value, 1)?,
                "fmin" => self.mel.fmin = number(name, value)?,
                "fmax" => self.mel.fmax = Some(number(name, value)?),
                "top_db" => {
                    self.top_db = if value.eq_ignore_ascii_case("none") {
                        None
                    } else {
                        match value.parse::<f64>() {
                            Ok(v) if v.is_finite() && v >= 0.0 => Some(v),
                            _ => {
                                return Err(AudioError::BadParameter(format!(
                                    "option top_db must be a number ≥ 0 or none, got '{value}'"
                                )))
                            }
                        }
                    }
                }
                _ => {
                    let known: Vec<&str> = OPTION_NAMES.iter().map(|o| o.0).collect();
                    return Err(AudioError::BadParameter(format!(
                        "unknown option '{name}' (known: {})",
                        known.join(", ")
                    )));
                }
            }
            Ok(())
        })?;
        self.stft.validate()?;
        Ok(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> FeatureParams {
        FeatureParams {
            stft: StftParams::librosa(2048, 512),
            mel: MelParams::default(),
            top_db: Some(80.0),
        }
    }

    #[test]
    fn options_change_the_named_parameters_only() {
        let p = base()
            .with_options(
                "n_fft = 1024, hop=256, window = 'hann_symmetric', pad = reflect, top_db = none",
            )
            .unwrap();
        assert_eq!(p.stft, StftParams::study());
        assert_eq!(p.top_db, None);
        assert_eq!(p.mel, MelParams::default());
        assert_eq!(base().with_options("").unwrap(), base());
    }

    #[test]
    fn huge_options_are_refused_before_allocating() {
        let p = base();
        let check =
            |stft: &StftParams, mels, out, n| check_feature_memory(stft, mels, 0, out, n, 1 << 30);
        assert!(check(&p.stft, 128, ("n_mels", 128), 22050 * 30).is_ok());
        // A whole-clip FFT of 2^30 points: 64 GiB for the plan, 8 GiB for the padded signal.
        let huge_fft = StftParams {
            n_fft: 1 << 30,
            hop: 1 << 30,
            ..p.stft
        };
        let e = check(&huge_fft, 0, ("n_fft", 2), 22050)
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("option 'n_fft' = 1073741824 needs about 72.0 GiB"),
            "{e}"
        );
        assert!(e.contains("limit of 1.0 GiB"), "{e}");
        let e = check(&p.stft, 100_000_000, ("n_mels", 1), 22050)
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("option 'n_mels' = 100000000 needs"), "{e}");
        // hop 1 on ten minutes: 13 million frames of 1025 values.
        let every = StftParams { hop: 1, ..p.stft };
        let e = check(&every, 0, ("n_fft", 1025), 22050 * 600)
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("options 'hop' = 1 and 'n_fft' (13230001 frames of 1025 values)"),
            "{e}"
        );
    }

    #[test]
    fn bad_options_name_the_problem() {
        for (text, needle) in [
            ("n_fft = 1", "n_fft"),
            ("hop = x", "hop"),
            ("window = hamming", "window"),
            ("speed = 2", "unknown option 'speed'"),
            ("n_fft", "name = value"),
            ("top_db = -3", "top_db"),
            ("n_fft = 99999999999", "between 2 and 4294967295"),
            ("n_mels = 0", "n_mels must be an integer between 1"),
            ("hop = -1", "hop must be an integer between 1"),
            ("fmin = NaN", "fmin must be a number"),
            ("fmax = inf", "fmax must be a number"),
        ] {
            let e = base().with_options(text).unwrap_err().to_string();
            assert!(e.contains(needle), "{text}: {e}");
        }
    }
}
