//! A generated fuzz suite over every trustql function: each scalar, aggregate, window and table
//! function of the library (taken from its registration, so a function added later is covered
//! without editing this file) is called with adversarial arguments (a window function over a
//! small table, with OVER clauses of several shapes and sometimes none): NULL, NaN, ±inf, 0, negative, huge
//! numbers, empty and huge lists, wrong types, unknown and hostile model names, malformed option
//! strings, damaged files. The property: no call panics or aborts the process, and every error
//! names its problem (it is not an internal error, a panic or an empty message).
//!
//! Cases are drawn from a seeded generator: `TRUSTQL_FUZZ_CASES` calls per function (default 30,
//! well under a minute in the test suite) and `TRUSTQL_FUZZ_SEED` (default 17) pick them;
//! `scripts/fuzz.sh` runs many more and reports how many were tried.

mod common;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use trustql::{Session, SessionOptions};

/// Panics seen by the hook (the process survives a caught panic; the suite fails on any).
static PANICS: AtomicUsize = AtomicUsize::new(0);

fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// The argument list of a documented syntax: the text between the first `(` and the `)` that
/// closes it (a window function's syntax goes on with `OVER (...)`).
fn argument_list(syntax: &str) -> Option<&str> {
    let open = syntax.find('(')?;
    let mut depth = 0usize;
    for (i, c) in syntax[open..].char_indices() {
        match c {
            '(' => depth += 1,
            ')' => {
                depth -= 1;
                if depth == 0 {
                    return Some(&syntax[open + 1..open + i]);
                }
            }
            _ => {}
        }
    }
    None
}

/// The arguments a function's documented syntax names: (required, optional), where optional
/// arguments are the bracketed `[, x]` parts.
fn arity(syntax: &str) -> (usize, usize) {
    let Some(inner) = argument_list(syntax) else {
        return (0, 0);
    };
    let (mut required, mut optional, mut depth, mut any) = (0, 0, 0usize, false);
    for c in inner.chars() {
        match c {
            '[' => {
                depth += 1;
                optional += 1;
            }
            ']' => depth = depth.saturating_sub(1),
            ',' if depth == 0 => required += 1,
            c if depth == 0 && !c.is_whitespace() => any = true,
            _ => {}
        }
    }
    if any {
        required += 1;
    }
    (required, optional)
}

/// The parameter names of a documented syntax, optional ones included, in order.
fn parameters(syntax: &str) -> Vec<String> {
    let Some(inner) = argument_list(syntax) else {
        return Vec::new();
    };
    inner
        .split([',', '[', ']'])
        .map(|p| p.trim().trim_matches('\'').to_ascii_lowercase())
        .filter(|p| !p.is_empty())
        .collect()
}

