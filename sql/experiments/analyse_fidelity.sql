-- The analysis of the explainer experiment (thesis §5.4, eq. 5.2; SPEC §8): a linear mixed model
-- of fidelity on the results of sql/experiments/explain_lastfm.sql and explain_movielens.sql.
--
--   fidelity ~ explainer * log(omega)                 fixed: each explainer's level and slope in log ω
--     + (1 + explainer | dataset:recsys)              each recommender (within its dataset) shifts
--                                                     the intercept and each explainer's effect
--     + (1 | dataset:recsys:explainer)                an intercept per recommender × explainer
--     + (0 + mainstreaminess | dataset:recsys)        a mainstreaminess slope per recommender,
--                                                     without a fixed effect
--
-- fitted by REML. Printed: the fit (n, log-likelihood, R², whether it is singular), the fixed
-- effects with Satterthwaite df, the variance components, the estimated marginal means of
-- fidelity by explainer at each ω of the experiment, and the pairwise differences of the
-- explainers at ω = 8. The tables are also written to results/analysis/. The model is kept in the
-- model store as `fidelity_lmm`.
--
-- Inputs: results/explain/lastfm.parquet and results/explain/movielens.parquet (the full runs;
-- scripts/explain_experiment.sh makes them). For the quick Last.fm run instead, point the first
-- table at results/explain/lastfm_quick.parquet.
--
-- Run from the repository root:  trustql --models results/analysis/models -f sql/experiments/analyse_fidelity.sql

CREATE EXTERNAL TABLE lastfm_fidelity STORED AS PARQUET LOCATION 'results/explain/lastfm.parquet';
CREATE EXTERNAL TABLE movielens_fidelity STORED AS PARQUET LOCATION 'results/explain/movielens.parquet';
CREATE VIEW fidelity_results AS
  SELECT dataset, recsys, dim, explainer, omega, "user", mainstreaminess, fidelity FROM lastfm_fidelity
  UNION ALL
  SELECT dataset, recsys, dim, explainer, omega, "user", mainstreaminess, fidelity FROM movielens_fidelity;

SELECT dataset, count(*) AS rows, count(fidelity) AS with_fidelity, count(DISTINCT "user") AS users
FROM fidelity_results GROUP BY dataset ORDER BY dataset;

CREATE OR REPLACE MODEL fidelity_lmm OPTIONS (type = 'lmer',
  formula = 'fidelity ~ explainer * log(omega) + (1 + explainer | dataset:recsys) + (1 | dataset:recsys:explainer) + (0 + mainstreaminess | dataset:recsys)')
  AS SELECT * FROM fidelity_results;

SELECT method, n, rows_dropped, groups, round(log_likelihood, 2) AS log_likelihood,
  round(r2_marginal, 4) AS r2_marginal, round(r2_conditional, 4) AS r2_conditional, singular,
  converged, warnings
FROM model_fit('fidelity_lmm');

SELECT term, round(estimate, 4) AS estimate, round(std_error, 4) AS std_error,
  round(statistic, 2) AS t, round(df, 1) AS df, round(p_value, 4) AS p_value,
  round(ci_lower, 4) AS ci_lower, round(ci_upper, 4) AS ci_upper
FROM fixed_effects('fidelity_lmm');

SELECT "group", term, round(variance, 6) AS variance, round(sd, 4) AS sd, correlations
FROM variance_components('fidelity_lmm');

CREATE TABLE fidelity_emmeans AS
  SELECT * FROM emmeans('fidelity_lmm', 'explainer', 'omega = 1, 2, 4, 8, 16, 32');
SELECT explainer, omega, round(emmean, 4) AS emmean, round(std_error, 4) AS std_error,
  round(df, 1) AS df, round(ci_lower, 4) AS ci_lower, round(ci_upper, 4) AS ci_upper
FROM fidelity_emmeans ORDER BY explainer, omega;

SELECT contrast, round(estimate, 4) AS estimate, round(std_error, 4) AS std_error,
  round(t_ratio, 2) AS t_ratio, round(p_value, 4) AS p_value, adjustment
FROM emmeans_pairs('fidelity_lmm', 'explainer', 'omega = 8');

COPY (SELECT * FROM fixed_effects('fidelity_lmm')) TO 'results/analysis/fidelity_fixed_effects.parquet' STORED AS PARQUET;
COPY (SELECT "group", term, variance, sd FROM variance_components('fidelity_lmm')) TO 'results/analysis/fidelity_variance_components.parquet' STORED AS PARQUET;
COPY (SELECT * FROM fidelity_emmeans) TO 'results/analysis/fidelity_emmeans.parquet' STORED AS PARQUET;

-- Figures (from the saved results; scripts/figures.sh redraws them without rerunning the experiment)
-- Thesis Fig. 5.3: mean fidelity against the number of explanation tags, per explainer, one pane
-- per dataset and recommender (mean over users and dimensions).
COPY (
  SELECT dataset, recsys, explainer, omega, avg(fidelity) AS fidelity
  FROM (SELECT dataset, recsys, explainer, omega, fidelity FROM 'results/explain/lastfm.parquet'
        UNION ALL
        SELECT dataset, recsys, explainer, omega, fidelity FROM 'results/explain/movielens.parquet')
  GROUP BY dataset, recsys, explainer, omega
  ORDER BY dataset, recsys, explainer, omega)
  TO 'figures/fig5_3_fidelity.png'
  (FORMAT plot, kind 'line', x 'omega', y 'fidelity', color 'explainer', facet_row 'dataset',
   facet_col 'recsys', log_x true, x_label 'tags in the explanation (ω)', y_label 'mean fidelity',
   title 'Explanation fidelity (thesis Fig. 5.3)', scale 1);
-- Thesis Fig. 5.5: estimated marginal means of fidelity with 95 % CIs.
COPY (
  SELECT CAST(CAST(omega AS BIGINT) AS VARCHAR) AS omega, explainer, emmean, ci_lower, ci_upper
  FROM 'results/analysis/fidelity_emmeans.parquet' ORDER BY CAST(omega AS DOUBLE), explainer)
  TO 'figures/fig5_5_emmeans.png'
  (FORMAT plot, kind 'errorbar', x 'omega', y 'emmean', lower 'ci_lower', upper 'ci_upper',
   color 'explainer', x_label 'tags in the explanation (ω)', y_label 'estimated marginal mean of fidelity',
   title 'Fidelity EMMs with 95 % CIs (thesis Fig. 5.5)');
