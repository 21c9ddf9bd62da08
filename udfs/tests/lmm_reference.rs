//! Checks every linear-mixed-model fit in `reference/lmm.json` against `trustql_udfs::stats::lmm`.
//!
//! Tolerances: fixed effects, θ, σ, log-likelihood, REML criterion / deviance, AIC, BIC: 1e-6
//! relative; standard errors and variance components: 1e-5 relative; θ 1e-5 relative plus an
//! optimality check; correlations 2e-5 absolute; EMMs and their SEs 1e-6,
//! Satterthwaite df 1e-3 relative (finite-difference derivatives), Satterthwaite limits 1e-4.

use std::path::PathBuf;

use serde_json::Value;
use trustql_udfs::stats::lmm::{self, Column, DfMethod, Frame, LmmFit, LmmOptions};

fn shared() -> PathBuf {
    let here = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    for base in [
        here.join("../shared"),
        here.join("../../shared"),
        PathBuf::from("/work/shared"),
    ] {
        if base.join("reference/lmm.json").exists() {
            return base;
        }
    }
    panic!("shared/reference/lmm.json not found");
}

fn reference() -> Value {
    let text = std::fs::read_to_string(shared().join("reference/lmm.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

/// A tiny CSV reader: no quoting; empty = NULL; integer, float or text columns by content.
fn read_csv(name: &str) -> Frame {
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
    let columns = (0..names.len())
        .map(|j| {
            let cells: Vec<&str> = rows.iter().map(|r| r[j].as_str()).collect();
            let present: Vec<&&str> = cells
                .iter()
                .filter(|c| !c.is_empty() && **c != "NA")
                .collect();
            let null = |c: &str| c.is_empty() || c == "NA";
            if present.iter().all(|c| c.parse::<i64>().is_ok()) {
                Column::Int(
                    cells
                        .iter()
                        .map(|c| if null(c) { None } else { c.parse().ok() })
                        .collect(),
                )
            } else if present.iter().all(|c| c.parse::<f64>().is_ok()) {
                Column::Float(
                    cells
                        .iter()
                        .map(|c| if null(c) { None } else { c.parse().ok() })
                        .collect(),
                )
            } else {
                Column::Text(
                    cells
                        .iter()
                        .map(|c| if null(c) { None } else { Some(c.to_string()) })
                        .collect(),
                )
            }
        })
        .collect();
    Frame { names, columns }
}

fn subset(frame: &Frame, keep: impl Fn(usize) -> bool) -> Frame {
    let columns = frame
        .columns
        .iter()
        .map(|c| match c {
            Column::Int(v) => Column::Int(
                v.iter()
                    .enumerate()
                    .filter(|(i, _)| keep(*i))
                    .map(|(_, x)| *x)
                    .collect(),
            ),
            Column::Float(v) => Column::Float(
                v.iter()
                    .enumerate()
                    .filter(|(i, _)| keep(*i))
                    .map(|(_, x)| *x)
                    .collect(),
            ),
            Column::Text(v) => Column::Text(
                v.iter()
                    .enumerate()
                    .filter(|(i, _)| keep(*i))
                    .map(|(_, x)| x.clone())
                    .collect(),
            ),
            Column::Bool(v) => Column::Bool(
                v.iter()
                    .enumerate()
                    .filter(|(i, _)| keep(*i))
                    .map(|(_, x)| *x)
                    .collect(),
            ),
        })
        .collect();
    Frame {
        names: frame.names.clone(),
        columns,
    }
}

fn fit(formula: &str, frame: &Frame, reml: bool) -> LmmFit {
    let options = LmmOptions {
        reml,
        ..LmmOptions::default()
    };
    lmm::fit(formula, frame, &options, &mut |_, _| Ok(())).unwrap()
}

fn close(what: &str, got: f64, want: f64, rel: f64) {
    let scale = want.abs().max(1e-300);
    assert!(
        (got - want).abs() <= rel * scale,
        "{what}: got {got:.12e}, want {want:.12e} (rel err {:.2e} > {rel:.0e})",
        (got - want).abs() / scale
    );
}

fn f(v: &Value) -> f64 {
    v.as_f64().unwrap()
}

/// Compares a fit with a `pls.REML` / `pls.ML` entry; `groups` maps reference group names to ours.
fn check(label: &str, fit: &LmmFit, r: &Value, groups: &[(&str, &str)]) {
    let reml = r["reml"].as_bool().unwrap();
    assert_eq!(fit.reml, reml);
    let s = fit.summary();
    assert_eq!(s.n as u64, r["n"].as_u64().unwrap(), "{label} n");
    assert_eq!(s.p as u64, r["p"].as_u64().unwrap(), "{label} p");
    assert_eq!(
        s.n_theta as u64,
        r["ntheta"].as_u64().unwrap(),
        "{label} ntheta"
    );
    let fe = fit.fixed_effects();
    let fixef = r["fixef"].as_object().unwrap();
    assert_eq!(fe.len(), fixef.len());
    for (row, (name, want)) in fe.iter().zip(fixef) {
        assert_eq!(&row.term, name, "{label} fixed-effect names");
        close(
            &format!("{label} fixef {name}"),
            row.estimate,
            f(want),
            1e-6,
        );
        close(
            &format!("{label} se {name}"),
            row.std_error,
            f(&r["se"][name]),
            1e-5,
        );
    }
    let theta = r["theta"].as_array().unwrap();
    assert_eq!(fit.theta().len(), theta.len());
    // θ: the criterion is very flat along some directions (a change of 1e-5 in θ moves it by
    // ~1e-11 relative), so the reference θ is itself only determined to about that precision
    // (lme4's published sleepstudy θ differs from it by 9e-6). We require 1e-5 relative agreement
    // (relative to the largest θ for tiny off-diagonals) and that our θ is at least as good as the
    // reference θ when both are evaluated with the same accurate criterion.
    let tmax = theta.iter().map(|t| f(t).abs()).fold(0.0, f64::max);
    for (i, (got, want)) in fit.theta().iter().zip(theta).enumerate() {
        assert!(
            (got - f(want)).abs() <= 1e-5 * f(want).abs().max(0.1 * tmax),
            "{label} theta[{i}]: got {got}, want {}",
            f(want)
        );
    }
    let ref_theta: Vec<f64> = theta.iter().map(f).collect();
    let at_ref = fit.criterion_at(&ref_theta);
    let ours = fit.criterion_at(fit.theta());
    assert!(
        ours <= at_ref + 1e-12 * at_ref.abs(),
        "{label}: criterion {ours} > {at_ref} at the reference θ"
    );
    close(&format!("{label} sigma"), fit.sigma(), f(&r["sigma"]), 1e-6);
    close(
        &format!("{label} logLik"),
        s.log_likelihood,
        f(&r["logLik"]),
        1e-6,
    );
    close(&format!("{label} AIC"), s.aic, f(&r["AIC"]), 1e-6);
    close(&format!("{label} BIC"), s.bic, f(&r["BIC"]), 1e-6);
    if reml {
        close(
            &format!("{label} REML"),
            s.reml_criterion.unwrap(),
            f(&r["REML_criterion"]),
            1e-6,
        );
        assert!(s.deviance.is_none());
    } else {
        close(
            &format!("{label} deviance"),
            s.deviance.unwrap(),
            f(&r["deviance"]),
            1e-6,
        );
        assert!(s.reml_criterion.is_none());
    }
    let vcov = fit.vcov();
    for (i, row) in r["vcov"].as_array().unwrap().iter().enumerate() {
        for (j, want) in row.as_array().unwrap().iter().enumerate() {
            let scale = (vcov[(i, i)] * vcov[(j, j)]).sqrt();
            assert!(
                (vcov[(i, j)] - f(want)).abs() <= 1e-5 * scale,
                "{label} vcov[{i},{j}]"
            );
        }
    }
    // Variance components.
    let vc = fit.variance_components();
    for (ref_group, ours) in groups {
        let entry = &r["varcorr"][*ref_group];
        let cols = entry["columns"].as_array().unwrap();
        for (a, col) in cols.iter().enumerate() {
            let col = col.as_str().unwrap();
            let row = vc
                .iter()
                .find(|v| v.group == *ours && v.term.as_deref() == Some(col))
                .unwrap_or_else(|| panic!("{label}: no component {ours} {col}"));
            close(
                &format!("{label} var {ours} {col}"),
                row.variance,
                f(&entry["cov"][a][a]),
                1e-5,
            );
            close(
                &format!("{label} sd {ours} {col}"),
                row.sd,
                f(&entry["sd"][a]),
                1e-5,
            );
            if entry["cov_type"] == "full" {
                for (b, other) in cols.iter().enumerate() {
                    if a == b {
                        continue;
                    }
                    let c = row
                        .correlations
                        .iter()
                        .find(|(n, _)| n == other.as_str().unwrap())
                        .unwrap();
                    // Correlations inherit θ's flat-direction uncertainty: 2e-5 absolute.
                    let want = f(&entry["corr"][a][b]);
                    assert!(
                        (c.1 - want).abs() <= 2e-5,
                        "{label} corr: got {}, want {want}",
                        c.1
                    );
                }
            }
        }
    }
    let resid = vc.last().unwrap();
    assert_eq!(resid.group, "Residual");
    close(
        &format!("{label} residual var"),
        resid.variance,
        f(&r["sigma2"]),
        1e-6,
    );
    assert!(s.converged, "{label} converged");
}

fn check_both(label: &str, formula: &str, frame: &Frame, entry: &Value, groups: &[(&str, &str)]) {
    for (key, reml) in [("REML", true), ("ML", false)] {
        if entry.get(key).is_some() {
            let m = fit(formula, frame, reml);
            check(&format!("{label} {key}"), &m, &entry[key], groups);
        }
    }
}

#[test]
fn sleepstudy() {
    let r = reference();
    let d = read_csv("sleepstudy.csv");
    let s = &r["sleepstudy"];
    check_both(
        "sleep corr",
        "Reaction ~ Days + (Days | Subject)",
        &d,
        &s["corr_slope"]["pls"],
        &[("Subject", "Subject")],
    );
    check_both(
        "sleep uncorr",
        "Reaction ~ Days + (Days || Subject)",
        &d,
        &s["uncorr_slope"]["pls"],
        &[("Subject", "Subject")],
    );
    check_both(
        "sleep intercept",
        "Reaction ~ Days + (1 | Subject)",
        &d,
        &s["intercept"]["pls"],
        &[("Subject", "Subject")],
    );
    // Nakagawa R² (REML fits).
    for (key, formula) in [
        ("corr_slope", "Reaction ~ Days + (Days | Subject)"),
        ("uncorr_slope", "Reaction ~ Days + (Days || Subject)"),
    ] {
        let m = fit(formula, &d, true);
        let want = &s[key]["r2_nakagawa_pls_REML"];
        let r2 = m.r2();
        close("var_fixed", r2.var_fixed, f(&want["var_fixed"]), 1e-6);
        close("var_random", r2.var_random, f(&want["var_random"]), 1e-6);
        close(
            "var_residual",
            r2.var_residual,
            f(&want["var_residual"]),
            1e-6,
        );
        close("R2 marginal", r2.marginal, f(&want["R2_marginal"]), 1e-6);
        close(
            "R2 conditional",
            r2.conditional,
            f(&want["R2_conditional"]),
            1e-6,
        );
        let sm = m.summary();
        close("summary R2m", sm.r2_marginal, f(&want["R2_marginal"]), 1e-6);
        close(
            "summary R2c",
            sm.r2_conditional,
            f(&want["R2_conditional"]),
            1e-6,
        );
    }
}

#[test]
fn dyestuff_and_penicillin() {
    let r = reference();
    check_both(
        "Dyestuff",
        "Yield ~ 1 + (1 | Batch)",
        &read_csv("Dyestuff.csv"),
        &r["Dyestuff"]["pls"],
        &[("Batch", "Batch")],
    );
    check_both(
        "Penicillin",
        "diameter ~ 1 + (1 | plate) + (1 | sample)",
        &read_csv("Penicillin.csv"),
        &r["Penicillin"]["pls"],
        &[("plate", "plate"), ("sample", "sample")],
    );
}

#[test]
fn pastes_nested() {
    let r = reference();
    let d = read_csv("Pastes.csv");
    let p = &r["Pastes"];
    // The reference names the nested factor batch:cask; lme4 (and we) call it cask:batch.
    check_both(
        "Pastes",
        "strength ~ 1 + (1 | batch/cask)",
        &d,
        &p["pls"],
        &[("batch:cask", "cask:batch"), ("batch", "batch")],
    );
    let m = fit("strength ~ 1 + (1 | batch/cask)", &d, true);
    let groups: Vec<&str> = m.design.terms.iter().map(|t| t.group.as_str()).collect();
    assert_eq!(groups, vec!["cask:batch", "batch"]);
    let wrong = &p["pls_wrong_crossed_(1|batch)+(1|cask)"];
    let m = fit("strength ~ 1 + (1 | batch) + (1 | cask)", &d, true);
    check(
        "Pastes crossed",
        &m,
        wrong,
        &[("batch", "batch"), ("cask", "cask")],
    );
}

#[test]
fn dietox() {
    let r = reference();
    let d = read_csv("dietox.csv");
    check_both(
        "dietox intercept",
        "Weight ~ Time + (1 | Pig)",
        &d,
        &r["dietox"]["intercept"]["pls"],
        &[("Pig", "Pig")],
    );
    check_both(
        "dietox slope",
        "Weight ~ Time + (1 + Time | Pig)",
        &d,
        &r["dietox"]["slope"]["pls"],
        &[("Pig", "Pig")],
    );
}

fn oats() -> Frame {
    let d = read_csv("Oats.csv");
    let drop = [1usize, 2, 3, 5, 8, 13, 21, 34, 55];
    subset(&d, |i| !drop.contains(&(i + 1)))
}

#[test]
fn oats_and_emmeans() {
    let r = reference();
    let d = oats();
    let formula = "yield ~ Variety + factor(nitro) + (1 | Block/Variety)";
    check_both(
        "Oats",
        formula,
        &d,
        &r["Oats"]["pls"],
        &[("Variety:Block", "Variety:Block"), ("Block", "Block")],
    );
    let want = r["Oats"]["emmeans_nitro_pls"].as_array().unwrap();
    // Satterthwaite (default).
    let m = fit(formula, &d, true);
    let e = m.emmeans("nitro", &[]).unwrap();
    assert_eq!(e.means.len(), 4);
    for (row, w) in e.means.iter().zip(want) {
        assert_eq!(
            row.level,
            trustql_udfs::stats::lmm::formula::r_number(f(&w["nitro"]))
        );
        close("emmean", row.emmean, f(&w["emmean"]), 1e-6);
        close("emm SE", row.se, f(&w["SE"]), 1e-6);
        close("emm satt df", row.df, f(&w["satt_df"]), 1e-3);
        close("emm satt LCL", row.lower, f(&w["satt_LCL"]), 1e-4);
        close("emm satt UCL", row.upper, f(&w["satt_UCL"]), 1e-4);
    }
    assert_eq!(e.contrasts.len(), 6);
    assert_eq!(e.contrasts[0].contrast, "0 - 0.2");
    close(
        "contrast",
        e.contrasts[0].estimate,
        f(&want[0]["emmean"]) - f(&want[1]["emmean"]),
        1e-6,
    );
    assert_eq!(e.adjustment, "holm");
    // Same via the atom label.
    let e2 = m.emmeans("factor(nitro)", &[]).unwrap();
    assert_eq!(e2.means, e.means);
    // Asymptotic.
    let options = LmmOptions {
        df_method: DfMethod::Asymptotic,
        ..LmmOptions::default()
    };
    let m = lmm::fit(formula, &d, &options, &mut |_, _| Ok(())).unwrap();
    let e = m.emmeans("nitro", &[]).unwrap();
    for (row, w) in e.means.iter().zip(want) {
        assert!(row.df.is_infinite());
        close("asymp LCL", row.lower, f(&w["asymp_LCL"]), 1e-6);
        close("asymp UCL", row.upper, f(&w["asymp_UCL"]), 1e-6);
    }
    let fe = m.fixed_effects();
    assert!(fe.iter().all(|r| r.df.is_infinite()));
}

#[test]
fn pastes_bootstrap() {
    let r = reference();
    let d = read_csv("Pastes.csv");
    let m = fit("strength ~ 1 + (1 | batch/cask)", &d, true);
    let nsim = 200;
    let mut calls = 0;
    let b = m
        .bootstrap(nsim, 1, &mut |done, total| {
            calls += 1;
            assert_eq!(total, nsim);
            assert_eq!(done, calls);
            Ok(())
        })
        .unwrap();
    let want = &r["Pastes"]["pls_parametric_bootstrap_REML_nsim500_seed1_perc95"];
    let names: Vec<&str> = b.iter().map(|x| x.parameter.as_str()).collect();
    assert_eq!(
        names,
        vec![
            "(Intercept)",
            "sd_(Intercept)|cask:batch",
            "sd_(Intercept)|batch",
            "sigma"
        ]
    );
    let pairs = [
        ("(Intercept)", "(Intercept)"),
        ("sd_(Intercept)|cask:batch", "sd_batch:cask_(Intercept)"),
        ("sd_(Intercept)|batch", "sd_batch_(Intercept)"),
        ("sigma", "sigma"),
    ];
    for (ours, theirs) in pairs {
        let got = b.iter().find(|x| x.parameter == ours).unwrap();
        assert!(
            got.replicates >= nsim - 5,
            "{ours} replicates {}",
            got.replicates
        );
        let w = want[theirs].as_array().unwrap();
        let (lo, hi) = (f(&w[0]), f(&w[1]));
        // Monte Carlo: compare limits within 15 % of the interval width.
        let width = hi - lo;
        assert!(
            (got.lower - lo).abs() <= 0.15 * width,
            "{ours} lower {} vs {lo}",
            got.lower
        );
        assert!(
            (got.upper - hi).abs() <= 0.15 * width,
            "{ours} upper {} vs {hi}",
            got.upper
        );
        assert!(got.lower <= got.estimate && got.estimate <= got.upper);
    }
    // Same seed, same result; cancellation stops the run.
    let a1 = m.bootstrap(10, 7, &mut |_, _| Ok(())).unwrap();
    let a2 = m.bootstrap(10, 7, &mut |_, _| Ok(())).unwrap();
    assert_eq!(a1, a2);
    let a3 = m.bootstrap(10, 8, &mut |_, _| Ok(())).unwrap();
    assert_ne!(a1, a3);
    let stop = m.bootstrap(10, 7, &mut |done, _| {
        if done == 3 {
            Err(lmm::LmmError::new("cancelled"))
        } else {
            Ok(())
        }
    });
    assert_eq!(stop.unwrap_err().message, "cancelled");
}

#[test]
fn errors_and_warnings() {
    let d = read_csv("sleepstudy.csv");
    let o = LmmOptions::default();
    let mut ok = |_: usize, _: f64| Ok(());
    let e = lmm::fit("Reaction ~ Days + (Days | Subject))", &d, &o, &mut ok).unwrap_err();
    assert_eq!(e.position, Some(34));
    let shown = e.to_string();
    assert!(shown.contains("unexpected ')' at position 34"), "{shown}");
    // The caret sits under the offending character.
    let lines: Vec<&str> = shown.lines().collect();
    let caret = lines[2].find('^').unwrap();
    assert_eq!(&lines[1][caret..caret + 1], ")");
    assert!(shown.lines().last().unwrap().trim_start().starts_with('^'));
    let e = lmm::fit("Reaction ~ Dayz + (1 | Subject)", &d, &o, &mut ok).unwrap_err();
    assert!(
        e.message.contains("Dayz") && e.message.contains("Reaction, Days, Subject"),
        "{e}"
    );
    let e = lmm::fit("Subject2 ~ Days + (1 | Subject)", &d, &o, &mut ok).unwrap_err();
    assert!(e.message.contains("Subject2"));
    // One-level grouping factor.
    let one = subset(&d, |i| i < 10);
    let e = lmm::fit("Reaction ~ Days + (1 | Subject)", &one, &o, &mut ok).unwrap_err();
    assert!(e.message.contains("single level"), "{e}");
    // Rank-deficient X: a copy of Days.
    let mut d2 = d.clone();
    d2.names.push("Days2".into());
    if let Column::Int(v) = &d.columns[1] {
        d2.columns.push(Column::Float(
            v.iter().map(|x| x.map(|x| 2.0 * x as f64)).collect(),
        ));
    }
    let m = lmm::fit("Reaction ~ Days + Days2 + (1 | Subject)", &d2, &o, &mut ok).unwrap();
    assert_eq!(m.beta().len(), 2);
    assert!(m
        .summary()
        .warnings
        .iter()
        .any(|w| w.contains("rank deficient so dropping 1 column")));
    // Cancellation through control.
    let e = lmm::fit("Reaction ~ Days + (Days | Subject)", &d, &o, &mut |n, _| {
        if n > 5 {
            Err(lmm::LmmError::new("stop"))
        } else {
            Ok(())
        }
    })
    .unwrap_err();
    assert_eq!(e.message, "stop");
    // Budget exhaustion: not converged, with a warning.
    let o2 = LmmOptions {
        max_evaluations: 8,
        ..LmmOptions::default()
    };
    let m = lmm::fit("Reaction ~ Days + (Days | Subject)", &d, &o2, &mut ok).unwrap();
    assert!(!m.summary().converged);
    assert!(m
        .summary()
        .warnings
        .iter()
        .any(|w| w.contains("maximum number of function evaluations")));
    // NULLs are dropped and counted.
    let mut d3 = d.clone();
    if let Column::Float(v) = &mut d3.columns[0] {
        v[0] = None;
        v[5] = None;
    }
    let m = lmm::fit("Reaction ~ Days + (1 | Subject)", &d3, &o, &mut ok).unwrap();
    assert_eq!(m.summary().rows_dropped, 2);
    assert_eq!(m.summary().n, 178);
}
