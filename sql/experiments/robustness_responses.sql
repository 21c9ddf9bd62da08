-- The responses of thesis ch. 4's GAM analysis (robustness_gam.sql), from the deep robustness
-- experiment's results: one row per (measure, task, transformation, magnitude, trial) in
-- ${out}/responses.csv (text, so that R reads it too: scripts/r_references/gam_references.R),
-- for the ten consistency measures and task performance. Run by scripts/robustness_experiment.sh
-- after robustness_deep.sql and performance_deep.sql, or by hand from the repository root:
--   trustql -v results=results/robustness -v out=experiments/robustness \
--     -f sql/experiments/robustness_responses.sql
-- The choices (trials, magnitude scale, standardisation) are described in robustness_gam.sql.
SET datafusion.execution.batch_size = 8192;

CREATE EXTERNAL TABLE distances STORED AS PARQUET LOCATION '${results}/deep_distances.parquet';
CREATE EXTERNAL TABLE performance_raw STORED AS PARQUET LOCATION '${results}/deep_performance.parquet';

-- The trials and the magnitude scale.
CREATE TABLE trials AS
  SELECT clip, CAST((row_number() OVER (ORDER BY clip) - 1) % 4 + 1 AS BIGINT) AS trial
  FROM (SELECT DISTINCT point AS clip FROM distances);
SELECT trial, count(*) AS clips, min(clip) AS first_clip FROM trials GROUP BY trial ORDER BY trial;
CREATE TABLE magnitudes AS
  SELECT transform, magnitude,
    (magnitude - min(magnitude) OVER (PARTITION BY transform))
      / (max(magnitude) OVER (PARTITION BY transform) - min(magnitude) OVER (PARTITION BY transform)) AS m01,
    CAST(rank() OVER (PARTITION BY transform ORDER BY magnitude) - 1 AS DOUBLE)
      / (count(*) OVER (PARTITION BY transform) - 1) AS r01
  FROM (SELECT DISTINCT transform, magnitude FROM distances);

-- Consistency per (task, transformation, magnitude, trial); one bootstrap resample each (the
-- intervals are not used here).
CREATE TABLE trial_consistency AS
  SELECT d.encoder AS task, d.transform AS transformation, d.magnitude, t.trial,
    within_consistency(d.point, d.original, d.candidate, d.euclidean, 1)['value'] AS cw_euclidean,
    within_consistency(d.point, d.original, d.candidate, d.cosine, 1)['value'] AS cw_cosine,
    between_consistency(d.point, d.original, d.candidate, d.dtw, d.euclidean, 1) AS dtw_euclidean,
    between_consistency(d.point, d.original, d.candidate, d.dtw, d.cosine, 1) AS dtw_cosine,
    between_consistency(d.point, d.original, d.candidate, d.simple, d.euclidean, 1) AS simple_euclidean,
    between_consistency(d.point, d.original, d.candidate, d.simple, d.cosine, 1) AS simple_cosine
  FROM distances d JOIN trials t ON d.point = t.clip
  GROUP BY d.encoder, d.transform, d.magnitude, t.trial;

-- Performance per (task, transformation, magnitude, chorale), standardised within task.
CREATE TABLE performance AS
  SELECT task, transform, magnitude, bwv, CASE WHEN task = 'AE' THEN -value ELSE value END AS value
  FROM performance_raw
  WHERE transform <> 'original' AND measure IN ('MSE', 'AUC', 'accuracy', 'SDR (dB)');
CREATE TABLE performance_z AS
  SELECT p.task, p.transform, p.magnitude,
    CAST(dense_rank() OVER (PARTITION BY p.task ORDER BY p.bwv) AS BIGINT) AS trial,
    (p.value - s.mean) / s.sd AS value
  FROM performance p
  JOIN (SELECT task, avg(value) AS mean, stddev(value) AS sd FROM performance GROUP BY task) s
    ON p.task = s.task;

-- Every response in one long table: measure, task, transformation, magnitude, m01, r01, trial, value.
CREATE TABLE responses AS
  WITH c AS (SELECT * FROM trial_consistency)
  SELECT r.measure, r.task, r.transformation, r.magnitude, m.m01, m.r01, r.trial, r.value
  FROM (
    SELECT 'cw_euclidean' AS measure, task, transformation, magnitude, trial, cw_euclidean AS value FROM c
    UNION ALL SELECT 'cw_cosine', task, transformation, magnitude, trial, cw_cosine FROM c
    UNION ALL SELECT 'cb_acc_dtw_euclidean', task, transformation, magnitude, trial, dtw_euclidean['accuracy'] FROM c
    UNION ALL SELECT 'cb_acc_dtw_cosine', task, transformation, magnitude, trial, dtw_cosine['accuracy'] FROM c
    UNION ALL SELECT 'cb_acc_simple_euclidean', task, transformation, magnitude, trial, simple_euclidean['accuracy'] FROM c
    UNION ALL SELECT 'cb_acc_simple_cosine', task, transformation, magnitude, trial, simple_cosine['accuracy'] FROM c
    UNION ALL SELECT 'cb_rho_dtw_euclidean', task, transformation, magnitude, trial, dtw_euclidean['rho'] FROM c
    UNION ALL SELECT 'cb_rho_dtw_cosine', task, transformation, magnitude, trial, dtw_cosine['rho'] FROM c
    UNION ALL SELECT 'cb_rho_simple_euclidean', task, transformation, magnitude, trial, simple_euclidean['rho'] FROM c
    UNION ALL SELECT 'cb_rho_simple_cosine', task, transformation, magnitude, trial, simple_cosine['rho'] FROM c
    UNION ALL SELECT 'performance', task, transform, magnitude, trial, value FROM performance_z
  ) r JOIN magnitudes m ON r.transformation = m.transform AND r.magnitude = m.magnitude;
SELECT measure, count(*) AS rows, count(DISTINCT task) AS tasks, count(DISTINCT trial) AS trials,
  round(avg(value), 3) AS mean
FROM responses GROUP BY measure ORDER BY measure;
COPY (SELECT * FROM responses ORDER BY measure, task, transformation, magnitude, trial)
  TO '${out}/responses.csv' STORED AS CSV OPTIONS ('format.has_header' 'true');

