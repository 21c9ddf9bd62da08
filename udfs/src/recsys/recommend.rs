//! `recommend(model, k [, exclude_seen])`: the top-k items of every user, as a table.
//!
//! It exists because evaluating a recommender (nDCG, nDiv) needs every user's top list, and
//! producing it pair by pair with `score` would cost users × items function rows. Here each block
//! of users is scored against all items in one tensor computation on the session device, items
//! the user interacted with in training are masked out (unless `exclude_seen` is false), and
//! libtorch's top-k picks the list.
//!
//! The result streams: each block's rows go out as one batch while the next block is scored,
//! through a channel of two batches, so memory stays at a block's score matrix and a few
//! batches however many users there are (a query that writes the lists to Parquet never holds
//! them all), a consumer that stops early (LIMIT, an error) stops the scoring, and Ctrl-C stops
//! it between blocks and inside the models' loops.

use std::sync::Arc;

use async_trait::async_trait;
use datafusion::arrow::array::{
    ArrayRef, Float64Array, Int32Array, Int64Array, RecordBatch, StringArray,
};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::catalog::{Session, TableFunctionArgs, TableFunctionImpl, TableProvider};
use datafusion::common::{plan_err, ScalarValue};
use datafusion::datasource::TableType;
use datafusion::error::Result;
use datafusion::execution::TaskContext;
use datafusion::logical_expr::{Documentation, Expr};
use datafusion::physical_expr::LexOrdering;
use datafusion::physical_plan::stream::RecordBatchReceiverStream;
use datafusion::physical_plan::streaming::{PartitionStream, StreamingTableExec};
use datafusion::physical_plan::{ExecutionPlan, SendableRecordBatchStream};
use datafusion_macros::user_doc;
use tch::{Device, Tensor};

use super::recommender::{never_cancelled, Cancel, Recommender};
use super::recommender_model;
use crate::common::args::positive_integer;
use crate::common::progress::{self, Meter};
use crate::common::tensors::{to_f64_vec, torch_err};
use crate::engine::config::{device_setting, resolve_device};
use crate::engine::{check_memory, memory_limit};
use crate::model::key::Key;
use crate::model::{KeyIndex, KeyKind, LoadedModel, ModelCatalog};

/// The documentation of `recommend` (table functions have no documentation hook in DataFusion).
#[user_doc(
    doc_section(label = "Recommender Functions"),
    description = "The top-k items of every user of a recommender model, as a table (user, item, \
rank, score), rank 1 = best. Items the user interacted with in the training rows are left out \
unless exclude_seen is false; a user with fewer than k unseen items gets fewer rows. All users \
are scored in blocks of 256 on the session's device (SET trustql.device), and each block's rows \
are passed on while the next is scored, so memory does not grow with the number of users and a \
LIMIT stops the work. Ties in score are ordered by libtorch's top-k.",
    syntax_example = "recommend(model, k [, exclude_seen])",
    sql_example = r#"```sql
> CREATE MODEL pop OPTIONS (type = 'mostpop')
  AS SELECT * FROM (VALUES (1, 10), (2, 10), (2, 20), (3, 30)) AS t("user", item);
