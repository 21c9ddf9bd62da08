"""Ctrl-C (KeyboardInterrupt) cancels the running statement; the session goes on."""

from __future__ import annotations

import _thread
import threading
import time

import pyarrow as pa
import pytest


def interrupt_after(seconds: float) -> threading.Timer:
    """Raises KeyboardInterrupt in the main thread after `seconds`, as Ctrl-C would."""
    timer = threading.Timer(seconds, _thread.interrupt_main)
    timer.start()
    return timer


def test_ctrl_c_cancels_a_long_query_and_the_session_goes_on(session):
    # Several minutes of work if it were not cancelled.
    long = "SELECT sum(x % 7) FROM generate_series(1, 100000000000) AS t(x)"
    start = time.monotonic()
    interrupt_after(0.5)
    with pytest.raises(KeyboardInterrupt):
        session.sql(long)
    assert time.monotonic() - start < 10
    assert session.sql("SELECT 1 + 1 AS two").to_pylist() == [{"two": 2}]


def test_ctrl_c_stops_training(session):
    # ALS with many factors and iterations on random data: minutes uncancelled.
    n = 200_000
    session.register(
        "plays",
        pa.table(
            {
                "user": pa.array([i % 5000 for i in range(n)], pa.int64()),
                "item": pa.array([(i * 7919) % 20000 for i in range(n)], pa.int64()),
            }
        ),
    )
    start = time.monotonic()
    interrupt_after(1.0)
    with pytest.raises(KeyboardInterrupt):
        session.sql(
            "CREATE MODEL big OPTIONS (type = 'wrmf', dim = 256, iterations = 1000) "
            "AS SELECT * FROM plays"
        )
    assert time.monotonic() - start < 30
    # Nothing half-trained was stored, and the next statement runs.
    assert session.sql("SHOW MODELS").num_rows == 0
    assert session.sql("SELECT 2 AS x").to_pylist() == [{"x": 2}]


def test_ctrl_c_stops_a_script(session, tmp_path):
    script = tmp_path / "s.sql"
    script.write_text(
        "SELECT sum(x % 7) FROM generate_series(1, 100000000000) AS t(x);\n"
        "CREATE TABLE after_cancel AS SELECT 1 AS x;\n"
    )
    interrupt_after(0.5)
    with pytest.raises(KeyboardInterrupt):
        session.run_script(script)
    time.sleep(1.0)
    # The script stopped at the cancelled statement: the next one never ran.
    with pytest.raises(Exception, match="after_cancel"):
        session.sql("SELECT * FROM after_cancel")


def test_a_running_statement_leaves_the_gil_to_other_threads(session):
    done = threading.Event()
    ticks = 0

    def work():
        session.sql("SELECT sum(x % 7) AS s FROM generate_series(1, 300000000) AS t(x)")
        done.set()

    worker = threading.Thread(target=work)
    start = time.monotonic()
    worker.start()
    # While the statement runs, this thread keeps running Python.
    while not done.is_set() and time.monotonic() - start < 60:
        ticks += 1
        time.sleep(0.001)
    worker.join()
    elapsed = time.monotonic() - start
    assert elapsed > 0.2, "the statement was too quick to tell"
    # At least a quarter of the 1 ms ticks the elapsed time allows.
    assert ticks > elapsed * 1000 / 4, (ticks, elapsed)
