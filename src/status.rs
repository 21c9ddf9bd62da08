//! Where the CLI and the REPL show progress: finished steps as lines, and the status of long
//! work (rows done, rate, time left) as one line that rewrites itself on a terminal.
//!
//! It exists so that the two kinds of output share stderr without garbling it: a progress line
//! (a finished epoch, "fidelity(m, lime): 1892 rows in 41.2 s") first clears a status line that
//! is showing, and the status line is cleared when the statement ends, before its result or
//! error is printed. Status is shown on a terminal, or as plain lines when asked for
//! (`--progress`, e.g. when stderr goes to a log file); never in `-q`, and never to a pipe or
//! file unless asked.

use std::io::{IsTerminal, Write};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use trustql_udfs::common::progress::{Status, StatusSink};

use crate::ProgressFn;

/// How status reports are shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusMode {
    /// Not at all.
    Off,
    /// One line on the terminal, rewritten in place.
    Terminal,
    /// Each report a line of its own (for logs).
    Lines,
}

impl StatusMode {
    /// The CLI's choice: nothing when quiet; a rewritten line when stderr is a terminal; plain
    /// lines when stderr is not a terminal but `--progress` asked for them; otherwise nothing.
    pub fn choose(quiet: bool, asked: bool) -> StatusMode {
        if quiet {
            StatusMode::Off
        } else if std::io::stderr().is_terminal() {
            StatusMode::Terminal
        } else if asked {
            StatusMode::Lines
        } else {
            StatusMode::Off
        }
    }
}

/// The default least time between two status reports.
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(2);

/// stderr (or another writer), shared by progress lines and the status line.
pub struct StatusOutput {
    mode: StatusMode,
    /// The writer, and whether a status line is on the terminal now.
    out: Mutex<(Box<dyn Write + Send>, bool)>,
}

impl std::fmt::Debug for StatusOutput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StatusOutput")
            .field("mode", &self.mode)
            .finish()
    }
}

impl StatusOutput {
    /// Output to stderr.
    pub fn new(mode: StatusMode) -> Arc<StatusOutput> {
        Self::with_writer(mode, Box::new(std::io::stderr()))
    }

    /// Output to `writer`.
    pub fn with_writer(mode: StatusMode, writer: Box<dyn Write + Send>) -> Arc<StatusOutput> {
        Arc::new(StatusOutput {
            mode,
            out: Mutex::new((writer, false)),
        })
    }

    /// The session's progress line output: prints `line`, after clearing a status line that is
    /// showing.
    pub fn progress_fn(self: &Arc<Self>) -> ProgressFn {
        let out = self.clone();
        Arc::new(move |line: &str| out.line(line))
    }

    /// The session's status sink (none when the mode is off).
    pub fn sink(self: &Arc<Self>, interval: Duration) -> Option<StatusSink> {
        if self.mode == StatusMode::Off {
            return None;
        }
        let out = self.clone();
        Some(StatusSink {
            report: Arc::new(move |status: Option<&Status>| out.status(status)),
            interval,
        })
    }

    /// A progress line.
    pub fn line(&self, line: &str) {
        let mut guard = self.lock();
        let (out, showing) = &mut *guard;
        if *showing {
            let _ = write!(out, "{CLEAR}");
            *showing = false;
        }
        let _ = writeln!(out, "{line}");
        let _ = out.flush();
    }

    /// A status report, or (`None`) the end of the statement's work.
    fn status(&self, status: Option<&Status>) {
        let mut guard = self.lock();
        let (out, showing) = &mut *guard;
        match (self.mode, status) {
            (StatusMode::Off, _) | (StatusMode::Lines, None) => {}
            (StatusMode::Lines, Some(s)) => {
                let _ = writeln!(out, "{}", s.line());
            }
            (StatusMode::Terminal, Some(s)) => {
                // Cut to the terminal's width, so that `\r` returns to the line's start.
                let width = crate::print::terminal_width().unwrap_or(80).max(2);
                let line: String = s.line().chars().take(width - 1).collect();
                let _ = write!(out, "{CLEAR}{line}");
                *showing = true;
            }
            (StatusMode::Terminal, None) => {
                if *showing {
                    let _ = write!(out, "{CLEAR}");
                    *showing = false;
                }
            }
        }
        let _ = out.flush();
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, (Box<dyn Write + Send>, bool)> {
        match self.out.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        }
    }
}

/// Back to the start of the line, and erase it.
const CLEAR: &str = "\r\x1b[2K";

#[cfg(test)]
mod tests {
    use super::*;

    /// A writer whose bytes the test reads afterwards.
    #[derive(Clone, Default)]
    struct Shared(Arc<Mutex<Vec<u8>>>);

    impl Write for Shared {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    fn status(done: u64) -> Status {
        Status {
            task: "fidelity(m, lime)".to_string(),
            unit: "items",
            done,
            total: Some(10),
            elapsed: Duration::from_secs(1),
        }
    }

    fn written(mode: StatusMode, steps: impl Fn(&Arc<StatusOutput>)) -> String {
        let buf = Shared::default();
        let out = StatusOutput::with_writer(mode, Box::new(buf.clone()));
        steps(&out);
        let bytes = buf.0.lock().unwrap().clone();
        String::from_utf8(bytes).unwrap()
    }

    fn steps(out: &Arc<StatusOutput>) {
        let sink = out.sink(Duration::ZERO);
        let report = |s: Option<&Status>| {
            if let Some(sink) = &sink {
                (sink.report)(s)
            }
        };
        report(Some(&status(4)));
        report(Some(&status(8)));
        out.line("epoch 1/2");
        report(Some(&status(9)));
        report(None);
        out.line("done");
    }

    #[test]
    fn terminal_rewrites_one_line_and_clears_it_before_other_output() {
        let text = written(StatusMode::Terminal, steps);
        let expected = format!(
            "{CLEAR}fidelity(m, lime): 4 of 10 items (40 %), 4.0 items/s, about 2 s left\
             {CLEAR}fidelity(m, lime): 8 of 10 items (80 %), 8.0 items/s, almost done\
             {CLEAR}epoch 1/2\n\
             {CLEAR}fidelity(m, lime): 9 of 10 items (90 %), 9.0 items/s, almost done\
             {CLEAR}done\n"
        );
        assert_eq!(text, expected);
    }

    #[test]
    fn lines_mode_prints_each_report_and_off_prints_only_progress_lines() {
        let text = written(StatusMode::Lines, steps);
        assert_eq!(
            text,
            "fidelity(m, lime): 4 of 10 items (40 %), 4.0 items/s, about 2 s left\n\
             fidelity(m, lime): 8 of 10 items (80 %), 8.0 items/s, almost done\n\
             epoch 1/2\n\
             fidelity(m, lime): 9 of 10 items (90 %), 9.0 items/s, almost done\n\
             done\n"
        );
        assert_eq!(written(StatusMode::Off, steps), "epoch 1/2\ndone\n");
    }
}
