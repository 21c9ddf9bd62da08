//! Checks of the kernel against independent dense computations.

use nalgebra::{DMatrix, DVector};

use super::pls::{theta_factors, CrossProducts};
use super::*;
use crate::common::rng::Rng;

/// A random frame: y, x (numeric), f (3-level text), g1 (`n1` levels), g2 (`n2` levels).
fn random_frame(n: usize, n1: usize, n2: usize, seed: u64) -> Frame {
    let mut rng = Rng::new(seed);
    let g1: Vec<usize> = (0..n).map(|i| i % n1).collect();
    let g2: Vec<usize> = (0..n).map(|_| rng.below(n2 as u64) as usize).collect();
    let a1: Vec<f64> = (0..n1).map(|_| rng.normal()).collect();
    let s1: Vec<f64> = (0..n1).map(|_| 0.5 * rng.normal()).collect();
    let a2: Vec<f64> = (0..n2).map(|_| 0.7 * rng.normal()).collect();
    let x: Vec<f64> = (0..n).map(|_| 2.0 * rng.next_f64()).collect();
    let f: Vec<usize> = (0..n).map(|_| rng.below(3) as usize).collect();
    let y: Vec<f64> = (0..n)
        .map(|i| {
            1.0 + 0.5 * x[i]
                + [0.0, 0.3, -0.4][f[i]]
                + a1[g1[i]]
                + s1[g1[i]] * x[i]
                + a2[g2[i]]
                + 0.6 * rng.normal()
        })
        .collect();
    Frame {
        names: ["y", "x", "f", "g1", "g2"].map(String::from).to_vec(),
        columns: vec![
            Column::Float(y.into_iter().map(Some).collect()),
            Column::Float(x.into_iter().map(Some).collect()),
            Column::Text(
                f.iter()
                    .map(|v| Some(["a", "b", "c"][*v].to_string()))
                    .collect(),
            ),
            Column::Int(g1.iter().map(|v| Some(*v as i64)).collect()),
            Column::Text(g2.iter().map(|v| Some(format!("L{v}"))).collect()),
        ],
    }
}

fn quiet() -> impl FnMut(usize, f64) -> Result<(), LmmError> {
    |_, _| Ok(())
}

fn dense_z(d: &Design) -> DMatrix<f64> {
    let q = d.q();
    let mut z = DMatrix::zeros(d.n, q);
    let mut off = 0;
    for t in &d.terms {
        let k = t.k();
        for i in 0..d.n {
            for j in 0..k {
                z[(i, off + t.index[i] * k + j)] = t.values[i * k + j];
            }
        }
        off += k * t.nlev();
    }
    z
}

fn dense_lambda(d: &Design, theta: &[f64]) -> DMatrix<f64> {
    let k: Vec<usize> = d.terms.iter().map(|t| t.k()).collect();
    let q = d.q();
    let mut l = DMatrix::zeros(q, q);
    let mut off = 0;
    for (t, tm) in d.terms.iter().zip(theta_factors(&k, theta)) {
        let kt = t.k();
        for lev in 0..t.nlev() {
            let s = off + lev * kt;
            l.view_mut((s, s), (kt, kt)).copy_from(&tm);
        }
        off += kt * t.nlev();
    }
    l
}

/// −2 log-likelihood (ML) or −2 restricted log-likelihood (REML) profiled over β and σ,
/// computed from V₀ = ZΛΛᵀZᵀ + I directly.
fn brute_force(d: &Design, theta: &[f64], reml: bool) -> f64 {
    let n = d.n;
    let p = d.p();
    let x = DMatrix::from_column_slice(n, p, &d.x);
    let y = DVector::from_column_slice(&d.y);
    let zl = dense_z(d) * dense_lambda(d, theta);
    let v0 = &zl * zl.transpose() + DMatrix::identity(n, n);
    let ch = v0.clone().cholesky().unwrap();
    let logdet_v = 2.0 * ch.l().diagonal().iter().map(|v| v.ln()).sum::<f64>();
    let vix = ch.solve(&x);
    let viy = ch.solve(&y);
    let xtvx = x.transpose() * &vix;
    let beta = xtvx
        .clone()
        .cholesky()
        .unwrap()
        .solve(&(x.transpose() * &viy));
    let r = &y - &x * &beta;
    let r2 = r.dot(&ch.solve(&r));
    let tau = 2.0 * std::f64::consts::PI;
    if reml {
        let m = (n - p) as f64;
        let logdet_x = xtvx.determinant().ln();
        logdet_v + logdet_x + m * (1.0 + (tau * r2 / m).ln())
    } else {
        let m = n as f64;
        logdet_v + m * (1.0 + (tau * r2 / m).ln())
    }
}

