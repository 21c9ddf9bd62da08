"""Progress of long statements reaches Python: lines, and the status of long work."""

from __future__ import annotations

import logging
import sys

import pyarrow as pa

import trustql
from trustql import _progress

from conftest import PLAYS, TAGS


def test_lines_and_status_reach_a_callable(models):
    got = []
    s = trustql.Session(models, progress=got.append, status_interval=0.0)
    s.register("tg", pa.table(TAGS))
    s.register("plays", pa.table(PLAYS))
    s.sql("CREATE MODEL nn OPTIONS (type = 'inn', dim = 2, tags = 'tg') AS SELECT * FROM plays")
    s.sql("CREATE MODEL IF NOT EXISTS nn OPTIONS (type = 'inn', dim = 2, tags = 'tg') AS SELECT * FROM plays")
    assert "model 'nn' exists; not retrained" in got
    got.clear()
    # fidelity meters its rows; with a zero interval every unit is reported.
    s.sql(
        "SELECT fidelity('nn', 'lime', u, 2, 'all', 'samples = 50, seed = 1') "
        "FROM (VALUES (1), (2), (3)) AS t(u)"
    )
    assert any(line.startswith("fidelity(") for line in got), got


def test_log_mode_uses_the_trustql_logger(models, caplog):
    s = trustql.Session(models, progress="log")
    s.register("plays", pa.table(PLAYS))
    s.sql("CREATE MODEL pop OPTIONS (type = 'mostpop') AS SELECT * FROM plays")
    with caplog.at_level(logging.INFO, logger="trustql"):
        s.sql("CREATE MODEL IF NOT EXISTS pop OPTIONS (type = 'mostpop') AS SELECT * FROM plays")
    assert any("not retrained" in r.getMessage() for r in caplog.records)


def test_a_tqdm_bar_follows_the_status():
    class FakeBar:
        made = []

        def __init__(self, desc, total, unit, leave):
            self.desc, self.total, self.n, self.closed = desc, total, 0, False
            FakeBar.made.append(self)

        def update(self, k):
            self.n += k

        def close(self):
            self.closed = True

    status = _progress._TqdmStatus(FakeBar)
    status("fidelity(m, lime)", "users", 3, 10, 1.0, "")
    status("fidelity(m, lime)", "users", 7, 10, 2.0, "")
    status("recommend(m)", "users", 5, None, 0.5, "")
    status(None, "", 0, None, 0.0, "")
    first, second = FakeBar.made
    assert (first.desc, first.total, first.n, first.closed) == ("fidelity(m, lime)", 10, 7, True)
    assert (second.desc, second.n, second.closed) == ("recommend(m)", 5, True)


def test_a_broken_callback_does_not_fail_the_statement(models, monkeypatch):
    def broken(line):
        raise RuntimeError("progress bar broke")

    reported = []
    monkeypatch.setattr(sys, "unraisablehook", lambda u: reported.append(u.exc_value))
    s = trustql.Session(models, progress=broken)
    s.register("plays", pa.table(PLAYS))
    s.sql("CREATE MODEL pop OPTIONS (type = 'mostpop') AS SELECT * FROM plays")
    r = s.sql("CREATE MODEL IF NOT EXISTS pop OPTIONS (type = 'mostpop') AS SELECT * FROM plays")
    assert r.column_names == []
    # The callback's exception was reported as unraisable, not raised by the statement.
    assert any("progress bar broke" in str(e) for e in reported)
