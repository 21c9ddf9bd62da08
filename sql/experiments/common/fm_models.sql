-- The FM models of the explainer experiment (dims 32, 64, 128), with the same options as
-- common/recsys.sql so that the recommender experiment's models are reused: included by
-- common/explain.sql and common/explain_fm.sql. Needs the variable dataset and the views
-- <dataset>_train and <dataset>_tags (common/explain_data.sql).

CREATE MODEL IF NOT EXISTS ${dataset}_fm32 OPTIONS (type = 'fm', dim = 32, tags = '${dataset}_tags', seed = 42, epochs = 5)
  AS SELECT * FROM ${dataset}_train;
CREATE MODEL IF NOT EXISTS ${dataset}_fm64 OPTIONS (type = 'fm', dim = 64, tags = '${dataset}_tags', seed = 42, epochs = 5)
  AS SELECT * FROM ${dataset}_train;
CREATE MODEL IF NOT EXISTS ${dataset}_fm128 OPTIONS (type = 'fm', dim = 128, tags = '${dataset}_tags', seed = 42, epochs = 5)
  AS SELECT * FROM ${dataset}_train;
