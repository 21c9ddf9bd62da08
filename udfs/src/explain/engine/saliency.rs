//! Saliency: the gradient of the score with respect to the weights of the item's own tags,
//! one backward pass per chunk of rows.

use datafusion::error::Result;
use tch::{Device, Tensor};

use super::{truncate, Explanation};
use crate::common::tensors::{index, to_f64_vec, torch_err};
use crate::recsys::recommender::{Cancel, Recommender};
use crate::recsys::tensors::{SparseTags, TagInput};

/// Rows per backward pass of [`explain_saliency`].
const SALIENCY_ROWS: usize = 2048;

/// Saliency explanations (eq. 5.18): θ = ∂f(u, i, t)/∂t at t = T_i, over the item's own tags,
/// truncated to ω. One backward pass per chunk of rows.
pub fn explain_saliency(
    rec: &dyn Recommender,
    device: Device,
    rows: &[(u32, u32)],
    omega: usize,
    cancelled: Cancel<'_>,
) -> Result<Vec<Explanation>> {
    let data = rec.data();
    let mut out = Vec::with_capacity(rows.len());
    for chunk in rows.chunks(SALIENCY_ROWS) {
        cancelled()?;
        if !rec.uses_tags() {
            // ∂f/∂t = 0: nothing to list.
            out.extend(chunk.iter().map(|_| Vec::new()));
            crate::common::progress::advance(chunk.len() as u64);
            continue;
        }
        let lists: Vec<(Vec<u32>, Vec<f32>)> = chunk
            .iter()
            .map(|&(_, i)| {
                let (c, v) = data.t.row(i as usize);
                (c.to_vec(), v.to_vec())
            })
            .collect();
        let sparse = SparseTags::from_lists(&lists, rec.kind(), device);
        let vals = sparse.vals.detach().set_requires_grad(true);
        let input = TagInput::Sparse(SparseTags {
            rows: sparse.rows.shallow_clone(),
            cols: sparse.cols.shallow_clone(),
            vals: vals.shallow_clone(),
            batch: sparse.batch,
        });
        let users: Vec<u32> = chunk.iter().map(|r| r.0).collect();
        let items: Vec<u32> = chunk.iter().map(|r| r.1).collect();
        let s = rec.forward(
            device,
            &index(&users, device),
            &index(&items, device),
            &input,
        )?;
        let grads = if s.requires_grad() && vals.numel() > 0 {
            let g = Tensor::f_run_backward(&[s.sum(s.kind())], &[&vals], false, false)
                .map_err(torch_err)?;
            match g.into_iter().next() {
                Some(g) => to_f64_vec(&g)?,
                None => vec![0.0; vals.numel()],
            }
        } else {
            vec![0.0; vals.numel()]
        };
        let mut at = 0;
        for (tags, _) in &lists {
            let pairs = tags
                .iter()
                .zip(&grads[at..at + tags.len()])
                .map(|(&t, &g)| (t, g))
                .collect();
            at += tags.len();
            out.push(truncate(pairs, omega));
        }
        crate::common::progress::advance(chunk.len() as u64);
    }
    Ok(out)
}
