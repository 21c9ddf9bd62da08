//! Sparse non-negative matrices (documents × terms) and their TF-IDF weighting.
//!
//! It exists because topic models (pLSA and LDA) work on the non-zero cells of a count
//! or weight matrix only: a learning source such as the MSD taste profiles has ~10⁶ columns and a
//! dense matrix would not fit. Cells are summed when given twice, cells of weight zero are not
//! stored, and every operation visits cells in a fixed order, so results do not depend on
//! threads.

use super::LatentError;

/// A matrix in compressed sparse row form, holding only its non-zero cells, with the columns of
/// each row in increasing order.
#[derive(Debug, Clone, PartialEq)]
pub struct Csr {
    n_rows: usize,
    n_cols: usize,
    indptr: Vec<usize>,
    indices: Vec<u32>,
    values: Vec<f64>,
}

impl Csr {
    /// The `n_rows × n_cols` matrix with cells (`rows[i]`, `cols[i]`) = `vals[i]`. Cells given
    /// more than once are summed, in the order given; cells whose sum is zero are not stored.
    /// Values must be finite and non-negative.
    pub fn from_triplets(
        n_rows: usize,
        n_cols: usize,
        rows: &[u32],
        cols: &[u32],
        vals: &[f64],
    ) -> Result<Csr, LatentError> {
        if rows.len() != cols.len() || rows.len() != vals.len() {
            return Err(LatentError::Shape(format!(
                "{} rows, {} columns and {} values",
                rows.len(),
                cols.len(),
                vals.len()
            )));
        }
        for i in 0..rows.len() {
            if rows[i] as usize >= n_rows || cols[i] as usize >= n_cols {
                return Err(LatentError::Shape(format!(
                    "cell ({}, {}) outside a {n_rows} × {n_cols} matrix",
                    rows[i], cols[i]
                )));
            }
            if !vals[i].is_finite() {
                return Err(LatentError::NotFinite {
                    what: "a weight",
                    value: vals[i],
                });
            }
            if vals[i] < 0.0 {
                return Err(LatentError::NegativeWeight(vals[i]));
            }
        }
        // A stable sort by (row, column) keeps repeated cells in the order given.
        let mut order: Vec<usize> = (0..rows.len()).collect();
        order.sort_by_key(|&i| (rows[i], cols[i]));
        let mut indptr = vec![0usize; n_rows + 1];
        let mut indices = Vec::with_capacity(order.len());
        let mut values = Vec::with_capacity(order.len());
        let mut i = 0;
        while i < order.len() {
            let (r, c) = (rows[order[i]], cols[order[i]]);
            let mut sum = 0.0;
            while i < order.len() && rows[order[i]] == r && cols[order[i]] == c {
                sum += vals[order[i]];
                i += 1;
            }
            if !sum.is_finite() {
                return Err(LatentError::NotFinite {
                    what: "a summed weight",
                    value: sum,
                });
            }
            if sum > 0.0 {
                indices.push(c);
                values.push(sum);
                indptr[r as usize + 1] += 1;
            }
        }
        for r in 0..n_rows {
            indptr[r + 1] += indptr[r];
        }
        Ok(Csr {
            n_rows,
            n_cols,
            indptr,
            indices,
            values,
        })
    }

    pub fn n_rows(&self) -> usize {
        self.n_rows
    }

    pub fn n_cols(&self) -> usize {
        self.n_cols
    }

    /// The number of stored (non-zero) cells.
    pub fn nnz(&self) -> usize {
        self.values.len()
    }

    /// The columns and values of row `r`'s non-zero cells (empty past the last row).
    pub fn row(&self, r: usize) -> (&[u32], &[f64]) {
        match (self.indptr.get(r), self.indptr.get(r + 1)) {
            (Some(&a), Some(&b)) => (&self.indices[a..b], &self.values[a..b]),
            _ => (&[], &[]),
        }
    }

    /// The sum of each row, adding its cells in column order.
    pub fn row_sums(&self) -> Vec<f64> {
        (0..self.n_rows)
            .map(|r| self.row(r).1.iter().sum())
            .collect()
    }

    /// The sum of all cells, adding the row sums in row order.
    pub fn total(&self) -> f64 {
        self.row_sums().iter().sum()
    }

    /// Where each row's cells start among the stored cells (row r's are
    /// `indptr[r]..indptr[r + 1]`), with the number of cells at the end.
    pub fn indptr(&self) -> &[usize] {
        &self.indptr
    }

