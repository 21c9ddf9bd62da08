//! The VGG-like networks of thesis Table 4.1 in libtorch: the encoder every deep audio model
//! shares, the decoder of the autoencoder, the U-Net decoder of source separation, and the
//! prediction layers of auto-tagging and instrument recognition. Plain tensor code (no Arrow):
//! inputs are `[batch, 1, frames, bins]` standardised dB spectrogram crops.
//!
//! Reading of Table 4.1 (the table lists six blocks, but its shapes halve the input seven
//! times, and its third block's output, 64×16×64, cannot come from a size-preserving 3×3
//! convolution of 32×32×128): six blocks, each a 3×3 convolution (padding 1, bias) with batch
//! normalisation and ReLU followed by 2×2 max pooling, with 16, 32, 64, 128, 256 and 256
//! channels; global average pooling of the last block's output gives the 256-d embedding. A
//! 128×512 input (the table's) leaves 256×2×8 before the average. Input sides must be multiples
//! of 64 (six halvings).
//!
//! Decoders (the table's caption: "constructed reversing the layers: convolution and fully
//! connected layers are transposed, and pooling layers repeat the maximum input values in the
//! pooling window"): the embedding is repeated over the last block's grid (the reverse of the
//! average), then for each block in reverse order a 2× nearest-neighbour upsampling (the
//! repeat) and a transposed 3×3 convolution to the previous block's channel count, with batch
//! normalisation and ReLU except after the last one, which outputs one channel. The separation
//! decoder is a U-Net: before each transposed convolution, the upsampled tensor is concatenated
//! with the encoder block's activation at that resolution (before its pooling), doubling the
//! channels the convolution takes.

use tch::nn::{self, ModuleT};
use tch::Tensor;

/// Channels of the six encoder blocks.
pub const CHANNELS: [i64; 6] = [16, 32, 64, 128, 256, 256];
/// Length of the embedding (the last block's channels).
pub const EMBEDDING_DIM: i64 = 256;
/// The factor by which the encoder shrinks each input side.
pub const DOWNSAMPLING: i64 = 1 << CHANNELS.len();

/// One convolution, batch normalisation and ReLU.
#[derive(Debug)]
struct ConvBlock {
    conv: nn::Conv2D,
    bn: nn::BatchNorm,
}

impl ConvBlock {
    fn new(p: nn::Path<'_>, input: i64, output: i64) -> ConvBlock {
        let config = nn::ConvConfig {
            padding: 1,
            ..Default::default()
        };
        ConvBlock {
            conv: nn::conv2d(&p / "conv", input, output, 3, config),
            bn: nn::batch_norm2d(&p / "bn", output, Default::default()),
        }
    }

    fn forward_t(&self, x: &Tensor, train: bool) -> Tensor {
        self.bn.forward_t(&x.apply(&self.conv), train).relu()
    }
}

/// The encoder `f`: six blocks and global average pooling.
#[derive(Debug)]
pub struct Encoder {
    blocks: Vec<ConvBlock>,
}

/// What the encoder computes: the embedding, the last block's pooled output, and each block's
/// activation before its pooling (the U-Net's skips).
pub struct Encoded {
    /// `[batch, 256]`.
    pub embedding: Tensor,
    /// `[batch, 256, frames/64, bins/64]`.
    pub bottom: Tensor,
    /// Block `i`'s activation before pooling: `[batch, CHANNELS[i], frames/2^i, bins/2^i]`.
    pub skips: Vec<Tensor>,
}

impl Encoder {
    /// The encoder's variables under `p`.
    pub fn new(p: nn::Path<'_>) -> Encoder {
        let mut input = 1;
        let blocks = CHANNELS
            .iter()
            .enumerate()
            .map(|(i, &output)| {
                let block = ConvBlock::new(&p / format!("block{i}"), input, output);
                input = output;
                block
            })
            .collect();
        Encoder { blocks }
    }

    /// Runs the encoder on `[batch, 1, frames, bins]` (sides multiples of 64).
    pub fn forward_t(&self, x: &Tensor, train: bool) -> Encoded {
        let mut skips = Vec::with_capacity(self.blocks.len());
        let mut h = x.shallow_clone();
        for block in &self.blocks {
            let a = block.forward_t(&h, train);
            h = a.max_pool2d_default(2);
            skips.push(a);
        }
        let embedding = h.mean_dim([2i64, 3].as_slice(), false, tch::Kind::Float);
        Encoded {
            embedding,
            bottom: h,
            skips,
        }
    }

    /// The output shape of each layer for one `[1, frames, bins]` input, as in Table 4.1: the
    /// input, then for each block the convolution's and the pooling's output, then the average.
    pub fn layer_shapes(frames: i64, bins: i64) -> Vec<Vec<i64>> {
        let mut shapes = vec![vec![1, frames, bins]];
        let (mut h, mut w) = (frames, bins);
        for &c in &CHANNELS {
            shapes.push(vec![c, h, w]);
            h /= 2;
            w /= 2;
            shapes.push(vec![c, h, w]);
        }
        shapes.push(vec![EMBEDDING_DIM]);
        shapes
    }
}

/// One decoder step: a transposed 3×3 convolution, with batch normalisation and ReLU unless it
/// is the output layer.
#[derive(Debug)]
struct DeconvBlock {
    deconv: nn::ConvTranspose2D,
    bn: Option<nn::BatchNorm>,
}