#[test]
fn criterion_equals_dense_likelihood() {
    let mut rng = Rng::new(11);
    for seed in 0..4 {
        let fr = random_frame(60, 6, 4, seed);
        for formula in [
            "y ~ x + f + (1 + x | g1) + (1 | g2)",
            "y ~ x * f + (x || g1) + (1 | g1:g2)",
        ] {
            let fit = fit(formula, &fr, &LmmOptions::default(), &mut quiet()).unwrap();
            let d = &fit.design;
            let cp = CrossProducts::new(d, true);
            for _ in 0..3 {
                let theta: Vec<f64> = (0..d.n_theta()).map(|_| rng.normal()).collect();
                for reml in [true, false] {
                    let a = cp.criterion(&theta, reml);
                    let b = brute_force(d, &theta, reml);
                    assert!(
                        (a - b).abs() < 1e-8 * b.abs(),
                        "{formula} {reml}: {a} vs {b}"
                    );
                }
            }
            // At the optimum, too.
            let b = brute_force(d, &fit.theta, true);
            assert!((fit.criterion - b).abs() < 1e-8 * b.abs());
        }
    }
}

#[test]
fn blocked_path_equals_dense_path() {
    blocked_equals_dense("y ~ x + (1 + x | g1) + (1 | g2)", vec![0.7, -0.2, 0.4, 1.3]);
}

/// The same with a scalar large term (the blocked path's scalar shortcut) crossed with a
/// vector-valued one.
#[test]
fn blocked_path_equals_dense_path_for_a_scalar_term() {
    blocked_equals_dense("y ~ x + (1 | g1) + (1 + x | g2)", vec![0.7, 0.4, -0.2, 1.3]);
}

fn blocked_equals_dense(formula: &str, other_theta: Vec<f64>) {
    let fr = random_frame(900, 150, 7, 3);
    let fit = fit(formula, &fr, &LmmOptions::default(), &mut quiet()).unwrap();
    let d = &fit.design;
    assert!(d.q() > pls::SPLIT_THRESHOLD);
    let dense = CrossProducts::new(d, true);
    let blocked = CrossProducts::new(d, false);
    assert!(blocked.is_blocked() && !dense.is_blocked());
    for theta in [fit.theta.clone(), other_theta] {
        for reml in [true, false] {
            let a = dense.criterion(&theta, reml);
            let b = blocked.criterion(&theta, reml);
            assert!((a - b).abs() < 1e-9 * a.abs(), "{a} vs {b}");
        }
        let sa = dense.solve(&theta).unwrap();
        let sb = blocked.solve(&theta).unwrap();
        assert!((sa.beta.clone() - sb.beta.clone()).amax() < 1e-9);
        let ua = dense.modes(&sa).unwrap();
        let ub = blocked.modes(&sb).unwrap();
        assert!((ua - ub).amax() < 1e-8);
        assert!((sa.unscaled_vcov() - sb.unscaled_vcov()).amax() < 1e-10);
    }
    // The brute-force likelihood agrees with the blocked path too.
    let b = brute_force(d, &fit.theta, true);
    assert!((fit.criterion - b).abs() < 1e-8 * b.abs());
}

#[test]
fn r2_by_hand() {
    let fr = random_frame(80, 8, 5, 5);
    let fit = fit(
        "y ~ x + (1 | g1) + (0 + x | g2)",
        &fr,
        &LmmOptions::default(),
        &mut quiet(),
    )
    .unwrap();
    let d = &fit.design;
    // var_fixed: sample variance of b0 + b1 x.
    let xs: Vec<f64> = (0..d.n).map(|i| d.x_at(i, 1)).collect();
    let fitted: Vec<f64> = xs.iter().map(|x| fit.beta[0] + fit.beta[1] * x).collect();
    let mean = fitted.iter().sum::<f64>() / d.n as f64;
    let vf = fitted.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (d.n - 1) as f64;
    // var_random: σ²θ₁² for the intercept term + σ²θ₂² mean(x²) for the slope term.
    let s2 = fit.sigma * fit.sigma;
    let (g1_first, th_int, th_x) = (d.terms[0].group == "g1", fit.theta[0], fit.theta[1]);
    let (ti, tx) = if g1_first {
        (th_int, th_x)
    } else {
        (th_x, th_int)
    };
    let mx2 = xs.iter().map(|x| x * x).sum::<f64>() / d.n as f64;
    let vr = s2 * ti * ti + s2 * tx * tx * mx2;
    let r2 = fit.r2();
    assert!((r2.var_fixed - vf).abs() < 1e-10 * vf);
    assert!((r2.var_random - vr).abs() < 1e-10 * vr.max(1e-12));
    assert!((r2.marginal - vf / (vf + vr + s2)).abs() < 1e-12);
    assert!((r2.conditional - (vf + vr) / (vf + vr + s2)).abs() < 1e-12);
}

