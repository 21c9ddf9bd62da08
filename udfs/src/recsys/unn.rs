//! `unn`: the tag-aware user-neighbourhood recommender (thesis eq. 5.9–5.11, SPEC §5).
//!
//! Users are similar when the tags of what they consumed are: user-tag profiles Tᵁ = R T, their
//! truncated SVD Tᵁ ≈ Uᵁ Σᵁ Vᵁᵀ (rank h = `dim`), user factors Ûᵁ (unit rows of Uᵁ), item
//! factors Y = Ûᵁᵀ R and scores P = Ûᵁ Y, i.e. P = S R with S ≈ Ûᵁ Ûᵁᵀ.
//!
//! Tag dependence: replacing item i's tags by t shifts the profile of every user v who consumed i
//! by R_{v,i}(t − T_i). Profiles map to the latent space with the trained Vᵁ Σᵁ⁻¹, so user v's
//! latent profile becomes Uᵁ_v + R_{v,i}(t − T_i) Vᵁ Σᵁ⁻¹, which is unit-normalised, and
//! f(u, i, t) = Σ_v ⟨ûᵁ_u(t), ûᵁ_v(t)⟩ R_{v,i}. At t = T_i this is exactly P_{u,i}. uNN scores an
//! item through the users who consumed it, so it has no score for an unseen item (`score_tags`
//! gives NULL).

use std::sync::OnceLock;
use std::time::Instant;

use datafusion::error::Result;
use serde::{Deserialize, Serialize};
use tch::{Device, Kind, Tensor};

use super::data::{RecData, Tags};
use super::inn::{svd_facts, SVD_OPTIONS};
use super::kernels::sparse::Csr;
use super::kernels::svd::{ProductOp, SparseOp};
use super::recommender::{Entity, FactorMatrix, Recommender};
use super::tensors::{index, matrix_f64, unit_rows, DeviceTensors, TagInput};
use super::train::{kernel_err, row_major, svd_options, svd_with_progress, tag_projection};
use crate::model::{
    decode, encode, Model, ModelOptions, ModelType, OptionSpec, TrainContext, Trained, TrainingData,
};

/// The `unn` model type.
#[derive(Debug)]
pub struct UnnType;

/// A trained user-neighbourhood model.
#[derive(Debug, Serialize, Deserialize)]
pub struct Unn {
    data: RecData,
    k: usize,
    /// Vᵁ Σᵁ⁻¹, tags × k.
    w: Vec<f64>,
    /// Uᵁ (unnormalised latent user profiles), users × k.
    latent: Vec<f64>,
    /// Ûᵁ, users × k.
    users: Vec<f64>,
    /// Yᵀ = Rᵀ Ûᵁ, items × k.
    items: Vec<f64>,
    /// T W: each item's own tags in the latent space, items × k.
    item_tags: Vec<f64>,
    singular_values: Vec<f64>,
    #[serde(skip)]
    tensors: DeviceTensors,
    /// Rᵀ (items × users): who consumed each item.
    #[serde(skip)]
    consumers: OnceLock<Csr>,
}

impl Unn {
    pub fn fit(
        data: RecData,
        options: &ModelOptions,
        ctx: &TrainContext<'_>,
    ) -> Result<(Unn, bool)> {
        let opts = svd_options(options);
        let r = SparseOp::new(data.r.clone()).map_err(|e| kernel_err("unn", e))?;
        let t = SparseOp::new(data.t.clone()).map_err(|e| kernel_err("unn", e))?;
        let op = ProductOp::new(r, t).map_err(|e| kernel_err("unn", e))?;
        let svd = svd_with_progress("unn", &op, &opts, &ctx.control)?;
        let k = svd.s.len();
        let w = tag_projection(&svd);
        let u_hat = super::train::unit_rows(&svd.u);
        let items = data.r.t_mul_dense(&u_hat);
        let item_tags = data.t.mul_dense(&w);
        Ok((
            Unn {
                k,
                w: row_major(&w),
                latent: row_major(&svd.u),
                users: row_major(&u_hat),
                items: row_major(&items),
                item_tags: row_major(&item_tags),
                singular_values: svd.s.clone(),
                data,
                tensors: DeviceTensors::default(),
                consumers: OnceLock::new(),
            },
            svd.converged,
        ))
    }

    /// [W, Uᵁ, Ûᵁ, Yᵀ, T W] on `device`.
    fn params(&self, device: Device) -> Result<[Tensor; 5]> {
        let (nu, ni, nt, k) = (
            self.data.n_users(),
            self.data.n_items(),
            self.data.n_tags(),
            self.k,
        );
        self.tensors.get(device, |d| {
            Ok(vec![
                matrix_f64(&self.w, nt, k, Kind::Double, d),
                matrix_f64(&self.latent, nu, k, Kind::Double, d),
                matrix_f64(&self.users, nu, k, Kind::Double, d),
                matrix_f64(&self.items, ni, k, Kind::Double, d),
                matrix_f64(&self.item_tags, ni, k, Kind::Double, d),
            ])
        })
    }

