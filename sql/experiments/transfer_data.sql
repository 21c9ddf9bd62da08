-- The data of the transferability experiment (thesis ch. 2, §2.2 and §2.4; issue 19): the
-- rendered-corpus analogues of the thesis' eight learning sources, each reduced to k latent
-- factors, and the target tasks, on scores disjoint from the learning ones. Writes, into ${dir}:
--   learn.parquet    one row per learning clip: clip, the score's midi and rendering options, and
--                    one list<float32> column per learning source (NULL where a clip lacks it)
--   targets.parquet  one row per (target, clip): target, kind (classify | regress), label (text),
--                    value (double), clip, midi and rendering options
--   listens.parquet  the synthetic listeners' plays of the target clips (cold-start target)
-- The audio itself is rendered from the scores by render_midi when a run needs it (deterministic:
-- the same score and options give the same samples), so no audio is stored.
--
-- Variables (scripts/transfer_experiment.sh sets them): corpus (folder of scores.parquet,
-- performances.parquet, listens.parquet), dir (output folder), learn_clips, target_clips,
-- per_class (clips per class of the balanced genre and dance targets), k (factors per source),
-- k_year (GMM components of year: at most its number of distinct values), seed.
--
-- Learning sources (thesis Table 2.1 → this corpus; the synthetic parts are said to be so):
--   self     the Siamese same-clip task (eq. 2.5–2.6): no column, no factors.
--   bpm      the render tempo in beats per minute (the performer's tempo for the genre, or the
--            dance type's customary tempo): GMM posterior, k components (thesis: Echo Nest BPM).
--   year     the score's curated composition/collection date (docs/corpus.md): GMM posterior,
--            k_year components (the thesis' release year).
--   tag      pLSA topics of the clip's descriptive tags: Essen function/genre tags, the meter, the
--            mode, the ambitus (in octaves), the texture (number of parts) and the General MIDI
--            instrument families it is played with (the thesis' Last.fm tags; ours are curated
--            plus performance facts).
--   cdr_tag  pLSA topics of the professional catalogue: the collection and every prefix of the
--            region path (Europa, Europa/Mitteleuropa, ...), as the CDR's hierarchical genres.
--   lyrics   pLSA topics of TF-IDF-weighted melodic bigrams of the top part (the words of the
--            melody, in place of the MSD's lyrics bag of words).
--   artist   pLSA topics of the performer's tag profile (performer × clip · clip × tag, SYNTHETIC
--            performers), every clip inheriting its performer's topics (the authors' code).
--   taste    pLSA topics of the clip's listeners (clip × listener play counts, SYNTHETIC seeded
--            listeners; the thesis: Echo Nest taste profiles).

CREATE EXTERNAL TABLE scores STORED AS PARQUET LOCATION '${corpus}/scores.parquet';
CREATE EXTERNAL TABLE performances STORED AS PARQUET LOCATION '${corpus}/performances.parquet';
CREATE EXTERNAL TABLE all_listens STORED AS PARQUET LOCATION '${corpus}/listens.parquet';

-- Scores are split once, by a hash of their id, into learning scores (10/16) and target scores
-- (6/16): no target clip is a rendering of a score the representations learned from.
CREATE TABLE score_part AS
  SELECT id, CASE WHEN substr(md5(concat('${seed}:', id)), 1, 1) < 'a' THEN 'learn' ELSE 'target' END AS part
  FROM scores;

-- How a performance is rendered: render_midi's per-row options (its fourth argument,
-- performance), one string per clip; each run gives the channels as the constant options
-- (stereo for the networks, mono for the MFCC baseline).
CREATE VIEW rendering AS
  SELECT p.clip, p.id, p.kind, p.performer, p.tempo, p.beat_bpm, p.melody_program, s.collection, s.midi,
    concat('tempo = ', CAST(p.tempo AS VARCHAR), ', transpose = ', CAST(p.transpose AS VARCHAR),
      ', programs = ', array_to_string(p.programs, ' '), ', pan = ', array_to_string(p.pan, ' '),
      ', max_seconds = ${clip_seconds}') AS render_options
  FROM performances p JOIN scores s ON p.id = s.id;

CREATE TABLE learn_clips AS
  SELECT r.* FROM rendering r JOIN score_part sp ON r.id = sp.id
  WHERE sp.part = 'learn' AND r.kind = 'performer'
  ORDER BY md5(concat('${seed}:', r.clip)) LIMIT ${learn_clips};
SELECT count(*) AS learning_clips, count(DISTINCT performer) AS performers, count(DISTINCT collection) AS collections FROM learn_clips;