#[test]
fn singular_fit_is_reported() {
    // No group effect at all: y is pure noise, so θ goes to the boundary.
    let mut rng = Rng::new(2);
    let n = 40;
    let fr = Frame {
        names: vec!["y".into(), "g".into()],
        columns: vec![
            Column::Float(
                (0..n)
                    .map(|i| Some(if i % 2 == 0 { 1.0 } else { -1.0 } + 0.01 * rng.normal()))
                    .collect(),
            ),
            Column::Int((0..n).map(|i| Some((i / 2 % 5) as i64)).collect()),
        ],
    };
    let fit = fit("y ~ 1 + (1 | g)", &fr, &LmmOptions::default(), &mut quiet()).unwrap();
    let s = fit.summary();
    assert!(s.singular);
    assert!(fit.theta[0] < 1e-4);
    assert!(s
        .warnings
        .iter()
        .any(|w| w.contains("boundary (singular) fit")));
    assert!(s.converged);
}

#[test]
fn factor_random_terms_and_interactions() {
    let fr = random_frame(120, 6, 4, 9);
    let fit = fit(
        "y ~ f * log(x) + (1 + f | g1)",
        &fr,
        &LmmOptions::default(),
        &mut quiet(),
    )
    .unwrap();
    assert_eq!(fit.design.terms[0].columns, vec!["(Intercept)", "fb", "fc"]);
    assert_eq!(fit.theta.len(), 6);
    let names: Vec<String> = fit.fixed_effects().into_iter().map(|f| f.term).collect();
    assert_eq!(
        names,
        vec![
            "(Intercept)",
            "fb",
            "fc",
            "log(x)",
            "fb:log(x)",
            "fc:log(x)"
        ]
    );
    // EMMs of f at two values of x: one row per (level, value), log applied after.
    let e = fit
        .emmeans("f", &[("x".to_string(), vec![0.5, 1.5])])
        .unwrap();
    assert_eq!(e.means.len(), 6);
    let b = &fit.beta;
    let want = b[0] + b[1] + b[3] * 1.5f64.ln() + b[4] * 1.5f64.ln();
    let row = e
        .means
        .iter()
        .find(|r| r.level == "b" && r.at[0].1 == 1.5)
        .unwrap();
    assert!((row.emmean - want).abs() < 1e-10);
    assert_eq!(e.contrasts.len(), 6);
    let vc = fit.variance_components();
    assert_eq!(vc.len(), 4);
    assert_eq!(vc[0].correlations.len(), 2);
    assert_eq!(fit.random_effects().len(), 6 * 3);
}

/// At scale, through the blocked path with a crossed term: 100,000 rows, 2,000 users crossed with
/// 40 items, drawn with user SD 1 (θ = 1 with unit noise) and slope 0.3, which the fit recovers.
#[test]
fn large_crossed_problem() {
    let n = 100_000;
    let mut rng = Rng::new(4);
    let users: Vec<f64> = (0..2000).map(|_| rng.normal()).collect();
    let items: Vec<f64> = (0..40).map(|_| 0.5 * rng.normal()).collect();
    let mut y = Vec::with_capacity(n);
    let mut x = Vec::with_capacity(n);
    let mut u = Vec::with_capacity(n);
    let mut it = Vec::with_capacity(n);
    for i in 0..n {
        let ui = i % 2000;
        let ii = rng.below(40) as usize;
        let xi = rng.normal();
        y.push(Some(1.0 + 0.3 * xi + users[ui] + items[ii] + rng.normal()));
        x.push(Some(xi));
        u.push(Some(ui as i64));
        it.push(Some(ii as i64));
    }
    let fr = Frame {
        names: ["y", "x", "user", "item"].map(String::from).to_vec(),
        columns: vec![
            Column::Float(y),
            Column::Float(x),
            Column::Int(u),
            Column::Int(it),
        ],
    };
    let fit = fit(
        "y ~ x + (1 | user) + (1 | item)",
        &fr,
        &LmmOptions::default(),
        &mut quiet(),
    )
    .unwrap();
    assert!(fit.converged);
    assert!((fit.theta[0] - 1.0).abs() < 0.1);
    assert!((fit.beta[1] - 0.3).abs() < 0.02);
}

