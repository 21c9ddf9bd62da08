-- The explainer experiment of thesis §5.3.2 / Fig. 5.3 at Goodbooks scale, with the thesis'
-- protocol there: 1,000 uniformly sampled users (seeded), the four tag-aware recommenders at
-- dims 32, 64 and 128, four explainers, six ω. The data is Goodbooks-shaped and synthetic
-- (goodbooks_synthetic at scale 1: 53,424 users, 10,000 items, 6M interactions, 34,000 tags);
-- the statements are in common/explain_goodbooks.sql. Results go to
-- results/explain/goodbooks_sample.parquet; the summary is printed. What a run measured on the
-- development machine is in the README ("At Goodbooks scale"). The run takes hours on two
-- cores and resumes where it stopped: trained models are reused, and each model × explainer's
-- fidelities are kept in results/explain/goodbooks_sample_parts/ once done.
--
-- FM trains for 2 epochs and NCF for 1 (5 and 3 on Last.fm and MovieLens): one epoch here is
-- 4.8 million training rows, about 65 and 60 times an epoch of those data sets (80 % of 92,834
-- and 100,836 interactions), so these models see
-- more updates than there.
--
-- Run from the repository root:  trustql --models results/recsys/models -f sql/experiments/explain_goodbooks_sample.sql
-- (a stopped run resumes, see above). explain_goodbooks_sample_quick.sql is the
-- same at a fiftieth of the users and interactions, with 100 users, for a check in minutes.

\set dataset goodbooks
\set dataset_label Goodbooks-shaped (synthetic)
\set scale 1
\set sample_users 1000
\set fm_epochs 2
\set ncf_epochs 1
\set output results/explain/goodbooks_sample.parquet
\set parts results/explain/goodbooks_sample_parts/
\i common/explain_goodbooks.sql
