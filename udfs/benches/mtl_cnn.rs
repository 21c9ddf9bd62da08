//! `mtl_cnn` training speed: crops per second of Algorithm 1's iterations for each sharing
//! strategy (SS-R with one 50-way source; MS-SR@FC and MS-CR@2/@4/@6 with three sources: self
//! and two 50-way distributions), at width 1.0 (the thesis' network) and a smaller width.
//!
//! Each iteration is what training does after sampling: a batch of random standardised crops
//! `[b, 2, 216, 128]` (self: `b` pairs, `2b` crops), the drawn source's forward pass with
//! dropout masks from the seeded generator, its loss (KL to a random distribution, or the pair
//! head's cross-entropy), and one Adam step. Sources are taken in turn (self, a, b, ...), so each
//! is measured equally; crops per second count every crop that went through the network (a
//! self pair counts two). One warm-up iteration per source is not timed.
//!
//! Run with `cargo bench -p trustql-udfs --bench mtl_cnn`. On the CPU it runs unless
//! `MTL_BENCH_CPU=0`; with CUDA available it also runs on the GPU. Environment:
//! `MTL_BENCH_BATCH` (default 32 on the CPU, 128 on CUDA), `MTL_BENCH_ITERS` (timed iterations
//! per configuration, default 3 on the CPU, 30 on CUDA), `MTL_BENCH_WIDTH` (the smaller width,
//! default 0.25). Output: a markdown table on stdout.

use std::time::Instant;

use tch::nn::OptimizerConfig;
use tch::{nn, Device, Kind, Tensor};
use trustql_udfs::audio::deep::mtl::{dropout_mask, Arch, Net, Shape, BRANCH_FC};
use trustql_udfs::common::rng::Rng;

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Crops per second of `iters` timed iterations.
fn measure(shape: Shape, device: Device, batch: i64, iters: usize) -> f64 {
    tch::manual_seed(1);
    let mut rng = Rng::new(1);
    let net = Net::new(shape.clone(), device);
    let mut opt = nn::Adam {
        wd: 2e-6,
        ..Default::default()
    }
    .build(&net.vs, 0.00025)
    .expect("optimiser");
    let f = net.shape.feature();
    let m = shape.outputs.len();
    let mut step = |t: usize| -> i64 {
        match shape.outputs[t] {
            None => {
                let x = Tensor::randn([2 * batch, 2, 216, 128], (Kind::Float, device));
                let m1 = dropout_mask(&mut rng, 2 * batch, f, device);
                let m2 = dropout_mask(
                    &mut rng,
                    batch,
                    (128.0 * shape.width).round().max(1.0) as i64,
                    device,
                );
                let y = Tensor::randint(2, [batch], (Kind::Int64, device));
                let loss = net
                    .pair_logits_t(t, &x, true, Some((&m1, &m2)))
                    .cross_entropy_for_logits(&y);
                opt.backward_step(&loss);
                2 * batch
            }
            Some(k) => {
                let x = Tensor::randn([batch, 2, 216, 128], (Kind::Float, device));
                let z = Tensor::rand([batch, k], (Kind::Float, device)).softmax(-1, Kind::Float);
                let mask = dropout_mask(&mut rng, batch, f, device);
                let logp = net
                    .logits_t(t, &x, true, Some(&mask), None)
                    .log_softmax(-1, Kind::Float);
                let loss = (&z * (z.log() - logp))
                    .sum_dim_intlist([1i64].as_slice(), false, Kind::Float)
                    .mean(Kind::Float);
                opt.backward_step(&loss);
                batch
            }
        }
    };
    for t in 0..m {
        step(t);
    }
    if device != Device::Cpu {
        device_sync(device);
    }
    let start = Instant::now();
    let mut crops = 0;
    for i in 0..iters {
        crops += step(i % m);
    }
    if device != Device::Cpu {
        device_sync(device);
    }
    crops as f64 / start.elapsed().as_secs_f64()
}

fn device_sync(device: Device) {
    if let Device::Cuda(i) = device {
        tch::Cuda::synchronize(i as i64);
    }
}

fn main() {
    let widths = [1.0, env_or("MTL_BENCH_WIDTH", 0.25)];
    let three = vec![None, Some(50), Some(50)];
    let configs: Vec<(&str, usize, Vec<Option<i64>>)> = vec![
        ("ss_r (1 source)", BRANCH_FC, vec![Some(50)]),
        ("ms_sr_fc (3)", BRANCH_FC, three.clone()),
        ("ms_cr@2 (3)", 2, three.clone()),
        ("ms_cr@4 (3)", 4, three.clone()),
        ("ms_cr@6 (3)", 6, three),
    ];
    let mut devices = Vec::new();
    if env_or("MTL_BENCH_CPU", 1) != 0 {
        devices.push(Device::Cpu);
    }
    if tch::Cuda::is_available() {
        devices.push(Device::Cuda(0));
    } else {
        eprintln!("CUDA not available: the GPU rows are skipped");
    }
    for device in devices {
        let cpu = device == Device::Cpu;
        let batch = env_or("MTL_BENCH_BATCH", if cpu { 32 } else { 128 });
        let iters = env_or("MTL_BENCH_ITERS", if cpu { 3 } else { 30 });
        println!(
            "\n{device:?}, {} libtorch threads, batch {batch}, {iters} timed iterations\n",
            tch::get_num_threads()
        );
        println!(
            "| strategy | parameters (w=1) | crops/s w={} | crops/s w={} |",
            widths[0], widths[1]
        );
        println!("|---|---:|---:|---:|");
        for (name, branch_at, outputs) in &configs {
            let mut row = Vec::new();
            let mut params = 0;
            for &width in &widths {
                let shape = Shape {
                    arch: Arch::Table23,
                    channels: 2,
                    branch_at: *branch_at,
                    outputs: outputs.clone(),
                    width,
                };
                if width == 1.0 {
                    params = Net::new(shape.clone(), Device::Cpu).parameter_count();
                }
                row.push(measure(shape, device, batch, iters));
            }
            println!("| {name} | {params} | {:.1} | {:.1} |", row[0], row[1]);
        }
    }
}
