//! Tests of the `trustql` binary: scripts, statements, output formats, exit codes, the model
//! store across processes, the REPL driven through stdin, Ctrl-C, and how the binary finds
//! libtorch.

mod common;

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_trustql"));
    // The binary must find libtorch by itself (rpath), so no library path is passed on.
    c.env_remove("LD_LIBRARY_PATH").env("NO_COLOR", "1");
    c
}

fn run(args: &[&str], models: &Path) -> Output {
    bin()
        .args(args)
        .arg("--models")
        .arg(models)
        .output()
        .expect("trustql runs")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn command_prints_csv_with_header_and_lists() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(
        &[
            "-q",
            "--format",
            "csv",
            "-c",
            "SELECT 1 AS x, 'a,b' AS s, [1.5, 2.0] AS l",
        ],
        dir.path(),
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "x,s,l\n1,\"a,b\",\"[1.5, 2.0]\"\n");
    assert_eq!(text(&out.stderr), "");
}

#[test]
fn every_format() {
    let dir = tempfile::tempdir().unwrap();
    let sql = "SELECT * FROM (VALUES (1, [1, 2]), (2, NULL)) AS t(id, xs) ORDER BY id";
    let get = |f: &str| text(&run(&["-q", "--format", f, "-c", sql], dir.path()).stdout);
    assert_eq!(
        get("json"),
        "[{\"id\":1,\"xs\":[1,2]},{\"id\":2,\"xs\":null}]\n"
    );
    assert_eq!(
        get("ndjson"),
        "{\"id\":1,\"xs\":[1,2]}\n{\"id\":2,\"xs\":null}\n"
    );
    assert_eq!(
        get("markdown"),
        "| id | xs |\n|---:|---|\n| 1 | [1, 2] |\n| 2 | NULL |\n"
    );
    let table = get("table");
    assert!(
        table.contains("| id | xs     |") && table.contains("| 1  | [1, 2] |"),
        "{table}"
    );
    let bad = run(&["--format", "xml", "-c", "SELECT 1"], dir.path());
    assert!(!bad.status.success());
    assert!(text(&bad.stderr).contains("unknown format 'xml'"));
}

