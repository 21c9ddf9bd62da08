//! The numeric kernels of the audio functions: plain Rust on slices and [`frames::Frames`],
//! no Arrow, each checked against librosa's outputs in `shared/reference/audio`, reference values
//! of other tools kept in `udfs/tests/data/audio`, or brute-force definitions in its tests.

pub mod codec;
pub mod consistency;
pub mod distance;
pub mod dtw;
pub mod frames;
pub mod loudness;
pub mod mel;
pub mod mfcc;
pub mod noise;
pub mod resample;
pub mod simple;
pub mod stft;
#[cfg(test)]
pub mod testdata;
pub mod vocoder;

/// An error naming `what` and the first sample that is NaN or infinite; every kernel that takes
/// samples checks them with this before working on them.
pub fn check_finite(what: &str, samples: &[f32]) -> Result<(), String> {
    match samples.iter().position(|v| !v.is_finite()) {
        Some(i) => Err(format!("{what}: sample {i} is not finite ({})", samples[i])),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn check_finite_names_the_first_bad_sample() {
        assert!(super::check_finite("clip", &[0.0, 1.0]).is_ok());
        let e = super::check_finite("clip", &[0.0, f32::NAN, f32::INFINITY]).unwrap_err();
        assert_eq!(e, "clip: sample 1 is not finite (NaN)");
    }
}
