-- How far a barely perceptible pitch shift (+0.25 semitone, loudness-matched) moves a clip's
-- embedding by the instrument encoder of robustness_deep.sql, next to the distances between
-- the originals: the README's explanation of the deep encoders' low C^W. Needs the models that
-- robustness_deep.sql trained. Run from the repository root:
--   trustql --models results/robustness/models -f sql/experiments/deep_embedding_spread.sql
CREATE TABLE m AS
  SELECT regexp_replace(path, '^.*/', '') AS clip, samples
  FROM read_audio('../shared/data/audio/music/*.wav', 22050) ORDER BY clip LIMIT 4;
CREATE TABLE e AS
  SELECT clip, embed('enc_ir', samples) AS a,
    embed('enc_ir', match_loudness(pitch_shift(samples, 22050, 0.25), samples, 22050)) AS b
  FROM m;
SELECT clip, round(euclidean_distance(a, b), 3) AS moved_by_ps FROM e ORDER BY clip;
SELECT x.clip AS clip, y.clip AS other, round(euclidean_distance(x.a, y.a), 3) AS apart
  FROM e x, e y WHERE x.clip < y.clip ORDER BY clip, other;
