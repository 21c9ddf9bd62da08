-- The explainer experiment of thesis §5.3.2 / Fig. 5.3, for one data set: the statements that
-- explain_lastfm.sql and explain_movielens.sql share. Run one of those; they set the variables
-- dataset, data_dir, train_value (as common/recsys.sql) and dataset_label (the `dataset`
-- column of the results).
--
-- The tag-aware recommenders of the recommender experiment (iNN, uNN, FM and NCF at dim 32, 64
-- and 128, trained on the same 80 % split; models already in the model store are reused) × the
-- four explainers × ω ∈ {1, 2, 4, 8, 16, 32} × the users: fidelity = τ_AP,a between the model's
-- scores of the user's top-20 unseen items and the scores rebuilt from the explanations (SPEC §6).
-- LIME uses 1,000 perturbations per explanation (lime's default is 5,000). It is plain SQL: a
-- cross join of models, explainers, users and ωs, sorted so that the rows of one user's ωs arrive
-- together and share the user's candidate list and LIME's scored perturbations. One INSERT per
-- recommender type; `fidelity` prints a progress line per batch of rows.
-- Results go to results/explain/<dataset>.parquet; the summary (mean fidelity with a normal 95 % CI
-- by recsys × explainer × ω) is printed.
--
-- Every user by default. A quick variant takes every k-th user id instead, when a table
-- `settings` with a column `user_stride` exists before the script runs, e.g.
--   trustql --models results/recsys/models -c "CREATE TABLE settings AS SELECT 10 AS user_stride" \
--     -f sql/experiments/explain_lastfm.sql
-- (scripts/explain_experiment.sh runs both datasets; scripts/demo.sh the quick Last.fm variant,
-- explain_lastfm_quick.sql, which runs the same data and run parts with fewer models).

\i explain_data.sql

-- The same options as common/recsys.sql, so that the recommender experiment's models are reused.
CREATE MODEL IF NOT EXISTS ${dataset}_inn32 OPTIONS (type = 'inn', dim = 32, tags = '${dataset}_tags')
  AS SELECT * FROM ${dataset}_train;
CREATE MODEL IF NOT EXISTS ${dataset}_inn64 OPTIONS (type = 'inn', dim = 64, tags = '${dataset}_tags')
  AS SELECT * FROM ${dataset}_train;
CREATE MODEL IF NOT EXISTS ${dataset}_inn128 OPTIONS (type = 'inn', dim = 128, tags = '${dataset}_tags')
  AS SELECT * FROM ${dataset}_train;
CREATE MODEL IF NOT EXISTS ${dataset}_unn32 OPTIONS (type = 'unn', dim = 32, tags = '${dataset}_tags')
  AS SELECT * FROM ${dataset}_train;
CREATE MODEL IF NOT EXISTS ${dataset}_unn64 OPTIONS (type = 'unn', dim = 64, tags = '${dataset}_tags')
  AS SELECT * FROM ${dataset}_train;
CREATE MODEL IF NOT EXISTS ${dataset}_unn128 OPTIONS (type = 'unn', dim = 128, tags = '${dataset}_tags')
  AS SELECT * FROM ${dataset}_train;
\i fm_models.sql
CREATE MODEL IF NOT EXISTS ${dataset}_ncf32 OPTIONS (type = 'ncf', dim = 32, tags = '${dataset}_tags', seed = 42, epochs = 3)
  AS SELECT * FROM ${dataset}_train;
CREATE MODEL IF NOT EXISTS ${dataset}_ncf64 OPTIONS (type = 'ncf', dim = 64, tags = '${dataset}_tags', seed = 42, epochs = 3)
  AS SELECT * FROM ${dataset}_train;
CREATE MODEL IF NOT EXISTS ${dataset}_ncf128 OPTIONS (type = 'ncf', dim = 128, tags = '${dataset}_tags', seed = 42, epochs = 3)
  AS SELECT * FROM ${dataset}_train;

CREATE TABLE IF NOT EXISTS settings AS SELECT 1 AS user_stride;
CREATE TABLE ${dataset}_models AS SELECT * FROM (VALUES
  ('${dataset}_inn32', 'inn', 32),
  ('${dataset}_inn64', 'inn', 64),
  ('${dataset}_inn128', 'inn', 128),
  ('${dataset}_unn32', 'unn', 32),
  ('${dataset}_unn64', 'unn', 64),
  ('${dataset}_unn128', 'unn', 128),
  ('${dataset}_fm32', 'fm', 32),
  ('${dataset}_fm64', 'fm', 64),
  ('${dataset}_fm128', 'fm', 128),
  ('${dataset}_ncf32', 'ncf', 32),
  ('${dataset}_ncf64', 'ncf', 64),
  ('${dataset}_ncf128', 'ncf', 128)) AS t(model, recsys, dim);

\set output results/explain/${dataset}.parquet
\i explain_run.sql
