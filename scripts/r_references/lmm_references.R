# Reference fits of linear mixed models by real lme4 + lmerTest + emmeans, written to
# tests/reference/lmm_r.json (issue 20, point 3).
#
# Why this script exists: trustql's lmm module (udfs/src/stats/lmm) reimplements lme4's
# penalised least squares, lmerTest's Satterthwaite df and emmeans' estimated marginal means. The
# older reference (shared/reference/lmm.json) came from a Python reimplementation; this script
# gets the same quantities from the R packages themselves, on the old data sets and on new seeded
# ones (crossed, nested, random slopes, `||`, a log(x + 1) response, text factors, an
# unbalanced design). It is run by hand (scripts/r_references/run.sh), never by the tests: the
# tests read the JSON and the CSVs it writes.
#
# Conventions (also written into the JSON's meta block):
# - treatment contrasts (contr.treatment), first level = reference, R's column names; text levels
#   sorted in byte order (LC_COLLATE=C), as trustql sorts them;
# - theta = lme4's getME(m, "theta"): lower triangle of each term's relative covariance factor
#   (Cholesky of Sigma / sigma^2), column-major, terms in lme4's order (decreasing number of levels);
# - every fit is refitted to a tight optimum (nloptwrap BOBYQA, tolerances in meta) so that the
#   numbers are the optimum, not the default stopping point.

suppressPackageStartupMessages({
  library(lme4)
  library(lmerTest)
  library(emmeans)
})
source("scripts/r_references/common.R")
shared <- find_shared()
emm_options(lmerTest.limit = 1e6, pbkrtest.limit = 0, msg.interaction = FALSE, msg.nesting = FALSE)

opt_ctrl <- list(xtol_abs = 1e-12, ftol_abs = 1e-14, xtol_rel = 1e-12, ftol_rel = 1e-14, maxeval = 1e5)
ctrl <- lmerControl(optimizer = "nloptwrap", optCtrl = opt_ctrl, calc.derivs = TRUE)

# ---- data ------------------------------------------------------------------------------------
shared_csv <- function(name) read.csv(file.path(shared, "data/stats", name), stringsAsFactors = FALSE)
data_info <- list()
add_shared <- function(key, name, drop = integer(0)) {
  d <- shared_csv(name)
  info <- list(location = "shared", path = file.path("data/stats", name),
               md5 = md5(file.path(shared, "data/stats", name)), rows_in_file = nrow(d))
  if (length(drop)) {
    info$rows_dropped_1based <- I(drop)
    d <- d[-drop, , drop = FALSE]
    rownames(d) <- NULL
  }
  info$rows <- nrow(d)
  data_info[[key]] <<- info
  d
}
add_generated <- function(key, d, name, how) {
  d <- write_data(d, name)
  data_info[[key]] <<- list(location = "repo", path = file.path("tests/reference/data", name),
                           md5 = md5(file.path(data_dir, name)), rows = nrow(d), generated = how)
  d
}

datasets <- list()
datasets$sleepstudy <- add_shared("sleepstudy", "sleepstudy.csv")
datasets$Dyestuff <- add_shared("Dyestuff", "Dyestuff.csv")
datasets$Penicillin <- add_shared("Penicillin", "Penicillin.csv")
datasets$Pastes <- add_shared("Pastes", "Pastes.csv")
datasets$dietox <- add_shared("dietox", "dietox.csv")
datasets$Oats <- add_shared("Oats", "Oats.csv", drop = c(1L, 2L, 3L, 5L, 8L, 13L, 21L, 34L, 55L))

