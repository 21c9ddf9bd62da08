//! The conjugate-gradient row solver: a few steps per row, warm-started from the current
//! factors, with the system matrix applied implicitly (`O(nnz · k)` per half-step).

use super::Factors;
use crate::common::simd::Simd;

/// Per-thread buffers of the conjugate-gradient solver.
pub(super) struct CgScratch {
    r: Vec<f32>,
    p: Vec<f32>,
    ap: Vec<f32>,
}

impl CgScratch {
    pub(super) fn new(k: usize) -> CgScratch {
        CgScratch {
            r: vec![0.0; k],
            p: vec![0.0; k],
            ap: vec![0.0; k],
        }
    }
}

/// Residuals below this squared norm count as converged (as in `implicit`).
const CG_EPS: f32 = 1e-20;

/// `steps` conjugate-gradient steps on row `x`'s system, warm-started from `x`, with
/// `A v = G v + Σ (c−1)(y·v) y` applied implicitly (`G = YᵀY + λI`, `gram`, `f32`).
/// `prior = Some((λ, m))` adds `λ m` to the right-hand side (the row regularised towards `m`;
/// a row without stored entries is then solved too).
#[inline(always)]
#[allow(clippy::too_many_arguments)]
pub(super) fn cg_row<S: Simd>(
    simd: S,
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
    if cols.is_empty() && prior.is_none() {
        x.fill(0.0);
        return;
    }
    // r = b − A x = Σ [c p − (c−1)(y·x)] y − G x
    symv(simd, gram, x, &mut s.r);
    for v in s.r.iter_mut() {
        *v = -*v;
    }
    accumulate_rows(simd, cols, vals, fixed, x, &mut s.r, |v, d| {
        let extra = alpha * v.abs();
        let cp = if v > 0.0 { 1.0 + extra } else { 0.0 };
        cp - extra * d
    });
    if let Some((l2, m)) = prior {
        simd.axpy(l2, m, &mut s.r);
    }
    s.p.copy_from_slice(&s.r);
    let mut rs_old = simd.dot(&s.r, &s.r);
    if rs_old < CG_EPS {
        return;
    }
    for _ in 0..steps {
        // Ap = G p + Σ (c−1)(y·p) y
        symv(simd, gram, &s.p, &mut s.ap);
        accumulate_rows(simd, cols, vals, fixed, &s.p, &mut s.ap, |v, d| {
            alpha * v.abs() * d
        });
        let p_ap = simd.dot(&s.p, &s.ap);
        if p_ap.is_nan() || p_ap <= 0.0 {
            break;
        }
        let step = rs_old / p_ap;
        if !step.is_finite() {
            break;
        }
        simd.axpy(step, &s.p, x);
        simd.axpy(-step, &s.ap, &mut s.r);
        let rs_new = simd.dot(&s.r, &s.r);
        if rs_new < CG_EPS {
            break;
        }
        let beta = rs_new / rs_old;
        for (pv, &rv) in s.p.iter_mut().zip(&s.r) {
            *pv = simd.madd(beta, *pv, rv);
        }
        rs_old = rs_new;
    }
}

/// `out += Σ_t w(val_t, y_t · v) · y_t` over the stored entries `(col_t, val_t)` of a row, with
/// `y_t` row `col_t` of `fixed`; four entries per pass over `out`.
#[inline(always)]
fn accumulate_rows<S: Simd, W: Fn(f32, f32) -> f32>(
    simd: S,
    cols: &[u32],
    vals: &[f32],
    fixed: &Factors,
    v: &[f32],
    out: &mut [f32],
    weight: W,
) {
    let (c4, v4) = (cols.chunks_exact(4), vals.chunks_exact(4));
    let (c_rest, v_rest) = (c4.remainder(), v4.remainder());
    for (c, w) in c4.zip(v4) {
        let ys = [
            fixed.row(c[0] as usize),
            fixed.row(c[1] as usize),
            fixed.row(c[2] as usize),
            fixed.row(c[3] as usize),
        ];
        let d = simd.dot4(ys, v);
        let w = [
            weight(w[0], d[0]),
            weight(w[1], d[1]),
            weight(w[2], d[2]),
            weight(w[3], d[3]),
        ];
        simd.axpy4(w, ys, out);
    }
    for (&c, &w) in c_rest.iter().zip(v_rest) {
        let yt = fixed.row(c as usize);
        simd.axpy(weight(w, simd.dot(yt, v)), yt, out);
    }
}
/// `out = G v` for a symmetric row-major `k × k` matrix `G` (as `Σ_b v_b G[b, :]`, four rows per
/// pass).
#[inline(always)]
fn symv<S: Simd>(simd: S, g: &[f32], v: &[f32], out: &mut [f32]) {
    let k = v.len();
    out.fill(0.0);
    if k == 0 {
        return;
    }
    let mut rows = g.chunks_exact(k).zip(v);
    loop {
        match (rows.next(), rows.next(), rows.next(), rows.next()) {
            (Some((g0, &v0)), Some((g1, &v1)), Some((g2, &v2)), Some((g3, &v3))) => {
                simd.axpy4([v0, v1, v2, v3], [g0, g1, g2, g3], out);
            }
            (first, second, third, _) => {
                for (gr, &vb) in [first, second, third].into_iter().flatten() {
                    simd.axpy(vb, gr, out);
                }
                break;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::simd::Isa;
    use super::*;
    use crate::common::simd::Portable;
    use rand::rngs::StdRng;
    use rand::{Rng as _, SeedableRng};

    /// The `symv` part of the primitives' check (`common::simd`'s
    /// `kernels_agree_with_plain_arithmetic`), on the same vectors: the same draws from the same
    /// seed.
    fn check_symv<S: Simd>(simd: S, rng: &mut StdRng) {
        for len in [0usize, 1, 7, 8, 15, 16, 33, 64, 100] {
            let vec = |rng: &mut StdRng| -> Vec<f32> {
                (0..len).map(|_| rng.random_range(-1.0..1.0)).collect()
            };
            let (a, _b) = (vec(rng), vec(rng));
            let _ys = [vec(rng), vec(rng), vec(rng), vec(rng)];
            // G v for a symmetric G.
            let g: Vec<f32> = (0..len * len)
                .map(|t| ((t / len) * (t % len)) as f32 * 0.01)
                .collect();
            let mut gv = vec![7.0; len];
            symv(simd, &g, &a, &mut gv);
            for (i, o) in gv.iter().enumerate() {
                let terms = (0..len).map(|j| f64::from(g[i * len + j]) * f64::from(a[j]));
                let want: f64 = terms.clone().sum();
                let scale: f64 = terms.map(f64::abs).sum();
                assert!((f64::from(*o) - want).abs() <= 1e-6 * scale);
            }
        }
    }

    #[test]
    fn symv_agrees_with_plain_arithmetic() {
        let mut rng = StdRng::seed_from_u64(12);
        check_symv(Portable, &mut rng);
        #[cfg(target_arch = "x86_64")]
        if let Isa::Avx2Fma(t) = Isa::detect() {
            check_symv(t, &mut rng);
        }
    }
}
