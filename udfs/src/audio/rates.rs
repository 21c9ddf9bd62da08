//! The range of sample rates the audio functions accept, in its own module so that both
//! `read_audio` and the Arrow adapter can use it without importing each other.

/// The accepted range of sample rates.
pub const SAMPLE_RATES: std::ops::RangeInclusive<i64> = 1_000..=384_000;
