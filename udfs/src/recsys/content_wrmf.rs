//! `content_wrmf`: the cold-start recommender of the thesis's transfer experiments (ch. 2,
//! eq. 2.7–2.9), WRMF whose item factors are tied to a linear map of item features, V ≈ XW.
//!
//! It exists to evaluate an audio representation as a recommender's content (thesis §2.4.4):
//! tracks held out of training (5 % in the authors' code) have no interactions, so plain `wrmf`
//! cannot score them; this model learns the projection W from features to item factors at the
//! same time as the factors, and scores a held-out track with features x by u · xW
//! (`score_features`). The objective, the reading of the equation (V free, regularised towards
//! XW; the ½ factors as written) and the ALS steps are documented in the kernel,
//! [`super::kernels::als::content`].
//!
//! Why a model type of its own rather than an option of `wrmf`: the objective differs (three
//! regularisers λ^U, λ^V, λ^W with ½ factors, against `wrmf`'s one λ without), the model keeps
//! more (W and the feature standardisation), which would change the stored form of every `wrmf`
//! model, and it needs features at training and at scoring. The ALS half-steps are shared (the
//! same kernels; the V-step adds a prior to the right-hand side), so `wrmf` itself is unchanged.
//!
//! Features come either as a column `features` of the AS query (a list of numbers on every
//! interaction row, the same on all rows of an item) or, without repeating them on every row,
//! as OPTIONS (features = 'table') naming a table or view of (item, features); items of that
//! table without interactions are not used in training (they are the cold items). Every
//! training item needs its features, all of the same length. With `standardize` (the default,
//! as the authors' evaluation code, which applies scikit-learn's `StandardScaler`), each feature
//! is centred and scaled by the training items' mean and population standard deviation, and the
//! same statistics are applied to a cold item's features when it is scored.

use std::sync::Arc;
use std::time::Instant;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, RecordBatch};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Field, Float32Type};
use datafusion::common::{exec_err, plan_datafusion_err, plan_err};
use datafusion::error::Result;
use serde::{Deserialize, Serialize};
use tch::{Device, Kind, Tensor};

use super::data::{RecData, Tags};
use super::kernels::als::content::{
    content_wrmf_cancellable, project, ContentOptions, Features, Standardizer,
};
use super::kernels::als::Solver;
use super::recommender::{Entity, FactorMatrix, Recommender};
use super::tensors::TagInput;
use super::train::{callback_err, kernel_err};
use super::wrmf::ALS_OPTION_SPECS;
use crate::common::tensors::{index, matrix_f32, DeviceTensors};
use crate::model::{
    decode, encode, KeyColumn, KeyIndex, Model, ModelOptions, ModelType, OptionKind, OptionSpec,
    TaskControl, TrainContext, Trained, TrainingData,
};

const NAME: &str = "content_wrmf";

/// The `content_wrmf` model type.
#[derive(Debug)]
pub struct ContentWrmfType;

/// A trained content-aware WRMF model.
#[derive(Debug, Serialize, Deserialize)]
pub struct ContentWrmf {
    data: RecData,
    /// Number of latent factors r.
    k: usize,
    /// Number of features d.
    d: usize,
    users: Vec<f32>,
    items: Vec<f32>,
    /// W, d × r, row-major.
    w: Vec<f64>,
    /// The training items' feature statistics, when standardised.
    standardizer: Option<Standardizer>,
    /// The objective after each iteration.
    objective: Vec<f64>,
    #[serde(skip)]
    tensors: DeviceTensors,
}

/// Why a cold item's feature vector could not be scored.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ColdScoreError {
    #[error("the model has {expected} features per item, got {got}")]
    Length { expected: usize, got: usize },
    #[error("a feature value is not finite")]
    NotFinite,
}

impl ContentWrmf {
    /// [U, V] on `device`.
    fn params(&self, device: Device) -> Result<[Tensor; 2]> {
        self.tensors.get(device, |d| {
            Ok(vec![
                matrix_f32(&self.users, self.data.n_users(), self.k, Kind::Float, d),
                matrix_f32(&self.items, self.data.n_items(), self.k, Kind::Float, d),
            ])
        })
    }

    /// Number of features per item.
    pub fn n_features(&self) -> usize {
        self.d
    }

    /// The objective after each training iteration.
    pub fn objective(&self) -> &[f64] {
        &self.objective
    }

