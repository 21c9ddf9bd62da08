-- A run's representation network (see ../transfer_run.sql): mtl_cnn trained from the learning
-- clips, rendered in stereo, on the run's sources (the columns of learn.parquet), then every
-- target clip's representation. Variables: run, options (with the epochs), width, batch_size, run_seed.
\i transfer_train_model.sql
CREATE TABLE clip_features AS
  SELECT clip, represent('rep_${run}', render_midi(midi, 22050, 'channels = 2', render_options)) AS features
  FROM (SELECT DISTINCT clip, midi, render_options FROM targets);
