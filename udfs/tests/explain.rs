//! The explainers checked against models whose true explanation is known: a recommender that is
//! linear in the tag vector (f = b_u + t · w_u, so LIME's and saliency's weights must be w_u and
//! PDP's the known additive effects), finite differences of a trained iNN for saliency, and the
//! Random explainer's fidelity, which must be 0 in expectation.

use std::sync::Arc;

use nalgebra::DMatrix;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tch::{Device, Kind, Tensor};
use trustql_udfs::common::tensors::{index, to_f64_vec};
use trustql_udfs::explain::engine::{
    explain, fidelity, fidelity_queries, rebuilt_score, ExplainOptions, Method, PdpCache,
    PDP_SWITCHED_ON_WEIGHT,
};
use trustql_udfs::model::{KeyIndex, KeyKind, KeyRef};
use trustql_udfs::recsys::data::RecData;
use trustql_udfs::recsys::kernels::sparse::Csr;
use trustql_udfs::recsys::recommender::{never_cancelled, score_pairs, Recommender};
use trustql_udfs::recsys::tensors::TagInput;

/// `w` as a row-major tensor (nalgebra is column-major).
fn row_major(w: &DMatrix<f64>, device: Device) -> Tensor {
    let (nt, nu) = (w.nrows(), w.ncols());
    let flat: Vec<f64> = (0..nt)
        .flat_map(|t| (0..nu).map(move |u| (t, u)))
        .map(|(t, u)| w[(t, u)])
        .collect();
    Tensor::from_slice(&flat)
        .view([nt as i64, nu as i64])
        .to_device(device)
}

/// f(u, i, t) = b_u + Σ_t t_t w_{u,t}: linear in t, with known weights.
struct Linear {
    data: RecData,
    /// n_tags × n_users (column u is w_u).
    w: DMatrix<f64>,
    b: Vec<f64>,
}

impl Recommender for Linear {
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
        _items: &Tensor,
        tags: &TagInput,
    ) -> datafusion::error::Result<Tensor> {
        let w = row_major(&self.w, device);
        let b = Tensor::from_slice(&self.b).to_device(device);
        let all = tags.matmul(&w); // [batch, n_users]
        let own = all.gather(1, &users.unsqueeze(1), false).squeeze_dim(1);
        Ok(own + b.index_select(0, users))
    }
}

fn key_index(n: usize, offset: i64) -> KeyIndex {
    let mut k = KeyIndex::new(KeyKind::Int);
    for i in 0..n {
        k.insert(KeyRef::Int(offset + i as i64));
    }
    k
}

/// A random linear model: `users` × `items`, each user with `history` items, each item with
/// 1..=`max_tags` of `tags` tags (weights uniform in [0.5, 3)), user weights uniform in [−1, 1].
fn linear(
    seed: u64,
    users: usize,
    items: usize,
    tags: usize,
    history: usize,
    max_tags: usize,
) -> Linear {
    linear_with(seed, users, items, tags, history, max_tags, false)
}

/// As [`linear`]; with `nhot`, every item has exactly `max_tags` tags of weight 1.
fn linear_with(
    seed: u64,
    users: usize,
    items: usize,
    tags: usize,
    history: usize,
    max_tags: usize,
    nhot: bool,
) -> Linear {
    let mut rng = StdRng::seed_from_u64(seed);
    let (mut ru, mut ri, mut rv) = (vec![], vec![], vec![]);
    for u in 0..users {
        let mut seen = std::collections::BTreeSet::new();
        while seen.len() < history {
            seen.insert(rng.random_range(0..items));
        }
        for i in seen {
            ru.push(u as u32);
            ri.push(i as u32);
            rv.push(1.0f32);
        }
    }
    let (mut ti, mut tt, mut tw) = (vec![], vec![], vec![]);
    for i in 0..items {
        let k = if nhot {
            max_tags
        } else {
            rng.random_range(1..=max_tags)
        };
        let mut chosen = std::collections::BTreeSet::new();
        while chosen.len() < k {
            chosen.insert(rng.random_range(0..tags));
        }
        for t in chosen {
            ti.push(i as u32);
            tt.push(t as u32);
            tw.push(if nhot {
                1.0
            } else {
                rng.random_range(0.5..3.0) as f32
            });
        }
    }
    let data = RecData {
        users: key_index(users, 100),
        items: key_index(items, 1000),
        tags: key_index(tags, 0),
        r: Csr::from_triplets(users, items, &ru, &ri, &rv).unwrap(),
        t: Csr::from_triplets(items, tags, &ti, &tt, &tw).unwrap(),
    };
    let w = DMatrix::from_fn(tags, users, |_, _| rng.random_range(-1.0..1.0));
    let b = (0..users).map(|_| rng.random_range(-1.0..1.0)).collect();
    Linear { data, w, b }
}

fn no_cancel() -> datafusion::error::Result<()> {
    Ok(())
}

fn run(
    rec: &dyn Recommender,
    method: Method,
    rows: &[(u32, u32)],
    omega: usize,
    opts: &ExplainOptions,
) -> Vec<Vec<(u32, f64)>> {
    explain(
        rec,
        Device::Cpu,
        method,
        rows,
        omega,
        opts,
        &PdpCache::default(),
        &no_cancel,
    )
    .unwrap()
}

fn all_rows(rec: &dyn Recommender) -> Vec<(u32, u32)> {
    let (nu, ni) = (rec.data().n_users() as u32, rec.data().n_items() as u32);
    (0..nu).flat_map(|u| (0..ni).map(move |i| (u, i))).collect()
}

