//! `inn`: the tag-aware item-neighbourhood recommender (thesis eq. 5.3–5.8, SPEC §5).
//!
//! Items are similar when their tags are: the truncated SVD T ≈ U Σ Vᵀ (rank h = `dim`) of the
//! item-tag matrix gives item factors Û (rows of U scaled to unit length), the item similarity
//! S ≈ Û Ûᵀ, user factors Q = R Û and scores P = R S ≈ Q Ûᵀ. For any tag vector t,
//! û(t) = unit(t V Σ⁻¹) and f(u, i, t) = Q_u · û(t); at t = T_i, t V Σ⁻¹ = U_i so f is P_{u,i}.
//! (The thesis prints T_l V Σ; Σ⁻¹ is what maps T_i back to U_i.) The score does not depend on
//! the item index beyond its tags, which is what lets iNN score unseen items from their tags
//! (`score_tags`). Items without tags have Û_i = 0 and score 0. Components with a numerically
//! zero singular value are dropped, so the rank can be below `dim` on small data.

use std::collections::BTreeMap;
use std::time::Instant;

use datafusion::common::exec_err;
use datafusion::error::Result;
use serde::{Deserialize, Serialize};
use tch::{Device, Kind, Tensor};

use super::data::{RecData, Tags};
use super::kernels::svd::SparseOp;
use super::recommender::{Entity, FactorMatrix, Recommender};
use super::tensors::TagInput;
use super::train::{kernel_err, row_major, scaled_tag_rows, svd_with_progress, tag_projection};
use crate::common::tensors::{matrix_f64, unit_rows, DeviceTensors};
use crate::model::{
    decode, encode, Model, ModelOptions, ModelType, OptionKind, OptionSpec, TrainContext, Trained,
    TrainingData,
};
use crate::transfer::kernels::linalg::dot;

/// The `inn` model type.
#[derive(Debug)]
pub struct InnType;

/// A trained item-neighbourhood model.
#[derive(Debug, Serialize, Deserialize)]
pub struct Inn {
    data: RecData,
    /// Latent dimension actually used (≤ `dim`).
    k: usize,
    /// V Σ⁻¹, tags × k (row-major).
    w: Vec<f64>,
    /// Û, items × k.
    items: Vec<f64>,
    /// Q = R Û, users × k.
    users: Vec<f64>,
    singular_values: Vec<f64>,
    #[serde(skip)]
    tensors: DeviceTensors,
}

impl Inn {
    /// Fits the model to `data` (its T and R).
    pub fn fit(
        data: RecData,
        options: &ModelOptions,
        ctx: &TrainContext<'_>,
    ) -> Result<(Inn, bool)> {
        let opts = super::kernels::svd::SvdOptions::try_from(options)?;
        let op = SparseOp::new(data.t.clone()).map_err(|e| kernel_err("inn", e))?;
        let svd = svd_with_progress("inn", &op, &opts, &ctx.control)?;
        let k = svd.s.len();
        let u_hat = super::train::unit_rows(&svd.u);
        let q = data.r.mul_dense(&u_hat);
        let w = tag_projection(&svd);
        Ok((
            Inn {
                k,
                w: row_major(&w),
                items: row_major(&u_hat),
                users: row_major(&q),
                singular_values: svd.s.clone(),
                data,
                tensors: DeviceTensors::default(),
            },
            svd.converged,
        ))
    }

    /// [W, Û, Q] on `device`.
    fn params(&self, device: Device) -> Result<[Tensor; 3]> {
        self.tensors.get(device, |d| {
            Ok(vec![
                matrix_f64(&self.w, self.data.n_tags(), self.k, Kind::Double, d),
                matrix_f64(&self.items, self.data.n_items(), self.k, Kind::Double, d),
                matrix_f64(&self.users, self.data.n_users(), self.k, Kind::Double, d),
            ])
        })
    }

    fn score_tags(&self, device: Device, users: &Tensor, tags: &TagInput) -> Result<Tensor> {
        let [w, _, q] = self.params(device)?;
        let u_hat = unit_rows(&tags.matmul(&w));
        Ok((q.index_select(0, users) * u_hat).sum_dim_intlist(1, false, Kind::Double))
    }
}

