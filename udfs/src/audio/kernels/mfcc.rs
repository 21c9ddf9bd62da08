//! MFCCs, their deltas and the 144-d MFCC encoder of SPEC §7: the thesis' audio-space distances
//! run on per-frame MFCCs (librosa's defaults) and its baseline "MFCC encoder" embeds a clip as
//! means and standard deviations of MFCCs and their deltas, in the study's variant (the default)
//! or librosa's. This module turns the STFT and mel kernels into those features, with plans that
//! are built once per parameter set and shared (`Send + Sync`) across clips and threads.
//!
//! Definitions:
//! - MFCC: power spectrogram → mel bands ([`MelFilterBank`]) → [`power_to_db`] with `amin =
//!   1e-10`, `ref = 1` and the `top_db` floor against the GLOBAL maximum of the clip's mel
//!   spectrogram (librosa's `power_to_db` and the study's torch code both do this) → DCT-II with
//!   orthonormal scaling along the mel axis, keeping the first `n_mfcc` coefficients, `c0`
//!   included (librosa: `lifter = 0`). [`MfccParams::librosa`] is `librosa.feature.mfcc`'s
//!   defaults: n_fft 2048, hop 512, periodic Hann, centred with zero padding, 128 Slaney bands
//!   with float32 weights, `top_db` 80.
//! - DCT-II, orthonormal (SciPy `dct(type=2, norm='ortho')`): `y[k] = s_k Σ_n x[n]·cos(πk(2n+1)
//!   / 2N)` with `s_0 = √(1/N)`, `s_k = √(2/N)`; [`Dct`] stores the basis of the kept
//!   coefficients.
//! - [`delta_savgol`]: SciPy `savgol_filter(x, width, polyorder=order, deriv=order,
//!   mode='interp', delta=1)` along time, which is what `librosa.feature.delta` computes: the
//!   `order`-th derivative at the centre of the least-squares polynomial of degree `order`
//!   fitted to `width` frames. Since the degree equals the derivative order, the derivative of
//!   each fit is a constant, so mode `interp` (one polynomial fitted to the first/last `width`
//!   frames) gives the edge frames the value of the first/last full window. The weights are
//!   `order!·q(j) / Σ q²`, with `q` the monic polynomial of degree `order` orthogonal to all lower
//!   degrees on the window positions `j = −width/2 ..= width/2`. Clips with fewer than `width`
//!   frames are an error (SciPy's and librosa's rule for mode `interp`).
//! - [`delta_diff`]: plain first differences `x[t+1] − x[t]`, one frame shorter (the study).
//! - [`mfcc_stats`] (144 values = 6 blocks of c1..c24; `c0` dropped after the deltas):
//!   - [`MfccStatsVariant::Study`] (default, the study's `MFCCEncoder`): STFT n_fft 1024, hop
//!     256, SYMMETRIC Hann, centred, reflect padding; power; float32 bank; `top_db` 80; DCT ortho;
//!     Δ and ΔΔ as first differences; layout `[mean c, std c, mean Δ, std Δ, mean ΔΔ, std ΔΔ]`;
//!     std with `ddof = 1`. Needs at least 4 frames (ΔΔ must have two), i.e. 768 samples.
//!   - [`MfccStatsVariant::Librosa`]: `librosa.feature.mfcc` defaults (n_fft 2048, hop 512, …),
//!     Savitzky–Golay Δ and ΔΔ of width 9; layout `[mean c, mean Δ, mean ΔΔ, std c, std Δ,
//!     std ΔΔ]`; std with `ddof = 0`. Needs at least 9 frames, i.e. 4096 samples.
//! - [`MfccStatsVariant::Choi`] (120 values): the MFCC baseline of the thesis' chapter 2
//!   (§2.4.2: "20 coefficients … first- and second-order derivatives … average and standard
//!   deviation over the time dimension, resulting in a 120-dimensional vector", extracted
//!   "following the strategy in [27]", Choi et al. 2017). It is what that strategy's published
//!   code computes: `librosa.feature.mfcc(y, sr, n_mfcc=20)` with librosa's defaults (n_fft 2048,
//!   hop 512, periodic Hann, centred with zeros, 128 bands; `c0` KEPT), Δ = first differences of
//!   the MFCCs and ΔΔ = first differences of Δ (not Savitzky–Golay), layout `[mean c, std c,
//!   mean Δ, std Δ, mean ΔΔ, std ΔΔ]` (20 values each), std with `ddof = 0` (NumPy's). Needs at
//!   least 3 frames (ΔΔ must have one), i.e. 1024 samples; that code zero-padded shorter clips to
//!   1024 samples, which a caller can do before.
//!
//! Means and standard deviations are two-pass (mean first, then squared deviations), as NumPy's.

use super::error::AudioError;
use super::frames::Frames;
use super::mel::{MelFilterBank, MelParams};
use super::stft::{power_to_db, Precision, Spectrum, StftParams, StftPlan};

/// `amin` of the dB conversion of mel powers (librosa's default).
const POWER_AMIN: f64 = 1e-10;
/// Number of MFCCs computed by the 144-d encoder (`c0 ..= c24`; `c0` is then dropped).
const STATS_N_MFCC: usize = 25;
/// Length of the [`mfcc_stats`] vector of the study's and librosa's variants.
pub const MFCC_STATS_DIM: usize = 6 * (STATS_N_MFCC - 1);
/// Number of MFCCs of the chapter 2 baseline ([`MfccStatsVariant::Choi`]; `c0` kept).
const CHOI_N_MFCC: usize = 20;
/// Savitzky–Golay window of librosa's deltas.
const LIBROSA_DELTA_WIDTH: usize = 9;