#[test]
fn saliency_and_lime_recover_the_weights_of_a_linear_model() {
    let m = linear(1, 6, 10, 12, 3, 5);
    let rows = all_rows(&m);
    let opts = ExplainOptions {
        samples: 2000,
        ..ExplainOptions::default()
    };
    let saliency = run(&m, Method::Saliency, &rows, 12, &opts);
    // Unpenalised surrogate: the weights exactly. lime's default ridge (α = 1) shrinks them, a lot
    // for items with one or two tags, whose perturbations carry little kernel weight.
    let exact = ExplainOptions {
        ridge_alpha: 0.0,
        ..opts.clone()
    };
    let lime = run(&m, Method::Lime, &rows, 12, &exact);
    let shrunk = run(&m, Method::Lime, &rows, 12, &opts);
    for (k, &(u, i)) in rows.iter().enumerate() {
        let (tags, _) = m.data.t.row(i as usize);
        assert_eq!(
            saliency[k].len(),
            tags.len(),
            "one weight per tag of the item"
        );
        assert_eq!(lime[k].len(), tags.len());
        for (&t, _) in tags.iter().zip(0..) {
            let want = m.w[(t as usize, u as usize)];
            let s = saliency[k].iter().find(|e| e.0 == t).unwrap().1;
            assert!(
                (s - want).abs() < 1e-12,
                "saliency ({u},{i},{t}): {s} vs {want}"
            );
            let l = lime[k].iter().find(|e| e.0 == t).unwrap().1;
            assert!((l - want).abs() < 1e-9, "lime ({u},{i},{t}): {l} vs {want}");
        }
        // lime's ridge (α = 1) shrinks the surrogate: the norm of its coefficients (effects of
        // whole tags, weight × θ) is at most that of the exact ones.
        let (tags, tw) = m.data.t.row(i as usize);
        let norm = |e: &Vec<(u32, f64)>| {
            tags.iter()
                .zip(tw)
                .map(|(&t, &x)| {
                    (x as f64 * e.iter().find(|p| p.0 == t).map_or(0.0, |p| p.1)).powi(2)
                })
                .sum::<f64>()
                .sqrt()
        };
        assert!(norm(&shrunk[k]) <= norm(&lime[k]) + 1e-12, "ridge shrinks");
        // Sorted by decreasing |weight|.
        for e in [&saliency[k], &lime[k]] {
            assert!(e.windows(2).all(|p| p[0].1.abs() >= p[1].1.abs()));
        }
    }
    // Complexity ω keeps the ω largest |weight|.
    let top1 = run(&m, Method::Saliency, &rows, 1, &opts);
    for (k, e) in top1.iter().enumerate() {
        assert_eq!(e.len(), 1);
        assert_eq!(e[0], saliency[k][0]);
    }
}

#[test]
fn pdp_recovers_additive_tag_effects() {
    let m = linear(2, 5, 8, 6, 4, 3);
    let rows: Vec<(u32, u32)> = (0..5).map(|u| (u, 0)).collect();
    let pdp = run(&m, Method::Pdp, &rows, 6, &ExplainOptions::default());
    for (&(u, _), e) in rows.iter().zip(&pdp) {
        let (history, _) = m.data.r.row(u as usize);
        for t in 0..6u32 {
            // Switching t on adds w_{u,t} · weight to every history item that lacks t.
            let lacking = history
                .iter()
                .filter(|&&j| !m.data.t.row(j as usize).0.contains(&t))
                .count();
            let want =
                m.w[(t as usize, u as usize)] * PDP_SWITCHED_ON_WEIGHT as f64 * lacking as f64
                    / history.len() as f64;
            let got = e.iter().find(|x| x.0 == t).map_or(0.0, |x| x.1);
            assert!(
                (got - want).abs() < 1e-12,
                "pdp user {u} tag {t}: {got} vs {want}"
            );
        }
    }
}

#[test]
fn saliency_of_a_trained_inn_matches_finite_differences() {
    let m = linear(3, 8, 12, 10, 4, 4);
    // Train an iNN on the linear model's data through its model type.
    let rec_model = common::train_inn(&m.data);
    check_saliency_by_finite_differences(
        rec_model.capability::<dyn Recommender>().unwrap(),
        1e-6,
        1e-6,
    );
}

/// The other tag-aware types (uNN in f64; FM and NCF in f32, so a larger step and tolerance, and
/// NCF's ReLUs make the central difference inexact near a kink).
#[test]
fn saliency_of_every_tag_aware_model_matches_finite_differences() {
    let m = linear(5, 8, 12, 10, 4, 4);
    for (name, options, h, tol) in [
        ("unn", vec![("dim", "4")], 1e-6, 1e-6),
        ("fm", vec![("dim", "4"), ("epochs", "2")], 1e-2, 2e-3),
        (
            "ncf",
            vec![("dim", "4"), ("epochs", "2"), ("hidden", "21")],
            1e-2,
            2e-2,
        ),
    ] {
        let model = common::train_model(name, &m.data, &options);
        check_saliency_by_finite_differences(
            model.capability::<dyn Recommender>().unwrap(),
            h,
            tol,
        );
    }
}

