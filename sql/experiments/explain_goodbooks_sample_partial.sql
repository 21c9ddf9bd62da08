-- The summary of explain_goodbooks_sample.sql's results so far, while its run is stopped or
-- still going: the parts in results/explain/goodbooks_sample_parts/ (each model × explainer's
-- fidelities, appended as they finish) to results/explain/goodbooks_sample_partial.parquet, and
-- the summary by recommender, explainer and ω of the rows there (n counts them).
--
-- Run from the repository root:  trustql -f sql/experiments/explain_goodbooks_sample_partial.sql

\set dataset goodbooks
\set output results/explain/goodbooks_sample_partial.parquet
CREATE EXTERNAL TABLE ${dataset}_fidelity (dataset VARCHAR, recsys VARCHAR, dim BIGINT, explainer VARCHAR,
  omega BIGINT, "user" BIGINT, mainstreaminess DOUBLE, fidelity DOUBLE)
  STORED AS PARQUET LOCATION 'results/explain/goodbooks_sample_parts/';
SELECT recsys, dim, explainer, count(*) AS n FROM ${dataset}_fidelity
  GROUP BY recsys, dim, explainer ORDER BY recsys, dim, explainer;
\i common/explain_summary.sql
