-- One GAM of thesis ch. 4's analysis (see ../robustness_gam.sql): fits the model to one measure
-- of the `responses` table and appends its fit, emmeans' joint tests and the EMMs by `emm_by`
-- to gam_fits, gam_joint_tests (with the covariate at its mean, and at mean ± 1 as emmeans'
-- default) and gam_emmeans.
-- Variables: name (the model's name and the variant's label), variant, measure, formula,
-- method ('REML' or 'GCV.Cp'), emm_by (the factor of the EMMs).
CREATE OR REPLACE MODEL gam_${name} OPTIONS (type = 'gam', method = '${method}', formula = '${formula}')
  AS SELECT * FROM responses WHERE measure = '${measure}';
INSERT INTO gam_fits
  SELECT '${measure}', '${variant}', n, r_squared_adj, deviance_explained, edf_total, residual_df, score
  FROM model_fit('gam_${name}');
INSERT INTO gam_joint_tests
  SELECT '${measure}', '${variant}', 'mean', term, df1, df2, f_ratio, p_value FROM joint_tests('gam_${name}', 'mean')
  UNION ALL
  SELECT '${measure}', '${variant}', 'meanint', term, df1, df2, f_ratio, p_value FROM joint_tests('gam_${name}');
INSERT INTO gam_emmeans
  SELECT '${measure}', '${variant}', CAST(${emm_by} AS VARCHAR), emmean, std_error
  FROM emmeans('gam_${name}', '${emm_by}');
