//! Additive noise for the robustness experiment (thesis §4.2.2, SPEC §7): pink noise (PN) and
//! environmental noise (EN) mixed into a clip at a given signal-to-noise ratio, with every random
//! choice seeded so that a perturbed clip can be rebuilt bit for bit.
//!
//! Definitions and conventions:
//! - **Pink noise** ([`pink_noise`]): `n` seeded white Gaussian samples
//!   ([`Rng::normal`](crate::common::rng::Rng::normal)) are shaped in the frequency
//!   domain: the DFT bin of frequency `f = min(k, n − k) / n` (cycles per sample) is multiplied by
//!   `1 / √f`, so the power spectrum falls as `1/f` (−3.01 dB per octave); the DC bin is set to
//!   zero, and the result is scaled to RMS 1. This is the method of the `colorednoise` package the
//!   study used (`powerlaw_psd_gaussian(1, n)`), written here from its definition; it is exactly
//!   `1/f` down to the lowest bin, unlike the Voss–McCartney approximation.
//! - **Fitting a noise to the clip's length** ([`fit_noise`]): a noise as long as the clip is
//!   used as it is; a shorter noise is **tiled** (the whole noise, then the whole noise again, …,
//!   cut at the clip's length, starting from its first sample); a longer noise is **cropped** to a
//!   window that starts at a seeded uniformly random offset in `0..=noise_len − len`. (The study's
//!   code called `np.repeat`, which repeats each *sample* instead of tiling the recording — a bug
//!   that is not reproduced; its crop offset excluded the last possible start, a negligible
//!   difference.)
//! - **Mixing at an SNR** ([`mix_unnormalised`], [`mix_at_snr`]), as the study's
//!   `audioperturbator.utils.mix`: the signal is scaled to RMS 1, the fitted noise to RMS
//!   `10^(−SNR/20)`, and the two are added, so the mix has exactly the requested SNR (computed in
//!   f64, rounded once to f32). [`mix_at_snr`] then peak-normalises the sum to a maximum absolute
//!   value of exactly 1 (`librosa.util.normalize`, as the study); [`mix_unnormalised`] returns the
//!   sum before that step, whose SNR can be checked.
//! - **Errors**: a silent signal or a silent noise window (RMS 0: the SNR is undefined), a
//!   non-finite SNR or sample, an empty signal or noise.

use rustfft::num_complex::Complex;
use rustfft::FftPlanner;

use super::error::AudioError;
use crate::common::rng::Rng;

/// `n` samples of seeded pink noise (power spectrum `∝ 1/f`, zero mean, RMS 1); the same `seed`
/// always gives the same samples. An error when `n < 2`.
pub fn pink_noise(n: usize, seed: u64) -> Result<Vec<f32>, AudioError> {
    if n < 2 {
        return Err(AudioError::BadParameter(format!(
            "pink noise needs at least 2 samples, not {n}"
        )));
    }
    let mut rng = Rng::new(seed);
    let mut spectrum: Vec<Complex<f64>> = (0..n).map(|_| Complex::new(rng.normal(), 0.0)).collect();
    let mut planner = FftPlanner::<f64>::new();
    planner.plan_fft_forward(n).process(&mut spectrum);
    for (k, bin) in spectrum.iter_mut().enumerate() {
        let f = k.min(n - k);
        *bin = if f == 0 {
            Complex::new(0.0, 0.0)
        } else {
            *bin / (f as f64).sqrt()
        };
    }
    planner.plan_fft_inverse(n).process(&mut spectrum);
    let rms = (spectrum.iter().map(|c| c.re * c.re).sum::<f64>() / n as f64).sqrt();
    if !(rms > 0.0 && rms.is_finite()) {
        return Err(AudioError::BadInput(format!(
            "pink noise of {n} samples came out silent"
        )));
    }
    Ok(spectrum.iter().map(|c| (c.re / rms) as f32).collect())
}

/// The noise fitted to `len` samples: as it is when equally long, tiled from its start when
/// shorter, cropped at a seeded random offset (uniform over every full window) when longer.
pub fn fit_noise(noise: &[f32], len: usize, seed: u64) -> Result<Vec<f32>, AudioError> {
    if noise.is_empty() {
        return Err(AudioError::BadInput("the noise has no samples".to_string()));
    }
    if noise.len() <= len {
        return Ok(noise.iter().copied().cycle().take(len).collect());
    }
    let offset = Rng::new(seed).below((noise.len() - len + 1) as u64) as usize;
    noise
        .get(offset..offset + len)
        .map(<[f32]>::to_vec)
        .ok_or_else(|| {
            AudioError::BadInput(format!(
                "noise window {offset}+{len} outside {} samples",
                noise.len()
            ))
        })
}