-- bpm and year: Gaussian mixtures of a scalar.
CREATE MODEL z_bpm OPTIONS (type = 'gmm', k = ${k}, seed = ${seed}) AS SELECT beat_bpm AS value FROM learn_clips;
CREATE MODEL z_year OPTIONS (type = 'gmm', k = ${k_year}, seed = ${seed})
  AS SELECT s.year AS value FROM learn_clips c JOIN scores s ON c.id = s.id WHERE s.year IS NOT NULL;

-- tag: the clip's descriptive tags.
CREATE TABLE clip_tags AS
  SELECT c.clip, c.performer, concat('tag:', t.tag) AS term FROM learn_clips c
    JOIN (SELECT id, unnest(tags) AS tag FROM scores) t ON c.id = t.id
  UNION ALL SELECT c.clip, c.performer, concat('meter:', s.meter) FROM learn_clips c JOIN scores s ON c.id = s.id
  UNION ALL SELECT c.clip, c.performer, concat('mode:', s.mode) FROM learn_clips c JOIN scores s ON c.id = s.id
  UNION ALL SELECT c.clip, c.performer, concat('ambitus:', CAST(s.ambitus / 12 AS VARCHAR), '_octaves') FROM learn_clips c JOIN scores s ON c.id = s.id
  UNION ALL SELECT c.clip, c.performer, concat('parts:', CAST(least(s.parts, 5) AS VARCHAR)) FROM learn_clips c JOIN scores s ON c.id = s.id
  UNION ALL SELECT DISTINCT c.clip, c.performer, concat('family:', CAST(f.program / 8 AS VARCHAR)) FROM learn_clips c
    JOIN (SELECT clip, unnest(programs) AS program FROM performances) f ON c.clip = f.clip;
CREATE MODEL z_tag OPTIONS (type = 'plsa', k = ${k}, iterations = 100, seed = ${seed})
  AS SELECT clip AS doc, term, 1.0 AS weight FROM clip_tags;

-- cdr_tag: collection and region hierarchy.
CREATE TABLE clip_cdr AS
  SELECT c.clip, concat('collection:', s.collection) AS term FROM learn_clips c JOIN scores s ON c.id = s.id
  UNION ALL
  SELECT c.clip, concat('region:', array_to_string(array_slice(string_to_array(s.region, '/'), 1, d.depth), '/'))
  FROM learn_clips c JOIN scores s ON c.id = s.id
    CROSS JOIN (SELECT value AS depth FROM generate_series(1, 6)) d
  WHERE s.region IS NOT NULL AND d.depth <= cardinality(string_to_array(s.region, '/'));
CREATE MODEL z_cdr_tag OPTIONS (type = 'plsa', k = ${k}, iterations = 100, seed = ${seed})
  AS SELECT clip AS doc, term, 1.0 AS weight FROM clip_cdr;

-- lyrics: TF-IDF of the melody's bigrams.
CREATE MODEL z_lyrics OPTIONS (type = 'plsa', k = ${k}, iterations = 100, tfidf = true, seed = ${seed})
  AS SELECT c.clip AS doc, b.bigram AS term, CAST(count(*) AS DOUBLE) AS weight
  FROM learn_clips c JOIN (SELECT id, unnest(bigrams) AS bigram FROM scores) b ON c.id = b.id
  GROUP BY c.clip, b.bigram;

-- artist: the performer's tag profile (all its learning clips' tags, counted).
CREATE MODEL z_artist OPTIONS (type = 'plsa', k = ${k}, iterations = 100, seed = ${seed})
  AS SELECT performer AS doc, term, CAST(count(*) AS DOUBLE) AS weight FROM clip_tags GROUP BY performer, term;

-- taste: the clip's listeners.
CREATE MODEL z_taste OPTIONS (type = 'plsa', k = ${k}, iterations = 100, seed = ${seed})
  AS SELECT l.clip AS doc, CAST(l.listener AS VARCHAR) AS term, CAST(l.plays AS DOUBLE) AS weight
  FROM all_listens l JOIN learn_clips c ON l.clip = c.clip;

COPY (
  SELECT c.clip, c.collection, c.midi, c.render_options,
    gmm_posterior('z_bpm', c.beat_bpm) AS bpm,
    CASE WHEN s.year IS NULL THEN NULL ELSE gmm_posterior('z_year', s.year) END AS year,
    topic_mixture('z_tag', c.clip) AS tag,
    topic_mixture('z_cdr_tag', c.clip) AS cdr_tag,
    topic_mixture('z_lyrics', c.clip) AS lyrics,
    topic_mixture('z_artist', c.performer) AS artist,
    topic_mixture('z_taste', c.clip) AS taste
  FROM learn_clips c JOIN scores s ON c.id = s.id ORDER BY c.clip
) TO '${dir}/learn.parquet' STORED AS PARQUET;

