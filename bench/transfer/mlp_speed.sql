-- trustql's side of the transfer benchmark (bench/transfer/run.sh): the MLP of thesis §2.4.4
-- (two hidden layers of 256 ReLU units, Adam, lr 0.001, L2 1e-4, mini-batches of 200,
-- standardised inputs) trained for all 200 epochs (n_iter_no_change = 200 turns the tol stop
-- off, as in the scikit-learn run) on the seeded data of bench/transfer/mlp_vs_sklearn.py, then
-- its test accuracy. The CLI prints the training progress, whose last line gives the time.
--
--   trustql --models target/bench-results/transfer_models -v out=target/bench-results -f bench/transfer/mlp_speed.sql

CREATE EXTERNAL TABLE train_pq STORED AS PARQUET LOCATION '${out}/transfer_train.parquet';
CREATE EXTERNAL TABLE test_pq STORED AS PARQUET LOCATION '${out}/transfer_test.parquet';
CREATE TABLE train AS SELECT * FROM train_pq;
CREATE TABLE test AS SELECT * FROM test_pq;

CREATE OR REPLACE MODEL bench_mlp OPTIONS (type = 'mlp', task = 'classify', hidden = '256,256', epochs = 200, lr = 0.001, batch_size = 200, l2 = 0.0001, n_iter_no_change = 200, seed = 1)
  AS SELECT features, label FROM train;

SELECT accuracy(label, predict('bench_mlp', features)) AS test_accuracy FROM test;
