# Reference fits of generalised additive models by real mgcv (+ emmeans), written to
# tests/reference/gam_r.json (issue 20, point 3).
#
# Why this script exists: trustql is to get a `gam` model type (mgcv's formula language, thesis
# ch. 4's consistency and performance models). Its tests cannot run R, so this script fits mgcv
# on seeded data sets, saves the data as CSV under tests/reference/data/ and stores everything a
# reimplementation is checked against: coefficients, fitted values, edf, smoothing parameters,
# the REML/GCV score, summary() tables, joint_tests / emmeans, predictions with SEs, and the
# basis itself (knots, constraint, penalty, and for one small case the whole model matrix). Run
# by hand (scripts/r_references/run.sh), never by the tests.
#
# All fits: Gaussian family, identity link. Every data set is seeded (RNG in meta), written to
# CSV, read back and fitted as read, so the CSV rows are exactly what mgcv fitted.

suppressPackageStartupMessages({
  library(mgcv)
  library(emmeans)
})
source("scripts/r_references/common.R")
emm_options(msg.interaction = FALSE, msg.nesting = FALSE)

data_info <- list()
add_generated <- function(key, d, name, how) {
  d <- write_data(d, name)
  data_info[[key]] <<- list(location = "repo", path = file.path("tests/reference/data", name),
                           md5 = md5(file.path(data_dir, name)), rows = nrow(d), generated = how)
  d
}
mat <- function(x) { x <- as.matrix(x); dimnames(x) <- NULL; x }

# ---- data ------------------------------------------------------------------------------------
set.seed(1)
gs <- gamSim(1, n = 400, dist = "normal", scale = 2, verbose = FALSE)
gamsim <- add_generated("gamsim1", gs[, c("y", "x0", "x1", "x2", "x3")], "gam_gamsim1.csv",
  "set.seed(1); mgcv::gamSim(1, n = 400, dist = 'normal', scale = 2); columns y, x0..x3")

# Factor-by: three text levels, a different smooth of x in each, n = 300.
set.seed(2)
fby <- local({
  n <- 300
  d <- data.frame(x = runif(n), fac = sample(c("alpha", "beta", "gamma"), n, replace = TRUE),
                  stringsAsFactors = FALSE)
  f <- ifelse(d$fac == "alpha", sin(2 * pi * d$x), ifelse(d$fac == "beta", 2 * d$x^2, exp(-4 * d$x)))
  d$y <- round(1 + (d$fac == "beta") * 0.5 + f + rnorm(n, 0, 0.3), 6)
  d$x <- round(d$x, 6)
  add_generated("factor_by", d, "gam_factor_by.csv",
    "set.seed(2); n = 300, x ~ U(0,1), fac in {alpha, beta, gamma}, y = level effect + level's curve + N(0, 0.3^2)")
})

# Numeric by (varying coefficient): y = s(x1) + z * f(x0) + noise, n = 300.
set.seed(3)
nby <- local({
  n <- 300
  d <- data.frame(x0 = round(runif(n), 6), x1 = round(runif(n), 6), z = round(rnorm(n), 6))
  d$y <- round(cos(2 * pi * d$x1) + d$z * (1 + sin(3 * d$x0)) + rnorm(n, 0, 0.4), 6)
  add_generated("numeric_by", d, "gam_numeric_by.csv",
    "set.seed(3); n = 300, x0, x1 ~ U(0,1), z ~ N(0,1), y = cos(2 pi x1) + z (1 + sin(3 x0)) + N(0, 0.4^2)")
})