#[test]
fn maxrows_limits_and_reports() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(
        &[
            "--maxrows",
            "2",
            "-c",
            "SELECT * FROM generate_series(1, 10)",
        ],
        dir.path(),
    );
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("(2 of 10 rows shown; see --maxrows)"),
        "{stdout}"
    );
    assert!(
        text(&out.stderr).contains("10 rows in"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn script_stops_at_first_failure_with_its_line() {
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("s.sql");
    std::fs::write(
        &script,
        "-- a script\nSELECT 'first' AS a;\n\nSELECT *\n  FROM no_such_table;\nSELECT 'never' AS b;\n",
    )
    .unwrap();
    let out = run(&["-q", "-f", script.to_str().unwrap()], dir.path());
    assert_eq!(out.status.code(), Some(1));
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert!(
        stdout.contains("first") && !stdout.contains("never"),
        "{stdout}"
    );
    assert!(
        stderr.contains("error in the statement at line 4") && stderr.contains("no_such_table"),
        "{stderr}"
    );
    let ok = run(&["-q", "-c", "SELECT 1; SELECT 2"], dir.path());
    assert_eq!(ok.status.code(), Some(0));
    let missing = run(&["-f", "/nonexistent/x.sql"], dir.path());
    assert_eq!(missing.status.code(), Some(1));
    assert!(text(&missing.stderr).contains("cannot read /nonexistent/x.sql"));
}

#[test]
fn models_persist_across_processes() {
    let dir = tempfile::tempdir().unwrap();
    let create = run(
        &[
            "-c",
            "CREATE MODEL pop OPTIONS (type = 'mostpop') AS SELECT * FROM (VALUES (1, 'a'), (2, 'a'), (2, 'b')) AS t(\"user\", item)",
        ],
        dir.path(),
    );
    assert!(create.status.success(), "{}", text(&create.stderr));
    assert!(text(&create.stderr).contains("training 'pop' (mostpop) on 3 rows"));
    let score = run(
        &[
            "-q",
            "--format",
            "csv",
            "-c",
            "SELECT score('pop', 1, 'a') AS a, score('pop', 1, 'b') AS b",
        ],
        dir.path(),
    );
    assert_eq!(
        text(&score.stdout),
        "a,b\n2.0,1.0\n",
        "{}",
        text(&score.stderr)
    );
    let show = run(
        &[
            "-q",
            "--format",
            "csv",
            "-c",
            "SELECT name, type FROM models()",
        ],
        dir.path(),
    );
    assert_eq!(text(&show.stdout), "name,type\npop,mostpop\n");
    let drop = run(&["-q", "-c", "DROP MODEL pop"], dir.path());
    assert!(drop.status.success());
    let gone = run(&["-q", "-c", "SELECT score('pop', 1, 'a')"], dir.path());
    assert_eq!(gone.status.code(), Some(1));
    assert!(
        text(&gone.stderr).contains("unknown model 'pop'"),
        "{}",
        text(&gone.stderr)
    );
}

#[test]
fn device_setting_and_libtorch_found_without_environment() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(
        &[
            "-q",
            "--format",
            "csv",
            "-c",
            "SET trustql.device = 'cpu'; SELECT trustql_device() AS d",
        ],
        dir.path(),
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "d\ncpu\n");
    // The binary records the torch library directory and links the CUDA backend.
    let elf = Command::new("readelf")
        .args(["-d", env!("CARGO_BIN_EXE_trustql")])
        .output()
        .expect("readelf (binutils) is installed");
    let dynamic = text(&elf.stdout);
    assert!(dynamic.contains("libtorch_cuda.so"), "{dynamic}");
    assert!(
        dynamic.contains("RUNPATH") || dynamic.contains("RPATH"),
        "{dynamic}"
    );
}

/// Starts the REPL with piped stdin, stdout and stderr.
fn spawn_repl(models: &Path, history: &Path, extra: &[&str]) -> std::process::Child {
    bin()
        .arg("--models")
        .arg(models)
        .args(extra)
        .env("TRUSTQL_HISTORY", history)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("trustql starts")
}

fn repl(input: &str, models: &Path, history: &Path) -> Output {
    let mut child = spawn_repl(models, history, &[]);
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

#[test]
fn repl_commands_multiline_and_history() {
    let dir = tempfile::tempdir().unwrap();
    let history = dir.path().join("hist");
    let script = dir.path().join("inc.sql");
    std::fs::write(&script, "SELECT 'from file' AS f;").unwrap();
    let input = format!(
        "SELECT 1 AS one;\n\\timing off\n\\format csv\nSELECT\n  2 AS two\n;\n\\h tau_ap_a\n\\h holdout_split\n\\h\n\\models\nCREATE TABLE t AS SELECT 1 AS c;\n\\d\n\\d t\n\\i {}\n\\format nope\nSELEC 3;\nSELECT 4 AS four;\n\\q\nSELECT 'after quit';\n",
        script.display()
    );
    let out = repl(&input, dir.path(), &history);
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert!(out.status.success(), "{stderr}");
    assert!(stdout.contains("| one |"), "{stdout}");
    assert!(
        stdout.contains("two\n2\n"),
        "multi-line statement: {stdout}"
    );
    assert!(
        stdout.contains("tau_ap_a  (Rank Correlation Functions)"),
        "{stdout}"
    );
    assert!(
        stdout.contains("Syntax: tau_ap_a(x, y)") && stdout.contains("Example:"),
        "{stdout}"
    );
    assert!(
        stdout.contains("trustql functions") && stdout.contains("kendall_tau_b_agg"),
        "{stdout}"
    );
    // A table function's documentation, which DataFusion does not hold.
    assert!(
        stdout.contains("holdout_split  (Recommender Functions)")
            && stdout.contains("Syntax: holdout_split(table, ratio, seed"),
        "{stdout}"
    );
    assert!(
        stdout.contains("name,type,created,options,path"),
        "{stdout}"
    );
    assert!(stdout.contains("public,t,BASE TABLE"), "{stdout}");
    assert!(
        stdout.contains("column_name,data_type,is_nullable"),
        "{stdout}"
    );
    assert!(stdout.contains("f\nfrom file\n"), "{stdout}");
    assert!(stdout.contains("four\n4\n"), "{stdout}");
    assert!(!stdout.contains("after quit"), "{stdout}");
    assert!(stderr.contains("1 row in"), "timing on at first: {stderr}");
    assert!(stderr.contains("unknown format 'nope'"), "{stderr}");
    assert!(
        stderr.contains("Error:") && stderr.contains("SELEC"),
        "{stderr}"
    );
    let saved = std::fs::read_to_string(&history).unwrap();
    assert!(
        saved.contains("SELECT 4 AS four;") && saved.contains("\\timing off"),
        "{saved}"
    );
}

#[test]
fn ctrl_c_cancels_the_statement_not_the_session() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = spawn_repl(dir.path(), &dir.path().join("hist"), &["--format", "csv"]);
    let mut stdin = child.stdin.take().unwrap();
    // A query that runs for hours.
    stdin
        .write_all(b"SELECT sum(value) FROM generate_series(1, 100000000000);\n")
        .unwrap();
    stdin.flush().unwrap();
    std::thread::sleep(Duration::from_secs(3));
    let pid = child.id().to_string();
    let kill = Command::new("kill").args(["-INT", &pid]).status().unwrap();
    assert!(kill.success());
    std::thread::sleep(Duration::from_millis(500));
    stdin.write_all(b"SELECT 42 AS answer;\n\\q\n").unwrap();
    drop(stdin);
    let out = child.wait_with_output().unwrap();
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("cancelled (Ctrl-C)"), "{stderr}");
    assert!(stdout.contains("answer\n42\n"), "{stdout}");
}

