//! Dense matrix products for the MLP kernel, on row-major slices.
//!
//! The multilayer perceptron spends nearly all of its time in three products per layer and
//! mini-batch (the forward pass, the weight gradient and the back-propagated error), so they go
//! to `matrixmultiply`'s packed, vectorised GEMM, and large ones are split over rayon threads.
//! The split is by rows of the result in blocks whose size depends only on the shape, and every
//! element is one whole dot product computed the same way in any block, so a product is the same
//! bits whatever the number of threads.

use std::fmt::Debug;

use rayon::prelude::*;

/// The floating-point types the MLP computes in: `f32` (training and prediction) and `f64`
/// (the gradient checks of the tests).
pub trait Real:
    num_traits::Float
    + num_traits::FromPrimitive
    + num_traits::ToPrimitive
    + Default
    + Send
    + Sync
    + Debug
    + std::iter::Sum
    + std::ops::AddAssign
    + std::ops::MulAssign
    + 'static
{
    /// `C = alpha·A·B + beta·C` by `matrixmultiply` (its argument convention).
    ///
    /// # Safety
    /// Every element the strides address must lie inside the buffers (checked by [`gemm`]).
    #[allow(clippy::too_many_arguments)]
    unsafe fn gemm_raw(
        m: usize,
        k: usize,
        n: usize,
        alpha: Self,
        a: *const Self,
        rsa: isize,
        csa: isize,
        b: *const Self,
        rsb: isize,
        csb: isize,
        beta: Self,
        c: *mut Self,
        rsc: isize,
        csc: isize,
    );

    /// `v` converted from `f64` (rounded for `f32`).
    fn of(v: f64) -> Self {
        Self::from_f64(v).unwrap_or_else(Self::nan)
    }

    /// `self` as `f64`.
    fn f64(self) -> f64 {
        self.to_f64().unwrap_or(f64::NAN)
    }
}

impl Real for f32 {
    unsafe fn gemm_raw(
        m: usize,
        k: usize,
        n: usize,
        alpha: f32,
        a: *const f32,
        rsa: isize,
        csa: isize,
        b: *const f32,
        rsb: isize,
        csb: isize,
        beta: f32,
        c: *mut f32,
        rsc: isize,
        csc: isize,
    ) {
        // SAFETY: the caller guarantees the strided views lie inside their buffers.
        unsafe {
            matrixmultiply::sgemm(m, k, n, alpha, a, rsa, csa, b, rsb, csb, beta, c, rsc, csc)
        }
    }
}

impl Real for f64 {
    unsafe fn gemm_raw(
        m: usize,
        k: usize,
        n: usize,
        alpha: f64,
        a: *const f64,
        rsa: isize,
        csa: isize,
        b: *const f64,
        rsb: isize,
        csb: isize,
        beta: f64,
        c: *mut f64,
        rsc: isize,
        csc: isize,
    ) {
        // SAFETY: the caller guarantees the strided views lie inside their buffers.
        unsafe {
            matrixmultiply::dgemm(m, k, n, alpha, a, rsa, csa, b, rsb, csb, beta, c, rsc, csc)
        }
    }
}

/// A read-only strided view of a matrix: element `(i, j)` is `data[i * rs + j * cs]`.
#[derive(Clone, Copy, Debug)]
pub struct MatRef<'a, T> {
    data: &'a [T],
    rows: usize,
    cols: usize,
    rs: usize,
    cs: usize,
}

impl<'a, T> MatRef<'a, T> {
    /// The row-major `rows × cols` matrix in `data` (which must hold at least `rows · cols`
    /// values; checked by the products).
    pub fn new(data: &'a [T], rows: usize, cols: usize) -> Self {
        MatRef {
            data,
            rows,
            cols,
            rs: cols,
            cs: 1,
        }
    }

    /// The transpose (no copy).
    pub fn t(self) -> Self {
        MatRef {
            data: self.data,
            rows: self.cols,
            cols: self.rows,
            rs: self.cs,
            cs: self.rs,
        }
    }

    /// Columns `c0..c1` (no copy).
    pub fn col_range(self, c0: usize, c1: usize) -> Self {
        let offset = (c0 * self.cs).min(self.data.len());
        MatRef {
            data: &self.data[offset..],
            rows: self.rows,
            cols: c1.saturating_sub(c0),
            rs: self.rs,
            cs: self.cs,
        }
    }

    /// Rows `r0..r1` (no copy).
    fn row_range(self, r0: usize, r1: usize) -> Self {
        let offset = (r0 * self.rs).min(self.data.len());
        MatRef {
            data: &self.data[offset..],
            rows: r1 - r0,
            cols: self.cols,
            rs: self.rs,
            cs: self.cs,
        }
    }

