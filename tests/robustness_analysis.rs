//! Thesis ch. 4's GAM analysis scripts (`sql/experiments/robustness_responses.sql`,
//! `robustness_gam.sql`) on experiment results with a planted structure: distances in which each
//! encoder keeps a transformed clip nearer its own original by a known margin (MFCC most, then AT,
//! IR, VS, AE), and task performance that pink noise lowers. The analysis must recover the
//! encoders' order in its EMMs, find the task effect in the joint tests, find pink noise the
//! worst transformation for performance, and write every table and figure. The results are made
//! here, in SQL, with deterministic noise; no encoder is trained.

mod common;

use common::{cli as trustql, cli_rows as rows, num};

/// Deterministic noise in [0, 1) from the md5 of a text expression.
fn noise(expr: &str) -> String {
    format!(
        "(((ascii(substr(md5({expr}), 1, 1)) * 31 + ascii(substr(md5({expr}), 2, 1)) * 7 \
         + ascii(substr(md5({expr}), 3, 1))) % 1000) / 1000.0)"
    )
}

#[test]
fn analysis_recovers_planted_encoder_order_and_writes_everything() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let out = dir.join("out");
    std::fs::create_dir_all(out.join("figures")).unwrap();
    let d = dir.to_str().unwrap();
    let o = out.to_str().unwrap();

    // Every other magnitude of each transformation (48 of the 94 settings), to keep the test short.
    let transformations = "CREATE EXTERNAL TABLE all_transformations (transform VARCHAR, magnitude DOUBLE) \
         STORED AS CSV LOCATION 'sql/experiments/transformations.csv' OPTIONS ('format.has_header' 'true'); \
         CREATE VIEW transformations AS SELECT transform, magnitude FROM (SELECT *, row_number() \
         OVER (PARTITION BY transform ORDER BY magnitude) AS i FROM all_transformations) WHERE i % 2 = 1";
    let key = "concat(e.encoder, t.transform, CAST(t.magnitude AS VARCHAR), p.c, c.c)";
    trustql(
        dir,
        &[
            "-c",
            transformations,
            "-c",
            &format!(
                "COPY (SELECT e.encoder, t.transform, t.magnitude, p.c AS point, p.c AS original, \
                 c.c AS candidate, \
                 1 + {n1} - CASE WHEN p.c = c.c THEN 0.3 ELSE 0 END AS dtw, \
                 1 + {n2} - CASE WHEN p.c = c.c THEN 0.2 ELSE 0 END AS simple, \
                 1 + {n3} - CASE WHEN p.c = c.c THEN e.margin ELSE 0 END AS euclidean, \
                 1 + {n4} - CASE WHEN p.c = c.c THEN 0.8 * e.margin ELSE 0 END AS cosine \
                 FROM (VALUES ('MFCC', 0.8), ('AT', 0.6), ('IR', 0.5), ('VS', 0.4), ('AE', 0.3)) AS e(encoder, margin) \
                 CROSS JOIN transformations t \
                 CROSS JOIN (SELECT concat('clip', CAST(i AS VARCHAR)) AS c FROM generate_series(10, 33) g(i)) p \
                 CROSS JOIN (SELECT concat('clip', CAST(i AS VARCHAR)) AS c FROM generate_series(10, 33) g(i)) c) \
                 TO '{d}/deep_distances.parquet' STORED AS PARQUET",
                n1 = noise(&format!("concat('a', {key})")),
                n2 = noise(&format!("concat('b', {key})")),
                n3 = noise(&format!("concat('c', {key})")),
                n4 = noise(&format!("concat('d', {key})")),
            ),
        ],
    );
    // Performance: each task's measure around its own level, one unit lower under pink noise.
    let pkey = "concat(k.task, b.bwv, t.transform, CAST(t.magnitude AS VARCHAR))";
    trustql(
        dir,
        &[
            "-c",
            transformations,
            "-c",
            &format!(
                "COPY (SELECT k.task, k.measure, b.bwv, t.transform, t.magnitude, \
                 k.level + {n} - CASE WHEN t.transform = 'PN' THEN 1.0 ELSE 0.0 END \
                   * CASE WHEN k.task = 'AE' THEN -1.0 ELSE 1.0 END AS value \
                 FROM (VALUES ('AE', 'MSE', 1.0), ('AT', 'AUC', 0.7), ('IR', 'accuracy', 0.5), \
                   ('VS', 'SDR (dB)', 5.0), ('VS', 'SI-SDR (dB)', 4.0)) AS k(task, measure, level) \
                 CROSS JOIN (VALUES ('bwv1'), ('bwv2'), ('bwv3'), ('bwv4')) AS b(bwv) \
                 CROSS JOIN transformations t) TO '{d}/deep_performance.parquet' STORED AS PARQUET",
                n = noise(pkey),
            ),
        ],
    );

    trustql(
        dir,
        &[
            "-v",
            &format!("results={d}"),
            "-v",
            &format!("out={o}"),
            "-f",
            "sql/experiments/robustness_responses.sql",
        ],
    );
    let counts = rows(
        dir,
        &format!(
            "SELECT measure, count(*), count(DISTINCT trial), min(m01), max(m01) \
             FROM '{o}/responses.csv' GROUP BY measure ORDER BY measure"
        ),
    );
    assert_eq!(counts.len(), 11, "{counts:?}");
    for r in &counts {
        // 48 settings × 5 encoders × 4 trials, or × 4 tasks for performance.
        let expected = if r[0] == "performance" { "768" } else { "960" };
        assert_eq!((r[1].as_str(), r[2].as_str()), (expected, "4"), "{r:?}");
        assert_eq!((num(&r[3]), num(&r[4])), (0.0, 1.0), "{r:?}");
    }

    trustql(
        dir,
        &[
            "-v",
            &format!("out={o}"),
            "-f",
            "sql/experiments/robustness_gam.sql",
        ],
    );
    // Every model fitted: 11 main models and 8 sensitivity variants.
    let fits = rows(dir, &format!("SELECT count(*) FROM '{o}/gam_fits.parquet'"));
    assert_eq!(fits[0][0], "19");
    // The planted margins order the C^W EMMs (Euclidean and cosine).
    for measure in ["cw_euclidean", "cw_cosine"] {
        let order: Vec<String> = rows(
            dir,
            &format!(
                "SELECT level FROM '{o}/gam_emmeans.parquet' WHERE measure = '{measure}' \
                 AND variant = 'tp k10 REML' ORDER BY emmean DESC"
            ),
        )
        .into_iter()
        .map(|r| r[0].clone())
        .collect();
        assert_eq!(order, ["MFCC", "AT", "IR", "VS", "AE"], "{measure}");
    }
    // The joint tests find the task effect; every variant agrees on the order of the EMMs.
    let task = rows(
        dir,
        &format!(
            "SELECT variant, f_ratio, p_value FROM '{o}/gam_joint_tests.parquet' \
             WHERE measure = 'cw_euclidean' AND term = 'task' AND cov_reduce = 'mean'"
        ),
    );
    assert_eq!(task.len(), 5, "{task:?}");
    for r in &task {
        assert!(num(&r[1]) > 20.0 && num(&r[2]) < 1e-12, "{r:?}");
        let order: Vec<String> = rows(
            dir,
            &format!(
                "SELECT level FROM '{o}/gam_emmeans.parquet' WHERE measure = 'cw_euclidean' \
                 AND variant = '{}' ORDER BY emmean DESC",
                r[0]
            ),
        )
        .into_iter()
        .map(|r| r[0].clone())
        .collect();
        assert_eq!(order, ["MFCC", "AT", "IR", "VS", "AE"], "{}", r[0]);
    }
    // Pink noise is the worst transformation for (standardised, MSE-reversed) performance.
    let worst = rows(
        dir,
        &format!(
            "SELECT level FROM '{o}/gam_emmeans.parquet' WHERE measure = 'performance' \
             AND variant = 'tp k10 REML' ORDER BY emmean LIMIT 1"
        ),
    );
    assert_eq!(worst[0][0], "PN");
    for f in [
        "fig4_5_performance_emm.png",
        "fig4_7_cw_smooths.png",
        "fig4_8_cw_emm.png",
        "fig4_11_cb_emm.png",
    ] {
        let meta = std::fs::metadata(out.join("figures").join(f)).unwrap();
        assert!(meta.len() > 10_000, "{f}");
    }
}