# Crossed: 24 subjects x 16 items, condition alternating over subject + item (a Latin square),
# an item-level numeric covariate, 8 % of the rows dropped at random (unbalanced).
set.seed(20201)
local({
  subj <- sprintf("s%02d", 1:24); item <- sprintf("i%02d", 1:16)
  g <- expand.grid(item = item, subject = subj, stringsAsFactors = FALSE)[, c("subject", "item")]
  si <- match(g$subject, subj); ii <- match(g$item, item)
  g$condition <- c("congruent", "incongruent")[(si + ii) %% 2 + 1]
  freq <- round(rnorm(16, 3, 1), 3)
  g$freq <- freq[ii]
  u0 <- rnorm(24, 0, 40); u1 <- rnorm(24, 0, 15); w <- rnorm(16, 0, 25)
  g$rt <- round(600 + (40 + u1[si]) * (g$condition == "incongruent") - 12 * g$freq + u0[si] + w[ii] +
                rnorm(nrow(g), 0, 50), 4)
  g <- g[sort(sample(nrow(g), round(0.92 * nrow(g)))), ]
  datasets$crossed <<- add_generated("crossed", g, "lmm_crossed.csv",
    "set.seed(20201); 24 subjects x 16 items, condition by (subject + item) parity, 8% of rows dropped at random")
})

# Nested: 8 schools x 4 classes labelled A-D in every school (labels reused, as Pastes' casks),
# 5-12 pupils per class.
set.seed(20202)
local({
  schools <- c("north", "south", "east", "west", "central", "harbour", "hill", "river")
  rows <- list()
  for (s in schools) for (cl in c("A", "B", "C", "D")) {
    k <- sample(5:12, 1)
    rows[[length(rows) + 1]] <- data.frame(school = s, class = cl, pupil = seq_len(k))
  }
  d <- do.call(rbind, rows)
  sch <- rnorm(8, 0, 4); names(sch) <- schools
  cls <- rnorm(32, 0, 3); names(cls) <- paste(rep(schools, each = 4), c("A", "B", "C", "D"), sep = ":")
  d$ses <- round(rnorm(nrow(d)), 4)
  d$score <- round(50 + 3 * d$ses + sch[d$school] + cls[paste(d$school, d$class, sep = ":")] +
                   rnorm(nrow(d), 0, 5), 4)
  datasets$nested <<- add_generated("nested", d[, c("school", "class", "pupil", "ses", "score")],
    "lmm_nested.csv", "set.seed(20202); 8 schools x 4 classes (labels A-D reused), 5-12 pupils each")
})

# Random slopes: 30 ids in three text groups, times 0-7 with about 15 % of visits missing.
set.seed(20203)
local({
  ids <- sprintf("p%02d", 1:30)
  grp <- rep(c("ctrl", "drugA", "drugB"), each = 10)
  d <- expand.grid(time = 0:7, id = ids, stringsAsFactors = FALSE)[, c("id", "time")]
  ii <- match(d$id, ids)
  d$group <- grp[ii]
  b0 <- rnorm(30, 0, 6); b1 <- 0.3 * b0 / 6 + rnorm(30, 0, 1.2)
  slope <- c(ctrl = 0, drugA = -1.5, drugB = -2.5)[d$group]
  d$y <- round(40 + 2 * (d$group == "drugB") + b0[ii] + (1 + slope + b1[ii]) * d$time +
               rnorm(nrow(d), 0, 2), 4)
  d <- d[sort(sample(nrow(d), round(0.85 * nrow(d)))), ]
  datasets$slopes <<- add_generated("slopes", d, "lmm_slopes.csv",
    "set.seed(20203); 30 ids (10 per group), times 0-7, 15% of visits dropped at random")
})

# log(x + 1) response: counts (negative binomial) at 15 sites x 2 treatments x 6 plots.
set.seed(20204)
local({
  d <- expand.grid(plot = 1:6, treatment = c("no", "yes"), site = sprintf("site%02d", 1:15),
                   stringsAsFactors = FALSE)[, c("site", "treatment", "plot")]
  site_eff <- rnorm(15, 0, 0.6)
  mu <- exp(2 + 0.7 * (d$treatment == "yes") + site_eff[match(d$site, sprintf("site%02d", 1:15))])
  d$count <- rnbinom(nrow(d), mu = mu, size = 3)
  datasets$log1p <<- add_generated("log1p", d, "lmm_log1p.csv",
    "set.seed(20204); 15 sites x 2 treatments x 6 plots, count ~ negative binomial (size 3)")
})

