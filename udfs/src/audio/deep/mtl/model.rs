//! The trained `mtl_cnn` or `agf_cnn` model: its file (the network's variables with its shape
//! and input statistics, or the copies of the models an `mss_cr` model concatenates) and the
//! representation of clips, computed slice by slice in forward passes that fit the device.

use std::collections::BTreeMap;

use datafusion::common::{exec_datafusion_err, exec_err, plan_err};
use datafusion::error::{DataFusionError, Result};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use tch::{Device, Tensor};

use super::input::{min_samples, BandStats, Mel, MelPlan, BANDS, SAMPLE_RATE};
use super::network::{Arch, Net, Shape};
use super::{Strategy, CPU_PASS, CUDA_PASS, SELF, TYPE};
use crate::audio::deep::variables::{import, Variable};
use crate::audio::deep::{message, AudioEncoder, PerDevice};
use crate::common::tensors::to_f32_vec;
use crate::model::{decode, encode, Model, ModelCatalog, Trained};

/// One trained network with what it needs to represent clips.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct NetState {
    pub(super) strategy: Strategy,
    pub(super) sources: Vec<String>,
    pub(super) shape_channels: i64,
    pub(super) branch_at: usize,
    pub(super) outputs: Vec<Option<i64>>,
    pub(super) width: f64,
    pub(super) crop: usize,
    pub(super) stats: BandStats,
    pub(super) variables: Vec<Variable>,
}

impl NetState {
    pub(super) fn shape(&self, arch: Arch) -> Shape {
        Shape {
            arch,
            channels: self.shape_channels,
            branch_at: self.branch_at,
            outputs: self.outputs.clone(),
            width: self.width,
        }
    }

    /// Length of one slice's fc-features (every block).
    fn slice_dim(&self, arch: Arch) -> usize {
        let s = self.shape(arch);
        s.blocks() * s.feature() as usize
    }
}

/// What the model file holds. (bincode numbers the variants: new ones go last, so that stored
/// models still load.)
#[derive(Debug, Serialize, Deserialize)]
pub(super) enum State {
    /// An `mtl_cnn` network (Table 2.3).
    Net(NetState),
    /// `mss_cr`: the concatenated models, by name, in order.
    Concat(Vec<(String, NetState)>),
    /// An `agf_cnn` network (Table 3.2).
    Agf(NetState),
    /// `agf_cnn` with option `models`: the concatenated `agf_cnn` networks, by name, in order.
    AgfConcat(Vec<(String, NetState)>),
}

impl State {
    /// The model type that wrote it.
    pub(super) fn type_name(&self) -> &'static str {
        match self {
            State::Agf(_) | State::AgfConcat(_) => super::agf::TYPE,
            _ => TYPE,
        }
    }
}

/// A clip as its channels.
pub type Clip<'a> = Vec<&'a [f32]>;

/// `[mean ‖ std]` per block of `rows` (one row of `blocks · feature` values per slice): per
/// block the mean over the rows and then their population standard deviation.
pub fn slice_statistics(rows: &[Vec<f32>], blocks: usize, feature: usize) -> Vec<f32> {
    let n = rows.len().max(1) as f64;
    let mut out = Vec::with_capacity(2 * blocks * feature);
    for b in 0..blocks {
        let range = b * feature..(b + 1) * feature;
        let mean: Vec<f64> = range
            .clone()
            .map(|j| rows.iter().map(|r| f64::from(r[j])).sum::<f64>() / n)
            .collect();
        let std: Vec<f64> = range
            .zip(&mean)
            .map(|(j, m)| {
                (rows
                    .iter()
                    .map(|r| (f64::from(r[j]) - m).powi(2))
                    .sum::<f64>()
                    / n)
                    .sqrt()
            })
            .collect();
        out.extend(mean.iter().chain(&std).map(|&v| v as f32));
    }
    out
}

/// One network of a model, built per device on first use.
struct Part {
    state: NetState,
    arch: Arch,
    nets: PerDevice<Net>,
}

