//! Ctrl-C handling for the CLI and REPL.
//!
//! Why not `tokio::signal::ctrl_c()`: tokio delivers signals from its I/O driver, which only runs
//! on an idle worker thread; a CPU-bound query keeps every worker busy, so the signal would wait
//! for the query to finish. Here SIGINT is taken on a dedicated thread (the `ctrlc` crate), which
//! counts it and wakes the waiting statement directly.
//!
//! While a statement runs, Ctrl-C cancels it. When none runs, it ends a non-interactive run with
//! exit code 130, and is ignored by the REPL (whose line editor reads Ctrl-C as a key).
//!
//! The line editor (rustyline, built without its `signal-hook` feature) puts its own SIGINT
//! handler in place when the editor is created; the REPL then calls [`reclaim`] to put this
//! module's handler back. (With `signal-hook`, rustyline keeps SIGINT alone but waits for input
//! with `select` on the terminal while keys it has already read sit in its buffer: the rest of a
//! burst of keys, a paste or type-ahead, was stranded until the next key press.)

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::OnceLock;

use tokio::sync::Notify;

static INTERRUPTS: AtomicU64 = AtomicU64::new(0);
static RUNNING: AtomicBool = AtomicBool::new(false);
static EXIT_WHEN_IDLE: AtomicBool = AtomicBool::new(false);
/// The SIGINT disposition [`install`] set (the `ctrlc` crate's handler), for [`reclaim`].
#[cfg(unix)]
static HANDLER: OnceLock<libc::sigaction> = OnceLock::new();

fn notify() -> &'static Notify {
    static NOTIFY: OnceLock<Notify> = OnceLock::new();
    NOTIFY.get_or_init(Notify::new)
}

/// Installs the SIGINT handler (once per process). With `exit_when_idle`, a Ctrl-C while no
/// statement runs exits the process with code 130.
pub fn install(exit_when_idle: bool) -> Result<(), String> {
    EXIT_WHEN_IDLE.store(exit_when_idle, Ordering::SeqCst);
    static INSTALLED: OnceLock<Result<(), String>> = OnceLock::new();
    INSTALLED
        .get_or_init(|| {
            ctrlc::set_handler(|| {
                if !RUNNING.load(Ordering::SeqCst) && EXIT_WHEN_IDLE.load(Ordering::SeqCst) {
                    eprintln!("interrupted");
                    std::process::exit(130);
                }
                INTERRUPTS.fetch_add(1, Ordering::SeqCst);
                notify().notify_waiters();
            })
            .map_err(|e| format!("could not install the Ctrl-C handler: {e}"))?;
            #[cfg(unix)]
            {
                // SAFETY: reads the current disposition into a zeroed struct; changes nothing.
                let mut current: libc::sigaction = unsafe { std::mem::zeroed() };
                if unsafe { libc::sigaction(libc::SIGINT, std::ptr::null(), &mut current) } == 0 {
                    let _ = HANDLER.set(current);
                }
            }
            Ok(())
        })
        .clone()
}

/// Interrupts the running statement as Ctrl-C does, for a host that takes SIGINT itself (the
/// Python package: Python owns the signal and raises KeyboardInterrupt in the waiting thread).
/// Works without [`install`]; does nothing when no statement runs.
pub fn interrupt() {
    INTERRUPTS.fetch_add(1, Ordering::SeqCst);
    notify().notify_waiters();
}

/// Puts the handler of [`install`] back after a library replaced it (the line editor installs
/// its own when it is created). Does nothing before [`install`].
pub fn reclaim() {
    #[cfg(unix)]
    if let Some(handler) = HANDLER.get() {
        // SAFETY: restores a disposition read from the kernel by `install`; its handler is a
        // function of the `ctrlc` crate that lives as long as the process.
        unsafe { libc::sigaction(libc::SIGINT, handler, std::ptr::null_mut()) };
    }
}

/// Marks a statement as running until dropped; [`Running::interrupted`] resolves on Ctrl-C.
pub struct Running {
    generation: u64,
}

impl Running {
    pub fn start() -> Self {
        RUNNING.store(true, Ordering::SeqCst);
        Self {
            generation: INTERRUPTS.load(Ordering::SeqCst),
        }
    }

    /// Resolves when Ctrl-C is pressed after [`Running::start`] (never, if no handler is
    /// installed).
    pub async fn interrupted(&self) {
        loop {
            let notified = notify().notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if INTERRUPTS.load(Ordering::SeqCst) != self.generation {
                return;
            }
            notified.await;
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        RUNNING.store(false, Ordering::SeqCst);
    }
}
