-- trustql's side of the audio benchmark (bench/audio/run.sh): MFCC throughput and exact DTW on
-- the 24 music clips of ../shared/data/audio/music (10 s each at 22,050 Hz), each timed statement
-- repeated (the CLI prints each statement's time; bench/audio/compare.py takes the best), and the
-- MFCC sequences written out so that the Python peers work on exactly the same frames.
--
-- Run from the repository root:  trustql -f bench/audio/audio_speed.sql

CREATE TABLE clips AS SELECT regexp_replace(path, '^.*/', '') AS clip, samples
  FROM read_audio('../shared/data/audio/music/*.wav');

-- The feature statements run on ten copies of the clips (240 clips, ~0.2 s) so that the CLI's
-- millisecond timer resolves them to 0.5 %; compare.py divides their times by 10.
CREATE TABLE clips10 AS SELECT c.clip, c.samples FROM clips c CROSS JOIN generate_series(1, 10);
CREATE TABLE feats AS SELECT clip, mfcc(samples, 22050, 25) AS m FROM clips;

SELECT 'mfcc' AS bench;
CREATE OR REPLACE TABLE feats10 AS SELECT clip, mfcc(samples, 22050, 25) AS m FROM clips10;
CREATE OR REPLACE TABLE feats10 AS SELECT clip, mfcc(samples, 22050, 25) AS m FROM clips10;
CREATE OR REPLACE TABLE feats10 AS SELECT clip, mfcc(samples, 22050, 25) AS m FROM clips10;
CREATE OR REPLACE TABLE feats10 AS SELECT clip, mfcc(samples, 22050, 25) AS m FROM clips10;
CREATE OR REPLACE TABLE feats10 AS SELECT clip, mfcc(samples, 22050, 25) AS m FROM clips10;

SELECT 'mfcc_stats' AS bench;
CREATE OR REPLACE TABLE stats10 AS SELECT clip, mfcc_stats(samples, 22050, 'librosa') AS e FROM clips10;
CREATE OR REPLACE TABLE stats10 AS SELECT clip, mfcc_stats(samples, 22050, 'librosa') AS e FROM clips10;
CREATE OR REPLACE TABLE stats10 AS SELECT clip, mfcc_stats(samples, 22050, 'librosa') AS e FROM clips10;
CREATE OR REPLACE TABLE stats10 AS SELECT clip, mfcc_stats(samples, 22050, 'librosa') AS e FROM clips10;
CREATE OR REPLACE TABLE stats10 AS SELECT clip, mfcc_stats(samples, 22050, 'librosa') AS e FROM clips10;

SELECT 'dtw' AS bench;
CREATE OR REPLACE TABLE d AS SELECT a.clip AS a, b.clip AS b, dtw(a.m, b.m) AS dtw FROM feats a CROSS JOIN feats b;
CREATE OR REPLACE TABLE d AS SELECT a.clip AS a, b.clip AS b, dtw(a.m, b.m) AS dtw FROM feats a CROSS JOIN feats b;

SELECT 'simple' AS bench;
CREATE OR REPLACE TABLE s AS SELECT a.clip AS a, b.clip AS b, simple_distance(a.m, b.m, 50) AS simple FROM feats a CROSS JOIN feats b;

SELECT 'done' AS bench;
COPY (SELECT * FROM feats ORDER BY clip) TO 'target/bench-results/audio_mfcc.json' STORED AS JSON;
COPY (SELECT * FROM d ORDER BY a, b) TO 'target/bench-results/audio_dtw.json' STORED AS JSON;
