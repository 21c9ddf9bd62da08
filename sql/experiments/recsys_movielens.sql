-- The recommender experiment of thesis §5.3.1 / Fig. 5.2 on MovieLens latest-small.
--
-- Ratings (0.5 to 5) are used as interaction values.
-- Per-user holdout of 20 % of each user's interactions (seed 42; every user keeps at least one
-- training row), the seven model types at dim 32, 64 and 128 where the type has a dimension,
-- FM is trained for 5 epochs (lr 0.01) and NCF for 3 (lr 0.001, 1024 hidden units) to keep the
-- run short; top-100 recommendations of unseen items for every user, nDCG@100 with binary relevance of the
-- held-out items (averaged over users with held-out items) and nDiv@100 (eq. 5.13-5.14) over all
-- users' top-100 lists. Results go to results/recsys/movielens.parquet and are printed.
--
-- Run from the repository root:  trustql --models results/recsys/models -f sql/experiments/recsys_movielens.sql

CREATE EXTERNAL TABLE movielens_interactions STORED AS PARQUET
  LOCATION '../shared/data/recsys/movielens-small/interactions.parquet';
CREATE EXTERNAL TABLE movielens_item_tags STORED AS PARQUET
  LOCATION '../shared/data/recsys/movielens-small/item_tags.parquet';

CREATE VIEW movielens_all AS SELECT user_id AS "user", item_id AS item, value FROM movielens_interactions;
CREATE TABLE movielens_split AS SELECT * FROM holdout_split('movielens_all', 0.2, 42);
CREATE VIEW movielens_train AS SELECT "user", item, value AS value FROM movielens_split WHERE NOT test;
CREATE VIEW movielens_test AS SELECT "user", item FROM movielens_split WHERE test;
CREATE VIEW movielens_tags AS SELECT item_id AS item, tag_id AS tag, weight FROM movielens_item_tags;

CREATE OR REPLACE MODEL movielens_inn32 OPTIONS (type = 'inn', dim = 32, tags = 'movielens_tags')
  AS SELECT * FROM movielens_train;
CREATE OR REPLACE MODEL movielens_inn64 OPTIONS (type = 'inn', dim = 64, tags = 'movielens_tags')
  AS SELECT * FROM movielens_train;
CREATE OR REPLACE MODEL movielens_inn128 OPTIONS (type = 'inn', dim = 128, tags = 'movielens_tags')
  AS SELECT * FROM movielens_train;
CREATE OR REPLACE MODEL movielens_unn32 OPTIONS (type = 'unn', dim = 32, tags = 'movielens_tags')
  AS SELECT * FROM movielens_train;
CREATE OR REPLACE MODEL movielens_unn64 OPTIONS (type = 'unn', dim = 64, tags = 'movielens_tags')
  AS SELECT * FROM movielens_train;
CREATE OR REPLACE MODEL movielens_unn128 OPTIONS (type = 'unn', dim = 128, tags = 'movielens_tags')
  AS SELECT * FROM movielens_train;
CREATE OR REPLACE MODEL movielens_fm32 OPTIONS (type = 'fm', dim = 32, tags = 'movielens_tags', seed = 42, epochs = 5)
  AS SELECT * FROM movielens_train;
CREATE OR REPLACE MODEL movielens_fm64 OPTIONS (type = 'fm', dim = 64, tags = 'movielens_tags', seed = 42, epochs = 5)
  AS SELECT * FROM movielens_train;
CREATE OR REPLACE MODEL movielens_fm128 OPTIONS (type = 'fm', dim = 128, tags = 'movielens_tags', seed = 42, epochs = 5)
  AS SELECT * FROM movielens_train;
CREATE OR REPLACE MODEL movielens_ncf32 OPTIONS (type = 'ncf', dim = 32, tags = 'movielens_tags', seed = 42, epochs = 3)
  AS SELECT * FROM movielens_train;
CREATE OR REPLACE MODEL movielens_ncf64 OPTIONS (type = 'ncf', dim = 64, tags = 'movielens_tags', seed = 42, epochs = 3)
  AS SELECT * FROM movielens_train;
CREATE OR REPLACE MODEL movielens_ncf128 OPTIONS (type = 'ncf', dim = 128, tags = 'movielens_tags', seed = 42, epochs = 3)
  AS SELECT * FROM movielens_train;
CREATE OR REPLACE MODEL movielens_wrmf32 OPTIONS (type = 'wrmf', dim = 32, seed = 42)
  AS SELECT * FROM movielens_train;
CREATE OR REPLACE MODEL movielens_wrmf64 OPTIONS (type = 'wrmf', dim = 64, seed = 42)
  AS SELECT * FROM movielens_train;
CREATE OR REPLACE MODEL movielens_wrmf128 OPTIONS (type = 'wrmf', dim = 128, seed = 42)
  AS SELECT * FROM movielens_train;
CREATE OR REPLACE MODEL movielens_mostpop OPTIONS (type = 'mostpop')
  AS SELECT * FROM movielens_train;
