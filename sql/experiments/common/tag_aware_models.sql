-- The tag-aware recommenders of the explainer experiment (iNN, uNN, FM and NCF at dims 32, 64 and
-- 128; models already in the model store are reused), the table <dataset>_models (model, recsys,
-- dim) that lists them, and the default `settings` (every user): included by common/explain.sql
-- and common/explain_goodbooks.sql. Needs the variables dataset, fm_epochs and ncf_epochs and the
-- views <dataset>_train and <dataset>_tags.

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
CREATE MODEL IF NOT EXISTS ${dataset}_ncf32 OPTIONS (type = 'ncf', dim = 32, tags = '${dataset}_tags', seed = 42, epochs = ${ncf_epochs})
  AS SELECT * FROM ${dataset}_train;
CREATE MODEL IF NOT EXISTS ${dataset}_ncf64 OPTIONS (type = 'ncf', dim = 64, tags = '${dataset}_tags', seed = 42, epochs = ${ncf_epochs})
  AS SELECT * FROM ${dataset}_train;
CREATE MODEL IF NOT EXISTS ${dataset}_ncf128 OPTIONS (type = 'ncf', dim = 128, tags = '${dataset}_tags', seed = 42, epochs = ${ncf_epochs})
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