#[test]
fn ctrl_c_during_training_exits_with_an_error_not_a_crash() {
    // libtorch was torn down at exit under the training thread still winding down, and the
    // process died of SIGSEGV.
    let dir = tempfile::tempdir().unwrap();
    let mut child = bin()
        .args(["--models"])
        .arg(dir.path())
        .args([
            "-c",
            "CREATE TABLE plays AS SELECT v % 600 AS \"user\", (v * 7919) % 2000 AS item, 1.0 AS value FROM generate_series(1, 60000) AS t(v); \
             CREATE TABLE tg AS SELECT DISTINCT item, item % 37 AS tag, 1.0 AS weight FROM plays; \
             CREATE MODEL n OPTIONS (type = 'ncf', dim = 32, epochs = 100000, hidden = 128, tags = 'tg') AS SELECT * FROM plays",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Wait until training has started (the first epoch line), then press Ctrl-C.
    let started = std::time::Instant::now();
    let mut stderr = child.stderr.take().unwrap();
    let mut seen = String::new();
    let mut buf = [0u8; 4096];
    while !seen.contains("ncf: epoch 1/") && started.elapsed() < Duration::from_secs(120) {
        let n = std::io::Read::read(&mut stderr, &mut buf).unwrap();
        if n == 0 {
            break;
        }
        seen.push_str(&String::from_utf8_lossy(&buf[..n]));
    }
    assert!(seen.contains("ncf: epoch 1/"), "{seen}");
    let kill = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut stderr, &mut rest).unwrap();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(1), "{status:?}\n{seen}{rest}");
    assert!(rest.contains("cancelled"), "{rest}");
}

#[test]
fn ctrl_c_stops_a_script_with_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let child = bin()
        .args(["-q", "--models"])
        .arg(dir.path())
        .args([
            "-c",
            "SELECT sum(value) FROM generate_series(1, 100000000000); SELECT 'never'",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_secs(3));
    let kill = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("cancelled (Ctrl-C)"),
        "{}",
        text(&out.stderr)
    );
    assert!(!text(&out.stdout).contains("never"));
}

