-- Thesis Fig. 4.9: 2-D t-SNE maps of the 24 robustness clips and their smallest (barely
-- perceptible) transformations, per encoder: if an encoder were consistent with the audio
-- space, every transformed clip would sit on its original. Needs the models of
-- robustness_deep.sql. Run from the repository root (a few minutes on a 2-core CPU):
--   trustql --models results/robustness/models -f sql/experiments/tsne_deep.sql
-- Writes results/robustness/tsne.parquet and figures/fig4_9_tsne.png.
SET datafusion.execution.batch_size = 24;

CREATE TABLE originals AS
  SELECT regexp_replace(path, '^.*/', '') AS clip, samples
  FROM read_audio('../shared/data/audio/music/*.wav', 22050);
CREATE TABLE crowd AS
  SELECT samples AS noise FROM read_audio('../shared/data/audio/noise/crowd.wav', 22050);
-- The smallest magnitude of each transformation (both directions for PS and TS).
CREATE TABLE smallest (transform VARCHAR, magnitude DOUBLE);
INSERT INTO smallest VALUES ('PS', -0.25), ('PS', 0.25), ('TS', 0.98), ('TS', 1.02), ('PN', 30.0),
  ('EN', 30.0), ('MP', 320.0);

CREATE TABLE clips AS
  SELECT clip, 'original' AS transform, CAST(0 AS DOUBLE) AS magnitude, samples FROM originals
  UNION ALL
  SELECT o.clip, t.transform, t.magnitude,
    match_loudness(
      transform_audio(o.samples, 22050, t.transform, t.magnitude, 42, c.noise),
      o.samples, 22050)
  FROM originals o CROSS JOIN smallest t CROSS JOIN crowd c;

CREATE TABLE embeddings AS
  SELECT clip, transform, magnitude, embed('mfcc', samples) AS mfcc, embed('enc_ae', samples) AS ae,
    embed('enc_at', samples) AS at, embed('enc_ir', samples) AS ir, embed('enc_vs', samples) AS vs
  FROM clips;
CREATE VIEW e_mfcc AS SELECT clip, transform, magnitude, mfcc AS e FROM embeddings;
CREATE VIEW e_ae AS SELECT clip, transform, magnitude, ae AS e FROM embeddings;
CREATE VIEW e_at AS SELECT clip, transform, magnitude, at AS e FROM embeddings;
CREATE VIEW e_ir AS SELECT clip, transform, magnitude, ir AS e FROM embeddings;
CREATE VIEW e_vs AS SELECT clip, transform, magnitude, vs AS e FROM embeddings;

-- One map per encoder (perplexity 30, PCA initialisation: deterministic).
CREATE TABLE maps AS
  SELECT 'MFCC' AS encoder, clip, transform, magnitude, tsne_x, tsne_y FROM tsne('e_mfcc', 'e', 30, 0)
  UNION ALL SELECT 'AE', clip, transform, magnitude, tsne_x, tsne_y FROM tsne('e_ae', 'e', 30, 0)
  UNION ALL SELECT 'AT', clip, transform, magnitude, tsne_x, tsne_y FROM tsne('e_at', 'e', 30, 0)
  UNION ALL SELECT 'IR', clip, transform, magnitude, tsne_x, tsne_y FROM tsne('e_ir', 'e', 30, 0)
  UNION ALL SELECT 'VS', clip, transform, magnitude, tsne_x, tsne_y FROM tsne('e_vs', 'e', 30, 0);
COPY (SELECT * FROM maps ORDER BY encoder, clip, transform, magnitude)
  TO 'results/robustness/tsne.parquet' STORED AS PARQUET;

-- How far the transformed clips land from their originals on each map, relative to the typical
-- distance between originals (1 = as far as another clip).
SELECT m.encoder,
  round(avg(sqrt(power(m.tsne_x - o.tsne_x, 2) + power(m.tsne_y - o.tsne_y, 2))) / avg(s.spread), 3) AS moved
FROM maps m
JOIN maps o ON o.encoder = m.encoder AND o.clip = m.clip AND o.transform = 'original'
JOIN (SELECT a.encoder, avg(sqrt(power(a.tsne_x - b.tsne_x, 2) + power(a.tsne_y - b.tsne_y, 2))) AS spread
      FROM maps a JOIN maps b ON a.encoder = b.encoder AND a.clip < b.clip
      WHERE a.transform = 'original' AND b.transform = 'original' GROUP BY a.encoder) s
  ON s.encoder = m.encoder
WHERE m.transform <> 'original'
GROUP BY m.encoder ORDER BY moved;

-- Figures (from the saved results; scripts/figures.sh redraws them without rerunning the experiment)
COPY (SELECT encoder, transform, tsne_x, tsne_y FROM 'results/robustness/tsne.parquet'
      ORDER BY CASE encoder WHEN 'MFCC' THEN 0 WHEN 'AE' THEN 1 WHEN 'AT' THEN 2 WHEN 'IR' THEN 3 ELSE 4 END,
        transform <> 'original', transform)
  TO 'figures/fig4_9_tsne.png'
  (FORMAT plot, kind 'scatter', x 'tsne_x', y 'tsne_y', color 'transform', facet_col 'encoder',
   free_x true, free_y true, x_label 't-SNE 1', y_label 't-SNE 2',
   title 'Originals and their smallest transformations (thesis Fig. 4.9)', scale 1);
