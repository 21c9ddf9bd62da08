//! The `options` argument of the feature functions (`stft_db`, `melspectrogram`, `mfcc`).
//!
//! The feature functions default to librosa's parameters (or the thesis' where the function is
//! the thesis' input representation); a study that used others names them in a constant string
//! of `name = value` pairs, e.g. `'n_fft = 1024, hop = 256, window = hann_symmetric'`. This
//! module parses that string once into changes of the kernels' parameter structs, with errors
//! that name the option.

use super::kernels::mel::MelParams;
use super::kernels::stft::{PadMode, Precision, StftParams, Window};

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

fn number(name: &str, value: &str) -> Result<f64, String> {
    value
        .parse::<f64>()
        .ok()
        .filter(|v| v.is_finite())
        .ok_or_else(|| format!("option {name} must be a number, got '{value}'"))
}

fn count(name: &str, value: &str, min: usize) -> Result<usize, String> {
    value
        .parse::<usize>()
        .ok()
        .filter(|&v| v >= min)
        .ok_or_else(|| format!("option {name} must be an integer ≥ {min}, got '{value}'"))
}

impl FeatureParams {
    /// Applies `text` (`name = value` pairs separated by commas) to `self`.
    pub fn with_options(mut self, text: &str) -> Result<FeatureParams, String> {
        for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let Some((name, value)) = part.split_once('=') else {
                return Err(format!("option '{part}' is not of the form name = value"));
            };
            let name = name.trim().to_ascii_lowercase();
            let value = value.trim().trim_matches('\'').trim_matches('"');
            match name.as_str() {
                "n_fft" => self.stft.n_fft = count(&name, value, 2)?,
                "hop" => self.stft.hop = count(&name, value, 1)?,
                "window" => {
                    self.stft.window = match value.to_ascii_lowercase().as_str() {
                        "hann" | "hann_periodic" => Window::HannPeriodic,
                        "hann_symmetric" => Window::HannSymmetric,
                        _ => {
                            return Err(format!(
                                "option window must be hann or hann_symmetric, got '{value}'"
                            ))
                        }
                    }
                }
                "center" => {
                    self.stft.center = match value.to_ascii_lowercase().as_str() {
                        "true" => true,
                        "false" => false,
                        _ => {
                            return Err(format!(
                                "option center must be true or false, got '{value}'"
                            ))
                        }
                    }
                }
                "pad" => {
                    self.stft.pad = match value.to_ascii_lowercase().as_str() {
                        "constant" | "zeros" => PadMode::Constant,
                        "reflect" => PadMode::Reflect,
                        _ => {
                            return Err(format!(
                                "option pad must be constant or reflect, got '{value}'"
                            ))
                        }
                    }
                }
                "precision" => {
                    self.stft.precision = match value.to_ascii_lowercase().as_str() {
                        "f32" | "float32" => Precision::F32,
                        "f64" | "float64" => Precision::F64,
                        _ => {
                            return Err(format!(
                                "option precision must be f32 or f64, got '{value}'"
                            ))
                        }
                    }
                }
                "n_mels" => self.mel.n_mels = count(&name, value, 1)?,
                "fmin" => self.mel.fmin = number(&name, value)?,
                "fmax" => self.mel.fmax = Some(number(&name, value)?),
                "top_db" => {
                    self.top_db = if value.eq_ignore_ascii_case("none") {
                        None
                    } else {
                        match value.parse::<f64>() {
                            Ok(v) if v.is_finite() && v >= 0.0 => Some(v),
                            _ => {
                                return Err(format!(
                                    "option top_db must be a number ≥ 0 or none, got '{value}'"
                                ))
                            }
                        }
                    }
                }
                _ => {
                    let known: Vec<&str> = OPTION_NAMES.iter().map(|o| o.0).collect();
                    return Err(format!(
                        "unknown option '{name}' (known: {})",
                        known.join(", ")
                    ));
                }
            }
        }
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
    fn bad_options_name_the_problem() {
        for (text, needle) in [
            ("n_fft = 1", "n_fft"),
            ("hop = x", "hop"),
            ("window = hamming", "window"),
            ("speed = 2", "unknown option 'speed'"),
            ("n_fft", "name = value"),
            ("top_db = -3", "top_db"),
        ] {
            let e = base().with_options(text).unwrap_err();
            assert!(e.contains(needle), "{text}: {e}");
        }
    }
}
