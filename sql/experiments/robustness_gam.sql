-- Thesis ch. 4's analysis (§4.5.1–4.5.3) of the deep robustness experiment with GAMs: task
-- performance and every consistency measure against the transformation, the task (encoder) and
-- a smooth of the transformation's magnitude per cell; R², emmeans' joint tests and EMMs, and
-- the figures of Figs. 4.5, 4.8 and 4.11, from the responses robustness_responses.sql computes
-- (committed in experiments/robustness/responses.csv). Run by scripts/robustness_experiment.sh
-- or by hand from the repository root (about a minute):
--   trustql --models results/robustness/gam_models -v out=experiments/robustness \
--     -f sql/experiments/robustness_gam.sql
--
-- The thesis states the models in words only; the choices made here (SPEC: document them):
-- * One row per (task, transformation, magnitude, trial). The thesis' residual df (1,793 for
--   C^W with five tasks × 94 settings) imply about four trials per setting. Our trials are four
--   disjoint sets of six of the 24 robustness clips (the clips in name order dealt round-robin,
--   which spreads the excerpts of one piece over the trials); a trial's C^W is the share of its
--   six transformed clips nearest their own original among all 24 originals, its C^B_acc and
--   C^B_ρ likewise over its clips' distances to all 24 originals. For performance, the trials
--   are the four held-out chorales.
-- * The magnitude enters as m01, rescaled to [0, 1] within each transformation (semitones, rates,
--   dB and kb/s do not share a scale, and mgcv builds one basis over all rows of a by-smooth);
--   the original clips are not rows (OG is no transformation).
-- * Basis: mgcv's default thin plate regression spline with k = 10; REML. The sensitivity
--   section refits C^W (Euclidean) and performance with k = 6, a cubic regression spline, GCV
--   and the magnitude's rank instead of its value.
-- * Consistency: value ~ transformation * task + s(m01, by = interaction(transformation, task)).
--   Performance: z ~ task * transformation + s(m01, by = interaction(transformation, task)),
--   z standardised within task over the transformed clips, MSE negated (higher is better), VS
--   scored by museval's SDR (the thesis' measure). Only the deep encoders have task heads here,
--   so the thesis' encoder factor (VGG against MFCC) is not in the performance model.
CREATE EXTERNAL TABLE responses_file STORED AS CSV LOCATION '${out}/responses.csv' OPTIONS ('format.has_header' 'true');
CREATE TABLE responses AS SELECT * FROM responses_file;
SELECT measure, count(*) AS rows, count(DISTINCT task) AS tasks, count(DISTINCT trial) AS trials,
  round(avg(value), 3) AS mean
FROM responses GROUP BY measure ORDER BY measure;

CREATE TABLE gam_fits (measure VARCHAR, variant VARCHAR, n BIGINT, r_squared_adj DOUBLE,
  deviance_explained DOUBLE, edf_total DOUBLE, residual_df DOUBLE, score DOUBLE);
CREATE TABLE gam_joint_tests (measure VARCHAR, variant VARCHAR, cov_reduce VARCHAR, term VARCHAR,
  df1 DOUBLE, df2 DOUBLE, f_ratio DOUBLE, p_value DOUBLE);
CREATE TABLE gam_emmeans (measure VARCHAR, variant VARCHAR, level VARCHAR, emmean DOUBLE, std_error DOUBLE);

-- The main models: every consistency measure by task, performance by transformation.
\set variant tp k10 REML
\set method REML
\set emm_by task
\set formula value ~ transformation * task + s(m01, by = interaction(transformation, task))
\set measure cw_euclidean
\set name cw_euclidean
\i common/robustness_gam_fit.sql
\set measure cw_cosine
\set name cw_cosine
\i common/robustness_gam_fit.sql
\set measure cb_acc_dtw_euclidean
\set name cb_acc_dtw_euclidean
\i common/robustness_gam_fit.sql
\set measure cb_acc_dtw_cosine
\set name cb_acc_dtw_cosine
\i common/robustness_gam_fit.sql
\set measure cb_acc_simple_euclidean
\set name cb_acc_simple_euclidean
\i common/robustness_gam_fit.sql
\set measure cb_acc_simple_cosine
\set name cb_acc_simple_cosine
\i common/robustness_gam_fit.sql
\set measure cb_rho_dtw_euclidean
\set name cb_rho_dtw_euclidean
\i common/robustness_gam_fit.sql
\set measure cb_rho_dtw_cosine
\set name cb_rho_dtw_cosine
\i common/robustness_gam_fit.sql
\set measure cb_rho_simple_euclidean
\set name cb_rho_simple_euclidean
\i common/robustness_gam_fit.sql
\set measure cb_rho_simple_cosine
\set name cb_rho_simple_cosine
\i common/robustness_gam_fit.sql
\set measure performance
\set name performance
\set emm_by transformation
\set formula value ~ task * transformation + s(m01, by = interaction(transformation, task))
\i common/robustness_gam_fit.sql

