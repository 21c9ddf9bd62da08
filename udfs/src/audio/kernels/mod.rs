//! The numeric kernels of the audio functions: plain Rust on slices and [`frames::Frames`],
//! no Arrow, each checked against librosa's outputs in `shared/reference/audio`, reference values
//! of other tools kept in `udfs/tests/data/audio`, or brute-force definitions in its tests.

pub mod codec;
pub mod consistency;
pub mod distance;
pub mod dtw;
pub mod error;
pub mod fastlog;
pub mod frames;
pub mod loudness;
pub mod mel;
pub mod mfcc;
pub mod midi;
pub mod noise;
pub mod resample;
pub mod sdr;
pub mod simple;
pub mod stft;
pub mod synth;
#[cfg(test)]
pub mod testdata;
pub mod vocoder;
pub mod wav_header;

pub use error::AudioError;

/// An error naming `what` and the first sample that is NaN or infinite; every kernel that takes
/// samples checks them with this before working on them.
pub fn check_finite(what: &str, samples: &[f32]) -> Result<(), AudioError> {
    // A branch-free pass first (it vectorises): |v|'s bits plus the lowest exponent bit reach
    // bit 31 exactly when the exponent is all ones (infinity or NaN). The position only when
    // one is bad.
    let high = samples.iter().fold(0u32, |acc, v| {
        acc | ((v.to_bits() & 0x7fff_ffff) + 0x0080_0000)
    });
    if high & 0x8000_0000 == 0 {
        return Ok(());
    }
    match samples.iter().position(|v| !v.is_finite()) {
        Some(i) => Err(AudioError::NotFinite {
            what: what.to_string(),
            index: i,
            value: samples[i],
        }),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn check_finite_names_the_first_bad_sample() {
        assert!(super::check_finite("clip", &[0.0, 1.0]).is_ok());
        let e = super::check_finite("clip", &[0.0, f32::NAN, f32::INFINITY])
            .unwrap_err()
            .to_string();
        assert_eq!(e.to_string(), "clip: sample 1 is not finite (NaN)");
        // The edges of the finite range, and every kind of non-finite value, anywhere.
        let edges = [f32::MAX, f32::MIN, f32::MIN_POSITIVE, -0.0, 1e-45, -1e-45];
        assert!(super::check_finite("clip", &edges).is_ok());
        for bad in [f32::NAN, -f32::NAN, f32::INFINITY, f32::NEG_INFINITY] {
            for at in [0, 17, 999] {
                let mut v = vec![0.25f32; 1000];
                v[at] = bad;
                let e = super::check_finite("clip", &v).unwrap_err().to_string();
                assert!(e.starts_with(&format!("clip: sample {at} ")), "{e}");
            }
        }
    }
}
