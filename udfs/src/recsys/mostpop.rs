//! `mostpop`: the popularity baseline. Every user gets the same ranking, items ordered by how many
//! users interacted with them in the training data.
//!
//! f(u, i, t) = the number of distinct training users of item i; it does not depend on t (its
//! gradient with respect to t is zero). The `value` column, if present, is not used for the
//! score: popularity counts users, not plays or ratings. Users and items absent from the
//! training data score NULL.

use std::time::Instant;

use datafusion::error::Result;
use serde::{Deserialize, Serialize};
use tch::{Device, Kind, Tensor};

use super::data::{RecData, Tags};
use super::recommender::Recommender;
use super::tensors::TagInput;
use crate::common::tensors::{matrix_f32, DeviceTensors};
use crate::model::{
    decode, encode, Model, ModelOptions, ModelType, OptionKind, OptionSpec, TrainContext, Trained,
    TrainingData,
};

/// The `mostpop` model type.
#[derive(Debug)]
pub struct MostPopType;

/// A trained popularity model.
#[derive(Debug, Serialize, Deserialize)]
pub struct MostPop {
    data: RecData,
    /// Users per item.
    counts: Vec<f32>,
    #[serde(skip)]
    tensors: DeviceTensors,
}

impl MostPop {
    pub fn new(data: RecData) -> Self {
        let counts = data.item_counts().iter().map(|&c| c as f32).collect();
        MostPop {
            data,
            counts,
            tensors: DeviceTensors::default(),
        }
    }
}

impl Model for MostPop {
    fn describe(&self) -> Vec<(String, String)> {
        let mut out = self.data.describe();
        if let Some((i, c)) = self
            .counts
            .iter()
            .enumerate()
            .max_by(|a, b| a.1.total_cmp(b.1))
        {
            if let Some(key) = self.data.items.key(i) {
                out.push((
                    "most popular item".to_string(),
                    format!("{} ({c} users)", key.display()),
                ));
            }
        }
        out
    }

    fn to_bytes(&self) -> Result<Vec<u8>> {
        encode(self)
    }

    crate::capabilities!(dyn Recommender);
}

impl Recommender for MostPop {
    fn data(&self) -> &RecData {
        &self.data
    }

    fn uses_tags(&self) -> bool {
        false
    }

    fn forward(
        &self,
        device: Device,
        _users: &Tensor,
        items: &Tensor,
        _tags: &TagInput,
    ) -> Result<Tensor> {
        let [counts] = self.params(device)?;
        Ok(counts.index_select(0, items))
    }

    fn score_all_items(
        &self,
        device: Device,
        users: &[u32],
        _cancelled: super::recommender::Cancel<'_>,
    ) -> Result<Tensor> {
        let [counts] = self.params(device)?;
        Ok(counts
            .unsqueeze(0)
            .expand([users.len() as i64, -1], false)
            .contiguous())
    }
}

impl MostPop {
    fn params(&self, device: Device) -> Result<[Tensor; 1]> {
        self.tensors.get(device, |d| {
            Ok(vec![matrix_f32(
                &self.counts,
                self.counts.len(),
                1,
                Kind::Float,
                d,
            )
            .view([-1])])
        })
    }
}

const OPTIONS: &[OptionSpec] = &[OptionSpec {
    name: "tags",
    kind: OptionKind::Table,
    default: None,
    doc: "table or view of (item, tag, weight): not used for the score, kept so that the model \
          has the same tag vectors as the models it is compared with",
}];

impl ModelType for MostPopType {
    fn name(&self) -> &'static str {
        "mostpop"
    }

    fn description(&self) -> &'static str {
        "popularity baseline: items ranked by their number of users, the same for every user"
    }

    fn options(&self) -> &'static [OptionSpec] {
        OPTIONS
    }

    fn train(&self, data: &TrainingData, ctx: &TrainContext<'_>) -> Result<Trained> {
        let start = Instant::now();
        let (rec, training) =
            RecData::from_training("mostpop", data, Tags::Optional, &ctx.control)?;
        let model = MostPop::new(rec);
        ctx.control.progress(&format!(
            "mostpop: counted {} interactions of {} users with {} items in {:.2} s",
            model.data.r.nnz(),
            model.data.n_users(),
            model.data.n_items(),
            start.elapsed().as_secs_f64()
        ));
        Ok(Trained {
            model: Box::new(model),
            training,
        })
    }

    fn load(&self, _options: &ModelOptions, bytes: &[u8]) -> Result<Box<dyn Model>> {
        Ok(Box::new(decode::<MostPop>("mostpop", bytes)?))
    }
}
