-- The explainer experiment of thesis §5.3.2 / Fig. 5.3 as the thesis ran it on Goodbooks-10k
-- (footnote 3 of §5.3.2: 1,000 users sampled uniformly, because fidelity for every user was out
-- of reach), on Goodbooks-shaped synthetic data (goodbooks_synthetic: 53,424 users, 10,000 items,
-- 6M interactions, 34,000 tags at scale 1; the data set itself cannot be shipped or downloaded).
-- Run explain_goodbooks_sample.sql (or its _quick variant); they set the variables:
--   dataset         prefix of the tables and models (a different one per scale)
--   dataset_label   the `dataset` column of the results
--   scale           goodbooks_synthetic's scale
--   sample_users    how many users are explained
--   fm_epochs, ncf_epochs   training epochs of FM and NCF
--   output          the results' Parquet file
--   parts           the directory of the results' parts (one Parquet file per model and
--                   explainer), from which a stopped run resumes
--
-- The design is the one of common/explain.sql: the tag-aware recommenders iNN, uNN, FM and NCF at
-- dims 32, 64 and 128 (trained on the rows goodbooks_synthetic does not mark as held out; the
-- ratings 1..5 are the interaction values, as for MovieLens; models already in the model store
-- are reused, so a run that was stopped resumes after its last trained model) × the four
-- explainers × ω ∈ {1, 2, 4, 8, 16, 32} × the sampled users; fidelity = τ_AP,a of the top-20
-- unseen items' scores against the scores rebuilt from the explanation (SPEC §6), LIME with
-- 1,000 perturbations. The users: the `sample_users` users with training rows that come first
-- in the order of hash_uniform(user, 42), a seeded uniform sample without replacement.

CREATE TABLE ${dataset}_interactions AS SELECT * FROM goodbooks_synthetic('interactions', ${scale});
CREATE TABLE ${dataset}_item_tags AS SELECT * FROM goodbooks_synthetic('tags', ${scale});
CREATE VIEW ${dataset}_train AS SELECT "user", item, rating AS value FROM ${dataset}_interactions WHERE NOT test;
CREATE VIEW ${dataset}_tags AS SELECT item, tag, weight FROM ${dataset}_item_tags;
SELECT count(DISTINCT "user") AS users, count(*) AS training_rows,
  (SELECT count(*) FROM ${dataset}_item_tags) AS tag_rows FROM ${dataset}_train;

\i tag_aware_models.sql

-- The sampled users (common/explain_design.sql keeps this table: it creates its own only when
-- there is none).
CREATE TABLE ${dataset}_users AS
  SELECT "user", mainstreaminess('${dataset}_inn64', "user") AS mainstreaminess
  FROM (SELECT "user" FROM (SELECT DISTINCT "user" FROM ${dataset}_train)
        ORDER BY hash_uniform("user", 42), "user" LIMIT ${sample_users});

-- The run (as common/explain_run.sql's, but resumable: each model × explainer is one statement
-- that appends its fidelities to the directory ${parts} as a Parquet file, skipped when the
-- directory has them; delete the directory to start over).
\i explain_design.sql

CREATE EXTERNAL TABLE ${dataset}_fidelity (dataset VARCHAR, recsys VARCHAR, dim BIGINT, explainer VARCHAR,
  omega BIGINT, "user" BIGINT, mainstreaminess DOUBLE, fidelity DOUBLE)
  STORED AS PARQUET LOCATION '${parts}';

\set recsys inn
\i explain_parts.sql
\set recsys unn
\i explain_parts.sql
\set recsys fm
\i explain_parts.sql
\set recsys ncf
\i explain_parts.sql

\i explain_summary.sql
