//! Recommender performance on Goodbooks-shaped synthetic data (SPEC §5, issue "Performance").
//!
//! A seeded dataset shaped like Goodbooks-10k is generated here: 53,424 users × 10,000 items,
//! 6,000,000 distinct (user, item) pairs with ratings 1..5 (mean about 3.9), Zipf-like item
//! popularity (weight ∝ 1/(rank + 50); after removing repeated pairs the most popular item has
//! about 11.8k interactions, the median item 289, the least popular 117, the mean 600 as in
//! Goodbooks), heavy-tailed user activity (scaled Pareto: 30 to 2,000 items per user, median 53,
//! mean 112), and 34,000 tags with Zipf-like frequency (10–40 tags per item, every
//! tag on at least one item, weights ≥ 1 drawn from a Pareto law). So that there is something to
//! personalise (with independent draws from one popularity law, MostPop would be the best
//! possible recommender), items and tags belong to 40 latent genres and half of a user's draws
//! (and of an item's tag draws) come from the same law restricted to one genre. 20 % of every
//! user's interactions are held out (seeded) for nDCG@100.
//!
//! Every model type is trained once at dim 64 with default options except: `wrmf` 15 iterations;
//! `fm` and `ncf` ONE epoch (`epochs = 1`; their training time includes the WRMF initialisation,
//! which is reported separately). Then the top-100 lists (seen items excluded) of all users are
//! produced with `recsys::recommend::top_k` over blocks of 256 users, as `recommend()` does, and
//! held-out nDCG@100 (binary relevance, ideal DCG over min(100, #held-out)) is computed from them.
//! Nothing is repeated: each measurement takes seconds to many minutes.
//!
//! Output: a markdown table on stdout, progress on stderr, and JSON in
//! `<target>/bench-results/recsys.json` (measurements of earlier runs on the same dataset are
//! kept for the models not measured again, so the models can be run in several parts). The
//! split is written for `bench/recsys/implicit_wrmf.py` and `bench/recsys/lightfm_fm.py` to
//! `<target>/bench-results/goodbooks_synth/`: `train.bin` and `test.bin` are arrays of 12-byte
//! little-endian records (u32 user id, u32 item id, f32 rating), sorted by user then item,
//! `tags.bin` the item-tag rows in the same layout (u32 item, u32 tag, f32 weight); `meta.json`
//! holds the sizes and the WRMF hyper-parameters.
//!
//! Environment:
//! - `TRUSTQL_BENCH_MODELS=wrmf,mostpop` — the model types to measure (default all, cheapest
//!   first: mostpop, random, wrmf, inn, unn, fm, ncf); `fm_autograd` (only when named) is one FM
//!   epoch through libtorch's autograd on the CPU, the path `fm` took before its CPU kernel;
//! - `TRUSTQL_BENCH_SCALE=0.05` — users and interactions scaled down for a quick run (items and
//!   tags stay);
//! - `TRUSTQL_BENCH_TOPK_USERS=N` — top-k lists for the first N users only, the time
//!   extrapolated to all users and flagged as such (nDCG then covers those users only);
//! - `TRUSTQL_BENCH_WRMF_SEED=n` — the seed of WRMF's initial factors (default the option's, 42);
//! - `TRUSTQL_BENCH_DEVICE=cuda` — the tensor device (default `cpu`);
//! - `TRUSTQL_BENCH_OUT=dir` — where results go (default `<target>/bench-results`).
//!
//! Run with `cargo bench -p trustql-udfs --bench recsys` (see bench/recsys/README.md).

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use datafusion::arrow::array::{ArrayRef, Float32Array, Int64Array, RecordBatch};
use datafusion::arrow::datatypes::{Field, Schema};
use serde_json::{json, Value};
use tch::Device;
use trustql_udfs::common::rng::Rng;
use trustql_udfs::model::key::Key;
use trustql_udfs::model::{
    KeyRef, Model, ModelOptions, RawOptionValue, TaskControl, TrainContext, TrainingData,
};
use trustql_udfs::recsys::kernels::als::{objective, Factors};
use trustql_udfs::recsys::recommend::top_k;
use trustql_udfs::recsys::recommender::{Entity, Recommender};
use trustql_udfs::ModelType;

const USERS: usize = 53_424;
const ITEMS: usize = 10_000;
const INTERACTIONS: usize = 6_000_000;
const TAGS: usize = 34_000;
const SEED: u64 = 20_240_601;
const HOLDOUT: f64 = 0.2;
const DIM: usize = 64;
const TOP_K: usize = 100;
/// Users per `top_k` call, as in `recsys/recommend.rs`.
const USER_BLOCK: usize = 256;
/// WRMF hyper-parameters (the model type's defaults, spelled out for the Python side).
const WRMF_ITERATIONS: usize = 15;
const WRMF_ALPHA: f64 = 1.0;
const WRMF_L2: f64 = 0.01;
const ALL_MODELS: [&str; 7] = ["mostpop", "random", "wrmf", "inn", "unn", "fm", "ncf"];
/// Measurements that are not model types, run only when named: `fm_autograd` is one FM epoch
/// through libtorch's autograd on the CPU (what `fm` used before its CPU kernel), for the
/// before/after comparison; it has no top-100 lists.
const EXTRA_MODELS: [&str; 1] = ["fm_autograd"];

