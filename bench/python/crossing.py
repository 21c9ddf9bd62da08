"""The cost of crossing into Python: a 10-million-row (user, item, score) result returned to
pandas, against the same query written to Parquet (here and by the CLI, see run.sh).

    crossing.py MODELS [ROWS] [REPEATS]

MODELS is a model store holding `lastfm_pop` (run.sh trains it). Prints one line per
measurement and a JSON summary on the last line. Zero-copy is checked, not assumed: the Arrow
buffers pyarrow receives are trustql's (same addresses on two conversions), the pandas columns
are numpy int64/float64 (no Python object per row), and the number of Python objects alive
grows by a handful, not by the row count.
"""

import gc
import json
import os
import resource
import sys
import tempfile
import time

import pandas  # noqa: F401  (imported first, as in a notebook: its import is not the crossing)

import trustql

DATA = os.environ.get("TRUSTQL_SHARED", "../shared") + "/data/recsys/lastfm-2k"


def query(rows: int) -> str:
    # Every Last.fm 2K listener against the first artists by id: a real scoring cross.
    return f"""
        SELECT u.user_id AS "user", i.item_id AS item, score('lastfm_pop', u.user_id, i.item_id) AS score
        FROM (SELECT DISTINCT user_id FROM plays) u
        CROSS JOIN (SELECT item_id FROM artists ORDER BY item_id LIMIT 6000) i
        LIMIT {rows}"""


def timed(f):
    start = time.perf_counter()
    value = f()
    return value, time.perf_counter() - start


def main() -> None:
    models = sys.argv[1]
    rows = int(sys.argv[2]) if len(sys.argv) > 2 else 10_000_000
    repeats = int(sys.argv[3]) if len(sys.argv) > 3 else 3
    s = trustql.Session(models, progress=None)
    s.read_parquet("plays", f"{DATA}/interactions.parquet")
    s.read_parquet("artists", f"{DATA}/items.parquet")
    q = query(rows)
    summary = {"rows": rows, "runs": []}
    for run in range(repeats):
        gc.collect()
        objects_before = len(gc.get_objects())
        result, t_sql = timed(lambda: s.sql(q))
        assert result.num_rows == rows, result.num_rows
        table, t_arrow = timed(result.to_arrow)
        again = result.to_arrow()
        same = all(
            a.buffers()[1].address == b.buffers()[1].address
            for a, b in zip(table.column("score").chunks, again.column("score").chunks)
        )
        frame, t_pandas = timed(result.to_pandas)
        gc.collect()
        objects_after = len(gc.get_objects())
        dtypes = {c: str(t) for c, t in frame.dtypes.items()}
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "scores.parquet")
            _, t_copy = timed(lambda: s.sql(f"COPY ({q}) TO '{path}' STORED AS PARQUET"))
        r = {
            "sql_s": round(t_sql, 3),
            "to_arrow_s": round(t_arrow, 4),
            "to_pandas_s": round(t_pandas, 3),
            "copy_parquet_in_python_s": round(t_copy, 3),
            "same_buffers": same,
            "dtypes": dtypes,
            "python_objects_added": objects_after - objects_before,
            "chunks": table.column("score").num_chunks,
        }
        summary["runs"].append(r)
        print(f"run {run + 1}: " + ", ".join(f"{k} {v}" for k, v in r.items()), flush=True)
        del result, table, again, frame
    summary["max_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
