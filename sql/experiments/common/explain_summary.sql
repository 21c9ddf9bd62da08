-- The explainer experiment's results: <dataset>_fidelity to the Parquet file ${output} and the
-- summary by recommender, explainer and ω (part of common/explain_run.sql and of the resumable
-- run of common/explain_goodbooks.sql).

COPY (SELECT * FROM ${dataset}_fidelity ORDER BY recsys, dim, explainer, omega, "user")
  TO '${output}' STORED AS PARQUET;

SELECT recsys, explainer, omega, count(fidelity) AS n, round(avg(fidelity), 4) AS mean_fidelity,
  round(avg(fidelity) - 1.96 * stddev(fidelity) / sqrt(count(fidelity)), 4) AS ci_lower,
  round(avg(fidelity) + 1.96 * stddev(fidelity) / sqrt(count(fidelity)), 4) AS ci_upper
FROM ${dataset}_fidelity GROUP BY recsys, explainer, omega ORDER BY recsys, explainer, omega;
