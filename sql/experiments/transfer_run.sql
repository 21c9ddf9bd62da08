-- One run of the transferability experiment (thesis §2.4.4): learn the run's representation from
-- its learning sources (or concatenate SS-R models, or compute a baseline), represent every target
-- clip by [mean ‖ std] over its 2.5 s slices, and evaluate it on every target task with
-- five seeded 80/20 splits (the thesis' five): an MLP (two hidden layers of 256 ReLU units, Adam,
-- mlp_epochs epochs: the thesis' 200) per classification (accuracy) and regression (R²) target, and
-- the cold-start recommender of eq. 2.7-2.9 (content_wrmf, nDCG@500) on the recommendation target. Writes
-- ${dir}/scores/${run}.parquet (run, target, metric, repetition, score) last, so a run whose file
-- exists is finished and a stopped run is redone from its start (its model, once trained, is kept
-- in the model store and not trained again).
--
-- Variables (scripts/transfer_experiment.sh sets them from design.csv): dir, run, train (the
-- training include: net, concat or mfcc), options (the mtl_cnn options of the run, with its
-- epochs), models (for concat), width, batch_size, run_seed, mlp_epochs, rec_users, seed.

CREATE EXTERNAL TABLE learn STORED AS PARQUET LOCATION '${dir}/learn.parquet';
CREATE EXTERNAL TABLE targets STORED AS PARQUET LOCATION '${dir}/targets.parquet';
CREATE EXTERNAL TABLE listens STORED AS PARQUET LOCATION '${dir}/listens.parquet';

\i common/transfer_train_${train}.sql

-- Every target clip's features, once.
CREATE TABLE features AS
  SELECT t.target, t.kind, t.label, t.value, t.clip, f.features
  FROM targets t JOIN clip_features f ON t.clip = f.clip;
SELECT target, count(*) AS clips, min(cardinality(features)) AS dim FROM features GROUP BY target ORDER BY target;

CREATE TABLE scores (run VARCHAR, target VARCHAR, metric VARCHAR, repetition BIGINT, score DOUBLE);
\set repetition 1
\i common/transfer_eval.sql
\set repetition 2
\i common/transfer_eval.sql
\set repetition 3
\i common/transfer_eval.sql
\set repetition 4
\i common/transfer_eval.sql
\set repetition 5
\i common/transfer_eval.sql

SELECT target, metric, count(*) AS repetitions, round(avg(score), 4) AS mean, round(stddev(score), 4) AS sd
FROM scores GROUP BY target, metric ORDER BY target;
COPY (SELECT * FROM scores ORDER BY target, repetition) TO '${dir}/scores/${run}.parquet' STORED AS PARQUET;