# Text factor with mixed case: byte order puts "Organic" before "none" before "synthetic", so the
# reference level is "Organic" (R in a non-C locale would pick "none").
set.seed(20205)
local({
  fert <- c("none", "Organic", "synthetic")
  d <- expand.grid(rep = 1:3, fertilizer = fert, field = sprintf("F%d", 1:12),
                   stringsAsFactors = FALSE)[, c("field", "fertilizer", "rep")]
  f_eff <- rnorm(12, 0, 2)
  d$yield <- round(20 + c(none = 0, Organic = 3, synthetic = 4.5)[d$fertilizer] +
                   f_eff[match(d$field, sprintf("F%d", 1:12))] + rnorm(nrow(d), 0, 1.5), 4)
  d <- d[sort(sample(nrow(d), nrow(d) - 10)), ]
  datasets$textfactor <<- add_generated("textfactor", d, "lmm_textfactor.csv",
    "set.seed(20205); 12 fields x 3 fertilizers x 3 reps, 10 rows dropped at random")
})

# Unbalanced two-factor design in random blocks: cell sizes drawn at random (1-6 per block).
set.seed(20206)
local({
  rows <- list()
  for (b in sprintf("b%02d", 1:10)) for (a in c("low", "mid", "high")) for (tr in c("ctl", "trt")) {
    k <- sample(1:6, 1)
    rows[[length(rows) + 1]] <- data.frame(block = b, dose = a, arm = tr, k = seq_len(k))
  }
  d <- do.call(rbind, rows)
  be <- rnorm(10, 0, 3)
  d$dose_num <- c(low = 1, mid = 2, high = 3)[d$dose]
  d$y <- round(10 + 2 * d$dose_num + 3 * (d$arm == "trt") + 1.5 * d$dose_num * (d$arm == "trt") +
               be[match(d$block, sprintf("b%02d", 1:10))] + rnorm(nrow(d), 0, 2.5), 4)
  datasets$unbalanced <<- add_generated("unbalanced", d[, c("block", "dose", "arm", "y")],
    "lmm_unbalanced.csv", "set.seed(20206); 10 blocks x dose (3) x arm (2), 1-6 rows per cell")
})

# ---- model list ------------------------------------------------------------------------------
# factors: the variables emmeans is asked about, one by one; grid: optional extra emmeans specs.
models <- list(
  list(data = "sleepstudy", id = "corr_slope", formula = "Reaction ~ Days + (Days | Subject)", same_as_lmm_json = "sleepstudy/corr_slope"),
  list(data = "sleepstudy", id = "uncorr_slope", formula = "Reaction ~ Days + (Days || Subject)", same_as_lmm_json = "sleepstudy/uncorr_slope"),
  list(data = "sleepstudy", id = "intercept", formula = "Reaction ~ Days + (1 | Subject)", same_as_lmm_json = "sleepstudy/intercept"),
  list(data = "Dyestuff", id = "intercept", formula = "Yield ~ 1 + (1 | Batch)", same_as_lmm_json = "Dyestuff"),
  list(data = "Penicillin", id = "crossed", formula = "diameter ~ 1 + (1 | plate) + (1 | sample)", same_as_lmm_json = "Penicillin"),
  list(data = "Pastes", id = "nested", formula = "strength ~ 1 + (1 | batch/cask)", same_as_lmm_json = "Pastes"),
  list(data = "Pastes", id = "wrong_crossed", formula = "strength ~ 1 + (1 | batch) + (1 | cask)", same_as_lmm_json = "Pastes/pls_wrong_crossed_(1|batch)+(1|cask)"),
  list(data = "dietox", id = "intercept", formula = "Weight ~ Time + (1 | Pig)", same_as_lmm_json = "dietox/intercept"),
  list(data = "dietox", id = "slope", formula = "Weight ~ Time + (1 + Time | Pig)", same_as_lmm_json = "dietox/slope"),
  list(data = "Oats", id = "subset63", formula = "yield ~ Variety + factor(nitro) + (1 | Block/Variety)", same_as_lmm_json = "Oats",
       factors = c("nitro", "Variety")),
  list(data = "crossed", id = "intercepts", formula = "rt ~ condition + freq + (1 | subject) + (1 | item)", factors = "condition"),
  list(data = "crossed", id = "factor_slope", formula = "rt ~ condition + freq + (1 + condition | subject) + (1 | item)", factors = "condition"),
  list(data = "nested", id = "nested", formula = "score ~ ses + (1 | school/class)"),
  list(data = "slopes", id = "corr_slope", formula = "y ~ time * group + (time | id)", factors = "group"),
  list(data = "slopes", id = "uncorr_slope", formula = "y ~ time * group + (time || id)", factors = "group"),
  list(data = "log1p", id = "log1p", formula = "log(count + 1) ~ treatment + (1 | site)", factors = "treatment"),
  list(data = "textfactor", id = "textfactor", formula = "yield ~ fertilizer + (1 | field)", factors = "fertilizer"),
  list(data = "unbalanced", id = "interaction", formula = "y ~ dose * arm + (1 | block)", factors = c("dose", "arm"),
       grid = list(dose_arm = "~ dose + arm")),
  list(data = "unbalanced", id = "additive", formula = "y ~ dose + arm + (1 | block)", factors = c("dose", "arm"))
)

