//! The on-disk model format, so that a model trained once is reused by later sessions and
//! scripts, and so that no crash or full disk ever leaves a half-written model behind.
//!
//! A model file `<name>.tqm` is:
//!
//! | bytes | content |
//! |---|---|
//! | 8 | magic `TRUSTQLM` |
//! | 4 | format version, u32 little-endian (currently 1) |
//! | 4 | header length H, u32 little-endian |
//! | H | header, JSON ([`ModelHeader`]: name, type, options, training facts, payload length) |
//! | P | payload: the model type's own encoding of its parameters |
//! | 4 | CRC-32 of every byte before it, u32 little-endian |
//!
//! Writes go to a temporary file in the same directory, are flushed to disk, and then renamed
//! over the old file (an atomic replace on POSIX file systems), after which the directory is
//! synced; a reader sees either the old model or the new one, never a mix.

use datafusion::common::exec_datafusion_err;
use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use datafusion::error::{DataFusionError, Result};
use serde::{Deserialize, Serialize};
use trustql_udfs::model::ModelOptions;

const MAGIC: &[u8; 8] = b"TRUSTQLM";
/// The format version this build writes and reads.
pub const FORMAT_VERSION: u32 = 1;
/// File name extension of model files.
pub const EXTENSION: &str = "tqm";

/// Everything about a model except its parameters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelHeader {
    pub name: String,
    pub model_type: String,
    pub options: ModelOptions,
    pub training: BTreeMap<String, String>,
    /// Seconds since the Unix epoch.
    pub created_unix: u64,
    pub trustql_version: String,
    pub payload_len: u64,
}

impl ModelHeader {
    pub fn new(
        name: &str,
        model_type: &str,
        options: ModelOptions,
        training: BTreeMap<String, String>,
    ) -> Self {
        Self {
            name: name.to_string(),
            model_type: model_type.to_string(),
            options,
            training,
            created_unix: SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or(0),
            trustql_version: env!("CARGO_PKG_VERSION").to_string(),
            payload_len: 0,
        }
    }
}

fn corrupt(path: &Path, why: &str) -> DataFusionError {
    exec_datafusion_err!(
        "model file {} is not a readable trustql model: {why}",
        path.display()
    )
}

fn io_error(path: &Path, what: &str, e: std::io::Error) -> DataFusionError {
    exec_datafusion_err!("could not {what} {}: {e}", path.display())
}

/// Encodes a model file in memory.
fn encode(header: &ModelHeader, payload: &[u8]) -> Result<Vec<u8>> {
    let mut header = header.clone();
    header.payload_len = payload.len() as u64;
    let json = serde_json::to_vec(&header)
        .map_err(|e| exec_datafusion_err!("could not encode the model header: {e}"))?;
    let header_len = u32::try_from(json.len())
        .map_err(|_| DataFusionError::Execution("model header too large".to_string()))?;
    let mut bytes = Vec::with_capacity(20 + json.len() + payload.len());
    bytes.extend_from_slice(MAGIC);
    bytes.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
    bytes.extend_from_slice(&header_len.to_le_bytes());
    bytes.extend_from_slice(&json);
    bytes.extend_from_slice(payload);
    let crc = crc32fast::hash(&bytes);
    bytes.extend_from_slice(&crc.to_le_bytes());
    Ok(bytes)
}

/// Writes a model file atomically (temporary file, fsync, rename, fsync of the directory).
pub fn write_model(path: &Path, header: &ModelHeader, payload: &[u8]) -> Result<()> {
    write_model_impl(path, header, payload, None)
}

/// As [`write_model`]; `fail_after` stops writing after that many bytes, simulating a crash
/// (tests only).
fn write_model_impl(
    path: &Path,
    header: &ModelHeader,
    payload: &[u8],
    fail_after: Option<usize>,
) -> Result<()> {
    let bytes = encode(header, payload)?;
    let dir = path.parent().unwrap_or(Path::new("."));
    fs::create_dir_all(dir).map_err(|e| io_error(dir, "create the model directory", e))?;
    let file_name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let tmp: PathBuf = dir.join(format!(".{file_name}.tmp.{}.{nanos}", std::process::id()));
    let result = (|| {
        let mut f = File::create(&tmp).map_err(|e| io_error(&tmp, "create", e))?;
        match fail_after {
            Some(n) => {
                f.write_all(&bytes[..n.min(bytes.len())])
                    .map_err(|e| io_error(&tmp, "write", e))?;
                return Err(DataFusionError::Execution(
                    "simulated crash while saving".to_string(),
                ));
            }
            None => f
                .write_all(&bytes)
                .map_err(|e| io_error(&tmp, "write", e))?,
        }
        f.sync_all().map_err(|e| io_error(&tmp, "flush", e))?;
        drop(f);
        fs::rename(&tmp, path).map_err(|e| io_error(path, "replace", e))?;
        if let Ok(d) = File::open(dir) {
            // Persist the rename itself; not every file system supports syncing a directory.
            let _ = d.sync_all();
        }
        Ok(())
    })();
    if result.is_err() && fail_after.is_none() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

fn parse_prefix(path: &Path, bytes: &[u8]) -> Result<(ModelHeader, usize)> {
    if bytes.len() < 16 || &bytes[..8] != MAGIC {
        return Err(corrupt(
            path,
            "it does not start with the trustql model signature",
        ));
    }
    let version = u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]);
    if version != FORMAT_VERSION {
        return Err(corrupt(
            path,
            &format!(
                "it has format version {version}, and this trustql {} reads version {FORMAT_VERSION}",
                env!("CARGO_PKG_VERSION")
            ),
        ));
    }
    let header_len = u32::from_le_bytes([bytes[12], bytes[13], bytes[14], bytes[15]]) as usize;
    let end = 16 + header_len;
    if bytes.len() < end {
        return Err(corrupt(path, "the file is truncated"));
    }
    let header: ModelHeader = serde_json::from_slice(&bytes[16..end])
        .map_err(|e| corrupt(path, &format!("its header is damaged ({e})")))?;
    Ok((header, end))
}

