//! Fixtures that the training kernels' tests share (FM's and NCF's, and the tests that compare
//! them with libtorch): item-tag matrices and negative-sampling batches.

use super::fm::ItemTags;
use crate::common::rng::Rng;

/// One item's tags and weights, as libtorch's sparse rows take them.
pub type TagList = (Vec<u32>, Vec<f32>);

/// An item-tag matrix in CSR form.
pub struct TagMatrix {
    pub indptr: Vec<usize>,
    pub indices: Vec<u32>,
    pub data: Vec<f32>,
}

impl TagMatrix {
    /// One to four distinct random tags per item with weights in [0.5, 2); item 0 has none.
    pub fn random(rng: &mut Rng, n_items: usize, n_tags: usize) -> TagMatrix {
        let (mut indptr, mut indices, mut data) = (vec![0], Vec::new(), Vec::new());
        for i in 0..n_items {
            if i > 0 {
                let mut tags: Vec<u32> = (0..n_tags as u32).collect();
                for j in 0..tags.len() {
                    let r = j + rng.below((tags.len() - j) as u64) as usize;
                    tags.swap(j, r);
                }
                let n = 1 + rng.below(4.min(n_tags as u64)) as usize;
                let mut chosen = tags[..n].to_vec();
                chosen.sort_unstable();
                for c in chosen {
                    indices.push(c);
                    data.push(0.5 + 1.5 * rng.next_f32());
                }
            }
            indptr.push(indices.len());
        }
        TagMatrix {
            indptr,
            indices,
            data,
        }
    }

    /// Item i has tags i, i + 3 and (i + 5) mod `n_tags` with weights 1, 2 and 0.5 (one entry
    /// where two coincide); item 0 has none. Needs `n_items + 3 ≤ n_tags`. Also returns each
    /// item's (tags, weights), as libtorch's sparse rows take them.
    pub fn fixed(n_items: usize, n_tags: usize) -> (TagMatrix, Vec<TagList>) {
        let mut lists = Vec::new();
        let (mut indptr, mut indices, mut data) = (vec![0usize], Vec::new(), Vec::new());
        for i in 0..n_items {
            let mut row: Vec<(u32, f32)> = if i == 0 {
                Vec::new()
            } else {
                vec![
                    (i as u32, 1.0),
                    (i as u32 + 3, 2.0),
                    (((i + 5) % n_tags) as u32, 0.5),
                ]
            };
            row.sort_by_key(|e| e.0);
            row.dedup_by_key(|e| e.0);
            indices.extend(row.iter().map(|e| e.0));
            data.extend(row.iter().map(|e| e.1));
            indptr.push(indices.len());
            lists.push((
                row.iter().map(|e| e.0).collect(),
                row.iter().map(|e| e.1).collect(),
            ));
        }
        let matrix = TagMatrix {
            indptr,
            indices,
            data,
        };
        (matrix, lists)
    }

    pub fn tags(&self) -> ItemTags<'_> {
        ItemTags {
            indptr: &self.indptr,
            indices: &self.indices,
            data: &self.data,
        }
    }
}

/// A batch of `b` positives (users drawn below `user_span`, so that the others go untouched for
/// a while, and random items), then `negatives` random items for each positive's user.
pub fn batch(
    rng: &mut Rng,
    b: usize,
    negatives: usize,
    user_span: usize,
    n_items: usize,
) -> (Vec<u32>, Vec<u32>) {
    let n_items = n_items as u64;
    let mut users: Vec<u32> = (0..b).map(|_| rng.below(user_span as u64) as u32).collect();
    let mut items: Vec<u32> = (0..b).map(|_| rng.below(n_items) as u32).collect();
    for p in 0..b {
        for _ in 0..negatives {
            users.push(users[p]);
            items.push(rng.below(n_items) as u32);
        }
    }
    (users, items)
}
