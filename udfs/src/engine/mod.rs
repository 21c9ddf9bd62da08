//! Session-level settings shared by every function: which tensor device the session computes on,
//! and how much memory one function may plan to use (`trustql.memory_limit`).
//!
//! The device is a DataFusion config extension (`trustql.device`), so `SET trustql.device = 'cpu'`
//! works through DataFusion's own `SET` and every function sees the value at execution time.

pub mod config;
pub mod memory;
pub mod trustql_device;

pub use config::{resolve_device, DeviceSetting, TrustqlOptions};
pub use memory::{check_memory, memory_limit, MemoryLimit};

/// Adds `trustql_device()`.
pub fn register(lib: &mut crate::library::Library) {
    lib.scalar(trustql_device::TrustqlDeviceFunc::new());
}
