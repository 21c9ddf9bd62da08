//! `lmer` fits and their bootstrap are bit-identical whatever the thread count and whatever the
//! order in which the `AS` query delivers its rows.
//!
//! DataFusion delivers the rows of joins, `UNION ALL` and multi-partition scans in any order, and
//! the sums of a fit round differently in a different order; the optimiser then takes a
//! different path (another number of criterion evaluations, other last bits). The model type
//! puts rows in content order first, and the kernel is sequential, so every fit below must match
//! the first one to the bit. The data are lme4's sleepstudy (180 rows) and Penicillin (crossed
//! random effects, 144 rows) from `../shared/data/stats`.

use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, Float64Array, Int64Array, RecordBatch, StringArray};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::SeedableRng;
use tch::Device;
use trustql_udfs::model::{ModelOptions, RawOptionValue, TaskControl, TrainContext, TrainingData};
use trustql_udfs::stats::lmm::LmmFit;

fn shared() -> PathBuf {
    let here = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    for base in [
        here.join("../shared"),
        here.join("../../shared"),
        PathBuf::from("/work/shared"),
    ] {
        if base.join("data/stats/sleepstudy.csv").exists() {
            return base;
        }
    }
    panic!("shared/data/stats/sleepstudy.csv not found");
}

/// A CSV of `../shared/data/stats` as one record batch: integer, float or text columns by
/// content (no quoting, no missing values in the files used here).
fn read_csv(name: &str) -> RecordBatch {
    let text = std::fs::read_to_string(shared().join("data/stats").join(name)).unwrap();
    let mut lines = text.lines().filter(|l| !l.trim().is_empty());
    let names: Vec<String> = lines
        .next()
        .unwrap()
        .split(',')
        .map(|s| s.trim().trim_matches('"').to_string())
        .collect();
    let rows: Vec<Vec<String>> = lines
        .map(|l| {
            l.split(',')
                .map(|s| s.trim().trim_matches('"').to_string())
                .collect()
        })
        .collect();
    let mut fields = Vec::new();
    let mut columns: Vec<ArrayRef> = Vec::new();
    for (j, name) in names.iter().enumerate() {
        let cells: Vec<&str> = rows.iter().map(|r| r[j].as_str()).collect();
        if cells.iter().all(|c| c.parse::<i64>().is_ok()) {
            fields.push(Field::new(name, DataType::Int64, false));
            columns.push(Arc::new(Int64Array::from_iter_values(
                cells.iter().map(|c| c.parse::<i64>().unwrap()),
            )));
        } else if cells.iter().all(|c| c.parse::<f64>().is_ok()) {
            fields.push(Field::new(name, DataType::Float64, false));
            columns.push(Arc::new(Float64Array::from_iter_values(
                cells.iter().map(|c| c.parse::<f64>().unwrap()),
            )));
        } else {
            fields.push(Field::new(name, DataType::Utf8, false));
            columns.push(Arc::new(StringArray::from_iter_values(cells.iter())));
        }
    }
    RecordBatch::try_new(Arc::new(Schema::new(fields)), columns).unwrap()
}

/// The rows of `batch` in the order `order`, cut into batches of the sizes in `cuts` (cycled).
fn reorder(batch: &RecordBatch, order: &[usize], cuts: &[usize]) -> TrainingData {
    let indices =
        datafusion::arrow::array::UInt32Array::from_iter_values(order.iter().map(|&i| i as u32));
    let shuffled = RecordBatch::try_new(
        batch.schema(),
        batch
            .columns()
            .iter()
            .map(|c| datafusion::arrow::compute::take(c, &indices, None).unwrap())
            .collect(),
    )
    .unwrap();
    let mut batches = Vec::new();
    let mut start = 0;
    for &len in cuts.iter().cycle() {
        if start >= shuffled.num_rows() {
            break;
        }
        let len = len.min(shuffled.num_rows() - start);
        batches.push(shuffled.slice(start, len));
        start += len;
    }
    data(batch.schema(), batches)
}

fn data(schema: SchemaRef, batches: Vec<RecordBatch>) -> TrainingData {
    TrainingData {
        schema,
        batches,
        tables: Default::default(),
    }
}

