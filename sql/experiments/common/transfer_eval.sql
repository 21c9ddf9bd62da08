-- One repetition of the transfer evaluation (see ../transfer_run.sql): a seeded 80/20 split of
-- every target's clips (the same split for every run), one MLP per target trained on the 80 %
-- and scored on the 20 %. Needs the tables `features` and `listens` and the variables run,
-- repetition, seed, mlp_epochs, rec_users.
CREATE TABLE split_${repetition} AS
  SELECT *, substr(md5(concat('${seed}:', target, ':${repetition}:', clip)), 1, 2) < 'cd' AS train
  FROM features;

CREATE OR REPLACE MODEL eval_genre OPTIONS (type = 'mlp', task = 'classify', seed = ${repetition}, epochs = ${mlp_epochs})
  AS SELECT features, label FROM split_${repetition} WHERE target = 'genre' AND train;
CREATE OR REPLACE MODEL eval_genre10 OPTIONS (type = 'mlp', task = 'classify', seed = ${repetition}, epochs = ${mlp_epochs})
  AS SELECT features, label FROM split_${repetition} WHERE target = 'genre10' AND train;
CREATE OR REPLACE MODEL eval_dance OPTIONS (type = 'mlp', task = 'classify', seed = ${repetition}, epochs = ${mlp_epochs})
  AS SELECT features, label FROM split_${repetition} WHERE target = 'dance' AND train;
CREATE OR REPLACE MODEL eval_instrument OPTIONS (type = 'mlp', task = 'classify', seed = ${repetition}, epochs = ${mlp_epochs})
  AS SELECT features, label FROM split_${repetition} WHERE target = 'instrument' AND train;
CREATE OR REPLACE MODEL eval_density OPTIONS (type = 'mlp', task = 'regress', seed = ${repetition}, epochs = ${mlp_epochs})
  AS SELECT features, value AS label FROM split_${repetition} WHERE target = 'density' AND train;
CREATE OR REPLACE MODEL eval_key_margin OPTIONS (type = 'mlp', task = 'regress', seed = ${repetition}, epochs = ${mlp_epochs})
  AS SELECT features, value AS label FROM split_${repetition} WHERE target = 'key_margin' AND train;

-- One statement per target: predict names its model by a literal (its result type comes from
-- the model).
INSERT INTO scores
  SELECT '${run}', 'genre', 'accuracy', ${repetition}, accuracy(label, predict('eval_genre', features))
  FROM split_${repetition} WHERE target = 'genre' AND NOT train;
INSERT INTO scores
  SELECT '${run}', 'genre10', 'accuracy', ${repetition}, accuracy(label, predict('eval_genre10', features))
  FROM split_${repetition} WHERE target = 'genre10' AND NOT train;
INSERT INTO scores
  SELECT '${run}', 'dance', 'accuracy', ${repetition}, accuracy(label, predict('eval_dance', features))
  FROM split_${repetition} WHERE target = 'dance' AND NOT train;
INSERT INTO scores
  SELECT '${run}', 'instrument', 'accuracy', ${repetition}, accuracy(label, predict('eval_instrument', features))
  FROM split_${repetition} WHERE target = 'instrument' AND NOT train;
INSERT INTO scores
  SELECT '${run}', 'density', 'r2', ${repetition}, r2(value, predict('eval_density', features))
  FROM split_${repetition} WHERE target = 'density' AND NOT train;
INSERT INTO scores
  SELECT '${run}', 'key_margin', 'r2', ${repetition}, r2(value, predict('eval_key_margin', features))
  FROM split_${repetition} WHERE target = 'key_margin' AND NOT train;

-- Cold-start recommendation (thesis eq. 2.7-2.9 and §2.4.4): WRMF whose item factors are tied to
-- a linear map of the clips' features (content_wrmf, the thesis' hyper-parameters), trained on
-- the plays of the 80 % of the clips; the held-out 20 % are the new items. As the thesis does, each
-- listener ranks every clip of the target (training and held-out) by score_features, and only the
-- held-out clips she played are relevant: nDCG@500, averaged over the listeners with a training
-- play and a held-out play (at most rec_users of them, chosen by a hash of the seed).
CREATE OR REPLACE MODEL eval_recommend OPTIONS (type = 'content_wrmf', seed = ${repetition})
  AS SELECT l.listener AS "user", s.clip AS item, CAST(l.plays AS DOUBLE) AS value, s.features
  FROM listens l JOIN split_${repetition} s ON l.clip = s.clip
  WHERE s.target = 'recommend' AND s.train;
CREATE TABLE held_${repetition} AS
  SELECT l.listener, array_agg(l.clip) AS rel
  FROM listens l JOIN split_${repetition} s ON l.clip = s.clip
  WHERE s.target = 'recommend' AND NOT s.train AND l.listener IN (
    SELECT DISTINCT l2.listener FROM listens l2 JOIN split_${repetition} s2 ON l2.clip = s2.clip
    WHERE s2.target = 'recommend' AND s2.train)
  GROUP BY l.listener
  ORDER BY md5(concat('${seed}:', l.listener)) LIMIT ${rec_users};
INSERT INTO scores
  SELECT '${run}', 'recommend', 'ndcg', ${repetition}, avg(ndcg(r.rec, h.rel, 500))
  FROM (
    SELECT h.listener,
      array_agg(s.clip ORDER BY score_features('eval_recommend', h.listener, s.features) DESC, s.clip) AS rec
    FROM held_${repetition} h CROSS JOIN (SELECT clip, features FROM split_${repetition} WHERE target = 'recommend') s
    GROUP BY h.listener) r
  JOIN held_${repetition} h ON r.listener = h.listener;