/// Saliency (the gradient through the batched sparse path) against central differences of f
/// through the dense path, for every (user, training item) pair and tag of the item.
fn check_saliency_by_finite_differences(rec: &dyn Recommender, h: f64, tol: f64) {
    let rows = all_rows(rec);
    let sal = run(
        rec,
        Method::Saliency,
        &rows,
        100,
        &ExplainOptions::default(),
    );
    for (k, &(u, i)) in rows.iter().enumerate() {
        let (tags, weights) = rec.data().t.row(i as usize);
        for p in 0..tags.len() {
            let score = |d: f64| {
                let mut t = vec![0.0f64; rec.data().n_tags()];
                for (q, &c) in tags.iter().enumerate() {
                    t[c as usize] = weights[q] as f64 + if q == p { d } else { 0.0 };
                }
                let t = Tensor::from_slice(&t).view([1, -1]);
                let s = rec
                    .forward(
                        Device::Cpu,
                        &index(&[u], Device::Cpu),
                        &index(&[i], Device::Cpu),
                        &TagInput::Dense(t),
                    )
                    .unwrap();
                to_f64_vec(&s).unwrap()[0]
            };
            let fd = (score(h) - score(-h)) / (2.0 * h);
            let got = sal[k].iter().find(|e| e.0 == tags[p]).map_or(0.0, |e| e.1);
            assert!(
                (got - fd).abs() < tol * fd.abs().max(1.0),
                "({u},{i}) tag {}: {got} vs {fd}",
                tags[p]
            );
        }
    }
}

/// Delegates everything but the closed forms (`switch_on_scores`, `scaled_tag_scores`), so PDP
/// and LIME take the generic path through `forward`.
struct Generic<'a>(&'a dyn Recommender);

impl Recommender for Generic<'_> {
    fn data(&self) -> &RecData {
        self.0.data()
    }

    fn kind(&self) -> Kind {
        self.0.kind()
    }

    fn uses_tags(&self) -> bool {
        self.0.uses_tags()
    }

    fn forward(
        &self,
        device: Device,
        users: &Tensor,
        items: &Tensor,
        tags: &TagInput,
    ) -> datafusion::error::Result<Tensor> {
        self.0.forward(device, users, items, tags)
    }
}

/// A model type's options, as (name, value) pairs.
type Options = Vec<(&'static str, &'static str)>;