    /// The item factor of an item known only by its features: x W, with x standardised as the
    /// training items were.
    pub fn cold_factor(&self, features: &[f64]) -> std::result::Result<Vec<f64>, ColdScoreError> {
        if features.len() != self.d {
            return Err(ColdScoreError::Length {
                expected: self.d,
                got: features.len(),
            });
        }
        if features.iter().any(|v| !v.is_finite()) {
            return Err(ColdScoreError::NotFinite);
        }
        let z = match &self.standardizer {
            Some(s) => s.transform(features),
            None => features.to_vec(),
        };
        Ok(project(&z, &self.w, self.k))
    }

    /// u · xW for the user with index `user` (in `data().users`) and an item's features.
    pub fn score_features(
        &self,
        user: u32,
        features: &[f64],
    ) -> std::result::Result<Option<f64>, ColdScoreError> {
        let v = self.cold_factor(features)?;
        let start = user as usize * self.k;
        let Some(u) = self.users.get(start..start + self.k) else {
            return Ok(None);
        };
        Ok(Some(
            u.iter().zip(&v).map(|(&a, &b)| f64::from(a) * b).sum(),
        ))
    }
}

impl Model for ContentWrmf {
    fn describe(&self) -> Vec<(String, String)> {
        let mut out = self.data.describe();
        out.push(("latent dimension".to_string(), self.k.to_string()));
        out.push(("features".to_string(), self.d.to_string()));
        out.push((
            "standardized features".to_string(),
            self.standardizer.is_some().to_string(),
        ));
        if let Some(o) = self.objective.last() {
            out.push(("final objective".to_string(), format!("{o:.6e}")));
        }
        out
    }

    fn to_bytes(&self) -> Result<Vec<u8>> {
        encode(self)
    }

    crate::capabilities!(dyn Recommender);
}

impl Recommender for ContentWrmf {
    fn data(&self) -> &RecData {
        &self.data
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
        let [u, v] = self.params(device)?;
        Ok(
            (u.index_select(0, users) * v.index_select(0, items)).sum_dim_intlist(
                1,
                false,
                Kind::Float,
            ),
        )
    }

    fn score_all_items(
        &self,
        device: Device,
        users: &[u32],
        _cancelled: super::recommender::Cancel<'_>,
    ) -> Result<Tensor> {
        let [u, v] = self.params(device)?;
        Ok(u.index_select(0, &index(users, device)).matmul(&v.tr()))
    }

    fn factors(&self) -> Vec<FactorMatrix> {
        vec![
            FactorMatrix {
                entity: Entity::User,
                k: self.k,
                values: self.users.clone(),
            },
            FactorMatrix {
                entity: Entity::Item,
                k: self.k,
                values: self.items.clone(),
            },
        ]
    }
}

const OPTIONS: &[OptionSpec] = &[
    OptionSpec {
        name: "dim",
        kind: OptionKind::Int { min: 1, max: 4096 },
        default: Some("50"),
        doc: "number of latent factors r (thesis: 50)",
    },
    OptionSpec {
        default: Some("15"),
        doc: "ALS iterations (each updates all users, all items, then W; thesis: 15)",
        ..ALS_OPTION_SPECS[0]
    },
    OptionSpec {
        default: Some("0.1"),
        doc: "confidence slope: C = 1 + alpha * value (thesis eq. 2.9: 0.1)",
        ..ALS_OPTION_SPECS[1]
    },
    OptionSpec {
        name: "l2_user",
        kind: OptionKind::Float { min: 0.0, max: 1e9 },
        default: Some("0.00001"),
        doc: "λ^U: the penalty λ^U/2 ‖U‖² (thesis: 1e-5)",
    },
    OptionSpec {
        name: "l2_item",
        kind: OptionKind::Float { min: 0.0, max: 1e9 },
        default: Some("0.00001"),
        doc: "λ^V: the penalty λ^V/2 ‖V − XW‖² tying item factors to the features (thesis: 1e-5)",
    },
    OptionSpec {
        name: "l2_features",
        kind: OptionKind::Float { min: 0.0, max: 1e9 },
        default: Some("0.1"),
        doc: "λ^W: the penalty λ^W/2 ‖W‖² on the projection (thesis: 0.1)",
    },
    OptionSpec {
        name: "standardize",
        kind: OptionKind::Bool,
        default: Some("true"),
        doc: "centre and scale each feature by the training items' mean and standard deviation",
    },
    OptionSpec {
        default: Some("cholesky"),
        ..ALS_OPTION_SPECS[3]
    },
    ALS_OPTION_SPECS[4],
    ALS_OPTION_SPECS[5],
    OptionSpec {
        name: "features",
        kind: OptionKind::Table,
        default: None,
        doc: "table or view of (item, features) instead of a features column in the AS query",
    },
];