# Consistency (thesis ch. 4): 5 encoders/tasks x the 94 (transform, magnitude) settings of
# sql/experiments/transformations.csv x 4 trials = 1,880 rows. m01 = the magnitude rescaled to
# [0, 1] within its transformation (the units differ: dB, kb/s, semitones, rates).
set.seed(4)
cons <- local({
  tr <- read.csv(file.path(repo_root, "sql/experiments/transformations.csv"), stringsAsFactors = FALSE)
  names(tr) <- c("transformation", "magnitude")
  tasks <- c("MFCC", "AE", "AT", "IR", "VS")
  d <- merge(merge(tr, data.frame(task = tasks, stringsAsFactors = FALSE)), data.frame(trial = 1:4))
  d <- d[order(d$task, d$transformation, d$magnitude, d$trial), c("task", "transformation", "magnitude", "trial")]
  rng <- tapply(tr$magnitude, tr$transformation, range)
  lo <- sapply(rng, `[`, 1); hi <- sapply(rng, `[`, 2)
  d$m01 <- round((d$magnitude - lo[d$transformation]) / (hi[d$transformation] - lo[d$transformation]), 6)
  base <- c(MFCC = 1.2, AE = -1.5, AT = 0.8, IR = 0.2, VS = -0.6)
  sev <- c(EN = 1.5, MP = -1.0, PN = 1.8, PS = 2.2, TS = 0.8)
  shape <- c(EN = 1, MP = 2, PN = 1, PS = 0.5, TS = 1.5)
  cell_eff <- rnorm(25, 0, 0.3)
  names(cell_eff) <- paste(rep(names(sev), 5), rep(tasks, each = 5))
  eta <- base[d$task] + 1 - sev[d$transformation] * d$m01^shape[d$transformation] * 2 +
    cell_eff[paste(d$transformation, d$task)]
  d$cw <- round(plogis(eta) + rnorm(nrow(d), 0, 0.05), 6)
  rownames(d) <- NULL
  add_generated("consistency", d, "gam_consistency.csv",
    paste("set.seed(4); tasks MFCC, AE, AT, IR, VS x the 94 rows of sql/experiments/transformations.csv x trials 1-4;",
          "m01 = (magnitude - min) / (max - min) within transformation, rounded to 6 decimals;",
          "cw = plogis(task effect + 1 - severity(transformation) * 2 * m01^shape(transformation) + cell effect N(0, 0.3^2)) + N(0, 0.05^2)"))
})

# Benchmark: 10,000 rows, three smooths and a four-level text factor.
set.seed(5)
bench <- local({
  n <- 10000
  d <- data.frame(x1 = round(runif(n), 6), x2 = round(runif(n), 6), x3 = round(runif(n), 6),
                  f = sample(c("d1", "d2", "d3", "d4"), n, replace = TRUE), stringsAsFactors = FALSE)
  d$y <- round(sin(2 * pi * d$x1) + 4 * (d$x2 - 0.5)^2 + exp(d$x3) / 2 +
               c(d1 = 0, d2 = 0.3, d3 = -0.2, d4 = 0.5)[d$f] + rnorm(n, 0, 0.5), 6)
  add_generated("benchmark", d, "gam_benchmark.csv",
    "set.seed(5); n = 10,000, x1..x3 ~ U(0,1), f in d1..d4, y = sin(2 pi x1) + 4 (x2 - 0.5)^2 + exp(x3)/2 + f effect + N(0, 0.5^2)")
})

# Small basis case: one cr smooth, k = 5, n = 50.
set.seed(6)
small <- local({
  d <- data.frame(x = round(runif(50), 6))
  d$y <- round(sin(2 * pi * d$x) + rnorm(50, 0, 0.3), 6)
  add_generated("small_cr", d, "gam_small_cr.csv",
    "set.seed(6); n = 50, x ~ U(0,1), y = sin(2 pi x) + N(0, 0.3^2)")
})

# Thesis ch. 4's models on trustql's own robustness results (scripts/robustness_experiment.sh:
# experiments/robustness/responses.csv, written by sql/experiments/robustness_responses.sql):
# C^W (Euclidean) and standardised task performance, one row per setting and trial.
resp <- read.csv(file.path(repo_root, "experiments/robustness/responses.csv"), stringsAsFactors = FALSE)
rob_cols <- c("task", "transformation", "magnitude", "m01", "trial", "value")
rob_cw <- add_generated("robustness_cw", resp[resp$measure == "cw_euclidean", rob_cols],
  "gam_robustness_cw.csv",
  "experiments/robustness/responses.csv (trustql's deep robustness experiment), measure = 'cw_euclidean'")
rob_perf <- add_generated("robustness_performance", resp[resp$measure == "performance", rob_cols],
  "gam_robustness_performance.csv",
  "experiments/robustness/responses.csv (trustql's deep robustness experiment), measure = 'performance'")

