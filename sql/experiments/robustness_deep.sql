-- The robustness experiment of thesis ch. 4 with deep encoders (thesis §4.2, Table 4.1; SPEC §7):
-- four VGG-like encoders trained here for the four tasks of §4.2.1, and the MFCC encoder, on the
-- transformations of robustness_mfcc.sql, giving one consistency table (encoder × transform ×
-- magnitude) in results/robustness/deep_consistency.parquet.
--
-- Training data (../shared/data/audio/rendered: twelve Bach chorales rendered with General MIDI
-- instruments, ../shared/data/audio/manifest.csv). Split: for each of the four soprano
-- instruments, the chorale with the lowest BWV number (as text) is held out; the other eight train
-- every encoder:
--   instrument  (IR): mixture -> the soprano's instrument (clarinet, flute, trumpet, violin);
--   autotag     (AT): mixture -> tags derived from the manifest: the soprano's instrument, the
--                     key mode (major/minor) and the tempo (slow below 84 bpm, else fast);
--   separation  (VS): mixture -> the isolated soprano source;
--   autoencoder (AE): the mixtures and the isolated sources (16 clips).
-- The robustness set is the 24 clips of ../shared/data/audio/music, which no encoder saw.
--
-- Audio space as in robustness_mfcc.sql (per-frame MFCCs, DTW and SiMPle); embedding space: each
-- encoder's embedding (embed(model, audio): the mean of its 128-frame crops for the deep ones),
-- Euclidean and cosine distance; consistency per (encoder, transform, magnitude) with bootstrap
-- 95 % CIs. Run from the repository root (about half an hour on a 2-core CPU):
--   trustql --models results/robustness/models -f sql/experiments/robustness_deep.sql
SET datafusion.execution.batch_size = 24;

-- Training data.
CREATE EXTERNAL TABLE manifest STORED AS CSV LOCATION '../shared/data/audio/manifest.csv'
  OPTIONS ('format.has_header' 'true');
CREATE TABLE chorales AS
  SELECT m.bwv, m.soprano_instrument AS instrument, m.key_mode,
    CASE WHEN m.tempo_bpm < 84 THEN 'slow' ELSE 'fast' END AS tempo,
    mix.samples AS mix, src.samples AS soprano
  FROM manifest m
  JOIN read_audio('../shared/data/audio/rendered/*_mix.wav', 22050) mix
    ON mix.path LIKE '%/' || m.bwv || '_mix.wav'
  JOIN read_audio('../shared/data/audio/rendered/*_soprano.wav', 22050) src
    ON src.path LIKE '%/' || m.bwv || '_soprano.wav'
  WHERE m.kind = 'rendered_mix';
CREATE TABLE split AS
  SELECT bwv, CASE WHEN bwv = min(bwv) OVER (PARTITION BY instrument) THEN 'test' ELSE 'train' END AS part
  FROM chorales;
SELECT c.bwv, c.instrument, c.key_mode, c.tempo, s.part
  FROM chorales c JOIN split s USING (bwv) ORDER BY s.part, c.instrument, c.bwv;
CREATE VIEW train AS SELECT c.* FROM chorales c JOIN split s USING (bwv) WHERE s.part = 'train';

-- The four encoders (Adam, lr 0.001; crops of 128 frames; 30 epochs of 8 crops per clip).
CREATE OR REPLACE MODEL enc_ir OPTIONS (type = 'vgg', task = 'instrument', epochs = 30,
  crops_per_clip = 8, batch_size = 8, seed = 1)
  AS SELECT mix AS audio, instrument AS label FROM train;
CREATE OR REPLACE MODEL enc_at OPTIONS (type = 'vgg', task = 'autotag', epochs = 30,
  crops_per_clip = 8, batch_size = 8, seed = 1)
  AS SELECT mix AS audio, [instrument, key_mode, tempo] AS tags FROM train;
CREATE OR REPLACE MODEL enc_vs OPTIONS (type = 'vgg', task = 'separation', epochs = 30,
  crops_per_clip = 8, batch_size = 8, seed = 1)
  AS SELECT mix AS audio, soprano AS target FROM train;
