"""trustql.Session: statements, results and their conversions, tables from Python."""

from __future__ import annotations

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import trustql


def test_tau_ap_matches_its_definition(session):
    # tau_AP = 2/(n-1) * sum_{i=2..n} C(i)/(i-1) - 1, positions from the estimate y, C(i) the
    # items above position i in y that are also above it in the reference x (higher score =
    # better). x = (1,2,3,4), y = (2,1,3,4): y ranks items 4, 3, 1, 2; i=2 (item 3): 1 of 1;
    # i=3 (item 1): 2 of 2; i=4 (item 2): items 4 and 3 are above it in x, item 1 is not: 2 of 3.
    r = session.sql("SELECT tau_ap([1, 2, 3, 4], [2, 1, 3, 4]) AS t").to_pylist()
    assert r[0]["t"] == pytest.approx(2 / 3 * (1 / 1 + 2 / 2 + 2 / 3) - 1)


def test_result_converts_to_arrow_pandas_and_pylist(session):
    r = session.sql("SELECT x, x * 2.5 AS y, 'r' || x AS z FROM generate_series(1, 5) AS t(x)")
    assert r.num_rows == 5 and len(r) == 5
    assert r.column_names == ["x", "y", "z"]
    table = r.to_arrow()
    assert isinstance(table, pa.Table)
    assert table.column("x").to_pylist() == [1, 2, 3, 4, 5]
    frame = r.to_pandas()
    assert isinstance(frame, pd.DataFrame)
    assert list(frame["y"]) == [2.5, 5.0, 7.5, 10.0, 12.5]
    assert r.to_pylist()[0] == {"x": 1, "y": 2.5, "z": "r1"}
    # A result is read any number of times, by any Arrow consumer.
    assert pa.table(r).equals(table)
    assert pa.RecordBatchReader.from_stream(r).read_all().equals(table)


def test_results_share_trustql_buffers(session):
    r = session.sql("SELECT x FROM generate_series(1, 100000) AS t(x)")
    a, b = r.to_arrow(), r.to_arrow()
    # The same Arrow buffer reaches Python twice: nothing was copied on the way.
    addr = lambda t: t.column("x").chunk(0).buffers()[1].address  # noqa: E731
    assert addr(a) == addr(b)


def test_repr_and_html_show_the_first_rows_and_the_size(session):
    r = session.sql("SELECT x FROM generate_series(1, 25) AS t(x)")
    html = r._repr_html_()
    assert "<table>" in html and "<th>x</th>" in html
    assert "<td>10</td>" in html and "<td>11</td>" not in html
    assert "25 rows × 1 column" in html
    assert "25 rows × 1 column" in repr(r)


def test_register_pandas_pyarrow_and_arrow_streams(session):
    session.register("frame", pd.DataFrame({"a": [1, 2, 3], "b": ["x", "y", "z"]}))
    session.register("tbl", pa.table({"a": [4, 5]}))

    class Stream:
        """Any object with __arrow_c_stream__ (polars, duckdb, ...)."""

        def __arrow_c_stream__(self, requested_schema=None):
            return pa.table({"a": [6]}).__arrow_c_stream__(requested_schema)

    session.register("stream", Stream())
    r = session.sql(
        "SELECT a FROM frame UNION ALL SELECT a FROM tbl UNION ALL SELECT a FROM stream ORDER BY a"
    )
    assert [row["a"] for row in r.to_pylist()] == [1, 2, 3, 4, 5, 6]
    # Registering again replaces the table; deregister removes it.
    session.register("tbl", pa.table({"a": [7]}))
    assert session.sql("SELECT count(*) AS n FROM tbl").to_pylist() == [{"n": 1}]
    assert session.deregister("tbl") is True
    assert session.deregister("tbl") is False
    with pytest.raises(TypeError, match="cannot register a int as a table"):
        session.register("bad", 5)


def test_read_parquet_and_csv(session, tmp_path):
    pq.write_table(pa.table({"u": [1, 2], "v": [0.5, 1.5]}), tmp_path / "t.parquet")
    (tmp_path / "t.csv").write_text("u;v\n3;2.5\n")
    session.read_parquet("p", tmp_path / "t.parquet")
    session.read_csv("c", tmp_path / "t.csv", delimiter=";")
    r = session.sql("SELECT u, v FROM p UNION ALL SELECT u, v FROM c ORDER BY u")
    assert r.to_pylist() == [{"u": 1, "v": 0.5}, {"u": 2, "v": 1.5}, {"u": 3, "v": 2.5}]
    assert session.table("p").num_rows == 2
    with pytest.raises(ValueError, match="delimiter must be one ASCII character"):
        session.read_csv("c", tmp_path / "t.csv", delimiter=";;")


def test_scripts_settings_and_model_ddl(session):
    # Several statements: the last one's result; SET trustql.* reaches the session.
    r = session.sql("SET trustql.device = 'cpu'; SELECT trustql_device() AS d")
    assert r.to_pylist() == [{"d": "cpu"}]
    session.register("plays", pa.table({"user": [1, 1, 2, 3], "item": [10, 20, 10, 30]}))
    session.sql("CREATE MODEL pop OPTIONS (type = 'mostpop') AS SELECT * FROM plays")
    scores = session.sql("SELECT item, score('pop', 1, item) AS s FROM plays ORDER BY item")
    assert scores.to_pylist()[0] == {"item": 10, "s": 2.0}
    names = [m["name"] for m in session.sql("SHOW MODELS").to_pylist()]
    assert names == ["pop"]


def test_run_script_runs_a_file_as_the_cli_does(session, tmp_path):
    (tmp_path / "inner.sql").write_text("SELECT ${n} * 2 AS doubled;\n")
    (tmp_path / "outer.sql").write_text("\\set n 21\n\\i inner.sql\n")
    out = session.run_script(tmp_path / "outer.sql")
    assert "doubled" in out and "42" in out
    with pytest.raises(trustql.PlanningError, match="outer.sql: error in the statement"):
        (tmp_path / "outer.sql").write_text("SELECT nope;\n")
        session.run_script(tmp_path / "outer.sql")


def test_copy_format_plot_writes_a_figure(session, tmp_path):
    path = tmp_path / "fig.svg"
    session.sql(
        f"COPY (SELECT x, x * x AS y FROM generate_series(1, 10) AS t(x)) TO '{path}' "
        "(FORMAT plot, kind 'line', x 'x', y 'y')"
    )
    assert path.read_text().lstrip().startswith("<")
