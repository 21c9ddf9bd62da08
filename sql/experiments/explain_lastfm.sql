-- The explainer experiment of thesis §5.3.2 / Fig. 5.3 on Last.fm 2K (HetRec 2011), for every
-- user; the statements and the design, shared with explain_movielens.sql, are in
-- common/explain.sql. Results go to results/explain/lastfm.parquet.
--
-- Run from the repository root:  trustql --models results/recsys/models -f sql/experiments/explain_lastfm.sql
-- (trustql --dry-run ... prints the statements it runs, without running them).

\set dataset lastfm
\set data_dir lastfm-2k
\set train_value ln(1 + value)
\set dataset_label Last.fm 2K
\i common/explain.sql