    fn consumers(&self) -> &Csr {
        self.consumers.get_or_init(|| self.data.r.transpose())
    }
}

impl Model for Unn {
    fn describe(&self) -> Vec<(String, String)> {
        let mut out = self.data.describe();
        out.push(("latent dimension".to_string(), self.k.to_string()));
        out
    }

    fn to_bytes(&self) -> Result<Vec<u8>> {
        encode(self)
    }

    fn as_recommender(&self) -> Option<&dyn Recommender> {
        Some(self)
    }
}

impl Recommender for Unn {
    fn data(&self) -> &RecData {
        &self.data
    }

    fn kind(&self) -> Kind {
        Kind::Double
    }

    fn uses_tags(&self) -> bool {
        true
    }

    fn forward(
        &self,
        device: Device,
        users: &Tensor,
        items: &Tensor,
        tags: &TagInput,
    ) -> Result<Tensor> {
        let [w, latent, u_hat, y, item_tags] = self.params(device)?;
        if let TagInput::Own(_) = tags {
            return Ok(
                (u_hat.index_select(0, users) * y.index_select(0, items)).sum_dim_intlist(
                    1,
                    false,
                    Kind::Double,
                ),
            );
        }
        // Shift of the latent profile per unit of interaction: (t − T_i) W.
        let d = tags.matmul(&w) - item_tags.index_select(0, items);
        let user_idx = Vec::<i64>::try_from(&users.to_device(Device::Cpu))
            .map_err(super::tensors::torch_err)?;
        let item_idx = Vec::<i64>::try_from(&items.to_device(Device::Cpu))
            .map_err(super::tensors::torch_err)?;
        let consumers = self.consumers();
        let (mut rows, mut vs, mut rv, mut ru) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for (b, (&u, &i)) in user_idx.iter().zip(&item_idx).enumerate() {
            let (cs, vals) = consumers.row(i as usize);
            rows.extend(std::iter::repeat_n(b as i64, cs.len()));
            vs.extend(cs.iter().copied());
            rv.extend(vals.iter().map(|&x| x as f64));
            // R_{u,i}: the user's own profile moves too when u consumed i.
            let r_ui = match cs.binary_search(&(u as u32)) {
                Ok(p) => vals[p] as f64,
                Err(_) => 0.0,
            };
            ru.push(r_ui);
        }
        let rows = Tensor::from_slice(&rows).to_device(device);
        let rv = Tensor::from_slice(&rv).to_device(device);
        let ru = Tensor::from_slice(&ru).to_device(device);
        let z_u = unit_rows(&(latent.index_select(0, users) + ru.unsqueeze(1) * &d));
        let z_v = unit_rows(
            &(latent.index_select(0, &index(&vs, device))
                + rv.unsqueeze(1) * d.index_select(0, &rows)),
        );
        let contrib =
            (z_u.index_select(0, &rows) * z_v).sum_dim_intlist(1, false, Kind::Double) * rv;
        Ok(Tensor::zeros([tags.batch()], (Kind::Double, device)).index_add(0, &rows, &contrib))
    }

    fn score_all_items(&self, device: Device, users: &[u32]) -> Result<Tensor> {
        let [_, _, u_hat, y, _] = self.params(device)?;
        Ok(u_hat.index_select(0, &index(users, device)).matmul(&y.tr()))
    }

    fn factors(&self) -> Vec<FactorMatrix> {
        let f = |entity, v: &[f64]| FactorMatrix {
            entity,
            k: self.k,
            values: v.iter().map(|&x| x as f32).collect(),
        };
        vec![
            f(Entity::User, &self.users),
            f(Entity::Item, &self.items),
            f(Entity::Tag, &self.w),
        ]
    }
}

impl ModelType for UnnType {
    fn name(&self) -> &'static str {
        "unn"
    }

    fn description(&self) -> &'static str {
        "user neighbourhood on tag profiles: truncated SVD of R T, P = Û (Ûᵀ R) (thesis eq. 5.9-5.11)"
    }

    fn options(&self) -> &'static [OptionSpec] {
        SVD_OPTIONS
    }

    fn train(&self, data: &TrainingData, ctx: &TrainContext<'_>) -> Result<Trained> {
        let start = Instant::now();
        let (rec, training) = RecData::from_training("unn", data, Tags::Required, &ctx.control)?;
        let (model, converged) = Unn::fit(rec, ctx.options, ctx)?;
        let training = svd_facts(training, model.k, converged, start);
        Ok(Trained {
            model: Box::new(model),
            training,
        })
    }

    fn load(&self, _options: &ModelOptions, bytes: &[u8]) -> Result<Box<dyn Model>> {
        Ok(Box::new(decode::<Unn>("unn", bytes)?))
    }
}