/// The deepest formulas the parser accepts go through every recursive pass (expansion,
/// evaluation, printing, the model file, clone, drop) on a thread with a 1 MiB stack, half of a
/// tokio worker's: the limits in `formula` keep them all within it.
#[test]
fn deepest_accepted_formulas_fit_on_a_small_stack() {
    let fr = random_frame(60, 6, 4, 2);
    let parens = format!(
        "y ~ {}x{} + (1 | g1)",
        "(".repeat(formula::MAX_NESTING),
        ")".repeat(formula::MAX_NESTING)
    );
    // A chain as deep as the tree limit allows, inside one atom: I(x + x + ... + x).
    let chain = format!(
        "y ~ I({}) + (1 | g1)",
        vec!["x"; formula::MAX_TREE_DEPTH - 4].join(" + ")
    );
    let calls = format!(
        "y ~ {}x{} + (1 | g1)",
        "abs(".repeat(formula::MAX_NESTING),
        ")".repeat(formula::MAX_NESTING)
    );
    let minus = format!(
        "y ~ I({}x) + (1 | g1)",
        "- ".repeat(formula::MAX_NESTING - 1)
    );
    for text in [parens, chain, calls, minus] {
        let fr = fr.clone();
        let handle = std::thread::Builder::new()
            .stack_size(1 << 20)
            .spawn(move || {
                let m = fit(&text, &fr, &LmmOptions::default(), &mut quiet()).unwrap();
                let bytes = bincode::serialize(&m).unwrap();
                let back: LmmFit = bincode::deserialize(&bytes).unwrap();
                assert_eq!(back.beta, m.beta);
                let copy = back.clone();
                drop(back);
                assert_eq!(copy.fixed_effects().len(), 2);
            })
            .unwrap();
        handle.join().unwrap();
    }
}

