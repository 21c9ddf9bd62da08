-- Time of fidelity() per explainer × recommender on Last.fm 2K, for the first 50 users at ω = 8
-- (top-20 candidates; LIME with 1,000 perturbations), with the models of the recommender
-- experiment. Each statement's time is printed by the CLI.
--
-- Run from the repository root, after scripts/recsys_experiment.sh has trained the models:
--   target/release/trustql --models results/recsys/models -f bench/explain/fidelity_speed.sql

CREATE EXTERNAL TABLE lastfm_interactions STORED AS PARQUET
  LOCATION '../shared/data/recsys/lastfm-2k/interactions.parquet';
CREATE TABLE u50 AS SELECT DISTINCT user_id AS "user" FROM lastfm_interactions ORDER BY "user" LIMIT 50;

SELECT 'inn64 random' AS what, avg(fidelity('lastfm_inn64', 'random', "user", 8)) AS mean FROM u50;
SELECT 'inn64 saliency' AS what, avg(fidelity('lastfm_inn64', 'saliency', "user", 8)) AS mean FROM u50;
SELECT 'inn64 lime' AS what, avg(fidelity('lastfm_inn64', 'lime', "user", 8, 20, 'samples = 1000')) AS mean FROM u50;
SELECT 'unn64 saliency' AS what, avg(fidelity('lastfm_unn64', 'saliency', "user", 8)) AS mean FROM u50;
SELECT 'fm64 saliency' AS what, avg(fidelity('lastfm_fm64', 'saliency', "user", 8)) AS mean FROM u50;
SELECT 'fm64 lime' AS what, avg(fidelity('lastfm_fm64', 'lime', "user", 8, 20, 'samples = 1000')) AS mean FROM u50;
SELECT 'ncf64 lime' AS what, avg(fidelity('lastfm_ncf64', 'lime', "user", 8, 20, 'samples = 1000')) AS mean FROM u50;
-- PDP scores every (history item, tag) pair of a user: 5 users only.
SELECT 'inn64 pdp, 5 users' AS what, avg(fidelity('lastfm_inn64', 'pdp', "user", 8)) AS mean
  FROM (SELECT * FROM u50 LIMIT 5);
SELECT 'fm64 pdp, 5 users' AS what, avg(fidelity('lastfm_fm64', 'pdp', "user", 8)) AS mean
  FROM (SELECT * FROM u50 LIMIT 5);