#[test]
fn ctrl_c_stops_training_and_keeps_the_session() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = spawn_repl(dir.path(), &dir.path().join("hist"), &["--format", "csv"]);
    let mut stdin = child.stdin.take().unwrap();
    // An FM model with far more epochs than could finish during the test.
    stdin
        .write_all(
            b"CREATE TABLE p AS SELECT v % 400 AS \"user\", (v * 7919) % 3000 AS item \
              FROM generate_series(1, 60000) AS t(v);\n\
              CREATE TABLE tg AS SELECT DISTINCT item, item % 37 AS tag FROM p;\n\
              CREATE MODEL m OPTIONS (type = 'fm', dim = 8, epochs = 100000, tags = 'tg') \
              AS SELECT * FROM p;\n",
        )
        .unwrap();
    stdin.flush().unwrap();
    // Wait for training progress (not a fixed time: a debug build on a busy machine may take long
    // to get there), then interrupt.
    let stderr_pipe = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    let reader = std::thread::spawn(move || {
        use std::io::BufRead;
        for line in std::io::BufReader::new(stderr_pipe).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut stderr = String::new();
    let deadline = std::time::Instant::now() + Duration::from_secs(300);
    loop {
        let line = rx
            .recv_timeout(deadline.saturating_duration_since(std::time::Instant::now()))
            .unwrap_or_else(|_| panic!("no training progress within 300 s: {stderr}"));
        stderr.push_str(&line);
        stderr.push('\n');
        if line.starts_with("fm") && (line.contains("epoch") || line.contains("iteration")) {
            break;
        }
    }
    let pid = child.id().to_string();
    assert!(Command::new("kill")
        .args(["-INT", &pid])
        .status()
        .unwrap()
        .success());
    std::thread::sleep(Duration::from_millis(1500));
    stdin
        .write_all(b"SELECT count(*) AS models FROM models();\n\\q\n")
        .unwrap();
    drop(stdin);
    let out = child.wait_with_output().unwrap();
    reader.join().unwrap();
    stderr.extend(rx.try_iter().map(|l| l + "\n"));
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("cancelled"), "{stderr}");
    // Nothing was saved, and the session still answers.
    assert!(stdout.contains("models\n0\n"), "{stdout}");
}

#[test]
fn explainer_functions_report_progress() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(
        &[
            "-c",
            "CREATE VIEW tg AS SELECT * FROM (VALUES (10, 'rock', 1.0), (10, 'guitar', 2.0), \
             (20, 'pop', 1.0), (30, 'rock', 1.0), (30, 'pop', 3.0)) AS t(item, tag, weight)",
            "-c",
            "CREATE MODEL nn OPTIONS (type = 'inn', dim = 2, tags = 'tg') AS SELECT * FROM \
             (VALUES (1, 10), (1, 20), (2, 10), (2, 30), (3, 20)) AS t(\"user\", item)",
            "-c",
            "SELECT fidelity('nn', 'lime', \"user\", 1, 2, 'samples = 50'), \
             explain_lime('nn', \"user\", 30, 1, 'samples = 50') FROM (VALUES (1), (2)) AS t(\"user\")",
        ],
        dir.path(),
    );
    let stderr = text(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("fidelity(nn, lime): 2 rows in"), "{stderr}");
    assert!(stderr.contains("explain_lime(nn): 2 rows in"), "{stderr}");
    // -q prints results only.
    let quiet = run(
        &[
            "-q",
            "-c",
            "SELECT explain_lime('nn', 1, 30, 1, 'samples = 50')",
        ],
        dir.path(),
    );
    assert!(quiet.status.success(), "{}", text(&quiet.stderr));
    assert!(
        !text(&quiet.stderr).contains("rows in"),
        "{}",
        text(&quiet.stderr)
    );
}

