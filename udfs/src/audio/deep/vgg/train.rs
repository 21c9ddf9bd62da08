//! Training a `vgg` model: the examples of the `AS` query for the task, the loss of a
//! mini-batch, and the loop (seeded crops in seeded order, Adam, progress and checkpoints).

use datafusion::common::{exec_datafusion_err, exec_err, plan_err};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use datafusion::arrow::array::{Array, ArrayRef, AsArray};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Field};
use datafusion::error::{DataFusionError, Result};
use rayon::prelude::*;
use tch::nn::{self, Module, OptimizerConfig};
use tch::{Kind, Tensor};

use super::inference::VggModel;
use super::network::{crop_tensor, Nets};
use super::serialise::State;
use super::{Hyper, Task, TYPE};
use crate::audio::deep::input::{
    db_spectrogram, magnitude_spectrogram, min_samples, stft_plan, Spectrogram, Standardizer, BINS,
};
use crate::audio::deep::{sample_column, seeded};
use crate::common::rng::Rng;
use crate::common::tensors::torch_err;
use crate::engine::memory::check_memory;
use crate::model::{TrainContext, Trained, TrainingData};

/// The bytes one training step holds for `batch_size` crops of `crop` frames: per input value,
/// the encoder keeps its blocks' convolution, normalisation and activation outputs (channels
/// 16, 32, ... at resolutions shrinking 4× per block: 31.25 values per input value) for the
/// backward pass and as many gradients; a decoder (autoencoder, separation) about 1.5 times
/// that again. An estimate for refusing absurd options, not an accounting.
fn training_bytes(task: Task, batch_size: usize, crop: usize) -> f64 {
    let per_value: f64 = crate::audio::deep::network::CHANNELS
        .iter()
        .enumerate()
        .map(|(k, &c)| c as f64 / 4f64.powi(k as i32))
        .sum();
    let decoder = match task {
        Task::Autoencoder | Task::Separation => 2.5,
        Task::Autotag | Task::Instrument => 1.0,
    };
    batch_size as f64 * crop as f64 * BINS as f64 * 4.0 * per_value * 6.0 * decoder
}
/// One training clip with what its task learns from.
struct Example {
    input: Spectrogram,
    /// Separation: the mixture's and the source's magnitudes.
    magnitudes: Option<(Spectrogram, Spectrogram)>,
    /// Autotag: multi-hot; instrument: the class index as one value.
    label: Vec<f32>,
}

/// A text column (`label`) as rows.
fn text_column(data: &TrainingData, name: &str) -> Result<Vec<Option<String>>> {
    let i = data.column(TYPE, name)?;
    let mut out = Vec::new();
    for b in &data.batches {
        let col: &ArrayRef = b.column(i);
        if !matches!(
            col.data_type(),
            DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View
        ) {
            return plan_err!(
                "model type 'vgg': column \"{name}\" must be text (the class of each clip), got {}",
                col.data_type()
            );
        }
        let s = cast(col, &DataType::Utf8)?;
        let s = s.as_string::<i32>();
        out.extend((0..s.len()).map(|r| (!s.is_null(r)).then(|| s.value(r).to_string())));
    }
    Ok(out)
}

/// A list-of-text column (`tags`) as rows.
fn tags_column(data: &TrainingData, name: &str) -> Result<Vec<Option<Vec<String>>>> {
    let i = data.column(TYPE, name)?;
    let target = DataType::List(Arc::new(Field::new_list_field(DataType::Utf8, true)));
    let mut out = Vec::new();
    for b in &data.batches {
        let col = b.column(i);
        let is_text_list = matches!(col.data_type(),
            DataType::List(f) | DataType::LargeList(f)
                if matches!(f.data_type(), DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View));
        if !is_text_list {
            return plan_err!(
                "model type 'vgg': column \"{name}\" must be a list of text (the tags of each \
                 clip), got {}",
                col.data_type()
            );
        }
        let list = cast(col, &target)?;
        let list = list.as_list::<i32>();
        for r in 0..list.len() {
            if list.is_null(r) {
                out.push(None);
                continue;
            }
            let v = list.value(r);
            let v = v.as_string::<i32>();
            out.push(Some(
                (0..v.len())
                    .filter(|&j| !v.is_null(j))
                    .map(|j| v.value(j).to_string())
                    .collect(),
            ));
        }
    }
    Ok(out)
}

