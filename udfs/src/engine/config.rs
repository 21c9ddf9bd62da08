//! The `trustql.*` configuration namespace.

use std::fmt;
use std::str::FromStr;

use datafusion::common::config::{
    ConfigEntry, ConfigExtension, ConfigField, ExtensionOptions, Visit,
};
use datafusion::common::{exec_datafusion_err, exec_err};
use datafusion::error::{DataFusionError, Result};
use datafusion::execution::config::SessionConfig;

/// Which device tensor work runs on, as set by `SET trustql.device = '...'`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DeviceSetting {
    /// CUDA device 0 when libtorch sees a GPU, else the CPU (the default).
    #[default]
    Auto,
    /// Always the CPU.
    Cpu,
    /// A CUDA device (an error at use when no GPU is visible).
    Cuda(usize),
}

impl fmt::Display for DeviceSetting {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DeviceSetting::Auto => write!(f, "auto"),
            DeviceSetting::Cpu => write!(f, "cpu"),
            DeviceSetting::Cuda(0) => write!(f, "cuda"),
            DeviceSetting::Cuda(i) => write!(f, "cuda:{i}"),
        }
    }
}

impl FromStr for DeviceSetting {
    type Err = DataFusionError;

    fn from_str(s: &str) -> Result<Self> {
        let v = s.trim().to_ascii_lowercase();
        match v.as_str() {
            "auto" => Ok(DeviceSetting::Auto),
            "cpu" => Ok(DeviceSetting::Cpu),
            "cuda" | "gpu" => Ok(DeviceSetting::Cuda(0)),
            _ => match v.strip_prefix("cuda:").map(str::parse::<usize>) {
                Some(Ok(i)) => Ok(DeviceSetting::Cuda(i)),
                _ => Err(DataFusionError::Configuration(format!(
                    "unknown device '{s}' for trustql.device: expected 'auto', 'cpu', 'cuda' or 'cuda:N'"
                ))),
            },
        }
    }
}

impl ConfigField for DeviceSetting {
    fn visit<V: Visit>(&self, v: &mut V, key: &str, description: &'static str) {
        v.some(key, self, description)
    }

    fn set(&mut self, _key: &str, value: &str) -> Result<()> {
        *self = value.parse()?;
        Ok(())
    }
}

const DEVICE_DOC: &str =
    "Tensor device: 'auto' (CUDA when available, else CPU), 'cpu', 'cuda' or 'cuda:N'.";
const MEMORY_LIMIT_DOC: &str = "Most memory one function or training may plan to use (bytes, or \
     '8GiB', '512MB'); an option that would need more is refused before allocating. Default: \
     half the machine's memory.";

/// Options under the `trustql.` prefix.
///
/// Written out rather than with DataFusion's `extensions_options!`, whose entries leave the
/// prefix out (`device` rather than `trustql.device`): with them `SHOW trustql.device` found
/// nothing, `information_schema.df_settings` listed bare names, and a cluster scheduler, which
/// forwards a session's settings to its executors as the entries' key/value pairs, sent keys that
/// the executors could not set (and dropped).
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct TrustqlOptions {
    /// Tensor device (see `DEVICE_DOC`).
    pub device: DeviceSetting,
    /// Memory limit in bytes (see `MEMORY_LIMIT_DOC`).
    pub memory_limit: super::memory::MemoryLimit,
}

impl ExtensionOptions for TrustqlOptions {
    fn as_any(&self) -> &dyn std::any::Any {
        self
    }

    fn as_any_mut(&mut self) -> &mut dyn std::any::Any {
        self
    }

    fn cloned(&self) -> Box<dyn ExtensionOptions> {
        Box::new(self.clone())
    }

    fn set(&mut self, key: &str, value: &str) -> Result<()> {
        match key {
            "device" => ConfigField::set(&mut self.device, key, value),
            "memory_limit" => ConfigField::set(&mut self.memory_limit, key, value),
            _ => Err(DataFusionError::Configuration(format!(
                "unknown setting 'trustql.{key}': the trustql settings are trustql.device and \
                 trustql.memory_limit"
            ))),
        }
    }

    fn entries(&self) -> Vec<ConfigEntry> {
        vec![
            ConfigEntry {
                key: format!("{}.device", Self::PREFIX),
                value: Some(self.device.to_string()),
                description: DEVICE_DOC,
            },
            ConfigEntry {
                key: format!("{}.memory_limit", Self::PREFIX),
                value: Some(self.memory_limit.to_string()),
                description: MEMORY_LIMIT_DOC,
            },
        ]
    }
}

impl ConfigExtension for TrustqlOptions {
    const PREFIX: &'static str = "trustql";
}

/// A DataFusion `SessionConfig` carrying the `trustql.*` options, with information_schema on
/// (so `SHOW FUNCTIONS`, `SHOW TABLES` and `SHOW ALL` work).
pub fn session_config() -> SessionConfig {
    SessionConfig::new()
        .with_information_schema(true)
        .with_option_extension(TrustqlOptions::default())
}

/// The tch device a setting stands for on this machine.
pub fn resolve_device(setting: DeviceSetting) -> Result<tch::Device> {
    match setting {
        DeviceSetting::Cpu => Ok(tch::Device::Cpu),
        DeviceSetting::Auto => Ok(if tch::Cuda::is_available() {
            tch::Device::Cuda(0)
        } else {
            tch::Device::Cpu
        }),
        DeviceSetting::Cuda(i) => {
            let n = if tch::Cuda::is_available() {
                usize::try_from(tch::Cuda::device_count()).unwrap_or(0)
            } else {
                0
            };
            if i < n {
                Ok(tch::Device::Cuda(i))
            } else if n == 0 {
                exec_err!(
                    "trustql.device is 'cuda' but libtorch sees no CUDA device on this machine; \
                     use SET trustql.device = 'cpu' or 'auto'"
                )
            } else {
                Err(exec_datafusion_err!(
                    "trustql.device is 'cuda:{i}' but only {n} CUDA device(s) are visible"
                ))
            }
        }
    }
}

/// The device setting found in a session's config options (`Auto` when the extension is absent).
pub fn device_setting(options: &datafusion::config::ConfigOptions) -> DeviceSetting {
    options
        .extensions
        .get::<TrustqlOptions>()
        .map(|o| o.device)
        .unwrap_or_default()
}

/// Human name of a tch device, as `trustql_device()` prints it.
pub fn device_name(device: tch::Device) -> String {
    match device {
        tch::Device::Cpu => "cpu".to_string(),
        tch::Device::Cuda(0) => "cuda".to_string(),
        tch::Device::Cuda(i) => format!("cuda:{i}"),
        other => format!("{other:?}").to_lowercase(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_prints_settings() {
        for (s, d) in [
            ("auto", DeviceSetting::Auto),
            ("CPU", DeviceSetting::Cpu),
            ("cuda", DeviceSetting::Cuda(0)),
            ("cuda:1", DeviceSetting::Cuda(1)),
        ] {
            assert_eq!(s.parse::<DeviceSetting>().ok(), Some(d));
        }
        assert_eq!(DeviceSetting::Cuda(2).to_string(), "cuda:2");
        let err = "tpu".parse::<DeviceSetting>().unwrap_err().to_string();
        assert!(err.contains("unknown device 'tpu'"), "{err}");
        assert!("cuda:x".parse::<DeviceSetting>().is_err());
    }

    #[test]
    fn cpu_always_resolves() {
        assert_eq!(
            resolve_device(DeviceSetting::Cpu).ok(),
            Some(tch::Device::Cpu)
        );
    }
}
