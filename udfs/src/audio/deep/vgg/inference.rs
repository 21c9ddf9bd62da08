//! The trained `vgg` model: embeddings, class probabilities, reconstruction errors and
//! separated sources, computed crop by crop in forward passes that fit the device.

use datafusion::common::{exec_datafusion_err, exec_err};
use datafusion::error::{DataFusionError, Result};
use rayon::prelude::*;
use tch::nn::Module;
use tch::{Device, Kind, Tensor};

use super::network::{crop_tensor, Nets};
use super::serialise::{self, State};
use super::{Task, CPU_PASS, CUDA_PASS};
use crate::audio::deep::input::{
    db_spectrogram, embedding_crops, min_samples, stft_plan, Spectrogram, BINS, HOP, N_FFT,
};
use crate::audio::deep::network::EMBEDDING_DIM;
use crate::audio::deep::{AudioEncoder, CropMeans, PerDevice};
use crate::common::tensors::{to_f32_vec, torch_err};
use crate::model::Model;

/// A trained `vgg` model.
pub struct VggModel {
    state: State,
    /// The networks, built on first use per device.
    nets: PerDevice<Nets>,
}

impl std::fmt::Debug for VggModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VggModel")
            .field("task", &self.state.task)
            .field("crop", &self.state.crop)
            .finish_non_exhaustive()
    }
}

impl VggModel {
    pub(super) fn from_state(state: State) -> VggModel {
        VggModel {
            state,
            nets: PerDevice::new(),
        }
    }

    /// Runs `f` on the networks for `device`, building them on first use.
    fn with_nets<R>(&self, device: Device, f: impl FnOnce(&Nets) -> Result<R>) -> Result<R> {
        let build = || {
            let mut nets = Nets::new(self.state.task, self.state.classes.len(), device);
            nets.import(&self.state.variables)?;
            // Trained: inference and tracing need no gradients.
            nets.vs.freeze();
            Ok(nets)
        };
        self.nets.with(device, build, f)
    }

    /// The standardised input spectrograms of `clips`; an error names the first clip that is
    /// too short or not finite.
    fn spectrograms(&self, clips: &[&[f32]]) -> Result<Vec<Spectrogram>> {
        let crop = self.state.crop;
        let plan = stft_plan().map_err(DataFusionError::from)?;
        clips
            .par_iter()
            .enumerate()
            .map(|(i, audio)| {
                let mut s = db_spectrogram(&plan, audio)
                    .and_then(|s| embedding_crops(s.frames, crop).map(|_| s))
                    .map_err(|e| exec_datafusion_err!("clip {}: {e}", i + 1))?;
                self.state.standardizer.apply(&mut s);
                Ok(s)
            })
            .collect()
    }

    /// Runs `per_crop(nets, x)` (`x`: `[n, 1, crop, 512]` standardised crops) on the `crops`
    /// (`(clip, start)` pairs into `specs`) in forward passes that fit `device`, handing each
    /// pass's crops and flattened output to `sink`.
    fn run_crops(
        &self,
        specs: &[Spectrogram],
        crops: &[(usize, usize)],
        device: Device,
        per_crop: impl Fn(&Nets, &Tensor) -> Tensor,
        mut sink: impl FnMut(&[(usize, usize)], Vec<f32>) -> Result<()>,
    ) -> Result<()> {
        let crop = self.state.crop;
        let pass = if device == Device::Cpu {
            CPU_PASS
        } else {
            CUDA_PASS
        };
        self.with_nets(device, |nets| {
            for group in crops.chunks(pass) {
                let x = crop_tensor(
                    group.iter().map(|&(i, s)| specs[i].crop(s, crop)),
                    crop,
                    device,
                );
                let y = tch::no_grad(|| per_crop(nets, &x));
                sink(group, to_f32_vec(&y)?)?;
            }
            Ok(())
        })
    }

