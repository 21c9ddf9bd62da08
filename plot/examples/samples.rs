//! Writes sample figures (SVG and PNG) of every plot kind to
//! `/tmp/plot-samples/` (or the directory given as the first argument), so
//! that their look can be checked by eye.

use std::error::Error;
use std::fs;
use std::path::Path;

use trustql_plot::{layout, Column, Kind, PlotSpec, Table};

/// Small deterministic generator (64-bit LCG) for reproducible sample data.
struct Lcg(u64);

impl Lcg {
    fn unit(&mut self) -> f64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Approximately standard normal (sum of 12 uniforms).
    fn normal(&mut self) -> f64 {
        (0..12).map(|_| self.unit()).sum::<f64>() - 6.0
    }
}

fn num(v: Vec<f64>) -> Column {
    Column::Num(v.into_iter().map(Some).collect())
}

fn text(v: Vec<&str>) -> Column {
    Column::Text(v.into_iter().map(|s| Some(s.to_string())).collect())
}

fn table(cols: Vec<(&str, Column)>) -> Result<Table, Box<dyn Error>> {
    let mut t = Table::new();
    for (name, col) in cols {
        t.push(name, col)?;
    }
    Ok(t)
}

const ENGINES: [&str; 3] = ["trustql", "duckdb", "polars"];

fn scatter_facets(rng: &mut Lcg) -> Result<(Table, PlotSpec), Box<dyn Error>> {
    let (mut x, mut y, mut e, mut d, mut th) = (vec![], vec![], vec![], vec![], vec![]);
    for dataset in ["lastfm", "movielens"] {
        for threads in [1.0f64, 4.0, 16.0] {
            for (k, engine) in ENGINES.iter().enumerate() {
                for _ in 0..25 {
                    let size = 1.0 + rng.unit() * 99.0;
                    x.push(size);
                    y.push(
                        5.0 + size * (1.0 + k as f64 * 0.6) / threads.sqrt() + rng.normal() * 6.0,
                    );
                    e.push(*engine);
                    d.push(dataset);
                    th.push(threads);
                }
            }
        }
    }
    let t = table(vec![
        ("rows_millions", num(x)),
        ("time_ms", num(y)),
        ("engine", text(e)),
        ("dataset", text(d)),
        ("threads", num(th)),
    ])?;
    let mut s = PlotSpec::new(Kind::Scatter, "rows_millions", "time_ms");
    s.color = Some("engine".into());
    s.facet_row = Some("dataset".into());
    s.facet_col = Some("threads".into());
    s.fit = true;
    s.title = Some("Query time by input size".into());
    s.x_label = Some("rows (millions)".into());
    s.y_label = Some("time (ms)".into());
    Ok((t, s))
}

fn line(rng: &mut Lcg) -> Result<(Table, PlotSpec), Box<dyn Error>> {
    let (mut x, mut y, mut e) = (vec![], vec![], vec![]);
    for (k, engine) in ENGINES.iter().enumerate() {
        for threads in [1.0f64, 2.0, 4.0, 8.0, 16.0, 32.0] {
            x.push(threads);
            y.push(1.2e6 * threads.powf(0.8 - k as f64 * 0.15) * (1.0 + rng.normal() * 0.03));
            e.push(*engine);
        }
    }
    let t = table(vec![
        ("threads", num(x)),
        ("rows_per_s", num(y)),
        ("engine", text(e)),
    ])?;
    let mut s = PlotSpec::new(Kind::Line, "threads", "rows_per_s");
    s.color = Some("engine".into());
    s.title = Some("Scan throughput".into());
    Ok((t, s))
}

fn boxes(rng: &mut Lcg) -> Result<(Table, PlotSpec), Box<dyn Error>> {
    let (mut q, mut y, mut e) = (vec![], vec![], vec![]);
    for (i, query) in ["Q1", "Q3", "Q6", "Q9", "Q13", "Q18"].iter().enumerate() {
        for engine in ["trustql", "duckdb"] {
            for _ in 0..30 {
                q.push(*query);
                let base = 20.0 + i as f64 * 8.0 + if engine == "duckdb" { 6.0 } else { 0.0 };
                let spike = if rng.unit() < 0.05 { 40.0 } else { 0.0 };
                y.push(base + rng.normal() * 4.0 + spike);
                e.push(engine);
            }
        }
    }
    let t = table(vec![
        ("query", text(q)),
        ("latency_ms", num(y)),
        ("engine", text(e)),
    ])?;
    let mut s = PlotSpec::new(Kind::Box, "query", "latency_ms");
    s.color = Some("engine".into());
    s.title = Some("Latency per TPC-H query (30 runs)".into());
    Ok((t, s))
}

