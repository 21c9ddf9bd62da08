//! The networks of `mtl_cnn` and `agf_cnn` in libtorch: a base CNN cut into a shared trunk and
//! per-source (per-task) branches at a branching point (thesis Table 2.4, Fig. 2.5; §3.3.2), with
//! one output head per learning source. Plain tensor code: inputs are
//! `[batch, channels, frames, 128]` standardised dB mel crops.
//!
//! Two base CNNs ([`Arch`]), both seven stages with "same" zero padding and biases:
//!
//! **Table 2.3** (`mtl_cnn`): batch normalisation and ReLU after every convolution and after the
//! fc-feature layer:
//! 1. conv1 16@5×5, stride 2 along time, then 2×2 max pooling;
//! 2. to 5. conv2 32, conv3 64, conv4 64, conv5 128, each 3×3 then 2×2 max pooling;
//! 6. conv61 256@3×3, conv62 256@1×1, global average pooling;
//! 7. fc-feature 256 (the representation; dropout 0.5 in training).
//!
//! For a 2×216×128 input the stages leave 16×54×64, 32×27×32, 64×13×16, 64×6×8, 128×3×4, 256
//! and 256 values (Table 2.3's input-shape column, read one row down).
//!
//! **Table 3.2** (`agf_cnn`, the artist-group-factor encoder): ELU everywhere, batch
//! normalisation only where the table has it:
//! 1. conv1 16@5×5 (stride 1), ELU, 2×1 max pooling (frequency only);
//! 2. conv2 32@3×3, BN, ELU, 2×2 max pooling, dropout 0.1;
//! 3. conv3 64@3×3, ELU, 2×2 max pooling;
//! 4. conv4 64@3×3, BN, ELU, 2×2 max pooling, dropout 0.1;
//! 5. conv5 128@3×3, ELU, 2×2 max pooling;
//! 6. conv6 256@3×3, ELU; conv7 256@1×1, BN, ELU; global average pooling, BN;
//! 7. dense 256, BN, ELU (the representation; dropout 0.5 in training).
//!
//! For a 1×43×128 input (1 s at hop 512) the stages leave 16×43×64, 32×21×32, 64×10×16,
//! 64×5×8, 128×2×4, 256 and 256 values: Table 3.2's shapes (which it writes frequency first).
//!
//! A source's head is fc-output (k units, softmax in the loss) for a distribution source and,
//! for `self` (Table 2.3 only), the Siamese pair head of eq. 2.5: `concat(f(X_l), f(X_r))` → FC
//! 128 + BN + ReLU + dropout 0.5 → FC 2.
//!
//! Branching: stages `1 .. branch_at` form the shared trunk and stages `branch_at ..= 7` are
//! repeated per source (MS-CR@2/@4/@6 branch at stage 2, 4 or 6; `agf_cnn`'s MTN shares conv1
//! and its pooling, `branch_at` 2, or everything below the dense layer, 7; its STNs share
//! nothing, 1); MS-SR@FC and SS-R share all seven stages ([`BRANCH_FC`]). `width` multiplies the
//! channels of every convolution, the fc-feature and the pair head's hidden layer (rounded, at
//! least 1).
//!
//! Dropout masks come from the caller (a seeded Rust generator), not from libtorch's global
//! generator, so that training draws nothing from a process-wide state: the fc-feature's mask
//! as a tensor, Table 3.2's in-network masks drawn from the generator passed to the forward
//! pass ([`Net::logits_t`]) stage by stage.

use serde::{Deserialize, Serialize};
use tch::nn::{self, Module, ModuleT};
use tch::{Device, Kind, Tensor};

use crate::common::rng::Rng;

/// Channels of the six convolutions before the top block and of the top block's two (both
/// tables have the same).
pub const CONV_CHANNELS: [i64; 7] = [16, 32, 64, 64, 128, 256, 256];
/// Units of the fc-feature layer (the representation of one branch).
pub const FEATURE: i64 = 256;
/// Hidden units of the `self` pair head.
pub const PAIR_HIDDEN: i64 = 128;
/// Mel bands of the input.
pub const BANDS: i64 = 128;
/// The branching point that shares every stage (SS-R, MS-SR@FC).
pub const BRANCH_FC: usize = 8;
/// Dropout probability of the fc-feature layer and the pair head.
pub const DROPOUT: f64 = 0.5;
/// Dropout probability after conv2 and conv4 of Table 3.2.
pub const CONV_DROPOUT: f64 = 0.1;

