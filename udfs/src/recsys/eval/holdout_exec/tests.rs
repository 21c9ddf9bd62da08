//! The streaming split against a direct implementation of the documented rule on the whole table
//! (each user's rows ordered by hash, then by full contents; the first t of them test), on random
//! tables with repeated (user, item) pairs, identical rows, NULL ids, integer and text users,
//! several partitions, small batches, and a memory pool small enough that the sort spills.

use std::collections::HashMap;
use std::sync::Arc;

use datafusion::arrow::array::{
    ArrayRef, Float64Array, Int32Array, Int64Array, RecordBatch, StringArray,
};
use datafusion::arrow::compute::concat_batches;
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::common::ScalarValue;
use datafusion::datasource::MemTable;
use datafusion::execution::runtime_env::RuntimeEnvBuilder;
use datafusion::physical_plan::{collect, ExecutionPlan};
use datafusion::prelude::{SessionConfig, SessionContext};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::super::holdout_split::HoldoutSplitFunc;
use super::super::kernels;
use crate::model::{KeyColumn, KeyRef};
use crate::whole_table::content_keys;

/// The documented rule applied to the whole table at once: the test mark of every row.
fn reference_marks(table: &RecordBatch, ratio: f64, seed: u64) -> Vec<Option<bool>> {
    let users = KeyColumn::try_new(table.column(0), "user").unwrap();
    let items = KeyColumn::try_new(table.column(1), "item").unwrap();
    let keys = content_keys(table).unwrap().unwrap();
    let mut groups: HashMap<KeyRef<'_>, Vec<usize>> = HashMap::new();
    let mut marks = vec![None; table.num_rows()];
    for (row, mark) in marks.iter_mut().enumerate() {
        if let (Some(user), Some(_)) = (users.get(row), items.get(row)) {
            groups.entry(user).or_default().push(row);
            *mark = Some(false);
        }
    }
    let hash =
        |row: usize| kernels::split_hash(seed, users.get(row).unwrap(), items.get(row).unwrap());
    for rows in groups.values_mut() {
        rows.sort_by(|&a, &b| {
            hash(a)
                .cmp(&hash(b))
                .then_with(|| keys.row(a).cmp(&keys.row(b)))
        });
        for &row in &rows[..kernels::test_count(rows.len(), ratio)] {
            marks[row] = Some(true);
        }
    }
    marks
}

/// Every row as text (the columns' values and the mark), sorted: the result as a multiset.
fn row_texts(batches: &[RecordBatch], marks: Option<&[Option<bool>]>) -> Vec<String> {
    let mut texts = Vec::new();
    let mut offset = 0;
    for batch in batches {
        for row in 0..batch.num_rows() {
            let mut text: Vec<String> = batch
                .columns()
                .iter()
                .map(|c| format!("{:?}", ScalarValue::try_from_array(c, row).unwrap()))
                .collect();
            if let Some(marks) = marks {
                text.push(format!("{:?}", ScalarValue::Boolean(marks[offset + row])));
            }
            texts.push(text.join("|"));
        }
        offset += batch.num_rows();
    }
    texts.sort();
    texts
}

/// A random table (user, item, value) of `n` rows in `parts` partitions of small batches: few
/// items per user so that (user, item) pairs repeat, some rows repeated whole, some ids NULL.
fn random_table(rng: &mut StdRng, n: usize, text_users: bool) -> (SchemaRef, Vec<RecordBatch>) {
    let user_type = if text_users {
        DataType::Utf8
    } else {
        DataType::Int64
    };
    let schema = Arc::new(Schema::new(vec![
        Field::new("user", user_type, true),
        Field::new("item", DataType::Int32, true),
        Field::new("value", DataType::Float64, true),
    ]));
    let users_n = (n / 6).max(2) as i64;
    let mut users: Vec<Option<i64>> = Vec::with_capacity(n);
    let mut items: Vec<Option<i32>> = Vec::with_capacity(n);
    let mut values: Vec<Option<f64>> = Vec::with_capacity(n);
    for _ in 0..n {
        if !users.is_empty() && rng.random_bool(0.05) {
            // A whole row again.
            let j = rng.random_range(0..users.len());
            users.push(users[j]);
            items.push(items[j]);
            values.push(values[j]);
            continue;
        }
        users.push((!rng.random_bool(0.02)).then(|| rng.random_range(0..users_n)));
        items.push((!rng.random_bool(0.02)).then(|| rng.random_range(0..12)));
        values.push(Some(f64::from(rng.random_range(0..5u8))));
    }
    // Small batches of random sizes, each with its own buffers (a slice of one big batch would
    // keep, and be counted as, the whole table's).
    let batch = |range: std::ops::Range<usize>| {
        let user_array: ArrayRef = if text_users {
            Arc::new(
                users[range.clone()]
                    .iter()
                    .map(|u| u.map(|u| format!("u{u}")))
                    .collect::<StringArray>(),
            )
        } else {
            Arc::new(Int64Array::from(users[range.clone()].to_vec()))
        };
        RecordBatch::try_new(
            schema.clone(),
            vec![
                user_array,
                Arc::new(Int32Array::from(items[range.clone()].to_vec())),
                Arc::new(Float64Array::from(values[range].to_vec())),
            ],
        )
        .unwrap()
    };
    let mut batches = Vec::new();
    let mut start = 0;
    while start < n {
        let len = rng.random_range(1..=40).min(n - start);
        batches.push(batch(start..start + len));
        start += len;
    }
    (schema, batches)
}

