-- The analysis of the transferability experiment (thesis §2.5), on the runs finished so far in
-- ${dir} (design.csv, scores/*.parquet): performance per run and target is the mean over the
-- repetitions; the thesis' models are fitted to scores standardised within each target.
--   Fig. 2.8:  SS-R performance per source and target, with the MFCC and Rand baselines.
--   Fig. 2.9:  performance per strategy and target.
--   Model 1 (eq. 2.10–2.12): an intercept and an n* slope per strategy (SS-R: no slope), a random
--              intercept and slope per (strategy, target), each strategy its own variances
--              (diagonal, footnote 10); fixed effects, parametric-bootstrap 95 % CIs (Fig. 2.11)
--              and pairwise comparisons of the strategies' intercepts (emmeans_pairs: Holm-adjusted).
--   Model 2 (eq. 2.13–2.16): y* ~ r* · n* with uncorrelated random slopes of r*, n* and r*·n*
--              per target, no random intercept (Fig. 2.12).
--   Variability of y* by n (Fig. 2.10) and Table 2.6's variance components per source.
-- Variables: dir, seed, bootstrap (parametric-bootstrap refits; the driver's 1,000). Figures go to
-- ${dir}/figures/

CREATE EXTERNAL TABLE design STORED AS CSV LOCATION '${dir}/design.csv' OPTIONS ('format.has_header' 'true');
CREATE EXTERNAL TABLE run_scores STORED AS PARQUET LOCATION '${dir}/scores/';

CREATE TABLE perf AS
  SELECT run, target, metric, avg(score) AS y FROM run_scores GROUP BY run, target, metric;
SELECT count(DISTINCT run) AS runs, count(DISTINCT target) AS targets, count(*) AS scores FROM perf;

-- Baselines and SS-R per source (Fig. 2.8).
SELECT p.target, p.metric,
  round(max(CASE WHEN p.run = 'b_mfcc' THEN p.y END), 3) AS mfcc,
  round(max(CASE WHEN p.run = 'b_rand' THEN p.y END), 3) AS rand,
  round(avg(CASE WHEN d.sources = 'self' THEN p.y END), 3) AS self,
  round(avg(CASE WHEN d.sources = 'year' THEN p.y END), 3) AS year,
  round(avg(CASE WHEN d.sources = 'bpm' THEN p.y END), 3) AS bpm,
  round(avg(CASE WHEN d.sources = 'taste' THEN p.y END), 3) AS taste,
  round(avg(CASE WHEN d.sources = 'tag' THEN p.y END), 3) AS tag,
  round(avg(CASE WHEN d.sources = 'lyrics' THEN p.y END), 3) AS lyrics,
  round(avg(CASE WHEN d.sources = 'cdr_tag' THEN p.y END), 3) AS cdr_tag,
  round(avg(CASE WHEN d.sources = 'artist' THEN p.y END), 3) AS artist
FROM perf p LEFT JOIN design d ON p.run = d.run AND d.strategy = 'ss_r'
GROUP BY p.target, p.metric ORDER BY p.target;

-- The five strategies with every source (phase 2 of the design; Fig. 2.9's all-source runs).
SELECT p.target, p.metric,
  round(avg(CASE WHEN d.level = 'ms_sr_fc' THEN p.y END), 3) AS ms_sr_fc,
  round(avg(CASE WHEN d.level = 'ms_cr6' THEN p.y END), 3) AS ms_cr6,
  round(avg(CASE WHEN d.level = 'ms_cr4' THEN p.y END), 3) AS ms_cr4,
  round(avg(CASE WHEN d.level = 'ms_cr2' THEN p.y END), 3) AS ms_cr2,
  round(avg(CASE WHEN d.level = 'mss_cr' THEN p.y END), 3) AS mss_cr
FROM perf p JOIN design d ON p.run = d.run
WHERE d.phase = 2
GROUP BY p.target, p.metric ORDER BY p.target;

-- The observations of the models: design runs only (not the baselines).
CREATE TABLE obs AS
  SELECT p.run, p.target AS dataset, p.y, d.level, d.n,
    (p.y - avg(p.y) OVER (PARTITION BY p.target)) / stddev(p.y) OVER (PARTITION BY p.target) AS y_star,
    CAST(CASE WHEN d.level = 'ss_r' THEN 0 ELSE d.n - 2 END AS DOUBLE) AS n_star,
    CASE d.level WHEN 'ss_r' THEN 0.0 WHEN 'ms_sr_fc' THEN 0.2 WHEN 'ms_cr6' THEN 0.4
      WHEN 'ms_cr4' THEN 0.6 WHEN 'ms_cr2' THEN 0.8 ELSE 1.0 END AS r_star,
    CAST(array_has(string_to_array(d.sources, '+'), 'self') AS VARCHAR) AS src_self,
    CAST(array_has(string_to_array(d.sources, '+'), 'year') AS VARCHAR) AS src_year,
    CAST(array_has(string_to_array(d.sources, '+'), 'bpm') AS VARCHAR) AS src_bpm,
    CAST(array_has(string_to_array(d.sources, '+'), 'taste') AS VARCHAR) AS src_taste,
    CAST(array_has(string_to_array(d.sources, '+'), 'tag') AS VARCHAR) AS src_tag,
    CAST(array_has(string_to_array(d.sources, '+'), 'lyrics') AS VARCHAR) AS src_lyrics,
    CAST(array_has(string_to_array(d.sources, '+'), 'cdr_tag') AS VARCHAR) AS src_cdr_tag,
    CAST(array_has(string_to_array(d.sources, '+'), 'artist') AS VARCHAR) AS src_artist
  FROM perf p JOIN design d ON p.run = d.run;
-- The strategy indicators i_r and slopes s_r = i_r · n* of model 1 (lme4's || does not split a
-- factor into uncorrelated terms, so they are columns).
CREATE TABLE obs1 AS
  SELECT *,
    CAST(level = 'ss_r' AS DOUBLE) AS i_ssr, CAST(level = 'ms_sr_fc' AS DOUBLE) AS i_fc,
    CAST(level = 'ms_cr6' AS DOUBLE) AS i_cr6, CAST(level = 'ms_cr4' AS DOUBLE) AS i_cr4,
    CAST(level = 'ms_cr2' AS DOUBLE) AS i_cr2, CAST(level = 'mss_cr' AS DOUBLE) AS i_mss,
    CAST(level = 'ms_sr_fc' AS DOUBLE) * n_star AS s_fc, CAST(level = 'ms_cr6' AS DOUBLE) * n_star AS s_cr6,
    CAST(level = 'ms_cr4' AS DOUBLE) * n_star AS s_cr4, CAST(level = 'ms_cr2' AS DOUBLE) * n_star AS s_cr2,
    CAST(level = 'mss_cr' AS DOUBLE) * n_star AS s_mss
  FROM obs;

SELECT level, count(DISTINCT run) AS runs, round(avg(y_star), 3) AS mean_y_star, round(stddev(y_star), 3) AS sd_y_star
FROM obs GROUP BY level ORDER BY avg(y_star);

CREATE OR REPLACE MODEL transfer_m1 OPTIONS (type = 'lmer',
  formula = 'y_star ~ 0 + i_ssr + i_fc + i_cr6 + i_cr4 + i_cr2 + i_mss + s_fc + s_cr6 + s_cr4 + s_cr2 + s_mss + (0 + i_ssr + i_fc + i_cr6 + i_cr4 + i_cr2 + i_mss + s_fc + s_cr6 + s_cr4 + s_cr2 + s_mss || dataset)')
  AS SELECT * FROM obs1;
SELECT method, n, groups, round(log_likelihood, 2) AS log_likelihood, singular, converged, warnings FROM model_fit('transfer_m1');
CREATE TABLE m1_effects AS
  SELECT f.term, f.estimate, f.std_error, f.p_value, b.ci_lower AS boot_lower, b.ci_upper AS boot_upper
  FROM fixed_effects('transfer_m1') f LEFT JOIN bootstrap_ci('transfer_m1', ${bootstrap}, ${seed}) b ON f.term = b.parameter;
SELECT term, round(estimate, 3) AS estimate, round(std_error, 3) AS std_error, round(p_value, 4) AS p_value,
  round(boot_lower, 3) AS boot_lower, round(boot_upper, 3) AS boot_upper FROM m1_effects;
SELECT "group", term, round(variance, 4) AS variance FROM variance_components('transfer_m1');

-- Pairwise comparisons of the strategies' intercepts (n* = 0): the same model with the strategy
-- as a factor.
CREATE OR REPLACE MODEL transfer_m1f OPTIONS (type = 'lmer',
  formula = 'y_star ~ 0 + level + s_fc + s_cr6 + s_cr4 + s_cr2 + s_mss + (0 + i_ssr + i_fc + i_cr6 + i_cr4 + i_cr2 + i_mss + s_fc + s_cr6 + s_cr4 + s_cr2 + s_mss || dataset)')
  AS SELECT * FROM obs1;
SELECT contrast, round(estimate, 3) AS estimate, round(std_error, 3) AS std_error, round(p_value, 4) AS p_value, adjustment
FROM emmeans_pairs('transfer_m1f', 'level', 's_fc = 0; s_cr6 = 0; s_cr4 = 0; s_cr2 = 0; s_mss = 0');

CREATE OR REPLACE MODEL transfer_m2 OPTIONS (type = 'lmer',
  formula = 'y_star ~ r_star * n_star + (0 + r_star + n_star + r_star:n_star || dataset)')
  AS SELECT * FROM obs;
CREATE TABLE m2_effects AS
  SELECT f.term, f.estimate, f.std_error, f.p_value, b.ci_lower AS boot_lower, b.ci_upper AS boot_upper
  FROM fixed_effects('transfer_m2') f LEFT JOIN bootstrap_ci('transfer_m2', ${bootstrap}, ${seed}) b ON f.term = b.parameter;
SELECT term, round(estimate, 3) AS estimate, round(std_error, 3) AS std_error, round(p_value, 4) AS p_value,
  round(boot_lower, 3) AS boot_lower, round(boot_upper, 3) AS boot_upper FROM m2_effects;

-- Variability of the standardised performance by the number of sources (Fig. 2.10).
SELECT n, count(*) AS observations, round(stddev(y_star), 3) AS sd_y_star FROM obs GROUP BY n ORDER BY n;

COPY (SELECT * FROM m1_effects) TO '${dir}/analysis_m1.parquet' STORED AS PARQUET;
COPY (SELECT * FROM m2_effects) TO '${dir}/analysis_m2.parquet' STORED AS PARQUET;

-- Figures.
COPY (SELECT p.target, d.sources AS source, p.y FROM perf p JOIN design d ON p.run = d.run WHERE d.strategy = 'ss_r' ORDER BY p.target, d.sources)
  TO '${dir}/figures/fig2_8_ssr.png'
  (FORMAT plot, kind 'scatter', x 'source', y 'y', facet_col 'target', free_y true,
   title 'SS-R performance per learning source (thesis Fig. 2.8)', y_label 'accuracy / R²');
COPY (SELECT dataset, n, y_star, level FROM obs ORDER BY dataset, level, n)
  TO '${dir}/figures/fig2_10_n_sources.png'
  (FORMAT plot, kind 'scatter', x 'n', y 'y_star', color 'level', facet_col 'dataset', fit true,
   title 'Standardised performance by number of sources (thesis Fig. 2.10)');
COPY (SELECT term, estimate, boot_lower, boot_upper FROM m1_effects)
  TO '${dir}/figures/fig2_11_model1.png'
  (FORMAT plot, kind 'errorbar', x 'term', y 'estimate', lower 'boot_lower', upper 'boot_upper',
   title 'Model 1: fixed effects, bootstrap 95 % CIs (thesis Fig. 2.11)');
COPY (SELECT term, estimate, boot_lower, boot_upper FROM m2_effects)
  TO '${dir}/figures/fig2_12_model2.png'
  (FORMAT plot, kind 'errorbar', x 'term', y 'estimate', lower 'boot_lower', upper 'boot_upper',
   title 'Model 2: fixed effects, bootstrap 95 % CIs (thesis Fig. 2.12)');

-- Table 2.6: variance components (% of the sources' total) per target, non-SS-R runs.
CREATE TABLE varcomp (target VARCHAR, source VARCHAR, variance DOUBLE);
\set target genre
\i common/transfer_varcomp.sql
\set target genre10
\i common/transfer_varcomp.sql
\set target dance
\i common/transfer_varcomp.sql
\set target instrument
\i common/transfer_varcomp.sql
\set target density
\i common/transfer_varcomp.sql
\set target key_margin
\i common/transfer_varcomp.sql
\set target recommend
\i common/transfer_varcomp.sql
CREATE TABLE varcomp_pct AS
  SELECT target, source, 100 * variance / sum(variance) OVER (PARTITION BY target) AS pct FROM varcomp;
SELECT source,
  round(max(CASE WHEN target = 'genre' THEN pct END), 1) AS genre,
  round(max(CASE WHEN target = 'genre10' THEN pct END), 1) AS genre10,
  round(max(CASE WHEN target = 'dance' THEN pct END), 1) AS dance,
  round(max(CASE WHEN target = 'instrument' THEN pct END), 1) AS instrument,
  round(max(CASE WHEN target = 'density' THEN pct END), 1) AS density,
  round(max(CASE WHEN target = 'key_margin' THEN pct END), 1) AS key_margin,
  round(max(CASE WHEN target = 'recommend' THEN pct END), 1) AS recommend
FROM varcomp_pct GROUP BY source ORDER BY source;
-- Their correlation with the standardised SS-R performance of the source on the target (thesis: r = .38).
SELECT round(corr(v.pct, s.y_star), 3) AS pearson_r, count(*) AS pairs
FROM varcomp_pct v JOIN (
  SELECT dataset, d.sources AS source, avg(o.y_star) AS y_star
  FROM obs o JOIN design d ON o.run = d.run WHERE o.level = 'ss_r' GROUP BY dataset, d.sources
) s ON v.target = s.dataset AND v.source = s.source;
COPY (SELECT * FROM varcomp_pct ORDER BY target, source) TO '${dir}/analysis_varcomp.parquet' STORED AS PARQUET;