#[test]
fn variables_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(
        &[
            "-q",
            "--format",
            "csv",
            "-v",
            "ds=lastfm",
            "--set",
            "n=3",
            "-c",
            "SELECT '${ds}' AS d, ${n} AS n -- ${not_in_comments}",
            "-c",
            "SELECT '$${ds}' AS escaped",
        ],
        dir.path(),
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "d,n\nlastfm,3\nescaped\n${ds}\n");
    let undefined = run(&["-q", "-c", "SELECT 1;\nSELECT ${nope}"], dir.path());
    assert_eq!(undefined.status.code(), Some(1));
    assert!(
        text(&undefined.stderr).contains("-c #1:2:8: undefined variable ${nope}"),
        "{}",
        text(&undefined.stderr)
    );
    let bad = run(&["-v", "1x=2", "-c", "SELECT 1"], dir.path());
    assert!(!bad.status.success());
    assert!(text(&bad.stderr).contains("invalid variable name '1x'"));
}

#[test]
fn scripts_include_scripts_beside_them() {
    let dir = tempfile::tempdir().unwrap();
    let scripts = dir.path().join("scripts");
    std::fs::create_dir_all(scripts.join("common")).unwrap();
    std::fs::write(
        scripts.join("main.sql"),
        "\\set table t_${ds}\n\\i common/body.sql\nSELECT count(*) AS rows FROM ${table};\n",
    )
    .unwrap();
    std::fs::write(
        scripts.join("common/body.sql"),
        "-- creates ${table}\nCREATE TABLE ${table} AS SELECT '${ds}' AS d;\n\\include more.sql\n",
    )
    .unwrap();
    std::fs::write(
        scripts.join("common/more.sql"),
        "INSERT INTO ${table} VALUES ('again');\n",
    )
    .unwrap();
    // Run from another directory: includes are found beside the including script.
    let out = bin()
        .current_dir(dir.path())
        .args(["-q", "--format", "csv", "-v", "ds=x", "--models"])
        .arg(dir.path().join("models"))
        .arg("-f")
        .arg("scripts/main.sql")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).ends_with("rows\n2\n"),
        "{}",
        text(&out.stdout)
    );
    // --dry-run prints the statements without running them.
    let dry = bin()
        .current_dir(dir.path())
        .args(["--dry-run", "-v", "ds=x", "-f", "scripts/main.sql"])
        .output()
        .unwrap();
    assert!(dry.status.success(), "{}", text(&dry.stderr));
    assert_eq!(
        text(&dry.stdout),
        "CREATE TABLE t_x AS SELECT 'x' AS d;\nINSERT INTO t_x VALUES ('again');\n\
         SELECT count(*) AS rows FROM t_x;\n"
    );
    // An error in an included file names it, its line and the include.
    std::fs::write(
        scripts.join("common/more.sql"),
        "\nINSERT INTO no_such_table VALUES (1);\n",
    )
    .unwrap();
    let failed = bin()
        .current_dir(dir.path())
        .args(["-q", "-v", "ds=x", "--models"])
        .arg(dir.path().join("models"))
        .args(["-f", "scripts/main.sql"])
        .output()
        .unwrap();
    assert_eq!(failed.status.code(), Some(1));
    let stderr = text(&failed.stderr);
    assert!(
        stderr.contains("scripts/common/more.sql: error in the statement at line 2:")
            && stderr.contains("no_such_table")
            && stderr.contains("included from scripts/common/body.sql:3")
            && stderr.contains("included from scripts/main.sql:2"),
        "{stderr}"
    );
    // A cycle.
    std::fs::write(scripts.join("common/more.sql"), "\\i body.sql\n").unwrap();
    let cycle = bin()
        .current_dir(dir.path())
        .args(["--dry-run", "-v", "ds=x", "-f", "scripts/main.sql"])
        .output()
        .unwrap();
    assert_eq!(cycle.status.code(), Some(1));
    assert!(
        text(&cycle.stderr).contains(
            "include cycle: scripts/common/body.sql → scripts/common/more.sql → scripts/common/body.sql"
        ),
        "{}",
        text(&cycle.stderr)
    );
}

