-- MSS-CR (see ../transfer_run.sql): the concatenation of the SS-R models (first repeat) of the
-- run's sources, without retraining. Variables: run, models.
CREATE MODEL IF NOT EXISTS rep_${run} OPTIONS (type = 'mtl_cnn', strategy = 'mss_cr', models = '${models}')
  AS SELECT 1;
CREATE TABLE clip_features AS
  SELECT clip, represent('rep_${run}', render_midi(midi, 22050, 'channels = 2', render_options)) AS features
  FROM (SELECT DISTINCT clip, midi, render_options FROM targets);
