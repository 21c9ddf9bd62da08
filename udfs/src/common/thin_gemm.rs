//! Products of thin row-major matrices without packing, with the same bits as the packed product.
//!
//! # Why this module exists
//!
//! A LIME explanation (`explain::kernels::lime`) builds two products per row of a query: the
//! model's scores of its 1,000 perturbations, `X B` with `X` the 1,000 × d perturbation rows and
//! `B` the d × k tag factors (`recsys::inn::scaled_scores`), and the surrogate's Gram matrix
//! `X_sᵀ X_s` with `X_sᵀ y_s` (`explain::kernels::ridge`), where d is an item's tag count (a few
//! to a few hundred). `matrixmultiply`, behind [`gemm_serial`](crate::transfer::kernels::linalg::gemm_serial),
//! packs both operands into its own layout before each product; at these shapes the packing
//! costs about two thirds of the arithmetic, and the rows are already laid out so that a kernel
//! can read them in place. The kernels here read the row-major data directly.
//!
//! They must not change any result (the explainers' fidelities are kept bit-identical), so each
//! entry is computed with exactly the operations of `matrixmultiply`'s AVX-512 kernel, which is
//! the one it selects on a CPU with AVX-512F: the depth is cut into blocks of
//! [`DEPTH_BLOCK`] (its `kc` for `f64`); within a block, one fused multiply-add per term in
//! depth order, starting from zero; the blocks' sums are added to the result in order (its
//! `C ← block + 1 · C`). They run only where this crate's dispatch reports AVX-512
//! ([`simd::Level::Avx512`](crate::common::simd::Level::Avx512), which implies AVX-512F), and
//! return `false` elsewhere, where the callers keep the packed product. The tests compare both
//! ways bit for bit.

#[cfg(target_arch = "x86_64")]
use std::arch::x86_64::*;

/// `matrixmultiply`'s depth block (`kc`) for `f64`: the sums restart from zero every this many
/// terms and are then added to the result.
pub const DEPTH_BLOCK: usize = 256;

/// Rows of the product's output computed together in [`rows_times`] (their accumulators, with
/// eight vectors of output columns each, fill 24 of the 32 vector registers).
#[cfg(target_arch = "x86_64")]
const ROWS: usize = 3;

/// `out = X B` for row-major `x` (`rows × d`), `b` (`d × k`) and `out` (`rows × k`), with the
/// bits of `gemm_serial` on an AVX-512 CPU. Returns `false`, leaving `out` untouched, when the
/// CPU lacks AVX-512 or the shapes do not match.
pub fn rows_times(x: &[f64], rows: usize, d: usize, b: &[f64], k: usize, out: &mut [f64]) -> bool {
    let shapes_ok = x.len() == rows * d && b.len() == d * k && out.len() == rows * k;
    if !shapes_ok || rows == 0 || d == 0 || k == 0 {
        return false;
    }
    #[cfg(target_arch = "x86_64")]
    if crate::common::simd::level().has_avx512() {
        // SAFETY: the CPU reported AVX-512F and AVX-512VL; the shapes were checked above.
        unsafe { rows_times_avx512(x, rows, d, b, k, out) };
        return true;
    }
    false
}

/// The upper triangle of `X_sᵀ X_s`, mirrored, into the row-major `d × d` `gram`, and `X_sᵀ y`
/// into `xty`, for row-major `xs` (`n × d`) and `y` (`n`), with the bits of `gemm_serial`'s
/// products on an AVX-512 CPU (the Gram's entry `(i, j)`, `i ≤ j`, sums `x_i · x_j`). Returns
/// `false`, leaving the outputs untouched, when the CPU lacks AVX-512 or the shapes do not
/// match.
pub fn gram_and_xty(
    xs: &[f64],
    n: usize,
    d: usize,
    y: &[f64],
    gram: &mut [f64],
    xty: &mut [f64],
) -> bool {
    let shapes_ok = xs.len() == n * d && y.len() == n && gram.len() == d * d && xty.len() == d;
    if !shapes_ok || n == 0 || d == 0 {
        return false;
    }
    #[cfg(target_arch = "x86_64")]
    if crate::common::simd::level().has_avx512() {
        // SAFETY: the CPU reported AVX-512F and AVX-512VL; the shapes were checked above.
        unsafe {
            gram_avx512(xs, n, d, gram);
            xty_avx512(xs, n, d, y, xty);
        }
        return true;
    }
    false
}