/// Values for a parameter, by its name: plausible ones (that get past type checks to the
/// function's own code) and adversarial ones of the same type.
fn typed_values(parameter: &str) -> (&'static [&'static str], &'static [&'static str]) {
    let p = parameter;
    let has = |words: &[&str]| words.contains(&p);
    if p.contains("model") || p == "encoder" {
        (
            &["'pop'", "'nn'", "'fit'", "'mfcc'"],
            &[
                "'nope'",
                "'../victim'",
                "''",
                "NULL",
                "'a/b'",
                "'x' || chr(0)",
            ],
        )
    } else if has(&["table"]) {
        (
            &["plays", "sleep", "clips"],
            &["nothere", "'plays'", "NULL", "tg"],
        )
    } else if p.contains("column") {
        (
            &["'value'", "'item'", "'e'"],
            &["'nope'", "''", "NULL", "'user'"],
        )
    } else if has(&["path", "glob"]) {
        (
            &["'{dir}/out.wav'", "'{dir}/*.wav'"],
            &[
                "{damaged}",
                "{garbage}",
                "{dir}",
                "'/nonexistent/file.wav'",
                "''",
                "NULL",
                "'/proc/self/mem'",
            ],
        )
    } else if p.contains("option")
        || p.contains("distance")
        || p.contains("factor")
        || p.contains("variable")
        || has(&["variant", "mode", "explainer", "transform", "init"])
    {
        (
            &[
                "'lime'",
                "'pdp'",
                "'saliency'",
                "'random'",
                "'Days'",
                "'user'",
                "'item'",
                "'euclidean'",
                "'pitch'",
                "'pca'",
                "''",
            ],
            &[
                "'samples = 100000000'",
                "'seed=1,seed=2'",
                "'k = -1, n = NaN'",
                "'='",
                "',,,'",
                "'n_fft = 0'",
                "'n_fft = 100000000000'",
                "'hop = -1'",
                "'n_mels = 1000000'",
                "'samples = 2.5'",
                "'seed = -1'",
                "'Days = 1e308'",
                "'((((('",
                "NULL",
                "'tag'",
                "'samples = 100000000000000000000'",
                "'n_mfcc = 100000'",
                "'window = 0'",
            ],
        )
    } else if has(&[
        "audio",
        "channels",
        "mixture",
        "reference",
        "estimate",
        "a",
        "b",
        "x",
        "y",
        "tags",
        "recommended",
        "relevant",
        "point",
        "original",
        "candidate",
        "noise",
    ]) {
        (
            &[
                "[0.5, -0.5, 0.25, 0.0]",
                "array_repeat(CAST(0.1 AS FLOAT), 22050)",
                "[3, 2, 1]",
                "[1.0, 2.0, 3.0]",
            ],
            &[
                "[]",
                "[1.0]",
                "[NULL]",
                "[1.0, NULL, 'NaN'::double]",
                "['inf'::double, 1.0]",
                "array_repeat(0.25, 3000000)",
                "[[1.0, 2.0], [3.0]]",
                "CAST(NULL AS DOUBLE[])",
                "NULL",
                "array_repeat(1e308, 1000)",
                "['a', 'b']",
            ],
        )
    } else {
        (
            &["1", "2", "3", "10", "22050", "8000", "0.5"],
            &[
                "0",
                "-1",
                "2.5",
                "-0.0",
                "1e308",
                "-1e308",
                "'NaN'::double",
                "'inf'::double",
                "9223372036854775807",
                "-9223372036854775808",
                "4294967297",
                "100000000",
                "NULL",
                "1000000000000",
            ],
        )
    }
}

/// Adversarial argument expressions (SQL). `{damaged}` and `{garbage}` are files written by the
/// suite; 'pop', 'nn' and 'fit' are models it trains.
const VALUES: &[&str] = &[
    "NULL",
    "CAST(NULL AS DOUBLE)",
    "CAST(NULL AS VARCHAR)",
    "CAST(NULL AS DOUBLE[])",
    "'NaN'::double",
    "'inf'::double",
    "'-inf'::double",
    "0",
    "-1",
    "1",
    "2",
    "2.5",
    "-0.0",
    "1e308",
    "-1e308",
    "9223372036854775807",
    "-9223372036854775808",
    "4294967297",
    "100000000",
    "''",
    "'x'",
    "'nope'",
    "'pop'",
    "'nn'",
    "'fit'",
    "'../victim'",
    "'/etc/passwd'",
    "'samples = 100000000'",
    "'seed=1,seed=2'",
    "'k = -1, n = NaN'",
    "'='",
    "',,,'",
    "'(((('",
    "'y ~ x + (1 | g)'",
    "'y ~ ((((((((((((((((((((((((((((((x))))))))))))))))))))))))))))))'",
    "'lime'",
    "'pdp'",
    "'mfcc'",
    "'Days'",
    "true",
    "[]",
    "[1.0]",
    "[1.0, 2.0, 3.0]",
    "[3, 2, 1]",
    "[NULL]",
    "[1.0, NULL, 'NaN'::double]",
    "['a', 'b']",
    "[[1.0, 2.0], [3.0]]",
    "array_repeat(0.25, 100000)",
    "array_repeat(CAST(1 AS FLOAT), 22050)",
    "array_repeat(5, 3)",
    "X''",
    "X'52494646'",
    "{damaged}",
    "{garbage}",
    "'/nonexistent/file.wav'",
    "{dir}",
];

struct Function {
    name: String,
    kind: &'static str,
    arity: (usize, usize),
    parameters: Vec<String>,
}

struct Case {
    function: String,
    sql: String,
}

