-- trustql's side of the GAM benchmark (bench/gam/run.sh): the fits of bench/gam/mgcv_speed.R,
-- each CREATE MODEL repeated five times (the CLI prints each fit's time; bench/gam/compare.py
-- takes the best), then the fits' summaries as JSON for the comparison. REML, with cubic
-- regression splines (bs = 'cr') and with mgcv's default thin plate regression splines (tp):
-- - consistency: the ch. 4 consistency-shaped model, 1,880 rows, 25 factor-by smooths (k = 6);
-- - additive: y ~ s(x1) + s(x2) + s(x3) + f, 10,000 rows (k = 10; the tp basis of 10,000
--   unique values is built on mgcv's sample of 2,000 knots).
--
-- Run from the repository root:
--   trustql --models target/bench-results/gam_models -f bench/gam/gam_speed.sql

CREATE EXTERNAL TABLE consistency_csv STORED AS CSV LOCATION 'tests/reference/data/gam_consistency.csv' OPTIONS ('format.has_header' 'true');
CREATE TABLE consistency AS SELECT * FROM consistency_csv;
CREATE EXTERNAL TABLE additive_csv STORED AS CSV LOCATION 'tests/reference/data/gam_benchmark.csv' OPTIONS ('format.has_header' 'true');
CREATE TABLE additive AS SELECT * FROM additive_csv;

SELECT 'fit consistency' AS bench;
CREATE OR REPLACE MODEL bench_consistency OPTIONS (type = 'gam', formula = 'cw ~ transformation * task + s(m01, by = interaction(transformation, task), k = 6, bs = ''cr'')') AS SELECT * FROM consistency;
CREATE OR REPLACE MODEL bench_consistency OPTIONS (type = 'gam', formula = 'cw ~ transformation * task + s(m01, by = interaction(transformation, task), k = 6, bs = ''cr'')') AS SELECT * FROM consistency;
CREATE OR REPLACE MODEL bench_consistency OPTIONS (type = 'gam', formula = 'cw ~ transformation * task + s(m01, by = interaction(transformation, task), k = 6, bs = ''cr'')') AS SELECT * FROM consistency;
CREATE OR REPLACE MODEL bench_consistency OPTIONS (type = 'gam', formula = 'cw ~ transformation * task + s(m01, by = interaction(transformation, task), k = 6, bs = ''cr'')') AS SELECT * FROM consistency;
CREATE OR REPLACE MODEL bench_consistency OPTIONS (type = 'gam', formula = 'cw ~ transformation * task + s(m01, by = interaction(transformation, task), k = 6, bs = ''cr'')') AS SELECT * FROM consistency;

SELECT 'fit consistency_tp' AS bench;
CREATE OR REPLACE MODEL bench_consistency_tp OPTIONS (type = 'gam', formula = 'cw ~ transformation * task + s(m01, by = interaction(transformation, task), k = 6)') AS SELECT * FROM consistency;
CREATE OR REPLACE MODEL bench_consistency_tp OPTIONS (type = 'gam', formula = 'cw ~ transformation * task + s(m01, by = interaction(transformation, task), k = 6)') AS SELECT * FROM consistency;
CREATE OR REPLACE MODEL bench_consistency_tp OPTIONS (type = 'gam', formula = 'cw ~ transformation * task + s(m01, by = interaction(transformation, task), k = 6)') AS SELECT * FROM consistency;
CREATE OR REPLACE MODEL bench_consistency_tp OPTIONS (type = 'gam', formula = 'cw ~ transformation * task + s(m01, by = interaction(transformation, task), k = 6)') AS SELECT * FROM consistency;
CREATE OR REPLACE MODEL bench_consistency_tp OPTIONS (type = 'gam', formula = 'cw ~ transformation * task + s(m01, by = interaction(transformation, task), k = 6)') AS SELECT * FROM consistency;

SELECT 'fit additive' AS bench;
CREATE OR REPLACE MODEL bench_additive OPTIONS (type = 'gam', formula = 'y ~ s(x1, bs = ''cr'') + s(x2, bs = ''cr'') + s(x3, bs = ''cr'') + f') AS SELECT * FROM additive;
CREATE OR REPLACE MODEL bench_additive OPTIONS (type = 'gam', formula = 'y ~ s(x1, bs = ''cr'') + s(x2, bs = ''cr'') + s(x3, bs = ''cr'') + f') AS SELECT * FROM additive;
CREATE OR REPLACE MODEL bench_additive OPTIONS (type = 'gam', formula = 'y ~ s(x1, bs = ''cr'') + s(x2, bs = ''cr'') + s(x3, bs = ''cr'') + f') AS SELECT * FROM additive;
CREATE OR REPLACE MODEL bench_additive OPTIONS (type = 'gam', formula = 'y ~ s(x1, bs = ''cr'') + s(x2, bs = ''cr'') + s(x3, bs = ''cr'') + f') AS SELECT * FROM additive;
CREATE OR REPLACE MODEL bench_additive OPTIONS (type = 'gam', formula = 'y ~ s(x1, bs = ''cr'') + s(x2, bs = ''cr'') + s(x3, bs = ''cr'') + f') AS SELECT * FROM additive;

SELECT 'fit additive_tp' AS bench;
CREATE OR REPLACE MODEL bench_additive_tp OPTIONS (type = 'gam', formula = 'y ~ s(x1) + s(x2) + s(x3) + f') AS SELECT * FROM additive;
CREATE OR REPLACE MODEL bench_additive_tp OPTIONS (type = 'gam', formula = 'y ~ s(x1) + s(x2) + s(x3) + f') AS SELECT * FROM additive;
CREATE OR REPLACE MODEL bench_additive_tp OPTIONS (type = 'gam', formula = 'y ~ s(x1) + s(x2) + s(x3) + f') AS SELECT * FROM additive;
CREATE OR REPLACE MODEL bench_additive_tp OPTIONS (type = 'gam', formula = 'y ~ s(x1) + s(x2) + s(x3) + f') AS SELECT * FROM additive;
CREATE OR REPLACE MODEL bench_additive_tp OPTIONS (type = 'gam', formula = 'y ~ s(x1) + s(x2) + s(x3) + f') AS SELECT * FROM additive;

SELECT 'summaries' AS bench;
COPY (SELECT 'consistency' AS fit, * FROM model_fit('bench_consistency')
      UNION ALL SELECT 'consistency_tp', * FROM model_fit('bench_consistency_tp')
      UNION ALL SELECT 'additive', * FROM model_fit('bench_additive')
      UNION ALL SELECT 'additive_tp', * FROM model_fit('bench_additive_tp'))
  TO 'target/bench-results/gam_trustql_fit.json' STORED AS JSON;