/// The base CNN.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Arch {
    /// Thesis Table 2.3 (`mtl_cnn`), on 2.5 s crops at hop 256.
    Table23,
    /// Thesis Table 3.2 (`agf_cnn`), on 1 s crops at hop 512.
    Table32,
}

impl Arch {
    /// The hop of the input's frames, in samples.
    pub fn hop(self) -> usize {
        match self {
            Arch::Table23 => super::input::HOP,
            Arch::Table32 => 512,
        }
    }
}

/// A channel count scaled by `width`.
pub fn scaled(c: i64, width: f64) -> i64 {
    ((c as f64 * width).round() as i64).max(1)
}

/// What a network is made of: base CNN, input channels, branching point, the sources' output
/// sizes (`None` for `self`) and the width.
#[derive(Clone, Debug, PartialEq)]
pub struct Shape {
    pub arch: Arch,
    pub channels: i64,
    /// 1 to 7, or [`BRANCH_FC`].
    pub branch_at: usize,
    /// Per source: `Some(k)` for a distribution over k values, `None` for `self`.
    pub outputs: Vec<Option<i64>>,
    pub width: f64,
}

impl Shape {
    /// Length of the fc-feature of one branch.
    pub fn feature(&self) -> i64 {
        scaled(FEATURE, self.width)
    }

    /// Number of fc-feature blocks in the representation: one per source when the network
    /// branches, one otherwise.
    pub fn blocks(&self) -> usize {
        if self.branch_at == BRANCH_FC {
            1
        } else {
            self.outputs.len()
        }
    }
}

/// Dropout of a convolution's output in training, its mask drawn from `rng`: each value kept
/// with probability `1 − p` and scaled by `1/(1 − p)`.
fn conv_dropout(x: Tensor, p: f64, rng: Option<&mut Rng>) -> Tensor {
    match rng {
        Some(rng) if p > 0.0 => {
            let keep = (1.0 / (1.0 - p)) as f32;
            let n = x.numel();
            let v: Vec<f32> = (0..n)
                .map(|_| if rng.next_f64() < p { 0.0 } else { keep })
                .collect();
            let mask = Tensor::from_slice(&v)
                .view(x.size().as_slice())
                .to_device(x.device());
            x * mask
        }
        _ => x,
    }
}

/// Convolution, batch normalisation (Table 2.3 always, Table 3.2 where it says so), ReLU
/// (Table 2.3) or ELU (Table 3.2).
#[derive(Debug)]
struct ConvBn {
    conv: nn::Conv2D,
    bn: Option<nn::BatchNorm>,
    elu: bool,
}

impl ConvBn {
    fn new(p: nn::Path<'_>, input: i64, output: i64, k: i64, stride: [i64; 2]) -> ConvBn {
        ConvBn::with(p, input, output, k, stride, true, false)
    }

    /// Table 3.2's convolution: stride 1, ELU, with or without batch normalisation.
    fn elu(p: nn::Path<'_>, input: i64, output: i64, k: i64, bn: bool) -> ConvBn {
        ConvBn::with(p, input, output, k, [1, 1], bn, true)
    }

    fn with(
        p: nn::Path<'_>,
        input: i64,
        output: i64,
        k: i64,
        stride: [i64; 2],
        bn: bool,
        elu: bool,
    ) -> ConvBn {
        let conv = nn::conv(
            &p / "conv",
            input,
            output,
            [k, k],
            nn::ConvConfigND {
                stride,
                padding: [k / 2, k / 2],
                ..Default::default()
            },
        );
        ConvBn {
            conv,
            bn: bn.then(|| nn::batch_norm2d(&p / "bn", output, Default::default())),
            elu,
        }
    }

