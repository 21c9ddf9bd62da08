//! The transferability experiment's design and analysis scripts (`sql/experiments/
//! transfer_design.sql`, `transfer_analyse.sql`) on scores with a planted structure: the design
//! has the thesis' three phases, and the analysis recovers what was planted (the strategies'
//! order, a zero slope in n for MS-SR@FC and positive ones elsewhere, the size effect of model 2,
//! and the one source that matters for one target in Table 2.6). The scores are made here, in
//! SQL, from the design; no network is trained.

mod common;

use common::{cli as trustql, cli_rows as rows, num};

#[test]
fn design_has_three_phases_and_analysis_recovers_planted_effects() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    std::fs::create_dir_all(dir.join("scores")).unwrap();
    std::fs::create_dir_all(dir.join("figures")).unwrap();
    let d = dir.to_str().unwrap();

    trustql(
        dir,
        &[
            "-v",
            &format!("dir={d}"),
            "-v",
            "ssr_repeats=2",
            "-v",
            "all_repeats=2",
            "-v",
            "design_runs=40",
            "-v",
            "seed=2017",
            "-f",
            "sql/experiments/transfer_design.sql",
        ],
    );
    let design = format!("'{d}/design.csv'");
    let phases = rows(
        dir,
        &format!(
            "SELECT phase, count(*), min(n), max(n), count(DISTINCT level) FROM {design} GROUP BY phase ORDER BY phase"
        ),
    );
    assert_eq!(
        phases,
        vec![
            vec!["1", "16", "1", "1", "1"],
            vec!["2", "10", "8", "8", "5"],
            vec!["3", "40", "2", "7", "5"],
        ]
    );
    // MSS-CR concatenates the first-repeat SS-R models of its own sources.
    let mss = rows(
        dir,
        &format!(
            "SELECT d.sources, d.models, array_to_string(array_agg(concat('rep_', s.run) ORDER BY s.run), '+') \
             FROM {design} d JOIN {design} s ON s.phase = 1 AND s.\"repeat\" = 1 \
             AND array_has(string_to_array(d.sources, '+'), s.sources) \
             WHERE d.level = 'mss_cr' GROUP BY d.run, d.sources, d.models"
        ),
    );
    assert!(!mss.is_empty());
    for r in &mss {
        assert_eq!(r[1], r[2], "mss_cr models of {}", r[0]);
    }

    // Planted scores, per run, target and repetition: strategy levels SS-R < MS-SR@FC < the
    // rest; a slope of 0.04 per source beyond two for every multi-source strategy but MS-SR@FC;
    // +0.3 on 'dance' when bpm is a source; deterministic noise of ±0.01.
    trustql(
        dir,
        &[
            "-c",
            &format!(
                "COPY (SELECT d.run, t.target, 'accuracy' AS metric, r.value AS repetition, \
                 0.3 + CASE d.level WHEN 'ss_r' THEN 0.0 WHEN 'ms_sr_fc' THEN 0.1 ELSE 0.2 END \
                 + CASE WHEN d.level IN ('ss_r', 'ms_sr_fc') THEN 0.0 ELSE 0.04 * (d.n - 2) END \
                 + CASE WHEN t.target = 'dance' AND array_has(string_to_array(d.sources, '+'), 'bpm') THEN 0.3 ELSE 0.0 END \
                 + 0.02 * ((ascii(substr(md5(concat(d.run, t.target, r.value)), 1, 1)) * 31 \
                    + ascii(substr(md5(concat(d.run, t.target, r.value)), 2, 1))) % 101 / 100.0 - 0.5) AS score \
                 FROM {design} d \
                 CROSS JOIN (VALUES ('genre'), ('genre10'), ('dance'), ('instrument'), ('density'), ('key_margin'), ('recommend')) AS t(target) \
                 CROSS JOIN generate_series(1, 3) r) TO '{d}/scores/planted.parquet' STORED AS PARQUET"
            ),
        ],
    );
    trustql(
        dir,
        &[
            "-v",
            &format!("dir={d}"),
            "-v",
            "seed=7",
            "-v",
            "bootstrap=100",
            "-f",
            "sql/experiments/transfer_analyse.sql",
        ],
    );

    let effects = |file: &str| -> std::collections::HashMap<String, (f64, f64, f64)> {
        rows(
            dir,
            &format!("SELECT term, estimate, boot_lower, boot_upper FROM '{d}/{file}'"),
        )
        .into_iter()
        .map(|r| (r[0].clone(), (num(&r[1]), num(&r[2]), num(&r[3]))))
        .collect()
    };
    let m1 = effects("analysis_m1.parquet");
    assert_eq!(m1.len(), 11, "{m1:?}");
    let est = |t: &str| m1[t].0;
    assert!(est("i_ssr") < est("i_fc"), "{m1:?}");
    for t in ["i_cr6", "i_cr4", "i_cr2", "i_mss"] {
        assert!(est("i_fc") < est(t), "{t}: {m1:?}");
    }
    // The n* slopes: MS-SR@FC's interval holds 0, the others' lie above it.
    let (_, lo, hi) = m1["s_fc"];
    assert!(lo < 0.0 && hi > 0.0, "s_fc {lo}..{hi}");
    for t in ["s_cr6", "s_cr4", "s_cr2", "s_mss"] {
        let (e, lo, hi) = m1[t];
        assert!(lo > 0.0 && lo <= e && e <= hi, "{t}: {e} {lo}..{hi}");
    }
    let m2 = effects("analysis_m2.parquet");
    let (r, lo, _) = m2["r_star"];
    assert!(r > 0.0 && lo > 0.0, "r_star {r} from {lo}");

    // Table 2.6: on 'dance' bpm carries the largest share of the sources' variance.
    let top = rows(
        dir,
        &format!(
            "SELECT source, pct FROM '{d}/analysis_varcomp.parquet' WHERE target = 'dance' ORDER BY pct DESC LIMIT 1"
        ),
    );
    assert_eq!(top[0][0], "bpm", "{top:?}");
    assert!(num(&top[0][1]) > 50.0, "{top:?}");
}
