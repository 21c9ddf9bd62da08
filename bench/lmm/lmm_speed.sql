-- trustql's side of the mixed-model benchmark (bench/lmm/run.sh): the same fits as
-- bench/lmm/statsmodels_mixedlm.py, each CREATE MODEL repeated (the CLI prints each statement's
-- time; bench/lmm/compare.py takes the best), then the estimates written as JSON for the
-- comparison. Fits (REML):
-- - sleepstudy: Reaction ~ Days + (Days | Subject) (180 rows);
-- - ch5_user: fidelity ~ explainer * log(omega) + (1 | dataset:user) on the 99,840-row table of
--   bench/lmm/make_data.py (1,040 user groups);
-- - ch5_spec: the SPEC §8 model on the same table (statsmodels cannot express it).
--
-- Run from the repository root (after make_data.py):
--   trustql --models target/bench-results/lmm_models -f bench/lmm/lmm_speed.sql

CREATE EXTERNAL TABLE sleepstudy STORED AS CSV LOCATION '../shared/data/stats/sleepstudy.csv' OPTIONS ('format.has_header' 'true');
CREATE TABLE sleep AS SELECT * FROM sleepstudy;
CREATE EXTERNAL TABLE ch5_csv STORED AS CSV LOCATION 'target/bench-results/lmm_ch5.csv' OPTIONS ('format.has_header' 'true');
CREATE TABLE ch5 AS SELECT * FROM ch5_csv;

SELECT 'fit sleepstudy' AS bench;
CREATE OR REPLACE MODEL bench_sleep OPTIONS (type = 'lmer', formula = 'Reaction ~ Days + (Days | Subject)') AS SELECT * FROM sleep;
CREATE OR REPLACE MODEL bench_sleep OPTIONS (type = 'lmer', formula = 'Reaction ~ Days + (Days | Subject)') AS SELECT * FROM sleep;
CREATE OR REPLACE MODEL bench_sleep OPTIONS (type = 'lmer', formula = 'Reaction ~ Days + (Days | Subject)') AS SELECT * FROM sleep;
CREATE OR REPLACE MODEL bench_sleep OPTIONS (type = 'lmer', formula = 'Reaction ~ Days + (Days | Subject)') AS SELECT * FROM sleep;
CREATE OR REPLACE MODEL bench_sleep OPTIONS (type = 'lmer', formula = 'Reaction ~ Days + (Days | Subject)') AS SELECT * FROM sleep;
CREATE OR REPLACE MODEL bench_sleep OPTIONS (type = 'lmer', formula = 'Reaction ~ Days + (Days | Subject)') AS SELECT * FROM sleep;

SELECT 'fit ch5_user' AS bench;
CREATE OR REPLACE MODEL bench_ch5_user OPTIONS (type = 'lmer', formula = 'fidelity ~ explainer * log(omega) + (1 | dataset:user)') AS SELECT * FROM ch5;
CREATE OR REPLACE MODEL bench_ch5_user OPTIONS (type = 'lmer', formula = 'fidelity ~ explainer * log(omega) + (1 | dataset:user)') AS SELECT * FROM ch5;
CREATE OR REPLACE MODEL bench_ch5_user OPTIONS (type = 'lmer', formula = 'fidelity ~ explainer * log(omega) + (1 | dataset:user)') AS SELECT * FROM ch5;

SELECT 'fit ch5_spec' AS bench;
CREATE OR REPLACE MODEL bench_ch5_spec OPTIONS (type = 'lmer', formula = 'fidelity ~ explainer * log(omega) + (1 + explainer | dataset:recsys) + (1 | dataset:recsys:explainer) + (0 + mainstreaminess | dataset:recsys)') AS SELECT * FROM ch5;
CREATE OR REPLACE MODEL bench_ch5_spec OPTIONS (type = 'lmer', formula = 'fidelity ~ explainer * log(omega) + (1 + explainer | dataset:recsys) + (1 | dataset:recsys:explainer) + (0 + mainstreaminess | dataset:recsys)') AS SELECT * FROM ch5;

SELECT 'estimates' AS bench;
COPY (SELECT 'sleepstudy' AS fit, * FROM fixed_effects('bench_sleep')
      UNION ALL SELECT 'ch5_user', * FROM fixed_effects('bench_ch5_user')
      UNION ALL SELECT 'ch5_spec', * FROM fixed_effects('bench_ch5_spec'))
  TO 'target/bench-results/lmm_trustql_fixed.json' STORED AS JSON;
COPY (SELECT 'sleepstudy' AS fit, * FROM model_fit('bench_sleep')
      UNION ALL SELECT 'ch5_user', * FROM model_fit('bench_ch5_user')
      UNION ALL SELECT 'ch5_spec', * FROM model_fit('bench_ch5_spec'))
  TO 'target/bench-results/lmm_trustql_fit.json' STORED AS JSON;
SELECT 'ch5_spec' AS fit, n, evaluations, singular, converged, round(log_likelihood, 3) AS log_likelihood FROM model_fit('bench_ch5_spec');
