"""Writes the small encoded files that the decoding tests of
udfs/src/audio/kernels/codec.rs read (with include_bytes!), into udfs/tests/data/audio/.

The test signals are defined by formulas, so that the Rust tests can rebuild them and compare:
  stereo (FLAC, OGG/Vorbis): 0.5 s at 22,050 Hz, left = 0.5 sin(2 pi 440 t), right = 0.25 sin(2 pi 660 t)
  mono (MP3, written by libsndfile through LAME, with its LAME/Xing tag): 1.0 s at 22,050 Hz,
      0.5 sin(2 pi 440 t), CBR (libsndfile's compression level 0.5).
FLAC is 16-bit PCM (lossless up to the 16-bit rounding); OGG/Vorbis and MP3 are lossy.

Run: .venv/bin/python bench/audio/make_codec_testdata.py   (needs soundfile >= 0.12 with libsndfile >= 1.1)
"""
import pathlib

import numpy as np
import soundfile as sf

OUT = pathlib.Path(__file__).resolve().parents[2] / "udfs" / "tests" / "data" / "audio"
SR = 22050


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    t = np.arange(SR // 2) / SR
    stereo = np.stack([0.5 * np.sin(2 * np.pi * 440 * t), 0.25 * np.sin(2 * np.pi * 660 * t)], axis=1)
    sf.write(OUT / "codec_stereo_tone.flac", stereo, SR, format="FLAC", subtype="PCM_16")
    sf.write(OUT / "codec_stereo_tone.ogg", stereo, SR, format="OGG", subtype="VORBIS")
    t = np.arange(SR) / SR
    mono = 0.5 * np.sin(2 * np.pi * 440 * t)
    sf.write(OUT / "codec_mono_tone.mp3", mono, SR, format="MP3", subtype="MPEG_LAYER_III",
             compression_level=0.5, bitrate_mode="CONSTANT")
    for p in sorted(OUT.glob("codec_*")):
        info = sf.info(p)
        print(p.name, p.stat().st_size, "bytes", info.samplerate, "Hz", info.channels, "ch", info.frames, "frames")


if __name__ == "__main__":
    main()
