"""trustql.Models, and models shared between Python and the CLI."""

from __future__ import annotations

import subprocess

import pandas as pd
import pyarrow as pa
import pytest

import trustql
from trustql._models import options_clause

from conftest import PLAYS, TAGS


def run_cli(cli, models, sql):
    out = subprocess.run(
        [cli, "--models", str(models), "--format", "csv", "-c", sql],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr
    return out.stdout


def test_a_model_created_in_python_is_used_by_the_cli(models, cli):
    m = trustql.Models(models, progress=None)
    summary = m.create("pop", {"type": "mostpop"}, pd.DataFrame(PLAYS))
    assert summary is not None
    assert [r["name"] for r in m.show().to_pylist()] == ["pop"]
    # Items 10, 20 and 30 have two listeners each, 40 has one.
    python_scores = trustql.Session(models, progress=None).sql(
        "SELECT item, score('pop', 1, item) AS s FROM (VALUES (10), (40)) AS t(item) ORDER BY item"
    ).to_pylist()
    assert python_scores == [{"item": 10, "s": 2.0}, {"item": 40, "s": 1.0}]
    out = run_cli(
        cli,
        models,
        "SELECT item, score('pop', 1, item) AS s FROM (VALUES (10), (40)) AS t(item) ORDER BY item",
    )
    lines = out.strip().splitlines()
    assert lines[0] == "item,s"
    assert [float(l.split(",")[1]) for l in lines[1:]] == [r["s"] for r in python_scores]


def test_a_model_created_by_the_cli_is_used_in_python(models, cli):
    run_cli(
        cli,
        models,
        "CREATE MODEL w OPTIONS (type = 'wrmf', dim = 2, iterations = 3, seed = 7) AS "
        "SELECT * FROM (VALUES (1, 10), (1, 20), (2, 10), (2, 30), (3, 20)) AS t(\"user\", item)",
    )
    cli_scores = run_cli(cli, models, "SELECT score('w', 1, 30) AS s")
    s = trustql.Session(models, progress=None)
    python_score = s.sql("SELECT score('w', 1, 30) AS s").to_pylist()[0]["s"]
    # The CLI prints the shortest text that reads back as the same double.
    assert float(cli_scores.strip().splitlines()[1]) == python_score
    assert [r["name"] for r in trustql.Models(models, progress=None).show().to_pylist()] == ["w"]


def test_create_from_a_query_replace_describe_and_drop(models):
    m = trustql.Models(models, progress=None)
    m.register("tg", pa.table(TAGS))
    m.register("plays", pa.table(PLAYS))
    m.create("nn", {"type": "inn", "dim": 2, "tags": "tg"}, "SELECT * FROM plays")
    with pytest.raises(trustql.ModelError, match="exists"):
        m.create("nn", {"type": "inn", "dim": 2, "tags": "tg"}, "SELECT * FROM plays")
    m.create("nn", {"type": "inn", "dim": 2, "tags": "tg"}, "SELECT * FROM plays", if_not_exists=True)
    m.create("nn", {"type": "mostpop"}, "SELECT * FROM plays", replace=True)
    described = m.describe("nn").to_pylist()
    assert any("mostpop" in str(row.values()) for row in described)
    assert "mostpop" in [r["type"] for r in m.types().to_pylist()]
    m.drop("nn")
    assert m.show().num_rows == 0
    m.drop("nn", if_exists=True)
    with pytest.raises(trustql.ModelError):
        m.drop("nn")


def test_options_are_written_as_the_ddl_reads_them():
    clause = options_clause({"type": "fm", "dim": 8, "lr": 0.05, "bias": False, "tags": "it's"})
    assert clause == "OPTIONS (type = 'fm', dim = 8, lr = 0.05, bias = FALSE, tags = 'it''s')"
    with pytest.raises(ValueError, match="option names are identifiers"):
        options_clause({"dim; DROP": 1})
    with pytest.raises(ValueError, match="finite"):
        options_clause({"lr": float("nan")})
    with pytest.raises(TypeError, match="must be a string, a number or a bool"):
        options_clause({"dim": [1, 2]})


def test_model_names_never_leave_the_store(models):
    m = trustql.Models(models, progress=None)
    with pytest.raises(trustql.Error):
        m.create("../escape", {"type": "mostpop"}, pd.DataFrame(PLAYS))
    assert not (models.parent / "escape.tqm").exists()


def test_a_session_sees_a_model_replaced_through_models(models):
    # Two registries in one process over one store: the session's cached model is checked
    # against its file at the next statement.
    s = trustql.Session(models, progress=None)
    m = trustql.Models(models, progress=None)
    m.create("pop", {"type": "mostpop"}, pd.DataFrame(PLAYS))
    assert s.sql("SELECT score('pop', 1, 40) AS s").to_pylist() == [{"s": 1.0}]
    m.create("pop", {"type": "mostpop"}, pd.DataFrame({"user": [1, 2, 3], "item": [40, 40, 40]}), replace=True)
    assert s.sql("SELECT score('pop', 1, 40) AS s").to_pylist() == [{"s": 3.0}]