CREATE OR REPLACE MODEL enc_ae OPTIONS (type = 'vgg', task = 'autoencoder', epochs = 30,
  crops_per_clip = 4, batch_size = 8, seed = 1)
  AS SELECT mix AS audio FROM train UNION ALL SELECT soprano FROM train;

-- The robustness set and its transformations (as robustness_mfcc.sql).
CREATE TABLE originals AS
  SELECT regexp_replace(path, '^.*/', '') AS clip, samples
  FROM read_audio('../shared/data/audio/music/*.wav', 22050);
CREATE TABLE crowd AS
  SELECT samples AS noise FROM read_audio('../shared/data/audio/noise/crowd.wav', 22050);
-- The transformations and magnitudes of SPEC §7 (thesis Fig. 4.3), in
-- sql/experiments/transformations.csv (shared by the robustness scripts).
CREATE EXTERNAL TABLE transformations (transform VARCHAR, magnitude DOUBLE) STORED AS CSV
  LOCATION 'sql/experiments/transformations.csv' OPTIONS ('format.has_header' 'true');

-- Features of the originals and of every loudness-matched transformation: per-frame MFCCs for
-- the audio space, and the five embeddings.
CREATE TABLE original_features AS
  SELECT clip, mfcc(samples, 22050, 25) AS frames,
    embed('mfcc', samples) AS mfcc, embed('enc_ae', samples) AS ae, embed('enc_at', samples) AS at,
    embed('enc_ir', samples) AS ir, embed('enc_vs', samples) AS vs
  FROM originals;
CREATE TABLE transformed_features AS
  SELECT clip, transform, magnitude, mfcc(audio, 22050, 25) AS frames,
    embed('mfcc', audio) AS mfcc, embed('enc_ae', audio) AS ae, embed('enc_at', audio) AS at,
    embed('enc_ir', audio) AS ir, embed('enc_vs', audio) AS vs
  FROM (
    SELECT o.clip, t.transform, t.magnitude,
      match_loudness(
        transform_audio(o.samples, 22050, t.transform, t.magnitude, 42, c.noise),
        o.samples, 22050) AS audio
    -- Clips first, transformations last: a cross join holds its left side in memory, so this
    -- holds the clips, not every clip x transformation with its audio (4.4 GB the other way).
    FROM crowd c CROSS JOIN originals o CROSS JOIN transformations t);

-- Distances from every transformed clip to every original: audio space once, embedding space
-- per encoder (one row per encoder).
CREATE TABLE audio_distances AS
  SELECT p.transform, p.magnitude, p.clip AS point, o.clip AS candidate,
    dtw(p.frames, o.frames) AS dtw, simple_distance(p.frames, o.frames, 50) AS simple
  FROM transformed_features p CROSS JOIN original_features o;
CREATE TABLE latent_distances AS
  SELECT p.transform, p.magnitude, p.clip AS point, o.clip AS candidate, e.encoder,
    euclidean_distance(
      CASE e.encoder WHEN 'MFCC' THEN p.mfcc WHEN 'AE' THEN p.ae WHEN 'AT' THEN p.at WHEN 'IR' THEN p.ir ELSE p.vs END,
      CASE e.encoder WHEN 'MFCC' THEN o.mfcc WHEN 'AE' THEN o.ae WHEN 'AT' THEN o.at WHEN 'IR' THEN o.ir ELSE o.vs END) AS euclidean,
    cosine_distance(
      CASE e.encoder WHEN 'MFCC' THEN p.mfcc WHEN 'AE' THEN p.ae WHEN 'AT' THEN p.at WHEN 'IR' THEN p.ir ELSE p.vs END,
      CASE e.encoder WHEN 'MFCC' THEN o.mfcc WHEN 'AE' THEN o.ae WHEN 'AT' THEN o.at WHEN 'IR' THEN o.ir ELSE o.vs END) AS cosine
  FROM transformed_features p CROSS JOIN original_features o
  CROSS JOIN (VALUES ('MFCC'), ('AE'), ('AT'), ('IR'), ('VS')) AS e(encoder);
