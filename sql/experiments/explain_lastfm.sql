-- The explainer experiment of thesis §5.3.2 / Fig. 5.3 on Last.fm 2K (HetRec 2011), for every user.
--
-- The tag-aware recommenders of the recommender experiment (iNN, uNN, FM, NCF at dim 32, 64 and
-- 128, trained on the same 80 % split; models already in the model store are reused) × the four
-- explainers × ω ∈ {1, 2, 4, 8, 16, 32} × every user: fidelity = τ_AP,a between the model's scores
-- of the user's top-20 unseen items and the scores rebuilt from the explanations. LIME uses 1,000
-- perturbations per explanation (lime's default is 5,000). One INSERT per model, so that the
-- CLI reports progress model by model. Results go to results/explain/lastfm.parquet; the summary
-- (mean fidelity with a normal 95 % CI by recsys × explainer × ω) is printed.
--
-- Run from the repository root:  trustql --models results/recsys/models -f sql/experiments/explain_lastfm.sql
--
-- Status (work in progress, issue 4): not yet run in full. bench/explain/fidelity_speed.sql
-- measured the explainers on 2026-11-30, each for 50 users at one ω:
--   - LIME: 4.7 s (iNN), 13 s (FM) and 26 s (NCF);
--   - Random and Saliency: under 0.5 s;
--   - PDP: about 12 ms per user for iNN and 13 ms per user for FM, which use closed forms.
-- uNN and NCF have no closed form yet: their PDP still scores every (history item, tag) pair, at
-- seconds per user.

CREATE EXTERNAL TABLE lastfm_interactions STORED AS PARQUET
  LOCATION '../shared/data/recsys/lastfm-2k/interactions.parquet';
CREATE EXTERNAL TABLE lastfm_item_tags STORED AS PARQUET
  LOCATION '../shared/data/recsys/lastfm-2k/item_tags.parquet';

CREATE VIEW lastfm_all AS SELECT user_id AS "user", item_id AS item, value FROM lastfm_interactions;
CREATE TABLE lastfm_split AS SELECT * FROM holdout_split('lastfm_all', 0.2, 42);
CREATE VIEW lastfm_train AS SELECT "user", item, ln(1 + value) AS value FROM lastfm_split WHERE NOT test;
CREATE VIEW lastfm_tags AS SELECT item_id AS item, tag_id AS tag, weight FROM lastfm_item_tags;

CREATE MODEL IF NOT EXISTS lastfm_inn32 OPTIONS (type = 'inn', dim = 32, tags = 'lastfm_tags') AS SELECT * FROM lastfm_train;
CREATE MODEL IF NOT EXISTS lastfm_inn64 OPTIONS (type = 'inn', dim = 64, tags = 'lastfm_tags') AS SELECT * FROM lastfm_train;
CREATE MODEL IF NOT EXISTS lastfm_inn128 OPTIONS (type = 'inn', dim = 128, tags = 'lastfm_tags') AS SELECT * FROM lastfm_train;
CREATE MODEL IF NOT EXISTS lastfm_unn32 OPTIONS (type = 'unn', dim = 32, tags = 'lastfm_tags') AS SELECT * FROM lastfm_train;
CREATE MODEL IF NOT EXISTS lastfm_unn64 OPTIONS (type = 'unn', dim = 64, tags = 'lastfm_tags') AS SELECT * FROM lastfm_train;
CREATE MODEL IF NOT EXISTS lastfm_unn128 OPTIONS (type = 'unn', dim = 128, tags = 'lastfm_tags') AS SELECT * FROM lastfm_train;
CREATE MODEL IF NOT EXISTS lastfm_fm32 OPTIONS (type = 'fm', dim = 32, tags = 'lastfm_tags', seed = 42, epochs = 5) AS SELECT * FROM lastfm_train;
CREATE MODEL IF NOT EXISTS lastfm_fm64 OPTIONS (type = 'fm', dim = 64, tags = 'lastfm_tags', seed = 42, epochs = 5) AS SELECT * FROM lastfm_train;
CREATE MODEL IF NOT EXISTS lastfm_fm128 OPTIONS (type = 'fm', dim = 128, tags = 'lastfm_tags', seed = 42, epochs = 5) AS SELECT * FROM lastfm_train;
CREATE MODEL IF NOT EXISTS lastfm_ncf32 OPTIONS (type = 'ncf', dim = 32, tags = 'lastfm_tags', seed = 42, epochs = 3) AS SELECT * FROM lastfm_train;
CREATE MODEL IF NOT EXISTS lastfm_ncf64 OPTIONS (type = 'ncf', dim = 64, tags = 'lastfm_tags', seed = 42, epochs = 3) AS SELECT * FROM lastfm_train;
CREATE MODEL IF NOT EXISTS lastfm_ncf128 OPTIONS (type = 'ncf', dim = 128, tags = 'lastfm_tags', seed = 42, epochs = 3) AS SELECT * FROM lastfm_train;

CREATE TABLE explainers AS SELECT * FROM (VALUES ('random'), ('pdp'), ('saliency'), ('lime')) AS t(explainer);
CREATE TABLE omegas AS SELECT * FROM (VALUES (1), (2), (4), (8), (16), (32)) AS t(omega);
CREATE TABLE lastfm_users AS
  SELECT "user", mainstreaminess('lastfm_inn64', "user") AS mainstreaminess
  FROM (SELECT DISTINCT "user" FROM lastfm_train);

CREATE TABLE lastfm_fidelity (dataset VARCHAR, recsys VARCHAR, dim BIGINT, explainer VARCHAR,
  omega BIGINT, "user" BIGINT, mainstreaminess DOUBLE, fidelity DOUBLE);

INSERT INTO lastfm_fidelity SELECT 'Last.fm 2K', 'inn', 32, e.explainer, o.omega, u."user", u.mainstreaminess,
  fidelity('lastfm_inn32', e.explainer, u."user", o.omega, 20, 'samples = 1000')
  FROM explainers e CROSS JOIN omegas o CROSS JOIN lastfm_users u;
INSERT INTO lastfm_fidelity SELECT 'Last.fm 2K', 'inn', 64, e.explainer, o.omega, u."user", u.mainstreaminess,
  fidelity('lastfm_inn64', e.explainer, u."user", o.omega, 20, 'samples = 1000')
  FROM explainers e CROSS JOIN omegas o CROSS JOIN lastfm_users u;
INSERT INTO lastfm_fidelity SELECT 'Last.fm 2K', 'inn', 128, e.explainer, o.omega, u."user", u.mainstreaminess,
  fidelity('lastfm_inn128', e.explainer, u."user", o.omega, 20, 'samples = 1000')
  FROM explainers e CROSS JOIN omegas o CROSS JOIN lastfm_users u;
INSERT INTO lastfm_fidelity SELECT 'Last.fm 2K', 'unn', 32, e.explainer, o.omega, u."user", u.mainstreaminess,
  fidelity('lastfm_unn32', e.explainer, u."user", o.omega, 20, 'samples = 1000')
  FROM explainers e CROSS JOIN omegas o CROSS JOIN lastfm_users u;
INSERT INTO lastfm_fidelity SELECT 'Last.fm 2K', 'unn', 64, e.explainer, o.omega, u."user", u.mainstreaminess,
  fidelity('lastfm_unn64', e.explainer, u."user", o.omega, 20, 'samples = 1000')
  FROM explainers e CROSS JOIN omegas o CROSS JOIN lastfm_users u;
INSERT INTO lastfm_fidelity SELECT 'Last.fm 2K', 'unn', 128, e.explainer, o.omega, u."user", u.mainstreaminess,
  fidelity('lastfm_unn128', e.explainer, u."user", o.omega, 20, 'samples = 1000')
  FROM explainers e CROSS JOIN omegas o CROSS JOIN lastfm_users u;
INSERT INTO lastfm_fidelity SELECT 'Last.fm 2K', 'fm', 32, e.explainer, o.omega, u."user", u.mainstreaminess,
  fidelity('lastfm_fm32', e.explainer, u."user", o.omega, 20, 'samples = 1000')
  FROM explainers e CROSS JOIN omegas o CROSS JOIN lastfm_users u;
INSERT INTO lastfm_fidelity SELECT 'Last.fm 2K', 'fm', 64, e.explainer, o.omega, u."user", u.mainstreaminess,
  fidelity('lastfm_fm64', e.explainer, u."user", o.omega, 20, 'samples = 1000')
  FROM explainers e CROSS JOIN omegas o CROSS JOIN lastfm_users u;
INSERT INTO lastfm_fidelity SELECT 'Last.fm 2K', 'fm', 128, e.explainer, o.omega, u."user", u.mainstreaminess,
  fidelity('lastfm_fm128', e.explainer, u."user", o.omega, 20, 'samples = 1000')
  FROM explainers e CROSS JOIN omegas o CROSS JOIN lastfm_users u;
INSERT INTO lastfm_fidelity SELECT 'Last.fm 2K', 'ncf', 32, e.explainer, o.omega, u."user", u.mainstreaminess,
  fidelity('lastfm_ncf32', e.explainer, u."user", o.omega, 20, 'samples = 1000')
  FROM explainers e CROSS JOIN omegas o CROSS JOIN lastfm_users u;
INSERT INTO lastfm_fidelity SELECT 'Last.fm 2K', 'ncf', 64, e.explainer, o.omega, u."user", u.mainstreaminess,
  fidelity('lastfm_ncf64', e.explainer, u."user", o.omega, 20, 'samples = 1000')
  FROM explainers e CROSS JOIN omegas o CROSS JOIN lastfm_users u;
INSERT INTO lastfm_fidelity SELECT 'Last.fm 2K', 'ncf', 128, e.explainer, o.omega, u."user", u.mainstreaminess,
  fidelity('lastfm_ncf128', e.explainer, u."user", o.omega, 20, 'samples = 1000')
  FROM explainers e CROSS JOIN omegas o CROSS JOIN lastfm_users u;

COPY (SELECT * FROM lastfm_fidelity ORDER BY recsys, dim, explainer, omega, "user")
  TO 'results/explain/lastfm.parquet' STORED AS PARQUET;

SELECT recsys, explainer, omega, count(fidelity) AS n, round(avg(fidelity), 4) AS mean_fidelity,
  round(avg(fidelity) - 1.96 * stddev(fidelity) / sqrt(count(fidelity)), 4) AS ci_lower,
  round(avg(fidelity) + 1.96 * stddev(fidelity) / sqrt(count(fidelity)), 4) AS ci_upper
FROM lastfm_fidelity GROUP BY recsys, explainer, omega ORDER BY recsys, explainer, omega;
