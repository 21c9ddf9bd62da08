-- Quick variant of explain_goodbooks_sample.sql: the same protocol on goodbooks_synthetic at
-- scale 0.02 (1,068 users, 120,000 interactions; all 10,000 items and 34,000 tags) with 100
-- sampled users, so that the script can be checked in minutes. Its models are named
-- goodbooks_s002_* so that they do not replace the full-scale ones. Results go to
-- results/explain/goodbooks_sample_quick.parquet.
--
-- Run from the repository root:  trustql --models results/recsys/models -f sql/experiments/explain_goodbooks_sample_quick.sql

\set dataset goodbooks_s002
\set dataset_label Goodbooks-shaped (synthetic, scale 0.02)
\set scale 0.02
\set sample_users 100
\set fm_epochs 2
\set ncf_epochs 1
\set output results/explain/goodbooks_sample_quick.parquet
\set parts results/explain/goodbooks_sample_quick_parts/
\i common/explain_goodbooks.sql