/// An orthonormal DCT-II of length `n_in` that keeps the first `n_out` coefficients.
#[derive(Clone, Debug, PartialEq)]
pub struct Dct {
    n_in: usize,
    n_out: usize,
    /// The folded basis. Since `cos(πk(2(N−1−n)+1)/2N) = (−1)^k·cos(πk(2n+1)/2N)`, coefficient
    /// `k` is `Σ_{n < ⌈N/2⌉} s_k·cos(πk(2n+1)/2N)·v[n]` with `v[n] = x[n] + x[N−1−n]` (even `k`)
    /// or `x[n] − x[N−1−n]` (odd `k`), the middle value of an odd `N` taken once (its odd-`k`
    /// cosine is 0): half the multiplications. Stored by `n` (row `n` holds the even-`k`
    /// coefficients, then the odd-`k` ones), so that a transform adds scaled rows into
    /// independent accumulators (no long dependency chain; it vectorises).
    folded: Vec<f64>,
}

/// Work buffers of [`Dct::apply_with`]: the folded sums and differences, and the accumulators
/// of the even- and odd-`k` coefficients.
struct Folds {
    sums: Vec<f64>,
    diffs: Vec<f64>,
    even: Vec<f64>,
    odd: Vec<f64>,
}

impl Dct {
    /// The transform, or an error unless `1 <= n_out <= n_in`.
    pub fn new(n_in: usize, n_out: usize) -> Result<Dct, AudioError> {
        if n_out == 0 || n_out > n_in {
            return Err(AudioError::BadParameter(format!(
                "the DCT keeps between 1 and {n_in} coefficients of {n_in} inputs, asked for {n_out}"
            )));
        }
        let full_turn = 4 * n_in;
        let half = n_in.div_ceil(2);
        let mut folded = Vec::with_capacity(n_out * half);
        for n in 0..half {
            let ks = (0..n_out).step_by(2).chain((1..n_out).step_by(2));
            for k in ks {
                let scale = if k == 0 { 1.0 } else { 2.0 } / n_in as f64;
                // The angle π·m/(2N) with m reduced modulo 4N (a whole turn), exactly.
                let m = ((2 * n + 1) * k) % full_turn;
                let angle = std::f64::consts::PI * m as f64 / (2 * n_in) as f64;
                folded.push(scale.sqrt() * angle.cos());
            }
        }
        Ok(Dct {
            n_in,
            n_out,
            folded,
        })
    }

    /// Input length `N`.
    pub fn n_in(&self) -> usize {
        self.n_in
    }

    /// Number of coefficients kept.
    pub fn n_out(&self) -> usize {
        self.n_out
    }

    fn folds(&self) -> Folds {
        let half = self.n_in.div_ceil(2);
        let n_even = self.n_out.div_ceil(2);
        Folds {
            sums: vec![0.0; half],
            diffs: vec![0.0; half],
            even: vec![0.0; n_even],
            odd: vec![0.0; self.n_out - n_even],
        }
    }

    /// Transforms one vector: `x` must have [`Dct::n_in`] values and `out` [`Dct::n_out`] (as
    /// [`Dct::apply_frames`] checks); other lengths give meaningless values but never panic.
    pub fn apply(&self, x: &[f64], out: &mut [f64]) {
        self.apply_with(x, out, &mut self.folds());
    }

    #[inline(always)]
    fn apply_with(&self, x: &[f64], out: &mut [f64], folds: &mut Folds) {
        for (n, (s, d)) in folds.sums.iter_mut().zip(&mut folds.diffs).enumerate() {
            let (a, b) = (x.get(n), x.get(self.n_in - 1 - n));
            let (a, b) = (a.copied().unwrap_or(0.0), b.copied().unwrap_or(0.0));
            if 2 * n + 1 == self.n_in {
                (*s, *d) = (a, 0.0);
            } else {
                (*s, *d) = (a + b, a - b);
            }
        }
        folds.even.iter_mut().for_each(|v| *v = 0.0);
        folds.odd.iter_mut().for_each(|v| *v = 0.0);
        let n_even = folds.even.len();
        let rows = self.folded.chunks_exact(self.n_out);
        for ((row, &s), &d) in rows.zip(&folds.sums).zip(&folds.diffs) {
            let (row_even, row_odd) = row.split_at(n_even);
            for (acc, &b) in folds.even.iter_mut().zip(row_even) {
                *acc += b * s;
            }
            for (acc, &b) in folds.odd.iter_mut().zip(row_odd) {
                *acc += b * d;
            }
        }
        for (k, o) in out.iter_mut().enumerate() {
            let from = if k % 2 == 0 { &folds.even } else { &folds.odd };
            *o = from.get(k / 2).copied().unwrap_or(0.0);
        }
    }

    /// Transforms every frame (frames × `n_in` → frames × `n_out`).
    pub fn apply_frames(&self, frames: &Frames) -> Result<Frames, AudioError> {
        if frames.dim != self.n_in {
            return Err(AudioError::BadInput(format!(
                "the DCT expects frames of {} values, got {}",
                self.n_in, frames.dim
            )));
        }
        let mut out = Frames::zeros(frames.n_frames, self.n_out);
        #[cfg(target_arch = "x86_64")]
        if crate::common::simd::level().has_avx2() {
            // SAFETY: the CPU supports AVX2, the only requirement of `apply_all_avx2`.
            unsafe { self.apply_all_avx2(frames, &mut out) };
            return Ok(out);
        }
        self.apply_all(frames, &mut out);
        Ok(out)
    }

