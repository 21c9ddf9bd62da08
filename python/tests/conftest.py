"""Fixtures of the Python package's tests: a fresh model store per test, trustql's CLI."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

import trustql

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def models(tmp_path: Path) -> Path:
    """An empty model store of the test's own."""
    return tmp_path / "models"


@pytest.fixture
def session(models: Path) -> trustql.Session:
    return trustql.Session(models, progress=None)


@pytest.fixture(scope="session")
def cli() -> str:
    """trustql's CLI binary: $TRUSTQL_BIN (scripts/test.sh sets it), else the debug build."""
    candidates = [os.environ.get("TRUSTQL_BIN")]
    target = os.environ.get("CARGO_TARGET_DIR", str(REPO / "target"))
    candidates.append(os.path.join(target, "debug", "trustql"))
    candidates.append(shutil.which("trustql"))
    for c in candidates:
        if c and os.access(c, os.X_OK):
            return c
    pytest.fail("the trustql CLI is not built: run `cargo build --bin trustql` or set TRUSTQL_BIN")


# A tag-aware item-kNN model's training data, as sql/explain/explainers.slt has it.
TAGS = {
    "item": [10, 10, 20, 20, 30, 30, 40],
    "tag": ["rock", "guitar", "pop", "guitar", "rock", "pop", "jazz"],
    "weight": [1.0, 2.0, 1.0, 1.0, 1.0, 3.0, 1.0],
}
PLAYS = {"user": [1, 1, 2, 2, 3, 3, 4], "item": [10, 20, 10, 30, 20, 40, 30]}
