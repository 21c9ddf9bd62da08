# mgcv's side of the GAM benchmark (bench/gam/run.sh): the fits of bench/gam/gam_speed.sql on the
# same CSV files, each gam() call repeated five times (elapsed time, best taken by compare.py),
# written with the REML score, total edf and adjusted R² as JSON to the file named by the first
# argument.
args <- commandArgs(trailingOnly = TRUE)
suppressMessages(library(mgcv))
out <- if (length(args) > 0) args[[1]] else "target/bench-results/gam_mgcv.json"
consistency <- read.csv("tests/reference/data/gam_consistency.csv", stringsAsFactors = TRUE)
additive <- read.csv("tests/reference/data/gam_benchmark.csv", stringsAsFactors = TRUE)
fits <- list(
  consistency = list(data = consistency, formula = cw ~ transformation * task +
    s(m01, by = interaction(transformation, task), k = 6, bs = "cr")),
  consistency_tp = list(data = consistency, formula = cw ~ transformation * task +
    s(m01, by = interaction(transformation, task), k = 6)),
  additive = list(data = additive, formula = y ~ s(x1, bs = "cr") + s(x2, bs = "cr") +
    s(x3, bs = "cr") + f),
  additive_tp = list(data = additive, formula = y ~ s(x1) + s(x2) + s(x3) + f)
)
result <- list(mgcv_version = as.character(packageVersion("mgcv")), R_version = R.version.string,
               fits = list())
for (name in names(fits)) {
  f <- fits[[name]]
  times <- numeric(0)
  for (i in 1:5) {
    t0 <- proc.time()[["elapsed"]]
    m <- gam(f$formula, data = f$data, method = "REML")
    times <- c(times, proc.time()[["elapsed"]] - t0)
  }
  result$fits[[name]] <- list(n = nrow(f$data), times = times, score = m$gcv.ubre[[1]],
                              edf_total = sum(m$edf), r_sq = summary(m)$r.sq)
}
writeLines(jsonlite::toJSON(result, auto_unbox = TRUE, digits = NA), out)
