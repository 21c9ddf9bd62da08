"""trustql from Python: a session, a table from pandas, a model, results back into pandas.

Run from the repository root after installing the package (README, "Python"):
    .venv/bin/python examples/python/quickstart.py
"""

import pandas as pd

import trustql

s = trustql.Session("target/examples-python/models")

# Rank correlation: tau_AP weighs agreement at the top of the rankings most.
print(s.sql("SELECT tau_ap([1, 2, 3, 4], [2, 1, 3, 4]) AS tau_ap, "
            "kendall_tau_b([1, 2, 3, 4], [2, 1, 3, 4]) AS tau_b").to_pandas())

# A table from pandas, a popularity model trained on it, and its scores as a pandas frame.
plays = pd.DataFrame({"user": [1, 1, 2, 2, 3, 3, 4], "item": [10, 20, 10, 30, 20, 40, 30]})
s.register("plays", plays)
s.sql("CREATE OR REPLACE MODEL pop OPTIONS (type = 'mostpop') AS SELECT * FROM plays")
scores = s.sql("""
    SELECT item, score('pop', 1, item) AS listeners
    FROM (SELECT DISTINCT item FROM plays) ORDER BY listeners DESC, item
""").to_pandas()
print(scores)

# The same result object goes to pyarrow (or polars, duckdb) without a copy.
table = s.sql("SELECT * FROM plays").to_arrow()
print(table.schema)
