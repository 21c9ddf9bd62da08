"""Every kind of Arrow value trustql returns reaches pyarrow and pandas intact."""

from __future__ import annotations

import math

import numpy as np
import pyarrow as pa
import pytest

from conftest import PLAYS, TAGS


def test_scalars_nulls_lists_and_structs_round_trip(session):
    r = session.sql(
        """SELECT CAST(1 AS INT) AS i32, CAST(2 AS BIGINT) AS i64, 1.5 AS f64,
                  CAST(2.5 AS FLOAT) AS f32, 'text' AS s, true AS b, CAST(NULL AS DOUBLE) AS nul,
                  [1.0, 2.0, 3.0] AS list, [[1, 2], [3]] AS nested,
                  named_struct('a', 1, 'b', 'x') AS st, DATE '2026-12-07' AS d"""
    )
    t = r.to_arrow()
    assert t.schema.field("i32").type == pa.int32()
    assert t.schema.field("f32").type == pa.float32()
    assert pa.types.is_list(t.schema.field("list").type) or pa.types.is_large_list(
        t.schema.field("list").type
    )
    row = r.to_pylist()[0]
    assert row["list"] == [1.0, 2.0, 3.0]
    assert row["nested"] == [[1, 2], [3]]
    assert row["st"] == {"a": 1, "b": "x"}
    assert row["nul"] is None and row["b"] is True and row["s"] == "text"
    frame = r.to_pandas()
    assert math.isnan(frame["nul"][0])
    assert list(frame["list"][0]) == [1.0, 2.0, 3.0]


def test_embeddings_arrive_as_fixed_size_lists(session):
    # embed('mfcc', ...) is a 144-dimensional embedding (sql/audio/features.slt).
    r = session.sql(
        "SELECT embed('mfcc', array_repeat(0.5, 22050)) AS e, "
        "mfcc_stats(array_repeat(0.5, 22050), 22050) AS m"
    )
    t = r.to_arrow()
    e = t.column("e").type
    assert pa.types.is_fixed_size_list(e) or pa.types.is_list(e), e
    values = r.to_pylist()[0]["e"]
    assert len(values) == 144
    assert values == r.to_pylist()[0]["m"]
    # pandas gets a numpy array per row, not Python floats.
    cell = r.to_pandas()["e"][0]
    assert isinstance(cell, np.ndarray) and cell.shape == (144,)


def test_explanations_arrive_as_lists_of_structs(session):
    session.register("tg", pa.table(TAGS))
    session.register("plays", pa.table(PLAYS))
    session.sql(
        "CREATE MODEL nn OPTIONS (type = 'inn', dim = 2, tags = 'tg') AS SELECT * FROM plays"
    )
    r = session.sql("SELECT explain_lime('nn', 1, 30, 2) AS e")
    kind = r.to_arrow().schema.field("e").type
    assert pa.types.is_list(kind) or pa.types.is_large_list(kind)
    expected = session.sql("SELECT arrow_typeof(explain_lime('nn', 1, 30, 2)) AS t").to_pylist()
    assert "List" in expected[0]["t"]
    value = r.to_pylist()[0]["e"]
    assert 1 <= len(value) <= 2


@pytest.mark.parametrize("n", [0, 1, 70_000])
def test_row_counts_survive_batching(session, n):
    r = session.sql(f"SELECT x FROM generate_series(1, {n}) AS t(x) WHERE x > 0")
    assert r.num_rows == n
    assert r.to_arrow().num_rows == n
    assert len(r.to_pandas()) == n
