-- trustql's side of the k-means benchmark (bench/latent/kmeans_run.sh): Lloyd's algorithm
-- (k-means++, max_iter 300, tolerance 1e-4) and mini-batch k-means (batches of ${batch},
-- max_iter ${mini_iter} epochs, scikit-learn's defaults otherwise) on the seeded vectors that
-- bench/latent/kmeans_vs_sklearn.py wrote, then what the two models report. The time of each is
-- its "training seconds" (reading the vectors from the table, sorting them and the fit).
--
--   trustql --format csv --models target/bench-results/kmeans_models -v out=target/bench-results -v data=mixture -v k=64 -v batch=1024 -v mini_iter=100 -v seed=1 -f bench/latent/kmeans_speed.sql

CREATE EXTERNAL TABLE kmeans_pq STORED AS PARQUET LOCATION '${out}/kmeans_${data}.parquet';
CREATE TABLE frames AS SELECT vector FROM kmeans_pq;

CREATE OR REPLACE MODEL bench_lloyd OPTIONS (type = 'kmeans', k = ${k}, init = 'k-means++', max_iter = 300, tolerance = 1e-4, seed = ${seed})
  AS SELECT vector FROM frames;

CREATE OR REPLACE MODEL bench_mini OPTIONS (type = 'kmeans', k = ${k}, batch_size = ${batch}, max_iter = ${mini_iter}, seed = ${seed})
  AS SELECT vector FROM frames;

SELECT 'lloyd' AS run, property, value FROM model_info('bench_lloyd')
  WHERE property IN ('inertia', 'iterations', 'training: training seconds', 'stopped by', 'vectors')
UNION ALL
SELECT 'minibatch' AS run, property, value FROM model_info('bench_mini')
  WHERE property IN ('inertia', 'iterations', 'mini-batch steps', 'training: training seconds', 'stopped by', 'vectors');