# ---- extraction ------------------------------------------------------------------------------
mat <- function(x) { x <- as.matrix(x); dimnames(x) <- NULL; x }

varcorr_block <- function(m) {
  vc <- VarCorr(m)
  flist <- getME(m, "flist")
  group_of_term <- names(flist)[attr(flist, "assign")]
  out <- lapply(seq_along(vc), function(i) {
    v <- vc[[i]]
    list(name = names(vc)[i], group = group_of_term[i], terms = I(colnames(v)),
         cov = mat(v), sd = I(unname(attr(v, "stddev"))), corr = mat(attr(v, "correlation")))
  })
  out
}

emm_frame <- function(e, asymptotic, type = "link") {
  s <- as.data.frame(summary(e, type = type))
  names(s)[names(s) %in% c("lower.CL", "asymp.LCL")] <- "lower_CL"
  names(s)[names(s) %in% c("upper.CL", "asymp.UCL")] <- "upper_CL"
  if (asymptotic) {
    stopifnot(all(is.infinite(s$df)))
    s$df <- NULL
  }
  for (col in names(s)) if (is.factor(s[[col]])) s[[col]] <- as.character(s[[col]])
  df_cols(s)
}

emmeans_block <- function(m, spec) {
  f <- as.formula(spec)
  sat <- with_log(emmeans(m, f, lmer.df = "satterthwaite"))
  asy <- with_log(emmeans(m, f, lmer.df = "asymptotic"))
  tran <- sat$value@misc$tran
  out <- list(spec = spec,
              satterthwaite = emm_frame(sat$value, FALSE),
              asymptotic = emm_frame(asy$value, TRUE),
              scale = "linear predictor (the model's response as written, e.g. log(count + 1))",
              level = 0.95)
  if (!is.null(tran)) {
    # emmeans sees log(count + 1) as tran "log" with tran.offset 1: the response block is
    # emmeans' summary(type = "response"): exp(emmean) - 1, SE by the delta method, back-transformed limits.
    out$transformation <- list(tran = if (is.character(tran)) tran else tran$name,
                               offset = sat$value@misc$tran.offset)
    out$response_satterthwaite <- emm_frame(sat$value, FALSE, "response")
    out$response_asymptotic <- emm_frame(asy$value, TRUE, "response")
  }
  w <- unique(c(sat$warnings, asy$warnings))
  if (length(w)) out$warnings <- I(w)
  out
}