    /// `per_crop` (as in [`Self::run_crops`], giving `[n, d]`) for every consecutive crop of
    /// every clip, averaged per clip.
    fn per_crop_means(
        &self,
        clips: &[&[f32]],
        device: Device,
        per_crop: impl Fn(&Nets, &Tensor) -> Tensor,
    ) -> Result<Vec<Vec<f32>>> {
        let specs = self.spectrograms(clips)?;
        // (clip, start) of every crop, clip by clip.
        let mut crops = Vec::new();
        for (i, s) in specs.iter().enumerate() {
            let starts =
                embedding_crops(s.frames, self.state.crop).map_err(DataFusionError::from)?;
            crops.extend(starts.into_iter().map(|start| (i, start)));
        }
        let mut means = CropMeans::new(clips.len());
        self.run_crops(&specs, &crops, device, per_crop, |group, rows| {
            let owners: Vec<usize> = group.iter().map(|&(i, _)| i).collect();
            means.add(&owners, &rows);
            Ok(())
        })?;
        Ok(means.finish())
    }

    /// An error unless the model was trained for `task`, naming what was asked of it.
    fn require(&self, task: Task, what: &str) -> Result<()> {
        if self.state.task == task {
            return Ok(());
        }
        exec_err!(
            "a model of task '{}' gives no {what} (only {} models do)",
            self.state.task.name(),
            task.name()
        )
    }

    /// The separation masks of `clips`: per clip, `frames × BINS` values in `[0, 1]` (see
    /// [`separation_crops`] for how crops cover the clip).
    fn masks(&self, clips: &[&[f32]], device: Device) -> Result<Vec<Vec<f32>>> {
        let crop = self.state.crop;
        let specs = self.spectrograms(clips)?;
        let mut crops = Vec::new();
        for (i, s) in specs.iter().enumerate() {
            crops.extend(
                separation_crops(s.frames, crop)
                    .into_iter()
                    .map(|st| (i, st)),
            );
        }
        let mut masks: Vec<Vec<f32>> = specs.iter().map(|s| vec![0.0; s.frames * BINS]).collect();
        // The first frame of each clip not yet given a mask.
        let mut filled = vec![0usize; clips.len()];
        let per_crop = |nets: &Nets, x: &Tensor| match &nets.decoder {
            Some(d) => d
                .forward_t(&nets.encoder.forward_t(x, false), false)
                .sigmoid(),
            None => x.zeros_like(),
        };
        self.run_crops(&specs, &crops, device, per_crop, |group, rows| {
            for (&(i, start), values) in group.iter().zip(rows.chunks_exact(crop * BINS)) {
                let from = filled[i].max(start);
                let (a, b) = (from * BINS, (start + crop) * BINS);
                masks[i][a..b].copy_from_slice(&values[(from - start) * BINS..]);
                filled[i] = start + crop;
            }
            Ok(())
        })?;
        Ok(masks)
    }
}

/// The crops that give a separation mask to every frame of a clip with `frames` frames: the
/// consecutive non-overlapping crops from the first frame and, when a remainder is left, one
/// more crop ending at the last frame, whose mask is used only for the remainder's frames.
fn separation_crops(frames: usize, crop: usize) -> Vec<usize> {
    let mut starts: Vec<usize> = (0..frames / crop).map(|i| i * crop).collect();
    if frames % crop != 0 && frames >= crop {
        starts.push(frames - crop);
    }
    starts
}

