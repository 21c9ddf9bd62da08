#!/usr/bin/env python3
"""Wall time of librosa's spectral features on a 10 s clip at 22,050 Hz, one thread, for the
side-by-side with the Rust kernels in udfs/src/audio/kernels (stft.rs, mel.rs, mfcc.rs).

The clip is the reference signal (shared/reference/audio/signal_f64.npy) tiled to 10 s, as
float32 (what librosa.load returns). Prints the median and minimum over repeated runs in ms.

Run with: OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 .venv/bin/python bench/audio/librosa_feature_timing.py
"""
import os
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import librosa  # noqa: E402

SR = 22050
HERE = os.path.dirname(os.path.abspath(__file__))
SIGNAL = os.path.join(HERE, "..", "..", "..", "shared", "reference", "audio", "signal_f64.npy")


def timed(name, f, repeats=30):
    f()  # warm-up (numba compilation, FFT plans)
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        f()
        times.append(time.perf_counter() - t)
    times.sort()
    print(f"{name:34} median {1e3 * times[len(times) // 2]:8.3f} ms  min {1e3 * times[0]:8.3f} ms")


def stats_librosa(y):
    m = librosa.feature.mfcc(y=y, sr=SR, n_mfcc=25)
    d1 = librosa.feature.delta(m)
    d2 = librosa.feature.delta(m, order=2)
    a, b, c = m[1:], d1[1:], d2[1:]
    return np.r_[a.mean(1), b.mean(1), c.mean(1), a.std(1), b.std(1), c.std(1)]


def main():
    base = np.load(SIGNAL).astype(np.float32)
    y = np.resize(base, 10 * SR)
    print(f"librosa {librosa.__version__}, numpy {np.__version__}, clip {len(y)} samples")
    timed("stft power 2048/512", lambda: np.abs(librosa.stft(y, n_fft=2048, hop_length=512)) ** 2)
    timed("stft_db 1024/256 (amplitude_to_db)",
          lambda: librosa.amplitude_to_db(np.abs(librosa.stft(y, n_fft=1024, hop_length=256))))
    timed("melspectrogram (defaults)", lambda: librosa.feature.melspectrogram(y=y, sr=SR))
    timed("mfcc (defaults, 25)", lambda: librosa.feature.mfcc(y=y, sr=SR, n_mfcc=25))
    timed("mfcc_stats librosa variant", lambda: stats_librosa(y))


if __name__ == "__main__":
    main()
