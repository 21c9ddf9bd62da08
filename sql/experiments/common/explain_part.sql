-- One part of the resumable explainer run of common/explain_goodbooks.sql: the fidelities of one
-- model (variables recsys and dim) and one explainer (variable explainer), appended to the
-- results directory as Parquet files by one statement, for the rows of the design the directory
-- does not hold yet. A run stopped before resumes after its last finished part, and completes a
-- part it stopped in (each partition of a statement is a file of its own, renamed into place
-- when complete, so a stopped statement can leave some of its rows behind).
INSERT INTO ${dataset}_fidelity SELECT '${dataset_label}', recsys, dim, explainer, omega, "user", mainstreaminess,
  fidelity(model, explainer, "user", omega, 20, 'samples = 1000') FROM ${dataset}_tasks t
  WHERE recsys = '${recsys}' AND dim = ${dim} AND explainer = '${explainer}'
    AND NOT EXISTS (SELECT 1 FROM ${dataset}_fidelity f
                    WHERE f.recsys = t.recsys AND f.dim = t.dim AND f.explainer = t.explainer
                      AND f."user" = t."user" AND f.omega = t.omega);
