//! The metrics as DataFusion aggregates over a table of several partitions: the partial states
//! of each partition are merged (two-phase aggregation), with and without GROUP BY, and the
//! results must equal the definitions computed here directly.

use std::collections::BTreeSet;
use std::sync::Arc;

use datafusion::arrow::array::{
    Array, AsArray, Float64Array, Int64Array, RecordBatch, StringArray,
};
use datafusion::arrow::datatypes::{DataType, Field, Float64Type, Int64Type, Schema};
use datafusion::datasource::MemTable;
use datafusion::logical_expr::AggregateUDF;
use datafusion::prelude::{SessionConfig, SessionContext};

use super::{accuracy::Accuracy, f1_macro::F1Macro, log_loss::LogLoss, r2::R2};
use crate::common::rng::Rng;

struct Rows {
    g: Vec<i64>,
    label: Vec<Option<String>>,
    predicted: Vec<Option<String>>,
    p: Vec<Option<f64>>,
    y: Vec<f64>,
    y_hat: Vec<f64>,
}

fn rows(n: usize) -> Rows {
    let mut rng = Rng::new(12);
    let class = |rng: &mut Rng| ["a", "b", "c", "d"][rng.below(4) as usize].to_string();
    let mut r = Rows {
        g: Vec::new(),
        label: Vec::new(),
        predicted: Vec::new(),
        p: Vec::new(),
        y: Vec::new(),
        y_hat: Vec::new(),
    };
    for i in 0..n {
        r.g.push((i % 3) as i64);
        let l = class(&mut rng);
        // Mostly right, sometimes wrong, sometimes NULL.
        let p = if rng.below(3) == 0 {
            class(&mut rng)
        } else {
            l.clone()
        };
        r.label.push((i % 17 != 0).then_some(l));
        r.predicted.push((i % 23 != 0).then_some(p));
        r.p.push((i % 11 != 0).then(|| rng.next_f64()));
        let y = 50.0 + 3.0 * rng.normal();
        r.y.push(y);
        r.y_hat.push(y + rng.normal());
    }
    r
}

/// The expected metrics of the rows whose group is in `groups`, by the textbook formulas.
fn expected(r: &Rows, groups: &[i64]) -> [f64; 4] {
    let take: Vec<usize> = (0..r.g.len())
        .filter(|&i| groups.contains(&r.g[i]))
        .collect();
    let pairs: Vec<(&String, &String)> = take
        .iter()
        .filter_map(|&i| Some((r.label[i].as_ref()?, r.predicted[i].as_ref()?)))
        .collect();
    let accuracy = pairs.iter().filter(|(a, b)| a == b).count() as f64 / pairs.len() as f64;
    // F1 per class as 2PR / (P + R), with zero_division = 0.
    let classes: BTreeSet<&String> = pairs.iter().flat_map(|(a, b)| [*a, *b]).collect();
    let mut f1 = 0.0;
    for c in &classes {
        let tp = pairs.iter().filter(|(a, b)| a == c && b == c).count() as f64;
        let predicted = pairs.iter().filter(|(_, b)| b == c).count() as f64;
        let actual = pairs.iter().filter(|(a, _)| a == c).count() as f64;
        let precision = if predicted > 0.0 { tp / predicted } else { 0.0 };
        let recall = if actual > 0.0 { tp / actual } else { 0.0 };
        f1 += if precision + recall > 0.0 {
            2.0 * precision * recall / (precision + recall)
        } else {
            0.0
        };
    }
    f1 /= classes.len() as f64;
    let ps: Vec<f64> = take.iter().filter_map(|&i| r.p[i]).collect();
    let log_loss = ps
        .iter()
        .map(|p| -p.clamp(1e-15, 1.0 - 1e-15).ln())
        .sum::<f64>()
        / ps.len() as f64;
    let mean = take.iter().map(|&i| r.y[i]).sum::<f64>() / take.len() as f64;
    let ss_tot: f64 = take.iter().map(|&i| (r.y[i] - mean).powi(2)).sum();
    let ss_res: f64 = take.iter().map(|&i| (r.y[i] - r.y_hat[i]).powi(2)).sum();
    [accuracy, f1, log_loss, 1.0 - ss_res / ss_tot]
}