/// The signal scaled to RMS 1 plus the fitted noise ([`fit_noise`]) scaled to RMS
/// `10^(−snr_db/20)`: the mix at exactly `snr_db` dB, before peak normalisation.
pub fn mix_unnormalised(
    signal: &[f32],
    noise: &[f32],
    snr_db: f64,
    seed: u64,
) -> Result<Vec<f32>, AudioError> {
    if !snr_db.is_finite() {
        return Err(AudioError::BadParameter(format!(
            "the SNR must be a finite number of dB, not {snr_db}"
        )));
    }
    check_samples("signal", signal)?;
    check_samples("noise", noise)?;
    let fitted = fit_noise(noise, signal.len(), seed)?;
    let signal_rms = rms(signal);
    if signal_rms == 0.0 {
        return Err(AudioError::BadInput(
            "the signal is silent (RMS 0), so no SNR can be set".to_string(),
        ));
    }
    let noise_rms = rms(&fitted);
    if noise_rms == 0.0 {
        return Err(AudioError::BadInput(format!(
            "the noise window of {} samples is silent (RMS 0), so no SNR can be set",
            fitted.len()
        )));
    }
    let signal_gain = 1.0 / signal_rms;
    let noise_gain = 10f64.powf(-snr_db / 20.0) / noise_rms;
    Ok(signal
        .iter()
        .zip(&fitted)
        .map(|(&s, &n)| (signal_gain * f64::from(s) + noise_gain * f64::from(n)) as f32)
        .collect())
}

/// The mix of [`mix_unnormalised`] peak-normalised to a maximum absolute value of 1 (the study's
/// output).
pub fn mix_at_snr(
    signal: &[f32],
    noise: &[f32],
    snr_db: f64,
    seed: u64,
) -> Result<Vec<f32>, AudioError> {
    peak_normalise(mix_unnormalised(signal, noise, snr_db, seed)?)
}

/// Seeded pink noise ([`pink_noise`], as long as the signal) mixed in at `snr_db` dB and
/// peak-normalised ([`mix_at_snr`]).
pub fn add_pink_noise(signal: &[f32], snr_db: f64, seed: u64) -> Result<Vec<f32>, AudioError> {
    let noise = pink_noise(signal.len(), seed)?;
    mix_at_snr(signal, &noise, snr_db, seed)
}

/// The samples divided by their largest absolute value (peak 1); an error when they are all zero.
pub fn peak_normalise(mut samples: Vec<f32>) -> Result<Vec<f32>, AudioError> {
    let peak = samples.iter().fold(0f32, |m, &x| m.max(x.abs()));
    if !(peak > 0.0 && peak.is_finite()) {
        return Err(AudioError::BadInput(format!(
            "cannot peak-normalise samples whose peak is {peak}"
        )));
    }
    samples.iter_mut().for_each(|x| *x /= peak);
    Ok(samples)
}

/// Root mean square, accumulated in f64 (0 for no samples).
fn rms(x: &[f32]) -> f64 {
    if x.is_empty() {
        return 0.0;
    }
    (x.iter().map(|&v| f64::from(v) * f64::from(v)).sum::<f64>() / x.len() as f64).sqrt()
}

