//! `random`: the random baseline. Each (user, item) pair gets a fixed pseudo-random score in
//! [0, 1), a hash of (seed, user index, item index), so the same model always ranks the same way
//! and recommendations are a seeded uniform shuffle of the unseen items. The score does not
//! depend on t (its gradient with respect to t is zero).

use std::time::Instant;

use datafusion::error::Result;
use serde::{Deserialize, Serialize};
use tch::{Device, Kind, Tensor};

use super::data::{RecData, Tags};
use super::recommender::Recommender;
use super::tensors::TagInput;
use crate::common::tensors::torch_err;
use crate::model::{
    decode, encode, Model, ModelOptions, ModelType, OptionKind, OptionSpec, TrainContext, Trained,
    TrainingData,
};

/// The `random` model type.
#[derive(Debug)]
pub struct RandomType;

/// A trained random baseline: the data and the seed.
#[derive(Debug, Serialize, Deserialize)]
pub struct RandomRec {
    data: RecData,
    seed: u64,
}

/// SplitMix64's finaliser: a well-mixed 64-bit hash of `x`.
fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

/// The random score of (user index, item index) for `seed`: uniform in [0, 1).
pub fn random_score(seed: u64, user: u64, item: u64) -> f64 {
    let h = mix(mix(mix(seed) ^ user) ^ item);
    (h >> 11) as f64 / (1u64 << 53) as f64
}

impl RandomRec {
    fn scores(&self, users: &[i64], items: &[i64]) -> Vec<f64> {
        users
            .iter()
            .zip(items)
            .map(|(&u, &i)| random_score(self.seed, u as u64, i as u64))
            .collect()
    }
}

impl Model for RandomRec {
    fn describe(&self) -> Vec<(String, String)> {
        self.data.describe()
    }

    fn to_bytes(&self) -> Result<Vec<u8>> {
        encode(self)
    }

    crate::capabilities!(dyn Recommender);
}

impl Recommender for RandomRec {
    fn data(&self) -> &RecData {
        &self.data
    }

    fn kind(&self) -> Kind {
        Kind::Double
    }

    fn uses_tags(&self) -> bool {
        false
    }

    fn forward(
        &self,
        device: Device,
        users: &Tensor,
        items: &Tensor,
        _tags: &TagInput,
    ) -> Result<Tensor> {
        let u = Vec::<i64>::try_from(&users.to_device(Device::Cpu)).map_err(torch_err)?;
        let i = Vec::<i64>::try_from(&items.to_device(Device::Cpu)).map_err(torch_err)?;
        Ok(Tensor::from_slice(&self.scores(&u, &i)).to_device(device))
    }

    fn score_all_items(
        &self,
        device: Device,
        users: &[u32],
        _cancelled: super::recommender::Cancel<'_>,
    ) -> Result<Tensor> {
        let n = self.data.n_items();
        let mut out = Vec::with_capacity(users.len() * n);
        for &u in users {
            out.extend((0..n as u64).map(|i| random_score(self.seed, u as u64, i)));
        }
        Ok(Tensor::from_slice(&out)
            .view([users.len() as i64, n as i64])
            .to_device(device))
    }
}

/// The options of `random` ([`OPTIONS`]), read once.
struct Params {
    seed: u64,
}

impl TryFrom<&ModelOptions> for Params {
    type Error = datafusion::error::DataFusionError;

    fn try_from(options: &ModelOptions) -> Result<Params> {
        Ok(Params {
            seed: options.value("seed")?,
        })
    }
}

const OPTIONS: &[OptionSpec] = &[
    OptionSpec {
        name: "seed",
        kind: OptionKind::Int {
            min: 0,
            max: i64::MAX,
        },
        default: Some("42"),
        doc: "seed of the random scores",
    },
    OptionSpec {
        name: "tags",
        kind: OptionKind::Table,
        default: None,
        doc: "table or view of (item, tag, weight): not used for the score",
    },
];

impl ModelType for RandomType {
    fn name(&self) -> &'static str {
        "random"
    }

    fn description(&self) -> &'static str {
        "random baseline: a fixed seeded pseudo-random score for every (user, item) pair"
    }

    fn options(&self) -> &'static [OptionSpec] {
        OPTIONS
    }

    fn train(&self, data: &TrainingData, ctx: &TrainContext<'_>) -> Result<Trained> {
        let start = Instant::now();
        let (rec, training) = RecData::from_training("random", data, Tags::Optional, &ctx.control)?;
        let Params { seed } = Params::try_from(ctx.options)?;
        ctx.control.progress(&format!(
            "random: {} users, {} items in {:.2} s",
            rec.n_users(),
            rec.n_items(),
            start.elapsed().as_secs_f64()
        ));
        Ok(Trained {
            model: Box::new(RandomRec { data: rec, seed }),
            training,
        })
    }

    fn load(&self, _options: &ModelOptions, bytes: &[u8]) -> Result<Box<dyn Model>> {
        Ok(Box::new(decode::<RandomRec>("random", bytes)?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scores_are_uniform_and_depend_on_the_seed() {
        let n = 20_000u64;
        let xs: Vec<f64> = (0..n).map(|i| random_score(7, i / 100, i % 100)).collect();
        assert!(xs.iter().all(|x| (0.0..1.0).contains(x)));
        let mean = xs.iter().sum::<f64>() / n as f64;
        // The mean of n uniforms has SD 1/sqrt(12 n) ≈ 0.002; 5 SDs.
        assert!((mean - 0.5).abs() < 0.01, "mean {mean}");
        let below = xs.iter().filter(|&&x| x < 0.25).count() as f64 / n as f64;
        assert!((below - 0.25).abs() < 0.015, "P(x < 0.25) = {below}");
        assert_eq!(random_score(7, 3, 4), random_score(7, 3, 4));
        assert_ne!(random_score(7, 3, 4), random_score(8, 3, 4));
        assert_ne!(random_score(7, 3, 4), random_score(7, 4, 3));
    }
}