impl Model for Inn {
    fn describe(&self) -> Vec<(String, String)> {
        let mut out = self.data.describe();
        out.push(("latent dimension".to_string(), self.k.to_string()));
        if let (Some(first), Some(last)) =
            (self.singular_values.first(), self.singular_values.last())
        {
            out.push((
                "singular values".to_string(),
                format!("{first:.4} … {last:.4}"),
            ));
        }
        out
    }

    fn to_bytes(&self) -> Result<Vec<u8>> {
        encode(self)
    }

    crate::capabilities!(dyn Recommender);
}

impl Recommender for Inn {
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
        if let TagInput::Own(_) = tags {
            let [_, u_hat, q] = self.params(device)?;
            return Ok(
                (q.index_select(0, users) * u_hat.index_select(0, items)).sum_dim_intlist(
                    1,
                    false,
                    Kind::Double,
                ),
            );
        }
        self.score_tags(device, users, tags)
    }

    fn forward_cold(
        &self,
        device: Device,
        users: &Tensor,
        tags: &TagInput,
    ) -> Result<Option<Tensor>> {
        self.score_tags(device, users, tags).map(Some)
    }

    /// With a = T_j W and b_t = W_t: z = a + w b_t, f = (q·a + w q·b_t) / √(‖a‖² + 2w a·b_t +
    /// w² ‖b_t‖² + 1e-30), the same as [`unit_rows`] of z dotted with q.
    fn switch_on_scores(
        &self,
        device: Device,
        user: u32,
        items: &[u32],
        weight: f64,
        cancelled: super::recommender::Cancel<'_>,
    ) -> Result<Option<Tensor>> {
        cancelled()?;
        let [w, _, q] = self.params(device)?;
        let qu = q.get(user as i64);
        let a = TagInput::own(&self.data, items, Kind::Double, device).matmul(&w);
        let num = a.matmul(&qu).unsqueeze(1) + w.matmul(&qu).unsqueeze(0) * weight;
        let aa = a.square().sum_dim_intlist(1, true, Kind::Double);
        let bb = w
            .square()
            .sum_dim_intlist(1, false, Kind::Double)
            .unsqueeze(0);
        let den = (aa + a.matmul(&w.tr()) * (2.0 * weight) + bb * (weight * weight) + 1e-30).sqrt();
        Ok(Some(num / den))
    }

    /// The closed form [`scaled_scores`] over the item's rows of W (the f64 factors as they
    /// are, with no tensor round trip).
    fn scaled_tag_scores_cpu(
        &self,
        user: u32,
        _item: u32,
        tags: &[u32],
        weights: &[f32],
        scale: &[f64],
        _cancelled: super::recommender::Cancel<'_>,
    ) -> Result<Option<Vec<f64>>> {
        let k = self.k;
        let u = user as usize;
        let (Some(q), Some(b)) = (
            self.users.get(u * k..(u + 1) * k),
            scaled_tag_rows(&self.w, k, tags, weights),
        ) else {
            return exec_err!("inn: user, tag or weight out of range");
        };
        scaled_scores(&b, q, scale).map(Some)
    }

    fn score_all_items(
        &self,
        device: Device,
        users: &[u32],
        _cancelled: super::recommender::Cancel<'_>,
    ) -> Result<Tensor> {
        let [_, u_hat, q] = self.params(device)?;
        Ok(
            q.index_select(0, &crate::common::tensors::index(users, device))
                .matmul(&u_hat.tr()),
        )
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

/// iNN's scores of scaled tag vectors: with `b` the item's d tags' rows of W, each times the
/// tag's weight (row-major, d × k), `q` the user's row of Q and `scale` a row-major n × d
/// matrix, row r scores `q · a / √(a · a + 1e-30)` with `a = Σ_j scale[r, j] b_j`, which is
/// [`Recommender::forward`]'s `q · unit(a)` ([`unit_rows`]) on the same tag vector up to
/// rounding. The sums are one matrix product; a row of zeros scores 0.
pub fn scaled_scores(b: &[f64], q: &[f64], scale: &[f64]) -> Result<Vec<f64>> {
    let k = q.len();
    if k == 0 || b.len() % k != 0 || b.is_empty() {
        return exec_err!("inn: {} factor values are not rows of {k}", b.len());
    }
    let d = b.len() / k;
    if scale.len() % d != 0 {
        return exec_err!("inn: {} scales are not columns of {d} tags", scale.len());
    }
    // In blocks of rows, so that the block's sums (k values a row) stay bounded however many
    // rows there are; each block's scales are copied column-major (the product packs its left
    // operand fastest from columns).
    let mut out = Vec::with_capacity(scale.len() / d);
    let mut a = Vec::new();
    for block in scale.chunks(SCALED_ROWS * d) {
        let rows = block.len() / d;
        a.clear();
        a.resize(rows * k, 0.0);
        // Read in place on an AVX-512 CPU (`common::thin_gemm`).
        crate::common::thin_gemm::rows_times(block, rows, d, b, k, &mut a);
        out.extend(
            a.chunks_exact(k)
                .map(|a| dot(q, a) / (dot(a, a) + 1e-30).sqrt()),
        );
    }
    Ok(out)
}

/// Rows of [`scaled_scores`]' blocks.
const SCALED_ROWS: usize = 4096;

/// Options of the SVD-based models (`inn`, `unn`).
pub const SVD_OPTIONS: &[OptionSpec] = &[
    OptionSpec {
        name: "tags",
        kind: OptionKind::Table,
        default: None,
        doc: "table or view of (item, tag [, weight]) giving each item's tag vector (required)",
    },
    OptionSpec {
        name: "dim",
        kind: OptionKind::Int { min: 1, max: 4096 },
        default: Some("64"),
        doc: "rank h of the truncated SVD (the latent dimension)",
    },
    OptionSpec {
        name: "svd_iterations",
        kind: OptionKind::Int {
            min: 1,
            max: 100_000,
        },
        default: Some("200"),
        doc: "most subspace iterations of the truncated SVD",
    },
    OptionSpec {
        name: "svd_oversample",
        kind: OptionKind::Int { min: 0, max: 4096 },
        default: Some("10"),
        doc: "extra columns of the SVD's iteration block beyond dim",
    },
    OptionSpec {
        name: "svd_tol",
        kind: OptionKind::Float { min: 0.0, max: 1.0 },
        default: Some("1e-10"),
        doc: "convergence tolerance of the SVD (relative change of singular values and subspaces)",
    },
    OptionSpec {
        name: "seed",
        kind: OptionKind::Int {
            min: 0,
            max: i64::MAX,
        },
        default: Some("42"),
        doc: "seed of the SVD's random start",
    },
];

/// Training facts of an SVD-based model.
pub fn svd_facts(
    mut training: BTreeMap<String, String>,
    k: usize,
    converged: bool,
    start: Instant,
) -> BTreeMap<String, String> {
    training.insert("latent dimension".to_string(), k.to_string());
    training.insert("svd converged".to_string(), converged.to_string());
    training.insert(
        "training seconds".to_string(),
        format!("{:.3}", start.elapsed().as_secs_f64()),
    );
    training
}

impl ModelType for InnType {
    fn name(&self) -> &'static str {
        "inn"
    }

    fn description(&self) -> &'static str {
        "item neighbourhood on tags: truncated SVD of the item-tag matrix, P = R Û Ûᵀ (thesis eq. 5.3-5.8)"
    }

    fn options(&self) -> &'static [OptionSpec] {
        SVD_OPTIONS
    }

    fn train(&self, data: &TrainingData, ctx: &TrainContext<'_>) -> Result<Trained> {
        let start = Instant::now();
        let (rec, training) = RecData::from_training("inn", data, Tags::Required, &ctx.control)?;
        super::train::memory::check_svd("inn", &rec, ctx.options, ctx.memory_limit)?;
        let (model, converged) = Inn::fit(rec, ctx.options, ctx)?;
        let training = svd_facts(training, model.k, converged, start);
        Ok(Trained {
            model: Box::new(model),
            training,
        })
    }

    fn load(&self, _options: &ModelOptions, bytes: &[u8]) -> Result<Box<dyn Model>> {
        Ok(Box::new(decode::<Inn>("inn", bytes)?))
    }
}
