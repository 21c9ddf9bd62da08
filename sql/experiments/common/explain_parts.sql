-- The parts (common/explain_part.sql) of one recommender (variable recsys) in the resumable
-- explainer run of common/explain_goodbooks.sql: its dims 32, 64 and 128 × the four explainers.

\set dim 32
\set explainer random
\i explain_part.sql
\set dim 32
\set explainer pdp
\i explain_part.sql
\set dim 32
\set explainer saliency
\i explain_part.sql
\set dim 32
\set explainer lime
\i explain_part.sql
\set dim 64
\set explainer random
\i explain_part.sql
\set dim 64
\set explainer pdp
\i explain_part.sql
\set dim 64
\set explainer saliency
\i explain_part.sql
\set dim 64
\set explainer lime
\i explain_part.sql
\set dim 128
\set explainer random
\i explain_part.sql
\set dim 128
\set explainer pdp
\i explain_part.sql
\set dim 128
\set explainer saliency
\i explain_part.sql
\set dim 128
\set explainer lime
\i explain_part.sql