# ---- models ----------------------------------------------------------------------------------
grid_a <- data.frame(x0 = seq(0.05, 0.95, length.out = 10), x1 = seq(0.95, 0.05, length.out = 10),
                     x2 = rep(c(0.2, 0.5, 0.8, 0.35, 0.65), 2), x3 = seq(0.1, 0.9, length.out = 10))
grid_c <- expand.grid(x = c(0.05, 0.25, 0.5, 0.75, 0.95), fac = c("alpha", "beta", "gamma"),
                      stringsAsFactors = FALSE)
models <- list(
  list(id = "gamsim_tp_reml", data = "gamsim1", formula = "y ~ s(x0) + s(x1) + s(x2) + s(x3)", method = "REML", grid = grid_a),
  list(id = "gamsim_tp_gcv", data = "gamsim1", formula = "y ~ s(x0) + s(x1) + s(x2) + s(x3)", method = "GCV.Cp", grid = grid_a),
  list(id = "gamsim_cr_k10_reml", data = "gamsim1", formula = "y ~ s(x0, bs = \"cr\", k = 10) + s(x1, bs = \"cr\", k = 10) + s(x2, bs = \"cr\", k = 10) + s(x3, bs = \"cr\", k = 10)", method = "REML", grid = grid_a),
  list(id = "gamsim_cr_k5_reml", data = "gamsim1", formula = "y ~ s(x0, bs = \"cr\", k = 5) + s(x1, bs = \"cr\", k = 5) + s(x2, bs = \"cr\", k = 5) + s(x3, bs = \"cr\", k = 5)", method = "REML", grid = grid_a),
  list(id = "gamsim_cr_k10_gcv", data = "gamsim1", formula = "y ~ s(x0, bs = \"cr\", k = 10) + s(x1, bs = \"cr\", k = 10) + s(x2, bs = \"cr\", k = 10) + s(x3, bs = \"cr\", k = 10)", method = "GCV.Cp", grid = grid_a),
  list(id = "factor_by_tp_reml", data = "factor_by", formula = "y ~ fac + s(x, by = fac)", method = "REML", factors = "fac", grid = grid_c),
  list(id = "factor_by_cr_reml", data = "factor_by", formula = "y ~ fac + s(x, by = fac, bs = \"cr\")", method = "REML", factors = "fac", grid = grid_c),
  list(id = "numeric_by_reml", data = "numeric_by", formula = "y ~ s(x1) + s(x0, by = z)", method = "REML"),
  list(id = "consistency_tp_k6_reml", data = "consistency", formula = "cw ~ transformation * task + s(m01, by = interaction(transformation, task), k = 6)", method = "REML", factors = c("task", "transformation")),
  list(id = "consistency_cr_k6_reml", data = "consistency", formula = "cw ~ transformation * task + s(m01, by = interaction(transformation, task), k = 6, bs = \"cr\")", method = "REML", factors = c("task", "transformation")),
  list(id = "benchmark_tp_reml", data = "benchmark", formula = "y ~ s(x1) + s(x2) + s(x3) + f", method = "REML", factors = "f"),
  list(id = "benchmark_cr_reml", data = "benchmark", formula = "y ~ s(x1, bs = \"cr\") + s(x2, bs = \"cr\") + s(x3, bs = \"cr\") + f", method = "REML", factors = "f"),
  list(id = "small_cr_k5_reml", data = "small_cr", formula = "y ~ s(x, bs = \"cr\", k = 5)", method = "REML", basis_matrices = TRUE),
  list(id = "robustness_cw_tp_reml", data = "robustness_cw", formula = "value ~ transformation * task + s(m01, by = interaction(transformation, task))", method = "REML", factors = c("task", "transformation")),
  list(id = "robustness_performance_tp_reml", data = "robustness_performance", formula = "value ~ task * transformation + s(m01, by = interaction(transformation, task))", method = "REML", factors = c("task", "transformation"))
)
frames <- list(gamsim1 = gamsim, factor_by = fby, numeric_by = nby, consistency = cons, benchmark = bench, small_cr = small,
               robustness_cw = rob_cw, robustness_performance = rob_perf)