impl Part {
    fn new(state: NetState, arch: Arch) -> Part {
        Part {
            state,
            arch,
            nets: PerDevice::new(),
        }
    }

    /// The network on `device`, built from the stored variables.
    fn build(&self, device: Device) -> Result<Net> {
        let net = Net::new(self.state.shape(self.arch), device);
        let ty = match self.arch {
            Arch::Table23 => TYPE,
            Arch::Table32 => super::agf::TYPE,
        };
        import(&net.vs, &self.state.variables, ty)?;
        Ok(net)
    }

    /// The standardised spectrograms of `clips`; an error names the first clip that is too
    /// short for one slice or not finite.
    fn spectrograms(&self, clips: &[Clip<'_>]) -> Result<Vec<Mel>> {
        let hop = self.arch.hop();
        let plan = MelPlan::new(hop).map_err(DataFusionError::from)?;
        let crop = self.state.crop;
        let channels = self.state.shape_channels as usize;
        clips
            .par_iter()
            .enumerate()
            .map(|(i, c)| {
                let samples = c.first().map_or(0, |s| s.len());
                let need = min_samples(crop, hop);
                if samples < need {
                    return exec_err!(
                        "clip {}: {samples} samples are shorter than one slice of {crop} frames: \
                         the representation needs at least {need} samples ({:.2} s at {SAMPLE_RATE} Hz)",
                        i + 1,
                        need as f64 / f64::from(SAMPLE_RATE)
                    );
                }
                let mut m = plan
                    .clip(c, channels)
                    .map_err(|e| exec_datafusion_err!("clip {}: {e}", i + 1))?;
                self.state.stats.apply(&mut m);
                Ok(m)
            })
            .collect()
    }

    /// Each clip's slices' fc-features (every block, in source order), slice by slice.
    fn segments(
        &self,
        clips: &[Clip<'_>],
        device: Device,
        cancel: &dyn Fn() -> Result<()>,
    ) -> Result<Vec<Vec<Vec<f32>>>> {
        let mels = self.spectrograms(clips)?;
        let crop = self.state.crop;
        let slices: Vec<(usize, usize)> = mels
            .iter()
            .enumerate()
            .flat_map(|(i, m)| (0..m.frames / crop).map(move |k| (i, k * crop)))
            .collect();
        let pass = if device == Device::Cpu {
            CPU_PASS
        } else {
            CUDA_PASS
        };
        let channels = self.state.shape_channels;
        let width = self.state.slice_dim(self.arch);
        let mut rows: Vec<Vec<Vec<f32>>> = vec![Vec::new(); clips.len()];
        let build = || {
            let mut net = self.build(device)?;
            net.vs.freeze();
            Ok(net)
        };
        self.nets.with(device, build, |net| {
            for group in slices.chunks(pass) {
                cancel()?;
                let mut flat = Vec::with_capacity(group.len() * channels as usize * crop * BANDS);
                for &(i, s) in group {
                    mels[i].crop_into(s, crop, &mut flat);
                }
                let x = Tensor::from_slice(&flat)
                    .view([group.len() as i64, channels, crop as i64, BANDS as i64])
                    .to_device(device);
                let y = tch::no_grad(|| net.represent(&x));
                let y = to_f32_vec(&y)?;
                for (&(i, _), row) in group.iter().zip(y.chunks_exact(width)) {
                    rows[i].push(row.to_vec());
                }
            }
            Ok(())
        })?;
        Ok(rows)
    }

    /// Each clip's `[mean ‖ std]` of its slices' fc-features, per block.
    fn representations(
        &self,
        clips: &[Clip<'_>],
        device: Device,
        cancel: &dyn Fn() -> Result<()>,
    ) -> Result<Vec<Vec<f32>>> {
        let shape = self.state.shape(self.arch);
        Ok(self
            .segments(clips, device, cancel)?
            .iter()
            .map(|r| slice_statistics(r, shape.blocks(), shape.feature() as usize))
            .collect())
    }
}

/// A trained `mtl_cnn` or `agf_cnn` model.
pub struct MtlModel {
    state: State,
    parts: Vec<Part>,
}

impl std::fmt::Debug for MtlModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MtlModel")
            .field("parts", &self.parts.len())
            .finish_non_exhaustive()
    }
}

impl MtlModel {
    pub(super) fn from_state(state: State) -> MtlModel {
        let parts = match &state {
            State::Net(n) => vec![Part::new(n.clone(), Arch::Table23)],
            State::Agf(n) => vec![Part::new(n.clone(), Arch::Table32)],
            State::Concat(ps) => ps
                .iter()
                .map(|(_, n)| Part::new(n.clone(), Arch::Table23))
                .collect(),
            State::AgfConcat(ps) => ps
                .iter()
                .map(|(_, n)| Part::new(n.clone(), Arch::Table32))
                .collect(),
        };
        MtlModel { state, parts }
    }

