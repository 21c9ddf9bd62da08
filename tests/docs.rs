//! Every trustql function is documented (description, syntax, example), and each statement of
//! its example appears verbatim in a sqllogictest file, so documented examples are tested.

mod common;

use std::collections::BTreeSet;

fn slt_text(dir: &std::path::Path, out: &mut String) {
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            slt_text(&p, out);
        } else if p.extension().is_some_and(|x| x == "slt") {
            out.push_str(&std::fs::read_to_string(&p).unwrap());
        }
    }
}

#[test]
fn every_function_example_is_tested() {
    let dir = tempfile::tempdir().unwrap();
    let catalog = std::sync::Arc::new(trustql::registry::ModelRegistry::new(
        dir.path(),
        trustql::trustql_udfs::model_types(),
    ));
    let mut slt = String::new();
    slt_text(&common::repo().join("sql"), &mut slt);
    let mut names = BTreeSet::new();
    // The one list that registration and `\h` read.
    let functions = trustql::trustql_udfs::library(catalog).functions();
    for (name, _, doc) in functions {
        let doc = doc.unwrap_or_else(|| panic!("{name} has no documentation"));
        assert!(!doc.description.is_empty(), "{name}: no description");
        assert!(
            doc.syntax_example.starts_with(&name),
            "{name}: syntax {}",
            doc.syntax_example
        );
        let example = doc
            .sql_example
            .unwrap_or_else(|| panic!("{name} has no SQL example"));
        let statements: Vec<&str> = example
            .lines()
            .filter_map(|l| l.strip_prefix("> "))
            .collect();
        assert!(
            !statements.is_empty(),
            "{name}: example has no '> ' statement"
        );
        for s in statements {
            assert!(
                slt.contains(s),
                "{name}: example statement not in any .slt file: {s}"
            );
        }
        names.insert(name);
    }
    for expected in [
        "tau_ap",
        "tau_ap_a_agg",
        "spearman_agg",
        "score",
        "trustql_device",
        "ndcg",
        "ndiv",
        "ediv",
        "holdout_split",
        "recommend",
        "factors",
        "score_tags",
        "mainstreaminess",
    ] {
        assert!(names.contains(expected), "{expected} missing");
    }
}