# ---- extraction ------------------------------------------------------------------------------
table_block <- function(tab) {
  out <- list(term = I(rownames(tab)))
  for (col in colnames(tab)) out[[col]] <- I(unname(tab[, col]))
  out
}

smooth_info <- function(sm, m, d) {
  out <- list(label = sm$label, term = I(sm$term), bs = class(sm)[1], k = sm$bs.dim, dim = sm$dim,
              by = sm$by, first_para = sm$first.para, last_para = sm$last.para,
              n_coef = sm$last.para - sm$first.para + 1, null_space_dim = sm$null.space.dim,
              penalty_rank = I(sm$rank), S_scale = I(sm$S.scale), sp = I(unname(m$sp[sm$first.sp:sm$last.sp])))
  if (!is.null(sm$by.level)) out$by_level <- as.character(sm$by.level)
  if (!is.null(sm$p.order) && !all(is.na(sm$p.order))) out$p_order <- I(sm$p.order)
  if (!is.null(sm$xp)) out$knots <- I(unname(sm$xp))
  if (!is.null(sm$shift)) out$shift <- I(unname(sm$shift))
  qrc <- attr(sm, "qrc")
  if (is.null(qrc) || identical(qrc, "no constraints")) {
    out$constraint <- "none (no identifiability constraint: e.g. a numeric by variable)"
  } else if (inherits(qrc, "qr")) {
    k <- nrow(qrc$qr)
    Z <- qr.Q(qrc, complete = TRUE)[, -seq_len(qrc$rank), drop = FALSE]
    out$constraint <- "sum-to-zero over the fitted rows, absorbed by QR: constrained basis = unconstrained basis %*% Z, Z = qr.Q(qr(t(C)), complete = TRUE)[, -1] (R's default LINPACK Householder QR)"
    out$constraint_C <- I(c(qr.X(qrc)))
    out$constraint_Z <- mat(Z)
  } else {
    out$constraint <- paste("other (qrc of class", class(qrc)[1], ")")
  }
  out$S <- lapply(sm$S, mat)
  if (!is.null(sm$F)) out$cr_F <- mat(sm$F)
  if (!is.null(sm$UZ) && nrow(sm$UZ) <= 500) {
    out$tp_UZ <- mat(sm$UZ)
    out$tp_Xu <- mat(sm$Xu)
  } else if (!is.null(sm$UZ)) {
    out$tp_note <- paste0("UZ (", nrow(sm$UZ), " x ", ncol(sm$UZ), ") and Xu not stored: too large (thin-plate with more than 2,000 unique values uses mgcv's random subsample of knots)")
  }
  out
}

emm_block <- function(m, fac) {
  e <- emmeans(m, as.formula(paste("~", fac)))
  s <- as.data.frame(summary(e))
  names(s)[names(s) == "lower.CL"] <- "lower_CL"
  names(s)[names(s) == "upper.CL"] <- "upper_CL"
  df_cols(s)
}

