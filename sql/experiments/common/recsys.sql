-- The recommender experiment of thesis §5.3.1 / Fig. 5.2, for one data set: the statements that
-- recsys_lastfm.sql and recsys_movielens.sql share. Run one of those; they set the variables:
--   dataset        prefix of the tables and models, and name of the results (lastfm)
--   data_dir       the data set's directory under ../shared/data/recsys (lastfm-2k)
--   train_value    the value models see, from the column `value` (ln(1 + value))
--   dataset_label  the `dataset` column of the results (Last.fm 2K (HetRec 2011))
--
-- Per-user holdout of 20 % of each user's interactions (seed 42; every user keeps at least one
-- training row), the seven model types at dim 32, 64 and 128 where the type has a dimension,
-- FM is trained for 5 epochs (lr 0.01) and NCF for 3 (lr 0.001, 1024 hidden units) to keep the
-- run short; top-100 recommendations of unseen items for every user, nDCG@100 with binary relevance of the
-- held-out items (averaged over users with held-out items) and nDiv@100 (eq. 5.13-5.14) over all
-- users' top-100 lists. Results go to results/recsys/<dataset>.parquet and are printed. The figure
-- is drawn by the "-- Figures" section at the end of each entry script, which scripts/figures.sh
-- also runs on its own (so it names its files without variables).

CREATE EXTERNAL TABLE ${dataset}_interactions STORED AS PARQUET
  LOCATION '../shared/data/recsys/${data_dir}/interactions.parquet';
CREATE EXTERNAL TABLE ${dataset}_item_tags STORED AS PARQUET
  LOCATION '../shared/data/recsys/${data_dir}/item_tags.parquet';

CREATE VIEW ${dataset}_all AS SELECT user_id AS "user", item_id AS item, value FROM ${dataset}_interactions;
CREATE TABLE ${dataset}_split AS SELECT * FROM holdout_split('${dataset}_all', 0.2, 42);
CREATE VIEW ${dataset}_train AS SELECT "user", item, ${train_value} AS value FROM ${dataset}_split WHERE NOT test;
CREATE VIEW ${dataset}_test AS SELECT "user", item FROM ${dataset}_split WHERE test;
CREATE VIEW ${dataset}_tags AS SELECT item_id AS item, tag_id AS tag, weight FROM ${dataset}_item_tags;

CREATE OR REPLACE MODEL ${dataset}_inn32 OPTIONS (type = 'inn', dim = 32, tags = '${dataset}_tags')
  AS SELECT * FROM ${dataset}_train;
CREATE OR REPLACE MODEL ${dataset}_inn64 OPTIONS (type = 'inn', dim = 64, tags = '${dataset}_tags')
  AS SELECT * FROM ${dataset}_train;
CREATE OR REPLACE MODEL ${dataset}_inn128 OPTIONS (type = 'inn', dim = 128, tags = '${dataset}_tags')
  AS SELECT * FROM ${dataset}_train;
CREATE OR REPLACE MODEL ${dataset}_unn32 OPTIONS (type = 'unn', dim = 32, tags = '${dataset}_tags')
  AS SELECT * FROM ${dataset}_train;
CREATE OR REPLACE MODEL ${dataset}_unn64 OPTIONS (type = 'unn', dim = 64, tags = '${dataset}_tags')
  AS SELECT * FROM ${dataset}_train;
CREATE OR REPLACE MODEL ${dataset}_unn128 OPTIONS (type = 'unn', dim = 128, tags = '${dataset}_tags')
  AS SELECT * FROM ${dataset}_train;
CREATE OR REPLACE MODEL ${dataset}_fm32 OPTIONS (type = 'fm', dim = 32, tags = '${dataset}_tags', seed = 42, epochs = 5)
  AS SELECT * FROM ${dataset}_train;
CREATE OR REPLACE MODEL ${dataset}_fm64 OPTIONS (type = 'fm', dim = 64, tags = '${dataset}_tags', seed = 42, epochs = 5)
  AS SELECT * FROM ${dataset}_train;
CREATE OR REPLACE MODEL ${dataset}_fm128 OPTIONS (type = 'fm', dim = 128, tags = '${dataset}_tags', seed = 42, epochs = 5)
  AS SELECT * FROM ${dataset}_train;
CREATE OR REPLACE MODEL ${dataset}_ncf32 OPTIONS (type = 'ncf', dim = 32, tags = '${dataset}_tags', seed = 42, epochs = 3)
  AS SELECT * FROM ${dataset}_train;
CREATE OR REPLACE MODEL ${dataset}_ncf64 OPTIONS (type = 'ncf', dim = 64, tags = '${dataset}_tags', seed = 42, epochs = 3)
  AS SELECT * FROM ${dataset}_train;
CREATE OR REPLACE MODEL ${dataset}_ncf128 OPTIONS (type = 'ncf', dim = 128, tags = '${dataset}_tags', seed = 42, epochs = 3)
  AS SELECT * FROM ${dataset}_train;
