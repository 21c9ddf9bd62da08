-- Explanations per second for each explainer × recommender type on Last.fm 2K (the dim-64
-- models of the recommender experiment), through the SQL functions. Each statement's time is
-- printed by the CLI; explanations/s = rows / time. Rows: (user, training item) pairs of every
-- 20th user (3,760 pairs of 94 users); LIME (1,000 perturbations, ω = 8, lime's `auto` selection) on the
-- first 500 of them. PDP is user-level and cached per user, so its rate counts the first
-- explanation of each user (which computes θ over all 9,375 tags) and the cheap rest.
--
-- Run from the repository root, after the models exist (scripts/recsys_experiment.sh or
-- scripts/demo.sh trains them):
--   target/release/trustql --models results/recsys/models -f bench/explain/explain_speed.sql

CREATE EXTERNAL TABLE lastfm_interactions STORED AS PARQUET
  LOCATION '../shared/data/recsys/lastfm-2k/interactions.parquet';
CREATE VIEW lastfm_all AS SELECT user_id AS "user", item_id AS item, value FROM lastfm_interactions;
CREATE TABLE lastfm_split AS SELECT * FROM holdout_split('lastfm_all', 0.2, 42);
CREATE TABLE pairs AS SELECT "user", item FROM lastfm_split WHERE NOT test AND "user" % 20 = 0;
CREATE TABLE pairs500 AS SELECT * FROM pairs ORDER BY "user", item LIMIT 500;
SELECT count(*) AS pairs, count(DISTINCT "user") AS users FROM pairs;

SELECT 'inn random' AS what, count(explain_random('lastfm_inn64', "user", item, 8)) AS n FROM pairs;
SELECT 'unn random' AS what, count(explain_random('lastfm_unn64', "user", item, 8)) AS n FROM pairs;
SELECT 'fm random' AS what, count(explain_random('lastfm_fm64', "user", item, 8)) AS n FROM pairs;
SELECT 'ncf random' AS what, count(explain_random('lastfm_ncf64', "user", item, 8)) AS n FROM pairs;
SELECT 'inn saliency' AS what, count(explain_saliency('lastfm_inn64', "user", item, 8)) AS n FROM pairs;
SELECT 'unn saliency' AS what, count(explain_saliency('lastfm_unn64', "user", item, 8)) AS n FROM pairs;
SELECT 'fm saliency' AS what, count(explain_saliency('lastfm_fm64', "user", item, 8)) AS n FROM pairs;
SELECT 'ncf saliency' AS what, count(explain_saliency('lastfm_ncf64', "user", item, 8)) AS n FROM pairs;
SELECT 'inn pdp' AS what, count(explain_pdp('lastfm_inn64', "user", item, 8)) AS n FROM pairs;
SELECT 'unn pdp' AS what, count(explain_pdp('lastfm_unn64', "user", item, 8)) AS n FROM pairs;
SELECT 'fm pdp' AS what, count(explain_pdp('lastfm_fm64', "user", item, 8)) AS n FROM pairs;
SELECT 'ncf pdp' AS what, count(explain_pdp('lastfm_ncf64', "user", item, 8)) AS n FROM pairs;
SELECT 'inn lime' AS what, count(explain_lime('lastfm_inn64', "user", item, 8, 'samples = 1000')) AS n FROM pairs500;
SELECT 'unn lime' AS what, count(explain_lime('lastfm_unn64', "user", item, 8, 'samples = 1000')) AS n FROM pairs500;
SELECT 'fm lime' AS what, count(explain_lime('lastfm_fm64', "user", item, 8, 'samples = 1000')) AS n FROM pairs500;
SELECT 'ncf lime' AS what, count(explain_lime('lastfm_ncf64', "user", item, 8, 'samples = 1000')) AS n FROM pairs500;
