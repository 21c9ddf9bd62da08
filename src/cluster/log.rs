//! Log lines of the scheduler and executor processes (Ballista's and DataFusion's `log`
//! records) on stderr, at a level from `--log-level` or `RUST_LOG` (`error`, `warn`, `info`,
//! `debug`, `trace`); a process that runs for days needs them to say what it did.

use std::io::Write;

struct Stderr {
    level: log::LevelFilter,
}

impl log::Log for Stderr {
    fn enabled(&self, metadata: &log::Metadata) -> bool {
        metadata.level() <= self.level
    }

    fn log(&self, record: &log::Record) {
        if !self.enabled(record.metadata()) {
            return;
        }
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        let line = format!(
            "{}.{:03} {:5} {}: {}\n",
            now.as_secs(),
            now.subsec_millis(),
            record.level(),
            record.target(),
            record.args()
        );
        // A log line that cannot be written is dropped: there is nowhere else to report it.
        let _ = std::io::stderr().lock().write_all(line.as_bytes());
    }

    fn flush(&self) {}
}

/// Sends log records at `level` and above to stderr; an unknown level is an error naming it.
pub fn init(level: &str) -> Result<(), String> {
    let level: log::LevelFilter = level.parse().map_err(|_| {
        format!("unknown log level '{level}': expected off, error, warn, info, debug or trace")
    })?;
    log::set_boxed_logger(Box::new(Stderr { level }))
        .map_err(|e| format!("could not set up logging: {e}"))?;
    log::set_max_level(level);
    Ok(())
}
