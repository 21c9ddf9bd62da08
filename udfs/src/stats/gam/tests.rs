//! The GAM kernel against real mgcv 1.8-41 (`tests/reference/gam_r.json`, made by
//! `scripts/r_references/gam_references.R`), plus independent checks of the optimum.

use super::*;
use serde_json::Value;

fn reference() -> Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/reference/gam_r.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// A CSV of the reference data (numbers become floats, anything else text).
fn csv_frame(name: &str) -> Frame {
    let path = format!(
        "{}/../tests/reference/data/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(path).unwrap();
    let mut lines = text.lines();
    let names: Vec<String> = lines
        .next()
        .unwrap()
        .split(',')
        .map(str::to_string)
        .collect();
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();
    let columns = (0..names.len())
        .map(|j| {
            let vals: Vec<&str> = rows.iter().map(|r| r[j]).collect();
            if vals.iter().all(|v| v.parse::<f64>().is_ok()) {
                crate::stats::lmm::Column::Float(vals.iter().map(|v| v.parse().ok()).collect())
            } else {
                crate::stats::lmm::Column::Text(vals.iter().map(|v| Some(v.to_string())).collect())
            }
        })
        .collect();
    Frame { names, columns }
}

/// The numbers of a JSON array, flattening nested arrays (R's 1-column matrices).
fn nums(v: &Value) -> Vec<f64> {
    let mut out = Vec::new();
    for x in v.as_array().unwrap() {
        match x.as_f64() {
            Some(f) => out.push(f),
            None => out.extend(nums(x)),
        }
    }
    out
}

fn matrix(v: &Value) -> Vec<Vec<f64>> {
    v.as_array().unwrap().iter().map(nums).collect()
}

/// Largest |a − b| / (|b| + floor · max|b|).
fn rel_diff(a: &[f64], b: &[f64], floor: f64) -> f64 {
    assert_eq!(a.len(), b.len());
    let m = b.iter().fold(0.0_f64, |m, v| m.max(v.abs()));
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs() / (y.abs() + floor * m))
        .fold(0.0, f64::max)
}

fn r_formula(f: &str) -> String {
    f.replace('"', "'")
}

fn fit_reference(id: &str) -> (GamFit, Value) {
    let r = reference();
    let spec = r["fits"][id].clone();
    let data = spec["data"]["path"]
        .as_str()
        .unwrap()
        .rsplit('/')
        .next()
        .unwrap()
        .to_string();
    let frame = csv_frame(&data);
    let method = match spec["method"].as_str().unwrap() {
        "REML" => Method::Reml,
        _ => Method::Gcv,
    };
    let opts = GamOptions {
        method,
        ..GamOptions::default()
    };
    let fit = fit_gam(
        &r_formula(spec["formula"].as_str().unwrap()),
        &frame,
        &opts,
        &mut |_, _| Ok(()),
    )
    .unwrap();
    (fit, spec)
}

