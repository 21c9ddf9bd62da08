//! The ALS-specific part of the SIMD layer: the register-tiled `YᵀWY` update ([`syrk_upper`],
//! [`AlsSimd::syrk_block`]) that the Cholesky solver and the Gram matrices use, and [`Isa`],
//! which runs the hot loops (both row solvers, the objective's stored terms, the Gram blocks)
//! with the instruction set that [`crate::common::simd`] detected. The generic primitives (dot
//! products, axpys, fused multiply-adds) are [`crate::common::simd::Simd`]'s.

use super::cg::{cg_row, CgScratch};
use super::cholesky::{cholesky_row, CholeskyScratch};
use super::{gram_block, stored_terms, Csr, Factors};
#[cfg(target_arch = "x86_64")]
use crate::common::simd::Avx2Fma;
use crate::common::simd::{Portable, Simd};

/// [`Simd`] plus the symmetric rank-k update of the Cholesky solver and the Gram matrices.
pub(super) trait AlsSimd: Simd {
    /// `A[r, c] ±= Σ_t bw[t, r] b[t, c]` for the rows `r0 ≤ r < r0 + 4` of a row-major `k × k`
    /// matrix `A` held in `block` (those rows only) and the columns `c ≥ r`, with row-major
    /// `n × k` blocks `bw` and `b` (`n` from their lengths); subtracts when `subtract`. A few
    /// entries left of the diagonal may change too.
    fn syrk_block(
        self,
        block: &mut [f64],
        k: usize,
        r0: usize,
        bw: &[f64],
        b: &[f64],
        subtract: bool,
    );
}

impl AlsSimd for Portable {
    #[inline(always)]
    fn syrk_block(
        self,
        block: &mut [f64],
        k: usize,
        r0: usize,
        bw: &[f64],
        b: &[f64],
        subtract: bool,
    ) {
        syrk_block_by_rows(self, block, k, r0, bw, b, subtract);
    }
}

/// Rows per call of [`syrk_upper`] (two such `f64` blocks stay in the L1 cache for
/// `k ≤ 64`).
pub(super) const SYRK_ROWS: usize = 32;

/// `A += bwᵀ b` on the upper triangle of the row-major `k × k` matrix `A`, for row-major
/// `n × k` blocks `bw` and `b` (`n` from their lengths): [`AlsSimd::syrk_block`] on every block of
/// four rows. Entries below the diagonal may change and are never read.
#[inline(always)]
pub(super) fn syrk_upper<S: AlsSimd>(simd: S, a: &mut [f64], k: usize, bw: &[f64], b: &[f64]) {
    if k == 0 {
        return;
    }
    for (r0, block) in (0..k).step_by(4).zip(a.chunks_mut(4 * k)) {
        simd.syrk_block(block, k, r0, bw, b, false);
    }
}

/// Portable [`AlsSimd::syrk_block`]: for each row, axpys of four `b` rows at a time.
#[inline(always)]
fn syrk_block_by_rows<S: AlsSimd>(
    simd: S,
    block: &mut [f64],
    k: usize,
    r0: usize,
    bw: &[f64],
    b: &[f64],
    subtract: bool,
) {
    if k == 0 {
        return;
    }
    let sign = if subtract { -1.0 } else { 1.0 };
    for (r, row) in (r0..k).zip(block.chunks_exact_mut(k)) {
        let start = r & !3;
        let row = &mut row[start..];
        let mut pairs = bw.chunks_exact(k).zip(b.chunks_exact(k));
        loop {
            match (pairs.next(), pairs.next(), pairs.next(), pairs.next()) {
                (Some((w0, b0)), Some((w1, b1)), Some((w2, b2)), Some((w3, b3))) => {
                    let c = [sign * w0[r], sign * w1[r], sign * w2[r], sign * w3[r]];
                    for ((((av, &e0), &e1), &e2), &e3) in row
                        .iter_mut()
                        .zip(&b0[start..])
                        .zip(&b1[start..])
                        .zip(&b2[start..])
                        .zip(&b3[start..])
                    {
                        *av = simd.madd64(
                            c[3],
                            e3,
                            simd.madd64(
                                c[2],
                                e2,
                                simd.madd64(c[1], e1, simd.madd64(c[0], e0, *av)),
                            ),
                        );
                    }
                }
                (p0, p1, p2, _) => {
                    for (w, y) in [p0, p1, p2].into_iter().flatten() {
                        let c = sign * w[r];
                        for (av, &e) in row.iter_mut().zip(&y[start..]) {
                            *av = simd.madd64(c, e, *av);
                        }
                    }
                    break;
                }
            }
        }
    }
}