/// The statements a script runs, as `--dry-run` prints them.
fn dry_run(script: &str) -> String {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = bin()
        .current_dir(root)
        .args(["--dry-run", "-f", script])
        .output()
        .unwrap();
    assert!(out.status.success(), "{script}: {}", text(&out.stderr));
    text(&out.stdout)
}

#[test]
fn experiment_scripts_expand_to_their_statements() {
    // The per-dataset scripts share their statements through \set and \i; these are the
    // statements each runs (the README's figures were measured with them).
    for (script, statements, expected) in [
        (
            "sql/experiments/recsys_lastfm.sql",
            29,
            "CREATE OR REPLACE MODEL lastfm_ncf128 OPTIONS (type = 'ncf', dim = 128, tags = \
             'lastfm_tags', seed = 42, epochs = 3)\n  AS SELECT * FROM lastfm_train;",
        ),
        (
            "sql/experiments/recsys_movielens.sql",
            29,
            "CREATE VIEW movielens_train AS SELECT \"user\", item, value AS value FROM \
             movielens_split WHERE NOT test;",
        ),
        (
            "sql/experiments/explain_lastfm.sql",
            31,
            "INSERT INTO lastfm_fidelity SELECT 'Last.fm 2K', recsys, dim, explainer, omega",
        ),
        (
            "sql/experiments/explain_movielens.sql",
            31,
            "TO 'results/explain/movielens.parquet' STORED AS PARQUET;",
        ),
        (
            "sql/experiments/explain_lastfm_quick.sql",
            23,
            "CREATE TABLE IF NOT EXISTS settings AS SELECT 10 AS user_stride;",
        ),
        (
            "sql/experiments/explain_lastfm_fm.sql",
            23,
            "CREATE MODEL IF NOT EXISTS lastfm_fm128 OPTIONS (type = 'fm', dim = 128, tags = \
             'lastfm_tags', seed = 42, epochs = 5)\n  AS SELECT * FROM lastfm_train;",
        ),
        (
            "sql/experiments/explain_movielens_fm.sql",
            23,
            "TO 'results/explain/movielens_fm.parquet' STORED AS PARQUET;",
        ),
        (
            "sql/experiments/explain_goodbooks_sample.sql",
            75,
            "ORDER BY hash_uniform(\"user\", 42), \"user\" LIMIT 1000);",
        ),
        (
            "sql/experiments/explain_goodbooks_sample_quick.sql",
            75,
            "STORED AS PARQUET LOCATION 'results/explain/goodbooks_sample_quick_parts/';",
        ),
        (
            "sql/experiments/explain_goodbooks_sample_partial.sql",
            4,
            "TO 'results/explain/goodbooks_sample_partial.parquet' STORED AS PARQUET;",
        ),
    ] {
        let listed = dry_run(script);
        assert!(!listed.contains("${"), "{script}: {listed}");
        assert_eq!(
            listed.lines().filter(|l| l.ends_with(';')).count(),
            statements,
            "{script}: {listed}"
        );
        assert!(listed.contains(expected), "{script}: {listed}");
    }
}

#[test]
fn wide_tables_fit_the_width_and_pipes_get_everything() {
    let dir = tempfile::tempdir().unwrap();
    let sql = "SELECT repeat('x', 100) AS a, 2 AS b, repeat('y', 50) AS c";
    // Standard output is a pipe here: full width.
    let full = run(&["-q", "-c", sql], dir.path());
    assert!(
        text(&full.stdout).contains(&"x".repeat(100)),
        "{}",
        text(&full.stdout)
    );
    let fitted = run(&["-q", "--maxwidth", "40", "-c", sql], dir.path());
    let stdout = text(&fitted.stdout);
    assert!(
        stdout.lines().all(|l| l.chars().count() <= 40) && stdout.contains('…'),
        "{stdout}"
    );
    let narrow = run(&["-q", "--maxwidth", "20", "-c", sql], dir.path());
    let stdout = text(&narrow.stdout);
    assert!(
        stdout.contains("1 column not shown: c;") && stdout.contains("--maxwidth 0"),
        "{stdout}"
    );
    // CSV is never cut.
    let csv = run(
        &["-q", "--maxwidth", "20", "--format", "csv", "-c", sql],
        dir.path(),
    );
    assert!(text(&csv.stdout).contains(&"x".repeat(100)));
}

