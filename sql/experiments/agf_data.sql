-- The data of the artist-group-factor experiment (thesis ch. 3, §3.3.1, Table 3.1; issue 21):
-- the tracks, their main genre, a stratified 85/15 split, and the four artist group factor (AGF)
-- targets, each an artist's mixture over n_groups latent groups found by LDA from an
-- artist-level bag of words. Writes ${dir}/agf.parquet: one row per track with track, performer,
-- genre, split ('train' | 'valid'), midi, render_options and the five learning targets as lists
-- of numbers:
--   g  the main genre, one-hot (the thesis' 16 FMA top genres; here the score's collection, 15 or
--      16 of them: German and Chinese folk songs, Irish dances, American fiddle tunes, chorales ...)
--   m  AGF of frame-level MFCCs: 25 coefficients (c0 kept; Table 3.1's 25) per frame of every training track,
--      a k-means dictionary of n_words audio words learnt from them, each artist's bag of words
--      (the words of all its training frames, counted), LDA with n_groups topics
--   d  the same from the frames' time deltas (first differences of the MFCC frames, §3.3.1)
--   e  AGF of song-level descriptors (the thesis: Essentia's 4,374 values per track): the mean
--      and standard deviation over time of 40 MFCCs, of their first differences and of their
--      Savitzky–Golay second derivatives (width 9), and the loudness (LUFS): 241 values,
--      quantile-normalised per dimension to N(0, 1) over the training tracks (§3.3.1, as
--      scikit-learn's QuantileTransformer), a k-means dictionary of n_words_e words (one word per
--      track), each artist's bag of words, LDA
--   s  AGF of the sub-genre labels (the thesis: FMA's 150 genres and sub-genres, a pre-defined
--      dictionary): each training track's Essen function tags, region path prefixes, dance type,
--      meter and mode, counted per artist, LDA
-- The AGFs are learnt from the training tracks only (the 15 % validation tracks take no part in
-- representation learning); a validation track has g but no AGFs (NULL). An artist is a
-- SYNTHETIC performer of scripts/performances.py (docs/corpus.md): its tracks are renderings of
-- works of its one or two genres with its instruments, tempo, transposition and panning.
--
-- Variables (scripts/agf_experiment.sh sets them): corpus, dir, seed, tracks (at most this many
-- performer tracks, a seeded choice), clip_seconds, n_words, n_words_e, n_groups, kmeans_batch
-- (mini-batch size of the frame dictionaries; 0 for full-batch Lloyd).

CREATE EXTERNAL TABLE scores STORED AS PARQUET LOCATION '${corpus}/scores.parquet';
CREATE EXTERNAL TABLE performances STORED AS PARQUET LOCATION '${corpus}/performances.parquet';

CREATE TABLE tracks AS
  SELECT p.clip AS track, p.performer, s.collection AS genre, s.midi,
    concat('tempo = ', CAST(p.tempo AS VARCHAR), ', transpose = ', CAST(p.transpose AS VARCHAR),
      ', programs = ', array_to_string(p.programs, ' '), ', pan = ', array_to_string(p.pan, ' '),
      ', max_seconds = ${clip_seconds}') AS render_options,
    s.tags, s.region, s.dance_type, s.meter, s.mode
  FROM performances p JOIN scores s ON p.id = s.id
  WHERE p.kind = 'performer' AND s.collection <> 'other'
  ORDER BY md5(concat('${seed}:track:', p.clip)) LIMIT ${tracks};

-- The stratified 85/15 split (§3.4): within each genre, the first round(0.15 n) tracks in a seeded
-- order are validation tracks.
CREATE TABLE split AS
  SELECT track, CASE WHEN k <= round(0.15 * n) THEN 'valid' ELSE 'train' END AS split
  FROM (SELECT track,
          row_number() OVER (PARTITION BY genre ORDER BY md5(concat('${seed}:split:', track))) AS k,
          count(*) OVER (PARTITION BY genre) AS n
        FROM tracks);
SELECT split, count(*) AS tracks, count(DISTINCT t.performer) AS artists, count(DISTINCT t.genre) AS genres
FROM tracks t JOIN split USING (track) GROUP BY split ORDER BY split;

-- Frame features of every training track: 40 MFCCs per frame (librosa's defaults: n_fft 2048,
-- hop 512), rendered in mono at 22,050 Hz; m takes the first 25 (the same values: the DCT's
-- coefficients do not depend on how many are kept).
CREATE TABLE frames AS
  SELECT track, performer, mfcc(audio, 22050, 40) AS c40, loudness_lufs(audio, 22050) AS lufs
  FROM (SELECT t.track, t.performer, render_midi(t.midi, 22050, 'channels = 1', t.render_options) AS audio
        FROM tracks t JOIN split s ON t.track = s.track WHERE s.split = 'train');

CREATE TABLE frame_m AS
  SELECT track, performer, array_slice(frame, 1, 25) AS frame
  FROM (SELECT track, performer, unnest(c40) AS frame FROM frames);
CREATE TABLE frame_d AS
  SELECT track, performer, unnest(frame_deltas(m)) AS frame
  FROM (SELECT track, performer, array_agg(frame) AS m FROM frame_m GROUP BY track, performer);
SELECT 'm' AS features, count(*) AS frames, count(DISTINCT track) AS tracks FROM frame_m
UNION ALL SELECT 'd', count(*), count(DISTINCT track) FROM frame_d;

-- m and d: a dictionary of audio words per feature set, then each artist's bag of words.
CREATE MODEL dict_m OPTIONS (type = 'kmeans', k = ${n_words}, batch_size = ${kmeans_batch}, seed = ${seed})
  AS SELECT frame AS vector FROM frame_m;
CREATE MODEL dict_d OPTIONS (type = 'kmeans', k = ${n_words}, batch_size = ${kmeans_batch}, seed = ${seed})
  AS SELECT frame AS vector FROM frame_d;
CREATE TABLE bow_m AS
  SELECT performer, concat('w', CAST(w AS VARCHAR)) AS term, CAST(count(*) AS DOUBLE) AS weight
  FROM (SELECT performer, kmeans_assign('dict_m', frame) AS w FROM frame_m) GROUP BY performer, w;
CREATE TABLE bow_d AS
  SELECT performer, concat('w', CAST(w AS VARCHAR)) AS term, CAST(count(*) AS DOUBLE) AS weight
  FROM (SELECT performer, kmeans_assign('dict_d', frame) AS w FROM frame_d) GROUP BY performer, w;

-- e: one descriptor per training track, quantile-normalised per dimension.
CREATE TABLE descriptors AS
  SELECT track, performer,
    array_concat(frame_stats(c40), frame_stats(frame_deltas(c40)), frame_stats(frame_deltas(c40, 9, 2)),
      make_array(CAST(lufs AS REAL))) AS v
  FROM frames;
CREATE TABLE descriptors_normal AS
  SELECT track, performer, array_agg(CAST(q AS REAL) ORDER BY dim) AS vector
  FROM (SELECT track, performer, dim, quantile_normal(value) OVER (PARTITION BY dim) AS q
        FROM (SELECT track, performer, unnest(range(1, CAST(cardinality(v) AS BIGINT) + 1)) AS dim, unnest(v) AS value
              FROM descriptors))
  GROUP BY track, performer;
CREATE MODEL dict_e OPTIONS (type = 'kmeans', k = ${n_words_e}, seed = ${seed})
  AS SELECT vector FROM descriptors_normal;
CREATE TABLE bow_e AS
  SELECT performer, concat('w', CAST(w AS VARCHAR)) AS term, CAST(count(*) AS DOUBLE) AS weight
  FROM (SELECT performer, kmeans_assign('dict_e', vector) AS w FROM descriptors_normal) GROUP BY performer, w;

-- s: the sub-genre labels of the artist's training tracks.
CREATE TABLE bow_s AS
  SELECT performer, term, CAST(count(*) AS DOUBLE) AS weight FROM (
    SELECT t.performer, concat('tag:', x.tag) AS term
      FROM tracks t JOIN split s ON t.track = s.track
      JOIN (SELECT track, unnest(tags) AS tag FROM tracks) x ON t.track = x.track WHERE s.split = 'train'
    UNION ALL
    SELECT t.performer, concat('region:', array_to_string(array_slice(string_to_array(t.region, '/'), 1, d.depth), '/'))
      FROM tracks t JOIN split s ON t.track = s.track CROSS JOIN (SELECT value AS depth FROM generate_series(1, 6)) d
      WHERE s.split = 'train' AND t.region IS NOT NULL AND d.depth <= cardinality(string_to_array(t.region, '/'))
    UNION ALL
    SELECT t.performer, concat('dance:', t.dance_type) FROM tracks t JOIN split s ON t.track = s.track
      WHERE s.split = 'train' AND t.dance_type IS NOT NULL
    UNION ALL
    SELECT t.performer, concat('meter:', t.meter) FROM tracks t JOIN split s ON t.track = s.track
      WHERE s.split = 'train' AND t.meter IS NOT NULL
    UNION ALL
    SELECT t.performer, concat('mode:', t.mode) FROM tracks t JOIN split s ON t.track = s.track
      WHERE s.split = 'train')
  GROUP BY performer, term;

SELECT 'm' AS features, count(DISTINCT performer) AS artists, count(DISTINCT term) AS words, sum(weight) AS count FROM bow_m
UNION ALL SELECT 'd', count(DISTINCT performer), count(DISTINCT term), sum(weight) FROM bow_d
UNION ALL SELECT 'e', count(DISTINCT performer), count(DISTINCT term), sum(weight) FROM bow_e
UNION ALL SELECT 's', count(DISTINCT performer), count(DISTINCT term), sum(weight) FROM bow_s
ORDER BY features;

-- The artist groups: LDA with n_groups topics on each bag of words (§3.3.1, 40 groups).
CREATE MODEL agf_m OPTIONS (type = 'lda', k = ${n_groups}, seed = ${seed}) AS SELECT performer AS doc, term, weight FROM bow_m;
CREATE MODEL agf_d OPTIONS (type = 'lda', k = ${n_groups}, seed = ${seed}) AS SELECT performer AS doc, term, weight FROM bow_d;
CREATE MODEL agf_e OPTIONS (type = 'lda', k = ${n_groups}, seed = ${seed}) AS SELECT performer AS doc, term, weight FROM bow_e;
CREATE MODEL agf_s OPTIONS (type = 'lda', k = ${n_groups}, seed = ${seed}) AS SELECT performer AS doc, term, weight FROM bow_s;

-- g: the genre, one-hot over the genres in alphabetical order.
CREATE TABLE genres AS SELECT genre, row_number() OVER (ORDER BY genre) AS gi FROM (SELECT DISTINCT genre FROM tracks);
CREATE TABLE onehot AS
  SELECT t.track, array_agg(CASE WHEN g.genre = t.genre THEN 1.0 ELSE 0.0 END ORDER BY g.gi) AS g
  FROM tracks t CROSS JOIN genres g GROUP BY t.track;

COPY (
  SELECT t.track, t.performer, t.genre, s.split, t.midi, t.render_options, o.g,
    CASE WHEN s.split = 'train' THEN topic_mixture('agf_m', t.performer) END AS m,
    CASE WHEN s.split = 'train' THEN topic_mixture('agf_d', t.performer) END AS d,
    CASE WHEN s.split = 'train' THEN topic_mixture('agf_e', t.performer) END AS e,
    CASE WHEN s.split = 'train' THEN topic_mixture('agf_s', t.performer) END AS s
  FROM tracks t JOIN split s ON t.track = s.track JOIN onehot o ON t.track = o.track
  ORDER BY t.track
) TO '${dir}/agf.parquet' STORED AS PARQUET;

CREATE EXTERNAL TABLE agf STORED AS PARQUET LOCATION '${dir}/agf.parquet';
SELECT split, count(*) AS tracks, count(g) AS g, count(m) AS m, count(d) AS d, count(e) AS e, count(s) AS s,
  min(cardinality(g)) AS genres, min(cardinality(m)) AS groups
FROM agf GROUP BY split ORDER BY split;
-- How concentrated the artist groups are: the mean largest group share per feature set.
SELECT round(avg(array_max(m)), 3) AS m, round(avg(array_max(d)), 3) AS d, round(avg(array_max(e)), 3) AS e,
  round(avg(array_max(s)), 3) AS s FROM agf WHERE split = 'train';
