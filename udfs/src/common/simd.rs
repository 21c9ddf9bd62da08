//! The crate's one run-time SIMD dispatch: which instruction set the hot loops may use, detected
//! once per process, and the generic vector primitives they share.
//!
//! # Why this module exists
//!
//! Several kernels have loops worth compiling for wider vector units than the build target
//! promises (x86-64 builds target SSE2, while most machines that run trustql have AVX2 and
//! FMA): the ALS solvers (`recsys::kernels::als`), the MFCC's DCT and the STFT
//! (`audio::kernels::{mfcc, stft}`) and the resampler's filter (`audio::kernels::resample`).
//! Each used to ask the CPU itself (`is_x86_feature_detected!`) with its own rules; now they all
//! ask [`level`], which detects the CPU's features once (cached in a [`OnceLock`]) and names the
//! highest [`Level`] the kernels have code for. The primitives several kernels can use (dot
//! products, axpys, fused multiply-adds: the [`Simd`] trait, with a [`Portable`] and an
//! [`Avx2Fma`] implementation) live here; vector code that serves one kernel only (the ALS
//! `YᵀWY` update, the resampler's two-filter dot product) stays beside its kernel, dispatched
//! through [`level`] or a token from here.
//!
//! # The rule
//!
//! Every SIMD path has a scalar (portable) twin that computes the same thing, and a test
//! compares the two: bit for bit where the SIMD path performs the same operations in the same
//! order (the STFT, MFCC and resampler paths, which are the portable code compiled with wider
//! registers or the same partial sums in registers), within a stated tolerance where it cannot
//! (fused multiply-adds round once instead of twice, so the ALS factors differ in the last bits
//! between machines with and without FMA). A SIMD path is entered only through a token or a
//! [`Level`] from this module, so the `unsafe` of calling `#[target_feature]` code is justified
//! in one place: the CPU reported the features.

use std::sync::OnceLock;

/// The instruction-set levels the kernels have code for, lowest first. Each level includes the
/// ones below it (every CPU with AVX2 has AVX).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    /// No SIMD beyond the compilation target's: the portable code.
    Portable,
    /// AVX (256-bit floating-point registers).
    Avx,
    /// AVX2, without FMA.
    Avx2,
    /// AVX2 and FMA (fused multiply-add).
    Avx2Fma,
    /// AVX-512 (foundation and vector-length extensions) besides AVX2 and FMA: 512-bit
    /// registers, for the loops that gain from them (uNN's PDP closed form).
    Avx512,
}

impl Level {
    /// Whether the CPU has AVX.
    pub fn has_avx(self) -> bool {
        self >= Level::Avx
    }

    /// Whether the CPU has AVX2.
    pub fn has_avx2(self) -> bool {
        self >= Level::Avx2
    }

    /// Whether the CPU has AVX2 and FMA.
    pub fn has_avx2_fma(self) -> bool {
        self >= Level::Avx2Fma
    }

    /// Whether the CPU has AVX-512F and AVX-512VL (and AVX2 and FMA).
    pub fn has_avx512(self) -> bool {
        self >= Level::Avx512
    }
}

/// The highest [`Level`] this CPU supports, detected on the first call and cached.
pub fn level() -> Level {
    static LEVEL: OnceLock<Level> = OnceLock::new();
    *LEVEL.get_or_init(detect)
}

fn detect() -> Level {
    #[cfg(target_arch = "x86_64")]
    {
        let (avx, avx2, fma) = (
            is_x86_feature_detected!("avx"),
            is_x86_feature_detected!("avx2"),
            is_x86_feature_detected!("fma"),
        );
        if avx2
            && fma
            && is_x86_feature_detected!("avx512f")
            && is_x86_feature_detected!("avx512vl")
        {
            return Level::Avx512;
        }
        if avx2 && fma {
            return Level::Avx2Fma;
        }
        if avx2 {
            return Level::Avx2;
        }
        if avx {
            return Level::Avx;
        }
    }
    Level::Portable
}