/// The instruction set the kernels run with: AVX2+FMA where [`crate::common::simd::level`]
/// (detected once per process) has it, else the portable code.
#[derive(Clone, Copy)]
pub(super) enum Isa {
    Portable,
    #[cfg(target_arch = "x86_64")]
    Avx2Fma(Avx2Fma),
}

impl Isa {
    pub(super) fn detect() -> Isa {
        #[cfg(target_arch = "x86_64")]
        {
            if let Some(token) = Avx2Fma::detect() {
                return Isa::Avx2Fma(token);
            }
        }
        Isa::Portable
    }

    #[allow(clippy::too_many_arguments)]
    pub(super) fn cg_row(
        self,
        cols: &[u32],
        vals: &[f32],
        fixed: &Factors,
        alpha: f32,
        gram: &[f32],
        prior: Option<(f32, &[f32])>,
        steps: usize,
        s: &mut CgScratch,
        x: &mut [f32],
    ) {
        match self {
            Isa::Portable => cg_row(Portable, cols, vals, fixed, alpha, gram, prior, steps, s, x),
            #[cfg(target_arch = "x86_64")]
            Isa::Avx2Fma(t) => t.cg_row(cols, vals, fixed, alpha, gram, prior, steps, s, x),
        }
    }

    #[allow(clippy::too_many_arguments)]
    pub(super) fn cholesky_row(
        self,
        cols: &[u32],
        vals: &[f32],
        fixed: &Factors,
        alpha: f32,
        gram: &[f64],
        prior: Option<(f64, &[f32])>,
        s: &mut CholeskyScratch,
        x: &mut [f32],
    ) {
        match self {
            Isa::Portable => cholesky_row(Portable, cols, vals, fixed, alpha, gram, prior, s, x),
            #[cfg(target_arch = "x86_64")]
            Isa::Avx2Fma(t) => t.cholesky_row(cols, vals, fixed, alpha, gram, prior, s, x),
        }
    }

    pub(super) fn stored_terms(
        self,
        r: &Csr,
        x: &Factors,
        y: &Factors,
        alpha: f64,
        rows: std::ops::Range<usize>,
    ) -> f64 {
        match self {
            Isa::Portable => stored_terms(Portable, r, x, y, alpha, rows),
            #[cfg(target_arch = "x86_64")]
            Isa::Avx2Fma(t) => t.stored_terms(r, x, y, alpha, rows),
        }
    }

    pub(super) fn gram_block(self, block: &[f32], k: usize) -> Vec<f64> {
        match self {
            Isa::Portable => gram_block(Portable, block, k),
            #[cfg(target_arch = "x86_64")]
            Isa::Avx2Fma(t) => t.gram_block(block, k),
        }
    }
}

/// The AVX2 + FMA build of the kernels (x86-64).
///
/// The generic kernels are instantiated with [`Avx2Fma`] inside functions compiled
/// with `#[target_feature(enable = "avx2,fma")]`, so that they inline the intrinsics below and
/// auto-vectorise with 256-bit registers. The only `unsafe` is calling those functions, which is
/// sound because an `Avx2Fma` value exists only after the CPU reported both features.
#[cfg(target_arch = "x86_64")]
mod avx2 {
    use std::arch::x86_64::*;
    use std::ops::Range;

    use super::super::cg::CgScratch;
    use super::super::cholesky::CholeskyScratch;
    use super::super::{Csr, Factors};
    use super::AlsSimd;
    use crate::common::simd::Avx2Fma;

