//! Progress of long statements, handed to Python by the thread that waits for the statement.
//!
//! trustql reports progress from whichever thread does the work (a tokio worker, a blocking
//! thread, rayon). Calling into Python from there would need the GIL, which the waiting thread
//! may hold, or which a datafusion-python query running trustql's functions may hold while it
//! waits for them: a deadlock. So reports are queued here and [`Reports::deliver`] passes them
//! to the Python callbacks from the waiting thread (see `runtime::run`), several times a
//! second and once at the end. The queue is bounded: status reports replace the one before
//! them, and past [`MAX_LINES`] queued lines the oldest are dropped (a session used only
//! through datafusion-python is never drained).

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use pyo3::prelude::*;
use trustql::trustql_udfs::common::progress::{Status, StatusSink};
use trustql::ProgressFn;

/// Lines kept waiting for delivery at most.
pub const MAX_LINES: usize = 1000;

enum Report {
    Line(String),
    /// `None`: the statement's work ended.
    Status(Option<Status>),
}

/// The queue of one session, with the Python callbacks that receive it.
pub struct Reports {
    queue: Mutex<VecDeque<Report>>,
    /// `on_line(text)`; `None` drops lines.
    on_line: Option<Py<PyAny>>,
    /// `on_status(task, unit, done, total, elapsed_seconds, line)` (`line` as the CLI prints
    /// it), and `on_status(None, ...)` when the work ends; `None` drops them.
    on_status: Option<Py<PyAny>>,
}

impl Reports {
    pub fn new(on_line: Option<Py<PyAny>>, on_status: Option<Py<PyAny>>) -> Arc<Self> {
        Arc::new(Self {
            queue: Mutex::new(VecDeque::new()),
            on_line,
            on_status,
        })
    }

    fn push(&self, report: Report) {
        let mut queue = match self.queue.lock() {
            Ok(q) => q,
            Err(p) => p.into_inner(),
        };
        if let Report::Status(_) = report {
            if let Some(Report::Status(_)) = queue.back() {
                queue.pop_back();
            }
        }
        queue.push_back(report);
        while queue.len() > MAX_LINES {
            queue.pop_front();
        }
    }

    /// The session's progress-line receiver.
    pub fn progress_fn(self: &Arc<Self>) -> Option<ProgressFn> {
        self.on_line.as_ref()?;
        let me = self.clone();
        Some(Arc::new(move |line: &str| {
            me.push(Report::Line(line.to_string()))
        }))
    }

    /// The session's status sink, reporting at most once per `interval`.
    pub fn status_sink(self: &Arc<Self>, interval: Duration) -> Option<StatusSink> {
        self.on_status.as_ref()?;
        let me = self.clone();
        Some(StatusSink {
            report: Arc::new(move |s: Option<&Status>| me.push(Report::Status(s.cloned()))),
            interval,
        })
    }

    /// Passes the queued reports to the callbacks. An exception raised by a callback is
    /// printed as "unraisable" (a broken progress bar must not fail the statement).
    pub fn deliver(&self, py: Python<'_>) {
        let drained: Vec<Report> = {
            let mut queue = match self.queue.lock() {
                Ok(q) => q,
                Err(p) => p.into_inner(),
            };
            queue.drain(..).collect()
        };
        for report in drained {
            let result = match report {
                Report::Line(line) => match &self.on_line {
                    Some(f) => f.call1(py, (line,)).map(drop),
                    None => Ok(()),
                },
                Report::Status(status) => match &self.on_status {
                    Some(f) => match status {
                        Some(s) => {
                            let line = s.line();
                            let elapsed = s.elapsed.as_secs_f64();
                            f.call1(py, (s.task, s.unit, s.done, s.total, elapsed, line))
                                .map(drop)
                        }
                        None => f
                            .call1(py, (py.None(), "", 0u64, py.None(), 0.0, ""))
                            .map(drop),
                    },
                    None => Ok(()),
                },
            };
            if let Err(e) = result {
                e.write_unraisable(py, None);
            }
        }
    }
}