/// Proof that the CPU supports AVX2 and FMA: only [`Avx2Fma::detect`] makes one, so code that
/// holds one may call `#[target_feature(enable = "avx2,fma")]` functions.
#[cfg(target_arch = "x86_64")]
#[derive(Clone, Copy)]
pub(crate) struct Avx2Fma(());

#[cfg(target_arch = "x86_64")]
impl Avx2Fma {
    /// The token, when [`level`] has AVX2 and FMA.
    pub(crate) fn detect() -> Option<Avx2Fma> {
        level().has_avx2_fma().then_some(Avx2Fma(()))
    }
}

/// Hints that `row` will be read soon: one prefetch per 64-byte line (nothing off x86-64). It
/// changes no result, only when the lines arrive.
#[inline(always)]
pub(crate) fn prefetch_row(row: &[f32]) {
    #[cfg(target_arch = "x86_64")]
    for line in row.chunks(16) {
        use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
        // SAFETY: SSE is part of x86-64; prefetches never fault.
        unsafe { _mm_prefetch::<_MM_HINT_T0>(line.as_ptr().cast::<i8>()) }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = row;
}

/// [`prefetch_row`] for a slice of any element type: one prefetch per 64 bytes it spans.
#[inline(always)]
pub(crate) fn prefetch_slice<T>(s: &[T]) {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
        let start = s.as_ptr().cast::<i8>();
        let bytes = std::mem::size_of_val(s);
        let mut offset = 0;
        while offset < bytes {
            // SAFETY: `offset` stays within the slice; SSE is part of x86-64; prefetches never
            // fault.
            unsafe { _mm_prefetch::<_MM_HINT_T0>(start.add(offset)) }
            offset += 64;
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = s;
}

/// The vector primitives of the hot loops. All take the common length of their slices.
pub(crate) trait Simd: Copy {
    /// `a b + c` (fused where the hardware has FMA).
    fn madd(self, a: f32, b: f32, c: f32) -> f32;
    /// `a b + c` in `f64`.
    fn madd64(self, a: f64, b: f64, c: f64) -> f64;
    /// `a · b`.
    fn dot(self, a: &[f32], b: &[f32]) -> f32;
    /// `[y_0 · v, y_1 · v, y_2 · v, y_3 · v]`.
    fn dot4(self, y: [&[f32]; 4], v: &[f32]) -> [f32; 4];
    /// `y += a x`.
    fn axpy(self, a: f32, x: &[f32], y: &mut [f32]);
    /// `y += Σ_j w_j x_j`.
    fn axpy4(self, w: [f32; 4], x: [&[f32]; 4], y: &mut [f32]);
    /// `a · b` with `f64` sums (the products of `f32` values are exact in `f64`).
    fn dot_f64(self, a: &[f32], b: &[f32]) -> f64;
    /// Hints that `row` will be read soon.
    fn prefetch(self, row: &[f32]);
}

/// Plain Rust loops, auto-vectorised for the compilation target.
#[derive(Clone, Copy)]
pub(crate) struct Portable;

impl Simd for Portable {
    #[inline(always)]
    fn madd(self, a: f32, b: f32, c: f32) -> f32 {
        a * b + c
    }

    #[inline(always)]
    fn madd64(self, a: f64, b: f64, c: f64) -> f64 {
        a * b + c
    }

    #[inline(always)]
    fn dot(self, a: &[f32], b: &[f32]) -> f32 {
        let mut acc = [0.0f32; 8];
        let (ac, bc) = (a.chunks_exact(8), b.chunks_exact(8));
        let mut tail = 0.0f32;
        for (&x, &y) in ac.remainder().iter().zip(bc.remainder()) {
            tail += x * y;
        }
        for (x, y) in ac.zip(bc) {
            for ((s, &xv), &yv) in acc.iter_mut().zip(x).zip(y) {
                *s += xv * yv;
            }
        }
        acc.iter().sum::<f32>() + tail
    }

    #[inline(always)]
    fn dot4(self, y: [&[f32]; 4], v: &[f32]) -> [f32; 4] {
        [
            self.dot(y[0], v),
            self.dot(y[1], v),
            self.dot(y[2], v),
            self.dot(y[3], v),
        ]
    }

    #[inline(always)]
    fn axpy(self, a: f32, x: &[f32], y: &mut [f32]) {
        for (yv, &xv) in y.iter_mut().zip(x) {
            *yv += a * xv;
        }
    }

    #[inline(always)]
    fn axpy4(self, w: [f32; 4], x: [&[f32]; 4], y: &mut [f32]) {
        for ((((o, &e0), &e1), &e2), &e3) in y.iter_mut().zip(x[0]).zip(x[1]).zip(x[2]).zip(x[3]) {
            *o += w[0] * e0 + w[1] * e1 + w[2] * e2 + w[3] * e3;
        }
    }

    #[inline(always)]
    fn dot_f64(self, a: &[f32], b: &[f32]) -> f64 {
        let mut acc = [0.0f64; 4];
        let (ac, bc) = (a.chunks_exact(4), b.chunks_exact(4));
        let mut tail = 0.0f64;
        for (&x, &y) in ac.remainder().iter().zip(bc.remainder()) {
            tail += f64::from(x) * f64::from(y);
        }
        for (x, y) in ac.zip(bc) {
            for ((s, &xv), &yv) in acc.iter_mut().zip(x).zip(y) {
                *s += f64::from(xv) * f64::from(yv);
            }
        }
        (acc[0] + acc[2]) + (acc[1] + acc[3]) + tail
    }

    #[inline(always)]
    fn prefetch(self, _row: &[f32]) {}
}

/// The AVX2 + FMA primitives (x86-64). Kernels instantiated with [`Avx2Fma`] inside functions
/// compiled with `#[target_feature(enable = "avx2,fma")]` inline them; the only `unsafe` is
/// calling them, which is sound because an `Avx2Fma` value exists only after the CPU reported
/// both features.
#[cfg(target_arch = "x86_64")]
mod avx2 {
    use std::arch::x86_64::*;

    use super::{Avx2Fma, Simd};

    impl Simd for Avx2Fma {
        #[inline(always)]
        fn madd(self, a: f32, b: f32, c: f32) -> f32 {
            a.mul_add(b, c)
        }

        #[inline(always)]
        fn madd64(self, a: f64, b: f64, c: f64) -> f64 {
            a.mul_add(b, c)
        }

        #[inline(always)]
        fn dot(self, a: &[f32], b: &[f32]) -> f32 {
            // SAFETY: `self` proves AVX2 and FMA.
            unsafe { dot(a, b) }
        }

        #[inline(always)]
        fn dot4(self, y: [&[f32]; 4], v: &[f32]) -> [f32; 4] {
            // SAFETY: as above.
            unsafe { dot4(y, v) }
        }

        #[inline(always)]
        fn axpy(self, a: f32, x: &[f32], y: &mut [f32]) {
            // SAFETY: as above.
            unsafe { axpy(a, x, y) }
        }

        #[inline(always)]
        fn axpy4(self, w: [f32; 4], x: [&[f32]; 4], y: &mut [f32]) {
            // SAFETY: as above.
            unsafe { axpy4(w, x, y) }
        }

        #[inline(always)]
        fn dot_f64(self, a: &[f32], b: &[f32]) -> f64 {
            // SAFETY: as above.
            unsafe { dot_f64(a, b) }
        }

        #[inline(always)]
        fn prefetch(self, row: &[f32]) {
            super::prefetch_row(row)
        }
    }

    // The intrinsics below read `n` = the common length of their slices, 8 lanes at a time
    // through raw pointers at offsets `i + 8 ≤ n`, then the tail with checked indexing.

    #[inline]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn hsum(v: __m256) -> f32 {
        let s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps::<1>(v));
        let s = _mm_add_ps(s, _mm_movehl_ps(s, s));
        let s = _mm_add_ss(s, _mm_movehdup_ps(s));
        _mm_cvtss_f32(s)
    }

    #[inline]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn dot(a: &[f32], b: &[f32]) -> f32 {
        let n = a.len().min(b.len());
        let (pa, pb) = (a.as_ptr(), b.as_ptr());
        let mut acc0 = _mm256_setzero_ps();
        let mut acc1 = _mm256_setzero_ps();
        let mut i = 0;
        while i + 16 <= n {
            acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(pa.add(i)), _mm256_loadu_ps(pb.add(i)), acc0);
            acc1 = _mm256_fmadd_ps(
                _mm256_loadu_ps(pa.add(i + 8)),
                _mm256_loadu_ps(pb.add(i + 8)),
                acc1,
            );
            i += 16;
        }
        if i + 8 <= n {
            acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(pa.add(i)), _mm256_loadu_ps(pb.add(i)), acc0);
            i += 8;
        }
        let mut s = hsum(_mm256_add_ps(acc0, acc1));
        for (&x, &y) in a[i..n].iter().zip(&b[i..n]) {
            s = x.mul_add(y, s);
        }
        s
    }

    #[inline]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn dot4(y: [&[f32]; 4], v: &[f32]) -> [f32; 4] {
        let n = y.iter().fold(v.len(), |n, r| n.min(r.len()));
        let pv = v.as_ptr();
        let p = [y[0].as_ptr(), y[1].as_ptr(), y[2].as_ptr(), y[3].as_ptr()];
        let mut acc = [_mm256_setzero_ps(); 4];
        let mut i = 0;
        while i + 8 <= n {
            let vv = _mm256_loadu_ps(pv.add(i));
            for (a, &pj) in acc.iter_mut().zip(&p) {
                *a = _mm256_fmadd_ps(_mm256_loadu_ps(pj.add(i)), vv, *a);
            }
            i += 8;
        }
        // Reduce the four accumulators to four sums in one register.
        let t01 = _mm256_hadd_ps(acc[0], acc[1]);
        let t23 = _mm256_hadd_ps(acc[2], acc[3]);
        let t = _mm256_hadd_ps(t01, t23);
        let s = _mm_add_ps(_mm256_castps256_ps128(t), _mm256_extractf128_ps::<1>(t));
        let mut out = [0.0f32; 4];
        _mm_storeu_ps(out.as_mut_ptr(), s);
        for (o, row) in out.iter_mut().zip(y) {
            for (&a, &b) in row[i..n].iter().zip(&v[i..n]) {
                *o = a.mul_add(b, *o);
            }
        }
        out
    }

    #[inline]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn axpy(a: f32, x: &[f32], y: &mut [f32]) {
        let n = x.len().min(y.len());
        let (px, py) = (x.as_ptr(), y.as_mut_ptr());
        let va = _mm256_set1_ps(a);
        let mut i = 0;
        while i + 8 <= n {
            let r = _mm256_fmadd_ps(va, _mm256_loadu_ps(px.add(i)), _mm256_loadu_ps(py.add(i)));
            _mm256_storeu_ps(py.add(i), r);
            i += 8;
        }
        for (yv, &xv) in y[i..n].iter_mut().zip(&x[i..n]) {
            *yv = a.mul_add(xv, *yv);
        }
    }

    #[inline]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn axpy4(w: [f32; 4], x: [&[f32]; 4], y: &mut [f32]) {
        let n = x.iter().fold(y.len(), |n, r| n.min(r.len()));
        let p = [x[0].as_ptr(), x[1].as_ptr(), x[2].as_ptr(), x[3].as_ptr()];
        let vw = [
            _mm256_set1_ps(w[0]),
            _mm256_set1_ps(w[1]),
            _mm256_set1_ps(w[2]),
            _mm256_set1_ps(w[3]),
        ];
        let py = y.as_mut_ptr();
        let mut i = 0;
        while i + 8 <= n {
            let mut r = _mm256_loadu_ps(py.add(i));
            for (&wj, &pj) in vw.iter().zip(&p) {
                r = _mm256_fmadd_ps(wj, _mm256_loadu_ps(pj.add(i)), r);
            }
            _mm256_storeu_ps(py.add(i), r);
            i += 8;
        }
        for t in i..n {
            let mut o = y[t];
            for (&wj, row) in w.iter().zip(&x) {
                o = wj.mul_add(row[t], o);
            }
            y[t] = o;
        }
    }

    #[inline]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn dot_f64(a: &[f32], b: &[f32]) -> f64 {
        let n = a.len().min(b.len());
        let (pa, pb) = (a.as_ptr(), b.as_ptr());
        let mut acc0 = _mm256_setzero_pd();
        let mut acc1 = _mm256_setzero_pd();
        let mut i = 0;
        while i + 8 <= n {
            let (xa, xb) = (_mm256_loadu_ps(pa.add(i)), _mm256_loadu_ps(pb.add(i)));
            acc0 = _mm256_fmadd_pd(
                _mm256_cvtps_pd(_mm256_castps256_ps128(xa)),
                _mm256_cvtps_pd(_mm256_castps256_ps128(xb)),
                acc0,
            );
            acc1 = _mm256_fmadd_pd(
                _mm256_cvtps_pd(_mm256_extractf128_ps::<1>(xa)),
                _mm256_cvtps_pd(_mm256_extractf128_ps::<1>(xb)),
                acc1,
            );
            i += 8;
        }
        let acc = _mm256_add_pd(acc0, acc1);
        let s = _mm_add_pd(_mm256_castpd256_pd128(acc), _mm256_extractf128_pd::<1>(acc));
        let mut total = _mm_cvtsd_f64(_mm_add_sd(s, _mm_unpackhi_pd(s, s)));
        for (&x, &y) in a[i..n].iter().zip(&b[i..n]) {
            total = f64::from(x).mul_add(f64::from(y), total);
        }
        total
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::StdRng;
    use rand::{Rng as _, SeedableRng};

    #[test]
    fn the_level_is_detected_once_and_is_consistent() {
        let l = level();
        assert_eq!(l, level());
        assert!(!l.has_avx2() || l.has_avx());
        assert!(!l.has_avx2_fma() || l.has_avx2());
        #[cfg(target_arch = "x86_64")]
        {
            assert_eq!(l.has_avx2_fma(), Avx2Fma::detect().is_some());
            assert_eq!(
                l.has_avx2_fma(),
                is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma")
            );
            assert_eq!(l.has_avx2(), is_x86_feature_detected!("avx2"));
        }
    }

    fn check_simd<S: Simd>(simd: S, rng: &mut StdRng) {
        for len in [0usize, 1, 7, 8, 15, 16, 33, 64, 100] {
            let vec = |rng: &mut StdRng| -> Vec<f32> {
                (0..len).map(|_| rng.random_range(-1.0..1.0)).collect()
            };
            let (a, b) = (vec(rng), vec(rng));
            let ys = [vec(rng), vec(rng), vec(rng), vec(rng)];
            let exact = |x: &[f32], y: &[f32]| -> f64 {
                x.iter()
                    .zip(y)
                    .map(|(&p, &q)| f64::from(p) * f64::from(q))
                    .sum()
            };
            assert!((f64::from(simd.dot(&a, &b)) - exact(&a, &b)).abs() < 1e-5);
            assert!((simd.dot_f64(&a, &b) - exact(&a, &b)).abs() < 1e-12);
            let y4 = [&ys[0][..], &ys[1][..], &ys[2][..], &ys[3][..]];
            let d4 = simd.dot4(y4, &a);
            for j in 0..4 {
                assert!((f64::from(d4[j]) - exact(&ys[j], &a)).abs() < 1e-5);
            }
            let mut out = b.clone();
            simd.axpy(0.5, &a, &mut out);
            for t in 0..len {
                assert!((out[t] - (b[t] + 0.5 * a[t])).abs() < 1e-6);
            }
            let w = [0.25, -1.0, 2.0, 0.5];
            let mut out = b.clone();
            simd.axpy4(w, y4, &mut out);
            for t in 0..len {
                let want: f32 = b[t] + (0..4).map(|j| w[j] * ys[j][t]).sum::<f32>();
                assert!((out[t] - want).abs() < 1e-5);
            }
        }
    }

    #[test]
    fn kernels_agree_with_plain_arithmetic() {
        let mut rng = StdRng::seed_from_u64(12);
        check_simd(Portable, &mut rng);
        #[cfg(target_arch = "x86_64")]
        if let Some(t) = Avx2Fma::detect() {
            check_simd(t, &mut rng);
        }
    }
}
