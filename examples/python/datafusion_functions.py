"""trustql's functions inside a datafusion-python session (the `datafusion` package, 55.x).

Models are created with trustql.Models (datafusion's SQL parser has no CREATE MODEL) in the
same store the registered functions read. Run from the repository root:
    .venv/bin/python examples/python/datafusion_functions.py
"""

import pyarrow as pa
from datafusion import SessionContext

import trustql

store = "target/examples-python/models"
ctx = SessionContext()
names = trustql.register(ctx, models=store)
print(f"registered {len(names)} trustql functions")

print(ctx.sql("SELECT tau_ap([1, 2, 3], [1, 3, 2]) AS tau_ap").to_pandas())

models = trustql.Models(store)
models.register("item_tags", pa.table({
    "item": [10, 10, 20, 20, 30, 30, 40],
    "tag": ["rock", "guitar", "pop", "guitar", "rock", "pop", "jazz"],
    "weight": [1.0, 2.0, 1.0, 1.0, 1.0, 3.0, 1.0],
}))
plays = pa.table({"user": [1, 1, 2, 2, 3, 3, 4], "item": [10, 20, 10, 30, 20, 40, 30]})
models.create("knn", {"type": "inn", "dim": 2, "tags": "item_tags"}, plays, replace=True)

# A scalar function, an aggregate and a table function, in the user's own context.
print(ctx.sql("SELECT explain_lime('knn', 1, 30, 2) AS explanation").to_pandas())
ctx.from_pydict({"a": [1.0, 2.0, 3.0, 4.0], "b": [1.0, 3.0, 2.0, 4.0]}, name="pairs")
print(ctx.sql("SELECT kendall_tau_b_agg(a, b) AS tau_b FROM pairs").to_pandas())
print(ctx.sql("SELECT * FROM recommend('knn', 2) WHERE \"user\" = 1").to_pandas())
