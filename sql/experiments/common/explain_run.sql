-- The explainer experiment's run for one data set (see common/explain.sql), once the data
-- (common/explain_data.sql), the models, the table `settings` (user_stride) and the table
-- <dataset>_models (model, recsys, dim) exist: the explainers, the users, the crossed design, the
-- fidelities and their summary. Needs the variables dataset, dataset_label (the `dataset` column
-- of the results) and output (the results' Parquet file).

CREATE TABLE explainers AS SELECT * FROM (VALUES ('random'), ('pdp'), ('saliency'), ('lime')) AS t(explainer);
-- Mainstreaminess (SPEC §5) of every user, for the analysis of issue 5; every user_stride-th user
-- id, unless the including script made its own sample (common/explain_goodbooks.sql).
CREATE TABLE IF NOT EXISTS ${dataset}_users AS
  SELECT "user", mainstreaminess('${dataset}_inn64', "user") AS mainstreaminess
  FROM (SELECT DISTINCT "user" FROM ${dataset}_train)
  WHERE "user" % (SELECT user_stride FROM settings) = 0;
SELECT count(*) AS users, (SELECT user_stride FROM settings) AS user_stride FROM ${dataset}_users;

-- The crossed design, one row per (model, explainer, user, ω), sorted so that each batch of
-- rows that reaches `fidelity` holds many users of one model and explainer with all their ωs.
CREATE TABLE ${dataset}_tasks AS
  SELECT m.model, m.recsys, m.dim, e.explainer, u."user", u.mainstreaminess,
    unnest(make_array(1, 2, 4, 8, 16, 32)) AS omega
  FROM ${dataset}_models m CROSS JOIN explainers e CROSS JOIN ${dataset}_users u
  ORDER BY model, explainer, "user", omega;

CREATE TABLE ${dataset}_fidelity (dataset VARCHAR, recsys VARCHAR, dim BIGINT, explainer VARCHAR,
  omega BIGINT, "user" BIGINT, mainstreaminess DOUBLE, fidelity DOUBLE);

INSERT INTO ${dataset}_fidelity SELECT '${dataset_label}', recsys, dim, explainer, omega, "user", mainstreaminess,
  fidelity(model, explainer, "user", omega, 20, 'samples = 1000') FROM ${dataset}_tasks WHERE recsys = 'inn';
INSERT INTO ${dataset}_fidelity SELECT '${dataset_label}', recsys, dim, explainer, omega, "user", mainstreaminess,
  fidelity(model, explainer, "user", omega, 20, 'samples = 1000') FROM ${dataset}_tasks WHERE recsys = 'unn';
INSERT INTO ${dataset}_fidelity SELECT '${dataset_label}', recsys, dim, explainer, omega, "user", mainstreaminess,
  fidelity(model, explainer, "user", omega, 20, 'samples = 1000') FROM ${dataset}_tasks WHERE recsys = 'fm';
INSERT INTO ${dataset}_fidelity SELECT '${dataset_label}', recsys, dim, explainer, omega, "user", mainstreaminess,
  fidelity(model, explainer, "user", omega, 20, 'samples = 1000') FROM ${dataset}_tasks WHERE recsys = 'ncf';

COPY (SELECT * FROM ${dataset}_fidelity ORDER BY recsys, dim, explainer, omega, "user")
  TO '${output}' STORED AS PARQUET;

SELECT recsys, explainer, omega, count(fidelity) AS n, round(avg(fidelity), 4) AS mean_fidelity,
  round(avg(fidelity) - 1.96 * stddev(fidelity) / sqrt(count(fidelity)), 4) AS ci_lower,
  round(avg(fidelity) + 1.96 * stddev(fidelity) / sqrt(count(fidelity)), 4) AS ci_upper
FROM ${dataset}_fidelity GROUP BY recsys, explainer, omega ORDER BY recsys, explainer, omega;