/// Compares a fit with mgcv's: coefficients, fitted values, scale, R², SEs within `coef_tol`
/// (relative), smoothing parameters, edf, the smooth table and Vp within `sp_tol`, the REML/GCV
/// score within `score_tol`, and never worse than mgcv's (our optimum is at least as good).
fn check(id: &str, coef_tol: f64, sp_tol: f64, score_tol: f64) {
    let (fit, r) = fit_reference(id);
    assert!(fit.converged, "{id}: not converged");
    let names: Vec<String> = r["coefficients"]["names"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect();
    assert_eq!(fit.coef_names, names, "{id}: coefficient names");
    let d_coef = rel_diff(&fit.beta, &nums(&r["coefficients"]["values"]), 1e-3);
    let fitted_ref = if r["fitted"].is_array() {
        nums(&r["fitted"])
    } else {
        nums(&r["fitted_first_200"])
    };
    let d_fit = rel_diff(&fit.fitted[..fitted_ref.len()], &fitted_ref, 1e-3);
    // Smoothing parameters where the criterion has a clear minimum: a smooth penalised to a
    // straight line (mgcv's sp above 1e4) sits on a flat criterion, where mgcv stops at its
    // tolerance; there both must be large.
    let sp_ref = nums(&r["sp"]["values"]);
    let tight: Vec<usize> = (0..sp_ref.len()).filter(|&j| sp_ref[j] < 1e4).collect();
    for j in (0..sp_ref.len()).filter(|j| !tight.contains(j)) {
        assert!(
            fit.sp[j] > 1e3,
            "{id}: sp {j} = {} (mgcv {})",
            fit.sp[j],
            sp_ref[j]
        );
    }
    let d_sp = rel_diff(
        &tight.iter().map(|&j| fit.sp[j]).collect::<Vec<_>>(),
        &tight.iter().map(|&j| sp_ref[j]).collect::<Vec<_>>(),
        0.0,
    );
    let d_edf = fit
        .edf
        .iter()
        .zip(nums(&r["edf_per_coef"]))
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f64::max);
    let d_score = rel_diff(&[fit.score], &[r["gcv_ubre"].as_f64().unwrap()], 0.0);
    // gam_r.json's `scale` of GCV fits is `TRUE` (mgcv's flag); `sig2` holds the estimate.
    let d_scale = rel_diff(&[fit.scale], &[r["sig2"].as_f64().unwrap()], 0.0);
    let d_rsq = rel_diff(&[fit.r_squared_adj], &[r["r_sq"].as_f64().unwrap()], 0.0);
    let d_dev = rel_diff(
        &[fit.deviance_explained()],
        &[r["dev_expl"].as_f64().unwrap()],
        0.0,
    );
    let par = fit.parametric();
    let pt = &r["parametric"];
    let d_se = rel_diff(
        &par.iter().map(|p| p.std_error).collect::<Vec<_>>(),
        &nums(&pt["Std. Error"]),
        0.0,
    );
    let d_p = rel_diff(
        &par.iter().map(|p| p.p_value).collect::<Vec<_>>(),
        &nums(&pt["Pr(>|t|)"]),
        1e-12,
    );
    let st = &r["smooth_table"];
    let d_sedf = rel_diff(
        &fit.smooth_table.iter().map(|s| s.edf).collect::<Vec<_>>(),
        &nums(&st["edf"]),
        0.0,
    );
    let d_refdf = rel_diff(
        &fit.smooth_table
            .iter()
            .map(|s| s.ref_df)
            .collect::<Vec<_>>(),
        &nums(&st["Ref.df"]),
        0.0,
    );
    let d_f = rel_diff(
        &fit.smooth_table.iter().map(|s| s.f).collect::<Vec<_>>(),
        &nums(&st["F"]),
        0.0,
    );
    let mut d_vp = 0.0;
    if r["Vp"].is_array() {
        let vp = matrix(&r["Vp"]);
        let flat: Vec<f64> = vp.iter().flatten().copied().collect();
        d_vp = rel_diff(&fit.vp, &flat, 1e-2);
    }
    println!(
        "{id}: coef {d_coef:.1e} fitted {d_fit:.1e} sp {d_sp:.1e} edf {d_edf:.1e} score \
         {d_score:.1e} scale {d_scale:.1e} r2 {d_rsq:.1e} dev {d_dev:.1e} se {d_se:.1e} p \
         {d_p:.1e} s.edf {d_sedf:.1e} ref_df {d_refdf:.1e} F {d_f:.1e} Vp {d_vp:.1e} ({} \
         iterations; score ours - mgcv {:.3e}; sp {:?})",
        fit.iterations,
        fit.score - r["gcv_ubre"].as_f64().unwrap(),
        fit.sp
    );
    assert!(d_coef < coef_tol, "{id}: coefficients {d_coef}");
    assert!(d_fit < coef_tol, "{id}: fitted {d_fit}");
    assert!(d_sp < sp_tol, "{id}: sp {d_sp}");
    assert!(d_edf < sp_tol, "{id}: edf {d_edf}");
    assert!(d_score < score_tol, "{id}: score {d_score}");
    let mgcv_score = r["gcv_ubre"].as_f64().unwrap();
    assert!(
        fit.score <= mgcv_score + 2e-8 * mgcv_score.abs(),
        "{id}: worse optimum than mgcv"
    );
    assert!(d_scale < coef_tol, "{id}: scale {d_scale}");
    assert!(
        d_rsq < coef_tol && d_dev < coef_tol,
        "{id}: r2 {d_rsq} dev {d_dev}"
    );
    assert!(
        d_se < coef_tol && d_p < 1e-4 + coef_tol,
        "{id}: se {d_se} p {d_p}"
    );
    assert!(
        d_sedf < sp_tol && d_refdf < sp_tol && d_f < sp_tol,
        "{id}: smooth table"
    );
    assert!(d_vp < sp_tol, "{id}: Vp {d_vp}");
}

