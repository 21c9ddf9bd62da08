-- One network of the artist-group-factor experiment (thesis ch. 3, §3.3.2; see
-- ../scripts/agf_experiment.sh): an agf_cnn trained on the training tracks of agf.parquet (mono,
-- 22,050 Hz, random 1 s crops), then every track's segment features (represent_segments: one
-- vector per 1 s segment, the dense layer of every task's branch), written to
-- ${dir}/features/${net}.parquet (track, seg, features). The model is kept in the model store, so
-- a stopped run does not train it again.
-- Variables: dir, net, options (tasks, shared, width, epochs), columns (the tasks' columns),
-- batch_size, net_seed.

CREATE EXTERNAL TABLE agf STORED AS PARQUET LOCATION '${dir}/agf.parquet';

CREATE MODEL IF NOT EXISTS ${net} OPTIONS (type = 'agf_cnn', ${options}, batch_size = ${batch_size},
    seed = ${net_seed})
  AS SELECT track, render_midi(midi, 22050, 'channels = 1', render_options) AS audio, ${columns}
  FROM agf WHERE split = 'train';
SELECT property, value FROM model_info('${net}')
WHERE property IN ('tasks', 'shared', 'width', 'parameters', 'training: updates', 'training: seconds');

COPY (
  SELECT track, unnest(range(0, CAST(array_length(r) AS BIGINT))) AS seg, unnest(r) AS features
  FROM (SELECT track, represent_segments('${net}', render_midi(midi, 22050, 'channels = 1', render_options)) AS r
        FROM agf)
  ORDER BY track, seg
) TO '${dir}/features/${net}.parquet' STORED AS PARQUET;
