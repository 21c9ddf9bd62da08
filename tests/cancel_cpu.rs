//! Ctrl-C stops the work, not just the output: the REPL runs in a pseudo-terminal, a long
//! statement is interrupted with SIGINT (what the terminal sends on Ctrl-C) once it has used a
//! few seconds of CPU, and the process's CPU time (from /proc) must then stop growing within a
//! second, for each kind of long work: fidelity with LIME and saliency, explainers over many users,
//! training of the model types, `recommend` over every user, and a row function over a large
//! cross join. The session must then answer the next statement. (Fidelity with PDP takes about
//! a second for 20,000 users in a debug build, too short to interrupt here; its cancellation
//! checks are tested in `udfs/tests/explain.rs`.)

#![cfg(target_os = "linux")]

mod common;

use std::time::{Duration, Instant};

use common::pty::Repl;

/// CPU seconds (user + system) the process has used so far.
fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name (which is in parentheses and may hold spaces).
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the whole line, 12 and 13 after ')'.
    let ticks: f64 = [11, 12]
        .iter()
        .filter_map(|&i| fields.get(i).and_then(|v| v.parse::<f64>().ok()))
        .sum();
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
    ticks / hz.max(1.0)
}

const SETUP: &[&str] = &[
    "CREATE TABLE plays AS SELECT v % 600 AS \"user\", (v * 7919) % 2000 AS item, 1.0 AS value FROM generate_series(1, 60000) AS t(v);",
    "CREATE TABLE tg AS SELECT DISTINCT item, item % 37 AS tag, 1.0 AS weight FROM plays;",
    "CREATE MODEL ncf OPTIONS (type = 'ncf', dim = 16, epochs = 1, hidden = 64, tags = 'tg') AS SELECT * FROM plays;",
    "CREATE MODEL unn OPTIONS (type = 'unn', dim = 16, tags = 'tg') AS SELECT * FROM plays;",
    "CREATE MODEL fm OPTIONS (type = 'fm', dim = 16, epochs = 1, tags = 'tg') AS SELECT * FROM plays;",
    "CREATE TABLE big AS SELECT v % 20000 AS \"user\", (v * 7919) % 5000 AS item, 1.0 AS value FROM generate_series(1, 400000) AS t(v);",
    "CREATE TABLE tgb AS SELECT DISTINCT item, item % 37 AS tag, 1.0 AS weight FROM big;",
    "CREATE MODEL unnbig OPTIONS (type = 'unn', dim = 16, tags = 'tgb') AS SELECT * FROM big;",
];

/// `recommend` for 20,000 users, 40 times (each call with its own k is its own scan).
fn recommend_many() -> String {
    let calls: Vec<String> = (100..140)
        .map(|k| format!("SELECT \"user\" FROM recommend('unnbig', {k})"))
        .collect();
    format!("SELECT count(*) FROM ({}) t;", calls.join(" UNION ALL "))
}

/// Long statements, each of which runs for minutes.
const LONG: &[(&str, &str)] = &[
    ("fidelity lime (ncf)", "SELECT avg(fidelity('ncf', 'lime', u, 8)) FROM (SELECT DISTINCT \"user\" AS u FROM plays) t;"),
    ("fidelity saliency (unn, 20,000 users)", "SELECT avg(fidelity('unnbig', 'saliency', u, 8)) FROM (SELECT DISTINCT \"user\" AS u FROM big) t;"),
    ("explain_lime over users", "SELECT count(explain_lime('ncf', u, i, 4, 'samples = 20000')) FROM (SELECT DISTINCT \"user\" AS u FROM plays) a, (SELECT DISTINCT item AS i FROM plays LIMIT 50) b;"),
    ("training fm", "CREATE MODEL fm2 OPTIONS (type = 'fm', dim = 32, epochs = 100000, tags = 'tg') AS SELECT * FROM plays;"),
    ("training ncf", "CREATE MODEL ncf2 OPTIONS (type = 'ncf', dim = 32, epochs = 100000, hidden = 128, tags = 'tg') AS SELECT * FROM plays;"),
    ("score over a cross join", "SELECT sum(score('ncf', u, i)) FROM (SELECT v AS u FROM generate_series(1, 600) AS t(v)) a, (SELECT DISTINCT item AS i FROM plays) b, generate_series(1, 50) c;"),
];

#[test]
fn ctrl_c_leaves_the_cpu_idle_within_a_second() {
    let dir = tempfile::tempdir().unwrap();
    let mut failures = Vec::new();
    let mut repl = Repl::start(dir.path());
    for s in SETUP {
        repl.send(s);
        repl.wait_done(Duration::from_secs(600));
    }
    let recommend = recommend_many();
    let long = LONG
        .iter()
        .map(|(n, s)| (*n, *s))
        .chain(std::iter::once(("recommend", recommend.as_str())));
    for (name, sql) in long {
        let before = cpu_seconds(repl.pid());
        repl.send(sql);
        // Let the work get going: two seconds of CPU (at most 60 s of waiting).
        let start = Instant::now();
        while cpu_seconds(repl.pid()) - before < 2.0 && start.elapsed() < Duration::from_secs(60) {
            std::thread::sleep(Duration::from_millis(100));
        }
        unsafe {
            libc::kill(repl.pid() as i32, libc::SIGINT);
        }
        repl.wait_for("cancelled", Duration::from_secs(10));
        std::thread::sleep(Duration::from_secs(1));
        let a = cpu_seconds(repl.pid());
        std::thread::sleep(Duration::from_secs(2));
        let busy = cpu_seconds(repl.pid()) - a;
        if busy > 0.2 {
            failures.push(format!(
                "{name}: {busy:.2} s of CPU in the 2 s from 1 s after Ctrl-C"
            ));
        }
        // The session answers the next statement.
        repl.send("SELECT 40 + 2 AS answer;");
        repl.wait_for("42", Duration::from_secs(60));
    }
    repl.send("\\q");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