-- Sensitivity to the unstated choices, on C^W (Euclidean) and performance.
\set emm_by task
\set measure cw_euclidean
\set variant tp k6 REML
\set name cw_euclidean_k6
\set formula value ~ transformation * task + s(m01, by = interaction(transformation, task), k = 6)
\i common/robustness_gam_fit.sql
\set variant cr k10 REML
\set name cw_euclidean_cr
\set formula value ~ transformation * task + s(m01, by = interaction(transformation, task), bs = ''cr'')
\i common/robustness_gam_fit.sql
\set variant tp k10 GCV
\set name cw_euclidean_gcv
\set method GCV.Cp
\set formula value ~ transformation * task + s(m01, by = interaction(transformation, task))
\i common/robustness_gam_fit.sql
\set variant tp k10 REML rank
\set name cw_euclidean_rank
\set method REML
\set formula value ~ transformation * task + s(r01, by = interaction(transformation, task))
\i common/robustness_gam_fit.sql
\set emm_by transformation
\set measure performance
\set variant tp k6 REML
\set name performance_k6
\set formula value ~ task * transformation + s(m01, by = interaction(transformation, task), k = 6)
\i common/robustness_gam_fit.sql
\set variant cr k10 REML
\set name performance_cr
\set formula value ~ task * transformation + s(m01, by = interaction(transformation, task), bs = ''cr'')
\i common/robustness_gam_fit.sql
\set variant tp k10 GCV
\set name performance_gcv
\set method GCV.Cp
\set formula value ~ task * transformation + s(m01, by = interaction(transformation, task))
\i common/robustness_gam_fit.sql
\set variant tp k10 REML rank
\set name performance_rank
\set method REML
\set formula value ~ task * transformation + s(r01, by = interaction(transformation, task))
\i common/robustness_gam_fit.sql

COPY (SELECT * FROM gam_fits ORDER BY measure, variant) TO '${out}/gam_fits.parquet' STORED AS PARQUET;
COPY (SELECT * FROM gam_joint_tests ORDER BY measure, variant, cov_reduce, term) TO '${out}/gam_joint_tests.parquet' STORED AS PARQUET;
COPY (SELECT * FROM gam_emmeans ORDER BY measure, variant, level) TO '${out}/gam_emmeans.parquet' STORED AS PARQUET;

-- R², joint tests (F with df1, df2) and EMMs of the main models (thesis §4.5). The joint tests
-- compare the factors at m01's mean (emmeans' cov.reduce = mean): emmeans' default puts m01 at
-- its mean ± 1, i.e. at −0.5 and 1.5, where every smooth is extrapolated (those tests are in
-- gam_joint_tests.parquet too, cov_reduce 'meanint').
SELECT measure, n, round(r_squared_adj, 3) AS r2_adj, round(deviance_explained, 3) AS dev_expl,
  round(edf_total, 1) AS edf, round(residual_df, 1) AS residual_df
FROM gam_fits WHERE variant = 'tp k10 REML' ORDER BY measure;
SELECT measure, term, df1, round(df2, 0) AS df2, round(f_ratio, 1) AS f, p_value
FROM gam_joint_tests WHERE variant = 'tp k10 REML' AND cov_reduce = 'mean' ORDER BY measure, term;
SELECT measure,
  round(max(emmean) FILTER (WHERE level = 'MFCC'), 3) AS "MFCC",
  round(max(emmean) FILTER (WHERE level = 'AE'), 3) AS "AE",
  round(max(emmean) FILTER (WHERE level = 'AT'), 3) AS "AT",
  round(max(emmean) FILTER (WHERE level = 'IR'), 3) AS "IR",
  round(max(emmean) FILTER (WHERE level = 'VS'), 3) AS "VS",
  round(max(std_error), 3) AS max_se
