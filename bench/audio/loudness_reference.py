"""Integrated loudness (ITU-R BS.1770-4 / EBU R128) of real clips and synthetic signals, measured
by two independent implementations, for the tests of udfs/src/audio/kernels/loudness.rs:

  pyloudnorm  (Steinmetz & Reiss; its own K-weighting biquads and block count), and
  libebur128  (through pyebur128, the C library that the Rust `ebur128` crate ports).

Writes udfs/tests/data/audio/loudness_reference.json. The synthetic signals are defined by the
formulas below (the Rust test rebuilds them by name) and are rounded to float32 first, because the
Rust kernel measures float32 samples. WAV files are read as int16 / 32768, as symphonia does.

Run: .venv/bin/python bench/audio/loudness_reference.py   (pip install pyloudnorm pyebur128 soundfile)
"""
import json
import pathlib

import numpy as np
import pyebur128
import pyloudnorm
import soundfile as sf

ROOT = pathlib.Path(__file__).resolve().parents[2]
SHARED = ROOT.parent / "shared"
OUT = ROOT / "udfs" / "tests" / "data" / "audio" / "loudness_reference.json"

FILES = [
    "data/audio/music/asc_frontiers_015s.wav",
    "data/audio/music/asc_time_to_strike_010s.wav",
    "data/audio/music/sonicpi_loop_amen_full.wav",
    "data/audio/music/sonicpi_loop_compus.wav",
    "data/audio/music/sonicpi_guit_em9.wav",
    "data/audio/noise/crowd.wav",
    "data/audio/noise/vinyl_hiss.wav",
    "data/audio/noise/applause.wav",
    "reference/audio/signal.wav",
    "reference/audio/signal2.wav",
]


def sine(sr, seconds, freq, amp):
    t = np.arange(int(round(sr * seconds))) / sr
    return amp * np.sin(2 * np.pi * freq * t)


def synthetic(name):
    """The synthetic test signals; loudness.rs rebuilds each one from the same formula."""
    if name == "sine1k_m20dbfs_22050":
        return 22050, sine(22050, 3.0, 1000.0, 0.1)
    if name == "sine1k_m20dbfs_48000":
        return 48000, sine(48000, 3.0, 1000.0, 0.1)
    if name == "gated_16000":
        # 2 s loud two-tone, 1 s digital silence, 1 s quiet tone (below the relative gate)
        loud = sine(16000, 2.0, 220.0, 0.5) + sine(16000, 2.0, 3000.0, 0.25)
        return 16000, np.concatenate([loud, np.zeros(16000), sine(16000, 1.0, 500.0, 0.01)])
    if name == "chirp_44100":
        sr, seconds, f0, f1 = 44100, 2.5, 50.0, 15000.0
        t = np.arange(int(round(sr * seconds))) / sr
        return sr, 0.3 * np.sin(2 * np.pi * (f0 * t + (f1 - f0) * t * t / (2 * seconds)))
    raise KeyError(name)


SYNTHETIC = ["sine1k_m20dbfs_22050", "sine1k_m20dbfs_48000", "gated_16000", "chirp_44100"]


def libebur128(x, sr):
    state = pyebur128.R128State(1, sr, pyebur128.MeasurementMode.MODE_I)
    x = np.ascontiguousarray(x, dtype=np.float64)
    state.add_frames(x, len(x))
    return pyebur128.get_loudness_global(state)


def entry(name, kind, sr, x):
    return {
        "name": name,
        "kind": kind,
        "sample_rate": int(sr),
        "n_samples": int(len(x)),
        "pyloudnorm": float(pyloudnorm.Meter(sr).integrated_loudness(x)),
        "libebur128": float(libebur128(x, sr)),
    }


def main():
    entries = []
    for rel in FILES:
        x, sr = sf.read(SHARED / rel, dtype="float64")
        entries.append(entry(rel, "file", sr, x))
    for name in SYNTHETIC:
        sr, x = synthetic(name)
        entries.append(entry(name, "synthetic", sr, x.astype(np.float32).astype(np.float64)))
    out = {
        "made_by": "bench/audio/loudness_reference.py",
        "versions": {
            "pyloudnorm": pyloudnorm.__version__ if hasattr(pyloudnorm, "__version__") else "0.2.0",
            "pyebur128": pyebur128.__version__,
            "libebur128": pyebur128.get_libebur128_version(),
            "numpy": np.__version__,
        },
        "entries": entries,
    }
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(out, indent=1) + "\n")
    for e in entries:
        print(f"{e['name']:48s} {e['sample_rate']:6d} {e['pyloudnorm']:9.4f} {e['libebur128']:9.4f} "
              f"{e['pyloudnorm'] - e['libebur128']:+.4f}")


if __name__ == "__main__":
    main()
