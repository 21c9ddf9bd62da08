-- The explainer experiment of thesis §5.3.2 / Fig. 5.3 on MovieLens latest-small.
--
-- The tag-aware recommenders of the recommender experiment (iNN, uNN, FM and NCF at dim 32, 64
-- and 128, trained on the same 80 % split; models already in the model store are reused) × the
-- four explainers × ω ∈ {1, 2, 4, 8, 16, 32} × the users: fidelity = τ_AP,a between the model's
-- scores of the user's top-20 unseen items and the scores rebuilt from the explanations (SPEC §6).
-- LIME uses 1,000 perturbations per explanation (lime's default is 5,000). It is plain SQL: a
-- cross join of models, explainers, users and ωs, sorted so that the rows of one user's ωs arrive
-- together and share the user's candidate list and LIME's scored perturbations. One INSERT per
-- recommender type; `fidelity` prints a progress line per batch of rows.
-- Results go to results/explain/movielens.parquet; the summary (mean fidelity with a normal 95 % CI
-- by recsys × explainer × ω) is printed.
--
-- Every user by default. A quick variant takes every k-th user id instead, when a table
-- `settings` with a column `user_stride` exists before the script runs, e.g.
--   trustql --models results/recsys/models -c "CREATE TABLE settings AS SELECT 10 AS user_stride" \
--     -f sql/experiments/explain_movielens.sql
-- (scripts/explain_experiment.sh runs both datasets; scripts/demo.sh the quick Last.fm variant).
--
-- Run from the repository root:  trustql --models results/recsys/models -f sql/experiments/explain_movielens.sql

CREATE EXTERNAL TABLE movielens_interactions STORED AS PARQUET
  LOCATION '../shared/data/recsys/movielens-small/interactions.parquet';
CREATE EXTERNAL TABLE movielens_item_tags STORED AS PARQUET
  LOCATION '../shared/data/recsys/movielens-small/item_tags.parquet';

CREATE VIEW movielens_all AS SELECT user_id AS "user", item_id AS item, value FROM movielens_interactions;
CREATE TABLE movielens_split AS SELECT * FROM holdout_split('movielens_all', 0.2, 42);
CREATE VIEW movielens_train AS SELECT "user", item, value AS value FROM movielens_split WHERE NOT test;
CREATE VIEW movielens_tags AS SELECT item_id AS item, tag_id AS tag, weight FROM movielens_item_tags;

-- The same options as sql/experiments/recsys_movielens.sql, so that its models are reused.
CREATE MODEL IF NOT EXISTS movielens_inn32 OPTIONS (type = 'inn', dim = 32, tags = 'movielens_tags')
  AS SELECT * FROM movielens_train;
CREATE MODEL IF NOT EXISTS movielens_inn64 OPTIONS (type = 'inn', dim = 64, tags = 'movielens_tags')
  AS SELECT * FROM movielens_train;
CREATE MODEL IF NOT EXISTS movielens_inn128 OPTIONS (type = 'inn', dim = 128, tags = 'movielens_tags')
  AS SELECT * FROM movielens_train;
CREATE MODEL IF NOT EXISTS movielens_unn32 OPTIONS (type = 'unn', dim = 32, tags = 'movielens_tags')
  AS SELECT * FROM movielens_train;
CREATE MODEL IF NOT EXISTS movielens_unn64 OPTIONS (type = 'unn', dim = 64, tags = 'movielens_tags')
  AS SELECT * FROM movielens_train;
CREATE MODEL IF NOT EXISTS movielens_unn128 OPTIONS (type = 'unn', dim = 128, tags = 'movielens_tags')
  AS SELECT * FROM movielens_train;
CREATE MODEL IF NOT EXISTS movielens_fm32 OPTIONS (type = 'fm', dim = 32, tags = 'movielens_tags', seed = 42, epochs = 5)
  AS SELECT * FROM movielens_train;
CREATE MODEL IF NOT EXISTS movielens_fm64 OPTIONS (type = 'fm', dim = 64, tags = 'movielens_tags', seed = 42, epochs = 5)
  AS SELECT * FROM movielens_train;
CREATE MODEL IF NOT EXISTS movielens_fm128 OPTIONS (type = 'fm', dim = 128, tags = 'movielens_tags', seed = 42, epochs = 5)
  AS SELECT * FROM movielens_train;
CREATE MODEL IF NOT EXISTS movielens_ncf32 OPTIONS (type = 'ncf', dim = 32, tags = 'movielens_tags', seed = 42, epochs = 3)
  AS SELECT * FROM movielens_train;
CREATE MODEL IF NOT EXISTS movielens_ncf64 OPTIONS (type = 'ncf', dim = 64, tags = 'movielens_tags', seed = 42, epochs = 3)
  AS SELECT * FROM movielens_train;
CREATE MODEL IF NOT EXISTS movielens_ncf128 OPTIONS (type = 'ncf', dim = 128, tags = 'movielens_tags', seed = 42, epochs = 3)
  AS SELECT * FROM movielens_train;

CREATE TABLE IF NOT EXISTS settings AS SELECT 1 AS user_stride;
CREATE TABLE movielens_models AS SELECT * FROM (VALUES
  ('movielens_inn32', 'inn', 32),
  ('movielens_inn64', 'inn', 64),
  ('movielens_inn128', 'inn', 128),
  ('movielens_unn32', 'unn', 32),
  ('movielens_unn64', 'unn', 64),
  ('movielens_unn128', 'unn', 128),
  ('movielens_fm32', 'fm', 32),
  ('movielens_fm64', 'fm', 64),
  ('movielens_fm128', 'fm', 128),
  ('movielens_ncf32', 'ncf', 32),
  ('movielens_ncf64', 'ncf', 64),
  ('movielens_ncf128', 'ncf', 128)) AS t(model, recsys, dim);
CREATE TABLE explainers AS SELECT * FROM (VALUES ('random'), ('pdp'), ('saliency'), ('lime')) AS t(explainer);
-- Mainstreaminess (SPEC §5) of every user, for the analysis of issue 5.
CREATE TABLE movielens_users AS
  SELECT "user", mainstreaminess('movielens_inn64', "user") AS mainstreaminess
  FROM (SELECT DISTINCT "user" FROM movielens_train)
  WHERE "user" % (SELECT user_stride FROM settings) = 0;
SELECT count(*) AS users, (SELECT user_stride FROM settings) AS user_stride FROM movielens_users;

-- The crossed design, one row per (model, explainer, user, ω), sorted so that each batch of
-- rows that reaches `fidelity` holds many users of one model and explainer with all their ωs.
CREATE TABLE movielens_tasks AS
  SELECT m.model, m.recsys, m.dim, e.explainer, u."user", u.mainstreaminess,
    unnest(make_array(1, 2, 4, 8, 16, 32)) AS omega
  FROM movielens_models m CROSS JOIN explainers e CROSS JOIN movielens_users u
  ORDER BY model, explainer, "user", omega;

CREATE TABLE movielens_fidelity (dataset VARCHAR, recsys VARCHAR, dim BIGINT, explainer VARCHAR,
  omega BIGINT, "user" BIGINT, mainstreaminess DOUBLE, fidelity DOUBLE);

INSERT INTO movielens_fidelity SELECT 'MovieLens small', recsys, dim, explainer, omega, "user", mainstreaminess,
  fidelity(model, explainer, "user", omega, 20, 'samples = 1000') FROM movielens_tasks WHERE recsys = 'inn';
INSERT INTO movielens_fidelity SELECT 'MovieLens small', recsys, dim, explainer, omega, "user", mainstreaminess,
  fidelity(model, explainer, "user", omega, 20, 'samples = 1000') FROM movielens_tasks WHERE recsys = 'unn';
INSERT INTO movielens_fidelity SELECT 'MovieLens small', recsys, dim, explainer, omega, "user", mainstreaminess,
  fidelity(model, explainer, "user", omega, 20, 'samples = 1000') FROM movielens_tasks WHERE recsys = 'fm';
INSERT INTO movielens_fidelity SELECT 'MovieLens small', recsys, dim, explainer, omega, "user", mainstreaminess,
  fidelity(model, explainer, "user", omega, 20, 'samples = 1000') FROM movielens_tasks WHERE recsys = 'ncf';

COPY (SELECT * FROM movielens_fidelity ORDER BY recsys, dim, explainer, omega, "user")
  TO 'results/explain/movielens.parquet' STORED AS PARQUET;

SELECT recsys, explainer, omega, count(fidelity) AS n, round(avg(fidelity), 4) AS mean_fidelity,
  round(avg(fidelity) - 1.96 * stddev(fidelity) / sqrt(count(fidelity)), 4) AS ci_lower,
  round(avg(fidelity) + 1.96 * stddev(fidelity) / sqrt(count(fidelity)), 4) AS ci_upper
FROM movielens_fidelity GROUP BY recsys, explainer, omega ORDER BY recsys, explainer, omega;