    /// Whether every addressed element lies inside `data`.
    fn in_bounds(&self) -> bool {
        self.rows == 0
            || self.cols == 0
            || (self.rows - 1) * self.rs + (self.cols - 1) * self.cs < self.data.len()
    }
}

/// Products smaller than this many multiply-adds run on the calling thread.
const PARALLEL_WORK: usize = 1 << 18;

/// `C = A·B + beta·C` for a row-major `m × n` result `c` (`m` = rows of A, `n` = columns of B),
/// split over threads by blocks of rows of `C` when large. Mismatched shapes panic in debug
/// builds and leave `c` untouched otherwise (callers size their buffers from the same shapes).
pub fn gemm<T: Real>(a: MatRef<'_, T>, b: MatRef<'_, T>, beta: T, c: &mut [T]) {
    gemm_in_blocks(a, b, beta, c, 16);
}

/// [`gemm`] split into at most `blocks` blocks of rows of C (of at least 16 rows each). Every
/// block packs all of B, so a product with a large B and a short C (a weight gradient summed over
/// many rows) wants few blocks; any fixed number gives the same bits on any number of threads.
pub fn gemm_in_blocks<T: Real>(
    a: MatRef<'_, T>,
    b: MatRef<'_, T>,
    beta: T,
    c: &mut [T],
    blocks: usize,
) {
    let (m, k, n) = (a.rows, a.cols, b.cols);
    if m * n * k < PARALLEL_WORK || m < 32 || blocks < 2 {
        gemm_serial(a, b, beta, c);
        return;
    }
    let shapes_ok = b.rows == k && c.len() == m * n && a.in_bounds() && b.in_bounds();
    debug_assert!(shapes_ok, "gemm: shapes do not match");
    if !shapes_ok {
        return;
    }
    // Blocks of a size fixed by the shape alone (at least 16 rows, at most `blocks` blocks).
    let block = m.div_ceil(blocks).max(16);
    c.par_chunks_mut(block * n)
        .enumerate()
        .for_each(|(i, c_block)| {
            let r0 = i * block;
            let r1 = (r0 + block).min(m);
            gemm_block(a.row_range(r0, r1), b, beta, c_block);
        });
}

/// [`gemm`] on the calling thread, in one block: for many small products in code that is
/// already parallel (a LIME explanation each), where splitting the rows of C over threads would
/// pack B once per block. The same bits as [`gemm`] for products it does not split.
pub fn gemm_serial<T: Real>(a: MatRef<'_, T>, b: MatRef<'_, T>, beta: T, c: &mut [T]) {
    let shapes_ok =
        b.rows == a.cols && c.len() == a.rows * b.cols && a.in_bounds() && b.in_bounds();
    debug_assert!(shapes_ok, "gemm_serial: shapes do not match");
    if !shapes_ok || a.rows == 0 || b.cols == 0 {
        return;
    }
    if a.cols == 0 {
        let zero = beta == T::zero();
        c.iter_mut()
            .for_each(|v| *v = if zero { T::zero() } else { *v * beta });
        return;
    }
    gemm_block(a, b, beta, c);
}

/// `Σ a_k b_k` over the common length of two slices, in eight interleaved partial sums (which
/// the compiler keeps in vector registers) added pairwise at the end: for the short dot products
/// of hot loops, where one running sum would wait on each addition.
pub fn dot(a: &[f64], b: &[f64]) -> f64 {
    let mut acc = [0.0f64; 8];
    let (a8, b8) = (a.chunks_exact(8), b.chunks_exact(8));
    let tail: f64 = a8
        .remainder()
        .iter()
        .zip(b8.remainder())
        .map(|(x, y)| x * y)
        .sum();
    for (x, y) in a8.zip(b8) {
        for m in 0..8 {
            acc[m] += x[m] * y[m];
        }
    }
    ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7])) + tail
}

