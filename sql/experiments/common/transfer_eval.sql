-- One repetition of the transfer evaluation (see ../transfer_run.sql): a seeded 80/20 split of
-- every target's clips (the same split for every run), one MLP per target trained on the 80 %
-- and scored on the 20 %. Needs the table `features` and the variables run, repetition, seed.
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