/// The tag-aware types with a closed form for LIME's scaled tag vectors, their options in these
/// tests, and the tolerance of their scores against `forward` (iNN and uNN in f64; FM and NCF in f32,
/// whose two ways of computing the same score round differently).
fn scaled_closed_forms() -> [(&'static str, Options, f64); 4] {
    [
        ("inn", vec![("dim", "4")], 1e-12),
        ("unn", vec![("dim", "4")], 1e-10),
        ("fm", vec![("dim", "4"), ("epochs", "2")], 1e-5),
        (
            "ncf",
            vec![("dim", "4"), ("epochs", "2"), ("hidden", "21")],
            1e-5,
        ),
    ]
}

#[test]
fn lime_closed_forms_equal_the_generic_path() {
    // All four tag-aware types score LIME's perturbations in closed form (`scaled_tag_scores`);
    // the generic path scores the same perturbed tag vectors through `forward`. The explanations
    // must select the same tags, with the same coefficients up to rounding (FM's and NCF's
    // scores are f32, so their coefficients agree to about 1e-3 of their size).
    let m = linear(17, 10, 14, 9, 5, 4);
    for (name, options, score_tol) in scaled_closed_forms() {
        let model = common::train_model(name, &m.data, &options);
        let rec = model.capability::<dyn Recommender>().unwrap();
        let rows = all_rows(rec);
        let opts = ExplainOptions {
            samples: 300,
            ..ExplainOptions::default()
        };
        let tol = if score_tol < 1e-9 { 1e-9 } else { 1e-3 };
        for omega in [2, 8] {
            let fast = run(rec, Method::Lime, &rows, omega, &opts);
            let slow = run(&Generic(rec), Method::Lime, &rows, omega, &opts);
            assert!(fast.iter().any(|e| !e.is_empty()));
            for ((a, b), row) in fast.iter().zip(&slow).zip(&rows) {
                let tags = |e: &Vec<(u32, f64)>| e.iter().map(|x| x.0).collect::<Vec<_>>();
                assert_eq!(tags(a), tags(b), "{name} {row:?} ω = {omega}");
                for (x, y) in a.iter().zip(b) {
                    assert!(
                        (x.1 - y.1).abs() <= tol * y.1.abs().max(1.0),
                        "{name} {row:?} tag {}: {} vs {}",
                        x.0,
                        x.1,
                        y.1
                    );
                }
            }
        }
    }
}

#[test]
fn scores_of_scaled_tag_vectors_equal_the_forward_pass() {
    // Random (not only 0/1) scales of random items' tags, against `forward` on the same sparse
    // tag vectors, a row of zeros (the empty tag vector) included; iNN's scores it 0.
    let m = linear(19, 8, 15, 12, 6, 4);
    for (name, options, tol) in scaled_closed_forms() {
        let model = common::train_model(name, &m.data, &options);
        let rec = model.capability::<dyn Recommender>().unwrap();
        let mut rng = StdRng::seed_from_u64(8);
        let mut checked = 0;
        for _ in 0..20 {
            let u = rng.random_range(0..8u32);
            let i = rng.random_range(0..15u32);
            let (tags, weights) = rec.data().t.row(i as usize);
            if tags.is_empty() {
                continue;
            }
            let d = tags.len();
            let n = 7;
            let mut scale: Vec<f64> = (0..n * d)
                .map(|_| match rng.random_range(0..3) {
                    0 => 0.0,
                    1 => 1.0,
                    _ => rng.random_range(0.0..2.0),
                })
                .collect();
            scale[..d].fill(0.0);
            let fast = rec
                .scaled_tag_scores(Device::Cpu, u, i, tags, weights, &scale, &never_cancelled)
                .unwrap()
                .unwrap_or_else(|| panic!("{name} has a closed form on the CPU"));
            let (mut sr, mut sc, mut sv) = (vec![], vec![], vec![]);
            for r in 0..n {
                for j in 0..d {
                    sr.push(r as i64);
                    sc.push(i64::from(tags[j]));
                    sv.push(scale[r * d + j] * f64::from(weights[j]));
                }
            }
            let sparse = TagInput::Sparse(trustql_udfs::recsys::tensors::SparseTags {
                rows: Tensor::from_slice(&sr),
                cols: Tensor::from_slice(&sc),
                vals: Tensor::from_slice(&sv).to_kind(rec.kind()),
                batch: n as i64,
            });
            let slow = to_f64_vec(
                &tch::no_grad(|| {
                    rec.forward(
                        Device::Cpu,
                        &index(&vec![u; n], Device::Cpu),
                        &index(&vec![i; n], Device::Cpu),
                        &sparse,
                    )
                })
                .unwrap(),
            )
            .unwrap();
            if name == "inn" {
                assert_eq!(fast[0], 0.0);
            }
            assert_eq!(fast.len(), n);
            for (a, b) in fast.iter().zip(&slow) {
                assert!(
                    (a - b).abs() <= tol * b.abs().max(1.0),
                    "{name} ({u}, {i}): {a} vs {b}"
                );
            }
            checked += 1;
        }
        assert!(checked > 10, "{name}: only {checked} items with tags");
    }
}

#[test]
fn pdp_closed_forms_equal_the_generic_path() {
    let m = linear(7, 10, 14, 9, 5, 4);
    for (name, options, tol) in [
        ("inn", vec![("dim", "4")], 1e-12),
        ("unn", vec![("dim", "4")], 1e-10),
        // f32 model: rounding of the two ways of computing the same score.
        ("fm", vec![("dim", "4"), ("epochs", "2")], 1e-5),
        (
            "ncf",
            vec![("dim", "4"), ("epochs", "2"), ("hidden", "21")],
            1e-5,
        ),
    ] {
        let model = common::train_model(name, &m.data, &options);
        check_pdp_closed_form(name, model.capability::<dyn Recommender>().unwrap(), tol);
    }
}

fn check_pdp_closed_form(name: &str, rec: &dyn Recommender, tol: f64) {
    assert!(rec
        .switch_on_scores(Device::Cpu, 0, &[0, 1], 1.0, &never_cancelled)
        .unwrap()
        .is_some());
    let rows: Vec<(u32, u32)> = (0..10).map(|u| (u, 0)).collect();
    let fast = run(rec, Method::Pdp, &rows, 9, &ExplainOptions::default());
    let slow = run(
        &Generic(rec),
        Method::Pdp,
        &rows,
        9,
        &ExplainOptions::default(),
    );
    for (a, b) in fast.iter().zip(&slow) {
        for t in 0..9u32 {
            let get = |e: &Vec<(u32, f64)>| e.iter().find(|x| x.0 == t).map_or(0.0, |x| x.1);
            let (x, y) = (get(a), get(b));
            assert!(
                (x - y).abs() <= tol * y.abs().max(1.0),
                "{name} tag {t}: {x} vs {y}"
            );
        }
    }
}

#[test]
fn random_explainer_fidelity_is_zero_on_average_and_perfect_explanations_score_one() {
    // N-hot items with 4 of 40 tags each: the Random explainer's ĝ_i are then exchangeable,
    // so its ranking is a uniformly random permutation and E[τ_AP,a] = 0 exactly.
    let m = linear_with(4, 1000, 80, 40, 5, 4, true);
    let users: Vec<u32> = (0..1000).collect();
    let opts = ExplainOptions::default();
    let fid = |method, omega| {
        fidelity(
            &m,
            Device::Cpu,
            method,
            &users,
            omega,
            20,
            &opts,
            &PdpCache::default(),
            &no_cancel,
        )
        .unwrap()
        .into_iter()
        .flatten()
        .collect::<Vec<f64>>()
    };
    let random = fid(Method::Random, 3);
    assert_eq!(random.len(), 1000);
    let n = random.len() as f64;
    let mean = random.iter().sum::<f64>() / n;
    let sd = (random.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0)).sqrt();
    // 99 % confidence interval.
    let half = 2.576 * sd / n.sqrt();
    assert!(mean.abs() <= half, "random mean fidelity {mean} ± {half}");
    // Saliency with ω ≥ every item's tag count rebuilds f − b_u exactly: fidelity 1 (where f
    // has no ties among the candidates; N-hot items sharing all their tags tie).
    let perfect = fid(Method::Saliency, 4);
    assert!(
        perfect.iter().all(|&x| (x - 1.0).abs() < 1e-12),
        "{perfect:?}"
    );
    // More tags never hurt the linear model's saliency on average.
    let one = fid(Method::Saliency, 1);
    let avg = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
    assert!(avg(&one) < avg(&perfect) && avg(&one) > avg(&random));
}