/// The lanes of the vector of columns starting at `c0` that lie before `end`.
// The AVX-512 intrinsics are stable since Rust 1.89; the workspace declares 1.85, below what
// its dependencies need already (DataFusion 55.2 declares 1.94), so clippy is told per item.
#[clippy::msrv = "1.89"]
#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn lanes(c0: usize, end: usize) -> __mmask8 {
    let valid = end.saturating_sub(c0).min(8);
    ((1u32 << valid) - 1) as __mmask8
}

/// # Safety
/// AVX-512F and AVX-512VL; `x.len() == rows * d`, `b.len() == d * k`, `out.len() == rows * k`,
/// all non-zero.
#[clippy::msrv = "1.89"]
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma,avx512f,avx512vl")]
unsafe fn rows_times_avx512(
    x: &[f64],
    rows: usize,
    d: usize,
    b: &[f64],
    k: usize,
    out: &mut [f64],
) {
    let (xp, bp, op) = (x.as_ptr(), b.as_ptr(), out.as_mut_ptr());
    for r0 in (0..rows).step_by(ROWS) {
        // Rows past the end repeat the last row; their results are not stored.
        let row = |r: usize| (r0 + r).min(rows - 1);
        for c0 in (0..k).step_by(64) {
            let masks: [__mmask8; 8] = std::array::from_fn(|v| lanes(c0 + 8 * v, k));
            for (block, j0) in (0..d).step_by(DEPTH_BLOCK).enumerate() {
                let j1 = (j0 + DEPTH_BLOCK).min(d);
                let mut acc = [[_mm512_setzero_pd(); 8]; ROWS];
                for j in j0..j1 {
                    let a: [__m512d; ROWS] =
                        std::array::from_fn(|r| _mm512_set1_pd(*xp.add(row(r) * d + j)));
                    let bj = bp.add(j * k + c0);
                    for v in 0..8 {
                        let bv = _mm512_maskz_loadu_pd(masks[v], bj.add(8 * v));
                        for r in 0..ROWS {
                            acc[r][v] = _mm512_fmadd_pd(a[r], bv, acc[r][v]);
                        }
                    }
                }
                for (r, acc) in acc.iter().enumerate() {
                    if r0 + r >= rows {
                        break;
                    }
                    let o = op.add((r0 + r) * k + c0);
                    for v in 0..8 {
                        let sum = if block == 0 {
                            acc[v]
                        } else {
                            _mm512_add_pd(acc[v], _mm512_maskz_loadu_pd(masks[v], o.add(8 * v)))
                        };
                        _mm512_mask_storeu_pd(o.add(8 * v), masks[v], sum);
                    }
                }
            }
        }
    }
}

