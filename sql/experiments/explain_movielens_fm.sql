-- The explainer experiment of explain_movielens.sql restricted to the FM models (dims 32, 64, 128):
-- the same data, statements and design (common/explain_data.sql, common/explain_run.sql), for
-- re-measuring FM's rows after a change to FM alone. Results go to results/explain/movielens_fm.parquet.
--
-- Run from the repository root:  trustql --models results/recsys/models -f sql/experiments/explain_movielens_fm.sql

\set dataset movielens
\set data_dir movielens-small
\set train_value value
\set dataset_label MovieLens small
\i common/explain_data.sql

-- The same options as common/recsys.sql and common/explain.sql, so that their models are reused.
CREATE MODEL IF NOT EXISTS ${dataset}_inn64 OPTIONS (type = 'inn', dim = 64, tags = '${dataset}_tags')
  AS SELECT * FROM ${dataset}_train;
CREATE MODEL IF NOT EXISTS ${dataset}_fm32 OPTIONS (type = 'fm', dim = 32, tags = '${dataset}_tags', seed = 42, epochs = 5)
  AS SELECT * FROM ${dataset}_train;
CREATE MODEL IF NOT EXISTS ${dataset}_fm64 OPTIONS (type = 'fm', dim = 64, tags = '${dataset}_tags', seed = 42, epochs = 5)
  AS SELECT * FROM ${dataset}_train;
CREATE MODEL IF NOT EXISTS ${dataset}_fm128 OPTIONS (type = 'fm', dim = 128, tags = '${dataset}_tags', seed = 42, epochs = 5)
  AS SELECT * FROM ${dataset}_train;

CREATE TABLE IF NOT EXISTS settings AS SELECT 1 AS user_stride;
CREATE TABLE ${dataset}_models AS SELECT * FROM (VALUES
  ('${dataset}_fm32', 'fm', 32),
  ('${dataset}_fm64', 'fm', 64),
  ('${dataset}_fm128', 'fm', 128)) AS t(model, recsys, dim);

\set output results/explain/${dataset}_fm.parquet
\i common/explain_run.sql
