-- The explainer experiment's design (see common/explain.sql): the explainers, the users (unless
-- the including script made its own table of them) and the crossed design <dataset>_tasks, one
-- row per (model, explainer, user, ω). Part of common/explain_run.sql and of the resumable run
-- of common/explain_goodbooks.sql; needs the variable dataset, the table settings (user_stride)
-- and the table <dataset>_models (model, recsys, dim).

CREATE TABLE explainers AS SELECT * FROM (VALUES ('random'), ('pdp'), ('saliency'), ('lime')) AS t(explainer);
-- Mainstreaminess (SPEC §5) of every user, for the analysis of issue 5; every user_stride-th user
-- id, unless the including script made its own sample (common/explain_goodbooks.sql).
CREATE TABLE IF NOT EXISTS ${dataset}_users AS
  SELECT "user", mainstreaminess('${dataset}_inn64', "user") AS mainstreaminess
  FROM (SELECT DISTINCT "user" FROM ${dataset}_train)
  WHERE "user" % (SELECT user_stride FROM settings) = 0;
SELECT count(*) AS users, (SELECT user_stride FROM settings) AS user_stride FROM ${dataset}_users;

-- The crossed design, one row per (model, explainer, user, ω), sorted so that each batch of
-- rows that reaches `fidelity` holds many users of one model and explainer with all their ωs.
CREATE TABLE ${dataset}_tasks AS
  SELECT m.model, m.recsys, m.dim, e.explainer, u."user", u.mainstreaminess,
    unnest(make_array(1, 2, 4, 8, 16, 32)) AS omega
  FROM ${dataset}_models m CROSS JOIN explainers e CROSS JOIN ${dataset}_users u
  ORDER BY model, explainer, "user", omega;
