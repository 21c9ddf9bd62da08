-- The recommender experiment of thesis §5.3.1 / Fig. 5.2 on Last.fm 2K (HetRec 2011).
--
-- Play counts span 1 to 352,698, so models see value = ln(1 + plays).
-- Per-user holdout of 20 % of each user's interactions (seed 42; every user keeps at least one
-- training row), the seven model types at dim 32, 64 and 128 where the type has a dimension,
-- FM is trained for 5 epochs (lr 0.01) and NCF for 3 (lr 0.001, 1024 hidden units) to keep the
-- run short; top-100 recommendations of unseen items for every user, nDCG@100 with binary relevance of the
-- held-out items (averaged over users with held-out items) and nDiv@100 (eq. 5.13-5.14) over all
-- users' top-100 lists. Results go to results/recsys/lastfm.parquet and are printed.
--
-- Run from the repository root:  trustql --models results/recsys/models -f sql/experiments/recsys_lastfm.sql

CREATE EXTERNAL TABLE lastfm_interactions STORED AS PARQUET
  LOCATION '../shared/data/recsys/lastfm-2k/interactions.parquet';
CREATE EXTERNAL TABLE lastfm_item_tags STORED AS PARQUET
  LOCATION '../shared/data/recsys/lastfm-2k/item_tags.parquet';

CREATE VIEW lastfm_all AS SELECT user_id AS "user", item_id AS item, value FROM lastfm_interactions;
CREATE TABLE lastfm_split AS SELECT * FROM holdout_split('lastfm_all', 0.2, 42);
CREATE VIEW lastfm_train AS SELECT "user", item, ln(1 + value) AS value FROM lastfm_split WHERE NOT test;
CREATE VIEW lastfm_test AS SELECT "user", item FROM lastfm_split WHERE test;
CREATE VIEW lastfm_tags AS SELECT item_id AS item, tag_id AS tag, weight FROM lastfm_item_tags;

CREATE OR REPLACE MODEL lastfm_inn32 OPTIONS (type = 'inn', dim = 32, tags = 'lastfm_tags')
  AS SELECT * FROM lastfm_train;
CREATE OR REPLACE MODEL lastfm_inn64 OPTIONS (type = 'inn', dim = 64, tags = 'lastfm_tags')
  AS SELECT * FROM lastfm_train;
CREATE OR REPLACE MODEL lastfm_inn128 OPTIONS (type = 'inn', dim = 128, tags = 'lastfm_tags')
  AS SELECT * FROM lastfm_train;
CREATE OR REPLACE MODEL lastfm_unn32 OPTIONS (type = 'unn', dim = 32, tags = 'lastfm_tags')
  AS SELECT * FROM lastfm_train;
CREATE OR REPLACE MODEL lastfm_unn64 OPTIONS (type = 'unn', dim = 64, tags = 'lastfm_tags')
  AS SELECT * FROM lastfm_train;
CREATE OR REPLACE MODEL lastfm_unn128 OPTIONS (type = 'unn', dim = 128, tags = 'lastfm_tags')
  AS SELECT * FROM lastfm_train;
CREATE OR REPLACE MODEL lastfm_fm32 OPTIONS (type = 'fm', dim = 32, tags = 'lastfm_tags', seed = 42, epochs = 5)
  AS SELECT * FROM lastfm_train;
CREATE OR REPLACE MODEL lastfm_fm64 OPTIONS (type = 'fm', dim = 64, tags = 'lastfm_tags', seed = 42, epochs = 5)
  AS SELECT * FROM lastfm_train;
CREATE OR REPLACE MODEL lastfm_fm128 OPTIONS (type = 'fm', dim = 128, tags = 'lastfm_tags', seed = 42, epochs = 5)
  AS SELECT * FROM lastfm_train;
CREATE OR REPLACE MODEL lastfm_ncf32 OPTIONS (type = 'ncf', dim = 32, tags = 'lastfm_tags', seed = 42, epochs = 3)
  AS SELECT * FROM lastfm_train;
CREATE OR REPLACE MODEL lastfm_ncf64 OPTIONS (type = 'ncf', dim = 64, tags = 'lastfm_tags', seed = 42, epochs = 3)
  AS SELECT * FROM lastfm_train;
CREATE OR REPLACE MODEL lastfm_ncf128 OPTIONS (type = 'ncf', dim = 128, tags = 'lastfm_tags', seed = 42, epochs = 3)
  AS SELECT * FROM lastfm_train;
CREATE OR REPLACE MODEL lastfm_wrmf32 OPTIONS (type = 'wrmf', dim = 32, seed = 42)
  AS SELECT * FROM lastfm_train;
CREATE OR REPLACE MODEL lastfm_wrmf64 OPTIONS (type = 'wrmf', dim = 64, seed = 42)
  AS SELECT * FROM lastfm_train;
CREATE OR REPLACE MODEL lastfm_wrmf128 OPTIONS (type = 'wrmf', dim = 128, seed = 42)
  AS SELECT * FROM lastfm_train;
