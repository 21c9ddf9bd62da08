//! The exact row solver: each row's `k × k` system accumulated in `f64` and solved by a blocked
//! Cholesky factorisation (`O(nnz · k² + rows · k³)` per half-step).

use super::simd::{syrk_upper, AlsSimd, SYRK_ROWS};
use super::Factors;
use crate::common::simd::Simd;

/// Per-thread buffers of the Cholesky solver.
pub(super) struct CholeskyScratch {
    /// The system matrix, then its Cholesky factor.
    a: Vec<f64>,
    /// The right-hand side, then the solution.
    b: Vec<f64>,
    /// Up to [`SYRK_ROWS`] gathered rows `y_t`.
    ys: Vec<f64>,
    /// The same rows scaled by `c_t − 1`.
    wys: Vec<f64>,
}

impl CholeskyScratch {
    pub(super) fn new(k: usize) -> CholeskyScratch {
        CholeskyScratch {
            a: vec![0.0; k * k],
            b: vec![0.0; k],
            ys: vec![0.0; SYRK_ROWS * k],
            wys: vec![0.0; SYRK_ROWS * k],
        }
    }
}

/// Exact solve of row `x`'s system `(G + Σ (c−1) y yᵀ) x = Σ c p y` with `G = YᵀY + λI`
/// (`gram`). The system is accumulated in `f64`: the rows `y` of up to [`SYRK_ROWS`] stored
/// entries at a time are gathered (converted to `f64`, prefetched ahead) and added as
/// `Yᵀ diag(c − 1) Y` to the upper triangle by [`syrk_upper`]; then a blocked Cholesky
/// factorisation and two triangular solves. If the factorisation fails (only possible with
/// `λ = 0`), the row is left unchanged, which keeps the objective from increasing.
///
/// `prior = Some((λ, m))` adds `λ m` to the right-hand side: the row is then regularised towards
/// `m` instead of towards zero (`gram` holds the same `λ` on its diagonal), and a row without
/// stored entries is solved too (its minimiser is no longer zero).
#[inline(always)]
#[allow(clippy::too_many_arguments)]
pub(super) fn cholesky_row<S: AlsSimd>(
    simd: S,
    cols: &[u32],
    vals: &[f32],
    fixed: &Factors,
    alpha: f32,
    gram: &[f64],
    prior: Option<(f64, &[f32])>,
    s: &mut CholeskyScratch,
    x: &mut [f32],
) {
    let k = x.len();
    if cols.is_empty() && prior.is_none() {
        x.fill(0.0);
        return;
    }
    s.a.copy_from_slice(gram);
    s.b.fill(0.0);
    if let Some((l2, m)) = prior {
        for (bv, &mv) in s.b.iter_mut().zip(m) {
            *bv = l2 * f64::from(mv);
        }
    }
    let alpha = f64::from(alpha);
    let mut ahead = cols.iter().skip(PREFETCH_AHEAD);
    for (c_part, v_part) in cols.chunks(SYRK_ROWS).zip(vals.chunks(SYRK_ROWS)) {
        let n = c_part.len() * k;
        let rows = s.ys[..n]
            .chunks_exact_mut(k)
            .zip(s.wys[..n].chunks_exact_mut(k));
        for ((&c, &v), (y, wy)) in c_part.iter().zip(v_part).zip(rows) {
            if let Some(&next) = ahead.next() {
                simd.prefetch(fixed.row(next as usize));
            }
            let src = fixed.row(c as usize);
            if src.len() != k {
                // Not a row of `fixed` (only for a malformed input): contributes nothing.
                y.fill(0.0);
                wy.fill(0.0);
                continue;
            }
            let extra = alpha * f64::from(v).abs();
            for ((d, dw), &e) in y.iter_mut().zip(wy.iter_mut()).zip(src) {
                *d = f64::from(e);
                *dw = extra * *d;
            }
            if v > 0.0 {
                let cp = 1.0 + extra;
                for (bv, &yv) in s.b.iter_mut().zip(y.iter()) {
                    *bv = simd.madd64(cp, yv, *bv);
                }
            }
        }
        syrk_upper(simd, &mut s.a, k, &s.wys[..n], &s.ys[..n]);
    }
    if cholesky_in_place(simd, &mut s.a, k) {
        cholesky_solve(simd, &s.a, k, &mut s.b);
        for (xv, &bv) in x.iter_mut().zip(&s.b) {
            *xv = bv as f32;
        }
    }
}

fn dot64(a: &[f64], b: &[f64]) -> f64 {
    let mut acc = [0.0f64; 4];
    let (ac, bc) = (a.chunks_exact(4), b.chunks_exact(4));
    let tail: f64 = ac
        .remainder()
        .iter()
        .zip(bc.remainder())
        .map(|(x, y)| x * y)
        .sum();
    for (x, y) in ac.zip(bc) {
        for ((s, &xv), &yv) in acc.iter_mut().zip(x).zip(y) {
            *s += xv * yv;
        }
    }
    (acc[0] + acc[2]) + (acc[1] + acc[3]) + tail
}

