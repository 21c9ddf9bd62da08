//! The `Codebook` capability: a model that is a dictionary of k centroids ("words") in a
//! d-dimensional space, and assigns a vector to its nearest word.
//!
//! It exists so that `kmeans_assign(model, vector)` reads every dictionary model the same way:
//! the `kmeans` model type today (the "audio words" of thesis ch. 3), any later vector
//! quantiser without the function knowing its type.

use super::kernels::kmeans::nearest;

/// A model whose parameters are k centroids of d values.
pub trait Codebook: Send + Sync {
    /// The number of centroids k.
    fn k(&self) -> usize;

    /// The number of values d of a centroid (and of the vectors it assigns).
    fn dim(&self) -> usize;

    /// Every centroid, k × d values, row-major: centroid i is values i·d .. (i + 1)·d.
    fn centroids(&self) -> &[f32];

    /// Centroid `i` (0-based); `None` past the last.
    fn centroid(&self, i: usize) -> Option<&[f32]> {
        let d = self.dim();
        self.centroids().get(i * d..(i + 1) * d)
    }

    /// The index (0-based) of the centroid nearest to `x` in Euclidean distance (computed in
    /// `f64`; the lower index on ties); `None` when `x` does not have d values.
    fn nearest(&self, x: &[f64]) -> Option<usize> {
        if x.len() != self.dim() {
            return None;
        }
        nearest(x, self.centroids())
    }
}
