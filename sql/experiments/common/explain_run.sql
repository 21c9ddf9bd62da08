-- The explainer experiment's run for one data set (see common/explain.sql), once the data
-- (common/explain_data.sql), the models, the table `settings` (user_stride) and the table
-- <dataset>_models (model, recsys, dim) exist: the explainers, the users, the crossed design, the
-- fidelities and their summary. Needs the variables dataset, dataset_label (the `dataset` column
-- of the results) and output (the results' Parquet file).

\i explain_design.sql

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

\i explain_summary.sql