/// The table window functions are called over: numbers with NULLs, ties and a group of one.
const WINDOW_TABLE: &str = "(VALUES (1.5, 1), (2.0, 1), (2.0, 1), (NULL, 1), (-3.0, 2), \
     (1e300, 2), (7.0, 3)) AS t(v, g)";

/// Plausible first arguments of a window function: columns of [`WINDOW_TABLE`].
const WINDOW_COLUMNS: &[&str] = &["v", "v * 2", "g", "-v"];

/// One call of `name` (a scalar, aggregate, window or table function) with `args`; `case`
/// picks a window function's OVER clause (none, one case in five).
fn call(kind: &str, name: &str, args: &[String], case: u64) -> String {
    let list = args.join(", ");
    match kind {
        "window" => {
            let over = match case % 5 {
                0 => "OVER ()",
                1 => "OVER (PARTITION BY g)",
                2 => "OVER (PARTITION BY g ORDER BY v DESC)",
                3 => "OVER (ORDER BY v ROWS BETWEEN 1 PRECEDING AND CURRENT ROW)",
                _ => "",
            };
            format!("SELECT {name}({list}) {over} FROM {WINDOW_TABLE}")
        }
        "table" => format!("SELECT * FROM {name}({list}) LIMIT 5"),
        "aggregate" => format!(
            "SELECT {name}({}) FROM (VALUES (1), (2), (3)) AS t(v)",
            if args.is_empty() { String::new() } else { list }
        ),
        _ => format!("SELECT {name}({list})"),
    }
}

fn cases(
    functions: &[Function],
    per_function: u64,
    seed: u64,
    files: &BTreeMap<&str, String>,
) -> Vec<Case> {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut out = Vec::new();
    // `{k}` is the quoted path of file k; `'{k}/...'` a path inside folder k.
    let expand = |v: &str| {
        let mut v = v.to_string();
        for (k, path) in files {
            v = v.replace(&format!("'{{{k}}}/"), &format!("'{path}/"));
            v = v.replace(&format!("{{{k}}}"), &format!("'{path}'"));
        }
        v
    };
    let value = |rng: &mut StdRng| expand(VALUES[rng.random_range(0..VALUES.len())]);
    for f in functions {
        let (name, kind, (required, optional)) = (&f.name, f.kind, f.arity);
        for case in 0..per_function {
            // Mostly the documented arity, sometimes one too few or too many.
            let n = match rng.random_range(0..10) {
                0 => required.saturating_sub(1),
                1 => required + optional + 1,
                _ => rng.random_range(required..=required + optional),
            };
            // Three cases in four draw each argument from the values that fit its parameter.
            // Three cases in four are a plausible call with one argument made adversarial (of
            // its own type, or anything); the fourth is anything at all.
            let typed = case % 4 != 3;
            let bad = rng.random_range(0..n.max(1));
            let args: Vec<String> = (0..n)
                .map(|i| match f.parameters.get(i) {
                    Some(_) if typed && kind == "window" && i == 0 && i != bad => {
                        WINDOW_COLUMNS[rng.random_range(0..WINDOW_COLUMNS.len())].to_string()
                    }
                    Some(p) if typed => {
                        let (plausible, adversarial) = typed_values(p);
                        let pool = if i != bad {
                            plausible
                        } else if rng.random_range(0..4) == 0 {
                            VALUES
                        } else {
                            adversarial
                        };
                        expand(pool[rng.random_range(0..pool.len())])
                    }
                    _ => value(&mut rng),
                })
                .collect();
            out.push(Case {
                function: name.clone(),
                sql: call(kind, name, &args, case),
            });
        }
    }
    out
}

/// What an error must not look like: DataFusion's wording for bugs, panics, empty messages.
fn names_its_problem(message: &str) -> bool {
    let m = message.trim();
    !m.is_empty()
        && !m.contains("panicked")
        && !m.contains("This issue was likely caused by a bug")
        && !m.starts_with("Internal error")
}

