-- The explainer experiment restricted to the FM models (dims 32, 64, 128): the data, statements
-- and design of common/explain.sql, for re-measuring FM's rows after a change to FM alone. Run
-- explain_lastfm_fm.sql or explain_movielens_fm.sql, which set the variables of
-- common/explain.sql. Results go to results/explain/<dataset>_fm.parquet.

\i explain_data.sql

-- Mainstreaminess (in the results) comes from the dim-64 iNN.
CREATE MODEL IF NOT EXISTS ${dataset}_inn64 OPTIONS (type = 'inn', dim = 64, tags = '${dataset}_tags')
  AS SELECT * FROM ${dataset}_train;
\set fm_epochs 5
\i fm_models.sql

CREATE TABLE IF NOT EXISTS settings AS SELECT 1 AS user_stride;
CREATE TABLE ${dataset}_models AS SELECT * FROM (VALUES
  ('${dataset}_fm32', 'fm', 32),
  ('${dataset}_fm64', 'fm', 64),
  ('${dataset}_fm128', 'fm', 128)) AS t(model, recsys, dim);

\set output results/explain/${dataset}_fm.parquet
\i explain_run.sql