fn bars(rng: &mut Lcg) -> Result<(Table, PlotSpec), Box<dyn Error>> {
    let (mut d, mut y, mut e) = (vec![], vec![], vec![]);
    for dataset in ["lastfm", "movielens", "taxi", "tpch-sf10"] {
        for (k, engine) in ENGINES.iter().enumerate() {
            for _ in 0..5 {
                d.push(dataset);
                y.push(1.0 + k as f64 * 0.7 + rng.unit());
                e.push(*engine);
            }
        }
    }
    let t = table(vec![
        ("dataset", text(d)),
        ("speedup", num(y)),
        ("engine", text(e)),
    ])?;
    let mut s = PlotSpec::new(Kind::Bar, "dataset", "speedup");
    s.color = Some("engine".into());
    s.y_label = Some("mean speedup over baseline".into());
    Ok((t, s))
}

fn errorbars(rng: &mut Lcg) -> Result<(Table, PlotSpec), Box<dyn Error>> {
    let (mut m, mut y, mut lo, mut hi, mut d) = (vec![], vec![], vec![], vec![], vec![]);
    for method in ["ALS", "BPR", "ItemKNN", "EASE", "SLIM"] {
        for dataset in ["lastfm", "movielens", "netflix"] {
            let v = 0.2 + rng.unit() * 0.2;
            let w = 0.01 + rng.unit() * 0.03;
            m.push(method);
            y.push(v);
            lo.push(v - w);
            hi.push(v + w);
            d.push(dataset);
        }
    }
    let t = table(vec![
        ("method", text(m)),
        ("ndcg@10", num(y)),
        ("ci_low", num(lo)),
        ("ci_high", num(hi)),
        ("dataset", text(d)),
    ])?;
    let mut s = PlotSpec::new(Kind::ErrorBar, "method", "ndcg@10");
    s.lower = Some("ci_low".into());
    s.upper = Some("ci_high".into());
    s.color = Some("dataset".into());
    s.title = Some("NDCG@10 with 95% confidence intervals".into());
    Ok((t, s))
}

fn log_axes(rng: &mut Lcg) -> Result<(Table, PlotSpec), Box<dyn Error>> {
    let (mut x, mut y, mut g) = (vec![], vec![], vec![]);
    for (k, algo) in ["hash join", "sort-merge join"].iter().enumerate() {
        for _ in 0..60 {
            let n = 10f64.powf(2.0 + rng.unit() * 5.0);
            x.push(Some(n));
            y.push(Some(
                n.powf(1.0 + k as f64 * 0.15) * 1e-3 * (1.0 + rng.normal() * 0.2).abs(),
            ));
            g.push(Some(algo.to_string()));
        }
    }
    x.push(Some(0.0)); // skipped: not positive on a log axis
    y.push(Some(1.0));
    g.push(Some("hash join".into()));
    let mut t = Table::new();
    t.push("input_rows", Column::Num(x))?;
    t.push("time_ms", Column::Num(y))?;
    t.push("algorithm", Column::Text(g))?;
    let mut s = PlotSpec::new(Kind::Scatter, "input_rows", "time_ms");
    s.color = Some("algorithm".into());
    s.log_x = true;
    s.log_y = true;
    s.fit = true;
    s.title = Some("Join time (log-log, power-law fit)".into());
    Ok((t, s))
}