/// `audio` with its STFT (n_fft 1024, hop 256, periodic Hann, centred with zero padding, as the
/// input spectrogram) multiplied bin by bin by `mask` (`frames × BINS`; the Nyquist bin takes the
/// mask of the bin below it) and inverted (torch's `istft`: overlap-add normalised by the summed
/// squared window), `audio.len()` samples.
fn apply_mask(audio: &[f32], mask: &[f32], device: Device) -> Result<Vec<f32>> {
    let n = audio.len() as i64;
    let frames = (mask.len() / BINS) as i64;
    let window = Tensor::hann_window(N_FFT as i64, (Kind::Float, device));
    // Centred with zero padding: padded here, as torch refuses `align_to_window` when it
    // centres itself.
    let half = N_FFT as i64 / 2;
    let x = Tensor::from_slice(audio)
        .to_device(device)
        .constant_pad_nd([half, half]);
    let spec = x.f_stft_center(
        N_FFT as i64,
        HOP as i64,
        N_FFT as i64,
        Some(&window),
        false,
        "constant",
        false,
        true,
        true,
        false,
    );
    let spec = spec.map_err(torch_err)?;
    if spec.size() != [N_FFT as i64 / 2 + 1, frames] {
        return exec_err!(
            "internal: the mixture's STFT has shape {:?}, the mask {frames} frames",
            spec.size()
        );
    }
    let m = Tensor::from_slice(mask)
        .view([frames, BINS as i64])
        .to_device(device)
        .transpose(0, 1);
    let nyquist = m.narrow(0, BINS as i64 - 1, 1);
    let m = Tensor::cat(&[m, nyquist], 0);
    let out = (spec * m)
        .f_istft(
            N_FFT as i64,
            HOP as i64,
            N_FFT as i64,
            Some(&window),
            true,
            false,
            true,
            n,
            false,
        )
        .map_err(torch_err)?;
    to_f32_vec(&out)
}

impl Model for VggModel {
    fn describe(&self) -> Vec<(String, String)> {
        let s = &self.state;
        let params: usize = s.variables.iter().map(|v| v.values.len()).sum();
        let mut out = vec![
            ("task".to_string(), s.task.name().to_string()),
            ("embedding".to_string(), format!("{EMBEDDING_DIM} float32")),
            ("input".to_string(), format!(
                "dB STFT (n_fft 1024, hop 256), {BINS} bins standardised per bin, crops of {} frames",
                s.crop
            )),
            ("sample rate".to_string(), format!("{} Hz", s.sample_rate)),
            ("minimum clip".to_string(), format!("{} samples", min_samples(s.crop))),
            ("variables".to_string(), params.to_string()),
        ];
        if !s.classes.is_empty() {
            out.push(("classes".to_string(), s.classes.join(", ")));
        }
        out
    }

    fn to_bytes(&self) -> Result<Vec<u8>> {
        serialise::to_bytes(&self.state)
    }

    crate::capabilities!(dyn AudioEncoder);
}

impl AudioEncoder for VggModel {
    fn dim(&self) -> usize {
        EMBEDDING_DIM as usize
    }

    fn sample_rate(&self) -> u32 {
        self.state.sample_rate
    }

    fn embed(&self, clips: &[&[f32]], device: Device) -> Result<Vec<Vec<f32>>> {
        self.per_crop_means(clips, device, |nets, x| {
            nets.encoder.forward_t(x, false).embedding
        })
    }

    /// Class probabilities: softmax (instrument) or per-tag sigmoid (autotag) of each crop's
    /// logits, averaged over the clip's crops, in the order of the model's classes.
    fn predict(&self, clips: &[&[f32]], device: Device) -> Result<Vec<Vec<f32>>> {
        let task = self.state.task;
        if !matches!(task, Task::Autotag | Task::Instrument) {
            return exec_err!(
                "a model of task '{}' predicts no classes (only instrument and autotag models do)",
                task.name()
            );
        }
        self.per_crop_means(clips, device, |nets, x| {
            let z = nets.encoder.forward_t(x, false).embedding;
            match &nets.head {
                Some(head) if task == Task::Instrument => head.forward(&z).softmax(-1, Kind::Float),
                Some(head) => head.forward(&z).sigmoid(),
                None => z,
            }
        })
    }

    fn reconstruction_error(&self, clips: &[&[f32]], device: Device) -> Result<Vec<f64>> {
        self.require(Task::Autoencoder, "reconstruction error")?;
        let means = self.per_crop_means(clips, device, |nets, x| match &nets.decoder {
            Some(d) => {
                let y = d.forward_t(&nets.encoder.forward_t(x, false), false);
                (y - x)
                    .square()
                    .mean_dim(&[1i64, 2, 3][..], false, Kind::Float)
                    .view([-1, 1])
            }
            None => x.zeros_like(),
        })?;
        Ok(means
            .into_iter()
            .map(|m| m.first().map_or(f64::NAN, |&v| f64::from(v)))
            .collect())
    }

