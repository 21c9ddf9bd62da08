-- The data of the explainer experiment for one data set (see common/explain.sql): the
-- interactions, the same 80 % training split as the recommender experiment, and the item tags.
-- Needs the variables dataset, data_dir and train_value (see common/recsys.sql).

CREATE EXTERNAL TABLE ${dataset}_interactions STORED AS PARQUET
  LOCATION '../shared/data/recsys/${data_dir}/interactions.parquet';
CREATE EXTERNAL TABLE ${dataset}_item_tags STORED AS PARQUET
  LOCATION '../shared/data/recsys/${data_dir}/item_tags.parquet';

CREATE VIEW ${dataset}_all AS SELECT user_id AS "user", item_id AS item, value FROM ${dataset}_interactions;
CREATE TABLE ${dataset}_split AS SELECT * FROM holdout_split('${dataset}_all', 0.2, 42);
CREATE VIEW ${dataset}_train AS SELECT "user", item, ${train_value} AS value FROM ${dataset}_split WHERE NOT test;
CREATE VIEW ${dataset}_tags AS SELECT item_id AS item, tag_id AS tag, weight FROM ${dataset}_item_tags;