/// The options of `content_wrmf` (spec [`OPTIONS`]) read into the kernel's settings.
impl TryFrom<&ModelOptions> for ContentOptions {
    type Error = datafusion::error::DataFusionError;

    fn try_from(options: &ModelOptions) -> Result<Self> {
        let solver = match options.value::<String>("solver")?.as_str() {
            "cholesky" => Solver::Cholesky,
            _ => Solver::ConjugateGradient {
                steps: options.value("cg_steps")?,
            },
        };
        Ok(ContentOptions {
            factors: options.value("dim")?,
            iterations: options.value("iterations")?,
            alpha: options.value("alpha")?,
            l2_user: options.value("l2_user")?,
            l2_item: options.value("l2_item")?,
            l2_features: options.value("l2_features")?,
            solver,
            seed: options.value("seed")?,
            init_scale: 0.01,
        })
    }
}

/// Whether `t` can hold feature vectors: training (the `features` column) and `score_features`
/// (its argument) accept the same types, those of [`crate::common::adapters::is_number_list`].
pub(crate) use crate::common::adapters::is_number_list;

/// A features column as lists of f32 (any list type of numbers).
fn feature_lists(column: &ArrayRef, what: &str) -> Result<ArrayRef> {
    let target = DataType::List(Arc::new(Field::new_list_field(DataType::Float32, true)));
    if !is_number_list(column.data_type()) {
        return plan_err!(
            "model type '{NAME}': {what} must be a list of numbers, got {}",
            column.data_type()
        );
    }
    cast(column, &target).map_err(|e| plan_datafusion_err!("model type '{NAME}': {what}: {e}"))
}

/// Reads one feature vector per item of `items` from `batches` (columns `item` and `features`);
/// rows of items not in `items` are counted and skipped. Checks the memory X needs before
/// allocating it.
fn read_features(
    batches: &[RecordBatch],
    items: &KeyIndex,
    source: &str,
    memory: &dyn Fn(usize) -> Result<()>,
    control: &TaskControl<'_>,
) -> Result<(Features, usize)> {
    let mut columns = Vec::with_capacity(batches.len());
    for batch in batches {
        let schema = batch.schema();
        let column = |name: &str| -> Result<ArrayRef> {
            let i = schema.index_of(name).map_err(|_| {
                plan_datafusion_err!(
                    "model type '{NAME}' needs a column named \"{name}\" in {source}"
                )
            })?;
            Ok(batch.column(i).clone())
        };
        let item = KeyColumn::try_new(&column("item")?, &format!("{source} column \"item\""))?;
        if item.kind() != items.kind() && !items.is_empty() {
            return plan_err!(
                "model type '{NAME}': {source} has {} item ids but the AS query has {} item ids",
                item.kind().name(),
                items.kind().name()
            );
        }
        let lists = feature_lists(
            &column("features")?,
            &format!("{source} column \"features\""),
        )?;
        columns.push((item, lists));
    }
    let name = |i: u32| {
        items
            .key(i as usize)
            .map(|k| k.display())
            .unwrap_or_default()
    };
    // The length of the first vector sizes X; the memory is checked before X exists.
    let d = columns.iter().find_map(|(item, lists)| {
        let lists = lists.as_list::<i32>();
        (0..lists.len())
            .find(|&r| lists.is_valid(r) && item.get(r).and_then(|k| items.get(k)).is_some())
            .map(|r| lists.value_length(r) as usize)
    });
    let Some(d) = d else {
        return plan_err!("model type '{NAME}': {source} has no features for the training items");
    };
    if d == 0 {
        return plan_err!("model type '{NAME}': the feature vectors in {source} are empty");
    }
    memory(d)?;
    let n = items.len();
    let mut x = vec![0.0f32; n * d];
    let mut seen = vec![false; n];
    let mut unused = 0usize;
    for (item, lists) in &columns {
        let lists = lists.as_list::<i32>();
        for r in 0..lists.len() {
            if r % 65_536 == 0 {
                control.check_cancelled()?;
            }
            let Some(i) = item.get(r).and_then(|k| items.get(k)) else {
                unused += 1;
                continue;
            };
            // The item's id is formatted only for an error message, not on every row.
            if lists.is_null(r) {
                return exec_err!(
                    "model type '{NAME}': item {} has NULL features in {source}",
                    name(i)
                );
            }
            let values = lists.value(r);
            let values = values.as_primitive::<Float32Type>();
            if values.null_count() > 0 {
                return exec_err!(
                    "model type '{NAME}': the features of item {} in {source} have NULL values",
                    name(i)
                );
            }
            let values = values.values();
            if values.len() != d {
                return exec_err!(
                    "model type '{NAME}': item {} has {} features in {source}, other items {d}; \
                     every item needs a feature vector of the same length",
                    name(i),
                    values.len()
                );
            }
            if values.iter().any(|v| !v.is_finite()) {
                return exec_err!(
                    "model type '{NAME}': the features of item {} in {source} are not finite",
                    name(i)
                );
            }
            let row = &mut x[i as usize * d..(i as usize + 1) * d];
            if seen[i as usize] {
                if row != values {
                    return exec_err!(
                        "model type '{NAME}': item {} has different feature vectors on \
                         different rows of {source}; an item's features must be the same on all \
                         its rows",
                        name(i)
                    );
                }
            } else {
                row.copy_from_slice(values);
                seen[i as usize] = true;
            }
        }
    }
    if let Some(i) = seen.iter().position(|s| !s) {
        return exec_err!(
            "model type '{NAME}': item {} of the AS query has no features in {source}",
            name(i as u32)
        );
    }
    Ok((
        Features {
            rows: n,
            d,
            data: x,
        },
        unused,
    ))
}

