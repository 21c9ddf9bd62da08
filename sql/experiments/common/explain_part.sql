-- One part of the resumable explainer run of common/explain_goodbooks.sql: the fidelities of one
-- model (variables recsys and dim) and one explainer (variable explainer), appended to the
-- results directory as a Parquet file by one statement, unless the directory holds them already
-- (a run stopped before got that far: it resumes after its last finished part).
INSERT INTO ${dataset}_fidelity SELECT '${dataset_label}', recsys, dim, explainer, omega, "user", mainstreaminess,
  fidelity(model, explainer, "user", omega, 20, 'samples = 1000') FROM ${dataset}_tasks
  WHERE recsys = '${recsys}' AND dim = ${dim} AND explainer = '${explainer}'
    AND NOT EXISTS (SELECT 1 FROM ${dataset}_fidelity f
                    WHERE f.recsys = '${recsys}' AND f.dim = ${dim} AND f.explainer = '${explainer}');
