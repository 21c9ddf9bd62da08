-- The FM models of the explainer experiment (dims 32, 64, 128; with fm_epochs = 5 the options of
-- common/recsys.sql, so that the recommender experiment's models are reused): included by
-- common/tag_aware_models.sql and common/explain_fm.sql. Needs the variables dataset and
-- fm_epochs and the views <dataset>_train and <dataset>_tags.

CREATE MODEL IF NOT EXISTS ${dataset}_fm32 OPTIONS (type = 'fm', dim = 32, tags = '${dataset}_tags', seed = 42, epochs = ${fm_epochs})
  AS SELECT * FROM ${dataset}_train;
CREATE MODEL IF NOT EXISTS ${dataset}_fm64 OPTIONS (type = 'fm', dim = 64, tags = '${dataset}_tags', seed = 42, epochs = ${fm_epochs})
  AS SELECT * FROM ${dataset}_train;
CREATE MODEL IF NOT EXISTS ${dataset}_fm128 OPTIONS (type = 'fm', dim = 128, tags = '${dataset}_tags', seed = 42, epochs = ${fm_epochs})
  AS SELECT * FROM ${dataset}_train;
