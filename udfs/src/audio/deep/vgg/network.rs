//! The networks of one `vgg` model: the encoder of [`crate::audio::deep::network`] with the
//! task's decoder or linear head, and the crop tensors they take.

use tch::nn;
use tch::{Device, Tensor};

use super::Task;
use crate::audio::deep::input::BINS;
use crate::audio::deep::network::{Decoder, Encoder, EMBEDDING_DIM};

/// The networks of one model on one device.
pub(super) struct Nets {
    pub(super) vs: nn::VarStore,
    pub(super) encoder: Encoder,
    pub(super) decoder: Option<Decoder>,
    pub(super) head: Option<nn::Linear>,
}

impl Nets {
    pub(super) fn new(task: Task, classes: usize, device: Device) -> Nets {
        let vs = nn::VarStore::new(device);
        let root = vs.root();
        let encoder = Encoder::new(&root / "encoder");
        let decoder = match task {
            Task::Autoencoder => Some(Decoder::new(&root / "decoder", false)),
            Task::Separation => Some(Decoder::new(&root / "decoder", true)),
            _ => None,
        };
        let head = matches!(task, Task::Autotag | Task::Instrument).then(|| {
            nn::linear(
                &root / "head",
                EMBEDDING_DIM,
                classes as i64,
                Default::default(),
            )
        });
        Nets {
            vs,
            encoder,
            decoder,
            head,
        }
    }
}

/// `[n, 1, crop, BINS]` from `n` flattened crops.
pub(super) fn crop_tensor<'a>(
    crops: impl Iterator<Item = &'a [f32]>,
    crop: usize,
    device: Device,
) -> Tensor {
    let mut flat = Vec::new();
    let mut n = 0i64;
    for c in crops {
        flat.extend_from_slice(c);
        n += 1;
    }
    Tensor::from_slice(&flat)
        .view([n, 1, crop as i64, BINS as i64])
        .to_device(device)
}