FROM gam_emmeans WHERE variant = 'tp k10 REML' AND measure <> 'performance' GROUP BY measure ORDER BY measure;
SELECT level AS transformation, round(emmean, 3) AS emmean, round(std_error, 3) AS se
FROM gam_emmeans WHERE variant = 'tp k10 REML' AND measure = 'performance' ORDER BY level;

-- Sensitivity: R², the largest F tests and the EMMs under each variant.
SELECT f.measure, f.variant, round(f.r_squared_adj, 3) AS r2_adj, round(f.edf_total, 1) AS edf,
  round(max(j.f_ratio) FILTER (WHERE j.term = 'transformation'), 1) AS f_transformation,
  round(max(j.f_ratio) FILTER (WHERE j.term = 'task'), 1) AS f_task,
  round(max(j.f_ratio) FILTER (WHERE j.term IN ('transformation:task', 'task:transformation')), 1) AS f_interaction
FROM gam_fits f JOIN gam_joint_tests j ON f.measure = j.measure AND f.variant = j.variant
WHERE f.measure IN ('cw_euclidean', 'performance') AND j.cov_reduce = 'mean'
GROUP BY f.measure, f.variant, f.r_squared_adj, f.edf_total ORDER BY f.measure, f.variant;
SELECT measure, level, round(min(emmean), 3) AS lowest, round(max(emmean), 3) AS highest,
  round(max(emmean) - min(emmean), 4) AS spread, round(max(std_error), 3) AS max_se
FROM gam_emmeans WHERE measure IN ('cw_euclidean', 'performance') GROUP BY measure, level ORDER BY measure, level;

-- Figures (thesis Figs. 4.5, 4.8, 4.11: EMMs ± 1.96 s.e.; and the fitted C^W curves).
COPY (SELECT level AS transformation, emmean, emmean - 1.96 * std_error AS lower, emmean + 1.96 * std_error AS upper
      FROM gam_emmeans WHERE variant = 'tp k10 REML' AND measure = 'performance' ORDER BY level)
  TO '${out}/figures/fig4_5_performance_emm.png'
  (FORMAT plot, kind 'errorbar', x 'transformation', y 'emmean', lower 'lower', upper 'upper',
   y_label 'standardised performance', title 'Performance EMMs by transformation, 95 % CIs (cf. thesis Fig. 4.5)');
COPY (SELECT measure, level AS task, emmean, emmean - 1.96 * std_error AS lower, emmean + 1.96 * std_error AS upper
      FROM gam_emmeans WHERE variant = 'tp k10 REML' AND measure IN ('cw_euclidean', 'cw_cosine')
      ORDER BY measure, level)
  TO '${out}/figures/fig4_8_cw_emm.png'
  (FORMAT plot, kind 'errorbar', x 'task', y 'emmean', lower 'lower', upper 'upper', facet_col 'measure',
   y_label 'C^W', title 'Within-space consistency EMMs by task, 95 % CIs (thesis Fig. 4.8)');
COPY (SELECT measure, level AS task, emmean, emmean - 1.96 * std_error AS lower, emmean + 1.96 * std_error AS upper
      FROM gam_emmeans WHERE variant = 'tp k10 REML' AND measure LIKE 'cb_%' ORDER BY measure, level)
  TO '${out}/figures/fig4_11_cb_emm.png'
  (FORMAT plot, kind 'errorbar', x 'task', y 'emmean', lower 'lower', upper 'upper', facet_col 'measure',
   y_label 'C^B', title 'Between-space consistency EMMs by task, 95 % CIs (thesis Fig. 4.11)');
CREATE TABLE curve_grid AS
  SELECT g.transformation, g.task, CAST(s.i AS DOUBLE) / 50 AS m01
  FROM (SELECT DISTINCT transformation, task FROM responses WHERE measure = 'cw_euclidean') g
  CROSS JOIN (SELECT unnest(range(0, 51)) AS i) s;
COPY (SELECT transformation, task, m01, fit FROM gam_predict('gam_cw_euclidean', 'curve_grid')
      ORDER BY transformation, task, m01)
  TO '${out}/figures/fig4_7_cw_smooths.png'
  (FORMAT plot, kind 'line', x 'm01', y 'fit', color 'task', facet_col 'transformation',
   y_label 'fitted C^W (Euclidean)', title 'Fitted within-space consistency by magnitude (GAM smooths)');