fn stress(rng: &mut Lcg) -> Result<(Table, PlotSpec), Box<dyn Error>> {
    let names = [
        "select_with_window_functions",
        "hash_aggregate",
        "sort_limit",
        "nested_loop_join_large",
        "parquet_scan",
        "regex_filter",
        "distinct_count",
        "union_all",
        "cte_recursive",
        "json_extract",
        "string_agg",
        "top_k_heap",
    ];
    let (mut q, mut y, mut g, mut f) = (vec![], vec![], vec![], vec![]);
    for (i, name) in names.iter().enumerate() {
        for machine in ["laptop", "server"] {
            for _ in 0..3 {
                q.push(*name);
                y.push(
                    10f64.powf(i as f64 * 0.3 + rng.unit())
                        * if machine == "server" { 0.3 } else { 1.0 },
                );
                g.push(format!("build {}", i % 10));
                f.push(machine);
            }
        }
    }
    let g: Vec<&str> = g.iter().map(String::as_str).collect();
    let t = table(vec![
        ("benchmark", text(q)),
        ("seconds", num(y)),
        ("build", text(g)),
        ("machine", text(f)),
    ])?;
    let mut s = PlotSpec::new(Kind::Bar, "benchmark", "seconds");
    s.color = Some("build".into());
    s.facet_row = Some("machine".into());
    s.log_y = true;
    s.title = Some("Stress: long categories, 10 colour groups, log bars, row facets only".into());
    Ok((t, s))
}

fn free_scales(rng: &mut Lcg) -> Result<(Table, PlotSpec), Box<dyn Error>> {
    // Transformations whose magnitudes live on very different scales.
    let transforms: [(&str, f64, f64); 5] = [
        ("gaussian noise (sigma)", 0.001, 0.05),
        ("rotation (deg)", 0.0, 180.0),
        ("scaling (factor)", 0.25, 4.0),
        ("translation (px)", 0.0, 2500.0),
        ("jpeg quality", 5.0, 95.0),
    ];
    let encoders = ["ResNet-50", "ViT-B/16", "CLIP", "DINOv2", "ConvNeXt"];
    let (mut x, mut y, mut t, mut e) = (vec![], vec![], vec![], vec![]);
    for (name, lo, hi) in transforms {
        for (k, encoder) in encoders.iter().enumerate() {
            let robustness = 0.4 + k as f64 * 0.12;
            for _ in 0..14 {
                // Strength of the transformation relative to its range.
                let strength = rng.unit();
                let m = lo + strength * (hi - lo);
                let c = 1.0 - strength * (1.0 - robustness) + rng.normal() * 0.03;
                x.push(m);
                y.push(c.clamp(0.0, 1.0));
                t.push(name);
                e.push(*encoder);
            }
        }
    }
    let tbl = table(vec![
        ("magnitude", num(x)),
        ("consistency", num(y)),
        ("transformation", text(t)),
        ("encoder", text(e)),
    ])?;
    let mut s = PlotSpec::new(Kind::Scatter, "magnitude", "consistency");
    s.color = Some("encoder".into());
    s.facet_col = Some("transformation".into());
    s.free_x = true;
    s.fit = true;
    s.width = Some(1500);
    s.title = Some("Embedding consistency under transformations (free x scales)".into());
    Ok((tbl, s))
}

type Sample = fn(&mut Lcg) -> Result<(Table, PlotSpec), Box<dyn Error>>;

fn main() -> Result<(), Box<dyn Error>> {
    let dir = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "/tmp/plot-samples".to_string());
    fs::create_dir_all(&dir)?;
    let samples: [(&str, Sample); 8] = [
        ("scatter_facets", scatter_facets),
        ("line", line),
        ("box", boxes),
        ("bar", bars),
        ("errorbar", errorbars),
        ("log", log_axes),
        ("stress", stress),
        ("free_scales", free_scales),
    ];
    let mut rng = Lcg(42);
    for (name, make) in samples {
        let (t, spec) = make(&mut rng)?;
        let fig = layout(&t, &spec)?;
        let base = Path::new(&dir).join(name);
        fs::write(base.with_extension("svg"), fig.to_svg())?;
        fs::write(base.with_extension("png"), fig.to_png()?)?;
        let (w, h) = fig.size();
        println!(
            "{name}: {w}x{h}, grid {:?}, skipped {:?}",
            fig.grid(),
            fig.skipped()
        );
    }
    Ok(())
}
