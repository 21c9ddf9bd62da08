#!/usr/bin/env bash
# Installs LightFM 1.17 (the peer of trustql's `fm` in bench/recsys/lightfm_fm.py) into the
# project's environment. LightFM 1.17 ships only a source archive whose setup.py sets a flag on
# `__builtins__`, which fails under pip's isolated PEP 517 build ("'dict' object has no attribute
# '__LIGHTFM_SETUP__'"); the legacy `setup.py` build in the environment itself works, with
# setuptools < 82 (torch 2.11's bound) and wheel present. It compiles the OpenMP extension with
# the system's C compiler (about a minute).
set -euo pipefail
cd "$(dirname "$0")/../.."
PY="${PYTHON:-.venv/bin/python}"
"$PY" -m pip install -r bench/recsys/requirements.txt "setuptools<82" wheel
"$PY" -m pip install --no-build-isolation --no-use-pep517 lightfm==1.17
"$PY" -c "import lightfm._lightfm_fast_openmp; import lightfm; print('lightfm', lightfm.__version__, 'with OpenMP')"