CREATE OR REPLACE MODEL movielens_random OPTIONS (type = 'random', seed = 42)
  AS SELECT * FROM movielens_train;

CREATE TABLE movielens_recs AS
  SELECT 'inn' AS recsys, 32 AS dim, "user", item, rank FROM recommend('movielens_inn32', 100)
UNION ALL
  SELECT 'inn' AS recsys, 64 AS dim, "user", item, rank FROM recommend('movielens_inn64', 100)
UNION ALL
  SELECT 'inn' AS recsys, 128 AS dim, "user", item, rank FROM recommend('movielens_inn128', 100)
UNION ALL
  SELECT 'unn' AS recsys, 32 AS dim, "user", item, rank FROM recommend('movielens_unn32', 100)
UNION ALL
  SELECT 'unn' AS recsys, 64 AS dim, "user", item, rank FROM recommend('movielens_unn64', 100)
UNION ALL
  SELECT 'unn' AS recsys, 128 AS dim, "user", item, rank FROM recommend('movielens_unn128', 100)
UNION ALL
  SELECT 'fm' AS recsys, 32 AS dim, "user", item, rank FROM recommend('movielens_fm32', 100)
UNION ALL
  SELECT 'fm' AS recsys, 64 AS dim, "user", item, rank FROM recommend('movielens_fm64', 100)
UNION ALL
  SELECT 'fm' AS recsys, 128 AS dim, "user", item, rank FROM recommend('movielens_fm128', 100)
UNION ALL
  SELECT 'ncf' AS recsys, 32 AS dim, "user", item, rank FROM recommend('movielens_ncf32', 100)
UNION ALL
  SELECT 'ncf' AS recsys, 64 AS dim, "user", item, rank FROM recommend('movielens_ncf64', 100)
UNION ALL
  SELECT 'ncf' AS recsys, 128 AS dim, "user", item, rank FROM recommend('movielens_ncf128', 100)
UNION ALL
  SELECT 'wrmf' AS recsys, 32 AS dim, "user", item, rank FROM recommend('movielens_wrmf32', 100)
UNION ALL
  SELECT 'wrmf' AS recsys, 64 AS dim, "user", item, rank FROM recommend('movielens_wrmf64', 100)
UNION ALL
  SELECT 'wrmf' AS recsys, 128 AS dim, "user", item, rank FROM recommend('movielens_wrmf128', 100)
UNION ALL
  SELECT 'mostpop' AS recsys, CAST(NULL AS BIGINT) AS dim, "user", item, rank FROM recommend('movielens_mostpop', 100)
UNION ALL
  SELECT 'random' AS recsys, CAST(NULL AS BIGINT) AS dim, "user", item, rank FROM recommend('movielens_random', 100);

CREATE TABLE movielens_results AS
SELECT 'MovieLens latest-small' AS dataset, a.recsys, a.dim, a.ndcg, d.ndiv, a.users
FROM (
  SELECT recsys, dim, avg(ndcg(rec, rel, 100)) AS ndcg, count(*) AS users
  FROM (SELECT recsys, dim, "user", array_agg(item ORDER BY rank) AS rec
        FROM movielens_recs GROUP BY recsys, dim, "user") r
  JOIN (SELECT "user", array_agg(item) AS rel FROM movielens_test GROUP BY "user") t USING ("user")
  GROUP BY recsys, dim
) a
JOIN (SELECT recsys, dim, ndiv(item) AS ndiv FROM movielens_recs GROUP BY recsys, dim) d
  ON a.recsys = d.recsys AND a.dim IS NOT DISTINCT FROM d.dim;

COPY (SELECT * FROM movielens_results ORDER BY recsys, dim) TO 'results/recsys/movielens.parquet' STORED AS PARQUET;

SELECT recsys, dim, round(ndcg, 4) AS ndcg, round(ndiv, 4) AS ndiv, users
FROM movielens_results ORDER BY ndcg DESC;

-- Figures (from the saved results; scripts/figures.sh redraws them without rerunning the experiment)
-- Thesis Fig. 5.2: accuracy (nDCG@100) and diversity (nDiv@100) per recommender and dimension.
COPY (
  SELECT recsys, CASE WHEN dim IS NULL THEN 'none' ELSE CAST(dim AS VARCHAR) END AS dimension, measure, value
  FROM (SELECT recsys, dim, 'nDCG@100' AS measure, ndcg AS value FROM 'results/recsys/movielens.parquet'
        UNION ALL SELECT recsys, dim, 'nDiv@100', ndiv FROM 'results/recsys/movielens.parquet')
  ORDER BY recsys, dim NULLS FIRST, measure)
  TO 'figures/fig5_2_movielens.png'
  (FORMAT plot, kind 'bar', x 'recsys', y 'value', color 'dimension', facet_col 'measure',
   x_label 'recommender', y_label '', title 'Recommenders on MovieLens latest-small (thesis Fig. 5.2)');
