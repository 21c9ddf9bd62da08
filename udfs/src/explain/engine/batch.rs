//! Scoring many built tag vectors: rows of sparse tag vectors are built flat (no per-row
//! allocation) and scored in forward passes of bounded size, for LIME's perturbations and PDP's
//! switched-on tags.

use datafusion::error::Result;
use tch::{Device, Tensor};

use crate::common::tensors::{index, to_f64_vec};
use crate::recsys::recommender::{Cancel, Recommender};
use crate::recsys::tensors::{SparseTags, TagInput};

/// Rows of perturbed tag vectors LIME and PDP build before scoring them.
pub(super) const FORWARD_ROWS: usize = 65_536;

/// Rows per forward pass: bounds a model's per-row temporaries (NCF's hidden layer of 1,024
/// units: 16 MB of f32 per pass) however many rows LIME or PDP build.
const SCORE_ROWS: usize = 4096;

/// Rows of sparse tag vectors built flat, for large batches without per-row allocations.
#[derive(Default)]
pub(super) struct FlatRows {
    users: Vec<u32>,
    items: Vec<u32>,
    rows: Vec<i64>,
    cols: Vec<i64>,
    vals: Vec<f32>,
}

impl FlatRows {
    pub(super) fn len(&self) -> usize {
        self.users.len()
    }

    pub(super) fn is_empty(&self) -> bool {
        self.users.is_empty()
    }

    pub(super) fn clear(&mut self) {
        self.users.clear();
        self.items.clear();
        self.rows.clear();
        self.cols.clear();
        self.vals.clear();
    }

    /// A row of (tag, weight) entries.
    pub(super) fn push(&mut self, user: u32, item: u32, entries: impl Iterator<Item = (u32, f32)>) {
        let r = self.users.len() as i64;
        self.users.push(user);
        self.items.push(item);
        for (t, w) in entries {
            self.rows.push(r);
            self.cols.push(t as i64);
            self.vals.push(w);
        }
    }

    /// A row with the tags of `tags`/`weights` plus tag `t` of weight `w` inserted at `pos`.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn push_switched(
        &mut self,
        user: u32,
        item: u32,
        tags: &[u32],
        weights: &[f32],
        pos: usize,
        t: u32,
        w: f32,
    ) {
        let before = tags[..pos]
            .iter()
            .copied()
            .zip(weights[..pos].iter().copied());
        let after = tags[pos..]
            .iter()
            .copied()
            .zip(weights[pos..].iter().copied());
        self.push(
            user,
            item,
            before.chain(std::iter::once((t, w))).chain(after),
        );
    }

    /// f(u, i, t) of every row, without gradients, in forward passes of [`SCORE_ROWS`] rows.
    pub(super) fn score(
        &self,
        rec: &dyn Recommender,
        device: Device,
        cancelled: Cancel<'_>,
    ) -> Result<Vec<f64>> {
        let mut out = Vec::with_capacity(self.len());
        // Entries of row r are at rows[starts[r]..starts[r + 1]] (rows are pushed in order).
        let mut at = 0;
        for first in (0..self.len()).step_by(SCORE_ROWS) {
            cancelled()?;
            let last = (first + SCORE_ROWS).min(self.len());
            let end = at + self.rows[at..].partition_point(|&r| (r as usize) < last);
            let rows: Vec<i64> = self.rows[at..end]
                .iter()
                .map(|&r| r - first as i64)
                .collect();
            let tags = TagInput::Sparse(SparseTags {
                rows: Tensor::from_slice(&rows).to_device(device),
                cols: Tensor::from_slice(&self.cols[at..end]).to_device(device),
                vals: Tensor::from_slice(&self.vals[at..end])
                    .to_kind(rec.kind())
                    .to_device(device),
                batch: (last - first) as i64,
            });
            let s = tch::no_grad(|| {
                rec.forward(
                    device,
                    &index(&self.users[first..last], device),
                    &index(&self.items[first..last], device),
                    &tags,
                )
            })?;
            out.extend(to_f64_vec(&s)?);
            at = end;
        }
        Ok(out)
    }
}
