//! Property tests for trustql's own parsers (the model DDL, `COPY ... (FORMAT plot)` and its
//! options, the script splitter, model options): on any input, including random bytes, token
//! soups and deeply nested text, they return a statement or an error that says what is wrong,
//! and never panic or overflow the stack.

use proptest::prelude::*;
use trustql::trustql_udfs::model::{ModelOptions, OptionKind, OptionSpec, RawOptionValue};

/// Pieces from which plausible-but-broken statements are built.
const PIECES: &[&str] = &[
    "CREATE",
    "OR",
    "REPLACE",
    "MODEL",
    "IF",
    "NOT",
    "EXISTS",
    "m",
    "\"m\"",
    "\"../x\"",
    "OPTIONS",
    "(",
    ")",
    ",",
    "=",
    "type",
    "'mostpop'",
    "'",
    "\"",
    "AS",
    "SELECT",
    "1",
    "-",
    "2.5e9",
    "NaN",
    "FROM",
    "t",
    "DROP",
    "DESCRIBE",
    "DESC",
    "SHOW",
    "MODELS",
    "TYPES",
    "COPY",
    "TO",
    "'f.png'",
    "'f.svg'",
    "FORMAT",
    "plot",
    "STORED",
    "PLOT",
    "kind",
    "'scatter'",
    "x",
    "y",
    "width",
    ";",
    "--",
    "/*",
    "*/",
    "\n",
    "é",
    "\u{feff}",
    "\u{0}",
    "$$",
    "[",
    "]",
];

fn soup() -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(PIECES), 0..40).prop_map(|v| v.join(" "))
}

fn check_error(e: datafusion::error::DataFusionError) -> Result<(), TestCaseError> {
    let m = e.to_string();
    prop_assert!(!m.trim().is_empty());
    prop_assert!(!m.contains("panicked"), "{}", m);
    Ok(())
}

// 256 cases per property, or PROPTEST_CASES (scripts/fuzz.sh runs many more).
proptest! {

    #[test]
    fn model_ddl_never_panics(sql in prop_oneof![soup(), any::<String>()]) {
        if let Err(e) = trustql::sql::model_ddl::parse(&sql) {
            check_error(e)?;
        }
    }

    #[test]
    fn plot_statements_never_panic(sql in prop_oneof![soup(), any::<String>()]) {
        if let Err(e) = trustql::plot::parse_copy(&sql) {
            check_error(e)?;
        }
    }

    #[test]
    fn the_script_splitter_never_panics(sql in prop_oneof![soup(), any::<String>()]) {
        match trustql::sql::split_statements(&sql) {
            Ok(statements) => {
                for s in statements {
                    prop_assert!(!s.text.is_empty());
                    prop_assert!(s.line >= 1);
                }
            }
            Err(e) => check_error(e)?,
        }
    }

    #[test]
    fn model_options_never_panic(
        raw in prop::collection::vec(
            (
                prop::sample::select(&["dim", "lr", "solver", "tags", "flag", "x", ""][..]),
                prop_oneof![
                    any::<String>().prop_map(RawOptionValue::Text),
                    prop::sample::select(&["1", "-1", "1e400", "NaN", "2.5", "9223372036854775808", ""][..])
                        .prop_map(|s| RawOptionValue::Number(s.to_string())),
                    any::<bool>().prop_map(RawOptionValue::Bool),
                    "[a-z]{0,5}".prop_map(RawOptionValue::Word),
                ],
            ),
            0..6,
        )
    ) {
        const SPECS: &[OptionSpec] = &[
            OptionSpec { name: "dim", kind: OptionKind::Int { min: 1, max: 4096 }, default: Some("64"), doc: "" },
            OptionSpec { name: "lr", kind: OptionKind::Float { min: 0.0, max: f64::INFINITY }, default: Some("0.01"), doc: "" },
            OptionSpec { name: "solver", kind: OptionKind::Choice(&["cg", "cholesky"]), default: Some("cg"), doc: "" },
            OptionSpec { name: "tags", kind: OptionKind::Table, default: None, doc: "" },
            OptionSpec { name: "flag", kind: OptionKind::Bool, default: Some("false"), doc: "" },
        ];
        let raw: Vec<(String, RawOptionValue)> =
            raw.into_iter().map(|(k, v)| (k.to_string(), v)).collect();
        match ModelOptions::validate("t", SPECS, &raw) {
            Ok(o) => {
                // Every value is within its declared range.
                let dim = o.int("dim").unwrap_or(0);
                prop_assert!((1..=4096).contains(&dim));
                prop_assert!(o.float("lr").is_some_and(|v| v.is_finite() && v >= 0.0));
            }
            Err(e) => {
                prop_assert!(e.to_string().contains("option"), "{}", e);
            }
        }
    }
}

#[test]
fn deep_nesting_is_an_error_not_a_stack_overflow() {
    let deep = |n: usize| format!("{}SELECT 1{}", "(".repeat(n), ")".repeat(n));
    // The query of CREATE MODEL and of COPY goes to DataFusion's parser, whose recursion limit
    // refuses it; trustql's own parsers are iterative.
    let ddl = format!(
        "CREATE MODEL m OPTIONS (type = 'mostpop') AS {}",
        deep(50_000)
    );
    let _ = trustql::sql::model_ddl::parse(&ddl);
    let copy = format!(
        "COPY {} TO 'f.svg' (FORMAT plot, kind 'scatter', x 'a', y 'b')",
        deep(50_000)
    );
    let _ = trustql::plot::parse_copy(&copy);
    let opts = format!(
        "COPY t TO 'f.svg' (FORMAT plot, kind {})",
        "(".repeat(50_000)
    );
    assert!(trustql::plot::parse_copy(&opts).is_err());
    let script = format!("{};\nSELECT 2", deep(50_000));
    assert_eq!(trustql::sql::split_statements(&script).unwrap().len(), 2);
}

#[tokio::test]
async fn deeply_nested_queries_do_not_crash_the_session() {
    let dir = tempfile::tempdir().unwrap();
    let s = trustql::Session::with_options(trustql::SessionOptions {
        model_dir: dir.path().to_path_buf(),
        progress: None,
        status: None,
    })
    .unwrap();
    for sql in [
        format!("SELECT {}1{}", "(".repeat(50_000), ")".repeat(50_000)),
        format!(
            "CREATE MODEL m OPTIONS (type = 'mostpop') AS SELECT {}1{}",
            "(".repeat(50_000),
            ")".repeat(50_000)
        ),
        format!("SELECT {}", vec!["1"; 20_000].join(" + ")),
        format!(
            "SELECT tau_ap({}[1]{}, [1])",
            "[".repeat(5_000),
            "]".repeat(5_000)
        ),
    ] {
        if let Err(e) = s.execute(&sql).await {
            assert!(!e.to_string().trim().is_empty());
        }
    }
    // The session goes on.
    s.execute("SELECT 1").await.unwrap();
}
