-- Table 2.6 for one target (see ../transfer_analyse.sql): over the non-SS-R runs of the target, a
-- random intercept for each two-level source indicator; each source's variance component as a
-- share of the sources' total (the residual left out: thesis Table 2.6 columns sum to ≈ 100).
-- Variables: target.
CREATE OR REPLACE MODEL vc_${target} OPTIONS (type = 'lmer',
  formula = 'y ~ 1 + (1 | src_self) + (1 | src_year) + (1 | src_bpm) + (1 | src_taste) + (1 | src_tag) + (1 | src_lyrics) + (1 | src_cdr_tag) + (1 | src_artist)')
  AS SELECT * FROM obs WHERE dataset = '${target}' AND level <> 'ss_r';
INSERT INTO varcomp
  SELECT '${target}', substr("group", 5), variance FROM variance_components('vc_${target}') WHERE "group" <> 'Residual';