    fn forward_t(&self, x: &Tensor, train: bool) -> Tensor {
        let y = x.apply(&self.conv);
        let y = match &self.bn {
            Some(bn) => bn.forward_t(&y, train),
            None => y,
        };
        if self.elu {
            y.elu()
        } else {
            y.relu()
        }
    }
}

/// One of the seven stages.
#[derive(Debug)]
enum Stage {
    /// conv1 … conv5 with their max pooling (kernel and stride, time × frequency) and the
    /// dropout probability after it (Table 3.2's 0.1 after conv2 and conv4; 0 elsewhere).
    Conv(ConvBn, [i64; 2], f64),
    /// conv61 and conv62 (Table 3.2: conv6 and conv7), the global average and, in Table 3.2,
    /// batch normalisation of the average.
    Top(Box<ConvBn>, Box<ConvBn>, Option<nn::BatchNorm>),
    /// fc-feature with its normalisation and activation (ELU when the flag is set, else ReLU;
    /// dropout applied by the caller).
    Feature(nn::Linear, nn::BatchNorm, bool),
}

impl Stage {
    /// Stage `s` (1-based) under `p`.
    fn new(p: nn::Path<'_>, s: usize, shape: &Shape) -> Stage {
        let w = shape.width;
        let input = if s == 1 {
            shape.channels
        } else {
            scaled(CONV_CHANNELS[s - 2], w)
        };
        let c = |i: usize| scaled(CONV_CHANNELS[i], w);
        let f = shape.feature();
        match (shape.arch, s) {
            (Arch::Table23, 1) => Stage::Conv(
                ConvBn::new(&p / "conv1", input, c(0), 5, [2, 1]),
                [2, 2],
                0.0,
            ),
            (Arch::Table23, 2..=5) => Stage::Conv(
                ConvBn::new(&p / format!("conv{s}"), input, c(s - 1), 3, [1, 1]),
                [2, 2],
                0.0,
            ),
            (Arch::Table23, 6) => Stage::Top(
                Box::new(ConvBn::new(&p / "conv61", input, c(5), 3, [1, 1])),
                Box::new(ConvBn::new(&p / "conv62", c(5), c(6), 1, [1, 1])),
                None,
            ),
            (Arch::Table32, 1) => Stage::Conv(
                ConvBn::elu(&p / "conv1", input, c(0), 5, false),
                [1, 2],
                0.0,
            ),
            (Arch::Table32, 2..=5) => Stage::Conv(
                ConvBn::elu(
                    &p / format!("conv{s}"),
                    input,
                    c(s - 1),
                    3,
                    s == 2 || s == 4,
                ),
                [2, 2],
                if s == 2 || s == 4 { CONV_DROPOUT } else { 0.0 },
            ),
            (Arch::Table32, 6) => Stage::Top(
                Box::new(ConvBn::elu(&p / "conv6", input, c(5), 3, false)),
                Box::new(ConvBn::elu(&p / "conv7", c(5), c(6), 1, true)),
                Some(nn::batch_norm1d(&p / "gap_bn", c(6), Default::default())),
            ),
            (arch, _) => Stage::Feature(
                nn::linear(&p / "fc_feature", c(6), f, Default::default()),
                nn::batch_norm1d(&p / "fc_feature_bn", f, Default::default()),
                arch == Arch::Table32,
            ),
        }
    }

    /// The stage's output; `rng` draws the dropout masks of a training pass (none: no dropout).
    fn forward_t(&self, x: &Tensor, train: bool, rng: Option<&mut Rng>) -> Tensor {
        match self {
            Stage::Conv(c, pool, p) => {
                let y = c
                    .forward_t(x, train)
                    .max_pool2d(*pool, *pool, [0, 0], [1, 1], false);
                if train {
                    conv_dropout(y, *p, rng)
                } else {
                    y
                }
            }
            Stage::Top(a, b, bn) => {
                let y = b.forward_t(&a.forward_t(x, train), train).mean_dim(
                    [2i64, 3].as_slice(),
                    false,
                    Kind::Float,
                );
                match bn {
                    Some(bn) => bn.forward_t(&y, train),
                    None => y,
                }
            }
            Stage::Feature(fc, bn, elu) => {
                let y = bn.forward_t(&fc.forward(x), train);
                if *elu {
                    y.elu()
                } else {
                    y.relu()
                }
            }
        }
    }
}

