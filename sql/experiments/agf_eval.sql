-- The transfer evaluation of one representation (thesis ch. 3, §3.3.2 "Transfer method"; see
-- ../scripts/agf_experiment.sh): an MLP with one hidden layer (mlp_hidden units) trained on the
-- segment features of the training tracks with their genre, then each validation track's genre
-- probabilities averaged over its segments (the thesis' inference step): the log loss of the
-- true genre and the macro F1 of the most probable genre over the validation tracks. Writes
-- ${dir}/scores/${run}.parquet last (a run whose file exists is finished).
-- Variables: dir, run, architecture (stn | mtn | wstn), tasks (letters), n_tasks (for a wSTN: the
-- number of tasks whose parameters it matches), parameters, features (a query giving track, seg,
-- features: one network's table f_<network>, or several STNs' joined and concatenated),
-- mlp_hidden, mlp_epochs, seed.
--
-- The thesis' MLP has ELU units and 50 % dropout on its input and hidden layer; trustql's mlp
-- (scikit-learn's MLPClassifier) has ReLU units and an L2 penalty instead (l2 = 1e-4, its
-- default), so the transfer step is the same in shape, not in regularisation.

CREATE EXTERNAL TABLE agf STORED AS PARQUET LOCATION '${dir}/agf.parquet';
CREATE TABLE segs AS
  SELECT f.track, f.seg, f.features, a.genre, a.split FROM (${features}) f JOIN agf a ON f.track = a.track;

CREATE OR REPLACE MODEL eval_${run} OPTIONS (type = 'mlp', task = 'classify', hidden = '${mlp_hidden}',
    epochs = ${mlp_epochs}, seed = ${seed})
  AS SELECT features, genre AS label FROM segs WHERE split = 'train';

-- The model's classes are the training genres in sorted order, as predict_proba lists them.
CREATE TABLE classes AS
  SELECT genre, row_number() OVER (ORDER BY genre) AS ci FROM (SELECT DISTINCT genre FROM segs WHERE split = 'train');
CREATE TABLE track_proba AS
  SELECT track, genre, ci, avg(p) AS p
  FROM (SELECT track, genre, unnest(range(1, CAST(cardinality(pp) AS BIGINT) + 1)) AS ci, unnest(pp) AS p
        FROM (SELECT track, genre, predict_proba('eval_${run}', features) AS pp FROM segs WHERE split = 'valid'))
  GROUP BY track, genre, ci;
CREATE TABLE track_prediction AS
  SELECT b.track, b.genre AS label, c.genre AS predicted, tp.p AS p_true
  FROM (SELECT track, genre, first_value(ci ORDER BY p DESC, ci) AS best FROM track_proba GROUP BY track, genre) b
  JOIN classes c ON b.best = c.ci
  LEFT JOIN classes tc ON b.genre = tc.genre
  LEFT JOIN track_proba tp ON tp.track = b.track AND tp.ci = tc.ci;

COPY (
  SELECT '${run}' AS run, '${architecture}' AS architecture, '${tasks}' AS tasks,
    CAST(${n_tasks} AS BIGINT) AS n_tasks, CAST(${parameters} AS BIGINT) AS parameters,
    count(*) AS tracks, log_loss(coalesce(p_true, 0.0)) AS log_loss,
    f1_macro(label, predicted) AS f1, accuracy(label, predicted) AS accuracy
  FROM track_prediction
) TO '${dir}/scores/${run}.parquet' STORED AS PARQUET;
CREATE EXTERNAL TABLE score STORED AS PARQUET LOCATION '${dir}/scores/${run}.parquet';
SELECT run, tasks, parameters, tracks, round(log_loss, 4) AS log_loss, round(f1, 4) AS f1, round(accuracy, 4) AS accuracy FROM score;