/// An error naming `what` when `x` is empty or holds a non-finite sample.
fn check_samples(what: &str, x: &[f32]) -> Result<(), AudioError> {
    if x.is_empty() {
        return Err(AudioError::BadInput(format!("the {what} has no samples")));
    }
    super::check_finite(what, x)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audio::kernels::testdata::signal_f32;

    fn rms64(x: &[f64]) -> f64 {
        (x.iter().map(|v| v * v).sum::<f64>() / x.len() as f64).sqrt()
    }

    /// SNR of an unnormalised mix, measured from outside: the signal scaled to RMS 1 by the test,
    /// the rest of the mix taken as the noise.
    fn measured_snr(signal: &[f32], mix: &[f32]) -> f64 {
        let s: Vec<f64> = signal.iter().map(|&v| f64::from(v)).collect();
        let gain = 1.0 / rms64(&s);
        let noise: Vec<f64> = mix
            .iter()
            .zip(&s)
            .map(|(&m, &v)| f64::from(m) - gain * v)
            .collect();
        20.0 * (1.0 / rms64(&noise)).log10()
    }

    const SNRS: [f64; 19] = [
        -15.0, -10.0, -6.0, -3.0, 3.0, 6.0, 9.0, 12.0, 15.0, 18.0, 21.0, 24.0, 27.0, 27.5, 28.0,
        28.5, 29.0, 29.5, 30.0,
    ];

    #[test]
    fn mixed_snr_is_the_target() {
        let signal = signal_f32();
        let pink = pink_noise(signal.len(), 3).unwrap();
        // A noise that must be cropped and one that must be tiled.
        let long: Vec<f32> = pink_noise(signal.len() + 5000, 4).unwrap();
        let short: Vec<f32> = pink_noise(7000, 5).unwrap();
        for noise in [&pink, &long, &short] {
            for snr in SNRS {
                let mix = mix_unnormalised(&signal, noise, snr, 11).unwrap();
                let got = measured_snr(&signal, &mix);
                assert!(
                    (got - snr).abs() < 0.01,
                    "target {snr} dB, measured {got} dB"
                );
            }
        }
    }

    #[test]
    fn output_is_the_mix_peak_normalised() {
        let signal = signal_f32();
        let noise = pink_noise(9000, 1).unwrap();
        let raw = mix_unnormalised(&signal, &noise, 6.0, 2).unwrap();
        let out = mix_at_snr(&signal, &noise, 6.0, 2).unwrap();
        let peak = raw.iter().fold(0f32, |m, v| m.max(v.abs()));
        assert!(peak > 1.0, "an RMS-1 music signal peaks above 1");
        let out_peak = out.iter().fold(0f32, |m, v| m.max(v.abs()));
        assert!((out_peak - 1.0).abs() < 1e-6);
        for (o, r) in out.iter().zip(&raw) {
            assert!((o * peak - r).abs() < 1e-5);
        }
        let pn = add_pink_noise(&signal, 6.0, 9).unwrap();
        let expected = mix_at_snr(&signal, &pink_noise(signal.len(), 9).unwrap(), 6.0, 9).unwrap();
        assert_eq!(pn, expected);
    }

    /// The mean periodogram power per octave band, fitted by least squares against the band index:
    /// the slope in dB per octave.
    fn octave_slope(x: &[f32]) -> f64 {
        let n = x.len();
        let mut spec: Vec<Complex<f64>> =
            x.iter().map(|&v| Complex::new(f64::from(v), 0.0)).collect();
        FftPlanner::new().plan_fft_forward(n).process(&mut spec);
        let (mut xs, mut ys) = (Vec::new(), Vec::new());
        let mut lo = 32;
        while 2 * lo <= n / 2 {
            let band = &spec[lo..2 * lo];
            let power = band.iter().map(|c| c.norm_sqr()).sum::<f64>() / band.len() as f64;
            xs.push((lo as f64).log2());
            ys.push(10.0 * power.log10());
            lo *= 2;
        }
        let m = xs.len() as f64;
        let (mx, my) = (xs.iter().sum::<f64>() / m, ys.iter().sum::<f64>() / m);
        let sxy: f64 = xs.iter().zip(&ys).map(|(a, b)| (a - mx) * (b - my)).sum();
        let sxx: f64 = xs.iter().map(|a| (a - mx) * (a - mx)).sum();
        sxy / sxx
    }

    #[test]
    fn pink_noise_falls_3_db_per_octave() {
        for seed in [1, 2] {
            let x = pink_noise(1 << 18, seed).unwrap();
            let slope = octave_slope(&x);
            assert!((slope + 3.0).abs() < 0.3, "slope {slope} dB/octave");
            let mean = x.iter().map(|&v| f64::from(v)).sum::<f64>() / x.len() as f64;
            assert!(mean.abs() < 1e-6, "mean {mean}");
            assert!((rms(&x) - 1.0).abs() < 1e-6);
        }
        // The same measure on white noise finds a flat spectrum, so it can tell them apart.
        let mut rng = Rng::new(1);
        let white: Vec<f32> = (0..1 << 18).map(|_| rng.normal() as f32).collect();
        assert!(octave_slope(&white).abs() < 0.3);
    }

    #[test]
    fn seeds_decide_the_noise() {
        assert_eq!(pink_noise(4000, 7).unwrap(), pink_noise(4000, 7).unwrap());
        assert_ne!(pink_noise(4000, 7).unwrap(), pink_noise(4000, 8).unwrap());
        let signal = signal_f32();
        let a = add_pink_noise(&signal, 10.0, 7).unwrap();
        assert_eq!(a, add_pink_noise(&signal, 10.0, 7).unwrap());
        assert_ne!(a, add_pink_noise(&signal, 10.0, 8).unwrap());
    }

    #[test]
    fn short_noise_is_tiled_not_sample_repeated() {
        let noise: Vec<f32> = (1..=1000).map(|i| i as f32).collect();
        let fitted = fit_noise(&noise, 2500, 0).unwrap();
        assert_eq!(fitted.len(), 2500);
        for (i, v) in fitted.iter().enumerate() {
            assert_eq!(*v, ((i % 1000) + 1) as f32);
        }
        // np.repeat would give 1, 1, 2, 2, …: no two neighbours are equal here.
        assert!(fitted.windows(2).all(|w| w[0] != w[1]));
        // The noise inside a mix is the tiled noise, scaled.
        let signal: Vec<f32> = (0..2500).map(|i| ((i as f32) * 0.01).sin()).collect();
        let mix = mix_unnormalised(&signal, &noise, 0.0, 0).unwrap();
        let gain = 1.0 / rms(&signal);
        let part: Vec<f64> = mix
            .iter()
            .zip(&signal)
            .map(|(&m, &s)| f64::from(m) - gain * f64::from(s))
            .collect();
        let scale = part[0] / f64::from(fitted[0]);
        for (p, f) in part.iter().zip(&fitted) {
            assert!(
                (p - scale * f64::from(*f)).abs() < 1e-4,
                "{p} vs {}",
                scale * f64::from(*f)
            );
        }
    }

    #[test]
    fn long_noise_is_cropped_at_a_seeded_offset() {
        let noise: Vec<f32> = (0..5000).map(|i| i as f32).collect();
        let mut offsets = std::collections::BTreeSet::new();
        for seed in 0..20 {
            let fitted = fit_noise(&noise, 1000, seed).unwrap();
            let offset = fitted[0] as usize;
            assert!(offset <= 4000);
            assert_eq!(fitted, noise[offset..offset + 1000].to_vec());
            assert_eq!(fitted, fit_noise(&noise, 1000, seed).unwrap());
            offsets.insert(offset);
        }
        assert!(offsets.len() > 10, "offsets {offsets:?}");
        assert_eq!(fit_noise(&noise, 5000, 3).unwrap(), noise);
    }

    #[test]
    fn bad_inputs_are_errors() {
        let signal = signal_f32();
        let noise = pink_noise(100, 1).unwrap();
        let e = mix_at_snr(&[0.0; 50], &noise, 3.0, 0)
            .unwrap_err()
            .to_string();
        assert!(e.contains("signal is silent"), "{e}");
        let e = mix_at_snr(&signal, &[0.0; 50], 3.0, 0)
            .unwrap_err()
            .to_string();
        assert!(e.contains("noise window"), "{e}");
        for snr in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
            let e = mix_at_snr(&signal, &noise, snr, 0).unwrap_err().to_string();
            assert!(e.contains("finite"), "{e}");
        }
        assert!(mix_at_snr(&signal, &[], 3.0, 0)
            .unwrap_err()
            .to_string()
            .contains("noise has no samples"));
        assert!(mix_at_snr(&[], &noise, 3.0, 0)
            .unwrap_err()
            .to_string()
            .contains("signal has no samples"));
        let mut bad = signal.clone();
        bad[17] = f32::NAN;
        assert!(mix_at_snr(&bad, &noise, 3.0, 0)
            .unwrap_err()
            .to_string()
            .contains("signal: sample 17 is not finite"));
        assert!(pink_noise(1, 0).is_err());
        assert!(add_pink_noise(&[0.5], 3.0, 0).is_err());
        assert!(peak_normalise(vec![0.0; 4]).is_err());
    }
}