#[test]
fn repl_variables_width_and_help() {
    let dir = tempfile::tempdir().unwrap();
    let history = dir.path().join("hist");
    let inc = dir.path().join("inc.sql");
    std::fs::write(&inc, "SELECT '${who}' AS included;").unwrap();
    let input = format!(
        "\\?\n\\set who repl\n\\set\nSELECT '${{who}}' AS w;\n\\i {}\n\\maxwidth 30\n\\maxwidth\n\
         SELECT repeat('z', 80) AS long;\n\\maxwidth 0\nSELECT repeat('q', 80) AS long;\n\
         SELECT ${{undefined}};\n\\q\n",
        inc.display()
    );
    let out = repl(&input, dir.path(), &history);
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert!(out.status.success(), "{stderr}");
    assert!(
        stdout.contains("\\maxwidth [N|auto]") && stdout.contains("\\set [NAME [VALUE]]"),
        "{stdout}"
    );
    assert!(stdout.contains("who = repl"), "{stdout}");
    assert!(stdout.contains("| repl |"), "{stdout}");
    assert!(stdout.contains("| included |"), "{stdout}");
    assert!(stdout.contains("maxwidth: 30"), "{stdout}");
    assert!(
        stdout.contains("zzz…") && !stdout.contains(&"z".repeat(80)),
        "{stdout}"
    );
    assert!(stdout.contains(&"q".repeat(80)), "{stdout}");
    assert!(
        stderr.contains("Error: <input>:1:8: undefined variable ${undefined}"),
        "{stderr}"
    );
}

/// The status lines in the output `stderr`: (task, done, total).
fn status_lines(stderr: &str) -> Vec<(String, u64, u64)> {
    stderr
        .lines()
        .filter_map(|l| {
            let (head, rest) = l.split_once(" of ")?;
            let (task, done) = head.rsplit_once(": ")?;
            let total = rest.split_whitespace().next()?;
            Some((
                task.to_string(),
                done.replace(',', "").parse().ok()?,
                total.replace(',', "").parse().ok()?,
            ))
        })
        .collect()
}

#[test]
fn long_work_reports_its_status_when_asked_and_only_then() {
    let dir = tempfile::tempdir().unwrap();
    let setup = "CREATE VIEW tg AS SELECT * FROM (VALUES (10, 'rock', 1.0), (10, 'guitar', 2.0), \
        (20, 'pop', 1.0), (20, 'guitar', 1.0), (30, 'rock', 1.0), (30, 'pop', 3.0), (40, 'jazz', 1.0), \
        (50, 'jazz', 2.0), (50, 'rock', 1.0)) AS t(item, tag, weight); \
        CREATE MODEL nn OPTIONS (type = 'inn', dim = 2, tags = 'tg') AS SELECT * FROM (VALUES \
        (1, 10), (1, 20), (2, 10), (2, 30), (3, 20), (3, 40), (4, 30), (5, 50)) AS t(\"user\", item)";
    assert!(run(&["-c", setup], dir.path()).status.success());
    let query = "SELECT sum(fidelity('nn', 'lime', u, 2, 3, 'samples = 200')) IS NOT NULL AS f, \
        count(explain_lime('nn', u, 40, 2, 'samples = 200')) AS e FROM (VALUES (1), (2), (3), (4), (5)) AS t(u)";
    // Asked for, with every report shown (interval 0): status lines to a pipe, one per step,
    // counting up to the work's total (candidate items of the five users for fidelity, rows
    // for explain_lime).
    let asked = run(
        &["--progress", "0", "--format", "csv", "-c", query],
        dir.path(),
    );
    let stderr = text(&asked.stderr);
    assert!(asked.status.success(), "{stderr}");
    assert_eq!(text(&asked.stdout), "f,e\ntrue,5\n", "{stderr}");
    let lines = status_lines(&stderr);
    for task in ["fidelity(nn, lime)", "explain_lime(nn)"] {
        let of_task: Vec<_> = lines.iter().filter(|l| l.0 == task).collect();
        assert!(!of_task.is_empty(), "no status of {task} in:\n{stderr}");
        let last = of_task[of_task.len() - 1];
        assert_eq!(last.1, last.2, "{task} ends at its total:\n{stderr}");
        assert!(of_task.windows(2).all(|w| w[0].1 <= w[1].1), "{stderr}");
    }
    assert!(
        stderr.contains("items/s") && stderr.contains("rows/s"),
        "{stderr}"
    );
    // Not asked for, and stderr is a pipe: the finished-step lines only.
    let plain = run(&["--format", "csv", "-c", query], dir.path());
    let stderr = text(&plain.stderr);
    assert!(plain.status.success(), "{stderr}");
    assert!(status_lines(&stderr).is_empty(), "{stderr}");
    assert!(stderr.contains("fidelity(nn, lime): 5 rows in"), "{stderr}");
    // Quiet: nothing, even when asked.
    let quiet = run(
        &["-q", "--progress", "0", "--format", "csv", "-c", query],
        dir.path(),
    );
    assert_eq!(text(&quiet.stderr), "");
    assert_eq!(text(&quiet.stdout), "f,e\ntrue,5\n");
    // A bad interval is refused by name.
    let bad = run(&["--progress=-1", "-c", "SELECT 1"], dir.path());
    assert!(!bad.status.success());
    assert!(
        text(&bad.stderr).contains("--progress"),
        "{}",
        text(&bad.stderr)
    );
}