/// Trains an `lmer` model through the model type, as `CREATE MODEL` does.
fn train(data: &TrainingData, formula: &str) -> LmmFit {
    let mt = trustql_udfs::model_types()
        .into_iter()
        .find(|t| t.name() == "lmer")
        .unwrap();
    let raw = vec![(
        "formula".to_string(),
        RawOptionValue::Text(formula.to_string()),
    )];
    let options = ModelOptions::validate("lmer", mt.options(), &raw).unwrap();
    let cancel = AtomicBool::new(false);
    let progress = |_: &str| {};
    let ctx = TrainContext {
        options: &options,
        control: TaskControl::new(&progress, &cancel),
        device: Device::Cpu,
        memory_limit: trustql_udfs::engine::memory::default_memory_limit(),
        checkpoint: None,
    };
    let trained = mt.train(data, &ctx).unwrap();
    // Through the model file, as a later query reads it.
    let bytes = trained.model.to_bytes().unwrap();
    let model = mt.load(&options, &bytes).unwrap();
    model
        .downcast_ref::<trustql_udfs::stats::lmer::LmerModel>()
        .unwrap()
        .fit
        .clone()
}

/// Everything a fit reports, as bits.
fn bits(fit: &LmmFit) -> (Vec<u64>, usize) {
    let mut out: Vec<u64> = Vec::new();
    for v in [&fit.beta, &fit.theta, &fit.u, &fit.unscaled_vcov] {
        out.extend(v.iter().map(|x| x.to_bits()));
    }
    out.push(fit.sigma.to_bits());
    out.push(fit.criterion.to_bits());
    for fe in fit.fixed_effects() {
        out.extend([fe.std_error, fe.df, fe.p_value].map(f64::to_bits));
    }
    (out, fit.evaluations)
}

fn in_pool<T: Send>(threads: usize, f: impl FnOnce() -> T + Send) -> T {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .unwrap()
        .install(f)
}

fn check_dataset(file: &str, formula: &str) {
    let batch = read_csv(file);
    let n = batch.num_rows();
    let as_read = data(batch.schema(), vec![batch.clone()]);
    let reference = train(&as_read, formula);
    let want = bits(&reference);
    assert!(reference.converged && want.1 > 10, "{file}: {}", want.1);
    for threads in [1, 2, 4] {
        let fit = in_pool(threads, || train(&as_read, formula));
        assert_eq!(bits(&fit), want, "{file}: {threads} threads");
    }
    let mut rng = StdRng::seed_from_u64(17);
    let reversed: Vec<usize> = (0..n).rev().collect();
    let mut orders = vec![reversed];
    for _ in 0..3 {
        let mut order: Vec<usize> = (0..n).collect();
        order.shuffle(&mut rng);
        orders.push(order);
    }
    for (k, order) in orders.iter().enumerate() {
        let shuffled = reorder(&batch, order, &[7, 50, 1, 33]);
        for threads in [1, 4] {
            let fit = in_pool(threads, || train(&shuffled, formula));
            assert_eq!(
                bits(&fit),
                want,
                "{file}: order {k}, {threads} threads: estimates differ"
            );
        }
    }
}

#[test]
fn sleepstudy_fit_is_bit_identical_across_threads_and_row_orders() {
    check_dataset("sleepstudy.csv", "Reaction ~ Days + (Days | Subject)");
}

#[test]
fn penicillin_fit_is_bit_identical_across_threads_and_row_orders() {
    check_dataset(
        "Penicillin.csv",
        "diameter ~ 1 + (1 | plate) + (1 | sample)",
    );
}

#[test]
fn bootstrap_is_bit_identical_across_threads_and_row_orders() {
    let batch = read_csv("sleepstudy.csv");
    let formula = "Reaction ~ Days + (1 | Subject)";
    let boot = |fit: &LmmFit| {
        fit.bootstrap(30, 5, &mut |_, _| Ok(()))
            .unwrap()
            .iter()
            .flat_map(|b| [b.estimate, b.lower, b.upper].map(f64::to_bits))
            .collect::<Vec<u64>>()
    };
    let as_read = data(batch.schema(), vec![batch.clone()]);
    let fit = train(&as_read, formula);
    let want = boot(&fit);
    for threads in [1, 2, 4] {
        assert_eq!(in_pool(threads, || boot(&fit)), want, "{threads} threads");
    }
    let reversed: Vec<usize> = (0..batch.num_rows()).rev().collect();
    let refit = train(&reorder(&batch, &reversed, &[40]), formula);
    assert_eq!(in_pool(2, || boot(&refit)), want, "reversed rows");
    // Another seed gives other intervals (the comparison above can fail).
    let other: Vec<u64> = fit
        .bootstrap(30, 6, &mut |_, _| Ok(()))
        .unwrap()
        .iter()
        .flat_map(|b| [b.estimate, b.lower, b.upper].map(f64::to_bits))
        .collect();
    assert_ne!(other, want);
}
