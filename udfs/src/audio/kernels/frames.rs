//! A sequence of feature frames (spectrogram columns, MFCC vectors) in one flat buffer, so that
//! the feature kernels and the distance kernels agree on one layout without importing Arrow.

use super::error::AudioError;

/// `n_frames` frames of `dim` values each, frame after frame (row-major: frame `t`, value `k` at
/// `data[t * dim + k]`).
#[derive(Clone, Debug, PartialEq)]
pub struct Frames {
    /// Number of frames (time steps).
    pub n_frames: usize,
    /// Values per frame (frequency bins, mel bands, coefficients).
    pub dim: usize,
    /// The values, frame after frame.
    pub data: Vec<f64>,
}

impl Frames {
    /// Frames from a flat buffer; an error when the buffer's length is not `n_frames * dim`.
    pub fn new(n_frames: usize, dim: usize, data: Vec<f64>) -> Result<Frames, AudioError> {
        if n_frames.checked_mul(dim) != Some(data.len()) {
            return Err(AudioError::BadInput(format!(
                "{} values cannot form {n_frames} frames of {dim}",
                data.len()
            )));
        }
        Ok(Frames {
            n_frames,
            dim,
            data,
        })
    }

    /// All-zero frames.
    pub fn zeros(n_frames: usize, dim: usize) -> Frames {
        Frames {
            n_frames,
            dim,
            data: vec![0.0; n_frames * dim],
        }
    }

    /// Frame `t`.
    pub fn frame(&self, t: usize) -> &[f64] {
        &self.data[t * self.dim..(t + 1) * self.dim]
    }

    /// Frame `t`, mutable.
    pub fn frame_mut(&mut self, t: usize) -> &mut [f64] {
        &mut self.data[t * self.dim..(t + 1) * self.dim]
    }

    /// Value `k` of frame `t`.
    pub fn at(&self, t: usize, k: usize) -> f64 {
        self.data[t * self.dim + k]
    }

    /// The same values with frames and dimensions swapped (`dim` frames of `n_frames` values).
    pub fn transposed(&self) -> Frames {
        let mut out = Frames::zeros(self.dim, self.n_frames);
        for t in 0..self.n_frames {
            for k in 0..self.dim {
                out.data[k * self.n_frames + t] = self.data[t * self.dim + k];
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_and_transpose() {
        let f = Frames::new(2, 3, vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0]).unwrap();
        assert_eq!(f.frame(1), &[4.0, 5.0, 6.0]);
        assert_eq!(f.at(0, 2), 3.0);
        let t = f.transposed();
        assert_eq!((t.n_frames, t.dim), (3, 2));
        assert_eq!(t.frame(2), &[3.0, 6.0]);
        assert_eq!(t.transposed(), f);
        assert!(Frames::new(2, 2, vec![0.0; 3]).is_err());
    }
}
