//! Compressed sparse row (CSR) matrices for the recommenders.
//!
//! Interaction data (users × items, users × tags) is large and very sparse, and the training
//! kernels ([`super::svd`], [`super::als`]) need fast row access, the transpose, and products with
//! tall dense blocks. This is the one sparse type they share: `u32` column indices and `f32`
//! values (the size of the data dominates memory), `f64` for everything computed from it.
//!
//! Invariants (established by [`Csr::from_triplets`] and [`Csr::transpose`], checked by
//! [`Csr::validate`]): `indptr` has `n_rows + 1` non-decreasing entries from `0` to `nnz`; within
//! each row the column indices are strictly increasing and below `n_cols`; all values are finite.
//! The fields are public for serialisation and cheap access; code that builds a `Csr` by hand
//! should call [`Csr::validate`]. Methods never panic on a malformed matrix, but may then give
//! meaningless results.

use nalgebra::DMatrix;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::KernelError;

/// A sparse matrix in compressed sparse row form.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Csr {
    /// Number of rows.
    pub n_rows: usize,
    /// Number of columns.
    pub n_cols: usize,
    /// Row `i` occupies `indptr[i]..indptr[i + 1]` of `indices` and `data`.
    pub indptr: Vec<usize>,
    /// Column index of each stored entry, increasing within a row.
    pub indices: Vec<u32>,
    /// Value of each stored entry.
    pub data: Vec<f32>,
}

/// Rows per rayon task in the row-parallel products (keeps scheduling overhead small).
const ROWS_PER_TASK: usize = 64;

impl Csr {
    /// An `n_rows × n_cols` matrix with no stored entries.
    pub fn zeros(n_rows: usize, n_cols: usize) -> Csr {
        Csr {
            n_rows,
            n_cols,
            indptr: vec![0; n_rows + 1],
            indices: Vec::new(),
            data: Vec::new(),
        }
    }

    /// Builds a matrix from coordinate triplets `(rows[t], cols[t], vals[t])`, in any order.
    ///
    /// Columns are sorted within each row and duplicate `(row, col)` entries are summed (in `f64`,
    /// in input order). Explicit zeros are kept. Errors when the slices differ in length, an index
    /// is out of range, a value is not finite, or `n_cols` does not fit the `u32` column indices.
    pub fn from_triplets(
        n_rows: usize,
        n_cols: usize,
        rows: &[u32],
        cols: &[u32],
        vals: &[f32],
    ) -> Result<Csr, KernelError> {
        if rows.len() != cols.len() || rows.len() != vals.len() {
            return Err(KernelError::InvalidInput(format!(
                "triplet slices differ in length: {} rows, {} cols, {} values",
                rows.len(),
                cols.len(),
                vals.len()
            )));
        }
        if n_cols > u32::MAX as usize + 1 {
            return Err(KernelError::InvalidInput(format!(
                "{n_cols} columns do not fit u32 column indices"
            )));
        }
        for (t, ((&r, &c), &v)) in rows.iter().zip(cols).zip(vals).enumerate() {
            if r as usize >= n_rows {
                return Err(KernelError::InvalidInput(format!(
                    "row index {r} of entry {t} is out of range for {n_rows} rows"
                )));
            }
            if c as usize >= n_cols {
                return Err(KernelError::InvalidInput(format!(
                    "column index {c} of entry {t} is out of range for {n_cols} columns"
                )));
            }
            if !v.is_finite() {
                return Err(KernelError::InvalidInput(format!(
                    "value {v} of entry {t} is not finite"
                )));
            }
        }

        // Counting sort by row.
        let mut counts = vec![0usize; n_rows + 1];
        for &r in rows {
            counts[r as usize + 1] += 1;
        }
        for i in 0..n_rows {
            counts[i + 1] += counts[i];
        }
        let starts = counts;
        let mut next = starts.clone();
        let mut entries: Vec<(u32, f32)> = vec![(0, 0.0); rows.len()];
        for ((&r, &c), &v) in rows.iter().zip(cols).zip(vals) {
            let slot = &mut next[r as usize];
            entries[*slot] = (c, v);
            *slot += 1;
        }

        // Sort each row by column (stable, so duplicates keep input order), in parallel.
        let mut row_slices: Vec<&mut [(u32, f32)]> = Vec::with_capacity(n_rows);
        let mut rest: &mut [(u32, f32)] = &mut entries;
        for w in starts.windows(2) {
            let (head, tail) = rest.split_at_mut(w[1] - w[0]);
            row_slices.push(head);
            rest = tail;
        }
        row_slices
            .par_iter_mut()
            .with_min_len(ROWS_PER_TASK)
            .for_each(|row| row.sort_by_key(|&(c, _)| c));

        // Sum duplicates while compacting.
        let mut indptr = Vec::with_capacity(n_rows + 1);
        let mut indices = Vec::with_capacity(entries.len());
        let mut data = Vec::with_capacity(entries.len());
        indptr.push(0);
        for w in starts.windows(2) {
            let row = &entries[w[0]..w[1]];
            let mut t = 0;
            while t < row.len() {
                let c = row[t].0;
                let mut sum = f64::from(row[t].1);
                t += 1;
                while t < row.len() && row[t].0 == c {
                    sum += f64::from(row[t].1);
                    t += 1;
                }
                let value = sum as f32;
                if !value.is_finite() {
                    return Err(KernelError::InvalidInput(format!(
                        "the duplicates summed into ({}, {c}) overflow f32",
                        indptr.len() - 1
                    )));
                }
                indices.push(c);
                data.push(value);
            }
            indptr.push(indices.len());
        }
        Ok(Csr {
            n_rows,
            n_cols,
            indptr,
            indices,
            data,
        })
    }

