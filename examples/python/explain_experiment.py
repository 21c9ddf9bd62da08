"""The explainer experiment's quick variant (thesis Fig. 5.3 on Last.fm 2K) from Python, plotted
with matplotlib from the returned pandas frame.

Runs sql/experiments/explain_lastfm_quick.sql as `trustql -f` would (its models are those of
the recommender experiment in results/recsys/models, trained on the first run), then reads the
per-user fidelities it wrote and plots mean fidelity against omega per recommender and
explainer. Run from the repository root:
    .venv/bin/python examples/python/explain_experiment.py [figures/python_fidelity.png]
"""

import logging
import sys
import time

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

import trustql  # noqa: E402

logging.basicConfig(level=logging.INFO, format="%(message)s")
out = sys.argv[1] if len(sys.argv) > 1 else "figures/python_fidelity.png"

s = trustql.Session("results/recsys/models", progress="log")
start = time.monotonic()
s.run_script("sql/experiments/explain_lastfm_quick.sql")
print(f"experiment: {time.monotonic() - start:.1f} s")

fidelity = s.sql("""
    SELECT recsys, explainer, omega, avg(fidelity) AS fidelity, count(*) AS users
    FROM 'results/explain/lastfm_quick.parquet'
    GROUP BY recsys, explainer, omega
    ORDER BY recsys, explainer, omega
""").to_pandas()
print(fidelity.pivot_table(index=["recsys", "explainer"], columns="omega", values="fidelity").round(3))

recsys = sorted(fidelity["recsys"].unique())
fig, axes = plt.subplots(1, len(recsys), figsize=(3.2 * len(recsys), 3.2), sharey=True)
for ax, r in zip(axes, recsys):
    for explainer, g in fidelity[fidelity["recsys"] == r].groupby("explainer"):
        ax.plot(g["omega"], g["fidelity"], marker="o", label=explainer)
    ax.set_xscale("log", base=2)
    ax.set_title(r)
    ax.set_xlabel("ω (tags kept)")
axes[0].set_ylabel("mean fidelity (τ_AP)")
axes[-1].legend(fontsize="small")
fig.tight_layout()
fig.savefig(out, dpi=120)
print(f"wrote {out}")
