"""trustql.Session(cluster=...): statements on an Apache Ballista cluster started inside the
process (``local:N``: a scheduler and executors on localhost ports, plans sent through gRPC)
give the embedded session's results; a bad cluster address is a PlanningError."""

from __future__ import annotations

import pytest

import trustql

TABLE = "CREATE TABLE t AS VALUES (1, [1, 2, 3]), (2, [3, 2, 1]), (3, [2, 1, 3]), (4, [3, 1, 2])"
QUERY = "SELECT column1 AS id, tau_ap(column2, [3, 1, 2]) AS t FROM t ORDER BY id"


def test_a_session_on_a_local_cluster_gives_the_embedded_results(models):
    embedded = trustql.Session(models, progress=None)
    cluster = trustql.Session(models, progress=None, cluster="local:2")
    for s in (embedded, cluster):
        s.sql(TABLE)
    plan = str(cluster.sql("EXPLAIN " + QUERY).to_pylist())
    assert "ClusterExec" in plan
    assert "ClusterExec" not in str(embedded.sql("EXPLAIN " + QUERY).to_pylist())
    rows = cluster.sql(QUERY).to_pylist()
    assert rows == embedded.sql(QUERY).to_pylist()
    # tau_AP of [3, 1, 2] against itself is 1, against its reverse -1.
    assert rows[3]["t"] == pytest.approx(1.0)


@pytest.mark.parametrize(
    "address, message",
    [
        ("local:0", "local:N takes 1 to 64 executors"),
        ("df://", "expected df://host:port"),
        ("df://:50050", "no host"),
    ],
)
def test_a_bad_cluster_address_is_a_planning_error(models, address, message):
    with pytest.raises(trustql.PlanningError, match=message):
        trustql.Session(models, progress=None, cluster=address)
