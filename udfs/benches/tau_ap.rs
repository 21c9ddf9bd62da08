//! τ_AP,a: the O(n log n) kernel against the O(n²) method, n = 10³ … 10⁶.
//!
//! Inputs are seeded: a reference list without ties and an estimate with ties (values rounded to
//! a grid of n/10 levels), the situation of explanation fidelity. The O(n²) method runs up to
//! n = 10⁴ (at 10⁵ one call takes minutes). Run with `cargo bench -p trustql-udfs --bench tau_ap`.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use trustql_udfs::ranking::kernels::{naive, tau_ap_a};

/// splitmix64, so the benchmark needs no random-number crate and is the same on every run.
fn uniform(seed: &mut u64) -> f64 {
    *seed = seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *seed;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    ((z ^ (z >> 31)) >> 11) as f64 / (1u64 << 53) as f64
}

fn inputs(n: usize) -> (Vec<f64>, Vec<f64>) {
    let mut seed = 42;
    // A permutation of 0..n as the reference: no ties.
    let mut x: Vec<f64> = (0..n).map(|i| i as f64).collect();
    for i in (1..n).rev() {
        let j = (uniform(&mut seed) * (i + 1) as f64) as usize;
        x.swap(i, j.min(i));
    }
    let levels = (n / 10).max(2) as f64;
    let y = x
        .iter()
        .map(|v| ((v / n as f64 + 0.3 * uniform(&mut seed)) * levels).floor())
        .collect();
    (x, y)
}

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("tau_ap_a");
    group.sample_size(10);
    for n in [1_000usize, 10_000, 100_000, 1_000_000] {
        let (x, y) = inputs(n);
        group.throughput(Throughput::Elements(n as u64));
        group.bench_with_input(BenchmarkId::new("n_log_n", n), &n, |b, _| {
            b.iter(|| tau_ap_a(&x, &y))
        });
        if n <= 10_000 {
            group.bench_with_input(BenchmarkId::new("quadratic", n), &n, |b, _| {
                b.iter(|| naive::tau_ap_a_quadratic(&x, &y))
            });
        }
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
