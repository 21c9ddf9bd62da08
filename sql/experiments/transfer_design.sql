-- The runs of the transferability experiment (thesis §2.4.3), in the thesis' three phases:
--   1. SS-R for each of the eight learning sources, ${ssr_repeats} times (thesis: 6);
--   2. the five multi-source strategies with all eight sources, ${all_repeats} times (thesis: 5);
--   3. ${design_runs} runs chosen by Algorithm 2 (sequential_design: least unbalance, then least
--      aliasing between main effects, ties at random) from the 1,230 runs of five strategies with
--      n = 2…7 sources (thesis: 352).
-- Writes ${dir}/design.csv, one row per run in the order the runs are trained: run (r001, ...),
-- phase, strategy (ss_r, ms_sr_fc, ms_cr, mss_cr), branch_at (2, 4, 6 for ms_cr, else 0),
-- sources (the run's sources joined by '+'), n, repeat, seed, and for mss_cr the SS-R models
-- (first repeat) it concatenates (joined by '+'). Variables: dir, ssr_repeats, all_repeats,
-- design_runs, seed.

CREATE TABLE learning_sources AS SELECT * FROM (VALUES
  (1, 'self'), (2, 'year'), (4, 'bpm'), (8, 'taste'), (16, 'tag'), (32, 'lyrics'), (64, 'cdr_tag'), (128, 'artist')
) AS t(bit, source);
-- r* of the second analysis model (network size, Fig. 2.5): SS-R 0, MS-SR@FC .2, MS-CR@6 .4,
-- MS-CR@4 .6, MS-CR@2 .8, MSS-CR 1.
CREATE TABLE strategies AS SELECT * FROM (VALUES
  ('ms_sr_fc', 'ms_sr_fc', 0), ('ms_cr6', 'ms_cr', 6), ('ms_cr4', 'ms_cr', 4), ('ms_cr2', 'ms_cr', 2), ('mss_cr', 'mss_cr', 0)
) AS t(level, strategy, branch_at);

-- Phase 3's candidates: every subset of 2 to 7 sources under every multi-source strategy.
CREATE TABLE candidate_runs AS SELECT * FROM (
  SELECT level AS strategy, value AS mask,
    CAST((value & 1) > 0 AS INT) AS self, CAST((value & 2) > 0 AS INT) AS year, CAST((value & 4) > 0 AS INT) AS bpm,
    CAST((value & 8) > 0 AS INT) AS taste, CAST((value & 16) > 0 AS INT) AS tag, CAST((value & 32) > 0 AS INT) AS lyrics,
    CAST((value & 64) > 0 AS INT) AS cdr_tag, CAST((value & 128) > 0 AS INT) AS artist
  FROM generate_series(1, 255) CROSS JOIN strategies)
WHERE self + year + bpm + taste + tag + lyrics + cdr_tag + artist BETWEEN 2 AND 7;
CREATE VIEW candidates AS
  SELECT strategy, self, year, bpm, taste, tag, lyrics, cdr_tag, artist,
    self + year + bpm + taste + tag + lyrics + cdr_tag + artist AS n
  FROM candidate_runs;
SELECT count(*) AS candidate_runs FROM candidates;

CREATE TABLE chosen AS
  SELECT * FROM sequential_design('candidates', ${design_runs}, ${seed},
    'strategy, self, year, bpm, taste, tag, lyrics, cdr_tag, artist, n',
    'strategy, self, year, bpm, taste, tag, lyrics, cdr_tag, artist');

CREATE TABLE runs_unnumbered AS
  -- phase 1
  SELECT 1 AS phase, 10 * s.bit + r.value AS ord, 'ss_r' AS level, s.bit AS mask, r.value AS "repeat"
  FROM learning_sources s CROSS JOIN generate_series(1, ${ssr_repeats}) r
  UNION ALL
  -- phase 2
  SELECT 2, 10 * CAST(st.ord AS BIGINT) + r.value, st.level, 255, r.value
  FROM (SELECT level, row_number() OVER (ORDER BY level) AS ord FROM strategies) st
    CROSS JOIN generate_series(1, ${all_repeats}) r
  UNION ALL
  -- phase 3
  SELECT 3, c.run_order, c.strategy,
    c.self * 1 + c.year * 2 + c.bpm * 4 + c.taste * 8 + c.tag * 16 + c.lyrics * 32 + c.cdr_tag * 64 + c.artist * 128,
    1
  FROM chosen c;

CREATE TABLE runs AS
  SELECT concat('r', lpad(CAST(row_number() OVER (ORDER BY phase, ord) AS VARCHAR), 3, '0')) AS run,
    phase, level, mask, "repeat", ord
  FROM runs_unnumbered;

CREATE TABLE run_sources AS
  SELECT r.run, s.source, s.bit FROM runs r JOIN learning_sources s ON (r.mask & s.bit) > 0;

COPY (
  SELECT r.run, r.phase,
    CASE WHEN r.level = 'ss_r' THEN 'ss_r' ELSE st.strategy END AS strategy,
    r.level,
    coalesce(st.branch_at, 0) AS branch_at,
    (SELECT array_to_string(array_agg(rs.source ORDER BY rs.bit), '+') FROM run_sources rs WHERE rs.run = r.run) AS sources,
    (SELECT count(*) FROM run_sources rs WHERE rs.run = r.run) AS n,
    r."repeat",
    ${seed} * 1000 + CAST(substr(r.run, 2) AS BIGINT) AS seed,
    CASE WHEN r.level = 'mss_cr' THEN (
      SELECT array_to_string(array_agg(concat('rep_', p.run) ORDER BY rs.bit), '+')
      FROM run_sources rs JOIN runs p ON p.phase = 1 AND p."repeat" = 1 AND p.mask = rs.bit
      WHERE rs.run = r.run) ELSE '' END AS models
  FROM runs r LEFT JOIN strategies st ON r.level = st.level
  ORDER BY r.run
) TO '${dir}/design.csv' STORED AS CSV OPTIONS ('format.has_header' 'true');

CREATE EXTERNAL TABLE design STORED AS CSV LOCATION '${dir}/design.csv' OPTIONS ('format.has_header' 'true');
SELECT phase, level, count(*) AS runs, min(n) AS min_n, max(n) AS max_n FROM design GROUP BY phase, level ORDER BY phase, level;
SELECT max(unbalance) AS unbalance, round(max(max_aliasing), 3) AS max_aliasing FROM chosen WHERE run_order = ${design_runs};