async fn setup(s: &Session) {
    for sql in [
        "CREATE VIEW tg AS SELECT * FROM (VALUES (10, 'rock', 1.0), (10, 'guitar', 2.0), \
         (20, 'pop', 1.0), (20, 'guitar', 1.0), (30, 'rock', 1.0), (30, 'pop', 3.0)) AS t(item, tag, weight)",
        "CREATE VIEW plays AS SELECT * FROM (VALUES (1, 10, 1.0), (1, 20, 2.0), (2, 10, 1.0), \
         (2, 30, 1.0), (3, 20, 1.0), (3, 30, 4.0), (4, 30, 1.0)) AS t(\"user\", item, value)",
        "CREATE MODEL pop OPTIONS (type = 'mostpop') AS SELECT * FROM plays",
        "CREATE MODEL nn OPTIONS (type = 'inn', dim = 2, tags = 'tg') AS SELECT * FROM plays",
        "CREATE VIEW sleep AS SELECT v % 7 AS \"Days\", v % 5 AS \"Subject\", \
         250.0 + 10.0 * (v % 7) + (v * 37 % 11) AS \"Reaction\" FROM generate_series(1, 70) AS t(v)",
        "CREATE MODEL fit OPTIONS (type = 'lmer', formula = 'Reaction ~ Days + (1 | Subject)') \
         AS SELECT * FROM sleep",
        "CREATE TABLE clips AS SELECT v AS id, [0.1 * v, -0.2, 0.3, 0.05 * v, 0.0, 0.2] AS e \
         FROM generate_series(1, 40) AS t(v)",
        // Keep huge-but-valid sizes cheap to refuse.
        "SET trustql.memory_limit = '512MB'",
    ] {
        s.execute(sql)
            .await
            .unwrap_or_else(|e| panic!("fuzz set-up failed: {sql}: {e}"));
    }
}

