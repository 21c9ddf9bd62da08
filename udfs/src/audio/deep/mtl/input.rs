//! What a clip looks like to `mtl_cnn` (thesis §2.3.1, *Audio preprocessing*): dB mel
//! spectrograms with one channel per audio channel, standardised per mel band with statistics
//! of the training clips, cut into crops of a fixed number of frames.
//!
//! Definitions:
//! - Mel spectrogram of one channel: librosa's `melspectrogram` (STFT n_fft 1024, hop 256 for
//!   `mtl_cnn` (Table 2.3) or 512 for `agf_cnn` (§3.3.3: 46 ms frames, 50 % overlap), periodic Hann, centred with zero padding; power spectrum; 128 Slaney bands from 0 Hz to
//!   `sr / 2` with float32 weights) then `power_to_db` (`10·log10(max(S, 1e-10))` floored 80 dB
//!   below the channel's maximum), in float32. Frames × bands.
//! - Channels: the model's `channels` (2, the thesis' stereo, or 1). A mono clip given to a
//!   two-channel model fills both channels; a clip with several channels given to a mono model
//!   is averaged sample by sample first; a two-channel model takes the first two channels.
//! - Standardisation: `(v − mean_b) / std_b` per band `b`, with the mean and the population
//!   standard deviation over every frame of every channel of every training clip (floored at
//!   1e-6), stored in the model.
//! - Storage: `channels × frames × 128` float32 values per clip, channel after channel.

use serde::{Deserialize, Serialize};

use crate::audio::kernels::mel::{MelFilterBank, MelParams};
use crate::audio::kernels::stft::{power_to_db, Precision, Spectrum, StftParams, StftPlan};
use crate::audio::kernels::AudioError;

/// FFT length.
pub const N_FFT: usize = 1024;
/// Hop between frames, in samples, of `mtl_cnn` (Table 2.3's input).
pub const HOP: usize = 256;
/// Mel bands.
pub const BANDS: usize = 128;
/// The sample rate of the thesis' input (Hz).
pub const SAMPLE_RATE: u32 = 22_050;
/// Floor of the standard deviations.
const STD_FLOOR: f32 = 1e-6;

/// The shortest clip (in samples) that gives `frames` frames at hop `hop`.
pub fn min_samples(frames: usize, hop: usize) -> usize {
    frames.saturating_sub(1) * hop
}

/// The STFT and filter bank of the input (build once, share across clips and threads).
pub struct MelPlan {
    stft: StftPlan,
    bank: MelFilterBank,
}

impl MelPlan {
    /// The plan for frames `hop` samples apart.
    pub fn new(hop: usize) -> Result<MelPlan, AudioError> {
        Ok(MelPlan {
            stft: StftPlan::new(StftParams {
                precision: Precision::F32,
                ..StftParams::librosa(N_FFT, hop)
            })?,
            bank: MelFilterBank::new(SAMPLE_RATE, N_FFT, &MelParams::default())?,
        })
    }

    /// The dB mel spectrogram of one channel: `frames × 128` values.
    pub fn channel(&self, audio: &[f32]) -> Result<(usize, Vec<f32>), AudioError> {
        let mut mel = self
            .stft
            .map_frames(audio, Spectrum::Power, BANDS, &self.bank)?;
        power_to_db(&mut mel, 1e-10, Some(80.0), Precision::F32)?;
        Ok((mel.n_frames, mel.data.iter().map(|&v| v as f32).collect()))
    }

    /// The spectrogram of a clip given as its channels, with `channels` channels (see the
    /// module documentation for how channels are matched).
    pub fn clip(&self, audio: &[&[f32]], channels: usize) -> Result<Mel, AudioError> {
        let Some(first) = audio.first() else {
            return Err(AudioError::BadInput("the clip has no channels".to_string()));
        };
        if let Some(c) = audio.iter().find(|c| c.len() != first.len()) {
            return Err(AudioError::BadInput(format!(
                "the clip's channels differ in length ({} and {} samples)",
                first.len(),
                c.len()
            )));
        }
        let mut values = Vec::new();
        let mut frames = 0;
        if channels == 1 && audio.len() > 1 {
            let n = audio.len() as f32;
            let mono: Vec<f32> = (0..first.len())
                .map(|i| audio.iter().map(|c| c[i]).sum::<f32>() / n)
                .collect();
            let (f, v) = self.channel(&mono)?;
            frames = f;
            values = v;
        } else {
            for k in 0..channels {
                let (f, v) = self.channel(audio[k.min(audio.len() - 1)])?;
                frames = f;
                values.extend(v);
            }
        }
        Ok(Mel {
            channels,
            frames,
            values,
        })
    }
}

/// A clip's mel spectrogram: `channels × frames × 128` values.
#[derive(Clone, Debug, PartialEq)]
pub struct Mel {
    pub channels: usize,
    pub frames: usize,
    pub values: Vec<f32>,
}

impl Mel {
    /// Appends `crop` frames from `start` of every channel to `out` (`channels × crop × 128`).
    pub fn crop_into(&self, start: usize, crop: usize, out: &mut Vec<f32>) {
        for c in 0..self.channels {
            let base = c * self.frames * BANDS;
            out.extend_from_slice(
                &self.values[base + start * BANDS..base + (start + crop) * BANDS],
            );
        }
    }
}

/// Per-band standardisation.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BandStats {
    pub mean: Vec<f32>,
    pub std: Vec<f32>,
}