// ---------------------------------------------------------------- synthetic data

/// (user id, item id, rating) or (item id, tag id, weight).
type Triplet = (u32, u32, f32);

struct Dataset {
    n_users: usize,
    n_items: usize,
    n_tags: usize,
    /// Sorted by user, then item.
    train: Vec<Triplet>,
    /// Sorted by user, then item.
    test: Vec<Triplet>,
    /// (item, tag, weight), sorted by item, then tag.
    tags: Vec<Triplet>,
}

fn permutation(n: usize, rng: &mut Rng) -> Vec<u32> {
    let mut p: Vec<u32> = (0..n as u32).collect();
    for i in (1..n).rev() {
        p.swap(i, rng.below(i as u64 + 1) as usize);
    }
    p
}

/// Sampling from weights 1/(rank + offset)^exponent over a random permutation of the ids.
struct Zipf {
    cumulative: Vec<f64>,
    ids: Vec<u32>,
}

impl Zipf {
    fn new(n: usize, offset: f64, exponent: f64, rng: &mut Rng) -> Zipf {
        let mut acc = 0.0;
        let cumulative = (0..n)
            .map(|r| {
                acc += (r as f64 + offset).powf(-exponent);
                acc
            })
            .collect();
        Zipf {
            cumulative,
            ids: permutation(n, rng),
        }
    }

    fn sample(&self, rng: &mut Rng) -> u32 {
        let total = self.cumulative.last().copied().unwrap_or(0.0);
        let x = rng.next_f64() * total;
        let r = self.cumulative.partition_point(|&c| c <= x);
        self.ids[r.min(self.ids.len() - 1)]
    }
}