/// The training examples of `data` for the task, with the class names and the number of rows
/// left out for NULLs.
fn examples(data: &TrainingData, h: &Hyper) -> Result<(Vec<Example>, Vec<String>, usize)> {
    let audio = sample_column(data, TYPE, "audio")?;
    let plan = stft_plan().map_err(DataFusionError::from)?;
    let spectrogram = |row: usize, what: &str, a: &[f32], db: bool| -> Result<Spectrogram> {
        let s = if db {
            db_spectrogram(&plan, a)
        } else {
            magnitude_spectrogram(&plan, a)
        };
        let s = s.map_err(|e| exec_datafusion_err!("model type 'vgg': row {row}, {what}: {e}"))?;
        if s.frames < h.crop {
            return exec_err!(
                "model type 'vgg': row {row}, {what}: {} samples give {} frames, fewer than one \
                 crop of {} (at least {} samples)",
                a.len(),
                s.frames,
                h.crop,
                min_samples(h.crop)
            );
        }
        Ok(s)
    };
    let mut classes: Vec<String> = Vec::new();
    let mut labels: Vec<Option<Vec<f32>>> = vec![Some(Vec::new()); audio.len()];
    let mut targets: Vec<Option<Vec<f32>>> = Vec::new();
    match h.task {
        Task::Autoencoder => {}
        Task::Instrument => {
            let l = text_column(data, "label")?;
            classes = l.iter().flatten().cloned().collect();
            classes.sort();
            classes.dedup();
            labels = l
                .iter()
                .map(|v| {
                    v.as_ref()
                        .and_then(|s| classes.binary_search(s).ok())
                        .map(|k| vec![k as f32])
                })
                .collect();
        }
        Task::Autotag => {
            let t = tags_column(data, "tags")?;
            classes = t.iter().flatten().flatten().cloned().collect();
            classes.sort();
            classes.dedup();
            labels = t
                .iter()
                .map(|v| {
                    v.as_ref().map(|tags| {
                        let mut hot = vec![0.0; classes.len()];
                        for tag in tags {
                            if let Ok(k) = classes.binary_search(tag) {
                                hot[k] = 1.0;
                            }
                        }
                        hot
                    })
                })
                .collect();
        }
        Task::Separation => targets = sample_column(data, TYPE, "target")?,
    }
    if matches!(h.task, Task::Autotag | Task::Instrument) && classes.len() < 2 {
        let (col, _) = h.task.label_column().unwrap_or(("label", ""));
        return plan_err!(
            "model type 'vgg' ({}) needs at least two distinct classes in column \"{col}\", got {}",
            h.task.name(),
            classes.len()
        );
    }
    let mut dropped = 0;
    let mut rows = Vec::new();
    for (r, a) in audio.iter().enumerate() {
        let target = targets.get(r).cloned().flatten();
        match (a, &labels[r], h.task) {
            (Some(a), Some(l), Task::Separation) => match target {
                Some(t) if t.len() == a.len() => rows.push((r, a, l.clone(), Some(t))),
                Some(t) => {
                    return exec_err!(
                        "model type 'vgg': row {}: the target has {} samples but the mixture {}",
                        r + 1,
                        t.len(),
                        a.len()
                    )
                }
                None => dropped += 1,
            },
            (Some(a), Some(l), _) => rows.push((r, a, l.clone(), None)),
            _ => dropped += 1,
        }
    }
    if rows.is_empty() {
        return Err(DataFusionError::Plan(
            "model type 'vgg' has no training clips (every row has a NULL)".to_string(),
        ));
    }
    // The examples are taken in an order of the task's columns' contents, so that the model
    // depends on the AS query's rows and the seed, not on the order in which DataFusion
    // delivered them; errors above still name the query's row numbers.
    let columns: Vec<&str> = std::iter::once("audio")
        .chain(h.task.label_column().map(|(c, _)| c))
        .collect();
    let ranks = data.content_ranks(TYPE, &columns)?;
    rows.sort_by_key(|x| ranks[x.0]);
    let out = rows
        .into_par_iter()
        .map(|(r, a, label, target)| {
            let input = spectrogram(r + 1, "audio", a, true)?;
            let magnitudes = match target {
                Some(t) => Some((
                    spectrogram(r + 1, "audio", a, false)?,
                    spectrogram(r + 1, "target", &t, false)?,
                )),
                None => None,
            };
            Ok(Example {
                input,
                magnitudes,
                label,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    Ok((out, classes, dropped))
}

/// The loss of one mini-batch of `(example, start)` crops.
fn batch_loss(nets: &Nets, h: &Hyper, ex: &[Example], batch: &[(usize, usize)]) -> Tensor {
    let device = nets.vs.device();
    let x = crop_tensor(
        batch.iter().map(|&(i, s)| ex[i].input.crop(s, h.crop)),
        h.crop,
        device,
    );
    let encoded = nets.encoder.forward_t(&x, true);
    match h.task {
        Task::Autoencoder => match &nets.decoder {
            Some(d) => d
                .forward_t(&encoded, true)
                .mse_loss(&x, tch::Reduction::Mean),
            None => Tensor::zeros([], (Kind::Float, device)),
        },
        Task::Separation => {
            let magnitudes = |which: usize| {
                crop_tensor(
                    batch.iter().map(|&(i, s)| {
                        let m = ex[i]
                            .magnitudes
                            .as_ref()
                            .map(|m| if which == 0 { &m.0 } else { &m.1 });
                        m.map_or(&[][..], |m| m.crop(s, h.crop))
                    }),
                    h.crop,
                    device,
                )
            };
            match &nets.decoder {
                Some(d) => {
                    let mask = d.forward_t(&encoded, true).sigmoid();
                    (mask * magnitudes(0) - magnitudes(1))
                        .abs()
                        .mean(Kind::Float)
                }
                None => Tensor::zeros([], (Kind::Float, device)),
            }
        }
        Task::Autotag | Task::Instrument => {
            let Some(head) = &nets.head else {
                return Tensor::zeros([], (Kind::Float, device));
            };
            let logits = head.forward(&encoded.embedding);
            let labels: Vec<f32> = batch
                .iter()
                .flat_map(|&(i, _)| ex[i].label.clone())
                .collect();
            if h.task == Task::Autotag {
                let k = logits.size()[1];
                let y = Tensor::from_slice(&labels)
                    .view([batch.len() as i64, k])
                    .to_device(device);
                logits.binary_cross_entropy_with_logits::<Tensor>(
                    &y,
                    None,
                    None,
                    tch::Reduction::Mean,
                )
            } else {
                let y: Vec<i64> = labels.iter().map(|&v| v as i64).collect();
                logits.cross_entropy_for_logits(&Tensor::from_slice(&y).to_device(device))
            }
        }
    }
}

/// Trains a model on `data` with the options of `ctx` (see the module documentation of
/// [`super`]).
pub(super) fn train(data: &TrainingData, ctx: &TrainContext<'_>) -> Result<Trained> {
    let h = Hyper::from_options(ctx.options)?;
    check_memory(
        &format!(
            "options batch_size = {} and crop = {} (task {})",
            h.batch_size,
            h.crop,
            h.task.name()
        ),
        training_bytes(h.task, h.batch_size, h.crop),
        ctx.memory_limit,
    )?;
    let started = Instant::now();
    let (examples, classes, dropped) = examples(data, &h)?;
    let mut inputs: Vec<Spectrogram> = Vec::new();
    let standardizer = {
        inputs.extend(examples.iter().map(|e| e.input.clone()));
        Standardizer::fit(&inputs).map_err(DataFusionError::from)?
    };
    drop(inputs);
    let mut examples = examples;
    for e in &mut examples {
        standardizer.apply(&mut e.input);
    }
    ctx.control.progress(&format!(
        "vgg ({}): {} clips, {} classes, {} crops of {} frames per epoch, spectrograms in {:.1} s",
        h.task.name(),
        examples.len(),
        classes.len(),
        examples.len() * h.crops_per_clip,
        h.crop,
        started.elapsed().as_secs_f64()
    ));
    let nets = seeded(h.seed, || Nets::new(h.task, classes.len(), ctx.device));
    let mut opt = nn::Adam::default()
        .build(&nets.vs, h.lr)
        .map_err(torch_err)?;
    let mut rng = Rng::new(h.seed);
    let mut last_loss = f64::NAN;
    let mut history = Vec::with_capacity(h.epochs);
    for epoch in 1..=h.epochs {
        let epoch_start = Instant::now();
        let mut crops: Vec<(usize, usize)> = Vec::new();
        for (i, e) in examples.iter().enumerate() {
            let span = (e.input.frames - h.crop + 1) as u64;
            for _ in 0..h.crops_per_clip {
                crops.push((i, rng.below(span) as usize));
            }
        }
        for j in (1..crops.len()).rev() {
            crops.swap(j, rng.below(j as u64 + 1) as usize);
        }
        let (mut total, mut n) = (0.0, 0usize);
        for batch in crops.chunks(h.batch_size) {
            ctx.control.check_cancelled()?;
            let loss = batch_loss(&nets, &h, &examples, batch);
            opt.backward_step(&loss);
            total += loss.double_value(&[]) * batch.len() as f64;
            n += batch.len();
        }
        last_loss = total / n.max(1) as f64;
        if !last_loss.is_finite() {
            return exec_err!(
                "model type 'vgg': the training loss became {last_loss} in epoch {epoch}; try \
                 a smaller lr"
            );
        }
        history.push(last_loss);
        ctx.control.progress(&format!(
            "epoch {epoch}/{}  loss {last_loss:.5}  {:.1} s",
            h.epochs,
            epoch_start.elapsed().as_secs_f64()
        ));
        let due = h.checkpoint_every > 0 && epoch % h.checkpoint_every == 0;
        if let (true, true, Some(save)) = (due, epoch < h.epochs, ctx.checkpoint) {
            let state = State {
                task: h.task,
                crop: h.crop,
                sample_rate: h.sample_rate,
                classes: classes.clone(),
                standardizer: standardizer.clone(),
                variables: nets.export()?,
            };
            let mut training = BTreeMap::new();
            training.insert(
                "checkpoint".to_string(),
                format!("epoch {epoch} of {}", h.epochs),
            );
            training.insert("final loss".to_string(), format!("{last_loss:.6}"));
            save(Trained {
                model: Box::new(VggModel::from_state(state)),
                training,
            })?;
        }
    }
    let state = State {
        task: h.task,
        crop: h.crop,
        sample_rate: h.sample_rate,
        classes,
        standardizer,
        variables: nets.export()?,
    };
    let mut training = BTreeMap::new();
    training.insert("task".to_string(), h.task.name().to_string());
    training.insert("training clips".to_string(), examples.len().to_string());
    training.insert("rows dropped (NULL)".to_string(), dropped.to_string());
    training.insert("epochs".to_string(), h.epochs.to_string());
    training.insert("final loss".to_string(), format!("{last_loss:.6}"));
    training.insert(
        "loss by epoch".to_string(),
        history
            .iter()
            .map(|l| format!("{l:.5}"))
            .collect::<Vec<_>>()
            .join(" "),
    );
    Ok(Trained {
        model: Box::new(VggModel::from_state(state)),
        training,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn training_memory_grows_with_batch_and_crop() {
        // 8 crops × 128 frames × 512 bins × 4 bytes × 31.25 values × 6 (by hand).
        assert_eq!(training_bytes(Task::Instrument, 8, 128), 393_216_000.0);
        assert_eq!(training_bytes(Task::Autoencoder, 8, 128), 983_040_000.0);
        let e = check_memory(
            "options batch_size = 4096 and crop = 4096",
            training_bytes(Task::Autotag, 4096, 4096),
            64 << 30,
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("needs about 5.9 TiB"), "{e}");
    }
}
