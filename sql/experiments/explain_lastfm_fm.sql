-- The explainer experiment of explain_lastfm.sql restricted to the FM models (dims 32, 64, 128);
-- the statements are in common/explain_fm.sql. Results go to results/explain/lastfm_fm.parquet.
--
-- Run from the repository root:  trustql --models results/recsys/models -f sql/experiments/explain_lastfm_fm.sql

\set dataset lastfm
\set data_dir lastfm-2k
\set train_value ln(1 + value)
\set dataset_label Last.fm 2K
\i common/explain_fm.sql
