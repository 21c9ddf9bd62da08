//! The numeric kernels of the audio functions: plain Rust on slices and [`frames::Frames`],
//! no Arrow, each checked against librosa's outputs in `shared/reference/audio`, reference values
//! of other tools kept in `udfs/tests/data/audio`, or brute-force definitions in its tests.

pub mod codec;
pub mod consistency;
pub mod distance;
pub mod dtw;
pub mod frames;
pub mod loudness;
pub mod mel;
pub mod mfcc;
pub mod noise;
pub mod resample;
pub mod simple;
pub mod stft;
#[cfg(test)]
pub mod testdata;
pub mod vocoder;
