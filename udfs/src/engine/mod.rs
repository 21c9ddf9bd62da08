//! Session-level settings shared by every function: which tensor device the session computes on.
//!
//! The device is a DataFusion config extension (`trustql.device`), so `SET trustql.device = 'cpu'`
//! works through DataFusion's own `SET` and every function sees the value at execution time.

pub mod config;
pub mod trustql_device;

pub use config::{resolve_device, DeviceSetting, TrustqlOptions};
