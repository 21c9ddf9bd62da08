//! Compressed sparse rows (temporary minimal version; replaced by the kernels work).

use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Csr {
    pub n_rows: usize,
    pub n_cols: usize,
    pub indptr: Vec<usize>,
    pub indices: Vec<u32>,
    pub data: Vec<f32>,
}

impl Csr {
    pub fn from_triplets(
        n_rows: usize,
        n_cols: usize,
        rows: &[u32],
        cols: &[u32],
        vals: &[f32],
    ) -> Result<Csr, String> {
        let mut order: Vec<usize> = (0..rows.len()).collect();
        order.sort_by_key(|&k| (rows[k], cols[k]));
        let mut indptr = vec![0usize; n_rows + 1];
        let mut indices = Vec::new();
        let mut data = Vec::new();
        let mut last: Option<(u32, u32)> = None;
        for k in order {
            let (r, c) = (rows[k], cols[k]);
            if r as usize >= n_rows || c as usize >= n_cols {
                return Err("index out of range".into());
            }
            if last == Some((r, c)) {
                if let Some(d) = data.last_mut() {
                    *d += vals[k];
                }
                continue;
            }
            last = Some((r, c));
            indices.push(c);
            data.push(vals[k]);
            indptr[r as usize + 1] += 1;
        }
        for i in 0..n_rows {
            indptr[i + 1] += indptr[i];
        }
        Ok(Csr {
            n_rows,
            n_cols,
            indptr,
            indices,
            data,
        })
    }

    pub fn transpose(&self) -> Csr {
        let mut rows = Vec::with_capacity(self.nnz());
        for r in 0..self.n_rows {
            for _ in self.indptr[r]..self.indptr[r + 1] {
                rows.push(r as u32);
            }
        }
        Csr::from_triplets(self.n_cols, self.n_rows, &self.indices, &rows, &self.data)
            .unwrap_or_else(|_| Csr {
                n_rows: 0,
                n_cols: 0,
                indptr: vec![0],
                indices: vec![],
                data: vec![],
            })
    }

    pub fn row(&self, i: usize) -> (&[u32], &[f32]) {
        let (a, b) = (self.indptr[i], self.indptr[i + 1]);
        (&self.indices[a..b], &self.data[a..b])
    }

    pub fn nnz(&self) -> usize {
        self.indices.len()
    }

    pub fn contains(&self, row: usize, col: u32) -> bool {
        self.row(row).0.binary_search(&col).is_ok()
    }
}