    /// The ALS entry points on the token of [`crate::common::simd`] (an inherent `impl` of that
    /// type, visible only to this module's parent).
    impl Avx2Fma {
        #[allow(clippy::too_many_arguments)]
        pub(super) fn cg_row(
            self,
            cols: &[u32],
            vals: &[f32],
            fixed: &Factors,
            alpha: f32,
            gram: &[f32],
            prior: Option<(f32, &[f32])>,
            steps: usize,
            s: &mut CgScratch,
            x: &mut [f32],
        ) {
            // SAFETY: `self` exists, so the CPU supports AVX2 and FMA.
            unsafe { cg_row(self, cols, vals, fixed, alpha, gram, prior, steps, s, x) }
        }

        #[allow(clippy::too_many_arguments)]
        pub(super) fn cholesky_row(
            self,
            cols: &[u32],
            vals: &[f32],
            fixed: &Factors,
            alpha: f32,
            gram: &[f64],
            prior: Option<(f64, &[f32])>,
            s: &mut CholeskyScratch,
            x: &mut [f32],
        ) {
            // SAFETY: as above.
            unsafe { cholesky_row(self, cols, vals, fixed, alpha, gram, prior, s, x) }
        }

        pub(super) fn stored_terms(
            self,
            r: &Csr,
            x: &Factors,
            y: &Factors,
            alpha: f64,
            rows: Range<usize>,
        ) -> f64 {
            // SAFETY: as above.
            unsafe { stored_terms(self, r, x, y, alpha, rows) }
        }

        pub(super) fn gram_block(self, block: &[f32], k: usize) -> Vec<f64> {
            // SAFETY: as above.
            unsafe { gram_block(self, block, k) }
        }
    }

    #[target_feature(enable = "avx2,fma")]
    #[allow(clippy::too_many_arguments)]
    unsafe fn cg_row(
        t: Avx2Fma,
        cols: &[u32],
        vals: &[f32],
        fixed: &Factors,
        alpha: f32,
        gram: &[f32],
        prior: Option<(f32, &[f32])>,
        steps: usize,
        s: &mut CgScratch,
        x: &mut [f32],
    ) {
        super::super::cg::cg_row(t, cols, vals, fixed, alpha, gram, prior, steps, s, x)
    }

    #[target_feature(enable = "avx2,fma")]
    #[allow(clippy::too_many_arguments)]
    unsafe fn cholesky_row(
        t: Avx2Fma,
        cols: &[u32],
        vals: &[f32],
        fixed: &Factors,
        alpha: f32,
        gram: &[f64],
        prior: Option<(f64, &[f32])>,
        s: &mut CholeskyScratch,
        x: &mut [f32],
    ) {
        super::super::cholesky::cholesky_row(t, cols, vals, fixed, alpha, gram, prior, s, x)
    }

    #[target_feature(enable = "avx2,fma")]
    unsafe fn stored_terms(
        t: Avx2Fma,
        r: &Csr,
        x: &Factors,
        y: &Factors,
        alpha: f64,
        rows: Range<usize>,
    ) -> f64 {
        super::super::stored_terms(t, r, x, y, alpha, rows)
    }

    #[target_feature(enable = "avx2,fma")]
    unsafe fn gram_block(t: Avx2Fma, block: &[f32], k: usize) -> Vec<f64> {
        super::super::gram_block(t, block, k)
    }

    impl AlsSimd for Avx2Fma {
        #[inline(always)]
        fn syrk_block(
            self,
            block: &mut [f64],
            k: usize,
            r0: usize,
            bw: &[f64],
            b: &[f64],
            subtract: bool,
        ) {
            // SAFETY: as above.
            unsafe {
                if subtract {
                    syrk_block::<true>(block, k, r0, bw, b)
                } else {
                    syrk_block::<false>(block, k, r0, bw, b)
                }
            }
        }
    }