#[test]
fn the_repl_reports_status_when_asked() {
    let dir = tempfile::tempdir().unwrap();
    let history = dir.path().join("history");
    let mut child = spawn_repl(dir.path(), &history, &["--progress", "0"]);
    let input = "CREATE VIEW tg AS SELECT * FROM (VALUES (10, 'rock', 1.0), (20, 'pop', 1.0), (30, 'rock', 2.0)) AS t(item, tag, weight);\n\
        CREATE MODEL nn OPTIONS (type = 'inn', dim = 2, tags = 'tg') AS SELECT * FROM (VALUES (1, 10), (2, 20), (3, 30)) AS t(\"user\", item);\n\
        SELECT count(explain_lime('nn', u, 30, 1, 'samples = 100')) AS n FROM (VALUES (1), (2), (3)) AS t(u);\n";
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let stderr = text(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let lines = status_lines(&stderr);
    assert!(
        lines
            .iter()
            .any(|l| l.0 == "explain_lime(nn)" && l.1 == 3 && l.2 == 3),
        "{stderr}"
    );
}

#[test]
fn training_reports_the_status_of_each_epoch_when_asked() {
    let dir = tempfile::tempdir().unwrap();
    let script = "CREATE VIEW tags AS SELECT * FROM (VALUES (10, 'rock', 1.0), (20, 'pop', 1.0), \
        (30, 'rock', 2.0), (40, 'jazz', 1.0)) AS t(item, tag, weight); \
        CREATE MODEL f OPTIONS (type = 'fm', dim = 4, epochs = 2, batch_size = 2, tags = 'tags', seed = 1) \
        AS SELECT * FROM (VALUES (1, 10), (1, 20), (2, 30), (3, 40), (3, 10)) AS t(\"user\", item)";
    let out = run(&["--progress", "0", "-c", script], dir.path());
    let stderr = text(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    // Five pairs in batches of two: 2, 4, 5 pairs done in each epoch.
    for epoch in ["1/2", "2/2"] {
        let done: Vec<u64> = status_lines(&stderr)
            .into_iter()
            .filter(|l| l.0.ends_with(&format!("epoch {epoch}")))
            .map(|l| {
                assert_eq!(l.2, 5, "{stderr}");
                l.1
            })
            .collect();
        assert_eq!(done, [2, 4, 5], "epoch {epoch}:\n{stderr}");
    }
}