    /// [`Dct::apply_all`] compiled for AVX2 (the same operations in the same order, so the same
    /// results).
    ///
    /// # Safety
    /// The CPU must support AVX2.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    unsafe fn apply_all_avx2(&self, frames: &Frames, out: &mut Frames) {
        self.apply_all(frames, out)
    }

    #[inline(always)]
    fn apply_all(&self, frames: &Frames, out: &mut Frames) {
        let mut folds = self.folds();
        let rows = frames.data.chunks_exact(self.n_in);
        for (x, o) in rows.zip(out.data.chunks_exact_mut(self.n_out)) {
            self.apply_with(x, o, &mut folds);
        }
    }
}

/// The DCT's AVX2 path against its portable twin (see [`crate::common::simd`]'s rule).
#[cfg(all(test, target_arch = "x86_64"))]
mod simd_twins {
    use super::*;
    use crate::common::rng::Rng;

    #[test]
    fn the_avx2_dct_equals_the_portable_dct() {
        if !crate::common::simd::level().has_avx2() {
            return;
        }
        let mut rng = Rng::new(31);
        for (n_in, n_out) in [(128, 25), (40, 13), (7, 7)] {
            let dct = Dct::new(n_in, n_out).unwrap();
            let n = 37;
            let data = (0..n * n_in).map(|_| rng.normal() * 30.0).collect();
            let frames = Frames::new(n, n_in, data).unwrap();
            let mut portable = Frames::zeros(n, n_out);
            dct.apply_all(&frames, &mut portable);
            let mut avx2 = Frames::zeros(n, n_out);
            // SAFETY: checked above that the CPU supports AVX2.
            unsafe { dct.apply_all_avx2(&frames, &mut avx2) };
            let bits = |f: &Frames| f.data.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(&avx2), bits(&portable), "{n_in} → {n_out}");
        }
    }
}

/// Everything that defines an MFCC computation, except the sample rate.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct MfccParams {
    /// The STFT (its power spectrogram feeds the mel bank).
    pub stft: StftParams,
    /// The mel filter bank.
    pub mel: MelParams,
    /// dB floor below the clip's maximum; `None` for no floor.
    pub top_db: Option<f64>,
    /// Coefficients kept per frame (`c0` included), at most `mel.n_mels`.
    pub n_mfcc: usize,
}

impl MfccParams {
    /// `librosa.feature.mfcc(n_mfcc=…)` defaults: n_fft 2048, hop 512, periodic Hann, centred
    /// with zeros, 128 bands with float32 weights, `top_db` 80.
    pub fn librosa(n_mfcc: usize) -> MfccParams {
        MfccParams {
            stft: StftParams::librosa(2048, 512),
            mel: MelParams::default(),
            top_db: Some(80.0),
            n_mfcc,
        }
    }

    /// The study's MFCCs (25 coefficients): [`StftParams::study`] (n_fft 1024, hop 256, symmetric
    /// Hann, reflect padding), 128 bands with float32 weights, `top_db` 80.
    pub fn study() -> MfccParams {
        MfccParams {
            stft: StftParams::study(),
            mel: MelParams::default(),
            top_db: Some(80.0),
            n_mfcc: STATS_N_MFCC,
        }
    }
}

/// A reusable MFCC computation (STFT plan, mel bank and DCT built once); `Send + Sync`.
#[derive(Clone, Debug)]
pub struct MfccPlan {
    stft: StftPlan,
    bank: MelFilterBank,
    dct: Dct,
    top_db: Option<f64>,
}

impl MfccPlan {
    /// The plan for clips at `sr` Hz, or the reason the parameters are invalid.
    pub fn new(sr: u32, params: &MfccParams) -> Result<MfccPlan, AudioError> {
        if let Some(top) = params.top_db {
            if !(top >= 0.0 && top.is_finite()) {
                return Err(AudioError::BadParameter(format!(
                    "top_db must be non-negative and finite, got {top}"
                )));
            }
        }
        let stft = StftPlan::new(params.stft)?;
        let bank = MelFilterBank::new(sr, params.stft.n_fft, &params.mel)?;
        let dct = Dct::new(bank.n_mels(), params.n_mfcc)?;
        Ok(MfccPlan {
            stft,
            bank,
            dct,
            top_db: params.top_db,
        })
    }

    /// Coefficients per frame.
    pub fn n_mfcc(&self) -> usize {
        self.dct.n_out()
    }

    /// The STFT parameters (frame count: [`StftParams::n_frames`]).
    pub fn stft_params(&self) -> &StftParams {
        self.stft.params()
    }

    /// Power mel spectrogram of a clip (frames × `n_mels`), without storing its STFT.
    pub fn melspectrogram(&self, signal: &[f32]) -> Result<Frames, AudioError> {
        self.stft
            .map_frames(signal, Spectrum::Power, self.bank.n_mels(), &self.bank)
    }

    /// MFCCs of a clip (frames × `n_mfcc`); an error when the clip is empty, too short for the
    /// STFT or not finite.
    pub fn mfcc(&self, signal: &[f32]) -> Result<Frames, AudioError> {
        let mut mel = self.melspectrogram(signal)?;
        power_to_db(
            &mut mel,
            POWER_AMIN,
            self.top_db,
            self.stft.params().precision,
        )?;
        self.dct.apply_frames(&mel)
    }
}

/// MFCCs of one clip at `sr` Hz (frames × `n_mfcc`); builds a one-off [`MfccPlan`] (reuse a
/// plan for many clips).
pub fn mfcc(signal: &[f32], sr: u32, params: &MfccParams) -> Result<Frames, AudioError> {
    MfccPlan::new(sr, params)?.mfcc(signal)
}

