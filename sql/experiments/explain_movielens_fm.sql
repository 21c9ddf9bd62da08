-- The explainer experiment of explain_movielens.sql restricted to the FM models (dims 32, 64, 128);
-- the statements are in common/explain_fm.sql. Results go to results/explain/movielens_fm.parquet.
--
-- Run from the repository root:  trustql --models results/recsys/models -f sql/experiments/explain_movielens_fm.sql

\set dataset movielens
\set data_dir movielens-small
\set train_value value
\set dataset_label MovieLens small
\i common/explain_fm.sql