    /// The representation's length: `[mean ‖ std]` of every block.
    pub fn dim(&self) -> usize {
        2 * self.segment_dim()
    }

    /// The length of one slice's features: every block of every part.
    pub fn segment_dim(&self) -> usize {
        self.parts.iter().map(|p| p.state.slice_dim(p.arch)).sum()
    }

    /// The frames of one slice and the hop between frames.
    pub fn slice(&self) -> (usize, usize) {
        let p = &self.parts[0];
        (p.state.crop, p.arch.hop())
    }

    /// The type that made the model (`mtl_cnn` or `agf_cnn`).
    pub fn type_name(&self) -> &'static str {
        self.state.type_name()
    }

    /// Each clip's slices (non-overlapping, from the first frame) as the concatenated
    /// fc-features of every block of every part, slice by slice; `cancel` is checked between
    /// forward passes.
    pub fn segments(
        &self,
        clips: &[Clip<'_>],
        device: Device,
        cancel: &dyn Fn() -> Result<()>,
    ) -> Result<Vec<Vec<Vec<f32>>>> {
        let mut out: Vec<Vec<Vec<f32>>> = vec![Vec::new(); clips.len()];
        for part in &self.parts {
            for (o, r) in out.iter_mut().zip(part.segments(clips, device, cancel)?) {
                if o.is_empty() {
                    *o = r;
                } else {
                    for (a, b) in o.iter_mut().zip(r) {
                        a.extend(b);
                    }
                }
            }
        }
        Ok(out)
    }

    /// The representations of `clips` (each given as its channels) on `device`; `cancel` is
    /// checked between forward passes.
    pub fn represent(
        &self,
        clips: &[Clip<'_>],
        device: Device,
        cancel: &dyn Fn() -> Result<()>,
    ) -> Result<Vec<Vec<f32>>> {
        let mut out: Vec<Vec<f32>> = vec![Vec::with_capacity(self.dim()); clips.len()];
        for part in &self.parts {
            for (o, r) in out
                .iter_mut()
                .zip(part.representations(clips, device, cancel)?)
            {
                o.extend(r);
            }
        }
        Ok(out)
    }

    /// The network of a single-network model on the CPU, for tests and benchmarks.
    pub fn with_cpu_net<R>(&self, f: impl FnOnce(&Net) -> Result<R>) -> Result<R> {
        let part = &self.parts[0];
        part.nets.with(Device::Cpu, || part.build(Device::Cpu), f)
    }

    /// The input statistics and slice length of a single-network model, for tests.
    pub fn input(&self) -> (&BandStats, usize) {
        (&self.parts[0].state.stats, self.parts[0].state.crop)
    }
}

impl Model for MtlModel {
    fn describe(&self) -> Vec<(String, String)> {
        let params: usize = self
            .parts
            .iter()
            .flat_map(|p| &p.state.variables)
            .filter(|v| !v.name.ends_with("running_mean") && !v.name.ends_with("running_var"))
            .map(|v| v.values.len())
            .sum();
        let mut out = vec![(
            "representation".to_string(),
            format!("{} float32", self.dim()),
        )];
        let input = |n: &NetState, hop: usize| {
            vec![
                (
                    "input".to_string(),
                    format!(
                        "dB mel (n_fft 1024, hop {hop}, 128 bands), {} channel(s) standardised per band, slices of {} frames",
                        n.shape_channels, n.crop
                    ),
                ),
                ("width".to_string(), n.width.to_string()),
                (
                    "minimum clip".to_string(),
                    format!("{} samples", min_samples(n.crop, hop)),
                ),
            ]
        };
        match &self.state {
            State::Net(n) => {
                let strategy = match n.strategy {
                    Strategy::MsCr => format!("ms_cr (branching at conv{})", n.branch_at),
                    s => s.name().to_string(),
                };
                out.push(("strategy".to_string(), strategy));
                out.push(("sources".to_string(), n.sources.join(", ")));
                out.extend(input(n, Arch::Table23.hop()));
            }
            State::Agf(n) => {
                out.push(("network".to_string(), "thesis Table 3.2".to_string()));
                out.push((
                    "shared".to_string(),
                    super::agf::sharing(n.branch_at).to_string(),
                ));
                out.push(("tasks".to_string(), n.sources.join(", ")));
                out.push((
                    "segment features".to_string(),
                    format!("{} float32", self.segment_dim()),
                ));
                out.extend(input(n, Arch::Table32.hop()));
            }
            State::Concat(ps) | State::AgfConcat(ps) => {
                if matches!(self.state, State::Concat(_)) {
                    out.push(("strategy".to_string(), "mss_cr".to_string()));
                } else {
                    out.push(("network".to_string(), "thesis Table 3.2".to_string()));
                    out.push((
                        "segment features".to_string(),
                        format!("{} float32", self.segment_dim()),
                    ));
                }
                out.push((
                    "models".to_string(),
                    ps.iter()
                        .map(|(name, n)| format!("{name} ({})", n.sources.join(", ")))
                        .collect::<Vec<_>>()
                        .join(", "),
                ));
            }
        }
        out.push(("sample rate".to_string(), format!("{SAMPLE_RATE} Hz")));
        out.push(("parameters".to_string(), params.to_string()));
        out
    }

    fn to_bytes(&self) -> Result<Vec<u8>> {
        encode(&self.state)
    }

    crate::capabilities!(dyn AudioEncoder);
}

impl AudioEncoder for MtlModel {
    fn dim(&self) -> usize {
        MtlModel::dim(self)
    }

    fn sample_rate(&self) -> u32 {
        SAMPLE_RATE
    }

    fn embed(&self, clips: &[&[f32]], device: Device) -> Result<Vec<Vec<f32>>> {
        let clips: Vec<Clip<'_>> = clips.iter().map(|c| vec![*c]).collect();
        self.represent(&clips, device, &|| Ok(()))
    }
}

/// The model stored in `bytes`.
pub(super) fn from_bytes(bytes: &[u8]) -> Result<MtlModel> {
    let state: State = decode(TYPE, bytes)?;
    Ok(MtlModel::from_state(state))
}

/// A model that concatenates the models called `names`, in order, without retraining:
/// `mtl_cnn`'s `mss_cr` (of `ss_r` models, Table 2.3) or `agf_cnn`'s `models` (of single-network
/// `agf_cnn` models, Table 3.2).
pub(super) fn concatenate(
    catalog: &dyn ModelCatalog,
    names: &[String],
    arch: Arch,
) -> Result<Trained> {
    let what = match arch {
        Arch::Table23 => "strategy mss_cr",
        Arch::Table32 => "option models",
    };
    let mut parts = Vec::new();
    for name in names {
        let loaded = catalog.model(name).map_err(|e| {
            DataFusionError::Plan(format!("{what}: model '{name}': {}", message(e)))
        })?;
        let m = loaded.model.downcast_ref::<MtlModel>();
        match (arch, m.map(|m| &m.state)) {
            (Arch::Table23, Some(State::Net(n))) if n.strategy == Strategy::SsR => {
                parts.push((name.clone(), n.clone()))
            }
            (Arch::Table23, Some(State::Net(n))) => {
                return plan_err!(
                    "strategy mss_cr concatenates ss_r models; '{name}' has strategy {}",
                    n.strategy.name()
                )
            }
            (Arch::Table23, Some(State::Concat(_))) => {
                return plan_err!(
                    "strategy mss_cr concatenates ss_r models; '{name}' has strategy mss_cr"
                )
            }
            (Arch::Table23, _) => {
                return plan_err!(
                    "strategy mss_cr concatenates mtl_cnn models of strategy ss_r; '{name}' is a '{}' model",
                    loaded.model_type
                )
            }
            (Arch::Table32, Some(State::Agf(n))) => parts.push((name.clone(), n.clone())),
            (Arch::Table32, Some(State::AgfConcat(_))) => {
                return plan_err!(
                    "option models concatenates trained agf_cnn networks; '{name}' is itself a concatenation"
                )
            }
            (Arch::Table32, _) => {
                return plan_err!(
                    "option models concatenates agf_cnn models; '{name}' is a '{}' model",
                    loaded.model_type
                )
            }
        }
    }
    let mut training = BTreeMap::new();
    training.insert(
        "sources".to_string(),
        parts
            .iter()
            .map(|(_, n)| n.sources.join(", "))
            .collect::<Vec<_>>()
            .join(", "),
    );
    training.insert("retrained".to_string(), "no".to_string());
    let state = match arch {
        Arch::Table23 => State::Concat(parts),
        Arch::Table32 => State::AgfConcat(parts),
    };
    Ok(Trained {
        model: Box::new(MtlModel::from_state(state)),
        training,
    })
}

/// Whether source `name` is the Siamese one.
pub(super) fn is_self(name: &str) -> bool {
    name.eq_ignore_ascii_case(SELF)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audio::deep::mtl::train::seeded_net;
    use crate::audio::deep::variables::export;

    #[test]
    fn slice_statistics_by_hand() {
        // Two blocks of two values, three slices.
        let rows = vec![
            vec![1.0, 2.0, 0.0, 10.0],
            vec![3.0, 2.0, 0.0, 20.0],
            vec![5.0, 2.0, 3.0, 30.0],
        ];
        let s = slice_statistics(&rows, 2, 2);
        let sd = |v: [f64; 3]| {
            let m = v.iter().sum::<f64>() / 3.0;
            (v.iter().map(|x| (x - m).powi(2)).sum::<f64>() / 3.0).sqrt() as f32
        };
        let want = [
            3.0,
            2.0,
            sd([1.0, 3.0, 5.0]),
            0.0,
            1.0,
            20.0,
            sd([0.0, 0.0, 3.0]),
            sd([10.0, 20.0, 30.0]),
        ];
        for (a, b) in s.iter().zip(want) {
            assert!((a - b).abs() < 1e-6, "{s:?}");
        }
    }

    fn tone(n: usize, hz: f32) -> Vec<f32> {
        (0..n)
            .map(|i| {
                let t = i as f32 / 22050.0;
                0.4 * (std::f32::consts::TAU * hz * t).sin()
                    + 0.1 * (std::f32::consts::TAU * 3.1 * hz * t).sin()
            })
            .collect()
    }

    #[test]
    fn represent_takes_the_statistics_of_whole_slices() {
        let crop = 64;
        let shape = Shape {
            arch: Arch::Table23,
            channels: 2,
            branch_at: 4,
            outputs: vec![None, Some(5)],
            width: 0.125,
        };
        let net = seeded_net(shape.clone(), 7, Device::Cpu);
        let plan = MelPlan::new(256).unwrap();
        let (a, b) = (
            tone(min_samples(crop, 256) + 2 * 64 * 256 + 5_000, 330.0),
            tone(min_samples(crop, 256), 1200.0),
        );
        let stats = BandStats::fit(&[plan.clip(&[&a], 2).unwrap()]).unwrap();
        let state = NetState {
            strategy: Strategy::MsCr,
            sources: vec!["self".into(), "tag".into()],
            shape_channels: 2,
            branch_at: 4,
            outputs: shape.outputs.clone(),
            width: 0.125,
            crop,
            stats: stats.clone(),
            variables: export(&net.vs).unwrap(),
        };
        let model = MtlModel::from_state(State::Net(state));
        let reps = model
            .represent(&[vec![&a], vec![&b, &b]], Device::Cpu, &|| Ok(()))
            .unwrap();
        assert_eq!(model.dim(), 2 * 2 * 32);
        // By hand: three whole slices of `a` (the remainder dropped), each alone through the
        // network, then mean and population std per branch block.
        let mut mel = plan.clip(&[&a], 2).unwrap();
        stats.apply(&mut mel);
        assert_eq!(mel.frames / crop, 3);
        let mut rows = Vec::new();
        for k in 0..3 {
            let mut flat = Vec::new();
            mel.crop_into(k * crop, crop, &mut flat);
            let x = Tensor::from_slice(&flat).view([1, 2, crop as i64, 128]);
            let y = tch::no_grad(|| net.represent(&x));
            rows.push(to_f32_vec(&y).unwrap());
        }
        for block in 0..2 {
            for j in 0..32 {
                let v: Vec<f64> = rows.iter().map(|r| f64::from(r[block * 32 + j])).collect();
                let m = v.iter().sum::<f64>() / 3.0;
                let s = (v.iter().map(|x| (x - m).powi(2)).sum::<f64>() / 3.0).sqrt();
                let got_m = f64::from(reps[0][block * 64 + j]);
                let got_s = f64::from(reps[0][block * 64 + 32 + j]);
                assert!((got_m - m).abs() < 1e-4 * (1.0 + m.abs()), "{block} {j}");
                assert!((got_s - s).abs() < 1e-4 * (1.0 + s.abs()), "{block} {j}");
            }
        }
        // One slice exactly: the std is zero; a mono clip and its duplicate channels agree (up
        // to rounding: a forward pass of another batch size may sum in another order).
        assert!(reps[1][32..64].iter().all(|&v| v == 0.0));
        let mono = model
            .represent(&[vec![&b]], Device::Cpu, &|| Ok(()))
            .unwrap();
        for (x, y) in mono[0].iter().zip(&reps[1]) {
            assert!((x - y).abs() < 1e-5, "{x} {y}");
        }
        // Too short for one slice: the error names what is needed.
        let e = model
            .represent(&[vec![&b[..1000]]], Device::Cpu, &|| Ok(()))
            .unwrap_err()
            .to_string();
        assert!(e.contains("needs at least 16128 samples"), "{e}");
        // The stored model reloads to the same representation (of the same batch: another
        // batch size may round differently).
        let again = from_bytes(&model.to_bytes().unwrap()).unwrap();
        let r1 = model
            .represent(&[vec![&a]], Device::Cpu, &|| Ok(()))
            .unwrap();
        let r2 = again
            .represent(&[vec![&a]], Device::Cpu, &|| Ok(()))
            .unwrap();
        assert_eq!(r2, r1);
        // The segments are the slices' rows themselves.
        let segments = model
            .segments(&[vec![&a]], Device::Cpu, &|| Ok(()))
            .unwrap();
        assert_eq!(segments[0].len(), 3);
        assert_eq!(model.segment_dim(), 64);
        for (got, want) in segments[0].iter().zip(&rows) {
            for (x, y) in got.iter().zip(want) {
                assert!((x - y).abs() < 1e-5 * (1.0 + y.abs()), "{x} {y}");
            }
        }
    }
}