#[test]
fn explanations_repeat_with_the_seed_and_change_with_another() {
    let m = linear(5, 4, 6, 8, 2, 6);
    let rows = all_rows(&m);
    for method in [Method::Random, Method::Lime] {
        let a = run(
            &m,
            method,
            &rows,
            3,
            &ExplainOptions {
                samples: 300,
                ..Default::default()
            },
        );
        let b = run(
            &m,
            method,
            &rows,
            3,
            &ExplainOptions {
                samples: 300,
                ..Default::default()
            },
        );
        assert_eq!(a, b, "{method:?}");
        // Batch composition does not matter: one row alone gives the same explanation.
        let single = run(
            &m,
            method,
            &rows[5..6],
            3,
            &ExplainOptions {
                samples: 300,
                ..Default::default()
            },
        );
        assert_eq!(single[0], a[5]);
    }
    let a = run(&m, Method::Random, &rows, 3, &ExplainOptions::default());
    let c = run(
        &m,
        Method::Random,
        &rows,
        3,
        &ExplainOptions {
            seed: 7,
            ..Default::default()
        },
    );
    assert_ne!(a, c);
}

#[test]
fn scores_of_the_linear_test_model_are_linear() {
    // The test model itself: f(u, i, T_i) = b_u + T_i · w_u.
    let m = linear(6, 3, 4, 5, 2, 3);
    let rows = all_rows(&m);
    let us: Vec<u32> = rows.iter().map(|r| r.0).collect();
    let is: Vec<u32> = rows.iter().map(|r| r.1).collect();
    let s = score_pairs(&m, Device::Cpu, &us, &is).unwrap();
    for (k, &(u, i)) in rows.iter().enumerate() {
        let (tags, w) = m.data.t.row(i as usize);
        let want = m.b[u as usize]
            + tags
                .iter()
                .zip(w)
                .map(|(&t, &x)| x as f64 * m.w[(t as usize, u as usize)])
                .sum::<f64>();
        assert!((s[k] - want).abs() < 1e-12);
    }
}

mod common {
    use super::*;
    use datafusion::arrow::array::{ArrayRef, Float32Array, Int64Array, RecordBatch};
    use datafusion::arrow::datatypes::{Field, Schema};
    use std::collections::BTreeMap;
    use std::sync::atomic::AtomicBool;
    use trustql_udfs::model::key::Key;
    use trustql_udfs::model::{
        Model, ModelOptions, RawOptionValue, TaskControl, TrainContext, TrainingData,
    };

    fn batch(cols: Vec<(&str, ArrayRef)>) -> RecordBatch {
        let schema = Schema::new(
            cols.iter()
                .map(|(n, a)| Field::new(*n, a.data_type().clone(), true))
                .collect::<Vec<_>>(),
        );
        RecordBatch::try_new(Arc::new(schema), cols.into_iter().map(|c| c.1).collect()).unwrap()
    }

    fn id(k: Option<&Key>) -> i64 {
        match k {
            Some(Key::Int(v)) => *v,
            _ => panic!("integer ids"),
        }
    }

    /// An iNN (dim 4) trained on `data`'s interactions and tags through the model type.
    pub fn train_inn(data: &RecData) -> Box<dyn Model> {
        train_model("inn", data, &[("dim", "4")])
    }

    /// A model of type `name` trained on `data` with numeric `options` (and the tags).
    pub fn train_model(name: &str, data: &RecData, options: &[(&str, &str)]) -> Box<dyn Model> {
        let (mut us, mut is, mut vs) = (vec![], vec![], vec![]);
        for u in 0..data.n_users() {
            let (items, vals) = data.r.row(u);
            for (&i, &v) in items.iter().zip(vals) {
                us.push(id(data.users.key(u)));
                is.push(id(data.items.key(i as usize)));
                vs.push(v);
            }
        }
        let (mut ti, mut tt, mut tw) = (vec![], vec![], vec![]);
        for i in 0..data.n_items() {
            let (tags, w) = data.t.row(i);
            for (&t, &x) in tags.iter().zip(w) {
                ti.push(id(data.items.key(i)));
                tt.push(id(data.tags.key(t as usize)));
                tw.push(x);
            }
        }
        let main = batch(vec![
            ("user", Arc::new(Int64Array::from(us))),
            ("item", Arc::new(Int64Array::from(is))),
            ("value", Arc::new(Float32Array::from(vs))),
        ]);
        let tags = batch(vec![
            ("item", Arc::new(Int64Array::from(ti))),
            ("tag", Arc::new(Int64Array::from(tt))),
            ("weight", Arc::new(Float32Array::from(tw))),
        ]);
        let mut tables = BTreeMap::new();
        tables.insert("tags".to_string(), vec![tags]);
        let td = TrainingData {
            schema: main.schema(),
            batches: vec![main],
            tables,
        };
        let mt = trustql_udfs::model_types()
            .into_iter()
            .find(|t| t.name() == name)
            .unwrap();
        let mut raw: Vec<(String, RawOptionValue)> = options
            .iter()
            .map(|(k, v)| (k.to_string(), RawOptionValue::Number(v.to_string())))
            .collect();
        raw.push(("tags".to_string(), RawOptionValue::Text("tags".into())));
        let options = ModelOptions::validate(name, mt.options(), &raw).unwrap();
        let cancel = AtomicBool::new(false);
        let progress = |_: &str| {};
        let ctx = TrainContext {
            options: &options,
            control: TaskControl::new(&progress, &cancel),
            device: Device::Cpu,
            memory_limit: trustql_udfs::engine::memory::default_memory_limit(),
            checkpoint: None,
        };
        mt.train(&td, &ctx).unwrap().model
    }
}

