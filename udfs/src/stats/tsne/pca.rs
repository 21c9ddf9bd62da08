//! PCA for t-SNE's default initialisation: the top principal components of the centred data,
//! from nalgebra's symmetric eigendecomposition of the d×d cross-product matrix (or of the n×n
//! Gram matrix when n < d), signed as scikit-learn's `svd_flip` and scaled as its `init="pca"`
//! (see the [`super::kernel`] documentation, step 6).

use rayon::prelude::*;

use super::kernel::{TsneError, INIT_STD};

/// PCA initialisation: scores on the top `dims` components, signed by the loadings'
/// largest-|value| entry and scaled so that column 0 has standard deviation 1e-4. `None` when the
/// first component has no variance.
pub(crate) fn pca_init(
    data: &[f64],
    n: usize,
    d: usize,
    dims: usize,
) -> Result<Option<Vec<f64>>, TsneError> {
    // Centre (column means summed in row order).
    let mut mean = vec![0.0; d];
    for row in data.chunks_exact(d) {
        for (m, v) in mean.iter_mut().zip(row) {
            *m += v;
        }
    }
    for m in mean.iter_mut() {
        *m /= n as f64;
    }
    let xc: Vec<f64> = data
        .chunks_exact(d)
        .flat_map(|row| row.iter().zip(&mean).map(|(v, m)| v - m))
        .collect();

    let mut scores = vec![0.0; n * dims];
    if n >= d {
        // d×d cross-product matrix from the transposed data (columns contiguous).
        let mut xt = vec![0.0; d * n];
        for (i, row) in xc.chunks_exact(d).enumerate() {
            for (k, v) in row.iter().enumerate() {
                xt[k * n + i] = *v;
            }
        }
        let c = cross_products(&xt, d, n);
        if c.iter().any(|v| !v.is_finite()) {
            return Err(TsneError::Overflow { row: 0 });
        }
        let (_, vectors) = symmetric_eigen(c, d)?;
        for (comp, v) in vectors.iter().take(dims).enumerate() {
            let flip = sign_of_largest(v);
            for (i, row) in xc.chunks_exact(d).enumerate() {
                let s: f64 = row.iter().zip(v).fold(0.0, |acc, (a, b)| acc + a * b);
                scores[i * dims + comp] = flip * s;
            }
        }
    } else {
        // n×n Gram matrix: eigenvectors u_k, scores u_k·sqrt(λ_k), loadings ∝ Xcᵀu_k.
        let g = cross_products(&xc, n, d);
        if g.iter().any(|v| !v.is_finite()) {
            return Err(TsneError::Overflow { row: 0 });
        }
        let (values, vectors) = symmetric_eigen(g, n)?;
        for (comp, (u, lambda)) in vectors.iter().zip(&values).take(dims).enumerate() {
            let mut loading = vec![0.0; d];
            for (ui, row) in u.iter().zip(xc.chunks_exact(d)) {
                for (l, v) in loading.iter_mut().zip(row) {
                    *l += ui * v;
                }
            }
            let flip = sign_of_largest(&loading);
            let s = lambda.max(0.0).sqrt();
            for (i, ui) in u.iter().enumerate() {
                scores[i * dims + comp] = flip * ui * s;
            }
        }
    }
    let col0_mean = scores.iter().step_by(dims).sum::<f64>() / n as f64;
    let var = scores
        .iter()
        .step_by(dims)
        .map(|v| (v - col0_mean) * (v - col0_mean))
        .sum::<f64>()
        / n as f64;
    let std = var.sqrt();
    if !(std.is_finite() && std > 0.0) {
        return Ok(None);
    }
    let scale = INIT_STD / std;
    for v in scores.iter_mut() {
        *v *= scale;
    }
    Ok(Some(scores))
}

/// m×m matrix of dot products of the `m` contiguous rows (length `len`) of `rows`.
fn cross_products(rows: &[f64], m: usize, len: usize) -> Vec<f64> {
    let mut c = vec![0.0; m * m];
    c.par_chunks_mut(m).enumerate().for_each(|(a, out)| {
        let ra = &rows[a * len..(a + 1) * len];
        for (o, rb) in out.iter_mut().zip(rows.chunks_exact(len)) {
            *o = ra.iter().zip(rb).fold(0.0, |acc, (x, y)| acc + x * y);
        }
    });
    c
}

/// +1 if the largest-|value| entry (first on ties) of `v` is ≥ 0, else −1.
fn sign_of_largest(v: &[f64]) -> f64 {
    let mut best = 0.0_f64;
    let mut sign = 1.0;
    for x in v {
        if x.abs() > best {
            best = x.abs();
            sign = if *x < 0.0 { -1.0 } else { 1.0 };
        }
    }
    sign
}