#[test]
fn cr_basis_matches_mgcv_exactly() {
    let r = reference();
    let f = &r["fits"]["small_cr_k5_reml"];
    let sm = &f["smooths"][0];
    let frame = csv_frame("gam_small_cr.csv");
    let crate::stats::lmm::Column::Float(x) = frame.column("x").unwrap() else {
        panic!()
    };
    let x: Vec<f64> = x.iter().map(|v| v.unwrap()).collect();
    let knots = basis::place_knots(&basis::unique_sorted(&x), 5).unwrap();
    assert!(rel_diff(&knots, &nums(&sm["knots"]), 0.0) < 1e-15);
    let (cr, s) = CrBasis::new(knots).unwrap();
    // mgcv's F as stored is our row-major F.
    let f_ref = nums(&sm["cr_F"]);
    let ours = cr.f.clone();
    assert!(rel_diff(&ours, &f_ref, 1e-6) < 1e-12);
    let xr = cr.matrix(&x);
    let ux = matrix(&f["basis"]["unconstrained_X"]);
    let mut dx: f64 = 0.0;
    for i in 0..50 {
        for j in 0..5 {
            dx = dx.max((xr[(i, j)] - ux[i][j]).abs());
        }
    }
    assert!(dx < 1e-14, "unconstrained X {dx}");
    let scale = basis::penalty_scale(&s, &xr);
    assert!((scale / sm["S_scale"][0].as_f64().unwrap() - 1.0).abs() < 1e-13);
    let c = basis::col_means(&xr);
    assert!(rel_diff(&c, &nums(&sm["constraint_C"]), 0.0) < 1e-13);
    let z = basis::constraint_z(&c).unwrap();
    let zr = matrix(&sm["constraint_Z"]);
    let lp = matrix(&f["basis"]["lpmatrix"]);
    let xz = &xr * &z;
    let pen = z.transpose() * (&s / scale) * &z;
    let pr = matrix(&f["basis"]["penalty_S"]);
    let mut d: f64 = 0.0;
    for i in 0..5 {
        for j in 0..4 {
            d = d.max((z[(i, j)] - zr[i][j]).abs());
        }
    }
    for i in 0..50 {
        assert_eq!(lp[i][0], 1.0);
        for j in 0..4 {
            d = d.max((xz[(i, j)] - lp[i][j + 1]).abs());
        }
    }
    let pmax = pr.iter().flatten().fold(0.0_f64, |m, v| m.max(v.abs()));
    for i in 0..4 {
        for j in 0..4 {
            d = d.max((pen[(i, j)] - pr[i][j]).abs() / pmax);
        }
    }
    assert!(d < 1e-10, "Z, lpmatrix, penalty: {d}");
}

#[test]
fn small_cr_reml() {
    check("small_cr_k5_reml", 1e-6, 1e-3, 1e-12);
}

#[test]
/// s(x3) is nearly linear (flat criterion): our REML score is lower than mgcv's by 3.2e-4.
fn gamsim_cr_k5_reml() {
    check("gamsim_cr_k5_reml", 3e-3, 5e-2, 1e-6);
}

/// s(x3) is penalised to a straight line (mgcv's sp 1.4e7): the criterion is flat there and
/// mgcv stops early; our optimum is lower by 2.6e-4, so the coefficients differ by up to 1.8e-3
/// (relative, floor 1e-3 of the largest) and the fitted values by 2e-5.
#[test]
fn gamsim_cr_k10_reml() {
    check("gamsim_cr_k10_reml", 3e-3, 5e-2, 1e-6);
}

#[test]
fn gamsim_cr_gcv() {
    check("gamsim_cr_k10_gcv", 1e-4, 1e-3, 1e-8);
}

#[test]
fn factor_by_cr_reml() {
    check("factor_by_cr_reml", 1e-6, 1e-3, 1e-12);
}

#[test]
/// Two of the 25 smooths are nearly linear (mgcv's sp 1.8e5 and 4.6e3): flat criterion, mgcv
/// stops early; our REML score is lower by 9.7e-4.
fn consistency_cr_reml() {
    check("consistency_cr_k6_reml", 2e-3, 5e-2, 1e-6);
}

#[test]
fn benchmark_cr_reml() {
    // Our REML score is lower than mgcv's by 1.4e-6 (mgcv's tolerance): sp agree to 1e-3.
    check("benchmark_cr_reml", 3e-4, 2e-3, 1e-8);
}

