-- The explainer experiment of thesis §5.3.2 / Fig. 5.3 on Last.fm 2K (HetRec 2011).
--
-- The tag-aware recommenders of the recommender experiment (iNN, uNN, FM and NCF at dim 32, 64
-- and 128, trained on the same 80 % split; models already in the model store are reused) × the
-- four explainers × ω ∈ {1, 2, 4, 8, 16, 32} × the users: fidelity = τ_AP,a between the model's
-- scores of the user's top-20 unseen items and the scores rebuilt from the explanations (SPEC §6).
-- LIME uses 1,000 perturbations per explanation (lime's default is 5,000). It is plain SQL: a
-- cross join of models, explainers, users and ωs, sorted so that the rows of one user's ωs arrive
-- together and share the user's candidate list and LIME's scored perturbations. One INSERT per
-- recommender type; `fidelity` prints a progress line per batch of rows.
-- Results go to results/explain/lastfm.parquet; the summary (mean fidelity with a normal 95 % CI
-- by recsys × explainer × ω) is printed.
--
-- Every user by default. A quick variant takes every k-th user id instead, when a table
-- `settings` with a column `user_stride` exists before the script runs, e.g.
--   trustql --models results/recsys/models -c "CREATE TABLE settings AS SELECT 10 AS user_stride" \
--     -f sql/experiments/explain_lastfm.sql
-- (scripts/explain_experiment.sh runs both datasets; scripts/demo.sh the quick Last.fm variant).
--
-- Run from the repository root:  trustql --models results/recsys/models -f sql/experiments/explain_lastfm.sql

CREATE EXTERNAL TABLE lastfm_interactions STORED AS PARQUET
  LOCATION '../shared/data/recsys/lastfm-2k/interactions.parquet';
CREATE EXTERNAL TABLE lastfm_item_tags STORED AS PARQUET
  LOCATION '../shared/data/recsys/lastfm-2k/item_tags.parquet';

CREATE VIEW lastfm_all AS SELECT user_id AS "user", item_id AS item, value FROM lastfm_interactions;
CREATE TABLE lastfm_split AS SELECT * FROM holdout_split('lastfm_all', 0.2, 42);
CREATE VIEW lastfm_train AS SELECT "user", item, ln(1 + value) AS value FROM lastfm_split WHERE NOT test;
CREATE VIEW lastfm_tags AS SELECT item_id AS item, tag_id AS tag, weight FROM lastfm_item_tags;

-- The same options as sql/experiments/recsys_lastfm.sql, so that its models are reused.
CREATE MODEL IF NOT EXISTS lastfm_inn32 OPTIONS (type = 'inn', dim = 32, tags = 'lastfm_tags')
  AS SELECT * FROM lastfm_train;
CREATE MODEL IF NOT EXISTS lastfm_inn64 OPTIONS (type = 'inn', dim = 64, tags = 'lastfm_tags')
  AS SELECT * FROM lastfm_train;
CREATE MODEL IF NOT EXISTS lastfm_inn128 OPTIONS (type = 'inn', dim = 128, tags = 'lastfm_tags')
  AS SELECT * FROM lastfm_train;
CREATE MODEL IF NOT EXISTS lastfm_unn32 OPTIONS (type = 'unn', dim = 32, tags = 'lastfm_tags')
  AS SELECT * FROM lastfm_train;
CREATE MODEL IF NOT EXISTS lastfm_unn64 OPTIONS (type = 'unn', dim = 64, tags = 'lastfm_tags')
  AS SELECT * FROM lastfm_train;
CREATE MODEL IF NOT EXISTS lastfm_unn128 OPTIONS (type = 'unn', dim = 128, tags = 'lastfm_tags')
  AS SELECT * FROM lastfm_train;
CREATE MODEL IF NOT EXISTS lastfm_fm32 OPTIONS (type = 'fm', dim = 32, tags = 'lastfm_tags', seed = 42, epochs = 5)
  AS SELECT * FROM lastfm_train;
CREATE MODEL IF NOT EXISTS lastfm_fm64 OPTIONS (type = 'fm', dim = 64, tags = 'lastfm_tags', seed = 42, epochs = 5)
  AS SELECT * FROM lastfm_train;
CREATE MODEL IF NOT EXISTS lastfm_fm128 OPTIONS (type = 'fm', dim = 128, tags = 'lastfm_tags', seed = 42, epochs = 5)
  AS SELECT * FROM lastfm_train;
CREATE MODEL IF NOT EXISTS lastfm_ncf32 OPTIONS (type = 'ncf', dim = 32, tags = 'lastfm_tags', seed = 42, epochs = 3)
  AS SELECT * FROM lastfm_train;
CREATE MODEL IF NOT EXISTS lastfm_ncf64 OPTIONS (type = 'ncf', dim = 64, tags = 'lastfm_tags', seed = 42, epochs = 3)
  AS SELECT * FROM lastfm_train;
CREATE MODEL IF NOT EXISTS lastfm_ncf128 OPTIONS (type = 'ncf', dim = 128, tags = 'lastfm_tags', seed = 42, epochs = 3)
  AS SELECT * FROM lastfm_train;

CREATE TABLE IF NOT EXISTS settings AS SELECT 1 AS user_stride;
CREATE TABLE lastfm_models AS SELECT * FROM (VALUES
  ('lastfm_inn32', 'inn', 32),
  ('lastfm_inn64', 'inn', 64),
  ('lastfm_inn128', 'inn', 128),
  ('lastfm_unn32', 'unn', 32),
  ('lastfm_unn64', 'unn', 64),
  ('lastfm_unn128', 'unn', 128),
  ('lastfm_fm32', 'fm', 32),
  ('lastfm_fm64', 'fm', 64),
  ('lastfm_fm128', 'fm', 128),
  ('lastfm_ncf32', 'ncf', 32),
  ('lastfm_ncf64', 'ncf', 64),
  ('lastfm_ncf128', 'ncf', 128)) AS t(model, recsys, dim);
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
  TO 'results/explain/lastfm.parquet' STORED AS PARQUET;

SELECT recsys, explainer, omega, count(fidelity) AS n, round(avg(fidelity), 4) AS mean_fidelity,
  round(avg(fidelity) - 1.96 * stddev(fidelity) / sqrt(count(fidelity)), 4) AS ci_lower,
  round(avg(fidelity) + 1.96 * stddev(fidelity) / sqrt(count(fidelity)), 4) AS ci_upper
FROM lastfm_fidelity GROUP BY recsys, explainer, omega ORDER BY recsys, explainer, omega;