/// # Safety
/// AVX-512F and AVX-512VL; `xs.len() == n * d`, `gram.len() == d * d`, `n, d > 0`.
#[clippy::msrv = "1.89"]
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma,avx512f,avx512vl")]
unsafe fn gram_avx512(xs: &[f64], n: usize, d: usize, gram: &mut [f64]) {
    let xp = xs.as_ptr();
    // Depth block by depth block (a block of rows stays in the core's cache while every tile
    // reads it), each tile's block sums added to the upper triangle as they come.
    for (block, p0) in (0..n).step_by(DEPTH_BLOCK).enumerate() {
        let p1 = (p0 + DEPTH_BLOCK).min(n);
        // Tiles of 8 rows i × 24 columns j of the upper triangle (j from the tile's first row).
        for i0 in (0..d).step_by(8) {
            // Rows past the end repeat the last column's values; their results are not stored.
            let col_i = |i: usize| (i0 + i).min(d - 1);
            for j0 in (i0..d).step_by(24) {
                let masks: [__mmask8; 3] = std::array::from_fn(|v| lanes(j0 + 8 * v, d));
                let mut acc = [[_mm512_setzero_pd(); 3]; 8];
                for p in p0..p1 {
                    let row = xp.add(p * d);
                    let bv: [__m512d; 3] = std::array::from_fn(|v| {
                        _mm512_maskz_loadu_pd(masks[v], row.add(j0 + 8 * v))
                    });
                    for (i, acc_i) in acc.iter_mut().enumerate() {
                        let a = _mm512_set1_pd(*row.add(col_i(i)));
                        for v in 0..3 {
                            acc_i[v] = _mm512_fmadd_pd(a, bv[v], acc_i[v]);
                        }
                    }
                }
                for (i, acc_row) in acc.iter().enumerate() {
                    let gi = i0 + i;
                    if gi >= d {
                        break;
                    }
                    let mut values = [0.0f64; 24];
                    for (v, a) in acc_row.iter().enumerate() {
                        _mm512_storeu_pd(values.as_mut_ptr().add(8 * v), *a);
                    }
                    let first = gi.max(j0);
                    let last = (j0 + 24).min(d);
                    for gj in first..last {
                        let value = values[gj - j0];
                        let entry = &mut gram[gi * d + gj];
                        *entry = if block == 0 { value } else { value + *entry };
                    }
                }
            }
        }
    }
    for i in 0..d {
        for j in i + 1..d {
            gram[j * d + i] = gram[i * d + j];
        }
    }
}