/// Bytes training holds at once for `users + items` entities, `k` factors and `d` features:
/// X twice (row- and column-major, f32), the d × d matrix and its factor (f64), XᵀV and W
/// (f64), XW (f64 and f32), the factors three times over (f64, as `wrmf`'s check) and two k × k
/// matrices per thread.
fn memory_need(data: &RecData, k: usize, d: usize) -> f64 {
    let (n_items, entities) = (
        data.n_items() as f64,
        (data.n_users() + data.n_items()) as f64,
    );
    let (k, d) = (k as f64, d as f64);
    2.0 * n_items * d * 4.0
        + d * d * 8.0
        + 3.0 * d * k * 8.0
        + n_items * k * 12.0
        + 3.0 * entities * k * 8.0
        + 2.0 * rayon::current_num_threads() as f64 * k * k * 8.0
}

impl ModelType for ContentWrmfType {
    fn name(&self) -> &'static str {
        NAME
    }

    fn description(&self) -> &'static str {
        "implicit-feedback matrix factorisation with item factors tied to a linear map of item \
         features, for cold-start items (thesis eq. 2.7-2.9)"
    }

    fn options(&self) -> &'static [OptionSpec] {
        OPTIONS
    }

    fn train(&self, data: &TrainingData, ctx: &TrainContext<'_>) -> Result<Trained> {
        let start = Instant::now();
        let has_column = data.schema.index_of("features").is_ok();
        let table = data.tables.get("features");
        let source = match (has_column, table) {
            (true, Some(_)) => {
                return plan_err!(
                    "model type '{NAME}': give the features either as a column \"features\" of \
                     the AS query or as OPTIONS (features = 'table'), not both"
                )
            }
            (false, None) => {
                return plan_err!(
                    "model type '{NAME}' needs item features: a column named \"features\" in the \
                     AS query (a list of numbers, the same on every row of an item) or \
                     OPTIONS (features = 'table') naming a table or view with columns \
                     (item, features)"
                )
            }
            (true, None) => "the AS query",
            (false, Some(_)) => "the features table",
        };
        let (rec, mut training) = RecData::from_training(NAME, data, Tags::Optional, &ctx.control)?;
        let opts = ContentOptions::try_from(ctx.options)?;
        let k = opts.factors;
        let memory = |d: usize| {
            crate::engine::check_memory(
                &format!("{NAME}: option dim = {k} with {d} features"),
                memory_need(&rec, k, d),
                ctx.memory_limit,
            )
        };
        let batches = table.map(Vec::as_slice).unwrap_or(&data.batches);
        let (mut x, unused) = read_features(batches, &rec.items, source, &memory, &ctx.control)?;
        if table.is_some() {
            training.insert(
                "feature rows of items without interactions (not used)".to_string(),
                unused.to_string(),
            );
        }
        let standardizer = if ctx.options.value::<bool>("standardize")? {
            let s = Standardizer::fit(&x);
            s.apply(&mut x);
            Some(s)
        } else {
            None
        };
        let (fit, objective) = run(&rec, &x, &opts, &ctx.control)?;
        let fmt: Vec<String> = objective.iter().map(|o| format!("{o:.9e}")).collect();
        training.insert("objective per iteration".to_string(), fmt.join(", "));
        training.insert(
            "training seconds".to_string(),
            format!("{:.3}", start.elapsed().as_secs_f64()),
        );
        Ok(Trained {
            model: Box::new(ContentWrmf {
                data: rec,
                k,
                d: x.d,
                users: fit.users.data,
                items: fit.items.data,
                w: fit.w,
                standardizer,
                objective,
                tensors: DeviceTensors::default(),
            }),
            training,
        })
    }

    fn load(&self, _options: &ModelOptions, bytes: &[u8]) -> Result<Box<dyn Model>> {
        Ok(Box::new(decode::<ContentWrmf>(NAME, bytes)?))
    }
}

