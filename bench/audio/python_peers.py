#!/usr/bin/env python3
"""The Python side of the audio benchmark (bench/audio/run.sh): librosa's MFCCs and 144-d MFCC
statistics on the same 24 clips as bench/audio/audio_speed.sql, and DTW with fastdtw (radius 1,
the study's) and dtaidistance on trustql's own MFCC sequences (<results>/audio_mfcc.json), timed
in one process with one thread. Writes <results>/audio_python.json.

fastdtw takes about half a second per pair of 10 s clips, so it runs on the pairs of the first
--fastdtw-clips clips with all 24 (the time is reported per pair). dtaidistance's
dtw_ndim.distance uses a different cost (the square root of the summed squared frame distances),
so only its time is comparable."""

import argparse
import glob
import json
import os
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("NUMBA_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import librosa  # noqa: E402


def best(f, repeat):
    f()  # warm-up (numba, FFT plans)
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        out = f()
        times.append(time.perf_counter() - t)
    return min(times), out


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--music", default="../shared/data/audio/music")
    ap.add_argument("--results", type=Path, required=True)
    ap.add_argument("--fastdtw-clips", type=int, default=2)
    args = ap.parse_args()
    files = sorted(glob.glob(os.path.join(args.music, "*.wav")))
    clips = [librosa.load(f, sr=None)[0] for f in files]
    out = {"librosa": librosa.__version__, "clips": len(clips)}

    secs, _ = best(lambda: [librosa.feature.mfcc(y=y, sr=22050, n_mfcc=25) for y in clips], 3)
    out["mfcc_seconds"] = secs

    def stats(y):
        m = librosa.feature.mfcc(y=y, sr=22050, n_mfcc=25)
        d1, d2 = librosa.feature.delta(m), librosa.feature.delta(m, order=2)
        b = [m[1:], d1[1:], d2[1:]]
        return np.r_[[x.mean(1) for x in b] + [x.std(1) for x in b]].ravel()

    secs, _ = best(lambda: [stats(y) for y in clips], 3)
    out["mfcc_stats_seconds"] = secs

    seqs = {}
    for line in (args.results / "audio_mfcc.json").read_text().splitlines():
        r = json.loads(line)
        seqs[r["clip"]] = np.asarray(r["m"], dtype=np.float64)
    names = sorted(seqs)
    exact = {}
    for line in (args.results / "audio_dtw.json").read_text().splitlines():
        r = json.loads(line)
        exact[(r["a"], r["b"])] = r["dtw"]

    from fastdtw import fastdtw
    from scipy.spatial.distance import euclidean

    pairs = [(a, b) for a in names[: args.fastdtw_clips] for b in names]
    t = time.perf_counter()
    fast = [fastdtw(seqs[a], seqs[b], radius=1, dist=euclidean)[0] for a, b in pairs]
    out["fastdtw_seconds_per_pair"] = (time.perf_counter() - t) / len(pairs)
    out["fastdtw_pairs"] = len(pairs)
    ratios = [f / exact[p] for f, p in zip(fast, pairs) if exact[p] > 0]
    out["fastdtw_over_exact"] = {"min": min(ratios), "median": float(np.median(ratios)), "max": max(ratios)}

    from dtaidistance import dtw_ndim

    allpairs = [(a, b) for a in names for b in names]
    t = time.perf_counter()
    for a, b in allpairs:
        dtw_ndim.distance(seqs[a], seqs[b], use_c=True)
    out["dtaidistance_seconds_per_pair"] = (time.perf_counter() - t) / len(allpairs)
    out["dtaidistance_pairs"] = len(allpairs)
    import dtaidistance

    out["dtaidistance"] = dtaidistance.__version__
    (args.results / "audio_python.json").write_text(json.dumps(out, indent=1))
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