#[test]
fn fidelity_of_many_omegas_at_once_equals_one_omega_at_a_time() {
    let m = linear(9, 12, 30, 12, 6, 8);
    let cache = PdpCache::default();
    let opts = ExplainOptions {
        samples: 200,
        ..Default::default()
    };
    let omegas = [1usize, 2, 4, 8];
    for method in [Method::Random, Method::Pdp, Method::Saliency, Method::Lime] {
        // Every user at every ω, in an interleaved order, with one query repeated.
        let mut queries: Vec<(u32, usize)> = Vec::new();
        for &omega in &omegas {
            for u in 0..12u32 {
                queries.push((u, omega));
            }
        }
        queries.push((3, 2));
        let together = fidelity_queries(
            &m,
            Device::Cpu,
            method,
            &queries,
            10,
            &opts,
            &cache,
            None,
            &no_cancel,
        )
        .unwrap();
        for (q, got) in queries.iter().zip(&together) {
            let alone = fidelity(
                &m,
                Device::Cpu,
                method,
                &[q.0],
                q.1,
                10,
                &opts,
                &PdpCache::default(),
                &no_cancel,
            )
            .unwrap();
            assert_eq!(*got, alone[0], "{method:?} {q:?}");
        }
    }
}

#[test]
fn sparse_and_dense_tag_vectors_score_alike() {
    // NCF scores sparse tag vectors by a factorised path (distinct users and items, a sparse
    // product with Z_tags W₁ⁱ) and dense ones by its definition; uNN groups rows by item. Rows
    // of mixed users and items, with perturbed tag weights, must score alike both ways.
    let m = linear(13, 9, 16, 11, 5, 5);
    let mut rng = StdRng::seed_from_u64(4);
    let n_tags = m.data.n_tags();
    let mut rows: Vec<(u32, u32, Vec<f64>)> = Vec::new();
    for _ in 0..60 {
        let u = rng.random_range(0..9u32);
        let i = rng.random_range(0..16u32);
        let mut t = vec![0.0f64; n_tags];
        for _ in 0..3 {
            t[rng.random_range(0..n_tags)] = rng.random_range(0.5..3.0);
        }
        rows.push((u, i, t));
    }
    let users: Vec<u32> = rows.iter().map(|r| r.0).collect();
    let items: Vec<u32> = rows.iter().map(|r| r.1).collect();
    let (mut sr, mut sc, mut sv) = (vec![], vec![], vec![]);
    for (b, r) in rows.iter().enumerate() {
        for (c, &x) in r.2.iter().enumerate().filter(|(_, &x)| x != 0.0) {
            sr.push(b as i64);
            sc.push(c as i64);
            sv.push(x);
        }
    }
    let dense: Vec<f64> = rows.iter().flat_map(|r| r.2.clone()).collect();
    for (name, options, tol) in [
        ("unn", vec![("dim", "4")], 1e-10),
        ("fm", vec![("dim", "4"), ("epochs", "2")], 1e-5),
        (
            "ncf",
            vec![("dim", "4"), ("epochs", "2"), ("hidden", "21")],
            1e-5,
        ),
    ] {
        let model = common::train_model(name, &m.data, &options);
        let rec = model.capability::<dyn Recommender>().unwrap();
        let score = |tags: TagInput| {
            let s = tch::no_grad(|| {
                rec.forward(
                    Device::Cpu,
                    &index(&users, Device::Cpu),
                    &index(&items, Device::Cpu),
                    &tags,
                )
            })
            .unwrap();
            to_f64_vec(&s).unwrap()
        };
        let sparse = score(TagInput::Sparse(
            trustql_udfs::recsys::tensors::SparseTags {
                rows: Tensor::from_slice(&sr),
                cols: Tensor::from_slice(&sc),
                vals: Tensor::from_slice(&sv).to_kind(rec.kind()),
                batch: rows.len() as i64,
            },
        ));
        let full = score(TagInput::Dense(
            Tensor::from_slice(&dense)
                .view([rows.len() as i64, n_tags as i64])
                .to_kind(rec.kind()),
        ));
        for (a, b) in sparse.iter().zip(&full) {
            assert!(
                (a - b).abs() <= tol * b.abs().max(1.0),
                "{name}: {a} vs {b}"
            );
        }
    }
}