    /// Checks the invariants listed in the module documentation.
    pub fn validate(&self) -> Result<(), KernelError> {
        let bad = |msg: String| Err(KernelError::InvalidInput(format!("malformed CSR: {msg}")));
        if self.indptr.len() != self.n_rows + 1 {
            return bad(format!(
                "indptr has {} entries for {} rows",
                self.indptr.len(),
                self.n_rows
            ));
        }
        if self.indices.len() != self.data.len() {
            return bad(format!(
                "{} indices but {} values",
                self.indices.len(),
                self.data.len()
            ));
        }
        if self.indptr.first() != Some(&0) || self.indptr.last() != Some(&self.indices.len()) {
            return bad("indptr does not run from 0 to nnz".to_string());
        }
        if self.n_cols > u32::MAX as usize + 1 {
            return bad(format!("{} columns do not fit u32", self.n_cols));
        }
        for (i, w) in self.indptr.windows(2).enumerate() {
            if w[0] > w[1] {
                return bad(format!("indptr decreases at row {i}"));
            }
            let Some(cols) = self.indices.get(w[0]..w[1]) else {
                return bad(format!("row {i} runs past the stored entries"));
            };
            if cols.windows(2).any(|p| p[0] >= p[1]) {
                return bad(format!("columns of row {i} are not strictly increasing"));
            }
            if cols.last().is_some_and(|&c| c as usize >= self.n_cols) {
                return bad(format!("a column index of row {i} is out of range"));
            }
        }
        if self.data.iter().any(|v| !v.is_finite()) {
            return bad("a value is not finite".to_string());
        }
        Ok(())
    }

    /// Number of stored entries.
    pub fn nnz(&self) -> usize {
        self.indices.len()
    }

    /// Column indices and values of row `i` (both empty when `i` is out of range).
    pub fn row(&self, i: usize) -> (&[u32], &[f32]) {
        let end = i.checked_add(1).and_then(|j| self.indptr.get(j));
        let (Some(&a), Some(&b)) = (self.indptr.get(i), end) else {
            return (&[], &[]);
        };
        match (self.indices.get(a..b), self.data.get(a..b)) {
            (Some(c), Some(v)) => (c, v),
            _ => (&[], &[]),
        }
    }

    /// Whether entry `(row, col)` is stored (binary search within the row).
    pub fn contains(&self, row: usize, col: u32) -> bool {
        self.row(row).0.binary_search(&col).is_ok()
    }

    /// The transpose, `n_cols × n_rows`, with sorted rows (a counting sort, `O(nnz + n_cols)`).
    pub fn transpose(&self) -> Csr {
        let nnz = self.nnz();
        let mut indptr = vec![0usize; self.n_cols + 1];
        for &c in &self.indices {
            if let Some(slot) = indptr.get_mut(c as usize + 1) {
                *slot += 1;
            }
        }
        for j in 0..self.n_cols {
            indptr[j + 1] += indptr[j];
        }
        let mut next = indptr.clone();
        let mut indices = vec![0u32; nnz];
        let mut data = vec![0f32; nnz];
        for i in 0..self.n_rows {
            let (cols, vals) = self.row(i);
            for (&c, &v) in cols.iter().zip(vals) {
                if let Some(slot) = next.get_mut(c as usize) {
                    if let (Some(ix), Some(d)) = (indices.get_mut(*slot), data.get_mut(*slot)) {
                        *ix = i as u32;
                        *d = v;
                    }
                    *slot += 1;
                }
            }
        }
        Csr {
            n_rows: self.n_cols,
            n_cols: self.n_rows,
            indptr,
            indices,
            data,
        }
    }

