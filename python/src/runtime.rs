//! The module's tokio runtime, and waiting for a statement from Python.
//!
//! A statement runs as a task on the runtime; the calling Python thread waits for it without
//! the GIL (other Python threads go on), and every [`POLL`] takes the GIL back for a moment to
//! deliver progress ([`crate::reports`]) and to check for signals. On Ctrl-C
//! (KeyboardInterrupt, also a notebook's "interrupt kernel") the session's cancel flag is set,
//! which stops trustql's long work at its next check, the task is aborted, which drops the
//! query's streams, a script's running statement is interrupted as the CLI's Ctrl-C does, and the KeyboardInterrupt is raised; the session is usable at once.

use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, RecvTimeoutError};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use datafusion::error::Result;
use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use tokio::runtime::Runtime;

use crate::reports::Reports;

/// How often the waiting thread looks for Ctrl-C and delivers progress.
const POLL: Duration = Duration::from_millis(50);

static RUNTIME: OnceLock<std::result::Result<Runtime, String>> = OnceLock::new();

/// The runtime every statement and every exported function of this module runs on.
pub fn runtime() -> PyResult<&'static Runtime> {
    RUNTIME
        .get_or_init(|| {
            tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .thread_name("trustql")
                .build()
                .map_err(|e| format!("trustql could not start its runtime: {e}"))
        })
        .as_ref()
        .map_err(|e| PyRuntimeError::new_err(e.clone()))
}

/// Runs `work` on the runtime and waits for it as the module docs say. The outer error is
/// Python's (KeyboardInterrupt, a runtime that cannot start); the inner one is trustql's.
pub fn run<T, F>(
    py: Python<'_>,
    cancel: &Arc<AtomicBool>,
    reports: &Reports,
    work: F,
) -> PyResult<Result<T>>
where
    T: Send + 'static,
    F: Future<Output = Result<T>> + Send + 'static,
{
    let rt = runtime()?;
    let (tx, rx) = sync_channel(1);
    let task = rt.spawn(async move {
        // The receiver is gone only when the caller was interrupted.
        let _ = tx.send(work.await);
    });
    let mut rx: Receiver<Result<T>> = rx;
    loop {
        let (back, received) = py.detach(move || {
            let r = rx.recv_timeout(POLL);
            (rx, r)
        });
        rx = back;
        reports.deliver(py);
        match received {
            Ok(result) => return Ok(result),
            Err(RecvTimeoutError::Disconnected) => {
                return Err(PyRuntimeError::new_err(
                    "internal error: the statement's task ended without a result (it panicked); \
                     please report it",
                ))
            }
            Err(RecvTimeoutError::Timeout) => {}
        }
        if let Err(interrupt) = py.check_signals() {
            cancel.store(true, Ordering::SeqCst);
            // A script's statements watch trustql's own interrupt (as in the CLI).
            trustql::interrupt::interrupt();
            task.abort();
            return Err(interrupt);
        }
    }
}