/// One block of [`gemm`], on this thread; the shapes have been checked.
fn gemm_block<T: Real>(a: MatRef<'_, T>, b: MatRef<'_, T>, beta: T, c: &mut [T]) {
    let (m, k, n) = (a.rows, a.cols, b.cols);
    if !(a.in_bounds() && b.in_bounds() && c.len() == m * n) {
        return;
    }
    // SAFETY: `in_bounds` checked that every element the strides of A and B address lies inside
    // their slices, and C is a contiguous row-major m × n slice; the slices outlive the call and
    // C does not alias A or B (it is borrowed mutably).
    unsafe {
        T::gemm_raw(
            m,
            k,
            n,
            T::one(),
            a.data.as_ptr(),
            a.rs as isize,
            a.cs as isize,
            b.data.as_ptr(),
            b.rs as isize,
            b.cs as isize,
            beta,
            c.as_mut_ptr(),
            n as isize,
            1,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::common::rng::Rng;

    fn naive(a: &[f64], m: usize, k: usize, b: &[f64], n: usize) -> Vec<f64> {
        let mut c = vec![0.0; m * n];
        for i in 0..m {
            for j in 0..n {
                c[i * n + j] = (0..k).map(|l| a[i * k + l] * b[l * n + j]).sum();
            }
        }
        c
    }

    fn random(rng: &mut Rng, len: usize) -> Vec<f64> {
        (0..len).map(|_| rng.normal()).collect()
    }

    #[test]
    fn products_match_the_definition_with_transposes() {
        let mut rng = Rng::new(3);
        for &(m, k, n) in &[(1, 1, 1), (3, 5, 2), (70, 33, 41), (257, 130, 65)] {
            let a = random(&mut rng, m * k);
            let b = random(&mut rng, k * n);
            let want = naive(&a, m, k, &b, n);
            let mut c = vec![f64::NAN; m * n];
            gemm(MatRef::new(&a, m, k), MatRef::new(&b, k, n), 0.0, &mut c);
            for (x, y) in c.iter().zip(&want) {
                assert!((x - y).abs() < 1e-10, "{x} vs {y}");
            }
            // Aᵀ stored as k × m, Bᵀ stored as n × k.
            let at: Vec<f64> = (0..k * m).map(|p| a[(p % m) * k + p / m]).collect();
            let bt: Vec<f64> = (0..n * k).map(|p| b[(p % k) * n + p / k]).collect();
            let mut c2 = vec![1.0; m * n];
            gemm(
                MatRef::new(&at, k, m).t(),
                MatRef::new(&bt, n, k).t(),
                2.0,
                &mut c2,
            );
            for (x, y) in c2.iter().zip(&want) {
                assert!((x - (y + 2.0)).abs() < 1e-10, "{x} vs {}", y + 2.0);
            }
        }
    }

    #[test]
    fn serial_products_and_dot_products_match_the_definition() {
        let mut rng = Rng::new(5);
        for &(m, k, n) in &[
            (1, 1, 1),
            (3, 5, 2),
            (27, 1000, 27),
            (90, 40, 70),
            (4, 0, 3),
        ] {
            let a = random(&mut rng, m * k);
            let b = random(&mut rng, k * n);
            let want = naive(&a, m, k, &b, n);
            let mut c = vec![f64::NAN; m * n];
            gemm_serial(MatRef::new(&a, m, k), MatRef::new(&b, k, n), 0.0, &mut c);
            for (x, y) in c.iter().zip(&want) {
                assert!((x - y).abs() < 1e-10 * y.abs().max(1.0), "{x} vs {y}");
            }
            // The parallel product gives the same bits (it does not split these shapes, or
            // splits by rows, which keeps each element's sum).
            let mut whole = vec![0.0; m * n];
            gemm(
                MatRef::new(&a, m, k),
                MatRef::new(&b, k, n),
                0.0,
                &mut whole,
            );
            assert_eq!(c, whole);
        }
        for len in [0, 1, 7, 8, 9, 64, 1001] {
            let (a, b) = (random(&mut rng, len), random(&mut rng, len));
            let want: f64 = a.iter().zip(&b).map(|(x, y)| x * y).sum();
            let got = dot(&a, &b);
            assert!(
                (got - want).abs() <= 1e-12 * (len as f64).max(1.0),
                "{got} vs {want}"
            );
        }
    }

    #[test]
    fn the_split_does_not_change_the_bits() {
        let mut rng = Rng::new(9);
        let (m, k, n) = (300, 200, 50);
        let a: Vec<f32> = (0..m * k).map(|_| rng.normal() as f32).collect();
        let b: Vec<f32> = (0..k * n).map(|_| rng.normal() as f32).collect();
        let mut whole = vec![0.0f32; m * n];
        gemm(
            MatRef::new(&a, m, k),
            MatRef::new(&b, k, n),
            0.0,
            &mut whole,
        );
        // Row by row on this thread: the same bits.
        for i in 0..m {
            let mut row = vec![0.0f32; n];
            gemm_block(
                MatRef::new(&a[i * k..(i + 1) * k], 1, k),
                MatRef::new(&b, k, n),
                0.0,
                &mut row,
            );
            assert_eq!(&row[..], &whole[i * n..(i + 1) * n]);
        }
    }
}