/// Interactions per user: a Pareto(20, 1.2) draw scaled so that the degrees, clamped to
/// [20, 2000], sum to exactly `total`.
fn user_degrees(n_users: usize, total: usize, rng: &mut Rng) -> Vec<usize> {
    const MIN: usize = 20;
    let max = 2_000.min(ITEMS / 4);
    let raw: Vec<f64> = (0..n_users)
        .map(|_| 20.0 * (1.0 - rng.next_f64()).powf(-1.0 / 1.2))
        .collect();
    let degrees = |s: f64| -> Vec<usize> {
        raw.iter()
            .map(|&r| ((r * s).round() as usize).clamp(MIN, max))
            .collect()
    };
    let (mut lo, mut hi) = (1e-3f64, 1e3f64);
    for _ in 0..100 {
        let mid = (lo * hi).sqrt();
        if degrees(mid).iter().sum::<usize>() < total {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    let mut d = degrees(lo);
    let mut sum: usize = d.iter().sum();
    assert!(
        n_users * MIN <= total && total <= n_users * max,
        "cannot give {n_users} users {total} interactions"
    );
    while sum != total {
        let u = rng.below(n_users as u64) as usize;
        if sum < total && d[u] < max {
            d[u] += 1;
            sum += 1;
        } else if sum > total && d[u] > MIN {
            d[u] -= 1;
            sum -= 1;
        }
    }
    d
}

/// Goodbooks-like rating distribution (mean about 3.9).
fn rating(rng: &mut Rng) -> f32 {
    let x = rng.next_f64();
    [0.02, 0.08, 0.31, 0.67, 1.0]
        .iter()
        .position(|&c| x < c)
        .unwrap_or(4) as f32
        + 1.0
}

/// Number of latent "genres": each item and tag has one, each user a favourite.
const GENRES: usize = 40;
/// Probability that a user's (or item's tag) draw comes from the favourite genre.
const GENRE_SHARE: f64 = 0.5;

/// A Zipf law restricted to the ids of each genre (ids in the same popularity order).
fn genre_laws(law: &Zipf, genre_of: &[u32], exponent: f64, offset: f64) -> Vec<Zipf> {
    (0..GENRES as u32)
        .map(|g| {
            let ids: Vec<u32> = law
                .ids
                .iter()
                .copied()
                .filter(|&i| genre_of[i as usize] == g)
                .collect();
            let mut acc = 0.0;
            let cumulative = (0..ids.len())
                .map(|r| {
                    acc += (r as f64 + offset).powf(-exponent);
                    acc
                })
                .collect();
            Zipf { cumulative, ids }
        })
        .collect()
}

fn generate(scale: f64) -> Dataset {
    let n_users = ((USERS as f64 * scale).round() as usize).max(10);
    let total = ((INTERACTIONS as f64 * scale).round() as usize).max(n_users * 20);
    let mut rng = Rng::new(SEED);
    let items = Zipf::new(ITEMS, 50.0, 1.0, &mut rng);
    let item_genre: Vec<u32> = (0..ITEMS)
        .map(|_| rng.below(GENRES as u64) as u32)
        .collect();
    let item_genres = genre_laws(&items, &item_genre, 1.0, 50.0 / GENRES as f64);
    let degrees = user_degrees(n_users, total, &mut rng);
    let mut stamp = vec![u32::MAX; ITEMS];
    let (mut train, mut test) = (
        Vec::with_capacity(total),
        Vec::with_capacity(total / 4 + n_users),
    );
    let mut row: Vec<u32> = Vec::new();
    for (u, &d) in degrees.iter().enumerate() {
        row.clear();
        let favourite = &item_genres[rng.below(GENRES as u64) as usize];
        while row.len() < d {
            // Half the draws from the favourite genre; a repeat there falls back to a global
            // draw, so that heavy users who exhaust their genre still terminate.
            let mut i = items.sample(&mut rng);
            if rng.next_f64() < GENRE_SHARE && !favourite.ids.is_empty() {
                let j = favourite.sample(&mut rng);
                if stamp[j as usize] != u as u32 {
                    i = j;
                }
            }
            if stamp[i as usize] != u as u32 {
                stamp[i as usize] = u as u32;
                row.push(i);
            }
        }
        // `row` is in draw order, i.e. random: the first 20 % are held out.
        let held = ((d as f64 * HOLDOUT).round() as usize).clamp(1, d - 1);
        let mut part: Vec<Triplet> = row
            .iter()
            .map(|&i| (u as u32, i, rating(&mut rng)))
            .collect();
        let mut rest = part.split_off(held);
        part.sort_by_key(|t| t.1);
        rest.sort_by_key(|t| t.1);
        test.extend(part);
        train.extend(rest);
    }
    // Tags: every tag on one random item (so all 34,000 occur), then 10..40 Zipf draws per item,
    // half of them from the tags of the item's genre.
    let tag_zipf = Zipf::new(TAGS, 10.0, 1.0, &mut rng);
    let tag_genre: Vec<u32> = (0..TAGS).map(|_| rng.below(GENRES as u64) as u32).collect();
    let tag_genres = genre_laws(&tag_zipf, &tag_genre, 1.0, 10.0 / GENRES as f64);
    let mut per_item: Vec<Vec<u32>> = vec![Vec::new(); ITEMS];
    for t in 0..TAGS as u32 {
        per_item[rng.below(ITEMS as u64) as usize].push(t);
    }
    let mut tags = Vec::new();
    let mut tag_stamp = vec![u32::MAX; TAGS];
    for (i, extra) in per_item.iter().enumerate() {
        let want = 10 + rng.below(31) as usize;
        let genre = &tag_genres[item_genre[i] as usize];
        let mut chosen: Vec<u32> = Vec::with_capacity(want + extra.len());
        for &t in extra {
            tag_stamp[t as usize] = i as u32;
            chosen.push(t);
        }
        let mut drawn = 0;
        while drawn < want {
            let mut t = tag_zipf.sample(&mut rng);
            if rng.next_f64() < GENRE_SHARE && !genre.ids.is_empty() {
                let g = genre.sample(&mut rng);
                if tag_stamp[g as usize] != i as u32 {
                    t = g;
                }
            }
            if tag_stamp[t as usize] != i as u32 {
                tag_stamp[t as usize] = i as u32;
                chosen.push(t);
                drawn += 1;
            }
        }
        chosen.sort_unstable();
        for t in chosen {
            // Pareto(1, 1.5) counts, as tag counts are heavy-tailed; at least 1.
            let w = (1.0 - rng.next_f64())
                .powf(-1.0 / 1.5)
                .floor()
                .min(10_000.0);
            tags.push((i as u32, t, w as f32));
        }
    }
    Dataset {
        n_users,
        n_items: ITEMS,
        n_tags: TAGS,
        train,
        test,
        tags,
    }
}

fn column_batch(cols: Vec<(&str, ArrayRef)>) -> RecordBatch {
    let schema = Schema::new(
        cols.iter()
            .map(|(n, a)| Field::new(*n, a.data_type().clone(), false))
            .collect::<Vec<_>>(),
    );
    RecordBatch::try_new(Arc::new(schema), cols.into_iter().map(|c| c.1).collect()).unwrap()
}

/// The `AS` query rows (user, item, value) and the `tags` table (item, tag, weight).
fn training_data(d: &Dataset) -> TrainingData {
    let ids = |f: fn(&Triplet) -> u32, v: &[Triplet]| -> ArrayRef {
        Arc::new(Int64Array::from_iter_values(v.iter().map(|t| f(t) as i64)))
    };
    let values = |v: &[Triplet]| -> ArrayRef {
        Arc::new(Float32Array::from_iter_values(v.iter().map(|t| t.2)))
    };
    let main = column_batch(vec![
        ("user", ids(|t| t.0, &d.train)),
        ("item", ids(|t| t.1, &d.train)),
        ("value", values(&d.train)),
    ]);
    let tags = column_batch(vec![
        ("item", ids(|t| t.0, &d.tags)),
        ("tag", ids(|t| t.1, &d.tags)),
        ("weight", values(&d.tags)),
    ]);
    let mut tables = BTreeMap::new();
    tables.insert("tags".to_string(), vec![tags]);
    TrainingData {
        schema: main.schema(),
        batches: vec![main],
        tables,
    }
}

fn write_records(path: &Path, v: &[Triplet]) -> std::io::Result<()> {
    let mut out = Vec::with_capacity(v.len() * 12);
    for &(a, b, c) in v {
        out.extend_from_slice(&a.to_le_bytes());
        out.extend_from_slice(&b.to_le_bytes());
        out.extend_from_slice(&c.to_le_bytes());
    }
    std::fs::write(path, out)
}

/// min, median, max of the counts.
fn spread(mut counts: Vec<usize>) -> (usize, usize, usize) {
    counts.sort_unstable();
    let n = counts.len();
    if n == 0 {
        return (0, 0, 0);
    }
    (counts[0], counts[n / 2], counts[n - 1])
}

fn dataset_stats(d: &Dataset) -> Value {
    let mut per_user = vec![0usize; d.n_users];
    let mut per_item = vec![0usize; d.n_items];
    for &(u, i, _) in d.train.iter().chain(&d.test) {
        per_user[u as usize] += 1;
        per_item[i as usize] += 1;
    }
    let mut per_tag = vec![0usize; d.n_tags];
    for &(_, t, _) in &d.tags {
        per_tag[t as usize] += 1;
    }
    let items_in_train = {
        let mut seen = vec![false; d.n_items];
        d.train.iter().for_each(|t| seen[t.1 as usize] = true);
        seen.iter().filter(|&&s| s).count()
    };
    let s = |c: Vec<usize>| {
        let (min, med, max) = spread(c);
        json!({"min": min, "median": med, "max": max})
    };
    json!({
        "users": d.n_users,
        "items": d.n_items,
        "tags": d.n_tags,
        "interactions": d.train.len() + d.test.len(),
        "train": d.train.len(),
        "test": d.test.len(),
        "tag_rows": d.tags.len(),
        "items_in_train": items_in_train,
        "interactions_per_user": s(per_user),
        "interactions_per_item": s(per_item),
        "items_per_tag": s(per_tag),
        "seed": SEED,
        "holdout": HOLDOUT,
    })
}

// ---------------------------------------------------------------- measuring

fn load_average() -> f64 {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next().and_then(|v| v.parse().ok()))
        .unwrap_or(f64::NAN)
}

/// Progress lines with the time since training started.
#[derive(Default)]
struct ProgressLog {
    start: Mutex<Option<Instant>>,
    lines: Mutex<Vec<(f64, String)>>,
}

impl ProgressLog {
    fn begin(&self) {
        *self.start.lock().unwrap() = Some(Instant::now());
        self.lines.lock().unwrap().clear();
    }

    fn record(&self, msg: &str) {
        let t = self
            .start
            .lock()
            .unwrap()
            .map(|s| s.elapsed().as_secs_f64())
            .unwrap_or(0.0);
        eprintln!("  [{t:8.1} s] {msg}");
        self.lines.lock().unwrap().push((t, msg.to_string()));
    }

    fn lines(&self) -> Vec<(f64, String)> {
        self.lines.lock().unwrap().clone()
    }
}

fn model_type(name: &str) -> Arc<dyn ModelType> {
    trustql_udfs::model_types()
        .into_iter()
        .find(|t| t.name() == name)
        .unwrap_or_else(|| panic!("no model type '{name}'"))
}

/// The bench's options for a model type (only those the type accepts).
fn options_for(name: &str, mt: &dyn ModelType) -> Vec<(String, RawOptionValue)> {
    let mut opts: Vec<(&str, String)> = vec![("dim", "64".into()), ("tags", "tags".into())];
    match name {
        "wrmf" => {
            opts.push(("iterations", WRMF_ITERATIONS.to_string()));
            if let Ok(seed) = std::env::var("TRUSTQL_BENCH_WRMF_SEED") {
                opts.push(("seed", seed));
            }
        }
        "fm" | "ncf" => opts.push(("epochs", "1".into())),
        _ => {}
    }
    assert_eq!(DIM, 64);
    let accepted: Vec<&str> = mt.options().iter().map(|s| s.name).collect();
    opts.into_iter()
        .filter(|(k, _)| accepted.contains(k))
        .map(|(k, v)| {
            let v = if k == "tags" {
                RawOptionValue::Text(v)
            } else {
                RawOptionValue::Number(v)
            };
            (k.to_string(), v)
        })
        .collect()
}

/// The bench's options of a model type, validated, and as shown in the results.
fn validated_options(name: &str) -> (ModelOptions, BTreeMap<String, String>) {
    let mt = model_type(name);
    let raw = options_for(name, mt.as_ref());
    let options = ModelOptions::validate(name, mt.options(), &raw).unwrap();
    let shown = raw
        .iter()
        .map(|(k, v)| (k.clone(), v.to_string()))
        .collect();
    (options, shown)
}

fn train(
    name: &str,
    data: &TrainingData,
    device: Device,
    log: &ProgressLog,
) -> (Box<dyn Model>, BTreeMap<String, String>, f64, Value) {
    let (options, shown) = validated_options(name);
    let mt = model_type(name);
    let cancel = AtomicBool::new(false);
    let progress = |msg: &str| log.record(msg);
    let ctx = TrainContext {
        options: &options,
        control: TaskControl::new(&progress, &cancel),
        device,
        memory_limit: trustql_udfs::engine::memory::default_memory_limit(),
        checkpoint: None,
    };
    log.begin();
    let start = Instant::now();
    let trained = mt.train(data, &ctx).unwrap();
    let secs = start.elapsed().as_secs_f64();
    (trained.model, trained.training, secs, json!(shown))
}

/// One FM epoch through libtorch's autograd on the CPU (`fm::fit_with_autograd`, with the
/// bench's `fm` options): its WRMF initialisation and epoch times and the epoch's loss.
fn fm_autograd(data: &TrainingData, log: &ProgressLog, load_before: f64) -> Value {
    use trustql_udfs::recsys::data::{RecData, Tags};
    use trustql_udfs::recsys::neural::NeuralOptions;
    let (options, shown) = validated_options("fm");
    let cancel = AtomicBool::new(false);
    let progress = |msg: &str| log.record(msg);
    let control = TaskControl::new(&progress, &cancel);
    log.begin();
    let start = Instant::now();
    let (rec, _) = RecData::from_training("fm", data, Tags::Required, &control).unwrap();
    let opts = NeuralOptions::try_from(&options).unwrap();
    let mut rng = Rng::new(opts.seed);
    let (_, losses) =
        trustql_udfs::recsys::fm::fit_with_autograd(&rec, &opts, Device::Cpu, &mut rng, &control)
            .unwrap();
    let train_s = start.elapsed().as_secs_f64();
    let (init_end, epoch_end) = init_and_epoch_ends(&log.lines(), train_s);
    eprintln!(
        "== fm_autograd: WRMF init {init_end:.1} s, one epoch {:.1} s, loss {:?}",
        epoch_end - init_end,
        losses
    );
    json!({
        "options": shown,
        "train_s": train_s,
        "wrmf_init_s": init_end,
        "epoch_s": epoch_end - init_end,
        "losses": losses,
        "load_before": load_before,
        "load_after": load_average(),
    })
}

/// When the WRMF initialisation and the first epoch of an FM or NCF ended, from its progress
/// lines (seconds since the start of training; the epoch ends at `train_s` without a line).
fn init_and_epoch_ends(lines: &[(f64, String)], train_s: f64) -> (f64, f64) {
    let init_end = lines
        .iter()
        .filter(|(_, m)| m.contains("WRMF initialisation"))
        .map(|l| l.0)
        .fold(0.0, f64::max);
    let epoch_end = lines
        .iter()
        .find(|(_, m)| m.contains("epoch 1/"))
        .map_or(train_s, |l| l.0);
    (init_end, epoch_end)
}

/// Top-100 lists (model item indices, seen items excluded) of all users, by model user index.
fn recommend_all(rec: &dyn Recommender, device: Device, limit: usize) -> (Vec<Vec<u32>>, f64) {
    let n = rec.data().n_users().min(limit);
    let users: Vec<u32> = (0..n as u32).collect();
    let mut lists = Vec::with_capacity(n);
    let start = Instant::now();
    let blocks = n.div_ceil(USER_BLOCK);
    for (b, block) in users.chunks(USER_BLOCK).enumerate() {
        for (items, _) in top_k(rec, device, TOP_K, true, block).unwrap() {
            lists.push(items);
        }
        if (b + 1) % (blocks / 10).max(1) == 0 {
            eprintln!(
                "  top-{TOP_K}: {}/{n} users  {:.1} s",
                lists.len(),
                start.elapsed().as_secs_f64()
            );
        }
    }
    (lists, start.elapsed().as_secs_f64())
}

/// Mean nDCG@k over the users with held-out items: binary relevance, DCG = Σ 1/log2(rank + 1)
/// over relevant items in the list, ideal DCG over min(k, #held-out) items. Users the model does
/// not know count 0. Returns (mean, number of users).
fn ndcg(rec: &dyn Recommender, lists: &[Vec<u32>], test: &[Triplet], k: usize) -> (f64, usize) {
    let data = rec.data();
    let item_ids: Vec<u32> = (0..data.n_items())
        .map(|i| match data.items.key(i) {
            Some(Key::Int(v)) => *v as u32,
            _ => u32::MAX,
        })
        .collect();
    let discount: Vec<f64> = (0..k).map(|r| 1.0 / (r as f64 + 2.0).log2()).collect();
    let (mut total, mut users) = (0.0, 0usize);
    let mut start = 0;
    while start < test.len() {
        let u = test[start].0;
        let mut end = start;
        while end < test.len() && test[end].0 == u {
            end += 1;
        }
        // Held-out items of u, sorted by item id.
        let relevant: Vec<u32> = test[start..end].iter().map(|t| t.1).collect();
        start = end;
        let Some(row) = data.users.get(KeyRef::Int(u as i64)) else {
            users += 1;
            continue;
        };
        if row as usize >= lists.len() {
            // Not among the users whose lists were computed (TRUSTQL_BENCH_TOPK_USERS).
            continue;
        }
        users += 1;
        let dcg: f64 = lists[row as usize]
            .iter()
            .take(k)
            .enumerate()
            .filter(|(_, &i)| relevant.binary_search(&item_ids[i as usize]).is_ok())
            .map(|(r, _)| discount[r])
            .sum();
        let ideal: f64 = discount[..relevant.len().min(k)].iter().sum();
        total += dcg / ideal;
    }
    (total / users.max(1) as f64, users)
}

fn factors_of(rec: &dyn Recommender, entity: Entity) -> Factors {
    let f = rec
        .factors()
        .into_iter()
        .find(|f| f.entity == entity)
        .expect("wrmf has user and item factors");
    Factors {
        rows: f.values.len() / f.k,
        k: f.k,
        data: f.values,
    }
}

/// Times of the ALS iterations from the progress lines (the first includes data preparation).
fn als_iteration_times(lines: &[(f64, String)]) -> Vec<f64> {
    let mut prev = 0.0;
    lines
        .iter()
        .filter(|(_, m)| m.contains("ALS iteration"))
        .map(|&(t, _)| {
            let d = t - prev;
            prev = t;
            d
        })
        .collect()
}

fn mean(v: &[f64]) -> f64 {
    v.iter().sum::<f64>() / v.len().max(1) as f64
}

/// The directory the results go to.
fn out_dir() -> PathBuf {
    if let Ok(d) = std::env::var("TRUSTQL_BENCH_OUT") {
        return PathBuf::from(d);
    }
    // The bench runs as <target>/<profile>/deps/recsys-<hash>.
    let target = std::env::current_exe()
        .ok()
        .and_then(|p| p.ancestors().nth(3).map(Path::to_path_buf))
        .filter(|p| p.join("CACHEDIR.TAG").exists())
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../target"));
    target.join("bench-results")
}

fn device_from_env() -> Device {
    match std::env::var("TRUSTQL_BENCH_DEVICE").as_deref() {
        Err(_) | Ok("cpu") | Ok("") => Device::Cpu,
        Ok("cuda") => Device::Cuda(0),
        Ok(s) => match s.strip_prefix("cuda:").and_then(|n| n.parse().ok()) {
            Some(n) => Device::Cuda(n),
            None => panic!("TRUSTQL_BENCH_DEVICE must be cpu, cuda or cuda:N, not {s}"),
        },
    }
}

fn main() {
    // `cargo bench` passes `--bench`; a filter argument, if any, is ignored. Without `--bench`
    // (`cargo test --all-targets` runs bench targets too) this is a smoke run: a tiny dataset,
    // two cheap models, results in a temporary directory.
    if !std::env::args().any(|a| a == "--bench") {
        let dir = std::env::temp_dir().join(format!("trustql-recsys-bench-{}", std::process::id()));
        std::env::set_var("TRUSTQL_BENCH_SCALE", "0.002");
        std::env::set_var("TRUSTQL_BENCH_MODELS", "mostpop,wrmf");
        std::env::set_var("TRUSTQL_BENCH_OUT", &dir);
        run();
        std::fs::remove_dir_all(&dir).ok();
        return;
    }
    run();
}

fn run() {
    let scale: f64 = std::env::var("TRUSTQL_BENCH_SCALE")
        .ok()
        .map(|s| s.parse().expect("TRUSTQL_BENCH_SCALE must be a number"))
        .unwrap_or(1.0);
    let models: Vec<String> = match std::env::var("TRUSTQL_BENCH_MODELS") {
        Ok(s) if !s.trim().is_empty() && s.trim() != "all" => s
            .split(',')
            .map(|m| m.trim().to_lowercase())
            .filter(|m| !m.is_empty())
            .collect(),
        _ => ALL_MODELS.iter().map(|s| s.to_string()).collect(),
    };
    for m in &models {
        assert!(
            ALL_MODELS.contains(&m.as_str()) || EXTRA_MODELS.contains(&m.as_str()),
            "unknown model type '{m}' in TRUSTQL_BENCH_MODELS (have {ALL_MODELS:?} and \
             {EXTRA_MODELS:?})"
        );
    }
    // Top-k lists for only the first N users (time extrapolated linearly, flagged in the
    // output): for a quick look at a slow model.
    let topk_limit: usize = std::env::var("TRUSTQL_BENCH_TOPK_USERS")
        .ok()
        .map(|s| s.parse().expect("TRUSTQL_BENCH_TOPK_USERS must be a count"))
        .unwrap_or(usize::MAX);
    let device = device_from_env();
    if device != Device::Cpu {
        assert!(
            tch::Cuda::is_available(),
            "TRUSTQL_BENCH_DEVICE asks for CUDA, which libtorch does not see"
        );
    }
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    eprintln!(
        "recsys bench: models {models:?}, scale {scale}, device {device:?}, {threads} CPU threads \
         (torch {}), load average {:.2}",
        tch::get_num_threads(),
        load_average()
    );

    let t = Instant::now();
    let d = generate(scale);
    let gen_s = t.elapsed().as_secs_f64();
    let stats = dataset_stats(&d);
    eprintln!("generated in {gen_s:.1} s: {stats}");
    let out = out_dir();
    let split_dir = out.join("goodbooks_synth");
    std::fs::create_dir_all(&split_dir).unwrap();
    write_records(&split_dir.join("train.bin"), &d.train).unwrap();
    write_records(&split_dir.join("test.bin"), &d.test).unwrap();
    // The items' tags (u32 item, u32 tag, f32 weight), for LightFM's item features.
    write_records(&split_dir.join("tags.bin"), &d.tags).unwrap();
    let meta = json!({
        "format": "little-endian records of (u32 user, u32 item, f32 rating), 12 bytes each, \
                   sorted by user then item; ids are 0..users and 0..items",
        "scale": scale,
        "dataset": stats,
        "k": TOP_K,
        "wrmf": {
            "factors": DIM, "iterations": WRMF_ITERATIONS, "alpha": WRMF_ALPHA, "l2": WRMF_L2,
            "solver": "cg", "cg_steps": 3,
            "objective": "sum_ui c_ui (p_ui - x_u.y_i)^2 + l2 (|X|^2 + |Y|^2), c = 1 + alpha r"
        },
    });
    std::fs::write(
        split_dir.join("meta.json"),
        serde_json::to_string_pretty(&meta).unwrap(),
    )
    .unwrap();
    eprintln!("wrote the split to {}", split_dir.display());

    let data = training_data(&d);
    let log = ProgressLog::default();
    // Earlier results on the same dataset and device are kept for the models not run now.
    let json_path = out.join("recsys.json");
    let mut kept = serde_json::Map::new();
    if let Ok(old) = std::fs::read_to_string(&json_path) {
        if let Ok(old) = serde_json::from_str::<Value>(&old) {
            if old["dataset"] == stats && old["device"] == json!(format!("{device:?}")) {
                if let Some(m) = old["models"].as_object() {
                    kept = m.clone();
                }
            }
        }
    }
    let mut report = json!({
        "device": format!("{device:?}"),
        "cpu_threads": threads,
        "torch_threads": tch::get_num_threads(),
        "scale": scale,
        "dataset": stats,
        "generation_s": gen_s,
        "models": kept,
    });
    for name in &models {
        eprintln!("== {name}: training (load average {:.2})", load_average());
        let load_before = load_average();
        if name == "fm_autograd" {
            let r = fm_autograd(&data, &log, load_before);
            report = save(&json_path, report, name, r);
            continue;
        }
        let (model, facts, train_s, options) = train(name, &data, device, &log);
        let rec = model
            .capability::<dyn trustql_udfs::recsys::recommender::Recommender>()
            .expect("a recommender");
        eprintln!("== {name}: trained in {train_s:.1} s; top-{TOP_K} of all users");
        let (lists, topk_s) = recommend_all(rec, device, topk_limit);
        let n_users = rec.data().n_users();
        let topk_all_s = topk_s * n_users as f64 / lists.len().max(1) as f64;
        let (ndcg_value, ndcg_users) = ndcg(rec, &lists, &d.test, TOP_K);
        let load_after = load_average();
        eprintln!(
            "== {name}: top-{TOP_K} in {topk_s:.1} s, nDCG@{TOP_K} {ndcg_value:.4} over {ndcg_users} users"
        );
        let lines = log.lines();
        let mut r = json!({
            "options": options,
            "train_s": train_s,
            "top100_all_users_s": topk_all_s,
            "top100_users_timed": lists.len(),
            "top100_extrapolated": lists.len() < n_users,
            "top100_timed_s": topk_s,
            "ndcg_at_100": ndcg_value,
            "ndcg_users": ndcg_users,
            "load_before": load_before,
            "load_after": load_after,
            "training_facts": facts,
        });
        let iters = als_iteration_times(&lines);
        if name == "wrmf" {
            let (x, y) = (factors_of(rec, Entity::User), factors_of(rec, Entity::Item));
            let t = Instant::now();
            let obj = objective(&rec.data().r, &x, &y, WRMF_ALPHA as f32, WRMF_L2 as f32).unwrap();
            let objective_s = t.elapsed().as_secs_f64();
            let steady = mean(&iters[1.min(iters.len())..]);
            r["als"] = json!({
                "iteration_s": iters,
                "mean_iteration_s_2_to_n": steady,
                "objective_s": objective_s,
                "mean_iteration_s_2_to_n_without_objective": steady - objective_s,
                "final_objective": obj,
            });
        }
        if name == "fm" || name == "ncf" {
            let (init_end, epoch_end) = init_and_epoch_ends(&lines, train_s);
            r["wrmf_init_s"] = json!(init_end);
            r["epoch_s"] = json!(epoch_end - init_end);
            r["als_iteration_s"] = json!(iters);
        }
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        r["measured_unix_s"] = json!(now);
        drop(model);
        // Saved after every model, so that a long run that is stopped keeps what it measured.
        report = save(&json_path, report, name, r);
    }
    print_tables(&report);
    eprintln!("results in {}", json_path.display());
    std::io::stdout().flush().ok();
}

/// Adds one model's measurements to the report and writes it.
fn save(path: &Path, mut report: Value, name: &str, measured: Value) -> Value {
    report["models"][name] = measured;
    std::fs::write(path, serde_json::to_string_pretty(&report).unwrap()).unwrap();
    report
}

fn print_tables(report: &Value) {
    let f = |v: &Value| v.as_f64().map_or("–".to_string(), |x| format!("{x:.1}"));
    println!(
        "\nRecommenders on Goodbooks-shaped synthetic data ({} users × {} items, {} train / {} \
         test interactions, {} tags), dim 64, device {}, {} CPU threads\n",
        report["dataset"]["users"],
        report["dataset"]["items"],
        report["dataset"]["train"],
        report["dataset"]["test"],
        report["dataset"]["tags"],
        report["device"].as_str().unwrap_or("?"),
        report["cpu_threads"]
    );
    println!("| model | training (s) | of which | top-100, all users (s) | nDCG@100 | load avg |");
    println!("|---|---:|---|---:|---:|---:|");
    let models = report["models"].as_object().cloned().unwrap_or_default();
    for name in ALL_MODELS {
        let Some(m) = models.get(name) else { continue };
        let detail = match name {
            "wrmf" => format!(
                "15 iterations, {} s each (iterations 2–15)",
                m["als"]["mean_iteration_s_2_to_n"]
                    .as_f64()
                    .map_or("–".to_string(), |x| format!("{x:.2}"))
            ),
            "fm" | "ncf" => format!(
                "WRMF init {} s + ONE epoch {} s",
                f(&m["wrmf_init_s"]),
                f(&m["epoch_s"])
            ),
            _ => String::new(),
        };
        let label = if name == "fm" || name == "ncf" {
            format!("{name} (1 epoch)")
        } else {
            name.to_string()
        };
        let topk = if m["top100_extrapolated"].as_bool() == Some(true) {
            format!(
                "{} (extrapolated from {} users)",
                f(&m["top100_all_users_s"]),
                m["top100_users_timed"]
            )
        } else {
            f(&m["top100_all_users_s"])
        };
        println!(
            "| {label} | {} | {detail} | {topk} | {} | {} |",
            f(&m["train_s"]),
            m["ndcg_at_100"]
                .as_f64()
                .map_or("–".to_string(), |x| format!("{x:.4}")),
            m["load_before"]
                .as_f64()
                .map_or("–".to_string(), |x| format!("{x:.1}")),
        );
    }
    if let Some(a) = models.get("fm_autograd") {
        println!(
            "\nfm through libtorch's autograd on the CPU (before its kernel): WRMF init {} s + \
             ONE epoch {} s, loss {}{}",
            f(&a["wrmf_init_s"]),
            f(&a["epoch_s"]),
            a["losses"],
            models.get("fm").map_or(String::new(), |m| format!(
                "; the kernel's epoch {} s, loss {}",
                f(&m["epoch_s"]),
                m["training_facts"]["loss per epoch"]
            )),
        );
    }
    if let Some(w) = models.get("wrmf") {
        let a = &w["als"];
        println!(
            "\nWRMF ALS (cg, 3 steps): mean iteration {:.3} s (iterations 2–15), of which the \
             objective that every iteration computes {:.3} s; first iteration (with setup) {:.3} s",
            a["mean_iteration_s_2_to_n"].as_f64().unwrap_or(f64::NAN),
            a["objective_s"].as_f64().unwrap_or(f64::NAN),
            a["iteration_s"][0].as_f64().unwrap_or(f64::NAN),
        );
    }
}
