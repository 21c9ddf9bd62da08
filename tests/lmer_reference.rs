//! trustql's `lmer` against real lme4: every fit of `tests/reference/lmm_r.json` (R 4.2.2,
//! lme4 1.1-31, lmerTest 3.1-3, emmeans 1.8.4; made by `scripts/r_references/run.sh`, which the
//! tests never run) is refitted through SQL on the same rows, REML and ML, and its fixed effects,
//! Satterthwaite degrees of freedom, variance components, likelihood and estimated marginal means
//! are compared with R's.
//!
//! Tolerances (relative, with a small absolute floor for values near zero): the criterion is flat
//! near its optimum, so the likelihood agrees far more tightly than θ does. The largest
//! differences measured on 2026-12-05 over the 38 fits (all in crossed/factor_slope, the fit with
//! the flattest criterion): likelihood, AIC, BIC 1.4e-13; fixed effects 1.0e-7; their SEs 1.6e-6;
//! Satterthwaite df 3.7e-6; variances 6.5e-6 (residual 2.6e-7); EMMs 2.6e-9, their SEs 2.2e-6 and
//! df 6.2e-6. The tolerances below are about ten times those. lme4 was run with
//! tightened optimiser tolerances; the remaining differences are trustql's and lme4's stopping
//! points (`scripts/r_references/README.md` shows the same spread between lme4 and the dense
//! reference of `shared/reference/lmm.json`).

mod common;

use std::path::PathBuf;

use datafusion::arrow::array::{Array, ArrayRef, Float64Array, StringArray};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::DataType;
use datafusion::arrow::record_batch::RecordBatch;
use serde_json::Value;
use trustql::{Session, SessionOptions};

/// Likelihood, AIC, BIC and the REML criterion or deviance.
const LIKELIHOOD: f64 = 1e-10;
/// Fixed effects and the estimated marginal means.
const ESTIMATE: f64 = 1e-6;
/// Standard errors, variances and standard deviations of the random effects.
const SPREAD: f64 = 2e-5;
/// Satterthwaite degrees of freedom (a derivative of the criterion's curvature in θ).
const DF: f64 = 5e-5;

/// Differences from R, each named by its fit and quantity.
struct Check<'a> {
    fit: String,
    failures: &'a mut Vec<String>,
}

impl Check<'_> {
    fn close(&mut self, what: &str, ours: f64, theirs: f64, rel: f64, scale: f64) {
        let tol = rel * theirs.abs().max(scale * 1e-3);
        let within = (ours - theirs).abs() <= tol;
        if !within {
            self.failures.push(format!(
                "{} {what}: trustql {ours:.10e}, R {theirs:.10e} (relative difference {:.2e}, tolerance {rel:.0e})",
                self.fit,
                (ours - theirs).abs() / theirs.abs().max(f64::MIN_POSITIVE)
            ));
        }
    }

    fn missing(&mut self, what: &str) {
        self.failures.push(format!("{} {what}", self.fit));
    }
}

fn numbers(v: &Value) -> Vec<f64> {
    v.as_array()
        .map(|a| a.iter().map(|x| x.as_f64().unwrap_or(f64::NAN)).collect())
        .unwrap_or_default()
}