/// Savitzky–Golay derivative of order `order` along time with a `width`-frame window (see the
/// module docs; `librosa.feature.delta(x, width, order)`). An error unless `width` is odd and at
/// least 3, `1 <= order < width`, the frames have at least one value and there are at least
/// `width` frames.
pub fn delta_savgol(frames: &Frames, width: usize, order: usize) -> Result<Frames, AudioError> {
    if width < 3 || width % 2 == 0 {
        return Err(AudioError::BadParameter(format!(
            "the delta window must be odd and at least 3, got {width}"
        )));
    }
    if order == 0 || order >= width {
        return Err(AudioError::BadParameter(format!(
            "the delta order must be between 1 and {} for a window of {width}, got {order}",
            width - 1
        )));
    }
    let (n, dim) = (frames.n_frames, frames.dim);
    if dim == 0 {
        return Err(AudioError::BadInput(
            "the frames have no values".to_string(),
        ));
    }
    if n < width {
        return Err(AudioError::BadInput(format!(
            "Savitzky-Golay deltas of width {width} need at least {width} frames, got {n}"
        )));
    }
    let weights = savgol_weights(width, order);
    let half = width / 2;
    let rows: Vec<&[f64]> = frames.data.chunks_exact(dim).collect();
    let mut out = Frames::zeros(n, dim);
    let out_rows = out.data.chunks_exact_mut(dim).skip(half);
    for (window, o) in rows.windows(width).zip(out_rows) {
        for (w, row) in weights.iter().zip(window) {
            for (acc, v) in o.iter_mut().zip(row.iter()) {
                *acc += w * v;
            }
        }
    }
    // Mode 'interp': the edge frames take the (constant) derivative of the first/last fit.
    let (first, last) = (half * dim, (n - half - 1) * dim);
    out.data.copy_within(first..first + dim, 0);
    for t in 1..half {
        out.data.copy_within(0..dim, t * dim);
    }
    for t in n - half..n {
        out.data.copy_within(last..last + dim, t * dim);
    }
    Ok(out)
}

/// Weights `h[j]` (`j = 0 .. width`, position `j − width/2`) such that `Σ h[j]·y[j]` is the
/// `order`-th derivative of the least-squares polynomial of degree `order` through `y`.
fn savgol_weights(width: usize, order: usize) -> Vec<f64> {
    let half = (width / 2) as f64;
    let x: Vec<f64> = (0..width).map(|j| j as f64 - half).collect();
    let dot = |a: &[f64], b: &[f64]| -> f64 { a.iter().zip(b).map(|(p, q)| p * q).sum() };
    // Monic orthogonal polynomials on the positions (three-term recurrence).
    let mut previous = vec![0.0; width];
    let mut current = vec![1.0; width];
    let mut previous_norm = 1.0;
    for degree in 0..order {
        let norm = dot(&current, &current);
        let xq: Vec<f64> = x.iter().zip(&current).map(|(a, q)| a * q).collect();
        let alpha = dot(&xq, &current) / norm;
        let beta = if degree == 0 {
            0.0
        } else {
            norm / previous_norm
        };
        let next: Vec<f64> = xq
            .iter()
            .zip(&current)
            .zip(&previous)
            .map(|((&xq, &q), &p)| xq - alpha * q - beta * p)
            .collect();
        previous = std::mem::replace(&mut current, next);
        previous_norm = norm;
    }
    let factorial: f64 = (1..=order).map(|i| i as f64).product();
    let norm = dot(&current, &current);
    current.iter().map(|q| factorial * q / norm).collect()
}

/// First differences along time, `x[t+1] − x[t]` (one frame shorter): the study's deltas. An
/// error for fewer than 2 frames.
pub fn delta_diff(frames: &Frames) -> Result<Frames, AudioError> {
    if frames.n_frames < 2 {
        return Err(AudioError::BadInput(format!(
            "first differences need at least 2 frames, got {}",
            frames.n_frames
        )));
    }
    let dim = frames.dim;
    let data = frames
        .data
        .iter()
        .skip(dim)
        .zip(&frames.data)
        .map(|(next, current)| next - current)
        .collect();
    Frames::new(frames.n_frames - 1, dim, data)
}

/// Which convention the 144-d MFCC encoder follows (see the module docs).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum MfccStatsVariant {
    /// The study's code: symmetric Hann, n_fft 1024 / hop 256, reflect padding, first
    /// differences, `[mean, std]` per block, `ddof = 1`.
    #[default]
    Study,
    /// librosa's defaults: n_fft 2048 / hop 512, Savitzky–Golay deltas (width 9), all means then
    /// all stds, `ddof = 0`.
    Librosa,
    /// The thesis' chapter 2 baseline (120 values): librosa's MFCC defaults with 20
    /// coefficients, `c0` kept, first differences, `[mean, std]` per block, `ddof = 0`.
    Choi,
}

impl MfccStatsVariant {
    /// Minimum number of MFCC frames the variant's statistics are defined for.
    fn min_frames(self) -> usize {
        match self {
            MfccStatsVariant::Study => 4,
            MfccStatsVariant::Librosa => LIBROSA_DELTA_WIDTH,
            MfccStatsVariant::Choi => 3,
        }
    }

    /// Length of the variant's vector: 144, or 120 for [`MfccStatsVariant::Choi`].
    pub fn dim(self) -> usize {
        match self {
            MfccStatsVariant::Study | MfccStatsVariant::Librosa => MFCC_STATS_DIM,
            MfccStatsVariant::Choi => 6 * CHOI_N_MFCC,
        }
    }
}

/// The 144-d MFCC encoder with its [`MfccPlan`] built once; `Send + Sync`.
#[derive(Clone, Debug)]
pub struct MfccStatsPlan {
    variant: MfccStatsVariant,
    mfcc: MfccPlan,
}

