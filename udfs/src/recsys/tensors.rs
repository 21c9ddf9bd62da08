//! Tensor plumbing shared by the recommenders: batches of tag vectors, parameters cached per
//! device, and conversions between slices and tensors.
//!
//! It exists because every model is evaluated as f(u, i, t) on batches of rows, on whatever device
//! the session chose, and the tag vectors t come in two shapes: the items' own tags (sparse, what
//! scoring and training use) and arbitrary dense vectors that explainers perturb and differentiate
//! through. [`TagInput`] gives the few operations the models need (products with a tag-factor
//! matrix, row sums, element-wise squares) on both shapes, differentiably.

use tch::{Device, Kind, Tensor};

use super::data::RecData;

/// A batch of tag vectors, one per row of a batch of (user, item) pairs.
pub enum TagInput {
    /// Each row's item's own tags, T_i. Models may take faster paths for this case.
    Own(SparseTags),
    /// Arbitrary tag vectors, `[batch, n_tags]`, possibly requiring gradients.
    Dense(Tensor),
    /// Arbitrary sparse tag vectors (for example an item given only by its tag list).
    Sparse(SparseTags),
}

/// Sparse rows: entry k is `vals[k]` at (`rows[k]`, `cols[k]`).
pub struct SparseTags {
    pub rows: Tensor,
    pub cols: Tensor,
    pub vals: Tensor,
    pub batch: i64,
}

impl SparseTags {
    /// Builds rows from (tag index, weight) lists.
    pub fn from_lists(lists: &[(Vec<u32>, Vec<f32>)], kind: Kind, device: Device) -> Self {
        let mut rows = Vec::new();
        let mut cols = Vec::new();
        let mut vals = Vec::new();
        for (r, (c, v)) in lists.iter().enumerate() {
            rows.extend(std::iter::repeat_n(r as i64, c.len()));
            cols.extend(c.iter().map(|&x| x as i64));
            vals.extend_from_slice(v);
        }
        SparseTags {
            rows: Tensor::from_slice(&rows).to_device(device),
            cols: Tensor::from_slice(&cols).to_device(device),
            vals: Tensor::from_slice(&vals).to_kind(kind).to_device(device),
            batch: lists.len() as i64,
        }
    }
}

impl TagInput {
    /// The items' own tag vectors T_i, for `items` (dense item indices).
    pub fn own(data: &RecData, items: &[u32], kind: Kind, device: Device) -> TagInput {
        let lists: Vec<(Vec<u32>, Vec<f32>)> = items
            .iter()
            .map(|&i| {
                let (c, v) = data.t.row(i as usize);
                (c.to_vec(), v.to_vec())
            })
            .collect();
        TagInput::Own(SparseTags::from_lists(&lists, kind, device))
    }

    /// Number of rows.
    pub fn batch(&self) -> i64 {
        match self {
            TagInput::Own(s) | TagInput::Sparse(s) => s.batch,
            TagInput::Dense(t) => t.size().first().copied().unwrap_or(0),
        }
    }

    /// t · W for every row: `[batch, k]` from `w` of shape `[n_tags, k]`.
    ///
    /// Sparse rows go through `embedding_bag` (weighted sum mode), which accumulates each row's
    /// weighted rows of `w` without an `[nnz, k]` temporary and differentiates with respect to
    /// both `w` and the tag values.
    pub fn matmul(&self, w: &Tensor) -> Tensor {
        match self {
            TagInput::Dense(t) => t.to_kind(w.kind()).matmul(w),
            TagInput::Own(s) | TagInput::Sparse(s) => s.weighted_rows(w),
        }
    }

    /// The same product as [`Self::matmul`]; kept as the name the wide hidden-layer products
    /// (NCF's 1,024 units) use.
    pub fn sparse_mm(&self, w: &Tensor) -> Tensor {
        self.matmul(w)
    }

    /// Σ_t t_t · v_t for every row: `[batch]` from `v` of shape `[n_tags]`.
    pub fn dot(&self, v: &Tensor) -> Tensor {
        self.matmul(&v.unsqueeze(1)).squeeze_dim(1)
    }

    /// ‖t‖₁ = Σ_t t_t for every row (tag weights are non-negative): `[batch]`.
    pub fn row_sum(&self, kind: Kind, device: Device) -> Tensor {
        match self {
            TagInput::Dense(t) => t.to_kind(kind).sum_dim_intlist(1, false, kind),
            TagInput::Own(s) | TagInput::Sparse(s) => Tensor::zeros([s.batch], (kind, device))
                .index_add(0, &s.rows, &s.vals.to_kind(kind)),
        }
    }

    /// Element-wise square (same shape).
    pub fn square(&self) -> TagInput {
        match self {
            TagInput::Dense(t) => TagInput::Dense(t.square()),
            TagInput::Own(s) => TagInput::Own(s.map(|v| v.square())),
            TagInput::Sparse(s) => TagInput::Sparse(s.map(|v| v.square())),
        }
    }

    /// Each row divided by `d[row]` (rows where d is 0 become 0).
    pub fn div_rows(&self, d: &Tensor) -> TagInput {
        let safe = d.where_self(&d.ne(0.0), &d.ones_like());
        match self {
            TagInput::Dense(t) => TagInput::Dense(t.to_kind(d.kind()) / safe.unsqueeze(1)),
            TagInput::Own(s) => TagInput::Own(s.scale(&safe)),
            TagInput::Sparse(s) => TagInput::Sparse(s.scale(&safe)),
        }
    }
}

impl SparseTags {
    /// Σ_k vals[k] · w[cols[k]] accumulated into row rows[k]: `[batch, w.cols]`. Rows must be
    /// in increasing order (every constructor pushes them so), which makes them the bags of
    /// `embedding_bag`; a row without entries gives zeros.
    fn weighted_rows(&self, w: &Tensor) -> Tensor {
        let device = w.device();
        let starts = Tensor::arange(self.batch, (Kind::Int64, device));
        let offsets = starts.searchsorted(&self.rows, false, false, "left", None::<Tensor>);
        let (sum, _, _, _) = Tensor::embedding_bag(
            w,
            &self.cols,
            &offsets,
            false,
            0,
            false,
            Some(self.vals.to_kind(w.kind())),
            false,
        );
        sum
    }

    fn map(&self, f: impl Fn(&Tensor) -> Tensor) -> SparseTags {
        SparseTags {
            rows: self.rows.shallow_clone(),
            cols: self.cols.shallow_clone(),
            vals: f(&self.vals),
            batch: self.batch,
        }
    }

    fn scale(&self, d: &Tensor) -> SparseTags {
        self.map(|v| v.to_kind(d.kind()) / d.index_select(0, &self.rows))
    }
}