CREATE EXTERNAL TABLE learn STORED AS PARQUET LOCATION '${dir}/learn.parquet';
SELECT count(*) AS clips, count(bpm) AS bpm, count(year) AS year, count(tag) AS tag, count(cdr_tag) AS cdr_tag,
  count(lyrics) AS lyrics, count(artist) AS artist, count(taste) AS taste FROM learn;

-- Targets (thesis Table 2.5 analogues), all on target scores.
CREATE TABLE pool AS
  SELECT r.*, s.notes, s.quarter_length, s.key_margin FROM rendering r
    JOIN score_part sp ON r.id = sp.id JOIN scores s ON r.id = s.id
  WHERE sp.part = 'target' AND r.kind = 'performer'
  ORDER BY md5(concat('${seed}:pool:', r.clip)) LIMIT ${target_clips};
CREATE TABLE genre10_classes AS
  SELECT collection FROM pool GROUP BY collection HAVING count(*) >= ${per_class}
  ORDER BY count(*) DESC, collection LIMIT 10;
CREATE TABLE dance_pool AS
  SELECT * FROM (
    SELECT r.*, s.dance_type, row_number() OVER (PARTITION BY s.dance_type ORDER BY md5(concat('${seed}:dance:', r.clip))) AS k
    FROM rendering r JOIN score_part sp ON r.id = sp.id JOIN scores s ON r.id = s.id
    WHERE sp.part = 'target' AND r.kind = 'dance')
  WHERE k <= ${per_class};

COPY (
  -- genre (FMA analogue): the collection, imbalanced as the corpus is.
  SELECT 'genre' AS target, 'classify' AS kind, collection AS label, CAST(NULL AS DOUBLE) AS value, clip, midi, render_options FROM pool
  UNION ALL
  -- genre10 (GTZAN analogue): the ten largest collections, per_class clips each.
  SELECT 'genre10', 'classify', label, CAST(NULL AS DOUBLE), clip, midi, render_options FROM (
    SELECT p.collection AS label, p.clip, p.midi, p.render_options,
      row_number() OVER (PARTITION BY p.collection ORDER BY md5(concat('${seed}:g10:', p.clip))) AS k
    FROM pool p JOIN genre10_classes g ON p.collection = g.collection) WHERE k <= ${per_class}
  UNION ALL
  -- dance (Extended Ballroom analogue): dance type, each at its customary tempo; the types with
  -- at least min(10, per_class / 2) clips (the sample's small scale keeps four types).
  SELECT 'dance', 'classify', dance_type, CAST(NULL AS DOUBLE), clip, midi, render_options FROM dance_pool
    WHERE dance_type IN (SELECT dance_type FROM dance_pool GROUP BY dance_type HAVING count(*) >= least(10, ${per_class} / 2))
  UNION ALL
  -- instrument (IRMAS analogue): the melody's General MIDI program among the eleven.
  SELECT 'instrument', 'classify', CAST(melody_program AS VARCHAR), CAST(NULL AS DOUBLE), clip, midi, render_options FROM pool
  UNION ALL
  -- density (an arousal analogue): notes per second at the rendered tempo.
  SELECT 'density', 'regress', CAST(NULL AS VARCHAR), notes * tempo / 60.0 / quarter_length, clip, midi, render_options FROM pool
    WHERE quarter_length > 0
  UNION ALL
  -- mode (a valence analogue): the major-minor key-profile margin.
  SELECT 'key_margin', 'regress', CAST(NULL AS VARCHAR), key_margin, clip, midi, render_options FROM pool
    WHERE key_margin IS NOT NULL
  UNION ALL
  -- recommend (the Last.fm cold-start analogue): the pool's clips that somebody played; the
  -- plays are listens.parquet (the synthetic listeners').
  SELECT 'recommend', 'recommend', CAST(NULL AS VARCHAR), CAST(NULL AS DOUBLE), clip, midi, render_options FROM pool
    WHERE clip IN (SELECT clip FROM all_listens)
  ORDER BY target, clip
) TO '${dir}/targets.parquet' STORED AS PARQUET;

COPY (SELECT l.listener, l.clip, l.plays FROM all_listens l JOIN pool p ON l.clip = p.clip ORDER BY l.listener, l.clip)
  TO '${dir}/listens.parquet' STORED AS PARQUET;

CREATE EXTERNAL TABLE targets STORED AS PARQUET LOCATION '${dir}/targets.parquet';
SELECT target, kind, count(*) AS clips, count(DISTINCT label) AS classes, round(avg(value), 3) AS mean_value
FROM targets GROUP BY target, kind ORDER BY target;