/// Eigen-decomposition of the symmetric `n`×`n` matrix `a` (row-major): eigenvalues in decreasing
/// order (ties by index) and the matching unit eigenvectors (nalgebra's symmetric eigensolver).
pub(crate) fn symmetric_eigen(
    a: Vec<f64>,
    n: usize,
) -> Result<(Vec<f64>, Vec<Vec<f64>>), TsneError> {
    if n == 0 {
        return Ok((Vec::new(), Vec::new()));
    }
    let eig = nalgebra::DMatrix::from_row_slice(n, n, &a).symmetric_eigen();
    if eig.eigenvalues.iter().any(|x| !x.is_finite())
        || eig.eigenvectors.iter().any(|x| !x.is_finite())
    {
        return Err(TsneError::EigenSolverFailed);
    }
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&i, &j| {
        eig.eigenvalues[j]
            .total_cmp(&eig.eigenvalues[i])
            .then(i.cmp(&j))
    });
    let values = order.iter().map(|&k| eig.eigenvalues[k]).collect();
    let vectors = order
        .iter()
        .map(|&k| eig.eigenvectors.column(k).iter().copied().collect())
        .collect();
    Ok((values, vectors))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::common::rng::Rng;

    fn gaussian_data(n: usize, d: usize, seed: u64) -> Vec<f64> {
        let mut rng = Rng::new(seed);
        (0..n * d).map(|_| rng.normal()).collect()
    }

    #[test]
    fn symmetric_eigen_decomposes() {
        let m = 9;
        let x = gaussian_data(m, m, 21);
        let mut a = vec![0.0; m * m];
        for i in 0..m {
            for j in 0..m {
                a[i * m + j] = x[i * m + j] + x[j * m + i];
            }
        }
        let (values, vectors) = symmetric_eigen(a.clone(), m).unwrap();
        for w in values.windows(2) {
            assert!(w[0] >= w[1]);
        }
        for (lambda, v) in values.iter().zip(&vectors) {
            for i in 0..m {
                let av: f64 = (0..m).map(|j| a[i * m + j] * v[j]).sum();
                assert!((av - lambda * v[i]).abs() < 1e-10);
            }
        }
        for (a_idx, va) in vectors.iter().enumerate() {
            for (b_idx, vb) in vectors.iter().enumerate() {
                let dot: f64 = va.iter().zip(vb).map(|(p, q)| p * q).sum();
                let want = if a_idx == b_idx { 1.0 } else { 0.0 };
                assert!((dot - want).abs() < 1e-10);
            }
        }
    }

    #[test]
    fn pca_init_finds_dominant_directions_with_either_solver() {
        // Points spread along e0 (sd 5) and e1 (sd 2) plus small noise; both the covariance
        // (n >= d) and the Gram (n < d) paths must recover the same scores.
        let d = 6;
        for n in [400, 5] {
            let mut rng = Rng::new(4);
            let mut data = Vec::new();
            for i in 0..n {
                // With 5 rows use fixed uncorrelated values so that the sample variances are ordered.
                let (a, b) = if n == 5 {
                    (
                        [-10.0, -5.0, 0.0, 5.0, 10.0][i],
                        [2.0, -2.0, 0.0, -2.0, 2.0][i],
                    )
                } else {
                    (5.0 * rng.normal(), 2.0 * rng.normal())
                };
                for k in 0..d {
                    let v = match k {
                        0 => a,
                        1 => -b,
                        _ => 0.01 * rng.normal(),
                    };
                    data.push(v + 3.0);
                }
            }
            let y = pca_init(&data, n, d, 2).unwrap().unwrap();
            let mean0: f64 = (0..n).map(|i| y[2 * i]).sum::<f64>() / n as f64;
            let sd0 = ((0..n).map(|i| (y[2 * i] - mean0).powi(2)).sum::<f64>() / n as f64).sqrt();
            assert!((sd0 - 1e-4).abs() < 1e-12);
            // Largest loadings are made positive: column 0 follows +x0, column 1 follows +x1.
            let m0: f64 = (0..n).map(|i| data[i * d]).sum::<f64>() / n as f64;
            let m1: f64 = (0..n).map(|i| data[i * d + 1]).sum::<f64>() / n as f64;
            let corr = |col: usize, k: usize, mk: f64, sign: f64| {
                let (mut sxy, mut sxx, mut syy) = (0.0, 0.0, 0.0);
                for i in 0..n {
                    let a = y[2 * i + col];
                    let b = sign * (data[i * d + k] - mk);
                    sxy += a * b;
                    sxx += a * a;
                    syy += b * b;
                }
                sxy / (sxx * syy).sqrt()
            };
            assert!(corr(0, 0, m0, 1.0) > 0.999, "n={n}");
            assert!(corr(1, 1, m1, 1.0) > 0.99, "n={n}");
        }
    }
}
