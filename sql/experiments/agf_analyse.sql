-- The tables of thesis §3.5 from the finished evaluations of the artist-group-factor experiment
-- (scripts/agf_experiment.sh): every ${dir}/scores/<run>.parquet holds one representation's
-- validation log loss, macro F1 and accuracy. Unfinished runs are simply absent.
CREATE EXTERNAL TABLE scores STORED AS PARQUET LOCATION '${dir}/scores/';

SELECT architecture, count(*) AS evaluations, min(tracks) AS validation_tracks FROM scores GROUP BY architecture ORDER BY architecture;

-- Table 3.4: every set of tasks, STN (concatenated single-task networks) and MTN (conv1 shared).
SELECT s.tasks, round(s.log_loss, 4) AS stn_log_loss, round(s.f1, 4) AS stn_f1,
  round(m.log_loss, 4) AS mtn_log_loss, round(m.f1, 4) AS mtn_f1, s.parameters AS stn_parameters,
  m.parameters AS mtn_parameters
FROM (SELECT * FROM scores WHERE architecture = 'stn') s
  LEFT JOIN (SELECT * FROM scores WHERE architecture = 'mtn') m ON s.tasks = m.tasks
ORDER BY s.n_tasks, strpos('gsedm', substr(s.tasks, 1, 1)), s.tasks;

-- Table 3.3: mean performance of the sets with and without the genre task (MTNs: sets of two or
-- more tasks; STNs: all sets, and in brackets the sets of two or more).
SELECT CASE WHEN strpos(tasks, 'g') > 0 THEN 'with g' ELSE 'without g' END AS sets,
  round(avg(CASE WHEN architecture = 'stn' THEN log_loss END), 4) AS stn_log_loss,
  round(avg(CASE WHEN architecture = 'stn' AND n_tasks >= 2 THEN log_loss END), 4) AS stn_log_loss_n2,
  round(avg(CASE WHEN architecture = 'mtn' THEN log_loss END), 4) AS mtn_log_loss,
  round(avg(CASE WHEN architecture = 'stn' THEN f1 END), 4) AS stn_f1,
  round(avg(CASE WHEN architecture = 'stn' AND n_tasks >= 2 THEN f1 END), 4) AS stn_f1_n2,
  round(avg(CASE WHEN architecture = 'mtn' THEN f1 END), 4) AS mtn_f1
FROM scores WHERE architecture IN ('stn', 'mtn') GROUP BY 1 ORDER BY 1 DESC;

-- Figure 3.3: mean performance by the number of tasks.
SELECT n_tasks, architecture, count(*) AS sets, round(avg(log_loss), 4) AS log_loss, round(avg(f1), 4) AS f1
FROM scores WHERE architecture IN ('stn', 'mtn') GROUP BY n_tasks, architecture ORDER BY n_tasks, architecture;

-- Table 3.5: the wide genre network against the best STN and MTN set of the same number of tasks
-- (best log loss and best F1 taken separately, as the thesis reports them).
SELECT w.n_tasks AS n, round(w.log_loss, 4) AS wstn_log_loss, round(min(s.log_loss), 4) AS stn_log_loss,
  round(min(m.log_loss), 4) AS mtn_log_loss, round(w.f1, 4) AS wstn_f1, round(max(s.f1), 4) AS stn_f1,
  round(max(m.f1), 4) AS mtn_f1, w.parameters AS wstn_parameters
FROM (SELECT * FROM scores WHERE architecture = 'wstn') w
  LEFT JOIN (SELECT * FROM scores WHERE architecture = 'stn') s ON s.n_tasks = w.n_tasks
  LEFT JOIN (SELECT * FROM scores WHERE architecture = 'mtn') m ON m.n_tasks = w.n_tasks
GROUP BY w.n_tasks, w.log_loss, w.f1, w.parameters ORDER BY n;
