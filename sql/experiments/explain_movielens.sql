-- The explainer experiment of thesis §5.3.2 / Fig. 5.3 on MovieLens latest-small, for every
-- user; the statements and the design, shared with explain_lastfm.sql, are in
-- common/explain.sql. Results go to results/explain/movielens.parquet.
--
-- Run from the repository root:  trustql --models results/recsys/models -f sql/experiments/explain_movielens.sql
-- (trustql --dry-run ... prints the statements it runs, without running them).

\set dataset movielens
\set data_dir movielens-small
\set train_value value
\set dataset_label MovieLens small
\i common/explain.sql