CREATE TABLE distances AS
  SELECT l.encoder, l.transform, l.magnitude, l.point, l.point AS original, l.candidate,
    a.dtw, a.simple, l.euclidean, l.cosine
  FROM latent_distances l JOIN audio_distances a
    ON l.transform = a.transform AND l.magnitude = a.magnitude AND l.point = a.point
   AND l.candidate = a.candidate;
COPY distances TO 'results/robustness/deep_distances.parquet' STORED AS PARQUET;

CREATE TABLE consistency AS
  SELECT encoder, transform, magnitude,
    within_consistency(point, original, candidate, dtw) AS cw_dtw,
    within_consistency(point, original, candidate, simple) AS cw_simple,
    within_consistency(point, original, candidate, euclidean) AS cw_euclidean,
    within_consistency(point, original, candidate, cosine) AS cw_cosine,
    between_consistency(point, original, candidate, dtw, euclidean) AS cb_dtw_euclidean,
    between_consistency(point, original, candidate, simple, cosine) AS cb_simple_cosine
  FROM distances GROUP BY encoder, transform, magnitude;
COPY (SELECT * FROM consistency ORDER BY encoder, transform, magnitude)
  TO 'results/robustness/deep_consistency.parquet' STORED AS PARQUET;

-- Per encoder and transformation, averaged over magnitudes (the thesis' EMM view), then the
-- full table.
SELECT encoder, transform,
  round(avg(cw_euclidean['value']), 3) AS "C^W euclid", round(avg(cw_cosine['value']), 3) AS "C^W cosine",
  round(avg(cb_dtw_euclidean['rho']), 3) AS "C^B_rho dtw-euc", round(avg(cb_dtw_euclidean['accuracy']), 3) AS "C^B_acc dtw-euc"
FROM consistency GROUP BY encoder, transform ORDER BY transform, encoder;
SELECT encoder,
  round(avg(cw_euclidean['value']), 3) AS "C^W euclid", round(avg(cw_cosine['value']), 3) AS "C^W cosine",
  round(avg(cb_dtw_euclidean['rho']), 3) AS "C^B_rho dtw-euc", round(avg(cb_simple_cosine['rho']), 3) AS "C^B_rho simple-cos",
  round(avg(cb_dtw_euclidean['accuracy']), 3) AS "C^B_acc dtw-euc"
FROM consistency GROUP BY encoder ORDER BY encoder;
SELECT encoder, transform, magnitude,
  round(cw_euclidean['value'], 3) AS "C^W euclid", round(cw_cosine['value'], 3) AS "C^W cosine",
  round(cb_dtw_euclidean['rho'], 3) AS "C^B_rho dtw-euc", round(cb_dtw_euclidean['accuracy'], 3) AS "C^B_acc dtw-euc"
FROM consistency ORDER BY encoder, transform, magnitude;

-- Figures (from the saved results; scripts/figures.sh redraws them without rerunning the experiment)
-- Thesis Fig. 4.7: within-space consistency C^W (Euclidean) against the magnitude, per
-- transformation and encoder, with the audio space's C^W (DTW) as the grey reference curve.
COPY (
  SELECT transform, magnitude, encoder, cw_euclidean['value'] AS cw
  FROM 'results/robustness/deep_consistency.parquet'
  UNION ALL
  SELECT transform, magnitude, 'audio (DTW)', cw_dtw['value']
  FROM 'results/robustness/deep_consistency.parquet' WHERE encoder = 'MFCC'
  ORDER BY transform, encoder, magnitude)
  TO 'figures/fig4_7_consistency.png'
  (FORMAT plot, kind 'line', x 'magnitude', y 'cw', color 'encoder', facet_col 'transform',
   free_x true, y_label 'C^W', title 'Within-space consistency by transformation (thesis Fig. 4.7)');
