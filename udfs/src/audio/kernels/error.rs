//! The audio domain's error: what the kernels (and the row functions built on them) report.
//! Its `Display` is the message a user sees after the function's name; the adapters turn it into
//! a [`DataFusionError`] once, at the edge (`From<AudioError> for DataFusionError`, an execution
//! error, or a planning error where the adapter checks literal arguments).

use datafusion::common::exec_datafusion_err;
use datafusion::error::DataFusionError;

/// An audio kernel's or audio function's error, by problem class.
#[derive(Debug, thiserror::Error)]
pub enum AudioError {
    /// The audio file does not exist.
    #[error("audio file {name} does not exist")]
    NotFound {
        /// The path as given.
        name: String,
    },
    /// The path names a folder.
    #[error("{name} is a folder, not an audio file")]
    Folder {
        /// The path as given.
        name: String,
    },
    /// The audio file exists but cannot be opened.
    #[error("cannot open audio file {name}: {source}")]
    Open {
        /// The path as given.
        name: String,
        /// Why.
        source: std::io::Error,
    },
    /// A file or stream that does not decode as audio (damaged, unsupported, empty).
    #[error("could not decode {name}: {reason}")]
    Undecodable {
        /// The path, or `<bytes>` for audio held in memory.
        name: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A WAV header that is damaged or describes an unsupported encoding (before the file is
    /// named: [`AudioError::Undecodable`] wraps it).
    #[error("{0}")]
    BadHeader(String),
    /// A sample that is NaN or infinite.
    #[error("{what}: sample {index} is not finite ({value})")]
    NotFinite {
        /// The clip it is in.
        what: String,
        /// Its position.
        index: usize,
        /// Its value.
        value: f32,
    },
    /// A parameter outside what the function or kernel accepts.
    #[error("{0}")]
    BadParameter(String),
    /// Input the kernel cannot work on: lengths or shapes that differ, too few samples or frames,
    /// NULL values inside a clip, silence where a level is needed.
    #[error("{0}")]
    BadInput(String),
    /// A result that is not finite because the input's values are too large.
    #[error("{0}")]
    Overflow(String),
    /// Work or a result beyond a size limit (the session's memory limit or a format's).
    #[error("{0}")]
    TooLarge(String),
    /// An encoder (WAV, MP3) that refused or failed.
    #[error("{0}")]
    Encode(String),
    /// A file that cannot be written.
    #[error("cannot write {name}: {source}")]
    Write {
        /// The path.
        name: String,
        /// Why.
        source: std::io::Error,
    },
    /// A model (an audio encoder from the session's store) that is unknown, of the wrong kind or
    /// failed; the message names it.
    #[error("{0}")]
    Model(String),
    /// The statement was cancelled.
    #[error("cancelled by the user")]
    Cancelled,
    /// A broken invariant (a bug).
    #[error("internal: {0}")]
    Internal(String),
    /// An error with what it happened to (`reference: ...`, `audio: ...`).
    #[error("{context}: {source}")]
    Context {
        /// What it happened to.
        context: String,
        /// The error.
        source: Box<AudioError>,
    },
}

impl AudioError {
    /// This error prefixed by `context` (`"{context}: {self}"`).
    pub fn context(self, context: impl Into<String>) -> AudioError {
        AudioError::Context {
            context: context.into(),
            source: Box::new(self),
        }
    }
}

/// The one conversion at the edge: an audio error is an execution error with the same message
/// (an adapter that checks literal arguments while planning makes a planning error instead).
impl From<AudioError> for DataFusionError {
    fn from(e: AudioError) -> DataFusionError {
        exec_datafusion_err!("{e}")
    }
}

/// [`crate::engine::memory::check_memory`] as an audio error ([`AudioError::TooLarge`]).
pub fn check_memory(what: &str, need: f64, limit: u64) -> Result<(), AudioError> {
    crate::engine::memory::check_memory(what, need, limit)
        .map_err(|e| AudioError::TooLarge(e.message().to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_keep_their_text() {
        let e = AudioError::BadParameter("n_fft must be at least 2, got 1".into());
        assert_eq!(e.to_string(), "n_fft must be at least 2, got 1");
        let e = AudioError::NotFinite {
            what: "clip".into(),
            index: 3,
            value: f32::NAN,
        }
        .context("reference");
        assert_eq!(
            e.to_string(),
            "reference: clip: sample 3 is not finite (NaN)"
        );
        let d: DataFusionError = AudioError::Cancelled.into();
        assert!(matches!(d, DataFusionError::Execution(_)), "{d:?}");
        assert_eq!(d.message(), "cancelled by the user");
    }
}