/// A source's output layer.
#[derive(Debug)]
enum Head {
    /// fc-output: logits over the k values of the source's distribution.
    Output(nn::Linear),
    /// The `self` pair head.
    Pair {
        fc1: nn::Linear,
        bn: nn::BatchNorm,
        fc2: nn::Linear,
    },
}

/// The network of one model on one device.
pub struct Net {
    pub vs: nn::VarStore,
    pub shape: Shape,
    trunk: Vec<Stage>,
    branches: Vec<Vec<Stage>>,
    heads: Vec<Head>,
}

/// Dropout with a given keep-mask (`1/(1-p)` where kept, 0 elsewhere); `None` is the identity.
fn dropped(x: Tensor, mask: Option<&Tensor>) -> Tensor {
    match mask {
        Some(m) => x * m,
        None => x,
    }
}

/// A dropout mask of `rows × cols` from `rng`: each value kept with probability `1 − p` and
/// scaled by `1/(1 − p)`.
pub fn dropout_mask(
    rng: &mut crate::common::rng::Rng,
    rows: i64,
    cols: i64,
    device: Device,
) -> Tensor {
    let keep = (1.0 / (1.0 - DROPOUT)) as f32;
    let v: Vec<f32> = (0..rows * cols)
        .map(|_| if rng.next_f64() < DROPOUT { 0.0 } else { keep })
        .collect();
    Tensor::from_slice(&v).view([rows, cols]).to_device(device)
}

impl Net {
    /// A freshly initialised network (libtorch's default initialisation) on `device`.
    pub fn new(shape: Shape, device: Device) -> Net {
        let vs = nn::VarStore::new(device);
        let root = vs.root();
        let trunk = (1..shape.branch_at.min(8))
            .map(|s| Stage::new(&root / "trunk", s, &shape))
            .collect();
        let branches = (0..shape.outputs.len())
            .map(|t| {
                (shape.branch_at..=7)
                    .map(|s| Stage::new(&root / format!("branch{t}"), s, &shape))
                    .collect()
            })
            .collect();
        let f = shape.feature();
        let heads = shape
            .outputs
            .iter()
            .enumerate()
            .map(|(t, k)| {
                let p = &root / format!("head{t}");
                match k {
                    Some(k) => {
                        Head::Output(nn::linear(&p / "fc_output", f, *k, Default::default()))
                    }
                    None => {
                        let h = scaled(PAIR_HIDDEN, shape.width);
                        Head::Pair {
                            fc1: nn::linear(&p / "fc_pair", 2 * f, h, Default::default()),
                            bn: nn::batch_norm1d(&p / "fc_pair_bn", h, Default::default()),
                            fc2: nn::linear(&p / "fc_same", h, 2, Default::default()),
                        }
                    }
                }
            })
            .collect();
        Net {
            vs,
            shape,
            trunk,
            branches,
            heads,
        }
    }

    /// Trainable parameters (weights, biases, batch-norm scales and shifts; not the running
    /// statistics).
    pub fn parameter_count(&self) -> i64 {
        self.vs
            .trainable_variables()
            .iter()
            .map(|t| t.numel() as i64)
            .sum()
    }

    /// Runs `stages` on `x`; `rng` draws their dropout masks in training.
    fn stages_t(stages: &[Stage], x: &Tensor, train: bool, mut rng: Option<&mut Rng>) -> Tensor {
        let mut h = x.shallow_clone();
        for s in stages {
            h = s.forward_t(&h, train, rng.as_deref_mut());
        }
        h
    }

    fn branch(&self, t: usize) -> &[Stage] {
        if self.shape.branch_at == BRANCH_FC {
            &self.branches[0]
        } else {
            &self.branches[t]
        }
    }