    /// The transpose (columns × rows), whose rows list their columns in increasing order.
    pub fn transpose(&self) -> Csr {
        self.transpose_with_positions().0
    }

    /// The transpose ([`Self::transpose`]) and, for each of its stored cells in order, the
    /// position of the same cell among this matrix's stored cells (row by row), so that numbers
    /// attached to this matrix's cells can be read column by column.
    pub fn transpose_with_positions(&self) -> (Csr, Vec<usize>) {
        let mut indptr = vec![0usize; self.n_cols + 1];
        for &c in &self.indices {
            indptr[c as usize + 1] += 1;
        }
        for c in 0..self.n_cols {
            indptr[c + 1] += indptr[c];
        }
        let mut next = indptr.clone();
        let mut indices = vec![0u32; self.nnz()];
        let mut values = vec![0.0; self.nnz()];
        let mut positions = vec![0usize; self.nnz()];
        for r in 0..self.n_rows {
            let start = self.indptr[r];
            let (cols, vals) = self.row(r);
            for (i, (&c, &v)) in cols.iter().zip(vals).enumerate() {
                let at = next[c as usize];
                indices[at] = r as u32;
                values[at] = v;
                positions[at] = start + i;
                next[c as usize] += 1;
            }
        }
        (
            Csr {
                n_rows: self.n_cols,
                n_cols: self.n_rows,
                indptr,
                indices,
                values,
            },
            positions,
        )
    }

    /// The matrix without its empty rows and columns, with the old indices of the rows and of
    /// the columns it kept (in increasing order).
    pub fn compact(&self) -> (Csr, Vec<usize>, Vec<usize>) {
        let rows: Vec<usize> = (0..self.n_rows)
            .filter(|&r| !self.row(r).0.is_empty())
            .collect();
        let mut used = vec![false; self.n_cols];
        for &c in &self.indices {
            used[c as usize] = true;
        }
        let cols: Vec<usize> = (0..self.n_cols).filter(|&c| used[c]).collect();
        let mut new_col = vec![0u32; self.n_cols];
        for (n, &c) in cols.iter().enumerate() {
            new_col[c] = n as u32;
        }
        let mut indptr = Vec::with_capacity(rows.len() + 1);
        indptr.push(0);
        let mut indices = Vec::with_capacity(self.nnz());
        let mut values = Vec::with_capacity(self.nnz());
        for &r in &rows {
            let (cs, vs) = self.row(r);
            indices.extend(cs.iter().map(|&c| new_col[c as usize]));
            values.extend_from_slice(vs);
            indptr.push(indices.len());
        }
        (
            Csr {
                n_rows: rows.len(),
                n_cols: cols.len(),
                indptr,
                indices,
                values,
            },
            rows,
            cols,
        )
    }

    /// TF-IDF weighting exactly as scikit-learn's `TfidfTransformer()` with its defaults
    /// (`norm='l2', use_idf=True, smooth_idf=True, sublinear_tf=False`), rows being documents:
    /// idf(w) = ln((1 + D) / (1 + df(w))) + 1, where D is the number of rows and df(w) the number
    /// of rows in which column w is non-zero; each cell becomes x(d, w)·idf(w), and then each row
    /// is divided by its Euclidean norm. A term found in every document keeps weight idf = 1
    /// while rare terms get up to 1 + ln((1 + D) / 2), so frequent words (stop words) weigh
    /// less. Rows stay non-zero, so no document or term is lost.
    pub fn tfidf(&self) -> Csr {
        let mut df = vec![0usize; self.n_cols];
        for &c in &self.indices {
            df[c as usize] += 1;
        }
        let d = self.n_rows as f64;
        let idf: Vec<f64> = df
            .iter()
            .map(|&n| ((1.0 + d) / (1.0 + n as f64)).ln() + 1.0)
            .collect();
        let mut values = Vec::with_capacity(self.nnz());
        for r in 0..self.n_rows {
            let (cols, vals) = self.row(r);
            let start = values.len();
            values.extend(cols.iter().zip(vals).map(|(&c, &v)| v * idf[c as usize]));
            let norm = values[start..].iter().map(|v| v * v).sum::<f64>().sqrt();
            if norm > 0.0 {
                for v in &mut values[start..] {
                    *v /= norm;
                }
            }
        }
        Csr {
            values,
            ..self.clone()
        }
    }
}

#[cfg(test)]
// The references index dense arrays as the formulas do.
#[allow(clippy::needless_range_loop)]
mod tests {
    use super::*;

