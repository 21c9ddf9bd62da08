//! `goodbooks_synthetic(part [, scale [, seed]])`: seeded Goodbooks-shaped interactions or item
//! tags as a table, so that the thesis' experiment at Goodbooks scale
//! (`sql/experiments/explain_goodbooks_sample.sql`) runs without the data set, which cannot be
//! shipped or downloaded. The rows are those of [`super::synthetic`]; they are generated when the
//! scan runs (not while planning), on DataFusion's blocking pool, and cancelling the query stops
//! the generator.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, BooleanArray, Float64Array, Int64Array, RecordBatch};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::catalog::streaming::StreamingTable;
use datafusion::catalog::{TableFunctionArgs, TableFunctionImpl, TableProvider};
use datafusion::common::{exec_datafusion_err, plan_err, ScalarValue};
use datafusion::error::{DataFusionError, Result};
use datafusion::execution::{SendableRecordBatchStream, TaskContext};
use datafusion::logical_expr::{Documentation, Expr};
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::streaming::PartitionStream;
use datafusion_macros::user_doc;
use futures::{StreamExt, TryStreamExt};

use super::synthetic::{self, Synthetic, SyntheticError, Triplet};
use crate::common::args::{seed_literal, string_literal};
use crate::engine::memory::{check_memory, memory_limit};

const NAME: &str = "goodbooks_synthetic";
const USAGE: &str = "goodbooks_synthetic(part [, scale [, seed]])";

#[user_doc(
    doc_section(label = "Recommender Functions"),
    description = "Seeded synthetic data shaped like Goodbooks-10k (table function), for running \
the recommender and explainer experiments at the thesis' scale without the data set. part \
'interactions' gives the columns \"user\", item (BIGINT), rating (DOUBLE, 1 to 5) and test \
(BOOLEAN: the row is held out), one row per distinct (user, item) pair, sorted by user then item; \
part 'tags' gives item, tag (BIGINT) and weight (DOUBLE, at least 1), sorted by item then tag. At \
scale 1: 53,424 users, 10,000 items, 6,000,000 interactions with Goodbooks' rating distribution \
(mean about 3.9), Zipf-like item popularity (∝ 1/(rank + 50)), heavy-tailed user activity (20 to \
2,000 items per user, median about 53), 34,000 tags (10 to 40 drawn per item, every tag on some \
item, Pareto weights), and 40 latent genres: every user has a favourite genre and half of a \
user's (and of an item's tag) draws come from it, so that there is something to personalise. 20 % \
of each user's rows (round(0.2 n), at least one, at most n − 1) are marked test, at random. \
A scale s keeps the items and tags and has round(53,424 s) users (at least 10) and \
round(6,000,000 s) interactions (at least 20 per user); scale is in (0, 100]. The same scale and \
seed give the same rows; the default seed is 20240601 (the one of bench/recsys's figures). Both parts \
come from one random stream (the interactions, then the tags), so the tags depend on the scale \
too: read both parts with the same scale and seed. The rows are generated in memory \
when the scan starts, after a check of the memory they need against trustql.memory_limit.",
    syntax_example = "goodbooks_synthetic(part [, scale [, seed]])",
    sql_example = r#"```sql