    /// `A · X` for a dense `X` with `n_cols` rows; parallel over the rows of `A` and
    /// deterministic (each output row is summed by one thread in storage order).
    ///
    /// `X` must have `n_cols` rows: stored entries whose column is not a row of `X` contribute
    /// nothing.
    pub fn mul_dense(&self, x: &DMatrix<f64>) -> DMatrix<f64> {
        let p = x.ncols();
        if p == 0 || self.n_rows == 0 {
            return DMatrix::zeros(self.n_rows, p);
        }
        // Row-major copy of X, so that each stored entry reads one contiguous row.
        let x_rows = x.transpose();
        let x_rows = x_rows.as_slice();
        let mut out = vec![0.0f64; self.n_rows * p];
        out.par_chunks_mut(p)
            .enumerate()
            .with_min_len(ROWS_PER_TASK)
            .for_each(|(i, out_row)| {
                let (cols, vals) = self.row(i);
                let x_row = |c: u32| {
                    let c = c as usize;
                    x_rows.get(c * p..(c + 1) * p).unwrap_or(&[])
                };
                // Four entries per pass: four independent row loads in flight, and one pass
                // over `out_row` instead of four. Each output entry is still summed in storage
                // order.
                let (c4, v4) = (cols.chunks_exact(4), vals.chunks_exact(4));
                let (c_rest, v_rest) = (c4.remainder(), v4.remainder());
                for (c, v) in c4.zip(v4) {
                    let xs = [x_row(c[0]), x_row(c[1]), x_row(c[2]), x_row(c[3])];
                    let v = [v[0], v[1], v[2], v[3]].map(f64::from);
                    if xs.iter().all(|x| x.len() == p) {
                        for ((((o, &e0), &e1), &e2), &e3) in out_row
                            .iter_mut()
                            .zip(xs[0])
                            .zip(xs[1])
                            .zip(xs[2])
                            .zip(xs[3])
                        {
                            *o = (((*o + v[0] * e0) + v[1] * e1) + v[2] * e2) + v[3] * e3;
                        }
                    } else {
                        for (x, &v) in xs.iter().zip(&v) {
                            for (o, &xv) in out_row.iter_mut().zip(*x) {
                                *o += v * xv;
                            }
                        }
                    }
                }
                for (&c, &v) in c_rest.iter().zip(v_rest) {
                    let v = f64::from(v);
                    for (o, &xv) in out_row.iter_mut().zip(x_row(c)) {
                        *o += v * xv;
                    }
                }
            });
        DMatrix::from_row_slice(self.n_rows, p, &out)
    }

    /// `Aᵀ · Y` for a dense `Y` with `n_rows` rows.
    ///
    /// This transposes `A` on every call (`O(nnz)`) and then runs the row-parallel
    /// [`Csr::mul_dense`], which keeps the result deterministic. A caller that multiplies by
    /// `Aᵀ` repeatedly should hold the transpose once and call `at.mul_dense(y)` instead, as
    /// [`super::svd::SparseOp`] does.
    pub fn t_mul_dense(&self, y: &DMatrix<f64>) -> DMatrix<f64> {
        self.transpose().mul_dense(y)
    }