fn texts(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .map(|x| match x {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Column `name` of every batch, cast to `ty`.
fn column(batches: &[RecordBatch], name: &str, ty: &DataType) -> Vec<ArrayRef> {
    batches
        .iter()
        .map(|b| {
            let col = b
                .column_by_name(name)
                .unwrap_or_else(|| panic!("no column {name}"));
            cast(col, ty).unwrap()
        })
        .collect()
}

fn column_f64(batches: &[RecordBatch], name: &str) -> Vec<Option<f64>> {
    column(batches, name, &DataType::Float64)
        .iter()
        .flat_map(|c| {
            let a = c.as_any().downcast_ref::<Float64Array>().unwrap();
            (0..a.len())
                .map(|i| (!a.is_null(i)).then(|| a.value(i)))
                .collect::<Vec<_>>()
        })
        .collect()
}

fn column_text(batches: &[RecordBatch], name: &str) -> Vec<Option<String>> {
    column(batches, name, &DataType::Utf8)
        .iter()
        .flat_map(|c| {
            let a = c.as_any().downcast_ref::<StringArray>().unwrap();
            (0..a.len())
                .map(|i| (!a.is_null(i)).then(|| a.value(i).to_string()))
                .collect::<Vec<_>>()
        })
        .collect()
}

/// The rows R fitted, as a CSV file: the data file, less the rows R dropped (1-based).
fn data_file(data: &Value, tmp: &std::path::Path) -> PathBuf {
    let rel = data["path"].as_str().unwrap();
    let path = match data["location"].as_str() {
        Some("shared") => common::shared().join(rel),
        _ => common::repo().join(rel),
    };
    let dropped: Vec<usize> = data["rows_dropped_1based"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_u64())
                .map(|v| v as usize)
                .collect()
        })
        .unwrap_or_default();
    if dropped.is_empty() {
        return path;
    }
    let text = std::fs::read_to_string(&path).unwrap();
    let mut lines = text.lines();
    let mut kept = vec![lines.next().unwrap().to_string()];
    kept.extend(
        lines
            .enumerate()
            .filter(|(i, _)| !dropped.contains(&(i + 1)))
            .map(|(_, l)| l.to_string()),
    );
    let out = tmp.join(path.file_name().unwrap());
    std::fs::write(&out, kept.join("\n") + "\n").unwrap();
    out
}

/// Fits `label`'s entry `fit` of lmm_r.json by `method` (REML or ML) on `table` and compares.
async fn check_fit(
    s: &Session,
    label: &str,
    table: &str,
    fit: &Value,
    method: &str,
    failures: &mut Vec<String>,
) {
    let formula = fit["formula"].as_str().unwrap();
    let emmeans_factors = texts(&fit["emmeans_factors"]);
    let r = &fit[method];
    let reml = method == "REML";
    let model = format!("{table}_{}", method.to_lowercase());
    s.execute(&format!(
        "CREATE MODEL {model} OPTIONS (type = 'lmer', formula = '{}', reml = {reml}) AS SELECT * FROM {table}",
        formula.replace('\'', "''")
    ))
    .await
    .unwrap_or_else(|e| panic!("{label} {method}: {e}"));
    let mut c = Check {
        fit: format!("{label} {method}"),
        failures,
    };
    let y_scale = r["sigma"].as_f64().unwrap_or(1.0);

    // Fixed effects (lmerTest's summary: Satterthwaite df).
    let fe = s
        .execute(&format!("SELECT * FROM fixed_effects('{model}')"))
        .await
        .unwrap();
    let terms = column_text(&fe, "term");
    let names = texts(&r["fixef"]["names"]);
    assert_eq!(
        terms.iter().flatten().cloned().collect::<Vec<_>>(),
        names,
        "{label} {method}: fixed-effect terms"
    );
    let est = column_f64(&fe, "estimate");
    let se = column_f64(&fe, "std_error");
    let df = column_f64(&fe, "df");
    for (i, name) in names.iter().enumerate() {
        let r_est = numbers(&r["fixef"]["estimate"])[i];
        let r_se = numbers(&r["fixef"]["se"])[i];
        c.close(
            &format!("estimate {name}"),
            est[i].unwrap(),
            r_est,
            ESTIMATE,
            y_scale,
        );
        c.close(&format!("SE {name}"), se[i].unwrap(), r_se, SPREAD, y_scale);
        if reml {
            let r_df = numbers(&r["fixef"]["df_satterthwaite"])[i];
            c.close(&format!("df {name}"), df[i].unwrap(), r_df, DF, 1.0);
        }
    }

    // Likelihood and information criteria.
    let fit = s
        .execute(&format!("SELECT * FROM model_fit('{model}')"))
        .await
        .unwrap();
    let ll = r["logLik"].as_f64().unwrap();
    c.close(
        "logLik",
        column_f64(&fit, "log_likelihood")[0].unwrap(),
        ll,
        LIKELIHOOD,
        1.0,
    );
    c.close(
        "AIC",
        column_f64(&fit, "aic")[0].unwrap(),
        r["AIC"].as_f64().unwrap(),
        LIKELIHOOD,
        1.0,
    );
    c.close(
        "BIC",
        column_f64(&fit, "bic")[0].unwrap(),
        r["BIC"].as_f64().unwrap(),
        LIKELIHOOD,
        1.0,
    );
    let (ours, key) = if reml {
        (column_f64(&fit, "reml_criterion")[0], "REML_criterion")
    } else {
        (column_f64(&fit, "deviance")[0], "deviance")
    };
    c.close(
        key,
        ours.unwrap(),
        r[key].as_f64().unwrap(),
        LIKELIHOOD,
        1.0,
    );

    // Variance components: each of VarCorr's variances, and the residual.
    let vc = s
        .execute(&format!("SELECT * FROM variance_components('{model}')"))
        .await
        .unwrap();
    let groups = column_text(&vc, "group");
    let vterms = column_text(&vc, "term");
    let variances = column_f64(&vc, "variance");
    let variance_of = |g: &str, t: Option<&str>| {
        (0..groups.len())
            .find(|&i| groups[i].as_deref() == Some(g) && vterms[i].as_deref() == t)
            .and_then(|i| variances[i])
    };
    for entry in r["varcorr"].as_array().unwrap() {
        let group = entry["group"].as_str().unwrap();
        let cov = entry["cov"].as_array().unwrap();
        for (j, term) in texts(&entry["terms"]).iter().enumerate() {
            let theirs = numbers(&cov[j])[j];
            match variance_of(group, Some(term)) {
                Some(ours) => c.close(
                    &format!("variance {group} {term}"),
                    ours,
                    theirs,
                    SPREAD,
                    y_scale * y_scale,
                ),
                None => c.missing(&format!("no variance component {group} {term}")),
            }
        }
    }
    match variance_of("Residual", None) {
        Some(ours) => c.close(
            "residual variance",
            ours,
            r["sigma2"].as_f64().unwrap(),
            SPREAD,
            1.0,
        ),
        None => c.missing("no residual variance"),
    }

    // emmeans' joint tests (REML fits): Satterthwaite, then asymptotic on a refit.
    if reml {
        if let Some(jt) = r.get("joint_tests") {
            check_joint_tests(s, &model, &jt["satterthwaite"], true, &mut c).await;
            let asym = format!("{model}_asym");
            s.execute(&format!(
                "CREATE MODEL {asym} OPTIONS (type = 'lmer', formula = '{}', df_method = 'asymptotic') AS SELECT * FROM {table}",
                formula.replace('\'', "''")
            ))
            .await
            .unwrap_or_else(|e| panic!("{label} asymptotic: {e}"));
            check_joint_tests(s, &asym, &jt["asymptotic"], false, &mut c).await;
        }
    }

    // Estimated marginal means (REML fits: emmeans with lmerTest's Satterthwaite df).
    if reml {
        for factor in &emmeans_factors {
            let Some(block) = r["emmeans"].get(factor.as_str()) else {
                continue;
            };
            let sat = &block["satterthwaite"];
            let em = s
                .execute(&format!(
                    "SELECT * FROM emmeans('{model}', '{factor}') ORDER BY emmean"
                ))
                .await
                .unwrap_or_else(|e| panic!("{label} emmeans {factor}: {e}"));
            let ours = column_f64(&em, "emmean");
            let ours_se = column_f64(&em, "std_error");
            let ours_df = column_f64(&em, "df");
            let mut theirs: Vec<(f64, f64, f64)> = numbers(&sat["emmean"])
                .into_iter()
                .zip(numbers(&sat["SE"]))
                .zip(numbers(&sat["df"]))
                .map(|((m, se), df)| (m, se, df))
                .collect();
            theirs.sort_by(|a, b| a.0.total_cmp(&b.0));
            assert_eq!(ours.len(), theirs.len(), "{label}: levels of {factor}");
            for (i, (m, se, df)) in theirs.into_iter().enumerate() {
                c.close(
                    &format!("emmean {factor} #{i}"),
                    ours[i].unwrap(),
                    m,
                    ESTIMATE,
                    y_scale,
                );
                c.close(
                    &format!("emmean SE {factor} #{i}"),
                    ours_se[i].unwrap(),
                    se,
                    SPREAD,
                    y_scale,
                );
                c.close(
                    &format!("emmean df {factor} #{i}"),
                    ours_df[i].unwrap(),
                    df,
                    DF,
                    1.0,
                );
            }
        }
    }
}

/// `joint_tests(model)` against emmeans' `joint_tests` (unrounded): the same terms, df1, and F,
/// df2 (Satterthwaite) and p within tolerance.
async fn check_joint_tests(
    s: &Session,
    model: &str,
    r: &Value,
    satterthwaite: bool,
    c: &mut Check<'_>,
) {
    let jt = s
        .execute(&format!("SELECT * FROM joint_tests('{model}')"))
        .await
        .unwrap_or_else(|e| panic!("{model} joint_tests: {e}"));
    let terms = column_text(&jt, "term");
    let f = column_f64(&jt, "f_ratio");
    let df2 = column_f64(&jt, "df2");
    let p = column_f64(&jt, "p_value");
    let df1 = column_f64(&jt, "df1");
    let theirs = texts(&r["term"]);
    if terms
        .iter()
        .map(|t| t.clone().unwrap_or_default())
        .collect::<Vec<_>>()
        != theirs
    {
        c.missing(&format!("joint_tests terms {terms:?}, R {theirs:?}"));
        return;
    }
    for (i, term) in theirs.iter().enumerate() {
        c.close(
            &format!("joint_tests {term} df1"),
            df1[i].unwrap(),
            numbers(&r["df1"])[i],
            1e-12,
            1.0,
        );
        c.close(
            &format!("joint_tests {term} F"),
            f[i].unwrap(),
            numbers(&r["F_ratio"])[i],
            SPREAD,
            1.0,
        );
        if satterthwaite {
            c.close(
                &format!("joint_tests {term} df2"),
                df2[i].unwrap(),
                numbers(&r["df2"])[i],
                DF,
                1.0,
            );
        } else if df2[i] != Some(f64::INFINITY) {
            c.missing(&format!("joint_tests {term} df2 {:?}, R infinite", df2[i]));
        }
        // p-values: compare logarithms (tiny p-values amplify differences in F); where R's
        // underflows to 0, ours must too.
        let (a, b) = (p[i].unwrap(), numbers(&r["p_value"])[i]);
        if b == 0.0 {
            if a >= 1e-300 {
                c.missing(&format!("joint_tests {term} p {a:e}, R 0"));
            }
        } else {
            c.close(
                &format!("joint_tests {term} log p"),
                a.ln(),
                b.ln(),
                SPREAD,
                1.0,
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lmer_agrees_with_lme4_lmertest_and_emmeans() {
    let reference: Value = serde_json::from_str(
        &std::fs::read_to_string(common::repo().join("tests/reference/lmm_r.json")).unwrap(),
    )
    .unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let s = Session::with_options(SessionOptions {
        model_dir: tmp.path().join("models"),
        progress: None,
        status: None,
    })
    .unwrap();
    let mut failures = Vec::new();
    let mut fits = 0;
    for (dataset, entries) in reference["fits"].as_object().unwrap() {
        for (name, fit) in entries.as_object().unwrap() {
            let table = format!("{}_{name}", dataset.to_lowercase());
            let path = data_file(&fit["data"], tmp.path());
            s.execute(&format!(
                "CREATE EXTERNAL TABLE {table} STORED AS CSV LOCATION '{}' OPTIONS ('format.has_header' 'true')",
                path.display()
            ))
            .await
            .unwrap();
            let rows = s
                .execute(&format!("SELECT count(*) AS n FROM {table}"))
                .await
                .unwrap();
            assert_eq!(
                column_f64(&rows, "n")[0],
                fit["data"]["rows"].as_f64(),
                "{dataset}/{name}: rows"
            );
            for method in ["REML", "ML"] {
                if fit.get(method).is_some() {
                    let label = format!("{dataset}/{name}");
                    check_fit(&s, &label, &table, fit, method, &mut failures).await;
                    fits += 1;
                }
            }
        }
    }
    assert!(fits >= 30, "only {fits} fits in lmm_r.json");
    assert!(
        failures.is_empty(),
        "{} differences from R in {fits} fits:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
