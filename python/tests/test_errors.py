"""Errors are trustql.Error exceptions with the CLI's messages."""

from __future__ import annotations

import subprocess

import pytest

import trustql


def test_the_hierarchy():
    for kind in (trustql.PlanningError, trustql.ExecutionError, trustql.ModelError):
        assert issubclass(kind, trustql.Error)
    assert issubclass(trustql.Error, Exception)


def test_planning_errors_name_the_problem(session):
    with pytest.raises(trustql.PlanningError, match="nope"):
        session.sql("SELECT nope FROM (VALUES (1)) AS t(x)")
    with pytest.raises(trustql.PlanningError, match="Invalid function 'no_such_function'"):
        session.sql("SELECT no_such_function(1)")
    with pytest.raises(trustql.PlanningError):
        session.sql("SELEC 1")


def test_model_errors(session):
    with pytest.raises(trustql.ModelError, match="unknown model 'ghost'"):
        session.sql("SELECT score('ghost', 1, 2)")
    with pytest.raises(trustql.ModelError, match="unknown model type 'nosuch'"):
        session.sql("CREATE MODEL m OPTIONS (type = 'nosuch') AS SELECT 1 AS \"user\", 2 AS item")
    with pytest.raises(trustql.ModelError):
        session.sql("DROP MODEL ghost")


def test_execution_errors(session, tmp_path):
    bad = tmp_path / "bad.parquet"
    bad.write_bytes(b"not parquet at all")
    with pytest.raises(trustql.Error) as caught:
        session.read_parquet("bad", bad)
    assert not isinstance(caught.value, trustql.ModelError)
    # Bad data found while running: rankings of different lengths in a column.
    with pytest.raises(trustql.ExecutionError, match="tau_ap"):
        session.sql("SELECT tau_ap(a, b) FROM (VALUES ([1, 2], [1, 2, 3])) AS t(a, b)")


def test_the_message_is_the_clis(session, cli, tmp_path):
    query = "SELECT score('ghost', 1, 2)"
    with pytest.raises(trustql.Error) as caught:
        session.sql(query)
    out = subprocess.run(
        [cli, "--models", session.models, "-c", query],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode != 0
    assert str(caught.value) in out.stderr


def test_an_empty_statement_is_refused(session):
    with pytest.raises(trustql.PlanningError, match="no statement"):
        session.sql("  -- only a comment\n")
