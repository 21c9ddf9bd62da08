//! Model names from SQL never reach a file outside the model store: every entry point (the DDL,
//! functions that take a model name, `model_info()`, the library API) refuses relative,
//! absolute, encoded and look-alike names, and a link in the store that points out of it is not
//! followed. A victim model file beside the store must survive every attempt unchanged.

use std::path::{Path, PathBuf};

use datafusion::prelude::SessionContext;
use trustql::{Session, SessionOptions};

const PLAYS: &str = "CREATE TABLE plays AS SELECT * FROM (VALUES
  (1, 10, 5.0), (1, 20, 1.0), (2, 10, 2.0), (2, 30, 7.0), (3, 10, 1.0), (3, 20, 4.0))
  AS t(\"user\", item, value)";

fn session(dir: &Path) -> Session {
    Session::with_options(SessionOptions {
        model_dir: dir.to_path_buf(),
        progress: None,
        status: None,
    })
    .unwrap()
}

/// A store `<root>/store` holding model `m`, and a real model file `<root>/victim.tqm` beside it.
async fn setup() -> (tempfile::TempDir, PathBuf, Session, Vec<u8>) {
    let root = tempfile::tempdir().unwrap();
    let store = root.path().join("store");
    let s = session(&store);
    s.execute(PLAYS).await.unwrap();
    s.execute("CREATE MODEL victim OPTIONS (type = 'mostpop') AS SELECT * FROM plays")
        .await
        .unwrap();
    s.execute("CREATE MODEL m OPTIONS (type = 'mostpop') AS SELECT * FROM plays")
        .await
        .unwrap();
    let victim = root.path().join("victim.tqm");
    std::fs::rename(store.join("victim.tqm"), &victim).unwrap();
    let bytes = std::fs::read(&victim).unwrap();
    // A fresh session, so nothing about 'victim' is cached.
    let s = session(&store);
    s.execute(PLAYS).await.unwrap();
    (root, store, s, bytes)
}

/// Names that try to leave the store, as SQL string literals (single quotes doubled) and as
/// quoted identifiers (double quotes doubled).
fn hostile_names(root: &Path) -> Vec<String> {
    let abs = root.join("victim").display().to_string();
    vec![
        "../victim".into(),
        "./../victim".into(),
        "m/../../victim".into(),
        abs,
        "..\\victim".into(),
        "..%2fvictim".into(),
        "%2e%2e%2fvictim".into(),
        "..".into(),
        ".".into(),
        ".victim".into(),
        "a..b".into(),
        "victim\u{0}".into(),
        "\u{2025}/victim".into(),                // two dot leader
        "\u{FF0E}\u{FF0E}\u{FF0F}victim".into(), // fullwidth ../
        "..\u{2215}victim".into(),               // division slash
        "victim\u{202E}".into(),                 // right-to-left override
        "vi\u{0441}tim".into(),                  // Cyrillic es
        " victim".into(),
        "".into(),
        "x".repeat(200),
    ]
}

fn literal(name: &str) -> String {
    format!("'{}'", name.replace('\'', "''"))
}

fn ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

fn assert_refused(
    result: datafusion::error::Result<Vec<datafusion::arrow::array::RecordBatch>>,
    what: &str,
) {
    match result {
        Ok(_) => panic!("{what}: accepted"),
        Err(e) => {
            let e = e.to_string();
            assert!(
                e.contains("invalid model name"),
                "{what}: refused, but not for its name: {e}"
            );
        }
    }
}

#[tokio::test]
async fn hostile_names_are_refused_at_every_entry_point() {
    let (root, store, s, victim_bytes) = setup().await;
    let victim = root.path().join("victim.tqm");
    for name in hostile_names(root.path()) {
        // Names with a NUL cannot be written in SQL text; they are built with chr(0).
        let lit = match name.strip_suffix('\u{0}') {
            Some(head) => format!("{} || chr(0)", literal(head)),
            None => literal(&name),
        };
        let statements = [
            format!("DROP MODEL {}", ident(&name)),
            format!("DROP MODEL IF EXISTS {}", ident(&name)),
            format!("DESCRIBE MODEL {}", ident(&name)),
            format!(
                "CREATE OR REPLACE MODEL {} OPTIONS (type = 'mostpop') AS SELECT * FROM plays",
                ident(&name)
            ),
            format!("SELECT score({lit}, 1, 10)"),
            format!("SELECT * FROM recommend({lit}, 2)"),
            format!("SELECT * FROM model_info({lit})"),
            format!("SELECT explain_lime({lit}, 1, 10, 2)"),
            format!("SELECT fidelity({lit}, 'lime', 1, 2)"),
            format!("SELECT * FROM fixed_effects({lit})"),
            format!("SELECT embed({lit}, [0.1, 0.2])"),
        ];
        for sql in &statements {
            if name.contains('\u{0}') && (!sql.contains("chr(0)") || sql.contains(" FROM ")) {
                // DDL names are identifiers and table functions take literals; a NUL is tested
                // through scalar functions and the API.
                continue;
            }
            assert_refused(s.execute(sql).await, sql);
        }
        // The library API: a plain DataFusion context with the functions registered.
        let ctx = SessionContext::new();
        trustql::register_functions(&ctx, &store).unwrap();
        let r = async {
            ctx.sql(&format!("SELECT score({lit}, 1, 10)"))
                .await?
                .collect()
                .await
        };
        assert_refused(r.await, "register_functions + score");
        // The registry itself.
        use trustql::trustql_udfs::ModelCatalog;
        let e = s.registry().model(&name).unwrap_err().to_string();
        assert!(e.contains("invalid model name"), "{name:?}: {e}");
        assert!(s.registry().drop_model(&name).is_err(), "{name:?}");
        assert!(s.registry().load(&name).is_err(), "{name:?}");
        assert_eq!(std::fs::read(&victim).unwrap(), victim_bytes, "{name:?}");
    }
    // The store's own model still works, and models() lists only it.
    let b = s.execute("SELECT name FROM models()").await.unwrap();
    assert_eq!(b.iter().map(|b| b.num_rows()).sum::<usize>(), 1);
    s.execute("SELECT score('m', 1, 10)").await.unwrap();
}

#[tokio::test]
async fn errors_say_what_is_wrong_with_the_name() {
    let (_root, _store, s, _) = setup().await;
    for (sql, says) in [
        ("DROP MODEL \"../victim\"", "a path separator '/'"),
        ("DROP MODEL \"..\"", "starts with '.'"),
        ("DROP MODEL \"a..b\"", "contains '..'"),
        ("SELECT score('x' || chr(0), 1, 2)", "NUL"),
        ("SELECT score('\u{FF0E}x', 1, 2)", "U+FF0E"),
        ("SELECT score('a b', 1, 2)", "' '"),
    ] {
        let e = s.execute(sql).await.unwrap_err().to_string();
        assert!(e.contains(says), "{sql}: {e}");
    }
}

#[cfg(unix)]
#[tokio::test]
async fn links_out_of_the_store_are_not_followed() {
    let (root, store, s, victim_bytes) = setup().await;
    let victim = root.path().join("victim.tqm");
    std::os::unix::fs::symlink(&victim, store.join("out.tqm")).unwrap();
    std::os::unix::fs::symlink("../victim.tqm", store.join("rel.tqm")).unwrap();
    for name in ["out", "rel"] {
        for sql in [
            format!("SELECT score('{name}', 1, 10)"),
            format!("DESCRIBE MODEL {name}"),
            format!("SELECT * FROM model_info('{name}')"),
        ] {
            let e = s.execute(&sql).await.unwrap_err().to_string();
            assert!(e.contains("outside the model store"), "{sql}: {e}");
        }
    }
    assert_eq!(std::fs::read(&victim).unwrap(), victim_bytes);
    // A link that stays inside the store is an alias, and works.
    std::os::unix::fs::symlink("m.tqm", store.join("alias.tqm")).unwrap();
    s.execute("SELECT score('alias', 1, 10)").await.unwrap();
    // Dropping a link removes the link, never its target.
    s.execute("DROP MODEL out").await.ok();
    assert_eq!(std::fs::read(&victim).unwrap(), victim_bytes);
}

#[tokio::test]
async fn a_model_replaced_by_another_process_is_not_served_stale() {
    let root = tempfile::tempdir().unwrap();
    let a = session(root.path());
    let b = session(root.path());
    for s in [&a, &b] {
        s.execute(PLAYS).await.unwrap();
    }
    a.execute("CREATE MODEL m OPTIONS (type = 'mostpop') AS SELECT * FROM plays")
        .await
        .unwrap();
    let score = |s: &Session| {
        let s = s.clone();
        async move {
            let b = s.execute("SELECT score('m', 1, 30) AS x").await.unwrap();
            datafusion::arrow::util::pretty::pretty_format_batches(&b)
                .unwrap()
                .to_string()
        }
    };
    // Item 30 has one play: mostpop scores it 1.
    let before = score(&a).await;
    assert!(before.contains("| 1.0 |"), "{before}");
    // Another session (as another process would) replaces m with a model that has seen item 30
    // three times.
    b.execute("INSERT INTO plays VALUES (4, 30, 1.0), (5, 30, 1.0)")
        .await
        .unwrap();
    b.execute("CREATE OR REPLACE MODEL m OPTIONS (type = 'mostpop') AS SELECT * FROM plays")
        .await
        .unwrap();
    let after = score(&a).await;
    assert!(
        after.contains("| 3.0 |"),
        "session a still serves the old model: {after}"
    );
    // And a model removed by another process is gone for this one too.
    b.execute("DROP MODEL m").await.unwrap();
    let e = a
        .execute("SELECT score('m', 1, 30)")
        .await
        .unwrap_err()
        .to_string();
    assert!(e.contains("unknown model 'm'"), "{e}");
}

#[tokio::test]
async fn models_the_last_statement_did_not_use_leave_the_memory_cache() {
    let root = tempfile::tempdir().unwrap();
    let s = session(root.path());
    s.execute(PLAYS).await.unwrap();
    for name in ["a", "b"] {
        s.execute(&format!(
            "CREATE MODEL {name} OPTIONS (type = 'mostpop') AS SELECT * FROM plays"
        ))
        .await
        .unwrap();
    }
    let score = |model: &'static str| {
        let s = s.clone();
        async move {
            let b = s
                .execute(&format!("SELECT score('{model}', 1, 10) AS x"))
                .await
                .unwrap();
            datafusion::arrow::util::pretty::pretty_format_batches(&b)
                .unwrap()
                .to_string()
        }
    };
    let first = score("a").await;
    assert_eq!(s.registry().cached(), ["a", "b"]);
    // A statement on b: a (used by the statement before) stays.
    score("b").await;
    assert_eq!(s.registry().cached(), ["a", "b"]);
    // Another on b: a, unused by the last statement, has left memory.
    score("b").await;
    assert_eq!(s.registry().cached(), ["b"]);
    // It is read from its file again when used, with the same result.
    assert_eq!(score("a").await, first);
    assert_eq!(s.registry().cached(), ["a", "b"]);
}
