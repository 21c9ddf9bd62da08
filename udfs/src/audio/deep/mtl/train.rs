//! Training an `mtl_cnn` or `agf_cnn` model (Algorithm 1): the tracks of the `AS` query as standardised mel
//! spectrograms and target distributions, and the loop that draws a source, a batch and crops
//! per iteration and takes one Adam step on that source's loss.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use datafusion::arrow::array::{Array, AsArray};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Field, Float32Type};
use datafusion::common::{exec_datafusion_err, exec_err, plan_err};
use datafusion::error::{DataFusionError, Result};
use rayon::prelude::*;
use tch::nn::{self, OptimizerConfig};
use tch::{Device, Kind, Tensor};

use super::input::{min_samples, BandStats, Mel, MelPlan, BANDS};
use super::model::{is_self, MtlModel, NetState, State};
use super::network::{dropout_mask, scaled, Arch, Net, Shape, CONV_CHANNELS, PAIR_HIDDEN};
use super::Hyper;
use crate::audio::deep::seeded;
use crate::audio::deep::variables::export;
use crate::common::rng::Rng;
use crate::common::tensors::torch_err;
use crate::engine::memory::check_memory;
use crate::model::{TrainContext, Trained, TrainingData};

/// Values one crop leaves for the backward pass through the full base CNN: each stage's
/// convolution, normalisation and activation outputs (and the pooled output).
fn values_per_crop(arch: Arch, channels: usize, crop: usize, width: f64) -> f64 {
    let h = match arch {
        Arch::Table23 => crop.div_ceil(2),
        Arch::Table32 => crop,
    };
    let (mut h, mut w) = (h as f64, BANDS as f64);
    let mut total = (channels * crop * BANDS) as f64;
    for c in CONV_CHANNELS.iter().take(5) {
        total += scaled(*c, width) as f64 * h * w * 3.5;
        h = (h / 2.0).floor();
        w = (w / 2.0).floor();
    }
    total + 2.0 * scaled(256, width) as f64 * h * w * 3.0
}

/// The bytes one training step holds: the activations of the batch (self: pairs, two crops
/// each) and as many gradients, in float32. An estimate for refusing absurd options.
pub(super) fn training_bytes(h: &Hyper) -> f64 {
    let crops = if h.sources.iter().any(|s| is_self(s)) {
        2 * h.batch_size
    } else {
        h.batch_size
    };
    crops as f64 * values_per_crop(h.arch, h.channels, h.crop, h.width) * 4.0 * 2.0
}

/// One source's targets per track: the normalised z and its Σ z·ln z (None: the track lacks
/// the source).
pub(super) type Targets = Vec<Option<(Vec<f32>, f64)>>;

/// The training tracks: spectrograms and, per source, each track's target (None: lacks it).
pub(super) struct Tracks {
    pub(super) mels: Vec<Mel>,
    /// Per source (in option order): per track the normalised z and its Σ z·ln z.
    pub(super) targets: Vec<Option<Targets>>,
    pub(super) dropped: usize,
}