#[test]
fn untruncated_saliency_of_inn_rebuilds_zero() {
    // iNN scores the direction of T_i V Σ⁻¹ only, so f is scale-invariant in t and, by Euler's
    // theorem, ∂f/∂t · T_i = 0: the rebuilt score of a full saliency explanation vanishes
    // (README, explainer experiment). Items whose tags project to (numerically) zero in the
    // rank-h latent space are the exception: the 1e-30 guard of the normalisation makes f
    // linear in t there; they are recognised by f(2 T_i) ≠ f(T_i) and left out.
    let m = linear(21, 8, 12, 10, 4, 4);
    let model = common::train_inn(&m.data);
    let rec = model.capability::<dyn Recommender>().unwrap();
    let rows = all_rows(rec);
    let full = run(
        rec,
        Method::Saliency,
        &rows,
        100,
        &ExplainOptions::default(),
    );
    let one = run(rec, Method::Saliency, &rows, 1, &ExplainOptions::default());
    let (mut invariant, mut nonzero_truncated) = (0, 0);
    for ((&(u, i), theta), theta1) in rows.iter().zip(&full).zip(&one) {
        let (tags, weights) = rec.data().t.row(i as usize);
        let score = |c: f64| {
            let mut t = vec![0.0f64; rec.data().n_tags()];
            for (q, &a) in tags.iter().enumerate() {
                t[a as usize] = c * weights[q] as f64;
            }
            let t = Tensor::from_slice(&t).view([1, -1]);
            let s = rec
                .forward(
                    Device::Cpu,
                    &index(&[u], Device::Cpu),
                    &index(&[i], Device::Cpu),
                    &TagInput::Dense(t),
                )
                .unwrap();
            to_f64_vec(&s).unwrap()[0]
        };
        let (f1, f2) = (score(1.0), score(2.0));
        if (f2 - f1).abs() > 1e-9 * f1.abs().max(1e-12) {
            continue;
        }
        invariant += 1;
        let scale: f64 = theta
            .iter()
            .map(|&(t, w)| {
                let p = tags.binary_search(&t).unwrap();
                (w * weights[p] as f64).abs()
            })
            .sum();
        let g = rebuilt_score(rec, theta, i);
        // Relative to the size of the terms θ_t T_it and of f (some gradients are themselves
        // at rounding level).
        assert!(
            g.abs() <= 1e-9 * (scale + f1.abs()),
            "({u},{i}): {g} vs scale {scale}"
        );
        if rebuilt_score(rec, theta1, i).abs() > 1e-6 * scale {
            nonzero_truncated += 1;
        }
    }
    assert!(invariant * 2 >= rows.len(), "{invariant} of {}", rows.len());
    assert!(nonzero_truncated > 0);
}

#[test]
fn lime_and_pdp_stop_when_cancelled() {
    let m = linear(22, 6, 10, 8, 4, 4);
    let rows = all_rows(&m);
    let stop = || -> datafusion::error::Result<()> {
        Err(datafusion::error::DataFusionError::Execution(
            "cancelled by the user".to_string(),
        ))
    };
    let inn = common::train_inn(&m.data);
    for (rec, method) in [
        (&m as &dyn Recommender, Method::Lime),
        (&m as &dyn Recommender, Method::Pdp),
        (inn.capability::<dyn Recommender>().unwrap(), Method::Pdp),
    ] {
        let got = explain(
            rec,
            Device::Cpu,
            method,
            &rows,
            3,
            &ExplainOptions::default(),
            &PdpCache::default(),
            &stop,
        );
        let err = got.expect_err("a cancelled explainer must stop");
        assert!(err.to_string().contains("cancelled"), "{err}");
    }
}

/// f(u, i, t) = (t / ‖t‖₁) · w_u: the direction of the tag vector only. An item with a single tag
/// scores w_u[tag] whatever that tag's weight (w / w is exactly 1), so items carrying only the same
/// tag tie exactly, and so do their LIME surrogates (one feature: every perturbation but the
/// instance switches it off, whatever the seed).
struct Direction {
    data: RecData,
    /// n_tags × n_users (column u is w_u).
    w: DMatrix<f64>,
}

impl Recommender for Direction {
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
        _items: &Tensor,
        tags: &TagInput,
    ) -> datafusion::error::Result<Tensor> {
        let w = row_major(&self.w, device);
        let x = tags.div_rows(&tags.row_sum(Kind::Double, device));
        let all = x.matmul(&w);
        Ok(all.gather(1, &users.unsqueeze(1), false).squeeze_dim(1))
    }
}

/// One user who has seen item 0 (tag 2); the candidates are items 1.. with one tag each: the
/// `first` items tag 0, the rest tag 1, with tag weights that differ from item to item (some of
/// which make the division hazard of `fidelity_treats_exactly_tied_explanations_as_ties` real).
fn direction_model(first: usize, rest: usize) -> Direction {
    const WEIGHTS: [f32; 15] = [
        0.3, 0.7, 0.9, 1.1, 1.25, 1.65, 1.9, 2.1, 2.3, 2.55, 0.1, 0.6, 3.3, 0.45, 1.45,
    ];
    let n = 1 + first + rest;
    let (mut ti, mut tt, mut tw) = (vec![0u32], vec![2u32], vec![1.0f32]);
    for i in 1..n {
        ti.push(i as u32);
        tt.push(if i <= first { 0 } else { 1 });
        tw.push(WEIGHTS[(i - 1) % WEIGHTS.len()]);
    }
    let data = RecData {
        users: key_index(1, 100),
        items: key_index(n, 1000),
        tags: key_index(3, 0),
        r: Csr::from_triplets(1, n, &[0], &[0], &[1.0]).unwrap(),
        t: Csr::from_triplets(n, 3, &ti, &tt, &tw).unwrap(),
    };
    // Tag 0 scores above tag 1, both positive.
    let w = DMatrix::from_column_slice(3, 1, &[0.9, 0.2, 0.5]);
    Direction { data, w }
}

