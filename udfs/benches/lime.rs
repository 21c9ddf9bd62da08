//! LIME's kernels for one explanation (issue 22, item 6): drawing the 1,000 perturbations of an
//! item's tags, iNN's scores of them (`recsys::inn::scaled_scores`), and the surrogate (centred weighted design, Gram matrix, highest-weights
//! selection and the final ridge fit), at the tag counts of Last.fm items (median 27, largest
//! 329, in bench/explain/lime_run.sh's 200 pairs). The labels are a seeded linear function of
//! the kept tags plus noise, standing in for the model's scores (which `bench/explain`
//! measures through the CLI). Run with `cargo bench --workspace --bench lime`.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use trustql_udfs::common::rng::Rng;
use trustql_udfs::common::thin_gemm::{
    gram_and_xty, gram_and_xty_packed, rows_times, rows_times_packed,
};
use trustql_udfs::explain::kernels::lime::{
    cosine_distances, explain_each_omega_rows, kernel_weights, perturbations, FeatureSelection,
    DEFAULT_KERNEL_WIDTH, SURROGATE_ALPHA,
};
use trustql_udfs::recsys::inn::scaled_scores;

const SAMPLES: usize = 1000;

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("lime");
    group.sample_size(20);
    for d in [8usize, 27, 100, 329] {
        group.bench_with_input(BenchmarkId::new("perturbations", d), &d, |b, &d| {
            let mut rng = Rng::new(42);
            b.iter(|| perturbations(d, SAMPLES, &mut rng).map(|z| z.samples()))
        });
        let mut rng = Rng::new(7);
        let z = perturbations(d, SAMPLES, &mut rng).expect("perturbations");
        let coef: Vec<f64> = (0..d).map(|_| rng.normal()).collect();
        let x = z.to_rows();
        let y: Vec<f64> = x
            .chunks_exact(d)
            .map(|row| row.iter().zip(&coef).map(|(v, c)| v * c).sum::<f64>() + 0.1 * rng.normal())
            .collect();
        let w = kernel_weights(&cosine_distances(&z), DEFAULT_KERNEL_WIDTH).expect("weights");
        // iNN's scores of the perturbations (dim 64): the item's weighted tag factors times
        // each perturbation row, then q · unit(a).
        let factors: Vec<f64> = (0..d * 64).map(|_| rng.normal()).collect();
        let q: Vec<f64> = (0..64).map(|_| rng.normal()).collect();
        group.bench_with_input(BenchmarkId::new("inn_scores_dim64", d), &d, |b, _| {
            b.iter(|| scaled_scores(&factors, &q, &x).map(|s| s.len()))
        });
        // Its product alone, and the surrogate's Gram matrix and X_sᵀ y_s: as dispatched ("in
        // place": read in place on AVX-512 CPUs, elsewhere the same as packed) and packed.
        let mut a = vec![0.0; SAMPLES * 64];
        group.bench_with_input(
            BenchmarkId::new("scores_product_in_place", d),
            &d,
            |b, &d| b.iter(|| rows_times(&x, SAMPLES, d, &factors, 64, &mut a)),
        );
        group.bench_with_input(BenchmarkId::new("scores_product_packed", d), &d, |b, &d| {
            b.iter(|| rows_times_packed(&x, SAMPLES, d, &factors, 64, &mut a))
        });
        let ys: Vec<f64> = y.iter().zip(&w).map(|(v, wk)| v * wk.sqrt()).collect();
        let xs: Vec<f64> = x
            .chunks_exact(d)
            .zip(&w)
            .flat_map(|(row, wk)| row.iter().map(move |v| (v - 0.5) * wk.sqrt()))
            .collect();
        let (mut gram, mut xty) = (vec![0.0; d * d], vec![0.0; d]);
        group.bench_with_input(BenchmarkId::new("gram_in_place", d), &d, |b, &d| {
            b.iter(|| gram_and_xty(&xs, SAMPLES, d, &ys, &mut gram, &mut xty))
        });
        group.bench_with_input(BenchmarkId::new("gram_packed", d), &d, |b, &d| {
            b.iter(|| gram_and_xty_packed(&xs, SAMPLES, d, &ys, &mut gram, &mut xty))
        });
        group.bench_with_input(BenchmarkId::new("surrogate_omega8", d), &d, |b, &d| {
            b.iter(|| {
                explain_each_omega_rows(
                    &x,
                    d,
                    &y,
                    &w,
                    &[8],
                    FeatureSelection::Auto,
                    SURROGATE_ALPHA,
                )
                .map(|e| e.len())
            })
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
