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
//! ([`simd::Level::Avx512`](crate::common::simd::Level::Avx512), which implies AVX-512F);
//! elsewhere [`rows_times`] and [`gram_and_xty`] take the packed products
//! ([`rows_times_packed`], [`gram_and_xty_packed`]), as before these kernels. The tests compare
//! both ways bit for bit, and `cargo bench --workspace --bench lime` times both.

#[cfg(target_arch = "x86_64")]
use std::arch::x86_64::*;

use crate::transfer::kernels::linalg::{gemm_serial, MatRef};

/// `matrixmultiply`'s depth block (`kc`) for `f64`: the sums restart from zero every this many
/// terms and are then added to the result.
pub const DEPTH_BLOCK: usize = 256;

/// Rows of the product's output computed together in [`rows_times`] (their accumulators, with
/// eight vectors of output columns each, fill 24 of the 32 vector registers).
#[cfg(target_arch = "x86_64")]
const ROWS: usize = 3;

/// `out = X B` for row-major `x` (`rows × d`), `b` (`d × k`) and `out` (`rows × k`): read in
/// place on an AVX-512 CPU, else [`rows_times_packed`]; the same bits either way. Mismatched
/// shapes panic in debug builds and leave `out` untouched otherwise (as `gemm_serial`).
pub fn rows_times(x: &[f64], rows: usize, d: usize, b: &[f64], k: usize, out: &mut [f64]) {
    let shapes_ok = x.len() == rows * d && b.len() == d * k && out.len() == rows * k;
    debug_assert!(shapes_ok, "rows_times: shapes do not match");
    if !shapes_ok {
        return;
    }
    #[cfg(target_arch = "x86_64")]
    if rows > 0 && d > 0 && k > 0 && crate::common::simd::level().has_avx512() {
        // SAFETY: the CPU reported AVX-512F and AVX-512VL; the shapes were checked above.
        unsafe { rows_times_avx512(x, rows, d, b, k, out) };
        return;
    }
    rows_times_packed(x, rows, d, b, k, out);
}

/// [`rows_times`] by the packed product, from a column-major copy of `x` (the product packs its
/// left operand fastest from columns).
pub fn rows_times_packed(x: &[f64], rows: usize, d: usize, b: &[f64], k: usize, out: &mut [f64]) {
    if x.len() != rows * d {
        return;
    }
    let columns = nalgebra::DMatrix::from_row_slice(rows, d, x);
    gemm_serial(
        MatRef::new(columns.as_slice(), d, rows).t(),
        MatRef::new(b, d, k),
        0.0,
        out,
    );
}

/// The Gram matrix `X_sᵀ X_s` into the `d × d` `gram` (symmetric, so row- and column-major
/// alike) and `X_sᵀ y` into `xty`, for row-major `xs` (`n × d`) and `y` (`n`): read in place on
/// an AVX-512 CPU, else [`gram_and_xty_packed`]; the same bits either way (the entry `(i, j)`,
/// `i ≤ j`, sums `x_i · x_j`, mirrored). Mismatched shapes panic in debug builds and leave the
/// outputs untouched otherwise.
pub fn gram_and_xty(xs: &[f64], n: usize, d: usize, y: &[f64], gram: &mut [f64], xty: &mut [f64]) {
    let shapes_ok = xs.len() == n * d && y.len() == n && gram.len() == d * d && xty.len() == d;
    debug_assert!(shapes_ok, "gram_and_xty: shapes do not match");
    if !shapes_ok {
        return;
    }
    #[cfg(target_arch = "x86_64")]
    if n > 0 && d > 0 && crate::common::simd::level().has_avx512() {
        // SAFETY: the CPU reported AVX-512F and AVX-512VL; the shapes were checked above.
        unsafe {
            gram_avx512(xs, n, d, gram);
            xty_avx512(xs, n, d, y, xty);
        }
        return;
    }
    gram_and_xty_packed(xs, n, d, y, gram, xty);
}

/// [`gram_and_xty`] by packed products: the Gram matrix in blocks (`symmetric_gram`), `X_sᵀ y`
/// as one matrix-vector product.
pub fn gram_and_xty_packed(
    xs: &[f64],
    n: usize,
    d: usize,
    y: &[f64],
    gram: &mut [f64],
    xty: &mut [f64],
) {
    if xs.len() != n * d || y.len() != n || gram.len() != d * d || xty.len() != d {
        return;
    }
    let x_rows = MatRef::new(xs, n, d);
    symmetric_gram(x_rows, d, 0, d, gram);
    gemm_serial(x_rows.t(), MatRef::new(y, n, 1), 0.0, xty);
}