CREATE OR REPLACE MODEL lastfm_mostpop OPTIONS (type = 'mostpop')
  AS SELECT * FROM lastfm_train;
CREATE OR REPLACE MODEL lastfm_random OPTIONS (type = 'random', seed = 42)
  AS SELECT * FROM lastfm_train;

CREATE TABLE lastfm_recs AS
  SELECT 'inn' AS recsys, 32 AS dim, "user", item, rank FROM recommend('lastfm_inn32', 100)
UNION ALL
  SELECT 'inn' AS recsys, 64 AS dim, "user", item, rank FROM recommend('lastfm_inn64', 100)
UNION ALL
  SELECT 'inn' AS recsys, 128 AS dim, "user", item, rank FROM recommend('lastfm_inn128', 100)
UNION ALL
  SELECT 'unn' AS recsys, 32 AS dim, "user", item, rank FROM recommend('lastfm_unn32', 100)
UNION ALL
  SELECT 'unn' AS recsys, 64 AS dim, "user", item, rank FROM recommend('lastfm_unn64', 100)
UNION ALL
  SELECT 'unn' AS recsys, 128 AS dim, "user", item, rank FROM recommend('lastfm_unn128', 100)
UNION ALL
  SELECT 'fm' AS recsys, 32 AS dim, "user", item, rank FROM recommend('lastfm_fm32', 100)
UNION ALL
  SELECT 'fm' AS recsys, 64 AS dim, "user", item, rank FROM recommend('lastfm_fm64', 100)
UNION ALL
  SELECT 'fm' AS recsys, 128 AS dim, "user", item, rank FROM recommend('lastfm_fm128', 100)
UNION ALL
  SELECT 'ncf' AS recsys, 32 AS dim, "user", item, rank FROM recommend('lastfm_ncf32', 100)
UNION ALL
  SELECT 'ncf' AS recsys, 64 AS dim, "user", item, rank FROM recommend('lastfm_ncf64', 100)
UNION ALL
  SELECT 'ncf' AS recsys, 128 AS dim, "user", item, rank FROM recommend('lastfm_ncf128', 100)
UNION ALL
  SELECT 'wrmf' AS recsys, 32 AS dim, "user", item, rank FROM recommend('lastfm_wrmf32', 100)
UNION ALL
  SELECT 'wrmf' AS recsys, 64 AS dim, "user", item, rank FROM recommend('lastfm_wrmf64', 100)
UNION ALL
  SELECT 'wrmf' AS recsys, 128 AS dim, "user", item, rank FROM recommend('lastfm_wrmf128', 100)
UNION ALL
  SELECT 'mostpop' AS recsys, CAST(NULL AS BIGINT) AS dim, "user", item, rank FROM recommend('lastfm_mostpop', 100)
UNION ALL
  SELECT 'random' AS recsys, CAST(NULL AS BIGINT) AS dim, "user", item, rank FROM recommend('lastfm_random', 100);

CREATE TABLE lastfm_results AS
SELECT 'Last.fm 2K (HetRec 2011)' AS dataset, a.recsys, a.dim, a.ndcg, d.ndiv, a.users
FROM (
  SELECT recsys, dim, avg(ndcg(rec, rel, 100)) AS ndcg, count(*) AS users
  FROM (SELECT recsys, dim, "user", array_agg(item ORDER BY rank) AS rec
        FROM lastfm_recs GROUP BY recsys, dim, "user") r
  JOIN (SELECT "user", array_agg(item) AS rel FROM lastfm_test GROUP BY "user") t USING ("user")
  GROUP BY recsys, dim
) a
JOIN (SELECT recsys, dim, ndiv(item) AS ndiv FROM lastfm_recs GROUP BY recsys, dim) d
  ON a.recsys = d.recsys AND a.dim IS NOT DISTINCT FROM d.dim;

COPY (SELECT * FROM lastfm_results ORDER BY recsys, dim) TO 'results/recsys/lastfm.parquet' STORED AS PARQUET;

SELECT recsys, dim, round(ndcg, 4) AS ndcg, round(ndiv, 4) AS ndiv, users
FROM lastfm_results ORDER BY ndcg DESC;

-- Figures (from the saved results; scripts/figures.sh redraws them without rerunning the experiment)
-- Thesis Fig. 5.2: accuracy (nDCG@100) and diversity (nDiv@100) per recommender and dimension.
COPY (
  SELECT recsys, CASE WHEN dim IS NULL THEN 'none' ELSE CAST(dim AS VARCHAR) END AS dimension, measure, value
  FROM (SELECT recsys, dim, 'nDCG@100' AS measure, ndcg AS value FROM 'results/recsys/lastfm.parquet'
        UNION ALL SELECT recsys, dim, 'nDiv@100', ndiv FROM 'results/recsys/lastfm.parquet')
  ORDER BY recsys, dim NULLS FIRST, measure)
  TO 'figures/fig5_2_lastfm.png'
  (FORMAT plot, kind 'bar', x 'recsys', y 'value', color 'dimension', facet_col 'measure',
   x_label 'recommender', y_label '', title 'Recommenders on Last.fm 2K (thesis Fig. 5.2)');
