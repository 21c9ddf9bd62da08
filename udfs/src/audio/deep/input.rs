//! The deep encoders' input: what a clip looks like to the networks of Table 4.1. The thesis
//! feeds them dB magnitude spectrograms (SPEC §7: n_fft 1024, hop 256) standardised per
//! frequency bin with statistics of the training data, in crops of a fixed number of frames;
//! this module computes exactly that, on slices, for training and for embedding alike.
//!
//! Definitions:
//! - Spectrogram: `stft_db(audio)` with its defaults (librosa's STFT: n_fft 1024, hop 256,
//!   periodic Hann, centred with zero padding; `20·log10(max(|X|, 1e-5))` floored 80 dB below
//!   the clip's maximum), in float32, keeping the first [`BINS`] = 512 of the 513 bins (Table
//!   4.1's input has 512; the Nyquist bin is dropped). Frames × bins, frame after frame.
//! - Standardisation: `(v − mean_b) / std_b` per bin `b`, with the mean and the population
//!   standard deviation over every frame of every training clip (floored at 1e-6 so that a
//!   constant bin does not divide by zero), stored in the model.
//! - Crops: `crop` consecutive frames. Training draws crop starts uniformly at random (seeded);
//!   embedding cuts a clip into consecutive non-overlapping crops from its first frame, leaving
//!   out a remainder shorter than a crop. A clip needs at least `crop` frames, i.e.
//!   `(crop − 1)·256` samples.

use crate::audio::kernels::frames::Frames;
use crate::audio::kernels::stft::{amplitude_to_db, Precision, StftParams, StftPlan};
use crate::audio::kernels::AudioError;

/// FFT length of the input spectrogram.
pub const N_FFT: usize = 1024;
/// Hop between frames, in samples.
pub const HOP: usize = 256;
/// Frequency bins kept per frame.
pub const BINS: usize = 512;
/// Floor of the standard deviations.
const STD_FLOOR: f32 = 1e-6;

/// The STFT of the input representation (build once, share across clips and threads).
pub fn stft_plan() -> Result<StftPlan, AudioError> {
    StftPlan::new(StftParams {
        precision: Precision::F32,
        ..StftParams::librosa(N_FFT, HOP)
    })
}

/// A clip's spectrogram: `frames` × [`BINS`] values.
#[derive(Clone, Debug, PartialEq)]
pub struct Spectrogram {
    pub frames: usize,
    pub values: Vec<f32>,
}

impl Spectrogram {
    /// Frame `t`.
    pub fn frame(&self, t: usize) -> &[f32] {
        &self.values[t * BINS..(t + 1) * BINS]
    }

    /// `crop` frames from `start`, flattened.
    pub fn crop(&self, start: usize, crop: usize) -> &[f32] {
        &self.values[start * BINS..(start + crop) * BINS]
    }
}

fn keep_bins(f: &Frames) -> Spectrogram {
    let mut values = Vec::with_capacity(f.n_frames * BINS);
    for t in 0..f.n_frames {
        values.extend(f.frame(t)[..BINS].iter().map(|&v| v as f32));
    }
    Spectrogram {
        frames: f.n_frames,
        values,
    }
}

/// The dB spectrogram of a clip (see the module docs).
pub fn db_spectrogram(plan: &StftPlan, audio: &[f32]) -> Result<Spectrogram, AudioError> {
    let mut s = plan.magnitude(audio)?;
    amplitude_to_db(&mut s, 1e-5, Some(80.0), Precision::F32)?;
    Ok(keep_bins(&s))
}

/// The linear magnitude spectrogram of a clip (the separation task's mask applies to it).
pub fn magnitude_spectrogram(plan: &StftPlan, audio: &[f32]) -> Result<Spectrogram, AudioError> {
    Ok(keep_bins(&plan.magnitude(audio)?))
}

/// Per-bin standardisation.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Standardizer {
    pub mean: Vec<f32>,
    pub std: Vec<f32>,
}

impl Standardizer {
    /// Mean and population standard deviation per bin over every frame of `clips` (two passes,
    /// in f64); an error when there are no frames.
    pub fn fit(clips: &[Spectrogram]) -> Result<Standardizer, AudioError> {
        let n: usize = clips.iter().map(|c| c.frames).sum();
        if n == 0 {
            return Err(AudioError::BadInput(
                "no spectrogram frames to standardise with".to_string(),
            ));
        }
        let mut mean = vec![0.0f64; BINS];
        for c in clips {
            for t in 0..c.frames {
                for (m, &v) in mean.iter_mut().zip(c.frame(t)) {
                    *m += f64::from(v);
                }
            }
        }
        mean.iter_mut().for_each(|m| *m /= n as f64);
        let mut var = vec![0.0f64; BINS];
        for c in clips {
            for t in 0..c.frames {
                for ((s, &v), m) in var.iter_mut().zip(c.frame(t)).zip(&mean) {
                    *s += (f64::from(v) - m).powi(2);
                }
            }
        }
        Ok(Standardizer {
            mean: mean.iter().map(|&m| m as f32).collect(),
            std: var
                .iter()
                .map(|&s| ((s / n as f64).sqrt() as f32).max(STD_FLOOR))
                .collect(),
        })
    }

