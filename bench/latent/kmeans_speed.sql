-- trustql's side of the k-means benchmark (bench/latent/kmeans_run.sh): one `kmeans` model on
-- the seeded vectors that bench/latent/kmeans_vs_sklearn.py wrote, with the algorithm's options in
-- ${options}: Lloyd's algorithm (k-means++, max_iter 300, tolerance 1e-4) or mini-batch k-means
-- (batch_size, max_iter epochs, scikit-learn's defaults otherwise); then what the model reports.
-- Its time is the model's "training seconds" (reading the vectors from the table, sorting them and
-- the fit).
--
--   trustql --format csv --models target/bench-results/kmeans_models -v out=target/bench-results -v data=mixture -v k=64 -v seed=1 -v "options=batch_size = 1024, max_iter = 100" -f bench/latent/kmeans_speed.sql

CREATE EXTERNAL TABLE kmeans_pq STORED AS PARQUET LOCATION '${out}/kmeans_${data}.parquet';
CREATE TABLE frames AS SELECT vector FROM kmeans_pq;

CREATE OR REPLACE MODEL bench_kmeans OPTIONS (type = 'kmeans', k = ${k}, seed = ${seed}, ${options})
  AS SELECT vector FROM frames;

SELECT property, value FROM model_info('bench_kmeans')
  WHERE property IN ('inertia', 'iterations', 'mini-batch steps', 'training: training seconds', 'stopped by', 'vectors');