async fn context(r: &Rows) -> SessionContext {
    let schema = Arc::new(Schema::new(vec![
        Field::new("g", DataType::Int64, false),
        Field::new("label", DataType::Utf8, true),
        Field::new("predicted", DataType::Utf8, true),
        Field::new("p", DataType::Float64, true),
        Field::new("y", DataType::Float64, false),
        Field::new("y_hat", DataType::Float64, false),
    ]));
    // Three partitions of batches of 25 rows.
    let n = r.g.len();
    let mut partitions = vec![Vec::new(), Vec::new(), Vec::new()];
    for (k, start) in (0..n).step_by(25).enumerate() {
        let end = (start + 25).min(n);
        let batch = RecordBatch::try_new(
            schema.clone(),
            vec![
                Arc::new(Int64Array::from(r.g[start..end].to_vec())),
                Arc::new(StringArray::from(r.label[start..end].to_vec())),
                Arc::new(StringArray::from(r.predicted[start..end].to_vec())),
                Arc::new(Float64Array::from(r.p[start..end].to_vec())),
                Arc::new(Float64Array::from(r.y[start..end].to_vec())),
                Arc::new(Float64Array::from(r.y_hat[start..end].to_vec())),
            ],
        )
        .unwrap();
        partitions[k % 3].push(batch);
    }
    let ctx = SessionContext::new_with_config(SessionConfig::new().with_target_partitions(4));
    ctx.register_table(
        "t",
        Arc::new(MemTable::try_new(schema, partitions).unwrap()),
    )
    .unwrap();
    ctx.register_udaf(AggregateUDF::from(Accuracy::default()));
    ctx.register_udaf(AggregateUDF::from(F1Macro::default()));
    ctx.register_udaf(AggregateUDF::from(LogLoss::default()));
    ctx.register_udaf(AggregateUDF::from(R2::default()));
    ctx
}

const METRICS: &str =
    "accuracy(label, predicted), f1_macro(label, predicted), log_loss(p), r2(y, y_hat)";

fn close(got: &[f64], want: &[f64; 4], what: &str) {
    for (k, (a, b)) in got.iter().zip(want).enumerate() {
        assert!((a - b).abs() < 1e-10, "{what}: metric {k}: {a} vs {b}");
    }
}

#[tokio::test]
async fn partial_states_merge_across_partitions_and_groups() {
    let r = rows(600);
    let ctx = context(&r).await;
    let sql = format!("SELECT g, {METRICS} FROM t GROUP BY g ORDER BY g");
    let plan = ctx
        .sql(&format!("EXPLAIN {sql}"))
        .await
        .unwrap()
        .collect()
        .await
        .unwrap();
    let text: String = plan
        .iter()
        .flat_map(|b| {
            let c = b.column(1).as_string::<i32>().clone();
            (0..c.len()).map(move |i| c.value(i).to_string())
        })
        .collect();
    assert!(text.contains("mode=Partial"), "{text}");
    let batches = ctx.sql(&sql).await.unwrap().collect().await.unwrap();
    let mut seen = 0;
    for b in &batches {
        for row in 0..b.num_rows() {
            let g = b.column(0).as_primitive::<Int64Type>().value(row);
            let got: Vec<f64> = (1..5)
                .map(|c| b.column(c).as_primitive::<Float64Type>().value(row))
                .collect();
            close(&got, &expected(&r, &[g]), &format!("group {g}"));
            seen += 1;
        }
    }
    assert_eq!(seen, 3);
    // Without GROUP BY: one state per partition, merged.
    let batches = ctx
        .sql(&format!("SELECT {METRICS} FROM t"))
        .await
        .unwrap()
        .collect()
        .await
        .unwrap();
    let got: Vec<f64> = (0..4)
        .map(|c| batches[0].column(c).as_primitive::<Float64Type>().value(0))
        .collect();
    close(&got, &expected(&r, &[0, 1, 2]), "all rows");
    // An empty selection: NULL, not an error.
    let batches = ctx
        .sql(&format!("SELECT {METRICS} FROM t WHERE g > 5"))
        .await
        .unwrap()
        .collect()
        .await
        .unwrap();
    assert!((0..4).all(|c| batches[0].column(c).is_null(0)));
}