impl MfccStatsPlan {
    /// The encoder for clips at `sr` Hz, its STFT computed in `precision`.
    pub fn new(
        sr: u32,
        variant: MfccStatsVariant,
        precision: Precision,
    ) -> Result<MfccStatsPlan, AudioError> {
        let mut params = match variant {
            MfccStatsVariant::Study => MfccParams::study(),
            MfccStatsVariant::Librosa => MfccParams::librosa(STATS_N_MFCC),
            MfccStatsVariant::Choi => MfccParams::librosa(CHOI_N_MFCC),
        };
        params.stft.precision = precision;
        Ok(MfccStatsPlan {
            variant,
            mfcc: MfccPlan::new(sr, &params)?,
        })
    }

    /// The variant this encoder follows.
    pub fn variant(&self) -> MfccStatsVariant {
        self.variant
    }

    /// The [`MfccStatsVariant::dim`] statistics of one clip; an error when the clip is empty,
    /// not finite or too short (fewer than 4 frames for the study's variant, 9 for librosa's, 3
    /// for Choi's).
    pub fn stats(&self, signal: &[f32]) -> Result<Vec<f64>, AudioError> {
        let min = self.variant.min_frames();
        let n_frames = self.mfcc.stft_params().n_frames(signal.len())?;
        if n_frames < min {
            return Err(AudioError::BadInput(format!(
                "the clip ({} samples, {n_frames} frames) is too short for the {:?} MFCC \
                 statistics, which need at least {min} frames",
                signal.len(),
                self.variant
            )));
        }
        let c = self.mfcc.mfcc(signal)?;
        let mut out = Vec::with_capacity(self.variant.dim());
        match self.variant {
            MfccStatsVariant::Study => {
                let d1 = delta_diff(&c)?;
                let d2 = delta_diff(&d1)?;
                for block in [&c, &d1, &d2] {
                    let (mean, std) = mean_std(block, 1, 1);
                    out.extend(mean);
                    out.extend(std);
                }
            }
            MfccStatsVariant::Librosa => {
                let d1 = delta_savgol(&c, LIBROSA_DELTA_WIDTH, 1)?;
                let d2 = delta_savgol(&c, LIBROSA_DELTA_WIDTH, 2)?;
                let stats = [&c, &d1, &d2].map(|block| mean_std(block, 1, 0));
                out.extend(stats.iter().flat_map(|(mean, _)| mean));
                out.extend(stats.iter().flat_map(|(_, std)| std));
            }
            MfccStatsVariant::Choi => {
                let d1 = delta_diff(&c)?;
                let d2 = delta_diff(&d1)?;
                for block in [&c, &d1, &d2] {
                    let (mean, std) = mean_std(block, 0, 0);
                    out.extend(mean);
                    out.extend(std);
                }
            }
        }
        Ok(out)
    }
}

/// The MFCC statistics of one clip at `sr` Hz (144 values, 120 for Choi's variant), in `f64`; builds a one-off [`MfccStatsPlan`] (reuse a
/// plan for many clips).
pub fn mfcc_stats(
    signal: &[f32],
    sr: u32,
    variant: MfccStatsVariant,
) -> Result<Vec<f64>, AudioError> {
    MfccStatsPlan::new(sr, variant, Precision::F64)?.stats(signal)
}