    /// The mask of every frame (see [`separation_crops`]) applied to the mixture's STFT and
    /// inverted with the mixture's phase (see [`apply_mask`]).
    fn separate(&self, clips: &[&[f32]], device: Device) -> Result<Vec<Vec<f32>>> {
        self.require(Task::Separation, "separated source")?;
        let masks = self.masks(clips, device)?;
        clips
            .iter()
            .zip(&masks)
            .map(|(audio, mask)| tch::no_grad(|| apply_mask(audio, mask, device)))
            .collect()
    }

    /// Traces the standardisation and the encoder (evaluation mode) on the CPU.
    fn export_torchscript(&self, path: &std::path::Path) -> Result<u64> {
        let st = &self.state.standardizer;
        let bins = [1i64, 1, 1, BINS as i64];
        let mean = Tensor::from_slice(&st.mean).view(bins);
        let std = Tensor::from_slice(&st.std).view(bins);
        let crop = self.state.crop as i64;
        let module = self.with_nets(Device::Cpu, |nets| {
            let x = Tensor::zeros([2, 1, crop, BINS as i64], (Kind::Float, Device::Cpu));
            tch::no_grad(|| {
                tch::CModule::create_by_tracing("VggEncoder", "forward", &[x], &mut |inputs| {
                    let z = (&inputs[0] - &mean) / &std;
                    vec![nets.encoder.forward_t(&z, false).embedding]
                })
            })
            .map_err(torch_err)
        })?;
        crate::audio::kernels::codec::write_atomically_with(path, |temp| {
            module
                .save(temp)
                .map_err(|e| std::io::Error::other(e.to_string()))
        })
        .map_err(DataFusionError::from)?;
        std::fs::metadata(path)
            .map(|m| m.len())
            .map_err(|e| exec_datafusion_err!("cannot read '{}': {e}", path.display()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn separation_crops_cover_every_frame_once_in_order() {
        for (frames, crop) in [(64, 64), (65, 64), (200, 64), (256, 64), (1000, 128)] {
            let starts = separation_crops(frames, crop);
            let mut covered = vec![false; frames];
            for &s in &starts {
                assert!(s + crop <= frames, "{frames} {crop} {starts:?}");
                covered[s..s + crop].iter_mut().for_each(|c| *c = true);
            }
            assert!(covered.iter().all(|&c| c), "{frames} {crop}");
            assert_eq!(starts.len(), frames.div_ceil(crop));
        }
    }

    #[test]
    fn a_mask_of_ones_gives_the_mixture_back_and_zeros_silence() {
        let n = 22050;
        let audio: Vec<f32> = (0..n)
            .map(|i| 0.4 * (i as f32 * 0.031).sin() + 0.2 * (i as f32 * 0.47).cos())
            .collect();
        let frames = 1 + n / HOP;
        let ones = vec![1.0f32; frames * BINS];
        let back = apply_mask(&audio, &ones, Device::Cpu).unwrap();
        assert_eq!(back.len(), n);
        let worst = audio
            .iter()
            .zip(&back)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0f32, f32::max);
        assert!(worst < 1e-5, "{worst}");
        let zeros = vec![0.0f32; frames * BINS];
        let silent = apply_mask(&audio, &zeros, Device::Cpu).unwrap();
        assert!(silent.iter().all(|v| v.abs() < 1e-6));
        // Half the mask halves the signal (the STFT is linear).
        let halves = vec![0.5f32; frames * BINS];
        let half = apply_mask(&audio, &halves, Device::Cpu).unwrap();
        let worst = audio
            .iter()
            .zip(&half)
            .map(|(a, h)| (0.5 * a - h).abs())
            .fold(0.0f32, f32::max);
        assert!(worst < 1e-5, "{worst}");
    }
}
