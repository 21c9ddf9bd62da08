-- The explainer experiment of thesis §5.3.2 / Fig. 5.3, for one data set: the statements that
-- explain_lastfm.sql and explain_movielens.sql share. Run one of those; they set the variables
-- dataset, data_dir, train_value (as common/recsys.sql) and dataset_label (the `dataset`
-- column of the results).
--
-- The tag-aware recommenders of the recommender experiment (iNN, uNN, FM and NCF at dim 32, 64
-- and 128, trained on the same 80 % split; models already in the model store are reused) × the
-- four explainers × ω ∈ {1, 2, 4, 8, 16, 32} × the users: fidelity = τ_AP,a between the model's
-- scores of the user's top-20 unseen items and the scores rebuilt from the explanations (SPEC §6).
-- LIME uses 1,000 perturbations per explanation (lime's default is 5,000). It is plain SQL: a
-- cross join of models, explainers, users and ωs, sorted so that the rows of one user's ωs arrive
-- together and share the user's candidate list and LIME's scored perturbations. One INSERT per
-- recommender type; `fidelity` prints a progress line per batch of rows.
-- Results go to results/explain/<dataset>.parquet; the summary (mean fidelity with a normal 95 % CI
-- by recsys × explainer × ω) is printed.
--
-- Every user by default. A quick variant takes every k-th user id instead, when a table
-- `settings` with a column `user_stride` exists before the script runs, e.g.
--   trustql --models results/recsys/models -c "CREATE TABLE settings AS SELECT 10 AS user_stride" \
--     -f sql/experiments/explain_lastfm.sql
-- (scripts/explain_experiment.sh runs both datasets; scripts/demo.sh the quick Last.fm variant,
-- explain_lastfm_quick.sql, which runs the same data and run parts with fewer models).

\i explain_data.sql

-- The same options as common/recsys.sql, so that the recommender experiment's models are reused.
\set fm_epochs 5
\set ncf_epochs 3
\i tag_aware_models.sql

\set output results/explain/${dataset}.parquet
\i explain_run.sql