/// Columns up to which [`symmetric_gram`] takes one product for a diagonal block.
const GRAM_BLOCK: usize = 48;

/// The block `c0..c1` × `c0..c1` of `XᵀX` (`x` is n × `d`) into the row-major d × d `gram`: for a
/// wide block, the two diagonal halves recursively and the off-diagonal one by one product,
/// mirrored, which skips most of the products a full `XᵀX` repeats (about half for wide data).
/// The result is exactly symmetric.
fn symmetric_gram(x: MatRef<'_, f64>, d: usize, c0: usize, c1: usize, gram: &mut [f64]) {
    let width = c1 - c0;
    if width <= GRAM_BLOCK {
        let block = x.col_range(c0, c1);
        let mut c = vec![0.0f64; width * width];
        gemm_serial(block.t(), block, 0.0, &mut c);
        for i in 0..width {
            for j in i..width {
                // Upper triangle, mirrored.
                let v = c[i * width + j];
                gram[(c0 + i) * d + c0 + j] = v;
                gram[(c0 + j) * d + c0 + i] = v;
            }
        }
        return;
    }
    let mid = c0 + width / 2;
    symmetric_gram(x, d, c0, mid, gram);
    symmetric_gram(x, d, mid, c1, gram);
    let (h1, h2) = (mid - c0, c1 - mid);
    let mut c = vec![0.0f64; h1 * h2];
    gemm_serial(x.col_range(c0, mid).t(), x.col_range(mid, c1), 0.0, &mut c);
    for i in 0..h1 {
        for j in 0..h2 {
            let v = c[i * h2 + j];
            gram[(c0 + i) * d + mid + j] = v;
            gram[(mid + j) * d + c0 + i] = v;
        }
    }
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
        // Both ways (in place where the CPU has AVX-512; packed) against the product of the
        // row-major operands. Depths across one, two and three blocks; output widths across
        // one and two chunks of 64 columns with partial vectors; row counts not multiples of
        // the row group.
        let mut rng = Rng::new(5);
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
                rows_times(&x, rows, d, &b, k, &mut got);
                assert_eq!(bits(&got), bits(&want), "rows {rows}, d {d}, k {k}");
                let mut packed = vec![f64::NAN; rows * k];
                rows_times_packed(&x, rows, d, &b, k, &mut packed);
                assert_eq!(bits(&packed), bits(&want), "rows {rows}, d {d}, k {k}");
            }
        }
    }

    #[test]
    fn gram_and_xty_equal_the_packed_products_bit_for_bit() {
        // Both ways against the full products XᵀX and Xᵀy of the row-major data, across the
        // depth blocks and symmetric_gram's split at 48 columns.
        let mut rng = Rng::new(6);
        for &(n, d) in &[
            (1, 1),
            (3, 2),
            (1000, 8),
            (1000, 27),
            (255, 9),
            (257, 30),
            (513, 47),
            (257, 49),
            (600, 100),
            (300, 329),
        ] {
            for binary in [true, false] {
                let xs = values(n * d, &mut rng, binary);
                let y = values(n, &mut rng, false);
                let x = MatRef::new(&xs, n, d);
                let mut want_gram = vec![0.0; d * d];
                gemm_serial(x.t(), x, 0.0, &mut want_gram);
                let mut want_xty = vec![0.0; d];
                gemm_serial(x.t(), MatRef::new(&y, n, 1), 0.0, &mut want_xty);
                type Product = fn(&[f64], usize, usize, &[f64], &mut [f64], &mut [f64]);
                for (way, product) in [
                    ("dispatched", gram_and_xty as Product),
                    ("packed", gram_and_xty_packed as Product),
                ] {
                    let mut gram = vec![f64::NAN; d * d];
                    let mut xty = vec![f64::NAN; d];
                    product(&xs, n, d, &y, &mut gram, &mut xty);
                    assert_eq!(bits(&xty), bits(&want_xty), "{way}: n {n}, d {d}");
                    for i in 0..d {
                        for j in i..d {
                            // The upper triangle as the full product computes it, mirrored.
                            let want = want_gram[i * d + j].to_bits();
                            assert_eq!(gram[i * d + j].to_bits(), want, "{way}: n {n}, d {d}");
                            assert_eq!(gram[j * d + i].to_bits(), want, "{way}: n {n}, d {d}");
                        }
                    }
                }
            }
        }
    }
}
