-- The recommender experiment of thesis §5.3.1 / Fig. 5.2 on MovieLens latest-small; the
-- statements, shared with recsys_lastfm.sql, are in common/recsys.sql.
--
-- Ratings (0.5 to 5) are used as interaction values.
-- Results go to results/recsys/movielens.parquet and are printed; the figure to
-- figures/fig5_2_movielens.png.
--
-- Run from the repository root:  trustql --models results/recsys/models -f sql/experiments/recsys_movielens.sql
-- (trustql --dry-run ... prints the statements it runs, without running them).

\set dataset movielens
\set data_dir movielens-small
\set train_value value
\set dataset_label MovieLens latest-small
\i common/recsys.sql

-- Figures (from the saved results; scripts/figures.sh redraws them without rerunning the experiment)
-- Thesis Fig. 5.2: accuracy (nDCG@100) and diversity (nDiv@100) per recommender and dimension.
COPY (
  SELECT recsys, CASE WHEN dim IS NULL THEN 'none' ELSE CAST(dim AS VARCHAR) END AS dimension, measure, value
  FROM (SELECT recsys, dim, 'nDCG@100' AS measure, ndcg AS value FROM 'results/recsys/movielens.parquet'
        UNION ALL SELECT recsys, dim, 'nDiv@100', ndiv FROM 'results/recsys/movielens.parquet')
  ORDER BY recsys, dim NULLS FIRST, measure)
  TO 'figures/fig5_2_movielens.png'
  (FORMAT plot, kind 'bar', x 'recsys', y 'value', color 'dimension', facet_col 'measure',
   x_label 'recommender', y_label '', title 'Recommenders on MovieLens latest-small (thesis Fig. 5.2)');