/// The REML optimum is a minimum of the criterion: no point of a grid around it is lower, and
/// the fit at fixed λ equals a dense ridge solve.
#[test]
fn optimum_against_a_grid_and_a_ridge_solve() {
    let (fit, _) = fit_reference("small_cr_k5_reml");
    let frame = csv_frame("gam_small_cr.csv");
    let (crate::stats::lmm::Column::Float(x), crate::stats::lmm::Column::Float(y)) =
        (frame.column("x").unwrap(), frame.column("y").unwrap())
    else {
        panic!()
    };
    let x: Vec<f64> = x.iter().map(|v| v.unwrap()).collect();
    let y = DVector::from_iterator(50, y.iter().map(|v| v.unwrap()));
    let sm = &fit.smooths[0];
    let z = DMatrix::from_row_slice(5, 4, &sm.z);
    let xz = sm.basis.matrix(&x) * &z;
    let mut xm = DMatrix::from_element(50, 5, 1.0);
    xm.columns_mut(1, 4).copy_from(&xz);
    let s = DMatrix::from_row_slice(4, 4, &sm.s);
    let pens = [fit::Penalty::new(1, s.clone(), 3)];
    let best = fit.sp[0].ln();
    for i in -50..=50 {
        let rho = best + i as f64 * 0.02;
        let (v, _) = fit::criterion(&xm, &y, &pens, Method::Reml, &[rho]).unwrap();
        assert!(
            v >= fit.score - 1e-12,
            "grid point {rho} lower: {v} < {}",
            fit.score
        );
    }
    // Ridge solve at the optimum: [X; √λ L] β ≈ [y; 0] by QR, with S = LLᵀ.
    let l = s.clone().cholesky().map(|c| c.l()).unwrap_or_else(|| {
        let e = s.clone().symmetric_eigen();
        &e.eigenvectors * DMatrix::from_diagonal(&e.eigenvalues.map(|v| v.max(0.0).sqrt()))
    });
    let mut aug = DMatrix::zeros(54, 5);
    aug.view_mut((0, 0), (50, 5)).copy_from(&xm);
    let lt = l.transpose() * fit.sp[0].sqrt();
    aug.view_mut((50, 1), (4, 4)).copy_from(&lt);
    let mut rhs = DVector::zeros(54);
    rhs.rows_mut(0, 50).copy_from(&y);
    let beta = aug.svd(true, true).solve(&rhs, 1e-14).unwrap();
    let d = rel_diff(&fit.beta, beta.as_slice(), 1e-3);
    assert!(d < 1e-9, "ridge {d}");
}

#[test]
fn errors() {
    let frame = csv_frame("gam_factor_by.csv");
    let run = |f: &str| fit_gam(f, &frame, &GamOptions::default(), &mut |_, _| Ok(())).unwrap_err();
    let e = run("y ~ s(x, k = 1, bs = 'cr')");
    assert_eq!(e.position, Some(9));
    let e = run("y ~ s(x)");
    assert!(e.message.contains("thin plate basis"), "{e}");
    let e = run("y ~ s(fac, bs = 'cr')");
    assert!(e.message.contains("categorical"), "{e}");
    let e = run("y ~ s(nope, bs = 'cr')");
    assert!(e.message.contains("unknown column 'nope'"), "{e}");
    let small = Frame {
        names: vec!["y".into(), "x".into()],
        columns: vec![
            crate::stats::lmm::Column::Float((0..20).map(|i| Some(i as f64)).collect()),
            crate::stats::lmm::Column::Float((0..20).map(|i| Some((i % 4) as f64)).collect()),
        ],
    };
    let e = fit_gam(
        "y ~ s(x, bs = 'cr')",
        &small,
        &GamOptions::default(),
        &mut |_, _| Ok(()),
    )
    .unwrap_err();
    assert!(
        e.message
            .contains("4 unique values, fewer than the basis dimension k = 10"),
        "{e}"
    );
    let nulls = Frame {
        names: vec!["y".into(), "x".into()],
        columns: vec![
            crate::stats::lmm::Column::Float((0..20).map(|i| Some(i as f64)).collect()),
            crate::stats::lmm::Column::Float(vec![None; 20]),
        ],
    };
    let e = fit_gam(
        "y ~ s(x, bs = 'cr')",
        &nulls,
        &GamOptions::default(),
        &mut |_, _| Ok(()),
    )
    .unwrap_err();
    assert!(e.message.contains("no rows without NULLs"), "{e}");
}
