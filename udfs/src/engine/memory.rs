//! The session's memory limit, so that an option that sizes memory (samples, figure pixels, k,
//! dim, batch size, ...) is refused with a clear error before anything is allocated, instead of
//! the process aborting when the allocator fails.
//!
//! `SET trustql.memory_limit = '8GiB'` sets it; the default is half of the machine's physical
//! memory (read from `/proc/meminfo`; 8 GiB where that cannot be read). A function estimates what
//! an option needs and calls [`check_memory`], whose error names the option, the need and the
//! limit. Estimates count the largest buffers the work holds at once; they are not exact, and
//! the limit is a guard against mistakes, not an accounting of every byte.

use std::fmt;
use std::str::FromStr;

use datafusion::common::config::{ConfigField, Visit};
use datafusion::error::{DataFusionError, Result};

/// A number of bytes, as set by `SET trustql.memory_limit = '...'`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MemoryLimit(pub u64);

impl Default for MemoryLimit {
    fn default() -> Self {
        MemoryLimit(default_memory_limit())
    }
}

/// Half of the machine's physical memory, or 8 GiB when it cannot be read.
pub fn default_memory_limit() -> u64 {
    static LIMIT: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    *LIMIT.get_or_init(|| physical_memory().map(|m| m / 2).unwrap_or(8 << 30))
}

fn physical_memory() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = text.lines().find(|l| l.starts_with("MemTotal:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    kib.checked_mul(1024)
}

/// "1.5 GiB", "512 MiB", "900 B": what errors and `SHOW` print.
pub fn format_bytes(bytes: f64) -> String {
    const UNITS: [&str; 6] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
    let mut v = bytes.max(0.0);
    let mut unit = 0;
    while v >= 1024.0 && unit + 1 < UNITS.len() {
        v /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{v:.0} B")
    } else if v >= 100.0 {
        format!("{v:.0} {}", UNITS[unit])
    } else {
        format!("{v:.1} {}", UNITS[unit])
    }
}

impl fmt::Display for MemoryLimit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Exact, so that what SHOW prints parses back to the same limit.
        write!(f, "{}", self.0)
    }
}

impl FromStr for MemoryLimit {
    type Err = DataFusionError;

    /// Bytes, or a number with a unit: `'123456'`, `'512MB'`, `'8 GiB'`, `'1.5G'` (K, M, G, T
    /// with or without B are powers of 1024, like their -iB forms).
    fn from_str(s: &str) -> Result<Self> {
        let bad = || {
            DataFusionError::Configuration(format!(
                "trustql.memory_limit expects a size such as '8GiB', '512MB' or a number of bytes, got '{s}'"
            ))
        };
        let t = s.trim();
        let split = t
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(t.len());
        let (number, unit) = t.split_at(split);
        let value: f64 = number.parse().map_err(|_| bad())?;
        let scale: f64 = match unit.trim().to_ascii_lowercase().as_str() {
            "" | "b" => 1.0,
            "k" | "kb" | "kib" => 1024.0,
            "m" | "mb" | "mib" => 1024.0 * 1024.0,
            "g" | "gb" | "gib" => 1024.0 * 1024.0 * 1024.0,
            "t" | "tb" | "tib" => 1024.0 * 1024.0 * 1024.0 * 1024.0,
            _ => return Err(bad()),
        };
        let bytes = value * scale;
        if !bytes.is_finite() || bytes < 1.0 || bytes >= u64::MAX as f64 {
            return Err(bad());
        }
        Ok(MemoryLimit(bytes as u64))
    }
}

impl ConfigField for MemoryLimit {
    fn visit<V: Visit>(&self, v: &mut V, key: &str, description: &'static str) {
        v.some(key, self, description)
    }

    fn set(&mut self, _key: &str, value: &str) -> Result<()> {
        *self = value.parse()?;
        Ok(())
    }
}

/// The memory limit found in a session's config options (the default when the trustql
/// extension is absent, as on a plain DataFusion context).
pub fn memory_limit(options: &datafusion::config::ConfigOptions) -> u64 {
    options
        .extensions
        .get::<super::config::TrustqlOptions>()
        .map(|o| o.memory_limit.0)
        .unwrap_or_else(default_memory_limit)
}

/// An error when `need` bytes (an estimate; `f64` so that products of huge options cannot
/// overflow) exceed `limit`. `what` names the option and its value, for example
/// `"option 'samples' = 100000000"`.
pub fn check_memory(what: &str, need: f64, limit: u64) -> Result<()> {
    if need.is_finite() && need <= limit as f64 {
        return Ok(());
    }
    Err(DataFusionError::ResourcesExhausted(format!(
        "{what} needs about {} of memory, over the session's limit of {} \
         (trustql.memory_limit; SET trustql.memory_limit = '...' to change it)",
        if need.is_finite() {
            format_bytes(need)
        } else {
            "an unbounded amount".to_string()
        },
        format_bytes(limit as f64)
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_sizes() {
        assert_eq!("123".parse::<MemoryLimit>().unwrap().0, 123);
        assert_eq!("2KiB".parse::<MemoryLimit>().unwrap().0, 2048);
        assert_eq!("1.5 G".parse::<MemoryLimit>().unwrap().0, 3 << 29);
        assert_eq!("8gb".parse::<MemoryLimit>().unwrap().0, 8 << 30);
        for bad in ["", "x", "-1", "0", "1.2.3GB", "5 parsecs", "1e300"] {
            let e = bad.parse::<MemoryLimit>().unwrap_err().to_string();
            assert!(
                e.contains("trustql.memory_limit expects a size"),
                "{bad}: {e}"
            );
        }
        let limit = MemoryLimit(12345);
        assert_eq!(limit.to_string().parse::<MemoryLimit>().unwrap(), limit);
    }

    #[test]
    fn errors_name_the_option_the_need_and_the_limit() {
        assert!(check_memory("x", 1024.0, 1024).is_ok());
        let e = check_memory("option 'samples' = 100000000", 18.5e9, 8 << 30)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("option 'samples' = 100000000 needs about 17.2 GiB")
                && e.contains("limit of 8.0 GiB")
                && e.contains("trustql.memory_limit"),
            "{e}"
        );
        assert!(check_memory("x", f64::INFINITY, u64::MAX).is_err());
        assert!(check_memory("x", f64::NAN, u64::MAX).is_err());
    }

    #[test]
    fn default_is_a_share_of_the_machine() {
        let d = default_memory_limit();
        assert!(d >= 1 << 20);
        if let Some(m) = physical_memory() {
            assert_eq!(d, m / 2);
        }
    }
}