/// Mean and standard deviation over time of values `skip ..` of each frame, with `ddof`
/// (the caller guarantees more than `ddof` frames).
pub fn mean_std(frames: &Frames, skip: usize, ddof: usize) -> (Vec<f64>, Vec<f64>) {
    let dim = frames.dim;
    let width = dim.saturating_sub(skip);
    let mut mean = vec![0.0; width];
    let mut sq = vec![0.0; width];
    let rows = || {
        frames
            .data
            .chunks_exact(dim.max(1))
            .map(|r| r.iter().skip(skip))
    };
    for row in rows() {
        for (m, v) in mean.iter_mut().zip(row) {
            *m += v;
        }
    }
    let n = frames.n_frames as f64;
    mean.iter_mut().for_each(|m| *m /= n);
    for row in rows() {
        for ((s, v), m) in sq.iter_mut().zip(row).zip(&mean) {
            *s += (v - m) * (v - m);
        }
    }
    let denominator = n - ddof as f64;
    let std = sq.iter().map(|s| (s / denominator).sqrt()).collect();
    (mean, std)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audio::kernels::testdata::{npy, reference_audio, signal_f32, Npy};
    use crate::common::rng::Rng;

    /// The largest |ours − reference| (reference stored coefficients × frames) and the
    /// reference's largest |value|.
    fn deviation(ours: &Frames, reference: &Npy) -> (f64, f64) {
        assert_eq!(reference.shape, vec![ours.dim, ours.n_frames]);
        let mut dev: f64 = 0.0;
        for t in 0..ours.n_frames {
            for k in 0..ours.dim {
                dev = dev.max((ours.at(t, k) - reference.at(k, t)).abs());
            }
        }
        let scale = reference.data.iter().fold(0.0f64, |m, v| m.max(v.abs()));
        (dev, scale)
    }

    /// A reference array (coefficients × frames) as our frames × coefficients.
    fn as_frames(reference: &Npy) -> Frames {
        Frames::new(
            reference.shape[0],
            reference.shape[1],
            reference.data.clone(),
        )
        .unwrap()
        .transposed()
    }

    /// 16-bit PCM samples of a canonical 44-byte-header mono WAV, divided by 32768.
    fn read_wav_pcm16(name: &str) -> Vec<f32> {
        let bytes = std::fs::read(reference_audio(name)).unwrap();
        assert_eq!(&bytes[0..4], b"RIFF");
        assert_eq!(&bytes[8..12], b"WAVE");
        assert_eq!(&bytes[36..40], b"data");
        let len = u32::from_le_bytes(bytes[40..44].try_into().unwrap()) as usize;
        bytes[44..44 + len]
            .chunks_exact(2)
            .map(|b| i16::from_le_bytes([b[0], b[1]]) as f32 / 32768.0)
            .collect()
    }

    #[test]
    fn dct_matches_the_naive_definition_and_is_orthonormal() {
        let mut rng = Rng::new(11);
        for (n, keep) in [(128, 128), (128, 25), (7, 3), (1, 1)] {
            let dct = Dct::new(n, keep).unwrap();
            let x: Vec<f64> = (0..n).map(|_| rng.normal()).collect();
            let mut y = vec![0.0; keep];
            dct.apply(&x, &mut y);
            for (k, &yk) in y.iter().enumerate() {
                // SciPy's definition: 2·Σ x cos(πk(2n+1)/2N), times √(1/4N) or √(1/2N).
                let sum: f64 = x
                    .iter()
                    .enumerate()
                    .map(|(i, v)| {
                        let arg = std::f64::consts::PI * (k * (2 * i + 1)) as f64 / (2 * n) as f64;
                        2.0 * v * arg.cos()
                    })
                    .sum();
                let f = if k == 0 {
                    4.0 * n as f64
                } else {
                    2.0 * n as f64
                };
                assert!((yk - sum / f.sqrt()).abs() < 1e-12, "n {n} k {k}");
            }
            if keep == n {
                let energy: f64 = x.iter().map(|v| v * v).sum();
                let kept: f64 = y.iter().map(|v| v * v).sum();
                assert!((energy - kept).abs() < 1e-10 * energy, "Parseval, n {n}");
            }
        }
        // The columns of the full transform (images of unit vectors) are orthonormal, for even
        // and odd lengths.
        for n in [16, 15] {
            let dct = Dct::new(n, n).unwrap();
            let rows: Vec<Vec<f64>> = (0..n)
                .map(|j| {
                    let mut e = vec![0.0; n];
                    e[j] = 1.0;
                    let mut y = vec![0.0; n];
                    dct.apply(&e, &mut y);
                    y
                })
                .collect();
            for (i, a) in rows.iter().enumerate() {
                for (j, b) in rows.iter().enumerate() {
                    let d: f64 = a.iter().zip(b.iter()).map(|(p, q)| p * q).sum();
                    let expected = if i == j { 1.0 } else { 0.0 };
                    assert!((d - expected).abs() < 1e-14, "n {n}: {i}·{j} = {d}");
                }
            }
        }
        // A constant vector has only c0 = √N · value.
        let mut y = vec![0.0; 4];
        Dct::new(9, 4).unwrap().apply(&[2.0; 9], &mut y);
        assert!((y[0] - 6.0).abs() < 1e-14 && y[1..].iter().all(|v| v.abs() < 1e-14));
        assert!(Dct::new(8, 9).is_err() && Dct::new(8, 0).is_err());
    }

    #[test]
    fn librosa_mfcc_reference_signal_1() {
        let reference = npy("mfcc25_librosa.npy");
        let m = mfcc(&signal_f32(), 22050, &MfccParams::librosa(25)).unwrap();
        let (dev, scale) = deviation(&m, &reference);
        assert!(dev < 1e-12 * scale, "max |dev| {dev} at scale {scale}");
        // float64 mel weights instead of librosa's float32 ones move the MFCCs measurably.
        let mut wide = MfccParams::librosa(25);
        wide.mel.f32_weights = false;
        let (dev, _) = deviation(&mfcc(&signal_f32(), 22050, &wide).unwrap(), &reference);
        assert!(dev > 1e-8, "float64 weights: {dev}");
    }

    /// librosa's own float32-versus-float64 deviation on the reference signal (meta.json:
    /// `max_abs_dev_float32_vs_float64`), the yardstick of our float32 path.
    const LIBROSA_F32_DEV_MFCC: f64 = 1.0225e-4;
    const LIBROSA_F32_DEV_STATS: f64 = 9.773e-6;

    #[test]
    fn float32_path_deviates_from_the_reference_as_librosas_float32_path_does() {
        let mut params = MfccParams::librosa(25);
        params.stft.precision = Precision::F32;
        for (signal, name) in [
            (signal_f32(), "mfcc25_librosa.npy"),
            (read_wav_pcm16("signal2.wav"), "mfcc25_librosa_signal2.npy"),
        ] {
            let (dev, _) = deviation(&mfcc(&signal, 22050, &params).unwrap(), &npy(name));
            // Within twice librosa's float32 deviation, and truly float32 (not the f64 path).
            assert!(dev < 2.0 * LIBROSA_F32_DEV_MFCC, "{name}: max |dev| {dev}");
            assert!(dev > 1e-7, "{name}: {dev} is too small for float32");
        }
        for (variant, name) in [
            (MfccStatsVariant::Study, "mfcc_stats144_study.npy"),
            (MfccStatsVariant::Librosa, "mfcc_stats144_librosa.npy"),
        ] {
            let plan = MfccStatsPlan::new(22050, variant, Precision::F32).unwrap();
            let ours = plan.stats(&signal_f32()).unwrap();
            let reference = npy(name);
            let dev = ours
                .iter()
                .zip(&reference.data)
                .map(|(a, b)| (a - b).abs())
                .fold(0.0, f64::max);
            assert!(dev < 2.0 * LIBROSA_F32_DEV_STATS, "{name}: max |dev| {dev}");
            assert!(dev > 1e-9, "{name}: {dev} is too small for float32");
        }
    }

    #[test]
    fn librosa_mfcc_reference_signal_2() {
        let signal = read_wav_pcm16("signal2.wav");
        assert_eq!(signal.len(), 66150);
        let m = mfcc(&signal, 22050, &MfccParams::librosa(25)).unwrap();
        let (dev, scale) = deviation(&m, &npy("mfcc25_librosa_signal2.npy"));
        assert!(dev < 1e-12 * scale, "max |dev| {dev} at scale {scale}");
    }

    #[test]
    fn librosa_delta_references() {
        let reference = npy("mfcc25_librosa.npy");
        let ours = mfcc(&signal_f32(), 22050, &MfccParams::librosa(25)).unwrap();
        for (order, name) in [
            (1, "mfcc25_delta1_librosa.npy"),
            (2, "mfcc25_delta2_librosa.npy"),
        ] {
            let expected = npy(name);
            // The deltas alone, on librosa's own MFCCs.
            let d = delta_savgol(&as_frames(&reference), 9, order).unwrap();
            let (dev, scale) = deviation(&d, &expected);
            assert!(dev < 1e-12 * scale, "order {order}: {dev} at scale {scale}");
            // The whole pipeline.
            let d = delta_savgol(&ours, 9, order).unwrap();
            let (dev, scale) = deviation(&d, &expected);
            assert!(dev < 1e-12 * scale, "order {order}: {dev} at scale {scale}");
        }
    }

    /// Brute-force Savitzky–Golay: least-squares polynomial of degree `order` through the
    /// `width` points around (or, at the edges, nearest to) `t`, by normal equations, and its
    /// `order`-th derivative (`order!` times the leading coefficient).
    fn brute_savgol(y: &[f64], width: usize, order: usize, t: usize) -> f64 {
        let half = width / 2;
        let start = t.saturating_sub(half).min(y.len() - width);
        let p = order + 1;
        let mut a = vec![vec![0.0; p + 1]; p];
        for i in 0..width {
            let x = (start + i) as f64 - t as f64;
            for (r, row) in a.iter_mut().enumerate() {
                for (c, v) in row.iter_mut().take(p).enumerate() {
                    *v += x.powi((r + c) as i32);
                }
                row[p] += x.powi(r as i32) * y[start + i];
            }
        }
        for col in 0..p {
            let pivot = (col..p)
                .max_by(|&i, &j| a[i][col].abs().total_cmp(&a[j][col].abs()))
                .unwrap();
            a.swap(col, pivot);
            let pivot_row = a[col].clone();
            for (r, row) in a.iter_mut().enumerate() {
                if r != col {
                    let f = row[col] / pivot_row[col];
                    for (v, pv) in row.iter_mut().zip(&pivot_row).skip(col) {
                        *v -= f * pv;
                    }
                }
            }
        }
        let lead = a[order][p] / a[order][order];
        (1..=order).map(|i| i as f64).product::<f64>() * lead
    }

    #[test]
    fn savgol_matches_brute_force_least_squares() {
        let mut rng = Rng::new(5);
        for (width, order, n) in [(9, 1, 20), (9, 2, 9), (5, 3, 12), (3, 1, 3), (7, 2, 30)] {
            let dim = 3;
            let frames = Frames::new(n, dim, (0..n * dim).map(|_| rng.normal()).collect()).unwrap();
            let d = delta_savgol(&frames, width, order).unwrap();
            let cols = frames.transposed();
            for k in 0..dim {
                for t in 0..n {
                    let expected = brute_savgol(cols.frame(k), width, order, t);
                    assert!(
                        (d.at(t, k) - expected).abs() < 1e-9,
                        "width {width} order {order} t {t}: {} vs {expected}",
                        d.at(t, k)
                    );
                }
            }
        }
    }

    #[test]
    fn savgol_is_exact_on_polynomials_and_checks_its_arguments() {
        let n = 12;
        let quadratic: Vec<f64> = (0..n)
            .map(|t| 3.0 * (t * t) as f64 - 2.0 * t as f64 + 1.0)
            .collect();
        let f = Frames::new(n, 1, quadratic).unwrap();
        let d2 = delta_savgol(&f, 9, 2).unwrap();
        assert!(d2.data.iter().all(|v| (v - 6.0).abs() < 1e-10));
        let line = Frames::new(n, 1, (0..n).map(|t| 0.5 * t as f64 - 4.0).collect()).unwrap();
        let d1 = delta_savgol(&line, 9, 1).unwrap();
        assert!(d1.data.iter().all(|v| (v - 0.5).abs() < 1e-12));
        let e = delta_savgol(&Frames::zeros(8, 2), 9, 1)
            .unwrap_err()
            .to_string();
        assert!(e.contains("9 frames"), "{e}");
        assert!(delta_savgol(&Frames::zeros(20, 2), 8, 1).is_err());
        assert!(delta_savgol(&Frames::zeros(20, 2), 9, 0).is_err());
        assert!(delta_savgol(&Frames::zeros(20, 2), 3, 3).is_err());
        assert!(delta_savgol(&Frames::zeros(20, 0), 9, 1).is_err());
    }

    #[test]
    fn first_differences() {
        let f = Frames::new(3, 2, vec![1.0, 2.0, 4.0, 8.0, 9.0, 7.0]).unwrap();
        let d = delta_diff(&f).unwrap();
        assert_eq!((d.n_frames, d.dim), (2, 2));
        assert_eq!(d.data, vec![3.0, 6.0, 5.0, -1.0]);
        assert!(delta_diff(&Frames::zeros(1, 2)).is_err());
    }

    fn assert_stats(ours: &[f64], name: &str) {
        let reference = npy(name);
        assert_eq!(reference.shape, vec![MFCC_STATS_DIM]);
        assert_eq!(ours.len(), MFCC_STATS_DIM);
        let scale = reference.data.iter().fold(0.0f64, |m, v| m.max(v.abs()));
        let dev = ours
            .iter()
            .zip(&reference.data)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f64::max);
        assert!(
            dev < 1e-12 * scale,
            "{name}: max |dev| {dev} at scale {scale}"
        );
    }

    #[test]
    fn study_stats_reference() {
        let z = mfcc_stats(&signal_f32(), 22050, MfccStatsVariant::default()).unwrap();
        assert_stats(&z, "mfcc_stats144_study.npy");
    }

    #[test]
    fn librosa_stats_reference() {
        let z = mfcc_stats(&signal_f32(), 22050, MfccStatsVariant::Librosa).unwrap();
        assert_stats(&z, "mfcc_stats144_librosa.npy");
    }

    /// The chapter 2 baseline from librosa's own MFCCs (the first 20 rows of the 25-coefficient
    /// reference: an orthonormal DCT's coefficients do not depend on how many are kept), with
    /// the differences, means and standard deviations written out here.
    #[test]
    fn choi_stats_from_librosa_mfccs() {
        let reference = npy("mfcc25_librosa.npy");
        let frames = reference.shape[1];
        let c: Vec<Vec<f64>> = (0..20)
            .map(|k| (0..frames).map(|t| reference.at(k, t)).collect())
            .collect();
        let diff = |x: &[f64]| -> Vec<f64> { x.windows(2).map(|w| w[1] - w[0]).collect() };
        let mut expected = Vec::new();
        for order in 0..3 {
            let rows: Vec<Vec<f64>> = c
                .iter()
                .map(|row| (0..order).fold(row.clone(), |r, _| diff(&r)))
                .collect();
            let means: Vec<f64> = rows
                .iter()
                .map(|r| r.iter().sum::<f64>() / r.len() as f64)
                .collect();
            let stds = rows.iter().zip(&means).map(|(r, m)| {
                (r.iter().map(|v| (v - m) * (v - m)).sum::<f64>() / r.len() as f64).sqrt()
            });
            expected.extend(means.iter().copied());
            expected.extend(stds);
        }
        assert_eq!(expected.len(), 120);
        let ours = mfcc_stats(&signal_f32(), 22050, MfccStatsVariant::Choi).unwrap();
        assert_eq!(ours.len(), MfccStatsVariant::Choi.dim());
        let scale = expected.iter().fold(0.0f64, |m, v| m.max(v.abs()));
        for (i, (a, b)) in ours.iter().zip(&expected).enumerate() {
            assert!((a - b).abs() < 1e-10 * scale, "{i}: {a} vs {b}");
        }
        // c0 is kept: the first mean is the mean of c0, a large negative dB level.
        assert!(ours[0] < -100.0, "{}", ours[0]);
        // Three frames (1024 samples) are enough, two are not.
        let plan = MfccStatsPlan::new(22050, MfccStatsVariant::Choi, Precision::F64).unwrap();
        let mut rng = Rng::new(2);
        let clip: Vec<f32> = (0..1024).map(|_| rng.normal() as f32).collect();
        let z = plan.stats(&clip).unwrap();
        assert_eq!(z.len(), 120);
        // One ΔΔ frame: its standard deviation is 0.
        assert!(z[100..120].iter().all(|v| *v == 0.0));
        let e = plan.stats(&clip[..1023]).unwrap_err().to_string();
        assert!(e.contains("at least 3 frames"), "{e}");
    }

    #[test]
    fn stats_need_enough_frames() {
        let study = MfccStatsPlan::new(22050, MfccStatsVariant::Study, Precision::F64).unwrap();
        let mut rng = Rng::new(1);
        let clip: Vec<f32> = (0..768).map(|_| rng.normal() as f32).collect();
        assert_eq!(study.stats(&clip).unwrap().len(), MFCC_STATS_DIM);
        let e = study.stats(&clip[..767]).unwrap_err().to_string();
        assert!(e.contains("too short"), "{e}");
        let e = study.stats(&clip[..300]).unwrap_err().to_string();
        assert!(e.contains("reflect"), "{e}");
        let librosa = MfccStatsPlan::new(22050, MfccStatsVariant::Librosa, Precision::F64).unwrap();
        assert!(librosa
            .stats(&clip)
            .unwrap_err()
            .to_string()
            .contains("9 frames"));
        assert!(study.stats(&[]).unwrap_err().to_string().contains("empty"));
        assert!(MfccStatsPlan::new(0, MfccStatsVariant::Study, Precision::F64).is_err());
        let too_many = MfccParams {
            n_mfcc: 129,
            ..MfccParams::librosa(20)
        };
        assert!(MfccPlan::new(22050, &too_many).is_err());
    }

    #[test]
    fn one_plan_serves_parallel_clips() {
        use rayon::prelude::*;
        let plan = MfccStatsPlan::new(22050, MfccStatsVariant::Study, Precision::F64).unwrap();
        let signal = signal_f32();
        let clips: Vec<&[f32]> = (0..4)
            .map(|i| &signal[i * 5000..i * 5000 + 20000])
            .collect();
        let parallel: Vec<Vec<f64>> = clips.par_iter().map(|c| plan.stats(c).unwrap()).collect();
        for (c, z) in clips.iter().zip(&parallel) {
            assert_eq!(&plan.stats(c).unwrap(), z);
        }
        assert_ne!(parallel[0], parallel[1]);
    }
}