/// Reads and verifies a whole model file: header and payload.
pub fn read_model(path: &Path) -> Result<(ModelHeader, Vec<u8>)> {
    let bytes = fs::read(path).map_err(|e| io_error(path, "read", e))?;
    let (header, start) = parse_prefix(path, &bytes)?;
    let end = start + header.payload_len as usize;
    if bytes.len() != end + 4 {
        return Err(corrupt(path, "the file is truncated or has trailing bytes"));
    }
    let stored = u32::from_le_bytes([bytes[end], bytes[end + 1], bytes[end + 2], bytes[end + 3]]);
    if crc32fast::hash(&bytes[..end]) != stored {
        return Err(corrupt(path, "checksum mismatch (the file is damaged)"));
    }
    Ok((header, bytes[start..end].to_vec()))
}

/// Reads only the header of a model file (for listings); the payload is not verified.
pub fn read_header(path: &Path) -> Result<ModelHeader> {
    let mut f = File::open(path).map_err(|e| io_error(path, "read", e))?;
    let mut prefix = [0u8; 16];
    f.read_exact(&mut prefix)
        .map_err(|_| corrupt(path, "the file is truncated"))?;
    let header_len = u32::from_le_bytes([prefix[12], prefix[13], prefix[14], prefix[15]]) as usize;
    let mut bytes = prefix.to_vec();
    bytes.resize(16 + header_len.min(64 << 20), 0);
    f.read_exact(&mut bytes[16..])
        .map_err(|_| corrupt(path, "the file is truncated"))?;
    parse_prefix(path, &bytes).map(|(h, _)| h)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(name: &str) -> ModelHeader {
        let mut training = BTreeMap::new();
        training.insert("rows used".to_string(), "3".to_string());
        ModelHeader::new(name, "mostpop", ModelOptions::default(), training)
    }

    #[test]
    fn round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("m.tqm");
        write_model(&p, &header("m"), b"payload").unwrap();
        let (h, payload) = read_model(&p).unwrap();
        assert_eq!(payload, b"payload");
        assert_eq!(h.name, "m");
        assert_eq!(h.payload_len, 7);
        assert_eq!(read_header(&p).unwrap(), h);
    }

    #[test]
    fn a_crash_mid_save_leaves_the_old_model_intact() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("m.tqm");
        write_model(&p, &header("m"), b"old parameters").unwrap();
        for cut in [0, 5, 20, 60] {
            let err =
                write_model_impl(&p, &header("m"), b"new parameters!!", Some(cut)).unwrap_err();
            assert!(err.to_string().contains("simulated crash"));
            let (_, payload) = read_model(&p).unwrap();
            assert_eq!(payload, b"old parameters");
        }
    }

    #[test]
    fn damage_is_detected() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("m.tqm");
        write_model(&p, &header("m"), b"some parameters").unwrap();
        let good = fs::read(&p).unwrap();

        let mut flipped = good.clone();
        let n = flipped.len();
        flipped[n - 8] ^= 0x40;
        fs::write(&p, &flipped).unwrap();
        assert!(read_model(&p)
            .unwrap_err()
            .to_string()
            .contains("checksum mismatch"));

        fs::write(&p, &good[..good.len() - 3]).unwrap();
        assert!(read_model(&p)
            .unwrap_err()
            .to_string()
            .contains("truncated"));

        fs::write(&p, b"not a model at all").unwrap();
        assert!(read_model(&p)
            .unwrap_err()
            .to_string()
            .contains("signature"));

        let mut future = good.clone();
        future[8] = 9;
        fs::write(&p, &future).unwrap();
        assert!(read_model(&p)
            .unwrap_err()
            .to_string()
            .contains("format version 9"));
    }
}
