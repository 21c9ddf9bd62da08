-- trustql's side of the LDA benchmark (bench/latent/lda_run.sh): batch variational Bayes on the
-- seeded corpus of bench/latent/lda_vs_sklearn.py (k, max_iter and seed passed as variables;
-- the priors left at their default 1/k, as in the scikit-learn run), then the fit's time,
-- iterations, bound and perplexity on the training set.
--
--   trustql --models target/bench-results/lda_models -v out=target/bench-results -v k=40 -v max_iter=10 -f bench/latent/lda_speed.sql

CREATE EXTERNAL TABLE counts_pq STORED AS PARQUET LOCATION '${out}/lda_counts.parquet';
CREATE TABLE counts AS SELECT * FROM counts_pq;

CREATE OR REPLACE MODEL bench_lda OPTIONS (type = 'lda', k = ${k}, max_iter = ${max_iter}, seed = 1)
  AS SELECT doc, term, weight FROM counts;

SELECT property, value FROM model_info('bench_lda')
 WHERE property IN ('documents', 'terms', 'iterations', 'doc_topic_prior', 'topic_word_prior', 'bound', 'perplexity', 'training: non-zero cells', 'training: training seconds')
 ORDER BY property;
