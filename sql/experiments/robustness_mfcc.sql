-- The robustness experiment of thesis ch. 4 with the MFCC encoder (SPEC §7; thesis §4.3–4.5,
-- Fig. 4.6–4.11): every clip of ../shared/data/audio/music × every transformation and magnitude
-- of SPEC §7, each transformed clip matched to its original's loudness (EBU R128), then
--   audio space:     per-frame MFCCs (25 coefficients, librosa's defaults), DTW and SiMPle;
--   embedding space: the 144-d MFCC encoder (embed('mfcc', ...)), Euclidean and cosine distance;
-- distances from every transformed clip to every ORIGINAL clip, and per (transform, magnitude)
-- the within-space consistency C^W in each space and the between-space consistencies C^B_ρ and
-- C^B_acc for each pair of an audio and a latent distance, with bootstrap 95 % CIs (1,000
-- resamples of the transformed clips, seeded).
--
-- Writes results/robustness/mfcc_distances.parquet and results/robustness/mfcc_consistency.parquet
-- and prints the consistency table. Run from the repository root:
--   trustql -f sql/experiments/robustness_mfcc.sql
--
-- Clips are large (220,500 samples each): small batches keep only a few dozen of them in memory
-- at a time while they are transformed.
SET datafusion.execution.batch_size = 24;

CREATE TABLE originals AS
  SELECT regexp_replace(path, '^.*/', '') AS clip, samples
  FROM read_audio('../shared/data/audio/music/*.wav', 22050);
CREATE TABLE crowd AS
  SELECT samples AS noise FROM read_audio('../shared/data/audio/noise/crowd.wav', 22050);

-- The transformations and magnitudes of SPEC §7 (thesis Fig. 4.3), in
-- sql/experiments/transformations.csv (shared by the robustness scripts).
CREATE EXTERNAL TABLE transformations (transform VARCHAR, magnitude DOUBLE) STORED AS CSV
  LOCATION 'sql/experiments/transformations.csv' OPTIONS ('format.has_header' 'true');
SELECT transform, count(*) AS magnitudes, min(magnitude) AS smallest, max(magnitude) AS largest
  FROM transformations GROUP BY transform ORDER BY transform;

-- Features of the originals: per-frame MFCCs for the audio space, the 144-d encoder for the
-- embedding space.
CREATE TABLE original_features AS
  SELECT clip, mfcc(samples, 22050, 25) AS frames, embed('mfcc', samples) AS embedding
  FROM originals;

-- Every clip × every transformation, loudness-matched to its original, reduced to its features
-- on the fly (the transformed audio itself is not kept). Seeds: one per clip and magnitude.
CREATE TABLE transformed_features AS
  SELECT clip, transform, magnitude,
    mfcc(audio, 22050, 25) AS frames, embed('mfcc', audio) AS embedding
  FROM (
    SELECT o.clip, t.transform, t.magnitude,
      match_loudness(
        transform_audio(o.samples, 22050, t.transform, t.magnitude, 42, c.noise),
        o.samples, 22050) AS audio
    -- Clips first, transformations last: a cross join holds its left side in memory, so this
    -- holds the clips, not every clip x transformation with its audio (4.4 GB the other way).
    FROM crowd c CROSS JOIN originals o CROSS JOIN transformations t);

-- Distances from every transformed clip to every original, in both spaces.
CREATE TABLE distances AS
  SELECT p.transform, p.magnitude, p.clip AS point, p.clip AS original, o.clip AS candidate,
    dtw(p.frames, o.frames) AS dtw,
    simple_distance(p.frames, o.frames, 50) AS simple,
    euclidean_distance(p.embedding, o.embedding) AS euclidean,
    cosine_distance(p.embedding, o.embedding) AS cosine
  FROM transformed_features p CROSS JOIN original_features o;
COPY distances TO 'results/robustness/mfcc_distances.parquet' STORED AS PARQUET;

-- Consistency per (transform, magnitude).
CREATE TABLE consistency AS
  SELECT transform, magnitude,
    within_consistency(point, original, candidate, dtw) AS cw_dtw,
    within_consistency(point, original, candidate, simple) AS cw_simple,
    within_consistency(point, original, candidate, euclidean) AS cw_euclidean,
    within_consistency(point, original, candidate, cosine) AS cw_cosine,
    between_consistency(point, original, candidate, dtw, euclidean) AS cb_dtw_euclidean,
    between_consistency(point, original, candidate, dtw, cosine) AS cb_dtw_cosine,
    between_consistency(point, original, candidate, simple, euclidean) AS cb_simple_euclidean,
    between_consistency(point, original, candidate, simple, cosine) AS cb_simple_cosine
  FROM distances GROUP BY transform, magnitude;
COPY (SELECT * FROM consistency ORDER BY transform, magnitude)
  TO 'results/robustness/mfcc_consistency.parquet' STORED AS PARQUET;

SELECT transform, magnitude,
  round(cw_dtw['value'], 3) AS "C^W dtw", round(cw_simple['value'], 3) AS "C^W simple",
  round(cw_euclidean['value'], 3) AS "C^W euclid", round(cw_cosine['value'], 3) AS "C^W cosine",
  round(cb_dtw_euclidean['rho'], 3) AS "C^B_rho dtw-euc", round(cb_simple_cosine['rho'], 3) AS "C^B_rho simple-cos",
  round(cb_dtw_euclidean['accuracy'], 3) AS "C^B_acc dtw-euc", round(cb_simple_cosine['accuracy'], 3) AS "C^B_acc simple-cos"
FROM consistency ORDER BY transform, magnitude;
