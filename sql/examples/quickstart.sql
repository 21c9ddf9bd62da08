-- trustql quickstart: how mainstream are Last.fm listeners?
--
-- For every listener of HetRec 2011 Last.fm 2K we compare two rankings of the artists they play:
-- their own play counts, and global popularity (the number of listeners an artist has, from a
-- `mostpop` model). Kendall's tau_b and Spearman's rho weigh every position alike; the AP
-- correlation tau_AP,b (Urbano & Marrero 2017) weighs agreement at the top of the ranking most,
-- the measure the thesis uses for explanation fidelity. Run from the repository root:
--     trustql -f sql/examples/quickstart.sql

CREATE EXTERNAL TABLE plays STORED AS PARQUET
  LOCATION '../shared/data/recsys/lastfm-2k/interactions.parquet';
CREATE EXTERNAL TABLE artists STORED AS PARQUET
  LOCATION '../shared/data/recsys/lastfm-2k/items.parquet';

-- The data: users, artists, play counts.
SELECT count(DISTINCT user_id) AS users, count(DISTINCT item_id) AS artists,
       count(*) AS user_artist_pairs, sum(value) AS plays
FROM plays;

-- A popularity model, saved in the model store (./.trustql/models) for later sessions.
CREATE OR REPLACE MODEL lastfm_pop OPTIONS (type = 'mostpop')
  AS SELECT user_id AS "user", item_id AS item, value FROM plays;

DESCRIBE MODEL lastfm_pop;

-- The most popular artists, as the model scores them.
SELECT a.title AS artist, score('lastfm_pop', 2, a.item_id) AS listeners
FROM artists a
ORDER BY listeners DESC NULLS LAST, artist
LIMIT 5;

-- Per listener: how well does global popularity rank the artists they play?
CREATE VIEW agreement AS
SELECT user_id,
       count(*) AS artists,
       kendall_tau_b_agg(value, score('lastfm_pop', user_id, item_id)) AS kendall_tau_b,
       spearman_agg(value, score('lastfm_pop', user_id, item_id)) AS spearman,
       tau_ap_b_agg(value, score('lastfm_pop', user_id, item_id)) AS tau_ap_b
FROM plays
GROUP BY user_id
HAVING count(*) >= 20;

-- How the agreement is distributed over listeners (top-weighted tau_AP,b against plain tau_b).
SELECT count(*) AS listeners,
       round(avg(kendall_tau_b), 3) AS mean_tau_b,
       round(avg(spearman), 3) AS mean_rho,
       round(avg(tau_ap_b), 3) AS mean_tau_ap_b,
       round(approx_percentile_cont(0.1) WITHIN GROUP (ORDER BY tau_ap_b), 3) AS p10_tau_ap_b,
       round(approx_percentile_cont(0.9) WITHIN GROUP (ORDER BY tau_ap_b), 3) AS p90_tau_ap_b,
       round(avg(CASE WHEN tau_ap_b < kendall_tau_b THEN 1.0 ELSE 0.0 END), 3) AS share_top_less_mainstream
FROM agreement;

-- The most and the least mainstream listeners, by the top-weighted measure. (A listener at -1 plays
-- most often artists nobody else plays; tau_AP,b counts ties as disagreement.)
SELECT * FROM (
(SELECT 'most' AS mainstream, user_id, artists, round(tau_ap_b, 3) AS tau_ap_b, round(kendall_tau_b, 3) AS tau_b
 FROM agreement ORDER BY tau_ap_b DESC LIMIT 3)
UNION ALL
(SELECT 'least', user_id, artists, round(tau_ap_b, 3), round(kendall_tau_b, 3)
 FROM agreement ORDER BY tau_ap_b ASC LIMIT 3))
ORDER BY tau_ap_b DESC;

-- The list forms work on arrays: one listener's top 10 artists, by their plays and by popularity.
SELECT user_id,
       round(tau_ap_b(array_agg(value ORDER BY value DESC), array_agg(pop ORDER BY value DESC)), 3) AS tau_ap_b_top10,
       round(kendall_tau_b(array_agg(value ORDER BY value DESC), array_agg(pop ORDER BY value DESC)), 3) AS tau_b_top10
FROM (SELECT user_id, value, score('lastfm_pop', user_id, item_id) AS pop,
             row_number() OVER (PARTITION BY user_id ORDER BY value DESC) AS r
      FROM plays WHERE user_id IN (2, 3, 4))
WHERE r <= 10
GROUP BY user_id
ORDER BY user_id;
