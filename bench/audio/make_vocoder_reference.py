"""Reference outputs of librosa's time stretching and pitch shifting for the tests of
udfs/src/audio/kernels/vocoder.rs.

Input: the first second (22,050 samples) of shared/reference/audio/signal_f64.npy (the 16-bit test
signal divided by 32768, so exactly representable in float32), processed in float64 by
librosa 0.11 with its defaults (n_fft 2048, hop 512, periodic Hann, centred; pitch_shift resamples
with soxr "HQ"). Outputs are stored as float32 .npy files in udfs/tests/data/audio/:
  vocoder_stretch_0.5_librosa.npy, vocoder_stretch_1.25_librosa.npy, vocoder_pitch_+3_librosa.npy

Run from the repository root:  .venv/bin/python bench/audio/make_vocoder_reference.py
"""
import pathlib

import librosa
import numpy as np

ROOT = pathlib.Path(__file__).resolve().parents[2]
SHARED = ROOT.parent / "shared"
OUT = ROOT / "udfs" / "tests" / "data" / "audio"


def main():
    x = np.load(SHARED / "reference" / "audio" / "signal_f64.npy")[:22050]
    assert np.array_equal(x.astype(np.float32).astype(np.float64), x)
    OUT.mkdir(parents=True, exist_ok=True)
    for rate in (0.5, 1.25):
        y = librosa.effects.time_stretch(x, rate=rate)
        np.save(OUT / f"vocoder_stretch_{rate}_librosa.npy", y.astype(np.float32))
    y = librosa.effects.pitch_shift(x, sr=22050, n_steps=3)
    np.save(OUT / "vocoder_pitch_+3_librosa.npy", y.astype(np.float32))
    print("librosa", librosa.__version__, "->", OUT)


if __name__ == "__main__":
    main()