    fn dense(m: &Csr) -> Vec<Vec<f64>> {
        let mut out = vec![vec![0.0; m.n_cols()]; m.n_rows()];
        for (r, row) in out.iter_mut().enumerate() {
            let (cols, vals) = m.row(r);
            for (&c, &v) in cols.iter().zip(vals) {
                row[c as usize] = v;
            }
        }
        out
    }

    #[test]
    fn triplets_are_summed_and_zeros_dropped() {
        let m = Csr::from_triplets(
            3,
            4,
            &[2, 0, 2, 0, 1],
            &[1, 3, 1, 0, 2],
            &[1.0, 2.0, 0.5, 0.0, 0.0],
        )
        .unwrap();
        assert_eq!(m.nnz(), 2);
        assert_eq!(
            dense(&m),
            vec![
                vec![0.0, 0.0, 0.0, 2.0],
                vec![0.0; 4],
                vec![0.0, 1.5, 0.0, 0.0]
            ]
        );
        let t = m.transpose();
        assert_eq!(t.n_rows(), 4);
        assert_eq!(t.row(1), (&[2u32][..], &[1.5][..]));
        assert_eq!(t.row(3), (&[0u32][..], &[2.0][..]));
        // Positions: the transpose's cells are (1, 2) = 1.5 then (3, 0) = 2, which are cells 1
        // and 0 of the matrix; every cell's value agrees with the cell it points to.
        let (t2, positions) = m.transpose_with_positions();
        assert_eq!(t2, t);
        assert_eq!(positions, vec![1, 0]);
        assert_eq!(m.indptr(), &[0, 1, 1, 2]);
        let (c, rows, cols) = m.compact();
        assert_eq!((rows, cols), (vec![0, 2], vec![1, 3]));
        assert_eq!(dense(&c), vec![vec![0.0, 2.0], vec![1.5, 0.0]]);
    }

    #[test]
    fn bad_triplets_are_errors() {
        let e = Csr::from_triplets(1, 1, &[0], &[0], &[-1.0]).unwrap_err();
        assert_eq!(e.to_string(), "weights must be non-negative, got -1");
        let e = Csr::from_triplets(1, 1, &[0], &[0], &[f64::NAN]).unwrap_err();
        assert!(e.to_string().contains("must be finite"), "{e}");
        assert!(Csr::from_triplets(1, 1, &[1], &[0], &[1.0]).is_err());
        assert!(Csr::from_triplets(1, 1, &[0, 0], &[0], &[1.0]).is_err());
    }

    /// TF-IDF against scikit-learn's user guide (section "Tf–idf term weighting": the counts
    /// below, with `smooth_idf=True`, give row 0 = [0.8515, 0, 0.5243]) and against the formula
    /// written out on the dense matrix.
    #[test]
    fn tfidf_is_sklearns_default() {
        let counts = [
            [3.0, 0.0, 1.0],
            [2.0, 0.0, 0.0],
            [3.0, 0.0, 0.0],
            [4.0, 0.0, 0.0],
            [3.0, 2.0, 0.0],
            [3.0, 0.0, 2.0],
        ];
        let (mut r, mut c, mut v) = (vec![], vec![], vec![]);
        for (i, row) in counts.iter().enumerate() {
            for (j, &x) in row.iter().enumerate() {
                if x > 0.0 {
                    r.push(i as u32);
                    c.push(j as u32);
                    v.push(x);
                }
            }
        }
        let m = Csr::from_triplets(6, 3, &r, &c, &v).unwrap().tfidf();
        let got = dense(&m);
        let guide_row0 = [0.8515, 0.0, 0.5243];
        for j in 0..3 {
            assert!((got[0][j] - guide_row0[j]).abs() < 5e-5, "{:?}", got[0]);
        }
        // Independently: idf from document frequencies (6, 1, 2), then unit rows.
        let idf = [
            (7.0f64 / 7.0).ln() + 1.0,
            (7.0f64 / 2.0).ln() + 1.0,
            (7.0f64 / 3.0).ln() + 1.0,
        ];
        for (i, row) in counts.iter().enumerate() {
            let w: Vec<f64> = row.iter().zip(idf).map(|(x, f)| x * f).collect();
            let norm = w.iter().map(|x| x * x).sum::<f64>().sqrt();
            for j in 0..3 {
                assert!((got[i][j] - w[j] / norm).abs() < 1e-12);
            }
        }
    }
}