/// The split through SQL on a session with `partitions` input partitions, and the plan it ran.
async fn split_through_sql(
    ctx: &SessionContext,
    schema: SchemaRef,
    batches: &[RecordBatch],
    partitions: usize,
    ratio: f64,
    seed: u64,
) -> (Vec<RecordBatch>, Arc<dyn ExecutionPlan>) {
    let mut parts: Vec<Vec<RecordBatch>> = vec![Vec::new(); partitions];
    for (i, b) in batches.iter().enumerate() {
        parts[i % partitions].push(b.clone());
    }
    ctx.deregister_table("t").unwrap();
    ctx.register_table("t", Arc::new(MemTable::try_new(schema, parts).unwrap()))
        .unwrap();
    let df = ctx
        .sql(&format!(
            "SELECT * FROM holdout_split('t', {ratio}, {seed})"
        ))
        .await
        .unwrap();
    let plan = df.create_physical_plan().await.unwrap();
    let out = collect(plan.clone(), ctx.task_ctx()).await.unwrap();
    (out, plan)
}

fn session(config: SessionConfig, memory_limit: Option<usize>) -> SessionContext {
    let mut runtime = RuntimeEnvBuilder::new();
    if let Some(limit) = memory_limit {
        runtime = runtime.with_memory_limit(limit, 1.0);
    }
    let ctx = SessionContext::new_with_config_rt(config, runtime.build_arc().unwrap());
    ctx.register_udtf("holdout_split", Arc::new(HoldoutSplitFunc));
    ctx
}

/// The number of spills of every operator of `plan`.
fn spills(plan: &Arc<dyn ExecutionPlan>) -> usize {
    let own = plan.metrics().and_then(|m| m.spill_count()).unwrap_or(0);
    own + plan.children().into_iter().map(spills).sum::<usize>()
}

#[tokio::test]
async fn the_streaming_split_marks_every_row_as_the_whole_table_rule_does() {
    let mut rng = StdRng::seed_from_u64(20261206);
    for case in 0..24 {
        let n = [1, 2, 7, 60, 300, 1000][case % 6];
        let text_users = case % 2 == 1;
        let partitions = 1 + case % 4;
        let ratio = [0.0, 0.2, 0.5, 0.75, 0.9][case % 5];
        let seed: u64 = rng.random();
        let (schema, batches) = random_table(&mut rng, n, text_users);
        let config = SessionConfig::new()
            .with_target_partitions(1 + case % 3)
            .with_batch_size(1 + case % 9);
        let ctx = session(config, None);
        let (out, _) =
            split_through_sql(&ctx, schema.clone(), &batches, partitions, ratio, seed).await;
        let table = concat_batches(&schema, &batches).unwrap();
        let expected = row_texts(
            std::slice::from_ref(&table),
            Some(&reference_marks(&table, ratio, seed)),
        );
        assert_eq!(
            row_texts(&out, None),
            expected,
            "case {case}: n {n}, text users {text_users}, {partitions} partitions, ratio {ratio}"
        );
    }
}

#[tokio::test]
async fn the_split_spills_under_a_small_memory_pool_and_marks_the_same_rows() {
    let mut rng = StdRng::seed_from_u64(7);
    let (schema, batches) = random_table(&mut rng, 200_000, true);
    let table = concat_batches(&schema, &batches).unwrap();
    let expected = row_texts(
        std::slice::from_ref(&table),
        Some(&reference_marks(&table, 0.3, 42)),
    );
    let mut config = SessionConfig::new()
        .with_target_partitions(2)
        .with_batch_size(1024);
    config.options_mut().execution.sort_spill_reservation_bytes = 64 * 1024;
    // The table takes about 6 MB in memory (with the hash column); the pool a third of that.
    let ctx = session(config, Some(2 << 20));
    let (out, plan) = split_through_sql(&ctx, schema, &batches, 2, 0.3, 42).await;
    assert!(spills(&plan) > 0, "the sort did not spill:\n{plan:?}");
    assert_eq!(row_texts(&out, None), expected);
}