joint_block <- function(m) {
  one <- function(method) {
    jj <- joint_tests_exact(m, lmer.df = method)
    j <- jj$exact
    out <- list(term = I(as.character(j[["model term"]])), df1 = I(j$df1))
    if (method != "asymptotic") out$df2 <- I(j$df2) else stopifnot(all(is.infinite(j$df2)))
    out <- c(out, list(F_ratio = I(j$F.ratio), p_value = I(j$p.value)))
    if (method != "asymptotic") out$df2_as_printed <- I(jj$rounded$df2)
    c(out, list(F_ratio_as_printed = I(jj$rounded$F.ratio)))
  }
  list(satterthwaite = one("satterthwaite"), asymptotic = one("asymptotic"))
}

anova_block <- function(m) {
  a <- as.data.frame(anova(m, type = 3, ddf = "Satterthwaite"))
  list(term = I(rownames(a)), sum_sq = I(a[["Sum Sq"]]), mean_sq = I(a[["Mean Sq"]]),
       num_df = I(a$NumDF), den_df = I(a$DenDF), F_value = I(a[["F value"]]), p_value = I(a[["Pr(>F)"]]))
}

fit_block <- function(spec, d, reml) {
  fit <- with_log(lmerTest::lmer(as.formula(spec$formula), data = d, REML = reml, control = ctrl))
  m <- fit$value
  if (!inherits(m, "lmerModLmerTest")) stop("lmerTest did not wrap ", spec$formula)
  cf <- summary(m)$coefficients
  th <- getME(m, "theta")
  ll <- logLik(m)
  out <- list(
    reml = reml,
    n = nobs(m),
    p = length(fixef(m)),
    ntheta = length(th),
    ngroups = as.list(ngrps(m)),
    fixef = list(names = I(rownames(cf)), estimate = I(cf[, "Estimate"]), se = I(cf[, "Std. Error"]),
                 df_satterthwaite = I(cf[, "df"]), t_value = I(cf[, "t value"]), p_value = I(cf[, "Pr(>|t|)"])),
    vcov = mat(vcov(m)),
    theta = list(names = I(names(th)), values = I(unname(th))),
    sigma = sigma(m),
    sigma2 = sigma(m)^2,
    varcorr = varcorr_block(m),
    logLik = as.numeric(ll),
    logLik_df = attr(ll, "df"),
    AIC = AIC(m),
    BIC = BIC(m)
  )
  if (reml) out$REML_criterion <- REMLcrit(m) else out$deviance <- deviance(m)
  out$singular <- isSingular(m)
  # lme4's finite-difference gradient of the criterion in theta at the optimum (calc.derivs).
  out$criterion_gradient_theta <- I(unname(m@optinfo$derivs$gradient))
  conv <- m@optinfo$conv$lme4$messages
  out$convergence_messages <- I(if (is.null(conv)) character(0) else conv)
  out$optimizer <- list(name = m@optinfo$optimizer, evaluations = m@optinfo$feval,
                        nlopt_message = if (is.null(m@optinfo$message)) "" else m@optinfo$message)
  if (length(fit$warnings)) out$warnings <- I(fit$warnings)
  if (length(fixef(m)) > 1) {
    out$joint_tests <- joint_block(m)
    out$anova_type3_satterthwaite <- anova_block(m)
  }
  specs <- c(if (!is.null(spec$factors)) setNames(paste("~", spec$factors), spec$factors), unlist(spec$grid))
  if (length(specs)) out$emmeans <- lapply(specs, function(s) emmeans_block(m, s))
  out
}

fits <- list()
for (spec in models) {
  cat("fitting", spec$data, spec$id, ":", spec$formula, "\n")
  d <- datasets[[spec$data]]
  entry <- list(formula = spec$formula, data = data_info[[spec$data]])
  if (!is.null(spec$factors)) entry$emmeans_factors <- I(spec$factors)
  if (!is.null(spec$same_as_lmm_json)) entry$lmm_json_key <- spec$same_as_lmm_json
  entry$REML <- fit_block(spec, d, TRUE)
  entry$ML <- fit_block(spec, d, FALSE)
  for (k in c("REML", "ML")) {
    w <- c(entry[[k]]$warnings, entry[[k]]$convergence_messages)
    if (length(w)) cat("  ", k, "warnings:", paste(w, collapse = " | "), "\n")
  }
  if (is.null(fits[[spec$data]])) fits[[spec$data]] <- list()
  fits[[spec$data]][[spec$id]] <- entry
}

