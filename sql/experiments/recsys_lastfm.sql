-- The recommender experiment of thesis §5.3.1 / Fig. 5.2 on Last.fm 2K (HetRec 2011); the
-- statements, shared with recsys_movielens.sql, are in common/recsys.sql.
--
-- Play counts span 1 to 352,698, so models see value = ln(1 + plays).
-- Results go to results/recsys/lastfm.parquet and are printed; the figure to
-- figures/fig5_2_lastfm.png.
--
-- Run from the repository root:  trustql --models results/recsys/models -f sql/experiments/recsys_lastfm.sql
-- (trustql --dry-run ... prints the statements it runs, without running them).

\set dataset lastfm
\set data_dir lastfm-2k
\set train_value ln(1 + value)
\set dataset_label Last.fm 2K (HetRec 2011)
\i common/recsys.sql

-- Figures (from the saved results; scripts/figures.sh redraws them without rerunning the experiment)
-- Thesis Fig. 5.2: accuracy (nDCG@100) and diversity (nDiv@100) per recommender and dimension.
COPY (
  SELECT recsys, CASE WHEN dim IS NULL THEN 'none' ELSE CAST(dim AS VARCHAR) END AS dimension, measure, value
  FROM (SELECT recsys, dim, 'nDCG@100' AS measure, ndcg AS value FROM 'results/recsys/lastfm.parquet'
        UNION ALL SELECT recsys, dim, 'nDiv@100', ndiv FROM 'results/recsys/lastfm.parquet')
  ORDER BY recsys, dim NULLS FIRST, measure)
  TO 'figures/fig5_2_lastfm.png'
  (FORMAT plot, kind 'bar', x 'recsys', y 'value', color 'dimension', facet_col 'measure',
   x_label 'recommender', y_label '', title 'Recommenders on Last.fm 2K (thesis Fig. 5.2)');