/// Cholesky factorisation `A = UᵀU` (`U` upper triangular) of the upper triangle of a row-major
/// `k × k` matrix, in place (entries below the diagonal are ignored and may change). Blocked
/// left-looking by four rows: each block row first receives the update from all finished rows
/// above it in one [`AlsSimd::syrk_block`] call (register-tiled on AVX2), then its four rows are
/// factorised. `false` when `A` is not numerically positive definite.
#[inline(always)]
pub(super) fn cholesky_in_place<S: AlsSimd>(simd: S, a: &mut [f64], k: usize) -> bool {
    if a.len() != k * k {
        return false;
    }
    let mut jb = 0;
    while jb < k {
        let je = (jb + 4).min(k);
        let (done, rest) = a.split_at_mut(jb * k);
        let panel = &mut rest[..(je - jb) * k];
        // A[jb..je, jb..] −= U[..jb, jb..je]ᵀ U[..jb, jb..]
        simd.syrk_block(panel, k, jb, done, done, true);
        for j in jb..je {
            let (head, below) = panel.split_at_mut((j + 1 - jb) * k);
            let row_j = &mut head[(j - jb) * k..];
            let d = row_j[j];
            if !(d > 0.0 && d.is_finite()) {
                return false;
            }
            let ujj = d.sqrt();
            row_j[j] = ujj;
            let inv = 1.0 / ujj;
            for v in &mut row_j[j + 1..] {
                *v *= inv;
            }
            let row_j = &*row_j;
            for (i, row_i) in (j + 1..je).zip(below.chunks_exact_mut(k)) {
                let f = -row_j[i];
                for (av, &u) in row_i[i..].iter_mut().zip(&row_j[i..]) {
                    *av = simd.madd64(f, u, *av);
                }
            }
        }
        jb = je;
    }
    true
}

/// Solves `UᵀU x = b` in place for the factor of [`cholesky_in_place`].
#[inline(always)]
pub(super) fn cholesky_solve<S: Simd>(simd: S, u: &[f64], k: usize, b: &mut [f64]) {
    if k == 0 || u.len() != k * k || b.len() != k {
        return;
    }
    // Uᵀ z = b, column by column.
    for (t, row) in u.chunks_exact(k).enumerate() {
        let zt = b[t] / row[t];
        b[t] = zt;
        for (bv, &uv) in b[t + 1..].iter_mut().zip(&row[t + 1..]) {
            *bv = simd.madd64(-zt, uv, *bv);
        }
    }
    // U x = z, from the last row up.
    for (i, row) in u.chunks_exact(k).enumerate().rev() {
        let s = dot64(&row[i + 1..], &b[i + 1..]);
        b[i] = (b[i] - s) / row[i];
    }
}

/// How many stored entries ahead [`cholesky_row`] prefetches the rows it gathers.
const PREFETCH_AHEAD: usize = 8;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::common::simd::Portable;
    use nalgebra::{DMatrix, DVector};
    use rand::rngs::StdRng;
    use rand::{Rng as _, SeedableRng};

    use super::super::simd::{isas, Isa};

    #[test]
    fn cholesky_solves_a_small_system_and_refuses_an_indefinite_one() {
        // [[4, 2], [2, 3]] x = [2, 3.5] (upper triangle; the lower entry is ignored).
        let mut m = vec![4.0, f64::NAN, 2.0, 3.0];
        m.swap(1, 2);
        assert!(cholesky_in_place(Portable, &mut m, 2));
        let mut b = vec![2.0, 3.5];
        cholesky_solve(Portable, &m, 2, &mut b);
        assert!((b[0] + 0.125).abs() < 1e-12 && (b[1] - 1.25).abs() < 1e-12);
        assert!(!cholesky_in_place(Portable, &mut [1.0, 2.0, 0.0, 1.0], 2));
    }

    #[test]
    fn cholesky_matches_nalgebra() {
        let mut rng = StdRng::seed_from_u64(16);
        for k in [1usize, 2, 3, 4, 5, 7, 8, 9, 31, 64, 70] {
            let m = DMatrix::from_fn(k + 3, k, |_, _| rng.random_range(-1.0..1.0));
            let spd = m.transpose() * &m + DMatrix::identity(k, k) * 0.1;
            let rhs: Vec<f64> = (0..k).map(|_| rng.random_range(-1.0..1.0)).collect();
            let want = spd
                .clone()
                .cholesky()
                .unwrap()
                .solve(&DVector::from_column_slice(&rhs));
            for isa in isas() {
                // Row-major upper triangle; garbage below the diagonal must be ignored.
                let mut a: Vec<f64> = (0..k * k)
                    .map(|t| {
                        if t % k >= t / k {
                            spd[(t / k, t % k)]
                        } else {
                            f64::NAN
                        }
                    })
                    .collect();
                let mut b = rhs.clone();
                let ok = match isa {
                    Isa::Portable => {
                        cholesky_in_place(Portable, &mut a, k) && {
                            cholesky_solve(Portable, &a, k, &mut b);
                            true
                        }
                    }
                    #[cfg(target_arch = "x86_64")]
                    Isa::Avx2Fma(t) => {
                        cholesky_in_place(t, &mut a, k) && {
                            cholesky_solve(t, &a, k, &mut b);
                            true
                        }
                    }
                };
                assert!(ok, "k {k}");
                for j in 0..k {
                    assert!(
                        (b[j] - want[j]).abs() < 1e-9 * want.amax().max(1.0),
                        "k {k}"
                    );
                }
            }
        }
    }
}