> SELECT * FROM recommend('pop', 1) ORDER BY "user";
+------+------+------+-------+
| user | item | rank | score |
+------+------+------+-------+
| 1    | 20   | 1    | 1.0   |
| 2    | 30   | 1    | 1.0   |
| 3    | 10   | 1    | 2.0   |
+------+------+------+-------+
```"#,
    argument(
        name = "model",
        description = "Name of a recommender model (a string literal)."
    ),
    argument(
        name = "k",
        description = "Length of each user's list (a positive integer)."
    ),
    argument(
        name = "exclude_seen",
        description = "Whether to leave out the user's training items (default true)."
    )
)]
#[derive(Debug, Default)]
pub struct RecommendDoc;

impl RecommendDoc {
    pub fn documentation(&self) -> Option<&Documentation> {
        self.doc()
    }
}

/// Users scored per tensor computation.
const USER_BLOCK: usize = 256;

/// The `recommend` table function.
#[derive(Debug)]
pub struct RecommendFunc {
    catalog: Arc<dyn ModelCatalog>,
}

impl RecommendFunc {
    pub fn new(catalog: Arc<dyn ModelCatalog>) -> Self {
        Self { catalog }
    }
}

fn literal(args: &[Expr], i: usize) -> Option<&ScalarValue> {
    match args.get(i) {
        Some(Expr::Literal(v, _)) => Some(v),
        _ => None,
    }
}

impl TableFunctionImpl for RecommendFunc {
    fn call_with_args(&self, args: TableFunctionArgs) -> Result<Arc<dyn TableProvider>> {
        let exprs = args.exprs();
        if !(2..=3).contains(&exprs.len()) {
            return plan_err!(
                "recommend(model, k [, exclude_seen]) takes 2 or 3 arguments, got {}",
                exprs.len()
            );
        }
        let name = match literal(exprs, 0) {
            Some(ScalarValue::Utf8(Some(s)))
            | Some(ScalarValue::Utf8View(Some(s)))
            | Some(ScalarValue::LargeUtf8(Some(s))) => s.clone(),
            _ => return plan_err!("recommend: the model must be a model name (a string literal)"),
        };
        let k = match literal(exprs, 1) {
            Some(v) => positive_integer("recommend", "k", v)?,
            None => return plan_err!("recommend: k must be a positive integer literal"),
        };
        let exclude_seen = match literal(exprs, 2) {
            None => true,
            Some(ScalarValue::Boolean(Some(b))) => *b,
            Some(other) => {
                return plan_err!("recommend: exclude_seen must be true or false, got {other}")
            }
        };
        let model = recommender_model(self.catalog.as_ref(), &name, "recommend")?;
        let Some(rec) = model.model.capability::<dyn Recommender>() else {
            return plan_err!("model '{name}' is not a recommender");
        };
        let data = rec.data();
        // One block's score matrix over all items (8 bytes a score at most, and room for a copy
        // of the model's f32 while they are made), and the batches in
        // flight (28 bytes a row: user, item, rank, score): the one being built, the channel's
        // two and the one the consumer holds.
        let block_rows = USER_BLOCK as f64 * k.min(data.n_items()) as f64;
        check_memory(
            &format!("recommend's k = {k}"),
            USER_BLOCK as f64 * data.n_items() as f64 * 12.0 + 4.0 * block_rows * 28.0,
            memory_limit(args.session().config_options()),
        )?;
        let key_type = |kind: KeyKind| match kind {
            KeyKind::Int => DataType::Int64,
            KeyKind::Text => DataType::Utf8,
        };
        let schema = Arc::new(Schema::new(vec![
            Field::new("user", key_type(data.users.kind()), false),
            Field::new("item", key_type(data.items.kind()), false),
            Field::new("rank", DataType::Int32, false),
            Field::new("score", DataType::Float64, false),
        ]));
        Ok(Arc::new(RecommendTable {
            catalog: self.catalog.clone(),
            model,
            k,
            exclude_seen,
            schema,
        }))
    }
}

/// The result of one `recommend(...)` call, computed when scanned.
#[derive(Debug)]
struct RecommendTable {
    catalog: Arc<dyn ModelCatalog>,
    model: Arc<LoadedModel>,
    k: usize,
    exclude_seen: bool,
    schema: SchemaRef,
}

#[async_trait]
impl TableProvider for RecommendTable {
    fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    fn table_type(&self) -> TableType {
        TableType::Temporary
    }

    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        _filters: &[Expr],
        _limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let partition = RecommendStream {
            catalog: self.catalog.clone(),
            model: self.model.clone(),
            k: self.k,
            exclude_seen: self.exclude_seen,
            schema: self.schema.clone(),
            device: resolve_device(device_setting(state.config_options()))?,
        };
        // One partition: the users in the model's order, as the lists were always given.
        Ok(Arc::new(StreamingTableExec::try_new(
            self.schema.clone(),
            vec![Arc::new(partition)],
            projection,
            Vec::<LexOrdering>::new(),
            false,
            None,
        )?))
    }
}

/// The scan of one `recommend(...)` call: every user's list, block by block.
#[derive(Debug)]
struct RecommendStream {
    catalog: Arc<dyn ModelCatalog>,
    model: Arc<LoadedModel>,
    k: usize,
    exclude_seen: bool,
    schema: SchemaRef,
    device: Device,
}

/// Batches between the scoring thread and the consumer.
const CHANNEL_BATCHES: usize = 2;

impl PartitionStream for RecommendStream {
    fn schema(&self) -> &SchemaRef {
        &self.schema
    }

    fn execute(&self, _ctx: Arc<TaskContext>) -> SendableRecordBatchStream {
        let mut builder = RecordBatchReceiverStream::builder(self.schema.clone(), CHANNEL_BATCHES);
        let tx = builder.tx();
        let model = self.model.clone();
        // The statement's cancellation, taken when the scan starts: it stays cancelled after the
        // next statement starts, so a cancelled scan never runs on beside it.
        let token = self.catalog.cancel_token();
        let sink = self.catalog.status_sink();
        let (k, exclude_seen, schema, device) =
            (self.k, self.exclude_seen, self.schema.clone(), self.device);
        // A blocking thread is not stopped when the statement's task is aborted: it checks the
        // statement's cancellation between blocks of users and inside the models' loops, and
        // stops when the consumer has gone (the channel is closed).
        builder.spawn_blocking(move || {
            let Some(rec) = model.model.capability::<dyn Recommender>() else {
                return plan_err!("model '{}' is not a recommender", model.name);
            };
            let n_users = rec.data().n_users() as u32;
            let meter = Meter::start(
                sink,
                format!("recommend({})", model.name),
                "users",
                Some(u64::from(n_users)),
            );
            let _scope = progress::enter(meter.as_ref());
            let cancelled = || token.check();
            let users: Vec<u32> = (0..n_users).collect();
            for block in users.chunks(USER_BLOCK) {
                cancelled()?;
                let batch =
                    recommend_block(rec, device, k, exclude_seen, &schema, block, &cancelled)?;
                progress::advance(block.len() as u64);
                if tx.blocking_send(Ok(batch)).is_err() {
                    // The consumer stopped reading (LIMIT satisfied, query dropped).
                    return Ok(());
                }
            }
            Ok(())
        });
        builder.build()
    }
}

/// Top-k lists of all users: for each user, the item indices and scores, best first.
pub fn top_k(
    rec: &dyn Recommender,
    device: Device,
    k: usize,
    exclude_seen: bool,
    users: &[u32],
) -> Result<Vec<(Vec<u32>, Vec<f64>)>> {
    top_k_cancellable(rec, device, k, exclude_seen, users, &never_cancelled)
}

/// [`top_k`], checking `cancelled` while the model scores (between users for models that
/// score user by user).
pub fn top_k_cancellable(
    rec: &dyn Recommender,
    device: Device,
    k: usize,
    exclude_seen: bool,
    users: &[u32],
    cancelled: Cancel<'_>,
) -> Result<Vec<(Vec<u32>, Vec<f64>)>> {
    let data = rec.data();
    let n_items = data.n_items();
    let k = k.min(n_items);
    cancelled()?;
    // Masked and ranked in the model's own kind (f32 for most models): converting to f64 first
    // would double the memory traffic of the largest tensor here, and f32 to f64 is exact and
    // keeps the order, so the lists and their (converted) scores are the same.
    let scores = tch::no_grad(|| rec.score_all_items(device, users, cancelled))?;
    if exclude_seen {
        let mut seen = Vec::new();
        for (row, &u) in users.iter().enumerate() {
            let (items, _) = data.r.row(u as usize);
            seen.extend(items.iter().map(|&i| (row * n_items + i as usize) as i64));
        }
        let seen = Tensor::from_slice(&seen).to_device(device);
        let _ = scores
            .view([-1])
            .f_index_fill_(0, &seen, f64::NEG_INFINITY)
            .map_err(torch_err)?;
    }
    let (values, indices) = scores.topk(k as i64, 1, true, true);
    let values = to_f64_vec(&values)?;
    let indices = Vec::<i64>::try_from(&indices.to_device(Device::Cpu).contiguous().view([-1]))
        .map_err(torch_err)?;
    let mut out = Vec::with_capacity(users.len());
    for row in 0..users.len() {
        let mut items = Vec::with_capacity(k);
        let mut s = Vec::with_capacity(k);
        for j in row * k..(row + 1) * k {
            // Masked (already seen) items have score -inf and are never recommended.
            if values[j] == f64::NEG_INFINITY {
                break;
            }
            items.push(indices[j] as u32);
            s.push(values[j]);
        }
        out.push((items, s));
    }
    Ok(out)
}

pub(crate) fn key_array(index: &KeyIndex, rows: &[u32]) -> ArrayRef {
    match index.kind() {
        KeyKind::Int => {
            Arc::new(Int64Array::from_iter_values(rows.iter().map(
                |&r| match index.key(r as usize) {
                    Some(Key::Int(v)) => *v,
                    _ => 0,
                },
            )))
        }
        KeyKind::Text => {
            Arc::new(StringArray::from_iter_values(rows.iter().map(
                |&r| match index.key(r as usize) {
                    Some(Key::Text(s)) => s.as_str(),
                    _ => "",
                },
            )))
        }
    }
}

/// The rows of one block of users' top-k lists, as a batch.
#[allow(clippy::too_many_arguments)]
fn recommend_block(
    rec: &dyn Recommender,
    device: Device,
    k: usize,
    exclude_seen: bool,
    schema: &SchemaRef,
    block: &[u32],
    cancelled: Cancel<'_>,
) -> Result<RecordBatch> {
    let data = rec.data();
    let lists = top_k_cancellable(rec, device, k, exclude_seen, block, cancelled)?;
    let rows: usize = lists.iter().map(|(is, _)| is.len()).sum();
    let (mut users, mut items, mut ranks, mut scores) = (
        Vec::with_capacity(rows),
        Vec::with_capacity(rows),
        Vec::with_capacity(rows),
        Vec::with_capacity(rows),
    );
    for (&u, (is, ss)) in block.iter().zip(lists) {
        for (r, (i, s)) in is.into_iter().zip(ss).enumerate() {
            users.push(u);
            items.push(i);
            ranks.push(r as i32 + 1);
            scores.push(s);
        }
    }
    Ok(RecordBatch::try_new(
        schema.clone(),
        vec![
            key_array(&data.users, &users),
            key_array(&data.items, &items),
            Arc::new(Int32Array::from(ranks)),
            Arc::new(Float64Array::from(scores)),
        ],
    )?)
}