meta <- list(
  generated_by = "scripts/r_references/lmm_references.R (run by scripts/r_references/run.sh)",
  date = format(Sys.Date()),
  R = R.version.string,
  packages = pkg_versions(c("lme4", "lmerTest", "emmeans", "Matrix", "nloptr", "numDeriv", "jsonlite")),
  platform = R.version$platform,
  rng = paste(RNGkind(), collapse = ", "),
  collation = "LC_COLLATE=C: text levels sorted in byte order, as trustql sorts them",
  control = list(optimizer = "nloptwrap (NLOPT_LN_BOBYQA)", optCtrl = opt_ctrl),
  conventions = I(c(
    "Factors use treatment contrasts (contr.treatment): the first level (byte order for text, numeric order for numbers via factor()) is the reference; fixed-effect names are R's model.matrix names (e.g. VarietyMarvellous, factor(nitro)0.2, time:groupdrugA), in R's column order (intercept, main effects, interactions; the first factor varies fastest). This is the coding of trustql's lmm module (udfs/src/stats/lmm/mod.rs). The effect (sum-to-zero) coding of udfs/src/stats/design/kernels.rs belongs to the sequential-design aliasing only, not to model fitting.",
    "Text columns (e.g. condition, group, fertilizer) are factors; integer grouping columns (Subject, Pig) are grouping factors; factor(nitro) makes the numeric nitro a factor with levels 0, 0.2, 0.4, 0.6.",
    "theta = getME(m, 'theta'): per random term the lower triangle of the relative covariance factor Lambda (Cholesky of Sigma / sigma^2), column-major; terms sorted by decreasing number of levels of their grouping factor (lme4). `(x || g)` is split into (1 | g) + (0 + x | g), reported by VarCorr as g and g.1. `(1 | a/b)` is (1 | a) + (1 | b:a), group name b:a.",
    "varcorr: one entry per random term in lme4's order: name (VarCorr's), group (grouping factor), terms, cov (variance-covariance matrix, rows), sd, corr.",
    "sigma2 = sigma^2; vcov = vcov(m) = sigma^2 (RX'RX)^-1 conditional on theta; SEs its square roots; logLik is the REML log-likelihood for REML fits; REML_criterion = REMLcrit(m) (REML) and deviance = deviance(m) (ML), both -2 logLik; AIC/BIC count p + length(theta) + 1 parameters (logLik_df).",
    "fixef.df_satterthwaite, t_value, p_value: lmerTest's summary (Satterthwaite). joint_tests: emmeans::joint_tests(m, lmer.df = 'satterthwaite' / 'asymptotic'); asymptotic blocks have no df / df2 (infinite); df2 and F_ratio are unrounded (emmeans 1.8.4 rounds them to 2 decimals / 3 digits in its output; those values are kept as df2_as_printed / F_ratio_as_printed); p_value is emmeans' own (computed before rounding). anova_type3_satterthwaite: lmerTest's anova(m, type = 3).",
    "emmeans: emmeans(m, ~ factor, lmer.df = 'satterthwaite' / 'asymptotic') with the equal-weight reference grid (numeric covariates at their means, other factors averaged with equal weights); values on the linear-predictor scale (for log(count + 1) the log scale); 95 % intervals; asymptotic blocks have no df (infinite).",
    "Matrices are arrays of rows. Numbers are written with 17 significant digits (exact doubles).",
    "data.location 'shared' = relative to the shared folder (shared/data/stats/..., where the Rust tests already find it); 'repo' = relative to the repository root. Generated data are written, read back and fitted as read, so the CSV rows are exactly the rows R fitted."
  ))
)
write_json_file(list(meta = meta, fits = fits), file.path(out_dir, "lmm_r.json"))
