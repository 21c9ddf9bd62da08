"""museval's SDR of the signals of udfs/src/audio/kernels/sdr.rs's reference test.

museval (pip install museval numpy) imports stempeg, which needs ffmpeg even for metrics; this
script loads museval/metrics.py on its own instead. Run with the interpreter of a venv holding
museval:  python bench/audio/sdr_museval.py
"""
import glob
import importlib.util
import site

import numpy as np

paths = [p for d in site.getsitepackages() for p in glob.glob(d + "/museval/metrics.py")]
spec = importlib.util.spec_from_file_location("museval_metrics", paths[0])
metrics = importlib.util.module_from_spec(spec)
spec.loader.exec_module(metrics)

W = 22050
n = 5 * W + 1234
i = np.arange(n, dtype=np.float64)
ref = 0.5 * np.sin(0.05 * i) + 0.1 * np.sin(0.7 * i + 0.3 * np.sin(0.001 * i))
delayed = np.concatenate([np.zeros(40), ref[:-40]])
est = 0.8 * ref + 0.05 * np.cos(1.3 * i) + 0.02 * delayed
est[:W] = 0.0
ref, est = ref.astype(np.float32), est.astype(np.float32)
sdr = metrics.bss_eval(ref[None, :, None], est[None, :, None], window=W, hop=W)[0]
print("per window:", repr(sdr[0]))
print("median:", repr(float(np.nanmedian(sdr))))
