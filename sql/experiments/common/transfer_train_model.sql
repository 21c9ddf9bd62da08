-- A run's representation network alone (see transfer_train_net.sql, which includes it; the driver
-- also runs it by itself to retrain a missing SS-R model that an MSS-CR run concatenates: seeded,
-- so the same bits as the first time). Needs the table `learn` and the variables run, options
-- (with the epochs), width, batch_size, run_seed.
CREATE MODEL IF NOT EXISTS rep_${run} OPTIONS (type = 'mtl_cnn', ${options},
    width = ${width}, batch_size = ${batch_size}, seed = ${run_seed})
  AS SELECT clip AS track, render_midi(midi, 22050, 'channels = 2', render_options) AS audio,
    bpm, year, tag, cdr_tag, lyrics, artist, taste
  FROM learn;