> SELECT count(*) AS interactions, count(DISTINCT "user") AS users, min(rating) AS lowest, max(rating) AS highest FROM goodbooks_synthetic('interactions', 0.001);
+--------------+-------+--------+---------+
| interactions | users | lowest | highest |
+--------------+-------+--------+---------+
| 6000         | 53    | 1.0    | 5.0     |
+--------------+-------+--------+---------+
> SELECT count(DISTINCT tag) AS tags, count(DISTINCT item) AS items FROM goodbooks_synthetic('tags', 0.001);
+-------+-------+
| tags  | items |
+-------+-------+
| 34000 | 10000 |
+-------+-------+
```"#,
    argument(
        name = "part",
        description = "'interactions' or 'tags' (a string literal)."
    ),
    argument(
        name = "scale",
        description = "Size relative to Goodbooks-10k, in (0, 100] (default 1)."
    ),
    argument(
        name = "seed",
        description = "Integer seed of the generator (default 20240601)."
    )
)]
#[derive(Debug, Default)]
pub struct GoodbooksSyntheticFunc;

impl GoodbooksSyntheticFunc {
    /// The documentation of `goodbooks_synthetic` (table functions have no documentation hook in
    /// DataFusion, so it is exposed here).
    pub fn documentation(&self) -> Option<&Documentation> {
        self.doc()
    }
}

/// Which table a call returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Part {
    Interactions,
    Tags,
}

fn scale_arg(arg: &Expr) -> Result<f64> {
    let Expr::Literal(value, _) = arg else {
        return plan_err!("{NAME}: scale must be a number literal, got {arg}");
    };
    if value.is_null() || !value.data_type().is_numeric() {
        return plan_err!(
            "{NAME}: scale must be a number in (0, {}], got {value}",
            synthetic::MAX_SCALE
        );
    }
    match value.cast_to(&DataType::Float64)? {
        ScalarValue::Float64(Some(s)) => Ok(s),
        other => plan_err!("{NAME}: scale must be a number, got {other}"),
    }
}

fn schema_of(part: Part) -> SchemaRef {
    Arc::new(match part {
        Part::Interactions => Schema::new(vec![
            Field::new("user", DataType::Int64, false),
            Field::new("item", DataType::Int64, false),
            Field::new("rating", DataType::Float64, false),
            Field::new("test", DataType::Boolean, false),
        ]),
        Part::Tags => Schema::new(vec![
            Field::new("item", DataType::Int64, false),
            Field::new("tag", DataType::Int64, false),
            Field::new("weight", DataType::Float64, false),
        ]),
    })
}

impl TableFunctionImpl for GoodbooksSyntheticFunc {
    fn call_with_args(&self, args: TableFunctionArgs) -> Result<Arc<dyn TableProvider>> {
        let exprs = args.exprs();
        if !(1..=3).contains(&exprs.len()) {
            return plan_err!("{USAGE} takes 1 to 3 arguments, got {}", exprs.len());
        }
        let part = match string_literal(NAME, exprs, 0, "part", USAGE)?.as_str() {
            "interactions" => Part::Interactions,
            "tags" => Part::Tags,
            other => {
                return plan_err!("{NAME}: part must be 'interactions' or 'tags', got '{other}'")
            }
        };
        let scale = match exprs.get(1) {
            Some(e) => scale_arg(e)?,
            None => 1.0,
        };
        let seed = match exprs.get(2) {
            Some(e) => seed_literal(NAME, e)?,
            None => synthetic::DEFAULT_SEED,
        };
        let plan_error =
            |e: SyntheticError| datafusion::common::plan_datafusion_err!("{NAME}: {e}");
        // The generator's peak, plus the interactions' merged copy (`Rows`), which exists
        // while the generator's train and test lists still do.
        let merged = match part {
            Part::Interactions => {
                synthetic::size(scale).map_err(plan_error)?.1 as f64
                    * std::mem::size_of::<(Triplet, bool)>() as f64
            }
            Part::Tags => 0.0,
        };
        let need = synthetic::bytes_needed(scale).map_err(plan_error)? + merged;
        check_memory(
            &format!("{NAME} at scale {scale}"),
            need,
            memory_limit(args.session().config_options()),
        )?;
        let schema = schema_of(part);
        let partition = Arc::new(Generated {
            part,
            scale,
            seed,
            schema: schema.clone(),
        });
        Ok(Arc::new(StreamingTable::try_new(schema, vec![partition])?))
    }
}

/// The one partition of a call: generated when executed.
#[derive(Debug)]
struct Generated {
    part: Part,
    scale: f64,
    seed: u64,
    schema: SchemaRef,
}

/// Raises the generator's stop flag when the stream that waits for it is dropped (the query
/// was cancelled or finished early), so that the blocking work ends too.
struct StopOnDrop(Arc<AtomicBool>);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

impl PartitionStream for Generated {
    fn schema(&self) -> &SchemaRef {
        &self.schema
    }

    fn execute(&self, ctx: Arc<TaskContext>) -> SendableRecordBatchStream {
        let (part, scale, seed) = (self.part, self.scale, self.seed);
        let schema = self.schema.clone();
        let batch_size = ctx.session_config().batch_size().max(1);
        let stop = Arc::new(AtomicBool::new(false));
        let guard = StopOnDrop(stop.clone());
        let batches = async move {
            let data = datafusion::common::runtime::SpawnedTask::spawn_blocking(move || {
                synthetic::goodbooks(scale, seed, &|| stop.load(Ordering::Relaxed))
            })
            .join()
            .await
            .map_err(|e| exec_datafusion_err!("{NAME}: {e}"))?
            .map_err(|e| match e {
                SyntheticError::Stopped => DataFusionError::Execution(format!("{NAME}: cancelled")),
                e => exec_datafusion_err!("{NAME}: {e}"),
            })?;
            let rows = Rows::new(part, data);
            let total = rows.len();
            let chunks = (0..total).step_by(batch_size).map(move |start| {
                let _keep = &guard;
                rows.batch(&schema, start, batch_size.min(total - start))
            });
            // Batches are built as the consumer asks for them, from the rows held here.
            Ok::<_, DataFusionError>(futures::stream::iter(chunks))
        };
        let stream = futures::stream::once(batches).try_flatten().boxed();
        Box::pin(RecordBatchStreamAdapter::new(self.schema.clone(), stream))
    }
}

/// The rows of one part, in output order.
struct Rows {
    /// (user, item, rating, test) or (item, tag, weight, false).
    rows: Vec<(Triplet, bool)>,
    part: Part,
}

impl Rows {
    fn new(part: Part, data: Synthetic) -> Rows {
        let rows = match part {
            Part::Tags => data.tags.into_iter().map(|t| (t, false)).collect(),
            Part::Interactions => merge_by_pair(&data.train, &data.test),
        };
        Rows { rows, part }
    }

    fn len(&self) -> usize {
        self.rows.len()
    }

    fn batch(&self, schema: &SchemaRef, start: usize, len: usize) -> Result<RecordBatch> {
        let rows = &self.rows[start..start + len];
        let id = |f: fn(&Triplet) -> u32| -> ArrayRef {
            Arc::new(Int64Array::from_iter_values(
                rows.iter().map(|(t, _)| i64::from(f(t))),
            ))
        };
        let mut columns = vec![
            id(|t| t.0),
            id(|t| t.1),
            Arc::new(Float64Array::from_iter_values(
                rows.iter().map(|(t, _)| f64::from(t.2)),
            )) as ArrayRef,
        ];
        if self.part == Part::Interactions {
            columns.push(Arc::new(BooleanArray::from_iter(
                rows.iter().map(|&(_, test)| Some(test)),
            )));
        }
        Ok(RecordBatch::try_new(schema.clone(), columns)?)
    }
}

/// Training and held-out rows (each sorted by user, then item) in one list sorted the same way,
/// each with its test flag.
fn merge_by_pair(train: &[Triplet], test: &[Triplet]) -> Vec<(Triplet, bool)> {
    let mut out = Vec::with_capacity(train.len() + test.len());
    let (mut a, mut b) = (train.iter().peekable(), test.iter().peekable());
    loop {
        let take_test = match (a.peek(), b.peek()) {
            (Some(x), Some(y)) => (y.0, y.1) < (x.0, x.1),
            (Some(_), None) => false,
            (None, Some(_)) => true,
            (None, None) => break,
        };
        let next = if take_test { b.next() } else { a.next() };
        if let Some(&t) = next {
            out.push((t, take_test));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merging_keeps_the_pair_order_and_the_flags() {
        let train = [(0, 2, 1.0), (0, 5, 2.0), (2, 1, 3.0)];
        let test = [(0, 3, 4.0), (1, 0, 5.0), (2, 9, 1.0)];
        let merged = merge_by_pair(&train, &test);
        let order: Vec<(u32, u32, bool)> = merged.iter().map(|(t, f)| (t.0, t.1, *f)).collect();
        assert_eq!(
            order,
            vec![
                (0, 2, false),
                (0, 3, true),
                (0, 5, false),
                (1, 0, true),
                (2, 1, false),
                (2, 9, true)
            ]
        );
    }
}