    /// Source `t`'s fc-feature of a batch `[n, channels, frames, 128]`: `[n, feature]`. `rng`
    /// draws Table 3.2's in-network dropout masks in training (`None`: no such dropout).
    pub fn feature_t(
        &self,
        t: usize,
        x: &Tensor,
        train: bool,
        mut rng: Option<&mut Rng>,
    ) -> Tensor {
        let h = Net::stages_t(&self.trunk, x, train, rng.as_deref_mut());
        Net::stages_t(self.branch(t), &h, train, rng)
    }

    /// The representation of a batch in evaluation mode: the fc-features of every branch,
    /// concatenated in source order, `[n, blocks · feature]`.
    pub fn represent(&self, x: &Tensor) -> Tensor {
        let h = Net::stages_t(&self.trunk, x, false, None);
        let blocks: Vec<Tensor> = (0..self.shape.blocks())
            .map(|t| Net::stages_t(self.branch(t), &h, false, None))
            .collect();
        Tensor::cat(&blocks, 1)
    }

    /// Source `t`'s output logits for a distribution source: `[n, k]`. `mask` is the
    /// fc-feature's dropout mask in training and `rng` draws the in-network ones (Table 3.2).
    pub fn logits_t(
        &self,
        t: usize,
        x: &Tensor,
        train: bool,
        mask: Option<&Tensor>,
        rng: Option<&mut Rng>,
    ) -> Tensor {
        let f = dropped(self.feature_t(t, x, train, rng), mask);
        match &self.heads[t] {
            Head::Output(fc) => fc.forward(&f),
            Head::Pair { .. } => f,
        }
    }

    /// The `self` head's logits (different, same) for pairs: `x` holds the `n` left crops and
    /// then the `n` right crops; `masks` the fc-feature's (`[2n, feature]`) and the hidden
    /// layer's (`[n, hidden]`) dropout masks in training.
    pub fn pair_logits_t(
        &self,
        t: usize,
        x: &Tensor,
        train: bool,
        masks: Option<(&Tensor, &Tensor)>,
    ) -> Tensor {
        let f = dropped(self.feature_t(t, x, train, None), masks.map(|m| m.0));
        let n = f.size()[0] / 2;
        let pair = Tensor::cat(&[f.narrow(0, 0, n), f.narrow(0, n, n)], 1);
        match &self.heads[t] {
            Head::Pair { fc1, bn, fc2 } => {
                let h = bn.forward_t(&fc1.forward(&pair), train).relu();
                fc2.forward(&dropped(h, masks.map(|m| m.1)))
            }
            Head::Output(fc) => fc.forward(&pair.narrow(1, 0, f.size()[1])),
        }
    }

    /// The output shape of each stage for one `[channels, frames, 128]` input (Tables 2.3 and
    /// 3.2).
    pub fn stage_shapes(shape: &Shape, frames: i64) -> Vec<Vec<i64>> {
        let mut out = Vec::new();
        let (mut h, mut w) = match shape.arch {
            Arch::Table23 => ((frames + 1) / 2, BANDS),
            Arch::Table32 => (frames, BANDS),
        };
        for s in 1..=5 {
            if !(shape.arch == Arch::Table32 && s == 1) {
                h /= 2;
            }
            w /= 2;
            out.push(vec![scaled(CONV_CHANNELS[s - 1], shape.width), h, w]);
        }
        out.push(vec![scaled(CONV_CHANNELS[6], shape.width)]);
        out.push(vec![shape.feature()]);
        out
    }