impl BandStats {
    /// Mean and population standard deviation per band over every frame of every channel of
    /// `clips` (in f64); an error when there are no frames.
    pub fn fit(clips: &[Mel]) -> Result<BandStats, AudioError> {
        let n: usize = clips.iter().map(|c| c.values.len() / BANDS).sum();
        if n == 0 {
            return Err(AudioError::BadInput(
                "no spectrogram frames to standardise with".to_string(),
            ));
        }
        let mut mean = vec![0.0f64; BANDS];
        for c in clips {
            for frame in c.values.chunks_exact(BANDS) {
                for (m, &v) in mean.iter_mut().zip(frame) {
                    *m += f64::from(v);
                }
            }
        }
        mean.iter_mut().for_each(|m| *m /= n as f64);
        let mut var = vec![0.0f64; BANDS];
        for c in clips {
            for frame in c.values.chunks_exact(BANDS) {
                for ((s, &v), m) in var.iter_mut().zip(frame).zip(&mean) {
                    *s += (f64::from(v) - m).powi(2);
                }
            }
        }
        Ok(BandStats {
            mean: mean.iter().map(|&m| m as f32).collect(),
            std: var
                .iter()
                .map(|&s| ((s / n as f64).sqrt() as f32).max(STD_FLOOR))
                .collect(),
        })
    }

    /// Standardises a spectrogram in place.
    pub fn apply(&self, m: &mut Mel) {
        for frame in m.values.chunks_exact_mut(BANDS) {
            for ((v, mu), sd) in frame.iter_mut().zip(&self.mean).zip(&self.std) {
                *v = (*v - mu) / sd;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audio::kernels::stft::power_spectrogram;

    fn tone(n: usize, hz: f32, amp: f32) -> Vec<f32> {
        (0..n)
            .map(|i| amp * (std::f32::consts::TAU * hz * i as f32 / 22050.0).sin())
            .collect()
    }

    #[test]
    fn channels_are_db_mel_spectrograms() {
        let plan = MelPlan::new(HOP).unwrap();
        let (l, r) = (
            tone(min_samples(216, HOP), 440.0, 0.5),
            tone(min_samples(216, HOP), 2000.0, 0.1),
        );
        let m = plan.clip(&[&l, &r], 2).unwrap();
        assert_eq!((m.channels, m.frames), (2, 216));
        // Independently: f64 power spectrogram, dense mel bank, dB by hand (right channel).
        let p = power_spectrogram(&r, &StftParams::librosa(N_FFT, HOP)).unwrap();
        let bank = MelFilterBank::new(SAMPLE_RATE, N_FFT, &MelParams::default())
            .unwrap()
            .dense();
        let mut mel = vec![0.0f64; 216 * BANDS];
        for t in 0..216 {
            for b in 0..BANDS {
                mel[t * BANDS + b] = (0..bank.dim)
                    .map(|k| bank.data[b * bank.dim + k] * p.data[t * p.dim + k])
                    .sum::<f64>();
            }
        }
        let db: Vec<f64> = mel.iter().map(|v| 10.0 * v.max(1e-10).log10()).collect();
        let top = db.iter().cloned().fold(f64::MIN, f64::max);
        for t in [0, 100, 215] {
            for b in [5, 40, 127] {
                let want = db[t * BANDS + b].max(top - 80.0);
                let got = f64::from(m.values[216 * BANDS + t * BANDS + b]);
                assert!((got - want).abs() < 2e-2, "{t} {b}: {got} {want}");
            }
        }
        // Mono into two channels duplicates; two channels into one averages the samples.
        let dup = plan.clip(&[&l], 2).unwrap();
        assert_eq!(dup.values[..216 * BANDS], dup.values[216 * BANDS..]);
        let avg: Vec<f32> = l.iter().zip(&r).map(|(a, b)| (a + b) / 2.0).collect();
        assert_eq!(
            plan.clip(&[&l, &r], 1).unwrap(),
            plan.clip(&[&avg], 1).unwrap()
        );
        assert!(plan.clip(&[&l, &r[1..]], 2).is_err());
    }

    #[test]
    fn standardised_bands_have_zero_mean_and_unit_variance() {
        let plan = MelPlan::new(HOP).unwrap();
        let clips: Vec<Mel> = [220.0, 990.0]
            .iter()
            .map(|&hz| plan.clip(&[&tone(20_000, hz, 0.3)], 2).unwrap())
            .collect();
        let st = BandStats::fit(&clips).unwrap();
        let mut all = clips.clone();
        all.iter_mut().for_each(|c| st.apply(c));
        for b in [3, 64, 120] {
            let v: Vec<f64> = all
                .iter()
                .flat_map(|c| c.values.chunks_exact(BANDS).map(move |f| f64::from(f[b])))
                .collect();
            let mean = v.iter().sum::<f64>() / v.len() as f64;
            let var = v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / v.len() as f64;
            assert!(
                mean.abs() < 1e-4 && (var - 1.0).abs() < 1e-3,
                "{b} {mean} {var}"
            );
        }
        // Crops take the same frames of every channel.
        let mut out = Vec::new();
        all[0].crop_into(3, 2, &mut out);
        let f = all[0].frames;
        assert_eq!(out[..2 * BANDS], all[0].values[3 * BANDS..5 * BANDS]);
        assert_eq!(
            out[2 * BANDS..],
            all[0].values[(f + 3) * BANDS..(f + 5) * BANDS]
        );
    }
}