#[test]
fn every_function_survives_adversarial_arguments() {
    let per_function = env_number("TRUSTQL_FUZZ_CASES", 30);
    let seed = env_number("TRUSTQL_FUZZ_SEED", 17);
    let slow = Duration::from_secs(env_number("TRUSTQL_FUZZ_TIMEOUT", 20));
    let verbose = std::env::var_os("TRUSTQL_FUZZ_VERBOSE").is_some();

    let previous = std::panic::take_hook();
    let panics: Arc<Mutex<Vec<String>>> = Arc::new(Mutex::new(Vec::new()));
    let seen = panics.clone();
    std::panic::set_hook(Box::new(move |info| {
        PANICS.fetch_add(1, Ordering::SeqCst);
        if let Ok(mut s) = seen.lock() {
            s.push(info.to_string());
        }
    }));

    let dir = tempfile::tempdir().unwrap();
    let damaged = dir.path().join("damaged.wav");
    // A RIFF/WAVE header whose fmt chunk says 0 channels at 0 Hz, then a truncated data chunk.
    let mut wav = b"RIFF\x24\x00\x00\x00WAVEfmt \x10\x00\x00\x00\x01\x00\x00\x00".to_vec();
    wav.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 16, 0]);
    wav.extend_from_slice(b"data\xff\xff\xff\x7f\x01\x02");
    std::fs::write(&damaged, &wav).unwrap();
    let garbage = dir.path().join("garbage.wav");
    let mut rng = StdRng::seed_from_u64(seed);
    let bytes: Vec<u8> = (0..4096).map(|_| rng.random()).collect();
    std::fs::write(&garbage, bytes).unwrap();
    let mut files = BTreeMap::new();
    files.insert("damaged", damaged.display().to_string());
    files.insert("garbage", garbage.display().to_string());
    files.insert("dir", dir.path().display().to_string());
    // Calls given a wrong argument may write a file at a relative path (`write_wav('=', ...)`
    // is a legal call): they land in the temporary folder, not in the checkout.
    std::env::set_current_dir(dir.path()).unwrap();

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let store = dir.path().join("models");
    let session = Session::with_options(SessionOptions {
        model_dir: store.clone(),
        progress: None,
        status: None,
    })
    .unwrap();
    runtime.block_on(setup(&session));

    // Every function of the library, from its registration, with its documented arity.
    let registry = Arc::new(trustql::registry::ModelRegistry::new(
        &store,
        trustql::trustql_udfs::model_types(),
    ));
    let mut functions: Vec<Function> = Vec::new();
    let mut add = |name: &str, kind: &'static str, syntax: Option<&str>| {
        let syntax = syntax.unwrap_or("f(a [, b [, c]])");
        functions.push(Function {
            name: name.to_string(),
            kind,
            arity: arity(syntax),
            parameters: parameters(syntax),
        });
    };
    for (name, kind, doc) in trustql::trustql_udfs::library(registry).functions() {
        add(
            &name,
            kind.name(),
            doc.as_ref().map(|d| d.syntax_example.as_str()),
        );
    }
    add("models", "table", Some("models()"));
    add("model_types", "table", Some("model_types()"));
    add("model_info", "table", Some("model_info(model)"));
    assert!(
        functions.len() > 60,
        "only {} functions found",
        functions.len()
    );
    // TRUSTQL_FUZZ_SKIP=name,name leaves functions out (to look past a known failure).
    let skip = std::env::var("TRUSTQL_FUZZ_SKIP").unwrap_or_default();
    let skip: Vec<&str> = skip.split(',').filter(|s| !s.is_empty()).collect();
    functions.retain(|f| !skip.contains(&f.name.as_str()));

    let cases = cases(&functions, per_function, seed, &files);
    let start = Instant::now();
    let mut failures = Vec::new();
    let mut outcomes: BTreeMap<&str, usize> = BTreeMap::new();
    for case in &cases {
        let before = PANICS.load(Ordering::SeqCst);
        let s = session.clone();
        let sql = case.sql.clone();
        let t0 = Instant::now();
        let result = runtime.block_on(async {
            let work = tokio::spawn(async move { s.execute(&sql).await.map(|_| ()) });
            match tokio::time::timeout(slow, work).await {
                Ok(Ok(r)) => Some(r.map_err(|e| e.to_string())),
                Ok(Err(join)) => Some(Err(format!("panicked: {join}"))),
                Err(_) => None,
            }
        });
        if verbose {
            let short = |s: &str| s.chars().take(300).collect::<String>();
            eprintln!(
                "{} -> {} ({:.2} s)",
                short(&case.sql),
                short(&format!("{result:?}")),
                t0.elapsed().as_secs_f64()
            );
        }
        if PANICS.load(Ordering::SeqCst) != before {
            let what = panics.lock().map(|p| p.last().cloned()).ok().flatten();
            failures.push(format!("{}: PANIC {what:?}", case.sql));
            continue;
        }
        match result {
            None => {
                session.cancel_flag().store(true, Ordering::SeqCst);
                failures.push(format!(
                    "{}: still running after {:.0} s",
                    case.sql,
                    t0.elapsed().as_secs_f64()
                ));
            }
            Some(Ok(())) => *outcomes.entry("ok").or_default() += 1,
            Some(Err(e)) if names_its_problem(&e) => *outcomes.entry("error").or_default() += 1,
            Some(Err(e)) => failures.push(format!(
                "{} ({}): unclear error: {e}",
                case.sql, case.function
            )),
        }
    }
    std::panic::set_hook(previous);
    eprintln!(
        "fuzz: {} cases over {} functions (seed {seed}) in {:.1} s: {} ok, {} clear errors, {} failures",
        cases.len(),
        functions.len(),
        start.elapsed().as_secs_f64(),
        outcomes.get("ok").unwrap_or(&0),
        outcomes.get("error").unwrap_or(&0),
        failures.len()
    );
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn parameters_read_documented_syntax() {
    assert_eq!(
        parameters("embed(encoder, audio [, sr])"),
        ["encoder", "audio", "sr"]
    );
    assert_eq!(
        parameters("bootstrap_ci('model', n, seed)"),
        ["model", "n", "seed"]
    );
    assert!(parameters("models()").is_empty());
}

#[test]
fn arity_reads_documented_syntax() {
    assert_eq!(arity("score(model, user, item)"), (3, 0));
    assert_eq!(arity("tau_ap(a, b)"), (2, 0));
    assert_eq!(arity("models()"), (0, 0));
    assert_eq!(arity("embed(model, audio[, sr])"), (2, 1));
    assert_eq!(arity("f(a [, b [, c]])"), (1, 2));
    assert_eq!(
        arity("quantile_normal(value [, n_quantiles]) OVER ([PARTITION BY group])"),
        (1, 1)
    );
    assert_eq!(
        parameters("quantile_normal(value [, n_quantiles]) OVER ([PARTITION BY group])"),
        ["value", "n_quantiles"]
    );
}