    /// The output of each stage of source `t`'s path for a batch, in evaluation mode.
    pub fn stage_outputs(&self, t: usize, x: &Tensor) -> Vec<Tensor> {
        let mut out = Vec::new();
        let mut h = x.shallow_clone();
        for s in self.trunk.iter().chain(self.branch(t)) {
            h = s.forward_t(&h, false, None);
            out.push(h.shallow_clone());
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shape(branch_at: usize, sources: usize, width: f64) -> Shape {
        // The design notes' 8 sources: self and seven 50-way distributions.
        let mut outputs = vec![None];
        outputs.extend(std::iter::repeat_n(Some(50), sources - 1));
        Shape {
            arch: Arch::Table23,
            channels: 2,
            branch_at,
            outputs,
            width,
        }
    }

    #[test]
    fn parameter_counts_match_the_design_notes() {
        // SS-R is counted with one 50-way fc-output (the thesis' Fig. 2.15 baseline).
        let ssr = Net::new(
            Shape {
                arch: Arch::Table23,
                channels: 2,
                branch_at: BRANCH_FC,
                outputs: vec![Some(50)],
                width: 1.0,
            },
            Device::Cpu,
        );
        assert_eq!(ssr.parameter_count(), 576_482);
        // By hand: convolutions with biases, fc-feature, BN scale+shift on 1,072 channels, head.
        let convs = 2 * 16 * 25
            + 16
            + 16 * 32 * 9
            + 32
            + 32 * 64 * 9
            + 64
            + 64 * 64 * 9
            + 64
            + 64 * 128 * 9
            + 128
            + 128 * 256 * 9
            + 256
            + 256 * 256
            + 256;
        let fc = 256 * 256 + 256;
        let bn = 2 * (16 + 32 + 64 + 64 + 128 + 256 + 256 + 256);
        assert_eq!(convs + fc + bn + 256 * 50 + 50, 576_482);
        // The self head: 512 → 128 (+BN) → 2.
        let pair = 512 * 128 + 128 + 2 * 128 + 128 * 2 + 2;
        let msfc = Net::new(shape(BRANCH_FC, 8, 1.0), Device::Cpu);
        assert_eq!(msfc.parameter_count(), 719_760);
        assert_eq!(convs + fc + bn + 7 * (256 * 50 + 50) + pair, 719_760);
        let cr6 = Net::new(shape(6, 8, 1.0), Device::Cpu);
        assert_eq!(cr6.parameter_count(), 3_717_776);
        let ratio = |n: i64| n as f64 / 576_482.0;
        assert!((ratio(719_760) - 1.2486).abs() < 1e-3);
        assert!((ratio(3_717_776) - 6.449).abs() < 1e-3);
        // The other branching points grow as their branches do.
        let cr4 = Net::new(shape(4, 8, 1.0), Device::Cpu).parameter_count();
        let cr2 = Net::new(shape(2, 8, 1.0), Device::Cpu).parameter_count();
        assert_eq!(cr4 - 3_717_776, 7 * (36_928 + 73_856 + 2 * (64 + 128)));
        assert_eq!(cr2 - cr4, 7 * (4_640 + 18_496 + 2 * (32 + 64)));
    }

    #[test]
    fn stage_shapes_follow_table_2_3() {
        let s = shape(4, 3, 0.25);
        let (net, x) = crate::audio::deep::seeded(3, || {
            (
                Net::new(s.clone(), Device::Cpu),
                Tensor::randn([2, 2, 216, 128], (Kind::Float, Device::Cpu)),
            )
        });
        let outs = net.stage_outputs(1, &x);
        let expected = Net::stage_shapes(&s, 216);
        assert_eq!(outs.len(), 7);
        for (o, e) in outs.iter().zip(&expected) {
            assert_eq!(o.size()[1..], e[..]);
        }
        // Table 2.3 at full width: the input of conv2..conv61 and gap.
        let full = Net::stage_shapes(&shape(2, 1, 1.0), 216);
        assert_eq!(full[0], vec![16, 54, 64]);
        assert_eq!(full[1], vec![32, 27, 32]);
        assert_eq!(full[2], vec![64, 13, 16]);
        assert_eq!(full[3], vec![64, 6, 8]);
        assert_eq!(full[4], vec![128, 3, 4]);
        assert_eq!(full[5], vec![256]);
        assert_eq!(full[6], vec![256]);
        // Per strategy, the representation has one 256·width block per branch.
        for (b, blocks) in [(2, 3), (4, 3), (6, 3), (BRANCH_FC, 1)] {
            let s = shape(b, 3, 0.25);
            let net = Net::new(s, Device::Cpu);
            assert_eq!(net.represent(&x).size(), vec![2, 64 * blocks]);
            let logits = net.logits_t(2, &x, false, None, None);
            assert_eq!(logits.size(), vec![2, 50]);
            let pair = net.pair_logits_t(0, &x, false, None);
            assert_eq!(pair.size(), vec![1, 2]);
        }
    }

    fn agf(branch_at: usize, tasks: usize, width: f64) -> Shape {
        Shape {
            arch: Arch::Table32,
            channels: 1,
            branch_at,
            outputs: std::iter::once(Some(16))
                .chain(std::iter::repeat_n(Some(40), tasks - 1))
                .collect(),
            width,
        }
    }

    #[test]
    fn table_3_2_shapes_and_parameters() {
        // The output shapes of Table 3.2 (frequency × time × channels there; channels × time ×
        // frequency here) for a 1 s crop of 43 frames.
        let full = Net::stage_shapes(&agf(BRANCH_FC, 1, 1.0), 43);
        assert_eq!(full[0], vec![16, 43, 64]);
        assert_eq!(full[1], vec![32, 21, 32]);
        assert_eq!(full[2], vec![64, 10, 16]);
        assert_eq!(full[3], vec![64, 5, 8]);
        assert_eq!(full[4], vec![128, 2, 4]);
        assert_eq!(full[5], vec![256]);
        assert_eq!(full[6], vec![256]);
        let s = agf(2, 3, 1.0);
        let (net, x) = crate::audio::deep::seeded(5, || {
            (
                Net::new(s.clone(), Device::Cpu),
                Tensor::randn([2, 1, 43, 128], (Kind::Float, Device::Cpu)),
            )
        });
        for (o, e) in net.stage_outputs(2, &x).iter().zip(&full) {
            assert_eq!(o.size()[1..], e[..]);
        }
        assert_eq!(net.logits_t(0, &x, false, None, None).size(), vec![2, 16]);
        assert_eq!(net.logits_t(1, &x, false, None, None).size(), vec![2, 40]);
        assert_eq!(net.represent(&x).size(), vec![2, 3 * 256]);
        // One genre network by hand: convolutions with biases (conv1 5×5 on one channel, conv7
        // 1×1), BN scale and shift after conv2, conv4, conv7, the average and the dense layer,
        // the dense layer and a 16-way output.
        let convs = 16 * 25
            + 16
            + 16 * 32 * 9
            + 32
            + 32 * 64 * 9
            + 64
            + 64 * 64 * 9
            + 64
            + 64 * 128 * 9
            + 128
            + 128 * 256 * 9
            + 256
            + 256 * 256
            + 256;
        let bn = 2 * (32 + 64 + 256 + 256 + 256);
        let dense = 256 * 256 + 256;
        let genre = convs + bn + dense + 256 * 16 + 16;
        assert_eq!(genre, 566_928);
        let stn = Net::new(agf(BRANCH_FC, 1, 1.0), Device::Cpu);
        assert_eq!(stn.parameter_count(), genre);
        // Sharing nothing (STNs in one model) is one network per task; sharing conv1 saves
        // conv1 per extra task; sharing everything below the dense layer keeps one trunk.
        let k40 = genre - (256 * 16 + 16) + 256 * 40 + 40;
        let none = Net::new(agf(1, 3, 1.0), Device::Cpu).parameter_count();
        assert_eq!(none, genre + 2 * k40);
        let conv1 = Net::new(agf(2, 3, 1.0), Device::Cpu).parameter_count();
        assert_eq!(none - conv1, 2 * (16 * 25 + 16));
        let dense7 = Net::new(agf(7, 3, 1.0), Device::Cpu).parameter_count();
        assert_eq!(dense7, genre + 2 * (dense + 2 * 256 + 256 * 40 + 40));
        // In training, the in-network dropout draws from the generator: the same generator
        // state gives the same output, another state another.
        let mut a = Rng::new(1);
        let mut b = Rng::new(1);
        let ya = net.logits_t(1, &x, true, None, Some(&mut a));
        let yb = net.logits_t(1, &x, true, None, Some(&mut b));
        assert!(ya.equal(&yb));
        let yc = net.logits_t(1, &x, true, None, Some(&mut a));
        assert!(!ya.equal(&yc));
    }
}