    /// Euclidean norm of each row, computed in `f64`.
    pub fn row_norms(&self) -> Vec<f64> {
        (0..self.n_rows)
            .map(|i| {
                self.row(i)
                    .1
                    .iter()
                    .map(|&v| f64::from(v) * f64::from(v))
                    .sum::<f64>()
                    .sqrt()
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::StdRng;
    use rand::{Rng as _, SeedableRng};

    fn dense_of(a: &Csr) -> DMatrix<f64> {
        let mut d = DMatrix::zeros(a.n_rows, a.n_cols);
        for i in 0..a.n_rows {
            let (c, v) = a.row(i);
            for (&c, &v) in c.iter().zip(v) {
                d[(i, c as usize)] += f64::from(v);
            }
        }
        d
    }

    fn random_triplets(
        rng: &mut StdRng,
        m: usize,
        n: usize,
        count: usize,
    ) -> (Vec<u32>, Vec<u32>, Vec<f32>) {
        let rows = (0..count).map(|_| rng.random_range(0..m as u32)).collect();
        let cols = (0..count).map(|_| rng.random_range(0..n as u32)).collect();
        let vals = (0..count).map(|_| rng.random_range(-2.0..2.0f32)).collect();
        (rows, cols, vals)
    }

    #[test]
    fn triplets_sort_and_sum_duplicates() {
        let a = Csr::from_triplets(
            3,
            4,
            &[2, 0, 0, 2, 0, 2],
            &[1, 3, 0, 1, 3, 0],
            &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0],
        )
        .unwrap();
        a.validate().unwrap();
        assert_eq!(a.indptr, vec![0, 2, 2, 4]);
        assert_eq!(a.indices, vec![0, 3, 0, 1]);
        assert_eq!(a.data, vec![3.0, 7.0, 6.0, 5.0]);
        assert_eq!(a.nnz(), 4);
        assert!(a.contains(0, 3) && a.contains(2, 1) && !a.contains(1, 0) && !a.contains(0, 1));
        assert!(!a.contains(7, 0));
        assert_eq!(a.row(1), (&[][..], &[][..]));
        assert_eq!(a.row(99), (&[][..], &[][..]));
        let norms = a.row_norms();
        assert!((norms[0] - (9.0f64 + 49.0).sqrt()).abs() < 1e-12);
        assert_eq!(norms[1], 0.0);
    }

    #[test]
    fn triplets_reject_bad_input() {
        assert!(Csr::from_triplets(2, 2, &[2], &[0], &[1.0]).is_err());
        assert!(Csr::from_triplets(2, 2, &[0], &[2], &[1.0]).is_err());
        assert!(Csr::from_triplets(2, 2, &[0, 1], &[0], &[1.0]).is_err());
        assert!(Csr::from_triplets(2, 2, &[0], &[0], &[f32::NAN]).is_err());
        let empty = Csr::from_triplets(0, 0, &[], &[], &[]).unwrap();
        empty.validate().unwrap();
        assert_eq!(empty.transpose().nnz(), 0);
    }

    #[test]
    fn validate_catches_malformed() {
        let mut a = Csr::from_triplets(2, 3, &[0, 0, 1], &[0, 2, 1], &[1.0, 2.0, 3.0]).unwrap();
        a.validate().unwrap();
        a.indices[0] = 2;
        assert!(a.validate().is_err());
        a.indices[0] = 0;
        a.indices[2] = 3;
        assert!(a.validate().is_err());
        a.indices[2] = 1;
        a.indptr[1] = 5;
        assert!(a.validate().is_err());
    }

    #[test]
    fn transpose_and_products_match_dense() {
        let mut rng = StdRng::seed_from_u64(3);
        let (m, n) = (37, 23);
        let (r, c, v) = random_triplets(&mut rng, m, n, 200);
        let a = Csr::from_triplets(m, n, &r, &c, &v).unwrap();
        a.validate().unwrap();
        let d = dense_of(&a);
        let at = a.transpose();
        at.validate().unwrap();
        assert_eq!((at.n_rows, at.n_cols), (n, m));
        assert_eq!(dense_of(&at), d.transpose());
        let x = DMatrix::from_fn(n, 5, |_, _| rng.random_range(-1.0..1.0));
        let y = DMatrix::from_fn(m, 4, |_, _| rng.random_range(-1.0..1.0));
        assert!((a.mul_dense(&x) - &d * &x).amax() < 1e-12);
        assert!((a.t_mul_dense(&y) - d.transpose() * &y).amax() < 1e-12);
        assert_eq!(a.mul_dense(&DMatrix::zeros(n, 0)).shape(), (m, 0));
        for i in 0..m {
            let dn = d.row(i).norm();
            assert!((a.row_norms()[i] - dn).abs() < 1e-6);
            for j in 0..n {
                assert_eq!(
                    a.contains(i, j as u32),
                    r.iter()
                        .zip(&c)
                        .any(|(&ri, &ci)| ri as usize == i && ci as usize == j)
                );
            }
        }
    }

    #[test]
    fn is_serde() {
        fn assert_serde<T: Serialize + for<'de> Deserialize<'de>>() {}
        assert_serde::<Csr>();
    }
}
