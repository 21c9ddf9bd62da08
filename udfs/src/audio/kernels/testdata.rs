//! Test-only access to the shared reference data: the audio kernels are checked against librosa
//! outputs stored as NumPy `.npy` files in `shared/reference/audio`, so the tests need the folder
//! and a reader for that format (version 1 and 2 headers, little-endian `f8`/`f4`, C or Fortran
//! order).

use std::path::PathBuf;

/// The shared folder (`../shared` next to the repository), wherever the tests run from.
pub fn shared() -> PathBuf {
    let here = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    for base in [
        here.join("../shared"),
        here.join("../../shared"),
        PathBuf::from("/work/shared"),
    ] {
        if base.join("reference/audio").is_dir() {
            return base;
        }
    }
    panic!("shared/reference/audio not found");
}

/// A file of `shared/reference/audio`.
pub fn reference_audio(name: &str) -> PathBuf {
    shared().join("reference/audio").join(name)
}

/// An array read from a `.npy` file: its shape and its values in C (row-major) order, as f64.
#[derive(Clone, Debug)]
pub struct Npy {
    pub shape: Vec<usize>,
    pub data: Vec<f64>,
}

impl Npy {
    /// Element `[i, j]` of a 2-D array.
    pub fn at(&self, i: usize, j: usize) -> f64 {
        self.data[i * self.shape[1] + j]
    }
}

/// Reads a `.npy` file of `shared/reference/audio`; panics with the reason on anything else.
pub fn npy(name: &str) -> Npy {
    let path = reference_audio(name);
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert_eq!(
        &bytes[..6],
        b"\x93NUMPY",
        "{}: not a .npy file",
        path.display()
    );
    let (header_len, start) = match bytes[6] {
        1 => (u16::from_le_bytes([bytes[8], bytes[9]]) as usize, 10),
        _ => (
            u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]) as usize,
            12,
        ),
    };
    let header = std::str::from_utf8(&bytes[start..start + header_len]).expect("header");
    let field = |key: &str| -> &str {
        let at = header
            .find(key)
            .unwrap_or_else(|| panic!("no {key} in {header}"));
        &header[at + key.len()..]
    };
    let descr = field("'descr':");
    let width = if descr.trim_start().starts_with("'<f8'") {
        8
    } else if descr.trim_start().starts_with("'<f4'") {
        4
    } else {
        panic!("{}: unsupported dtype in {header}", path.display())
    };
    let fortran = field("'fortran_order':").trim_start().starts_with("True");
    let shape_text = field("'shape':");
    let open = shape_text.find('(').expect("shape");
    let close = shape_text.find(')').expect("shape");
    let shape: Vec<usize> = shape_text[open + 1..close]
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| s.parse().expect("shape"))
        .collect();
    let count: usize = shape.iter().product();
    let body = &bytes[start + header_len..];
    assert_eq!(body.len(), count * width, "{}: size", path.display());
    let raw: Vec<f64> = body
        .chunks_exact(width)
        .map(|c| {
            if width == 8 {
                f64::from_le_bytes(c.try_into().expect("8 bytes"))
            } else {
                f32::from_le_bytes(c.try_into().expect("4 bytes")) as f64
            }
        })
        .collect();
    let data = if fortran && shape.len() == 2 {
        let (r, c) = (shape[0], shape[1]);
        let mut out = vec![0.0; count];
        for j in 0..c {
            for i in 0..r {
                out[i * c + j] = raw[j * r + i];
            }
        }
        out
    } else {
        assert!(!fortran || shape.len() < 2, "Fortran order above 2-D");
        raw
    };
    Npy { shape, data }
}

/// The reference test signal (`signal_f64.npy`: the 16-bit WAV divided by 32768) as f32 samples.
pub fn signal_f32() -> Vec<f32> {
    npy("signal_f64.npy")
        .data
        .iter()
        .map(|&v| v as f32)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_reference_arrays() {
        let s = npy("signal_f64.npy");
        assert_eq!(s.shape, vec![66150]);
        let m = npy("mfcc25_librosa.npy");
        assert_eq!(m.shape, vec![25, 130]);
        assert!(m.data.iter().all(|v| v.is_finite()));
    }
}