/// A list column as lists of f32 values per row, with the list type it must have.
fn number_lists(
    ty: &str,
    data: &TrainingData,
    name: &str,
    what: &str,
) -> Result<Vec<Option<Vec<f32>>>> {
    let i = data.column(ty, name)?;
    let target = DataType::List(Arc::new(Field::new_list_field(DataType::Float32, true)));
    let mut out = Vec::new();
    for b in &data.batches {
        let col = b.column(i);
        let ok = matches!(col.data_type(),
            DataType::List(f) | DataType::LargeList(f) | DataType::FixedSizeList(f, _)
                if f.data_type().is_numeric());
        if !ok {
            return plan_err!(
                "model type '{ty}': column \"{name}\" must be {what} (a list of numbers), got {}",
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
            let v = v.as_primitive::<Float32Type>();
            if v.null_count() > 0 {
                return exec_err!("model type '{ty}': a list in column \"{name}\" has NULLs");
            }
            out.push(Some(v.values().to_vec()));
        }
    }
    Ok(out)
}

/// The audio column as (batch, row) positions with each clip's channel count and length; the
/// clips themselves stay in the batches (cast per batch when their spectrograms are computed).
fn audio_lists(ty: &str, data: &TrainingData) -> Result<(usize, Vec<DataType>)> {
    let i = data.column(ty, "audio")?;
    let mono = DataType::List(Arc::new(Field::new_list_field(DataType::Float32, true)));
    let stereo = DataType::List(Arc::new(Field::new_list_field(mono.clone(), true)));
    let mut types = Vec::new();
    for b in &data.batches {
        let t = b.column(i).data_type();
        let inner = match t {
            DataType::List(f) | DataType::LargeList(f) | DataType::FixedSizeList(f, _) => {
                Some(f.data_type().clone())
            }
            _ => None,
        };
        match inner {
            Some(d) if d.is_numeric() => types.push(mono.clone()),
            Some(DataType::List(f) | DataType::LargeList(f) | DataType::FixedSizeList(f, _))
                if f.data_type().is_numeric() =>
            {
                types.push(stereo.clone())
            }
            _ => {
                return plan_err!(
                    "model type '{ty}': column \"audio\" must be a clip (a list of samples) or \
                     its channels (a list of lists of samples), got {t}"
                )
            }
        }
    }
    Ok((i, types))
}

/// The tracks of `data` for the sources of `h`, in an order of the track ids (so that the
/// model does not depend on the order in which DataFusion delivered the rows).
pub(super) fn tracks(data: &TrainingData, h: &Hyper, ctx: &TrainContext<'_>) -> Result<Tracks> {
    let ty = h.type_name();
    let hop = h.arch.hop();
    let it = data.column(ty, "track")?;
    let (ia, audio_types) = audio_lists(ty, data)?;
    // The source columns first: a missing or mistyped column fails before any work.
    let mut raw_targets = Vec::new();
    for s in &h.sources {
        raw_targets.push(if is_self(s) {
            None
        } else {
            Some(number_lists(ty, data, s, "a target distribution")?)
        });
    }
    let mut names = Vec::new();
    for b in &data.batches {
        let t = cast(b.column(it), &DataType::Utf8).map_err(|_| {
            exec_datafusion_err!("model type '{ty}': column \"track\" cannot be shown as text")
        })?;
        let t = t.as_string::<i32>();
        names.extend((0..t.len()).map(|r| {
            if t.is_null(r) {
                "NULL".to_string()
            } else {
                t.value(r).to_string()
            }
        }));
    }
    // Each row's clip: (batch, row in batch), with its channels and samples.
    let mut clips = Vec::new();
    let mut need = 0.0;
    let mut dropped = 0;
    let mut row = 0;
    for (bi, b) in data.batches.iter().enumerate() {
        let col = cast(b.column(ia), &audio_types[bi])?;
        let list = col.as_list::<i32>();
        for r in 0..list.len() {
            if list.is_null(r) {
                dropped += 1;
            } else {
                let len = match list.value(r).as_list_opt::<i32>() {
                    Some(ch) if ch.is_empty() => 0,
                    Some(ch) => ch.value(0).len(),
                    None => list.value(r).len(),
                };
                need += (h.channels * (1 + len / hop) * BANDS * 4) as f64;
                clips.push((row, bi, r));
            }
            row += 1;
        }
    }
    if clips.is_empty() {
        return plan_err!("model type '{ty}' has no training tracks (every audio is NULL)");
    }
    check_memory(
        &format!("the mel spectrograms of {} tracks", clips.len()),
        need,
        ctx.memory_limit,
    )?;
    ctx.control.progress(&format!(
        "{ty}: mel spectrograms of {} tracks ({:.1} MiB)",
        clips.len(),
        need / (1 << 20) as f64
    ));
    let started = Instant::now();
    let plan = MelPlan::new(hop).map_err(DataFusionError::from)?;
    let mut mels: Vec<(usize, Mel)> = Vec::with_capacity(clips.len());
    for (bi, b) in data.batches.iter().enumerate() {
        ctx.control.check_cancelled()?;
        let col = cast(b.column(ia), &audio_types[bi])?;
        let list = col.as_list::<i32>();
        let mine: Vec<(usize, usize)> = clips
            .iter()
            .filter(|c| c.1 == bi)
            .map(|c| (c.0, c.2))
            .collect();
        let done = mine
            .par_iter()
            .map(|&(row, r)| {
                let v = list.value(r);
                let channels: Vec<Arc<dyn Array>> = match v.as_list_opt::<i32>() {
                    Some(ch) => (0..ch.len()).map(|k| ch.value(k)).collect(),
                    None => vec![v.clone()],
                };
                let mut slices = Vec::with_capacity(channels.len());
                for c in &channels {
                    let c = c.as_primitive::<Float32Type>();
                    if c.null_count() > 0 {
                        return exec_err!(
                            "model type '{ty}': track '{}': the audio has NULL samples",
                            names[row]
                        );
                    }
                    slices.push(c.values().as_ref());
                }
                let samples = slices.first().map_or(0, |s| s.len());
                if samples < min_samples(h.crop, hop) {
                    return exec_err!(
                        "model type '{ty}': track '{}' has {samples} samples, fewer than one crop \
                         of {} frames needs ({} samples)",
                        names[row],
                        h.crop,
                        min_samples(h.crop, hop)
                    );
                }
                let m = plan.clip(&slices, h.channels).map_err(|e| {
                    exec_datafusion_err!("model type '{ty}': track '{}': {e}", names[row])
                })?;
                Ok((row, m))
            })
            .collect::<Result<Vec<_>>>()?;
        mels.extend(done);
    }
    let ranks = data.content_ranks(ty, &["track"])?;
    mels.sort_by_key(|(row, _)| ranks[*row]);
    ctx.control.progress(&format!(
        "{ty}: spectrograms in {:.1} s",
        started.elapsed().as_secs_f64()
    ));
    let rows: Vec<usize> = mels.iter().map(|(r, _)| *r).collect();
    let mut targets = Vec::new();
    for (s, raw) in h.sources.iter().zip(raw_targets) {
        let Some(raw) = raw else {
            targets.push(None);
            continue;
        };
        let mut k: Option<(usize, &str)> = None;
        let mut per_track = Vec::with_capacity(rows.len());
        for &r in &rows {
            let Some(z) = &raw[r] else {
                per_track.push(None);
                continue;
            };
            match k {
                None => k = Some((z.len(), &names[r])),
                Some((k, first)) if k != z.len() => {
                    return exec_err!(
                        "model type '{ty}': source '{s}': track '{}' has a distribution of {} values but track '{first}' one of {k}",
                        names[r],
                        z.len()
                    )
                }
                _ => {}
            }
            let sum: f64 = z.iter().map(|&v| f64::from(v)).sum();
            if z.len() < 2 || z.iter().any(|v| !v.is_finite() || *v < 0.0) || sum <= 0.0 {
                return exec_err!(
                    "model type '{ty}': source '{s}': track '{}' needs a distribution of at least two non-negative values with a positive sum",
                    names[r]
                );
            }
            let z: Vec<f32> = z.iter().map(|&v| (f64::from(v) / sum) as f32).collect();
            let neg_entropy: f64 = z
                .iter()
                .filter(|&&v| v > 0.0)
                .map(|&v| f64::from(v) * f64::from(v).ln())
                .sum();
            per_track.push(Some((z, neg_entropy)));
        }
        if per_track.iter().all(Option::is_none) {
            return exec_err!(
                "model type '{ty}': source '{s}' has no track (column \"{s}\" is NULL everywhere)"
            );
        }
        targets.push(Some(per_track));
    }
    if h.sources.iter().any(|s| is_self(s)) && mels.len() < 2 {
        return exec_err!("model type '{ty}': source 'self' needs at least two tracks (pairs of different tracks)");
    }
    Ok(Tracks {
        mels: mels.into_iter().map(|(_, m)| m).collect(),
        targets,
        dropped,
    })
}

/// The network shape of `h` for targets of these lengths.
fn shape_of(h: &Hyper, tracks: &Tracks) -> Shape {
    Shape {
        arch: h.arch,
        channels: h.channels as i64,
        branch_at: h.branch_at,
        outputs: tracks
            .targets
            .iter()
            .map(|t| {
                t.as_ref()
                    .map(|t| t.iter().flatten().next().map_or(0, |(z, _)| z.len() as i64))
            })
            .collect(),
        width: h.width,
    }
}

/// `k` distinct values of `0..n` (all of them when `k ≥ n`), by a partial Fisher–Yates shuffle.
pub(super) fn sample(rng: &mut Rng, pool: &[usize], k: usize) -> Vec<usize> {
    let mut p = pool.to_vec();
    let k = k.min(p.len());
    for i in 0..k {
        let j = i + rng.below((p.len() - i) as u64) as usize;
        p.swap(i, j);
    }
    p.truncate(k);
    p
}

/// A random crop start of `mel`.
fn start(rng: &mut Rng, mel: &Mel, crop: usize) -> usize {
    rng.below((mel.frames - crop + 1) as u64) as usize
}

fn crops_tensor(
    tracks: &Tracks,
    crops: &[(usize, usize)],
    crop: usize,
    channels: usize,
    device: Device,
) -> Tensor {
    let mut flat = Vec::with_capacity(crops.len() * channels * crop * BANDS);
    for &(i, s) in crops {
        tracks.mels[i].crop_into(s, crop, &mut flat);
    }
    Tensor::from_slice(&flat)
        .view([
            crops.len() as i64,
            channels as i64,
            crop as i64,
            BANDS as i64,
        ])
        .to_device(device)
}

/// One iteration's loss for source `t` (Algorithm 1, lines 5–8).
pub(super) fn iteration_loss(
    net: &Net,
    h: &Hyper,
    tracks: &Tracks,
    having: &[usize],
    t: usize,
    rng: &mut Rng,
) -> Tensor {
    let device = net.vs.device();
    let f = net.shape.feature();
    match &tracks.targets[t] {
        None => {
            // self: the first half same-track pairs, the rest different-track pairs.
            let n = h.batch_size;
            let same = n.div_ceil(2);
            let all = tracks.mels.len();
            let (mut left, mut right, mut labels) = (Vec::new(), Vec::new(), Vec::new());
            for p in 0..n {
                let i = rng.below(all as u64) as usize;
                let mi = &tracks.mels[i];
                if p < same {
                    let span = mi.frames - h.crop + 1;
                    let a = rng.below(span as u64) as usize;
                    // A second, different crop where the clip has more than one.
                    let b = if span > 1 {
                        let b = rng.below(span as u64 - 1) as usize;
                        if b >= a {
                            b + 1
                        } else {
                            b
                        }
                    } else {
                        a
                    };
                    left.push((i, a));
                    right.push((i, b));
                    labels.push(1i64);
                } else {
                    let j = rng.below(all as u64 - 1) as usize;
                    let j = if j >= i { j + 1 } else { j };
                    left.push((i, start(rng, mi, h.crop)));
                    right.push((j, start(rng, &tracks.mels[j], h.crop)));
                    labels.push(0i64);
                }
            }
            left.extend(right);
            let x = crops_tensor(tracks, &left, h.crop, h.channels, device);
            let hidden = scaled(PAIR_HIDDEN, h.width);
            let m1 = dropout_mask(rng, 2 * n as i64, f, device);
            let m2 = dropout_mask(rng, n as i64, hidden, device);
            let logits = net.pair_logits_t(t, &x, true, Some((&m1, &m2)));
            logits.cross_entropy_for_logits(&Tensor::from_slice(&labels).to_device(device))
        }
        Some(targets) => {
            let batch = sample(rng, having, h.batch_size);
            let crops: Vec<(usize, usize)> = batch
                .iter()
                .map(|&i| (i, start(rng, &tracks.mels[i], h.crop)))
                .collect();
            let x = crops_tensor(tracks, &crops, h.crop, h.channels, device);
            let n = batch.len() as i64;
            let mut z = Vec::new();
            let mut neg_entropy = Vec::new();
            for &i in &batch {
                if let Some((zi, e)) = &targets[i] {
                    z.extend_from_slice(zi);
                    neg_entropy.push(*e as f32);
                }
            }
            let k = z.len() as i64 / n.max(1);
            let z = Tensor::from_slice(&z).view([n, k]).to_device(device);
            let c = Tensor::from_slice(&neg_entropy).to_device(device);
            let mask = dropout_mask(rng, n, f, device);
            let logp = net
                .logits_t(t, &x, true, Some(&mask), Some(rng))
                .log_softmax(-1, Kind::Float);
            // KL(z ‖ p) = Σ z ln z − Σ z ln p, averaged over the batch.
            (c - (z * logp).sum_dim_intlist([1i64].as_slice(), false, Kind::Float))
                .mean(Kind::Float)
        }
    }
}

/// The state of a network being trained, for checkpoints and the final model.
fn state_of(net: &Net, h: &Hyper, stats: &BandStats) -> Result<State> {
    let state = NetState {
        strategy: h.strategy,
        sources: h.sources.clone(),
        shape_channels: net.shape.channels,
        branch_at: net.shape.branch_at,
        outputs: net.shape.outputs.clone(),
        width: h.width,
        crop: h.crop,
        stats: stats.clone(),
        variables: export(&net.vs)?,
    };
    Ok(match h.arch {
        Arch::Table23 => State::Net(state),
        Arch::Table32 => State::Agf(state),
    })
}

/// A freshly initialised network for `shape`, its weights drawn from `seed` (under the lock
/// every libtorch-trained type seeds under, [`seeded`]).
pub(super) fn seeded_net(shape: Shape, seed: u64, device: Device) -> Net {
    seeded(seed, || Net::new(shape, device))
}

/// Trains a model on `data` (see the module documentation of [`super`]).
pub(super) fn train(data: &TrainingData, ctx: &TrainContext<'_>, h: &Hyper) -> Result<Trained> {
    check_memory(
        &format!(
            "options batch_size = {}, crop_frames = {} and width = {}",
            h.batch_size, h.crop, h.width
        ),
        training_bytes(h),
        ctx.memory_limit,
    )?;
    let mut tracks = tracks(data, h, ctx)?;
    let stats = BandStats::fit(&tracks.mels).map_err(DataFusionError::from)?;
    for m in &mut tracks.mels {
        stats.apply(m);
    }
    let shape = shape_of(h, &tracks);
    let net = seeded_net(shape, h.seed, ctx.device);
    let (history, last) = run(&net, h, &tracks, &stats, ctx)?;
    let mut training = BTreeMap::new();
    training.insert("strategy".to_string(), h.strategy_label());
    training.insert("training tracks".to_string(), tracks.mels.len().to_string());
    training.insert(
        "rows dropped (NULL audio)".to_string(),
        tracks.dropped.to_string(),
    );
    for (s, t) in h.sources.iter().zip(&tracks.targets) {
        let n = t
            .as_ref()
            .map_or(tracks.mels.len(), |t| t.iter().flatten().count());
        training.insert(format!("tracks: {s}"), n.to_string());
        if let Some(l) = last.get(s) {
            training.insert(format!("final loss: {s}"), format!("{l:.6}"));
        }
    }
    training.insert("epochs".to_string(), h.epochs.to_string());
    training.insert(
        "iterations per epoch".to_string(),
        iterations(h, &tracks).to_string(),
    );
    training.insert(
        "loss by epoch".to_string(),
        history
            .iter()
            .map(|l| format!("{l:.5}"))
            .collect::<Vec<_>>()
            .join(" "),
    );
    Ok(Trained {
        model: Box::new(MtlModel::from_state(state_of(&net, h, &stats)?)),
        training,
    })
}

/// Iterations per epoch: the option, or l·m.
fn iterations(h: &Hyper, tracks: &Tracks) -> usize {
    h.iterations_per_epoch
        .unwrap_or(tracks.mels.len().div_ceil(h.batch_size) * h.sources.len())
}

/// Algorithm 1 on `net`: the mean loss of each epoch (over its iterations) and the last epoch's
/// mean loss per source.
pub(super) fn run(
    net: &Net,
    h: &Hyper,
    tracks: &Tracks,
    stats: &BandStats,
    ctx: &TrainContext<'_>,
) -> Result<(Vec<f64>, BTreeMap<String, f64>)> {
    let mut opt = nn::Adam {
        wd: 2.0 * h.l2,
        ..Default::default()
    }
    .build(&net.vs, h.lr)
    .map_err(torch_err)?;
    let mut rng = Rng::new(h.seed);
    let having: Vec<Vec<usize>> = tracks
        .targets
        .iter()
        .map(|t| match t {
            Some(t) => (0..t.len()).filter(|&i| t[i].is_some()).collect(),
            None => (0..tracks.mels.len()).collect(),
        })
        .collect();
    let ty = h.type_name();
    let m = h.sources.len();
    let per_epoch = iterations(h, tracks);
    let mut history = Vec::with_capacity(h.epochs);
    let mut last = BTreeMap::new();
    ctx.control.progress(&format!(
        "{ty} ({}): {} tracks, sources {}, {} iterations per epoch, {} parameters",
        h.strategy_label(),
        tracks.mels.len(),
        h.sources.join(", "),
        per_epoch,
        net.parameter_count()
    ));
    for epoch in 1..=h.epochs {
        let epoch_start = Instant::now();
        let mut sums = vec![(0.0f64, 0usize); m];
        for _ in 0..per_epoch {
            ctx.control.check_cancelled()?;
            let t = rng.below(m as u64) as usize;
            let loss = iteration_loss(net, h, tracks, &having[t], t, &mut rng);
            opt.backward_step(&loss);
            let v = loss.double_value(&[]);
            if !v.is_finite() {
                return exec_err!(
                    "model type '{ty}': the loss of source '{}' became {v} in epoch {epoch}; try a smaller lr",
                    h.sources[t]
                );
            }
            sums[t].0 += v;
            sums[t].1 += 1;
        }
        let total: f64 = sums.iter().map(|s| s.0).sum();
        history.push(total / per_epoch.max(1) as f64);
        last = h
            .sources
            .iter()
            .zip(&sums)
            .filter(|(_, s)| s.1 > 0)
            .map(|(name, s)| (name.clone(), s.0 / s.1 as f64))
            .collect();
        let per_source: Vec<String> = h
            .sources
            .iter()
            .map(|s| match last.get(s) {
                Some(l) => format!("{s} {l:.4}"),
                None => format!("{s} -"),
            })
            .collect();
        ctx.control.progress(&format!(
            "epoch {epoch}/{}  loss {}  {:.1} s",
            h.epochs,
            per_source.join("  "),
            epoch_start.elapsed().as_secs_f64()
        ));
        let due = h.checkpoint_every > 0 && epoch % h.checkpoint_every == 0;
        if let (true, true, Some(save)) = (due, epoch < h.epochs, ctx.checkpoint) {
            let mut training = BTreeMap::new();
            training.insert(
                "checkpoint".to_string(),
                format!("epoch {epoch} of {}", h.epochs),
            );
            training.insert("strategy".to_string(), h.strategy_label());
            save(Trained {
                model: Box::new(MtlModel::from_state(state_of(net, h, stats)?)),
                training,
            })?;
        }
    }
    Ok((history, last))
}
