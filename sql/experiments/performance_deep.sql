-- Task-specific performance of the four deep encoders of robustness_deep.sql on original and
-- transformed clips (thesis §4.4, Fig. 4.4), in results/robustness/deep_performance.parquet.
-- Run after robustness_deep.sql, with its models (a few minutes on a 2-core CPU):
--   trustql --models results/robustness/models -f sql/experiments/performance_deep.sql
--
-- Clips: the four held-out chorales of robustness_deep.sql's split (the lowest BWV per soprano
-- instrument, which no encoder trained on), as rendered and under every transformation of
-- sql/experiments/transformations.csv (loudness-matched to the original, as in the robustness
-- set). Measures (thesis §4.4):
--   AE: reconstruction_error (MSE of the standardised input crops; lower is better);
--   AT: AUC over the clip's eight tags (its three tags positive), averaged over clips (AUC^C);
--   IR: accuracy of the most probable instrument;
--   VS: SDR of separate(enc_vs, mixture) against the soprano source, scale-invariant (SI-SDR),
--       because the transformations rescale the mixture (mix_noise and add_pink_noise
--       normalise it, match_loudness rescales it) and with it the estimate; the museval SDR is
--       kept beside it. The reference is the soprano under the same transformation for PS and
--       TS (the pitch or tempo of the target changes with the mixture's) and the untransformed
--       soprano for PN, EN and MP (noise and coding artefacts are distortion to remove).
SET datafusion.execution.batch_size = 24;

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
CREATE TABLE test AS
  SELECT * FROM chorales
  WHERE bwv IN (SELECT min(bwv) FROM chorales GROUP BY instrument);
SELECT bwv, instrument, key_mode, tempo FROM test ORDER BY instrument;

CREATE TABLE crowd AS
  SELECT samples AS noise FROM read_audio('../shared/data/audio/noise/crowd.wav', 22050);
CREATE EXTERNAL TABLE transformations (transform VARCHAR, magnitude DOUBLE) STORED AS CSV
  LOCATION 'sql/experiments/transformations.csv' OPTIONS ('format.has_header' 'true');

-- Every test clip as rendered (transform 'original', magnitude 0) and transformed.
CREATE TABLE variants AS
  SELECT bwv, instrument, key_mode, tempo, 'original' AS transform, CAST(0 AS DOUBLE) AS magnitude,
    mix, soprano AS reference
  FROM test
  UNION ALL
  SELECT c.bwv, c.instrument, c.key_mode, c.tempo, t.transform, t.magnitude,
    match_loudness(
      transform_audio(c.mix, 22050, t.transform, t.magnitude, 42, n.noise),
      c.mix, 22050),
    CASE t.transform
      WHEN 'PS' THEN pitch_shift(c.soprano, 22050, t.magnitude)
      WHEN 'TS' THEN tempo_shift(c.soprano, 22050, t.magnitude)
      ELSE c.soprano
    END
  -- Clips first, transformations last: a cross join holds its left side in memory, so this
  -- holds the clips, not every clip x transformation with its audio (4.4 GB the other way).
  FROM crowd n CROSS JOIN test c CROSS JOIN transformations t;

-- The four models' outputs for every variant.
CREATE TABLE outputs AS
  SELECT bwv, instrument, key_mode, tempo, transform, magnitude,
    reconstruction_error('enc_ae', mix) AS ae_mse,
    predict('enc_ir', mix) AS ir_p,
    predict('enc_at', mix) AS at_p,
    sdr(reference, estimate, 22050, 'scale_invariant') AS vs_si_sdr,
    sdr(reference, estimate, 22050) AS vs_sdr
  FROM (SELECT *, separate('enc_vs', mix) AS estimate FROM variants);

-- IR: is the most probable class (in model_info's class order) the soprano's instrument?
CREATE TABLE ir_classes AS
  SELECT string_to_array(value, ', ') AS classes FROM model_info('enc_ir') WHERE property = 'classes';
-- AT: AUC per clip over its tags, from every (positive, negative) pair of tags (ties count half).
CREATE TABLE at_scores AS
  SELECT o.bwv, o.transform, o.magnitude, unnest(o.at_p) AS score, unnest(c.classes) AS tag,
    o.instrument, o.key_mode, o.tempo
  FROM outputs o CROSS JOIN (
    SELECT string_to_array(value, ', ') AS classes FROM model_info('enc_at') WHERE property = 'classes') c;
CREATE TABLE at_auc AS
  SELECT p.bwv, p.transform, p.magnitude,
    avg(CASE WHEN p.score > n.score THEN 1.0 WHEN p.score = n.score THEN 0.5 ELSE 0.0 END) AS auc
  FROM (SELECT * FROM at_scores WHERE tag IN (instrument, key_mode, tempo)) p
  JOIN (SELECT * FROM at_scores WHERE tag NOT IN (instrument, key_mode, tempo)) n
    ON p.bwv = n.bwv AND p.transform = n.transform AND p.magnitude = n.magnitude
  GROUP BY p.bwv, p.transform, p.magnitude;

-- One row per (task, clip, transform, magnitude).
CREATE TABLE performance AS
  SELECT 'AE' AS task, 'MSE' AS measure, bwv, transform, magnitude, ae_mse AS value FROM outputs
  UNION ALL
  SELECT 'IR', 'accuracy', o.bwv, o.transform, o.magnitude,
    CASE WHEN c.classes[CAST(array_position(o.ir_p, array_max(o.ir_p)) AS BIGINT)] = o.instrument THEN 1.0 ELSE 0.0 END
  FROM outputs o CROSS JOIN ir_classes c
  UNION ALL
  SELECT 'AT', 'AUC', bwv, transform, magnitude, auc FROM at_auc
  UNION ALL
  SELECT 'VS', 'SI-SDR (dB)', bwv, transform, magnitude, vs_si_sdr FROM outputs
  UNION ALL
  SELECT 'VS', 'SDR (dB)', bwv, transform, magnitude, vs_sdr FROM outputs;
COPY (SELECT * FROM performance ORDER BY task, measure, transform, magnitude, bwv)
  TO 'results/robustness/deep_performance.parquet' STORED AS PARQUET;

-- Per task: the originals, and each transformation averaged over its magnitudes and clips.
SELECT task, measure,
  round(avg(value) FILTER (WHERE transform = 'original'), 3) AS original,
  round(avg(value) FILTER (WHERE transform = 'PS'), 3) AS "PS",
  round(avg(value) FILTER (WHERE transform = 'TS'), 3) AS "TS",
  round(avg(value) FILTER (WHERE transform = 'PN'), 3) AS "PN",
  round(avg(value) FILTER (WHERE transform = 'EN'), 3) AS "EN",
  round(avg(value) FILTER (WHERE transform = 'MP'), 3) AS "MP"
FROM performance GROUP BY task, measure ORDER BY task, measure;
-- The smallest transformations (thesis Fig. 4.12's "minimum" magnitudes) against the largest.
SELECT task, measure, transform,
  round(avg(value) FILTER (WHERE (transform = 'PS' AND abs(magnitude) = 0.25)
    OR (transform = 'TS' AND magnitude IN (0.98, 1.02)) OR (transform IN ('PN', 'EN') AND magnitude = 30)
    OR (transform = 'MP' AND magnitude = 320)), 3) AS smallest,
  round(avg(value) FILTER (WHERE (transform = 'PS' AND abs(magnitude) = 12)
    OR (transform = 'TS' AND magnitude IN (0.3, 1.5)) OR (transform IN ('PN', 'EN') AND magnitude = -15)
    OR (transform = 'MP' AND magnitude = 8)), 3) AS largest
FROM performance WHERE transform <> 'original'
GROUP BY task, measure, transform ORDER BY task, measure, transform;

-- Figures (from the saved results; scripts/figures.sh redraws them without rerunning the experiment)
-- Thesis Fig. 4.4: task performance against the magnitude per transformation (mean over the four
-- clips), with the originals' performance as a flat line in each pane.
COPY (
  WITH t AS (
    SELECT task || ' ' || measure AS task, transform, magnitude, avg(value) AS value
    FROM 'results/robustness/deep_performance.parquet'
    WHERE transform <> 'original' AND measure <> 'SDR (dB)' GROUP BY 1, 2, 3),
  o AS (
    SELECT task || ' ' || measure AS task, avg(value) AS value
    FROM 'results/robustness/deep_performance.parquet'
    WHERE transform = 'original' AND measure <> 'SDR (dB)' GROUP BY 1)
  SELECT t.task, t.transform, t.magnitude, 'transformed' AS clips, t.value FROM t
  UNION ALL
  SELECT t.task, t.transform, t.magnitude, 'original', o.value FROM t JOIN o USING (task)
  ORDER BY clips DESC, task, transform, magnitude)
  TO 'figures/fig4_4_performance.png'
  (FORMAT plot, kind 'line', x 'magnitude', y 'value', color 'clips', facet_row 'task', facet_col 'transform',
   free_x true, free_y true, y_label 'performance', title 'Task performance under transformations (thesis Fig. 4.4)');
