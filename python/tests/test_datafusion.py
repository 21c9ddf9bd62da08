"""trustql's functions on a datafusion-python SessionContext, through DataFusion's FFI."""

from __future__ import annotations

import pyarrow as pa
import pytest
from datafusion import SessionContext

import trustql
from trustql import _datafusion

from conftest import PLAYS, TAGS


@pytest.fixture
def ctx(models):
    ctx = SessionContext()
    names = trustql.register(ctx, models=models, progress=None)
    assert {"tau_ap", "explain_lime", "recommend", "models"} <= set(names)
    return ctx


def test_a_scalar_function(ctx):
    r = ctx.sql("SELECT tau_ap([1, 2, 3, 4], [2, 1, 3, 4]) AS t").to_pylist()
    assert r[0]["t"] == pytest.approx(2 / 3 * (1 / 1 + 2 / 2 + 2 / 3) - 1)  # test_session.py


def test_the_same_answers_as_a_trustql_session(ctx, session):
    query = (
        "SELECT kendall_tau_b_agg(a, b) AS k, tau_ap_b_agg(a, b) AS t FROM "
        "(VALUES (1.0, 2.0), (2.0, 1.0), (3.0, 3.5), (4.0, 5.0), (5.0, 4.0)) AS v(a, b)"
    )
    assert ctx.sql(query).to_pylist() == session.sql(query).to_pylist()


def test_an_aggregate_function_over_groups(ctx):
    ctx.from_pydict(
        {"g": [1, 1, 1, 2, 2, 2], "a": [1.0, 2.0, 3.0, 1.0, 2.0, 3.0], "b": [1.0, 2.0, 3.0, 3.0, 2.0, 1.0]},
        name="v",
    )
    r = ctx.sql("SELECT g, kendall_tau_b_agg(a, b) AS k FROM v GROUP BY g ORDER BY g").to_pylist()
    assert r == [{"g": 1, "k": 1.0}, {"g": 2, "k": -1.0}]


def test_models_created_in_python_serve_the_functions(ctx, models):
    m = trustql.Models(models, progress=None)
    m.register("tg", pa.table(TAGS))
    m.register("plays", pa.table(PLAYS))
    m.create("nn", {"type": "inn", "dim": 2, "tags": "tg"}, "SELECT * FROM plays")
    # The example, on the user's own context.
    e = ctx.sql("SELECT explain_lime('nn', 1, 30, 2) AS e").to_pylist()[0]["e"]
    s = trustql.Session(models, progress=None)
    assert e == s.sql("SELECT explain_lime('nn', 1, 30, 2) AS e").to_pylist()[0]["e"]
    # A table function: the store's models, and a model's recommendations.
    assert [r["name"] for r in ctx.sql("SELECT name FROM models()").to_pylist()] == ["nn"]
    ours = ctx.sql("SELECT * FROM recommend('nn', 2) ORDER BY 1, 2").to_pylist()
    theirs = s.sql("SELECT * FROM recommend('nn', 2) ORDER BY 1, 2").to_pylist()
    assert ours == theirs and len(ours) > 0
    # A replaced model is served at once (the registry is shared with trustql.Models).
    m.create("nn", {"type": "mostpop"}, "SELECT * FROM plays", replace=True)
    assert ctx.sql("SELECT score('nn', 1, 10) AS s").to_pylist() == [{"s": 2.0}]


def test_errors_cross_the_ffi_with_their_message(ctx):
    with pytest.raises(Exception, match="unknown model 'ghost'"):
        ctx.sql("SELECT score('ghost', 1, 2)").collect()


def test_a_mismatched_datafusion_major_is_refused(monkeypatch):
    assert _datafusion.version_problem("55.0.0") is None
    problem = _datafusion.version_problem("56.1.0")
    assert "56.1.0" in problem and "datafusion>=55,<56" in problem
    assert "not installed" in _datafusion.version_problem(None)
    monkeypatch.setattr(_datafusion, "_PROBLEM", problem)
    with pytest.raises(trustql.Error, match="only works within one major version"):
        trustql.register(SessionContext())


def test_register_wants_a_datafusion_context():
    with pytest.raises(TypeError, match="datafusion.SessionContext"):
        trustql.register(object())


def test_a_window_function(ctx, session):
    query = (
        "SELECT dim, song, quantile_normal(value) OVER (PARTITION BY dim) AS z FROM (VALUES "
        "('energy', 1, 0.2), ('energy', 2, 0.9), ('energy', 3, 0.5), ('tempo', 1, 90.0), "
        "('tempo', 2, 150.0)) AS t(dim, song, value) ORDER BY dim, song"
    )
    ours = ctx.sql(query).to_pylist()
    assert ours == session.sql(query).to_pylist()
    # The middle of three values is at the median: z = 0.
    assert ours[2]["z"] == pytest.approx(0.0, abs=1e-12)


def test_a_model_trains_on_a_datafusion_dataframe(ctx, models):
    ctx.from_pydict(PLAYS, name="plays")
    m = trustql.Models(models, progress=None)
    m.create("pop", {"type": "mostpop"}, ctx.sql('SELECT * FROM plays WHERE "user" <> 4'))
    # Without user 4, item 30 has one listener.
    r = ctx.sql("SELECT score('pop', 1, 30) AS s, score('pop', 1, 10) AS t").to_pylist()
    assert r == [{"s": 1.0, "t": 2.0}]
