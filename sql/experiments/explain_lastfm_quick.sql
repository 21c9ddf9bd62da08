-- Quick variant of sql/experiments/explain_lastfm.sql (the explainer experiment of thesis §5.3.2 /
-- Fig. 5.3 on Last.fm 2K), the one scripts/demo.sh runs: the four recommenders at dim 64 only and
-- every 10th user id (190 users) instead of all 1,892; everything else is the same. See the full
-- script for the design.
--
-- Run from the repository root:  trustql --models results/recsys/models -f sql/experiments/explain_lastfm_quick.sql

CREATE EXTERNAL TABLE lastfm_interactions STORED AS PARQUET
  LOCATION '../shared/data/recsys/lastfm-2k/interactions.parquet';
CREATE EXTERNAL TABLE lastfm_item_tags STORED AS PARQUET
  LOCATION '../shared/data/recsys/lastfm-2k/item_tags.parquet';

CREATE VIEW lastfm_all AS SELECT user_id AS "user", item_id AS item, value FROM lastfm_interactions;
CREATE TABLE lastfm_split AS SELECT * FROM holdout_split('lastfm_all', 0.2, 42);
CREATE VIEW lastfm_train AS SELECT "user", item, ln(1 + value) AS value FROM lastfm_split WHERE NOT test;
CREATE VIEW lastfm_tags AS SELECT item_id AS item, tag_id AS tag, weight FROM lastfm_item_tags;

-- The same options as sql/experiments/recsys_lastfm.sql, so that its models are reused.
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
CREATE TABLE explainers AS SELECT * FROM (VALUES ('random'), ('pdp'), ('saliency'), ('lime')) AS t(explainer);
-- Mainstreaminess (SPEC §5) of every user, for the analysis of issue 5.
CREATE TABLE lastfm_users AS
  SELECT "user", mainstreaminess('lastfm_inn64', "user") AS mainstreaminess
  FROM (SELECT DISTINCT "user" FROM lastfm_train)
  WHERE "user" % (SELECT user_stride FROM settings) = 0;
SELECT count(*) AS users, (SELECT user_stride FROM settings) AS user_stride FROM lastfm_users;

-- The crossed design, one row per (model, explainer, user, ω), sorted so that each batch of
-- rows that reaches `fidelity` holds many users of one model and explainer with all their ωs.
CREATE TABLE lastfm_tasks AS
  SELECT m.model, m.recsys, m.dim, e.explainer, u."user", u.mainstreaminess,
    unnest(make_array(1, 2, 4, 8, 16, 32)) AS omega
  FROM lastfm_models m CROSS JOIN explainers e CROSS JOIN lastfm_users u
  ORDER BY model, explainer, "user", omega;

CREATE TABLE lastfm_fidelity (dataset VARCHAR, recsys VARCHAR, dim BIGINT, explainer VARCHAR,
  omega BIGINT, "user" BIGINT, mainstreaminess DOUBLE, fidelity DOUBLE);

INSERT INTO lastfm_fidelity SELECT 'Last.fm 2K', recsys, dim, explainer, omega, "user", mainstreaminess,
  fidelity(model, explainer, "user", omega, 20, 'samples = 1000') FROM lastfm_tasks WHERE recsys = 'inn';
INSERT INTO lastfm_fidelity SELECT 'Last.fm 2K', recsys, dim, explainer, omega, "user", mainstreaminess,
  fidelity(model, explainer, "user", omega, 20, 'samples = 1000') FROM lastfm_tasks WHERE recsys = 'unn';
INSERT INTO lastfm_fidelity SELECT 'Last.fm 2K', recsys, dim, explainer, omega, "user", mainstreaminess,
  fidelity(model, explainer, "user", omega, 20, 'samples = 1000') FROM lastfm_tasks WHERE recsys = 'fm';
INSERT INTO lastfm_fidelity SELECT 'Last.fm 2K', recsys, dim, explainer, omega, "user", mainstreaminess,
  fidelity(model, explainer, "user", omega, 20, 'samples = 1000') FROM lastfm_tasks WHERE recsys = 'ncf';

COPY (SELECT * FROM lastfm_fidelity ORDER BY recsys, dim, explainer, omega, "user")
  TO 'results/explain/lastfm_quick.parquet' STORED AS PARQUET;

SELECT recsys, explainer, omega, count(fidelity) AS n, round(avg(fidelity), 4) AS mean_fidelity,
  round(avg(fidelity) - 1.96 * stddev(fidelity) / sqrt(count(fidelity)), 4) AS ci_lower,
  round(avg(fidelity) + 1.96 * stddev(fidelity) / sqrt(count(fidelity)), 4) AS ci_upper
FROM lastfm_fidelity GROUP BY recsys, explainer, omega ORDER BY recsys, explainer, omega;
