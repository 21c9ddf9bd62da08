#!/usr/bin/env python3
"""Mel filter banks from librosa for the unit tests of udfs/src/audio/kernels/mel.rs.

shared/reference/audio has librosa's float64 bank for n_fft 1024 only; these files add the
n_fft 2048 bank (float64) and a non-default bank (16 kHz, n_fft 512, 40 bands, fmin/fmax set,
librosa's default float32 weights). Only the non-zero weights are written, one per line as
`band bin weight` (weight with 17 significant digits, exact for float64).

Run with: .venv/bin/python bench/audio/make_melfb_testdata.py   (librosa 0.11.0)
"""
import os

import librosa
import numpy as np

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "udfs", "tests", "data", "audio")


def write(name, description, bank):
    rows, cols = np.nonzero(bank)
    with open(os.path.join(OUT, name), "w") as f:
        f.write(f"# {description}\n# librosa {librosa.__version__}, numpy {np.__version__}\n")
        f.write(f"# shape {bank.shape[0]} {bank.shape[1]}\n")
        for r, c in zip(rows, cols):
            f.write(f"{r} {c} {float(bank[r, c]):.17g}\n")


def main():
    os.makedirs(OUT, exist_ok=True)
    write("melfb_sr22050_nfft2048_128_slaney.txt",
          "librosa.filters.mel(sr=22050, n_fft=2048, dtype=np.float64)",
          librosa.filters.mel(sr=22050, n_fft=2048, dtype=np.float64))
    write("melfb_sr16000_nfft512_40_fmin133_fmax6855_f32.txt",
          "librosa.filters.mel(sr=16000, n_fft=512, n_mels=40, fmin=133.33, fmax=6855.5) (float32)",
          librosa.filters.mel(sr=16000, n_fft=512, n_mels=40, fmin=133.33, fmax=6855.5))


if __name__ == "__main__":
    main()