impl DeconvBlock {
    fn new(p: nn::Path<'_>, input: i64, output: i64, last: bool) -> DeconvBlock {
        let config = nn::ConvTransposeConfig {
            padding: 1,
            ..Default::default()
        };
        DeconvBlock {
            deconv: nn::conv_transpose2d(&p / "deconv", input, output, 3, config),
            bn: (!last).then(|| nn::batch_norm2d(&p / "bn", output, Default::default())),
        }
    }

    fn forward_t(&self, x: &Tensor, train: bool) -> Tensor {
        let y = x.apply(&self.deconv);
        match &self.bn {
            Some(bn) => bn.forward_t(&y, train).relu(),
            None => y,
        }
    }
}

/// The decoder `g`: from the embedding (autoencoder) or with U-Net skips (separation) back to
/// one `[frames, bins]` channel.
#[derive(Debug)]
pub struct Decoder {
    /// In the order they run (the last encoder block first).
    blocks: Vec<DeconvBlock>,
    skips: bool,
}

impl Decoder {
    /// The decoder's variables under `p`; `skips` makes it the U-Net decoder.
    pub fn new(p: nn::Path<'_>, skips: bool) -> Decoder {
        let n = CHANNELS.len();
        let blocks = (0..n)
            .rev()
            .map(|i| {
                let input = CHANNELS[i] * if skips { 2 } else { 1 };
                let output = if i == 0 { 1 } else { CHANNELS[i - 1] };
                DeconvBlock::new(&p / format!("block{i}"), input, output, i == 0)
            })
            .collect();
        Decoder { blocks, skips }
    }

    /// The decoded `[batch, 1, frames, bins]` of an encoder output.
    pub fn forward_t(&self, e: &Encoded, train: bool) -> Tensor {
        let bottom = e.bottom.size();
        // The reverse of the average: the embedding repeated over the last block's grid.
        let mut h = e
            .embedding
            .view([bottom[0], bottom[1], 1, 1])
            .expand([bottom[0], bottom[1], bottom[2], bottom[3]], false);
        for (block, skip) in self.blocks.iter().zip(e.skips.iter().rev()) {
            let size = skip.size();
            let up = h.upsample_nearest2d([size[2], size[3]].as_slice(), None, None);
            let input = if self.skips {
                Tensor::cat(&[up, skip.shallow_clone()], 1)
            } else {
                up
            };
            h = block.forward_t(&input, train);
        }
        h
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::{nn::VarStore, Device, Kind};

    #[test]
    fn encoder_shapes_follow_table_4_1() {
        tch::manual_seed(0);
        let vs = VarStore::new(Device::Cpu);
        let enc = Encoder::new(vs.root() / "encoder");
        let x = Tensor::randn([2, 1, 128, 512], (Kind::Float, Device::Cpu));
        let e = enc.forward_t(&x, false);
        assert_eq!(e.embedding.size(), vec![2, 256]);
        assert_eq!(e.bottom.size(), vec![2, 256, 2, 8]);
        let expected = Encoder::layer_shapes(128, 512);
        // The input, then (conv, pool) per block, then the average.
        assert_eq!(expected.len(), 1 + 2 * 6 + 1);
        assert_eq!(expected[1], vec![16, 128, 512]);
        assert_eq!(expected[2], vec![16, 64, 256]);
        assert_eq!(expected[12], vec![256, 2, 8]);
        for (i, skip) in e.skips.iter().enumerate() {
            assert_eq!(skip.size()[1..], expected[1 + 2 * i][..], "block {i}");
        }
        // Six convolutions with batch norm: weights, biases, BN scale/shift/statistics.
        let vars = vs.variables();
        for i in 0..6 {
            let w = &vars[&format!("encoder.block{i}.conv.weight")];
            let input = if i == 0 { 1 } else { CHANNELS[i - 1] };
            assert_eq!(w.size(), vec![CHANNELS[i], input, 3, 3]);
            assert!(vars.contains_key(&format!("encoder.block{i}.bn.running_mean")));
        }
        // Embeddings are averages of ReLU outputs: non-negative.
        assert!(e.embedding.min().double_value(&[]) >= 0.0);
    }

    #[test]
    fn decoders_restore_the_input_shape() {
        tch::manual_seed(1);
        let vs = VarStore::new(Device::Cpu);
        let enc = Encoder::new(vs.root() / "encoder");
        let plain = Decoder::new(vs.root() / "decoder", false);
        let unet = Decoder::new(vs.root() / "unet", true);
        let x = Tensor::randn([3, 1, 64, 128], (Kind::Float, Device::Cpu));
        let e = enc.forward_t(&x, true);
        assert_eq!(plain.forward_t(&e, true).size(), vec![3, 1, 64, 128]);
        assert_eq!(unet.forward_t(&e, true).size(), vec![3, 1, 64, 128]);
        let vars = vs.variables();
        // The U-Net's first transposed convolution takes the bottom block's 256 channels twice.
        assert_eq!(
            vars["unet.block5.deconv.weight"].size(),
            vec![512, 256, 3, 3]
        );
        assert_eq!(
            vars["decoder.block5.deconv.weight"].size(),
            vec![256, 256, 3, 3]
        );
        assert_eq!(
            vars["decoder.block0.deconv.weight"].size(),
            vec![16, 1, 3, 3]
        );
        assert!(!vars.contains_key("decoder.block0.bn.running_mean"));
    }
}