    /// Register-tiled [`AlsSimd::syrk_block`]: each 4 × 8 tile of the block is accumulated in
    /// eight registers over all rows `t` (two loads and four broadcasts per eight FMAs), then
    /// added to (or subtracted from) `A` once; what does not fill a tile is summed in scalar
    /// code.
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn syrk_block<const SUB: bool>(
        block: &mut [f64],
        k: usize,
        r0: usize,
        bw: &[f64],
        b: &[f64],
    ) {
        if k == 0 {
            return;
        }
        let rows = (block.len() / k).min(k.saturating_sub(r0));
        let n = bw.len().min(b.len()) / k;
        let pa = block.as_mut_ptr();
        // Every write to `block` goes through `pa`, at offsets below rows × k.
        let scalar = |i: usize, c: usize| {
            let mut sum = 0.0f64;
            for t in 0..n {
                sum = bw[t * k + r0 + i].mul_add(b[t * k + c], sum);
            }
            let p = pa.add(i * k + c);
            *p = if SUB { *p - sum } else { *p + sum };
        };
        let mut c0 = r0 & !7;
        if rows == 4 {
            let (pw, pb) = (bw.as_ptr(), b.as_ptr());
            while c0 + 8 <= k {
                let mut acc = [[_mm256_setzero_pd(); 2]; 4];
                for t in 0..n {
                    let row_b = pb.add(t * k + c0);
                    let (v0, v1) = (_mm256_loadu_pd(row_b), _mm256_loadu_pd(row_b.add(4)));
                    let row_w = pw.add(t * k + r0);
                    for (i, acc_i) in acc.iter_mut().enumerate() {
                        let w = _mm256_broadcast_sd(&*row_w.add(i));
                        acc_i[0] = _mm256_fmadd_pd(w, v0, acc_i[0]);
                        acc_i[1] = _mm256_fmadd_pd(w, v1, acc_i[1]);
                    }
                }
                for (i, acc_i) in acc.iter().enumerate() {
                    for (half, &v) in acc_i.iter().enumerate() {
                        let p = pa.add(i * k + c0 + 4 * half);
                        let old = _mm256_loadu_pd(p);
                        let new = if SUB {
                            _mm256_sub_pd(old, v)
                        } else {
                            _mm256_add_pd(old, v)
                        };
                        _mm256_storeu_pd(p, new);
                    }
                }
                c0 += 8;
            }
        }
        for i in 0..rows {
            let start = if rows == 4 { c0.max(r0 + i) } else { r0 + i };
            for c in start..k {
                scalar(i, c);
            }
        }
    }
}

/// The instruction sets available here: always `Portable`, plus AVX2+FMA when present.
#[cfg(test)]
pub(super) fn isas() -> Vec<Isa> {
    let mut v = vec![Isa::Portable];
    #[cfg(target_arch = "x86_64")]
    if let Isa::Avx2Fma(t) = Isa::detect() {
        v.push(Isa::Avx2Fma(t));
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;
    use nalgebra::DMatrix;
    use rand::rngs::StdRng;
    use rand::{Rng as _, SeedableRng};

    #[test]
    fn syrk_matches_dense() {
        let mut rng = StdRng::seed_from_u64(15);
        for k in [1usize, 3, 4, 5, 8, 9, 13, 16, 64] {
            for n in [0usize, 1, 5, 33] {
                let mut v = |len: usize| -> Vec<f64> {
                    (0..len).map(|_| rng.random_range(-1.0..1.0)).collect()
                };
                let (bw, b, a0) = (v(n * k), v(n * k), v(k * k));
                let want = DMatrix::from_row_slice(k, k, &a0)
                    + DMatrix::from_row_slice(n, k, &bw).transpose()
                        * DMatrix::from_row_slice(n, k, &b);
                for isa in isas() {
                    let mut a = a0.clone();
                    match isa {
                        Isa::Portable => syrk_upper(Portable, &mut a, k, &bw, &b),
                        #[cfg(target_arch = "x86_64")]
                        Isa::Avx2Fma(t) => syrk_upper(t, &mut a, k, &bw, &b),
                    }
                    for r in 0..k {
                        for c in r..k {
                            assert!((a[r * k + c] - want[(r, c)]).abs() < 1e-12, "k {k} n {n}");
                        }
                    }
                }
            }
        }
    }
}
