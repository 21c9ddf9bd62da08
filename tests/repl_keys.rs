//! The REPL reads every key it is given, however the keys arrive: all at once (a paste without
//! bracketed-paste markers, a slow link that delivers keys in packets, a loaded machine) or typed
//! ahead while a statement runs. rustyline 17 with its `signal-hook` feature read a burst into
//! its buffer and then waited on the terminal for more, so the rest of the burst (the Enter
//! included) sat unread until the next key press; without `buffer-redux` it also dropped keys
//! read past the end of a line. This failed `tests/cancel_cpu.rs` on a loaded machine.

#![cfg(target_os = "linux")]

mod common;

use std::time::Duration;

use common::pty::{Repl, PROMPT};

#[test]
fn a_burst_of_keys_is_read_whole() {
    let dir = tempfile::tempdir().unwrap();
    let mut repl = Repl::start(dir.path());
    repl.wait_for(PROMPT, Duration::from_secs(60));
    repl.burst("SELECT 40 + 2 AS answer;\r");
    repl.wait_for("answer", Duration::from_secs(30));
    repl.wait_for("42", Duration::from_secs(30));
    // A statement over three lines, pasted at once.
    repl.burst("SELECT\r 6 * 7 + 100\r AS other;\r");
    repl.wait_for("other", Duration::from_secs(30));
    repl.wait_for("142", Duration::from_secs(30));
}

#[test]
fn statements_typed_ahead_while_one_runs_all_run_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let mut repl = Repl::start(dir.path());
    // About two seconds in a debug build.
    repl.send("SELECT count(*) AS n FROM generate_series(1, 3000000) a, generate_series(1, 3) b;");
    std::thread::sleep(Duration::from_millis(300));
    repl.burst("SELECT 40 + 2 AS answer;\rSELECT 6 * 7 + 100 AS other;\r");
    repl.wait_for("9000000", Duration::from_secs(120));
    repl.wait_done(Duration::from_secs(60));
    repl.wait_for("answer\r\n42\r\n", Duration::from_secs(30));
    repl.wait_for("other\r\n142\r\n", Duration::from_secs(30));
}
