-- Quick variant of sql/experiments/explain_lastfm.sql (the explainer experiment of thesis §5.3.2 /
-- Fig. 5.3 on Last.fm 2K), the one scripts/demo.sh runs: the four recommenders at dim 64 only and
-- every 10th user id (190 users) instead of all 1,892; everything else is the same (the data and
-- the run are common/explain_data.sql and common/explain_run.sql, as in the full experiment).
-- See common/explain.sql for the design. Results go to results/explain/lastfm_quick.parquet.
--
-- Run from the repository root:  trustql --models results/recsys/models -f sql/experiments/explain_lastfm_quick.sql

\set dataset lastfm
\set data_dir lastfm-2k
\set train_value ln(1 + value)
\set dataset_label Last.fm 2K
\i common/explain_data.sql

-- The same options as common/recsys.sql, so that the recommender experiment's models are reused.
CREATE MODEL IF NOT EXISTS lastfm_inn64 OPTIONS (type = 'inn', dim = 64, tags = 'lastfm_tags')
  AS SELECT * FROM lastfm_train;
CREATE MODEL IF NOT EXISTS lastfm_unn64 OPTIONS (type = 'unn', dim = 64, tags = 'lastfm_tags')
  AS SELECT * FROM lastfm_train;
CREATE MODEL IF NOT EXISTS lastfm_fm64 OPTIONS (type = 'fm', dim = 64, tags = 'lastfm_tags', seed = 42, epochs = 5)
  AS SELECT * FROM lastfm_train;
CREATE MODEL IF NOT EXISTS lastfm_ncf64 OPTIONS (type = 'ncf', dim = 64, tags = 'lastfm_tags', seed = 42, epochs = 3)
  AS SELECT * FROM lastfm_train;

CREATE TABLE IF NOT EXISTS settings AS SELECT 10 AS user_stride;
CREATE TABLE lastfm_models AS SELECT * FROM (VALUES
  ('lastfm_inn64', 'inn', 64),
  ('lastfm_unn64', 'unn', 64),
  ('lastfm_fm64', 'fm', 64),
  ('lastfm_ncf64', 'ncf', 64)) AS t(model, recsys, dim);

\set output results/explain/lastfm_quick.parquet
\i common/explain_run.sql