#[test]
fn fidelity_treats_exactly_tied_explanations_as_ties() {
    let opts = ExplainOptions {
        samples: 500,
        ..Default::default()
    };
    // 15 candidates carrying only tag 0 (a Last.fm user's items with one tag): f ties exactly,
    // and so does every surrogate. The explanations per unit of weight, c / w_i, rebuild
    // (c / w_i) · w_i, which for some of these weights is an ulp away from c: the hazard exists.
    let m = direction_model(15, 0);
    let rows: Vec<(u32, u32)> = (1..16).map(|i| (0, i)).collect();
    let per_unit = run(&m, Method::Lime, &rows, 1, &opts);
    let via_division: Vec<f64> = rows
        .iter()
        .zip(&per_unit)
        .map(|(&(_, i), theta)| {
            let (_, weights) = m.data.t.row(i as usize);
            theta[0].1 * weights[0] as f64
        })
        .collect();
    assert!(
        via_division.iter().any(|&g| g != via_division[0]),
        "the weights must make (c / w) · w differ from c somewhere: {via_division:?}"
    );
    // All ĝ tie, so τ_AP,a is the expectation over every order of them: exactly 0 (each term
    // C(i)/(i−1) has expectation ½: 2/14 · 14 · ½ − 1 = 0). Before the fix, the ulp differences
    // made an order, and fidelity was far from 0.
    let got = fidelity(
        &m,
        Device::Cpu,
        Method::Lime,
        &[0],
        1,
        15,
        &opts,
        &PdpCache::default(),
        &no_cancel,
    )
    .unwrap()[0]
        .unwrap();
    assert!(got.abs() < 1e-12, "{got}");

    // Two groups: 8 items with tag 0 (f = 0.9), then 7 with tag 1 (f = 0.2). The reference puts
    // the tag-0 items first (in top-k order, f tying inside the group); ĝ ties inside each group
    // and orders the groups as f does. Expected: the brute-force mean of τ_AP over every order
    // of each ĝ tie group, on the ideal ĝ (one value per group).
    let m = direction_model(8, 7);
    let got = fidelity(
        &m,
        Device::Cpu,
        Method::Lime,
        &[0],
        1,
        15,
        &opts,
        &PdpCache::default(),
        &no_cancel,
    )
    .unwrap()[0]
        .unwrap();
    let reference: Vec<f64> = (0..15).map(|k| (15 - k) as f64).collect();
    let ideal: Vec<f64> = (0..15).map(|k| if k < 8 { 2.0 } else { 1.0 }).collect();
    let want = trustql_udfs::ranking::kernels::naive::tau_ap_a(&reference, &ideal)
        .unwrap()
        .unwrap();
    assert!((got - want).abs() < 1e-12, "{got} vs {want}");
    assert!(want < 1.0 && want > 0.0);
}

#[test]
fn explainers_stop_soon_after_a_cancel_inside_their_loops() {
    // The cancel check errors from its n-th call on: each explainer (and fidelity) must call it
    // inside its work, not only once at the start, and return the error.
    use std::sync::atomic::{AtomicUsize, Ordering};
    let m = linear(23, 8, 40, 10, 5, 4);
    // 2,560 rows: more than one chunk of saliency's backward passes.
    let rows: Vec<(u32, u32)> = (0..8).flat_map(|_| all_rows(&m)).collect();
    for method in [Method::Lime, Method::Pdp, Method::Saliency] {
        for after in [1usize, 2] {
            let calls = AtomicUsize::new(0);
            let stop = || -> datafusion::error::Result<()> {
                if calls.fetch_add(1, Ordering::Relaxed) + 1 >= after {
                    Err(datafusion::error::DataFusionError::Execution(
                        "cancelled by the user".to_string(),
                    ))
                } else {
                    Ok(())
                }
            };
            let opts = ExplainOptions {
                samples: 5000,
                ..Default::default()
            };
            let got = explain(
                &m,
                Device::Cpu,
                method,
                &rows,
                3,
                &opts,
                &PdpCache::default(),
                &stop,
            );
            let err = got.expect_err("a cancelled explainer must stop");
            assert!(err.to_string().contains("cancelled"), "{method:?}: {err}");
            let users: Vec<u32> = (0..8).collect();
            let calls_before = calls.load(Ordering::Relaxed);
            let got = fidelity(
                &m,
                Device::Cpu,
                method,
                &users,
                3,
                20,
                &opts,
                &PdpCache::default(),
                &stop,
            );
            assert!(got.is_err(), "{method:?}: fidelity ran on after a cancel");
            assert!(calls.load(Ordering::Relaxed) > calls_before);
        }
    }
}

#[test]
fn lime_refuses_samples_over_the_memory_limit_before_allocating() {
    // Every item has exactly 4 tags.
    let m = linear_with(24, 4, 10, 10, 3, 4, true);
    let rows = all_rows(&m);
    let opts = ExplainOptions {
        samples: 100_000_000,
        memory_limit: 64 << 20,
        ..Default::default()
    };
    let err = explain(
        &m,
        Device::Cpu,
        Method::Lime,
        &rows,
        3,
        &opts,
        &PdpCache::default(),
        &no_cancel,
    )
    .expect_err("100 million samples do not fit in 64 MiB");
    let msg = err.to_string();
    assert!(
        msg.contains("option 'samples' = 100000000 needs about")
            && msg.contains("limit of 64.0 MiB"),
        "{msg}"
    );
    // By hand: one row at a time (65,536 / 10⁸ rounds up to 1), items of at most 4 tags:
    // 10⁸ · (25·4 + 40) + 10⁸ · (29·4 + 24) = 2.80e10 bytes = 26.1 GiB.
    assert!(msg.contains("26.1 GiB"), "{msg}");
}