fit_model <- function(spec) {
  d <- frames[[spec$data]]
  # mgcv needs factor (not character) by-variables: text columns become factors, levels in byte order.
  d[] <- lapply(d, function(col) if (is.character(col)) factor(col) else col)
  fit <- with_log(gam(as.formula(spec$formula), data = d, method = spec$method))
  m <- fit$value
  s <- summary(m)
  fv <- unname(fitted(m))
  out <- list(formula = spec$formula, data = data_info[[spec$data]], method = spec$method,
              family = "gaussian(identity)", n = length(fv))
  out$coefficients <- named_vec(coef(m))
  if (length(fv) <= 2000) {
    out$fitted <- I(fv)
  } else {
    out$fitted_first_200 <- I(fv[1:200])
  }
  out$fitted_sum <- sum(fv)
  out$fitted_sum_sq <- sum(fv^2)
  out$edf_per_coef <- I(unname(m$edf))
  out$edf_per_smooth <- list(label = I(rownames(s$s.table)), edf = I(unname(s$s.table[, "edf"])))
  out$edf_total <- sum(m$edf)
  out$sp <- named_vec(m$sp)
  if (!is.null(m$full.sp)) out$full_sp <- named_vec(m$full.sp)
  out$gcv_ubre <- unname(m$gcv.ubre)
  out$gcv_ubre_name <- names(m$gcv.ubre)
  out$scale <- m$scale
  out$sig2 <- m$sig2
  out$r_sq <- s$r.sq
  out$dev_expl <- s$dev.expl
  out$deviance <- deviance(m)
  out$residual_df <- m$df.residual
  out$logLik <- as.numeric(logLik(m))
  out$logLik_df <- attr(logLik(m), "df")
  out$AIC <- AIC(m)
  out$parametric <- table_block(s$p.table)
  out$smooth_table <- table_block(s$s.table)
  if (length(coef(m)) <= 60) out$Vp <- mat(m$Vp)
  out$converged <- isTRUE(m$converged)
  if (!is.null(m$outer.info$conv)) {
    out$outer <- list(optimizer = paste(m$optimizer, collapse = " "), conv = m$outer.info$conv,
                      iterations = m$outer.info$iter)
  } else {
    # GCV.Cp for a Gaussian additive model runs mgcv's magic(): its own convergence record.
    out$outer <- list(optimizer = paste(m$optimizer, collapse = " "),
                      conv = if (isTRUE(m$mgcv.conv$fully.converged)) "full convergence (magic)" else "magic: not fully converged",
                      iterations = m$mgcv.conv$iter)
  }
  if (length(fit$warnings)) out$warnings <- I(fit$warnings)
  jt <- joint_tests_exact(m)
  j <- jt$exact
  out$joint_tests <- list(term = I(as.character(j[["model term"]])), df1 = I(j$df1), df2 = I(j$df2),
                          F_ratio = I(j$F.ratio), p_value = I(j$p.value),
                          df2_as_printed = I(jt$rounded$df2), F_ratio_as_printed = I(jt$rounded$F.ratio))
  if (!is.null(spec$factors)) {
    out$emmeans <- lapply(setNames(spec$factors, spec$factors), function(f) emm_block(m, f))
    # The same tests with every covariate at its mean only (cov.reduce = mean): the factors'
    # effects where the data are, not at mean ± 1 (outside [0, 1] for m01).
    jm <- joint_tests_exact(m, cov.reduce = mean)$exact
    out$joint_tests_mean <- list(term = I(as.character(jm[["model term"]])), df1 = I(jm$df1),
                                 df2 = I(jm$df2), F_ratio = I(jm$F.ratio), p_value = I(jm$p.value))
  }
  if (!is.null(spec$grid)) {
    p <- predict(m, newdata = spec$grid, se.fit = TRUE)
    out$predictions <- list(newdata = df_cols(spec$grid), fit = I(unname(as.vector(p$fit))),
                            se_fit = I(unname(as.vector(p$se.fit))))
  }
  out$smooths <- lapply(m$smooth, smooth_info, m = m, d = d)
  # by-factor smooths share one thin-plate basis: keep UZ / Xu once, point to it from the others.
  for (i in seq_along(out$smooths)[-1]) for (j in seq_len(i - 1)) {
    a <- out$smooths[[i]]; b <- out$smooths[[j]]
    if (!is.null(a$tp_UZ) && !is.null(b$tp_UZ) && identical(a$tp_UZ, b$tp_UZ) && identical(a$tp_Xu, b$tp_Xu)) {
      out$smooths[[i]]$tp_UZ <- NULL
      out$smooths[[i]]$tp_Xu <- NULL
      out$smooths[[i]]$tp_UZ_Xu_same_as <- b$label
      break
    }
  }
  if (isTRUE(spec$basis_matrices)) {
    X <- predict(m, type = "lpmatrix")
    sm <- m$smooth[[1]]
    raw <- smoothCon(s(x, bs = "cr", k = 5), data = d, absorb.cons = FALSE)[[1]]
    Z <- qr.Q(attr(sm, "qrc"), complete = TRUE)[, -1]
    # check: the model matrix's smooth columns are the unconstrained basis times Z
    stopifnot(max(abs(raw$X %*% Z - X[, sm$first.para:sm$last.para])) < 1e-12)
    out$basis <- list(
      lpmatrix = mat(X),
      penalty_S = mat(sm$S[[1]]),
      unconstrained_X = mat(raw$X),
      unconstrained_S = mat(raw$S[[1]]),
      note = "lpmatrix = predict(m, type = 'lpmatrix') (intercept column first); penalty_S = m$smooth[[1]]$S[[1]] (constrained, scaled by S_scale); unconstrained_X / unconstrained_S = smoothCon(s(x, bs = 'cr', k = 5), data, absorb.cons = FALSE) (S not scaled); lpmatrix[, 2:5] = unconstrained_X %*% constraint_Z (checked to 1e-12)")
  }
  out
}

