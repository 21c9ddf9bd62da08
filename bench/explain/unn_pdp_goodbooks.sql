-- uNN's PDP closed form at Goodbooks scale: the PDP fidelity of the first 64 users of the
-- Goodbooks script's seeded sample (sql/experiments/common/explain_goodbooks.sql) for the
-- trained goodbooks_unn32 (53,424 users × 34,000 tags; the script trains it). One fidelity
-- batch, so one pass over M = Uᵁ Wᵀ in blocks of tags for all 64 users. First, the closed
-- form's work for the script's 1,000 users: a pass over the tags per consumer of each item of
-- each user's history (consumer_rows).
--
-- Run from the repository root, after the Goodbooks script has trained its models:
--   /usr/bin/time -f "%e s wall, %M KB max RSS" trustql --models results/recsys/models -f bench/explain/unn_pdp_goodbooks.sql
CREATE TABLE gb_train AS SELECT "user", item FROM goodbooks_synthetic('interactions', 1) WHERE NOT test;
CREATE TABLE gb_sample AS SELECT "user" FROM (SELECT DISTINCT "user" FROM gb_train)
  ORDER BY hash_uniform("user", 42), "user" LIMIT 1000;
SELECT count(*) AS history_items, sum(c.consumers) AS consumer_rows
FROM gb_train JOIN gb_sample USING ("user")
  JOIN (SELECT item, count(*) AS consumers FROM gb_train GROUP BY item) c USING (item);
CREATE TABLE gb_users AS SELECT "user" FROM gb_sample ORDER BY hash_uniform("user", 42), "user" LIMIT 64;
SELECT count(f) AS users, avg(f) AS mean_fidelity
FROM (SELECT fidelity('goodbooks_unn32', 'pdp', "user", 32, 20, 'samples = 1000') AS f FROM gb_users);