/// Runs the kernel with progress lines and Ctrl-C.
fn run(
    data: &RecData,
    x: &Features,
    opts: &ContentOptions,
    control: &TaskControl<'_>,
) -> Result<(super::kernels::als::content::ContentFit, Vec<f64>)> {
    let start = Instant::now();
    let mut objectives = Vec::new();
    let mut on_iteration = |it: usize, obj: f64| {
        control.check_cancelled().map_err(callback_err)?;
        objectives.push(obj);
        control.progress(&format!(
            "{NAME}: ALS iteration {it}/{}  objective {obj:.6e}  {:.1} s",
            opts.iterations,
            start.elapsed().as_secs_f64()
        ));
        Ok(())
    };
    let stop = || control.check_cancelled().is_err();
    let fit = content_wrmf_cancellable(&data.r, x, opts, &mut on_iteration, &stop)
        .map_err(|e| kernel_err(NAME, e))?;
    Ok((fit, objectives))
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::sync::atomic::AtomicBool;

    use datafusion::arrow::array::{Float64Builder, Int64Array, ListBuilder};
    use datafusion::arrow::datatypes::Schema;

    use super::*;
    use crate::model::RawOptionValue;
    use crate::recsys::recommender::score_pairs;

    fn batch(rows: &[(i64, i64, f64, Option<Vec<f64>>)]) -> RecordBatch {
        let mut lists = ListBuilder::new(Float64Builder::new());
        for (_, _, _, f) in rows {
            match f {
                Some(v) => {
                    lists.values().append_slice(v);
                    lists.append(true);
                }
                None => lists.append(false),
            }
        }
        let lists = lists.finish();
        let schema = Schema::new(vec![
            Field::new("user", DataType::Int64, false),
            Field::new("item", DataType::Int64, false),
            Field::new("value", DataType::Float64, false),
            Field::new("features", lists.data_type().clone(), true),
        ]);
        RecordBatch::try_new(
            Arc::new(schema),
            vec![
                Arc::new(Int64Array::from_iter_values(rows.iter().map(|r| r.0))),
                Arc::new(Int64Array::from_iter_values(rows.iter().map(|r| r.1))),
                Arc::new(datafusion::arrow::array::Float64Array::from_iter_values(
                    rows.iter().map(|r| r.2),
                )),
                Arc::new(lists),
            ],
        )
        .unwrap()
    }

    fn features_of(item: i64) -> Vec<f64> {
        vec![item as f64, (item % 3) as f64, 1.0 / (1.0 + item as f64)]
    }

    fn rows() -> Vec<(i64, i64, f64, Option<Vec<f64>>)> {
        let mut out = Vec::new();
        for u in 0..12i64 {
            for i in 0..10i64 {
                if (u * 7 + i * 3) % 4 == 0 || i == u % 10 {
                    out.push((u, i, 1.0 + (u + i) as f64 % 3.0, Some(features_of(i))));
                }
            }
        }
        out
    }

    fn train(rows: &[(i64, i64, f64, Option<Vec<f64>>)]) -> Result<Trained> {
        let b = batch(rows);
        let data = TrainingData {
            schema: b.schema(),
            batches: vec![b],
            tables: BTreeMap::new(),
        };
        let raw = vec![
            ("dim".to_string(), RawOptionValue::Number("3".to_string())),
            (
                "iterations".to_string(),
                RawOptionValue::Number("5".to_string()),
            ),
        ];
        let options = ModelOptions::validate(NAME, OPTIONS, &raw).unwrap();
        let cancel = AtomicBool::new(false);
        let ctx = TrainContext {
            options: &options,
            control: TaskControl::new(&|_| {}, &cancel),
            device: Device::Cpu,
            memory_limit: u64::MAX,
            checkpoint: None,
        };
        ContentWrmfType.train(&data, &ctx)
    }

    fn error(rows: &[(i64, i64, f64, Option<Vec<f64>>)]) -> String {
        match train(rows) {
            Ok(_) => panic!("trained on bad features"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn round_trip_through_bytes_keeps_every_score() {
        let trained = train(&rows()).unwrap();
        let bytes = trained.model.to_bytes().unwrap();
        let options = ModelOptions::validate(NAME, OPTIONS, &[]).unwrap();
        let loaded = ContentWrmfType.load(&options, &bytes).unwrap();
        assert_eq!(trained.model.describe(), loaded.describe());
        let a = trained.model.downcast_ref::<ContentWrmf>().unwrap();
        let b = loaded.downcast_ref::<ContentWrmf>().unwrap();
        let (us, is): (Vec<u32>, Vec<u32>) = (0..12u32)
            .flat_map(|u| (0..10u32).map(move |i| (u, i)))
            .unzip();
        let sa = score_pairs(a, Device::Cpu, &us, &is).unwrap();
        let sb = score_pairs(b, Device::Cpu, &us, &is).unwrap();
        assert_eq!(sa, sb);
        for u in 0..12 {
            let x = [3.5, 1.0, 0.2];
            let ca = a.score_features(u, &x).unwrap().unwrap();
            assert_eq!(Some(ca), b.score_features(u, &x).unwrap());
            // By hand: u · ((x − mean) / scale) W.
            let st = a.standardizer.as_ref().unwrap();
            let z: Vec<f64> = (0..3).map(|j| (x[j] - st.mean[j]) / st.scale[j]).collect();
            let mut want = 0.0;
            for c in 0..a.k {
                let v: f64 = (0..3).map(|j| z[j] * a.w[j * a.k + c]).sum();
                want += f64::from(a.users[u as usize * a.k + c]) * v;
            }
            assert!((ca - want).abs() <= 1e-12 * (1.0 + want.abs()));
        }
        assert_eq!(
            a.score_features(0, &[1.0]),
            Err(ColdScoreError::Length {
                expected: 3,
                got: 1
            })
        );
        assert_eq!(
            a.score_features(0, &[1.0, f64::NAN, 0.0]),
            Err(ColdScoreError::NotFinite)
        );
        assert_eq!(a.score_features(99, &[1.0, 2.0, 3.0]), Ok(None));
        // The objective recorded per iteration never increases.
        assert!(a.objective().windows(2).all(|w| w[1] <= w[0]));
    }

    #[test]
    fn bad_features_are_errors_naming_the_item() {
        let mut ragged = rows();
        ragged[3].3 = Some(vec![1.0, 2.0]);
        let item = ragged[3].1;
        let err = error(&ragged);
        assert!(
            err.contains(&format!(
                "item {item} has 2 features in the AS query, other items 3"
            )),
            "{err}"
        );
        let mut differing = rows();
        let last = differing.iter().rposition(|r| r.1 == item).unwrap();
        differing[last].3 = Some(vec![0.0, 0.0, 0.0]);
        let err = error(&differing);
        assert!(
            err.contains(&format!("item {item} has different feature vectors")),
            "{err}"
        );
        let mut null = rows();
        null[0].3 = None;
        let err = error(&null);
        assert!(err.contains("has NULL features"), "{err}");
        let mut inf = rows();
        inf[0].3 = Some(vec![f64::INFINITY, 0.0, 0.0]);
        let err = error(&inf);
        assert!(err.contains("are not finite"), "{err}");
    }
}