fits <- list()
for (spec in models) {
  cat("fitting", spec$id, ":", spec$formula, "\n")
  fits[[spec$id]] <- fit_model(spec)
  if (!is.null(fits[[spec$id]]$warnings)) cat("  warnings:", paste(fits[[spec$id]]$warnings, collapse = " | "), "\n")
  cat("  outer:", fits[[spec$id]]$outer$conv, "\n")
}

meta <- list(
  generated_by = "scripts/r_references/gam_references.R (run by scripts/r_references/run.sh)",
  date = format(Sys.Date()),
  R = R.version.string,
  packages = pkg_versions(c("mgcv", "emmeans", "nlme", "Matrix", "jsonlite")),
  platform = R.version$platform,
  rng = paste(RNGkind(), collapse = ", "),
  collation = "LC_COLLATE=C: text levels sorted in byte order, as trustql sorts them",
  conventions = I(c(
    "mgcv::gam(formula, data, method), Gaussian identity; defaults otherwise (bs = 'tp', k = 10 unless stated; sum-to-zero constraints absorbed by QR).",
    "Factors use treatment contrasts, first level (byte order) the reference; coefficient names are mgcv's: parametric columns as R's model.matrix, then per smooth '<label>.<j>'.",
    "Consistency models: the by factor is interaction(transformation, task) written inside the formula (not a data column), so emmeans' reference grid has transformation and task only. Its levels are '<transformation>.<task>' with transformation varying fastest (interaction()'s default lex.order = FALSE; each factor's levels in byte order: transformation EN, MP, PN, PS, TS; task AE, AT, IR, MFCC, VS), and the smooth labels are 's(m01):interaction(transformation, task)<level>'. Each level's smooth is centred (sum to zero over all rows, as mgcv does for factor by-variables).",
    "fitted: full vector when n <= 2,000, else the first 200; fitted_sum / fitted_sum_sq over all rows. edf_per_coef = m$edf; edf_per_smooth = summary's edf; edf_total = sum(m$edf).",
    "sp = m$sp (one per penalty, relative to the scaled penalties S, which already include S_scale); full_sp = m$full.sp where present. gcv_ubre = m$gcv.ubre: the REML criterion (negative restricted log-likelihood, mgcv's scale) for method REML and the GCV score for GCV.Cp (gcv_ubre_name says which).",
    "scale = m$scale (estimated residual variance); residual_df = m$df.residual; parametric / smooth_table = summary(m)$p.table / s.table with R's column names; Vp = m$Vp (Bayesian posterior covariance) for models with <= 60 coefficients.",
    "joint_tests = emmeans::joint_tests(m) (df2 = residual df), unrounded (emmeans rounds df2 / F.ratio in its output; those are *_as_printed). emmeans = emmeans(m, ~ factor): equal weights over the other factors, numeric covariates at their means, df = residual df, 95 % intervals.",
    "predictions = predict(m, newdata, se.fit = TRUE) on the stored newdata grid.",
    "smooths: per smooth its label, basis class (cr.smooth / tprs.smooth), k, the coefficient range (1-based first_para..last_para), knots (cr: m$smooth[[i]]$xp), the constraint vector C and the QR null-space basis Z (constrained basis = unconstrained %*% Z), the penalty matrices S (constrained and scaled), S_scale, cr's F matrix, and for thin-plate smooths shift, UZ and Xu (mgcv's reparametrisation) when small; a smooth whose UZ / Xu equal an earlier one's (the levels of a by factor) names it in tp_UZ_Xu_same_as instead. A numeric by-variable smooth (s(x0):z) has no constraint.",
    "Matrices are arrays of rows. Numbers are written with 17 significant digits (exact doubles)."
  ))
)
write_json_file(list(meta = meta, fits = fits), file.path(out_dir, "gam_r.json"))