/// # Safety
/// AVX-512F and AVX-512VL; `xs.len() == n * d`, `y.len() == n`, `xty.len() == d`, `n, d > 0`.
#[clippy::msrv = "1.89"]
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma,avx512f,avx512vl")]
unsafe fn xty_avx512(xs: &[f64], n: usize, d: usize, y: &[f64], xty: &mut [f64]) {
    let (xp, op) = (xs.as_ptr(), xty.as_mut_ptr());
    for c0 in (0..d).step_by(64) {
        let masks: [__mmask8; 8] = std::array::from_fn(|v| lanes(c0 + 8 * v, d));
        for (block, p0) in (0..n).step_by(DEPTH_BLOCK).enumerate() {
            let p1 = (p0 + DEPTH_BLOCK).min(n);
            let mut acc = [_mm512_setzero_pd(); 8];
            for (p, &yv) in y.iter().enumerate().take(p1).skip(p0) {
                let yp = _mm512_set1_pd(yv);
                let row = xp.add(p * d + c0);
                for v in 0..8 {
                    let xv = _mm512_maskz_loadu_pd(masks[v], row.add(8 * v));
                    acc[v] = _mm512_fmadd_pd(xv, yp, acc[v]);
                }
            }
            for v in 0..8 {
                let o = op.add(c0 + 8 * v);
                let sum = if block == 0 {
                    acc[v]
                } else {
                    _mm512_add_pd(acc[v], _mm512_maskz_loadu_pd(masks[v], o))
                };
                _mm512_mask_storeu_pd(o, masks[v], sum);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::common::rng::Rng;
    use crate::transfer::kernels::linalg::{gemm_serial, MatRef};

    fn bits(v: &[f64]) -> Vec<u64> {
        v.iter().map(|x| x.to_bits()).collect()
    }

    /// Values like the kernels' inputs: zeros and ones (perturbations), and reals of mixed sign
    /// and magnitude (centred, weighted data; factors).
    fn values(len: usize, rng: &mut Rng, binary: bool) -> Vec<f64> {
        (0..len)
            .map(|_| {
                if binary {
                    f64::from(u8::from(rng.next_f64() < 0.5))
                } else {
                    rng.normal() * 10f64.powi(rng.below(7) as i32 - 3)
                }
            })
            .collect()
    }

    #[test]
    fn rows_times_equals_the_packed_product_bit_for_bit() {
        if !crate::common::simd::level().has_avx512() {
            assert!(!rows_times(&[1.0], 1, 1, &[1.0], 1, &mut [0.0]));
            return;
        }
        let mut rng = Rng::new(5);
        // Depths across one, two and three blocks; output widths across one and two chunks of
        // 64 columns with partial vectors; row counts not multiples of the row group.
        for &(rows, d, k) in &[
            (1, 1, 1),
            (2, 3, 5),
            (7, 27, 64),
            (1000, 27, 64),
            (10, 255, 32),
            (11, 256, 33),
            (13, 257, 128),
            (4, 329, 64),
            (5, 600, 70),
        ] {
            for binary in [true, false] {
                let x = values(rows * d, &mut rng, binary);
                let b = values(d * k, &mut rng, false);
                let mut want = vec![0.0; rows * k];
                gemm_serial(
                    MatRef::new(&x, rows, d),
                    MatRef::new(&b, d, k),
                    0.0,
                    &mut want,
                );
                let mut got = vec![f64::NAN; rows * k];
                assert!(rows_times(&x, rows, d, &b, k, &mut got));
                assert_eq!(bits(&got), bits(&want), "rows {rows}, d {d}, k {k}");
            }
        }
        // The way scaled_scores calls the packed product: its left operand column-major.
        let (rows, d, k) = (300, 40, 64);
        let x = values(rows * d, &mut rng, true);
        let b = values(d * k, &mut rng, false);
        let columns = nalgebra::DMatrix::from_row_slice(rows, d, &x);
        let mut want = vec![0.0; rows * k];
        gemm_serial(
            MatRef::new(columns.as_slice(), d, rows).t(),
            MatRef::new(&b, d, k),
            0.0,
            &mut want,
        );
        let mut got = vec![0.0; rows * k];
        assert!(rows_times(&x, rows, d, &b, k, &mut got));
        assert_eq!(bits(&got), bits(&want));
        // Mismatched shapes are refused.
        assert!(!rows_times(&x, rows, d, &b, k + 1, &mut got));
    }

    #[test]
    fn gram_and_xty_equal_the_packed_products_bit_for_bit() {
        if !crate::common::simd::level().has_avx512() {
            assert!(!gram_and_xty(&[1.0], 1, 1, &[1.0], &mut [0.0], &mut [0.0]));
            return;
        }
        let mut rng = Rng::new(6);
        for &(n, d) in &[
            (1, 1),
            (3, 2),
            (1000, 8),
            (1000, 27),
            (255, 9),
            (257, 30),
            (513, 47),
            (600, 100),
            (300, 329),
        ] {
            let xs = values(n * d, &mut rng, false);
            let y = values(n, &mut rng, false);
            // The full product XᵀX, and Xᵀy, each packed.
            let x = MatRef::new(&xs, n, d);
            let mut want_gram = vec![0.0; d * d];
            gemm_serial(x.t(), x, 0.0, &mut want_gram);
            let mut want_xty = vec![0.0; d];
            gemm_serial(x.t(), MatRef::new(&y, n, 1), 0.0, &mut want_xty);
            let mut gram = vec![f64::NAN; d * d];
            let mut xty = vec![f64::NAN; d];
            assert!(gram_and_xty(&xs, n, d, &y, &mut gram, &mut xty));
            assert_eq!(bits(&xty), bits(&want_xty), "n {n}, d {d}");
            for i in 0..d {
                for j in i..d {
                    // The upper triangle as the packed product computes it, mirrored.
                    assert_eq!(gram[i * d + j].to_bits(), want_gram[i * d + j].to_bits());
                    assert_eq!(gram[j * d + i].to_bits(), want_gram[i * d + j].to_bits());
                }
            }
        }
        assert!(!gram_and_xty(
            &[1.0; 6],
            3,
            2,
            &[1.0; 2],
            &mut [0.0; 4],
            &mut [0.0; 2]
        ));
    }
}
