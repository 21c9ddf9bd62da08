//! The REPL in a pseudo-terminal, driven as a person at a terminal would drive it: for the tests
//! of what only happens on a terminal (the line editor's key handling, Ctrl-C).

use std::io::{Read, Write};
use std::os::fd::{FromRawFd, OwnedFd};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{channel, Receiver};
use std::time::{Duration, Instant};

/// What the REPL shows when it waits for a new statement.
pub const PROMPT: &str = "trustql> ";

/// A `trustql` REPL on the slave side of a pseudo-terminal; the test holds the master side.
pub struct Repl {
    child: Child,
    master: std::fs::File,
    output: Receiver<String>,
    seen: String,
}

impl Repl {
    /// Starts the REPL with its model store (and history) in `models`.
    pub fn start(models: &std::path::Path) -> Repl {
        let (mut master, mut slave) = (0, 0);
        // SAFETY: openpty writes two descriptors into the integers given; no names or sizes.
        let rc = unsafe {
            libc::openpty(
                &mut master,
                &mut slave,
                std::ptr::null_mut(),
                std::ptr::null(),
                std::ptr::null(),
            )
        };
        assert_eq!(rc, 0, "openpty failed");
        // SAFETY: both descriptors were just opened by openpty and are owned here only.
        let slave = unsafe { OwnedFd::from_raw_fd(slave) };
        let master = unsafe { std::fs::File::from_raw_fd(master) };
        let child = Command::new(env!("CARGO_BIN_EXE_trustql"))
            .arg("--models")
            .arg(models)
            .args(["--format", "csv"])
            .env_remove("LD_LIBRARY_PATH")
            .env("NO_COLOR", "1")
            .env("TRUSTQL_HISTORY", models.join("history"))
            .stdin(Stdio::from(slave.try_clone().unwrap()))
            .stdout(Stdio::from(slave.try_clone().unwrap()))
            .stderr(Stdio::from(slave))
            .spawn()
            .expect("trustql starts");
        let mut reader = master.try_clone().unwrap();
        let (tx, rx) = channel();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = reader.read(&mut buf) {
                let chunk = String::from_utf8_lossy(&buf[..n]).into_owned();
                // The line editor asks the terminal where the cursor is; answer as a terminal.
                if chunk.contains("\x1b[6n") {
                    let _ = reader.write_all(b"\x1b[1;1R");
                }
                if n == 0 || tx.send(chunk).is_err() {
                    break;
                }
            }
        });
        Repl {
            child,
            master,
            output: rx,
            seen: String::new(),
        }
    }

    /// Waits for the prompt, then types `line` and Enter a key at a time, as a person does
    /// (typing before the prompt could cross the line editor's question about the cursor).
    pub fn send(&mut self, line: &str) {
        self.wait_for(PROMPT, Duration::from_secs(120));
        for b in line.bytes().chain(std::iter::once(b'\r')) {
            self.master.write_all(&[b]).unwrap();
            self.master.flush().unwrap();
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    /// Writes `keys` to the terminal in one write, without waiting for anything: a paste
    /// without bracketed-paste markers, or keys typed ahead while a statement runs.
    pub fn burst(&mut self, keys: &str) {
        self.master.write_all(keys.as_bytes()).unwrap();
        self.master.flush().unwrap();
    }

    /// Waits until the terminal has shown `text` (after what was waited for before).
    pub fn wait_for(&mut self, text: &str, limit: Duration) {
        self.wait_until(limit, &format!("'{text}' not shown"), |seen| {
            seen.find(text).map(|at| at + text.len())
        });
    }

    /// Waits until the statement typed last has finished: the REPL prints "N rows in T s" or
    /// "OK in T s". An error fails the test.
    pub fn wait_done(&mut self, limit: Duration) {
        self.wait_until(limit, "no statement finished", |seen| {
            for (at, line) in seen.match_indices('\n').map(|(i, _)| i).zip(seen.lines()) {
                let line = line.trim();
                if line.starts_with("Error") {
                    panic!("the statement failed: {line}");
                }
                let finished = line.ends_with(" s")
                    && line.contains(" in ")
                    && (line.starts_with("OK")
                        || line.chars().next().is_some_and(|c| c.is_ascii_digit()));
                if finished {
                    return Some(at + 1);
                }
            }
            None
        });
    }

    /// Reads the terminal until `found` reports where what it looks for ends in the output not
    /// yet consumed, then consumes the output up to there; fails with `what` after `limit`.
    fn wait_until(
        &mut self,
        limit: Duration,
        what: &str,
        mut found: impl FnMut(&str) -> Option<usize>,
    ) {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(end) = found(&self.seen) {
                self.seen.drain(..end);
                return;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            match self.output.recv_timeout(left) {
                Ok(chunk) => self.seen.push_str(&chunk),
                Err(_) => panic!(
                    "{what} within {limit:?}; the terminal showed:\n{:?}",
                    self.seen
                ),
            }
        }
    }

    /// The REPL's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Repl {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