#[test]
fn data_that_cannot_give_estimates_is_refused_by_name() {
    let base = random_frame(60, 6, 4, 4);
    let o = LmmOptions::default();
    let with_y = |y: Vec<f64>| {
        let mut fr = base.clone();
        fr.columns[0] = Column::Float(y.into_iter().map(Some).collect());
        fr
    };
    let err = |fr: &Frame, f: &str, o: &LmmOptions| fit(f, fr, o, &mut quiet()).unwrap_err();
    let formula = "y ~ x + (1 | g1)";
    // Constant.
    let e = err(&with_y(vec![2.5; 60]), formula, &o);
    assert_eq!(
        e.message,
        "the response 'y' is constant (2.5 in all 60 rows used): there is no variation to model"
    );
    // Too large and too small.
    let big: Vec<f64> = (0..60)
        .map(|i| 1e305 * (1.0 + (i % 7) as f64) / 7.0)
        .collect();
    let e = err(&with_y(big), formula, &o);
    assert_eq!(
        e.message,
        "the response 'y' has values too large to fit (max |y| = 1e+305); rescale it"
    );
    let tiny: Vec<f64> = (0..60).map(|i| 1e-200 * (i % 7) as f64).collect();
    let e = err(&with_y(tiny), formula, &o);
    assert!(
        e.message.contains("too small to fit (max |y| = 6e-200)"),
        "{e}"
    );
    // Large but fittable: 1e150 squares to 1e300, inside the range; scaling y scales β.
    let fr = random_frame(60, 6, 4, 4);
    let m1 = fit(formula, &fr, &o, &mut quiet()).unwrap();
    let Column::Float(y) = &fr.columns[0] else {
        panic!("y is a float column")
    };
    let scaled = with_y(y.iter().map(|v| v.unwrap_or(0.0) * 1e140).collect());
    let m2 = fit(formula, &scaled, &o, &mut quiet()).unwrap();
    for (a, b) in m1.beta.iter().zip(&m2.beta) {
        assert!((a * 1e140 - b).abs() <= 1e-6 * b.abs(), "{a} vs {b}");
    }
    // NaN and infinity in the response and in a predictor.
    let mut y: Vec<f64> = (0..60).map(|i| i as f64).collect();
    y[3] = f64::NAN;
    y[9] = f64::INFINITY;
    let e = err(&with_y(y), formula, &o);
    assert!(
        e.message.starts_with(
            "the response 'y' is NaN (1) or infinite (1) in 2 of the 60 rows used; a model needs \
             finite numbers"
        ),
        "{e}"
    );
    let mut fr = base.clone();
    if let Column::Float(x) = &mut fr.columns[1] {
        x[0] = Some(f64::NEG_INFINITY);
    }
    let e = err(&fr, formula, &o);
    assert!(
        e.message
            .starts_with("the predictor 'x' is infinite in 1 of the 60 rows used"),
        "{e}"
    );
    // log of a negative number.
    let e = err(&base, "y ~ log(x - 5) + (1 | g1)", &o);
    assert!(
        e.message
            .starts_with("the predictor 'log(x - 5)' is NaN in"),
        "{e}"
    );
    // NaN as a level of a categorical variable, named or computed.
    let mut fr = base.clone();
    if let Column::Float(x) = &mut fr.columns[1] {
        x[5] = Some(f64::NAN);
    }
    let factors = LmmOptions {
        factors: vec!["x".into()],
        ..LmmOptions::default()
    };
    let e = err(&fr, formula, &factors);
    assert!(
        e.message
            .starts_with("the categorical variable 'x' is NaN in 1 of the rows used"),
        "{e}"
    );
    let e = err(&fr, "y ~ factor(x * 2) + (1 | g1)", &o);
    assert!(e.message.contains("'x * 2' is NaN"), "{e}");
    // An option naming an absent column.
    let absent = LmmOptions {
        factors: vec!["g1".into(), "nope".into()],
        ..LmmOptions::default()
    };
    let e = err(&base, formula, &absent);
    assert_eq!(
        e.message,
        "option 'factors' names column 'nope', which the data (the AS query) does not have; \
         its columns are: y, x, f, g1, g2"
    );
    // A response the fixed effects reproduce exactly.
    let Column::Float(x) = &base.columns[1] else {
        panic!("x is a float column")
    };
    let exact = with_y(x.iter().map(|v| 3.0 * v.unwrap_or(0.0) - 1.0).collect());
    let e = err(&exact, formula, &o);
    assert!(
        e.message
            .starts_with("the fixed effects reproduce the response 'y' exactly (relative residual"),
        "{e}"
    );
}

#[test]
fn designs_over_the_memory_limit_are_refused_before_allocating() {
    let fr = random_frame(60, 6, 4, 4);
    let limited = |bytes: u64| LmmOptions {
        memory_limit: Some(bytes),
        ..LmmOptions::default()
    };
    // 60 rows × 4 columns (intercept, x, fb, fc) of 8 bytes, three copies: 5,760 bytes.
    assert!(fit("y ~ x + f + (1 | g1)", &fr, &limited(6_000), &mut quiet()).is_ok());
    let e = fit("y ~ x + f + (1 | g1)", &fr, &limited(5_000), &mut quiet()).unwrap_err();
    assert!(
        e.message.starts_with(
            "the fixed-effect model matrix (60 rows × 4 columns) needs about 0.00 GiB of memory, \
             over the session's limit"
        ),
        "{e}"
    );
    // Two crossed factors of 1,500 levels: the second forms a dense 1500 × 1500 block
    // (4 copies of 18 MB).
    let n = 3000;
    let crossed = Frame {
        names: ["y", "a", "b"].map(String::from).to_vec(),
        columns: vec![
            Column::Float((0..n).map(|i| Some(((i * 7919) % 101) as f64)).collect()),
            Column::Int((0..n).map(|i| Some((i % 1500) as i64)).collect()),
            Column::Int((0..n).map(|i| Some((i / 2) as i64)).collect()),
        ],
    };
    let e = fit(
        "y ~ 1 + (1 | a) + (1 | b)",
        &crossed,
        &limited(50_000_000),
        &mut quiet(),
    )
    .unwrap_err();
    assert!(
        e.message.starts_with(
            "the random effects (3000 of them, a dense block of 1500 × 1500) needs about"
        ),
        "{e}"
    );
}