    /// Standardises a spectrogram in place.
    pub fn apply(&self, s: &mut Spectrogram) {
        for frame in s.values.chunks_exact_mut(BINS) {
            for ((v, m), sd) in frame.iter_mut().zip(&self.mean).zip(&self.std) {
                *v = (*v - m) / sd;
            }
        }
    }
}

/// The starts of the consecutive non-overlapping crops of a clip with `frames` frames, or an
/// error naming the clip length a crop needs.
pub fn embedding_crops(frames: usize, crop: usize) -> Result<Vec<usize>, AudioError> {
    if frames < crop {
        return Err(AudioError::BadInput(format!(
            "the clip has {frames} spectrogram frames but the model's crops have {crop}: it needs \
             at least {} samples",
            min_samples(crop)
        )));
    }
    Ok((0..frames / crop).map(|i| i * crop).collect())
}

/// The shortest clip (in samples) with `crop` frames.
pub fn min_samples(crop: usize) -> usize {
    crop.saturating_sub(1) * HOP
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audio::kernels::stft::magnitude_spectrogram as reference_magnitude;

    fn tone(n: usize, hz: f32) -> Vec<f32> {
        (0..n)
            .map(|i| 0.5 * (std::f32::consts::TAU * hz * i as f32 / 22050.0).sin())
            .collect()
    }

    #[test]
    fn spectrogram_is_stft_db_without_the_nyquist_bin() {
        let audio = tone(22050, 440.0);
        let plan = stft_plan().unwrap();
        let s = db_spectrogram(&plan, &audio).unwrap();
        assert_eq!(s.frames, 1 + 22050 / HOP);
        assert_eq!(s.values.len(), s.frames * BINS);
        // Independently: the f64 STFT, dB by hand.
        let m = reference_magnitude(&audio, &StftParams::librosa(N_FFT, HOP)).unwrap();
        let db: Vec<f64> = m.data.iter().map(|v| 20.0 * v.max(1e-5).log10()).collect();
        let max = db.iter().cloned().fold(f64::MIN, f64::max);
        for t in [0, 10, s.frames - 1] {
            for b in [0, 20, 511] {
                let expected = db[t * m.dim + b].max(max - 80.0);
                assert!(
                    (f64::from(s.frame(t)[b]) - expected).abs() < 1e-2,
                    "{t} {b}"
                );
            }
        }
        // The 440 Hz bin (440 / (22050/1024) ≈ 20.4) is the loudest in a middle frame.
        let mid = s.frame(40);
        let peak = (0..BINS)
            .max_by(|&a, &b| mid[a].total_cmp(&mid[b]))
            .unwrap();
        assert_eq!(peak, 20);
    }

    #[test]
    fn standardised_bins_have_zero_mean_and_unit_variance() {
        let plan = stft_plan().unwrap();
        let clips: Vec<Spectrogram> = [220.0, 330.0, 1000.0]
            .iter()
            .map(|&hz| db_spectrogram(&plan, &tone(10_000, hz)).unwrap())
            .collect();
        let st = Standardizer::fit(&clips).unwrap();
        let mut all = clips.clone();
        all.iter_mut().for_each(|c| st.apply(c));
        let n: usize = all.iter().map(|c| c.frames).sum();
        for b in [0, 100, 300] {
            let values: Vec<f64> = all
                .iter()
                .flat_map(|c| (0..c.frames).map(move |t| f64::from(c.frame(t)[b])))
                .collect();
            let mean = values.iter().sum::<f64>() / n as f64;
            let var = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n as f64;
            assert!(
                mean.abs() < 1e-4 && (var - 1.0).abs() < 1e-3,
                "bin {b}: {mean} {var}"
            );
        }
        assert!(Standardizer::fit(&[]).is_err());
    }

    #[test]
    fn crops_are_consecutive_and_short_clips_are_named() {
        assert_eq!(embedding_crops(300, 128).unwrap(), vec![0, 128]);
        assert_eq!(embedding_crops(128, 128).unwrap(), vec![0]);
        let e = embedding_crops(100, 128).unwrap_err().to_string();
        assert!(e.contains("at least 32512 samples"), "{e}");
        // A clip of exactly min_samples has exactly `crop` frames.
        let plan = stft_plan().unwrap();
        let s = db_spectrogram(&plan, &tone(min_samples(128), 300.0)).unwrap();
        assert_eq!(s.frames, 128);
    }
}