CREATE OR REPLACE MODEL ${dataset}_wrmf32 OPTIONS (type = 'wrmf', dim = 32, seed = 42)
  AS SELECT * FROM ${dataset}_train;
CREATE OR REPLACE MODEL ${dataset}_wrmf64 OPTIONS (type = 'wrmf', dim = 64, seed = 42)
  AS SELECT * FROM ${dataset}_train;
CREATE OR REPLACE MODEL ${dataset}_wrmf128 OPTIONS (type = 'wrmf', dim = 128, seed = 42)
  AS SELECT * FROM ${dataset}_train;
CREATE OR REPLACE MODEL ${dataset}_mostpop OPTIONS (type = 'mostpop')
  AS SELECT * FROM ${dataset}_train;
CREATE OR REPLACE MODEL ${dataset}_random OPTIONS (type = 'random', seed = 42)
  AS SELECT * FROM ${dataset}_train;

CREATE TABLE ${dataset}_recs AS
  SELECT 'inn' AS recsys, 32 AS dim, "user", item, rank FROM recommend('${dataset}_inn32', 100)
UNION ALL
  SELECT 'inn' AS recsys, 64 AS dim, "user", item, rank FROM recommend('${dataset}_inn64', 100)
UNION ALL
  SELECT 'inn' AS recsys, 128 AS dim, "user", item, rank FROM recommend('${dataset}_inn128', 100)
UNION ALL
  SELECT 'unn' AS recsys, 32 AS dim, "user", item, rank FROM recommend('${dataset}_unn32', 100)
UNION ALL
  SELECT 'unn' AS recsys, 64 AS dim, "user", item, rank FROM recommend('${dataset}_unn64', 100)
UNION ALL
  SELECT 'unn' AS recsys, 128 AS dim, "user", item, rank FROM recommend('${dataset}_unn128', 100)
UNION ALL
  SELECT 'fm' AS recsys, 32 AS dim, "user", item, rank FROM recommend('${dataset}_fm32', 100)
UNION ALL
  SELECT 'fm' AS recsys, 64 AS dim, "user", item, rank FROM recommend('${dataset}_fm64', 100)
UNION ALL
  SELECT 'fm' AS recsys, 128 AS dim, "user", item, rank FROM recommend('${dataset}_fm128', 100)
UNION ALL
  SELECT 'ncf' AS recsys, 32 AS dim, "user", item, rank FROM recommend('${dataset}_ncf32', 100)
UNION ALL
  SELECT 'ncf' AS recsys, 64 AS dim, "user", item, rank FROM recommend('${dataset}_ncf64', 100)
UNION ALL
  SELECT 'ncf' AS recsys, 128 AS dim, "user", item, rank FROM recommend('${dataset}_ncf128', 100)
UNION ALL
  SELECT 'wrmf' AS recsys, 32 AS dim, "user", item, rank FROM recommend('${dataset}_wrmf32', 100)
UNION ALL
  SELECT 'wrmf' AS recsys, 64 AS dim, "user", item, rank FROM recommend('${dataset}_wrmf64', 100)
UNION ALL
  SELECT 'wrmf' AS recsys, 128 AS dim, "user", item, rank FROM recommend('${dataset}_wrmf128', 100)
UNION ALL
  SELECT 'mostpop' AS recsys, CAST(NULL AS BIGINT) AS dim, "user", item, rank FROM recommend('${dataset}_mostpop', 100)
UNION ALL
  SELECT 'random' AS recsys, CAST(NULL AS BIGINT) AS dim, "user", item, rank FROM recommend('${dataset}_random', 100);

CREATE TABLE ${dataset}_results AS
SELECT '${dataset_label}' AS dataset, a.recsys, a.dim, a.ndcg, d.ndiv, a.users
FROM (
  SELECT recsys, dim, avg(ndcg(rec, rel, 100)) AS ndcg, count(*) AS users
  FROM (SELECT recsys, dim, "user", array_agg(item ORDER BY rank) AS rec
        FROM ${dataset}_recs GROUP BY recsys, dim, "user") r
  JOIN (SELECT "user", array_agg(item) AS rel FROM ${dataset}_test GROUP BY "user") t USING ("user")
  GROUP BY recsys, dim
) a
JOIN (SELECT recsys, dim, ndiv(item) AS ndiv FROM ${dataset}_recs GROUP BY recsys, dim) d
  ON a.recsys = d.recsys AND a.dim IS NOT DISTINCT FROM d.dim;

COPY (SELECT * FROM ${dataset}_results ORDER BY recsys, dim) TO 'results/recsys/${dataset}.parquet' STORED AS PARQUET;

SELECT recsys, dim, round(ndcg, 4) AS ndcg, round(ndiv, 4) AS ndiv, users
FROM ${dataset}_results ORDER BY ndcg DESC;
