# Helpers shared by lmm_references.R and gam_references.R.
#
# Why this file exists: jsonlite 1.8.4 writes at most 15 significant digits even with
# `digits = NA` or `digits = I(17)`, which does not round-trip a double. The reference files must
# hold R's numbers exactly, so this file has a small JSON writer that prints every finite double
# with `%.17g` (always enough to recover the same double with a correctly rounding parser such as
# Rust's or Python's). It also fixes the locale and the random-number generator so that every run
# gives the same files.

# trustql sorts text levels in byte order; R's factor() sorts in the collation order of the
# locale. The C locale makes them the same.
invisible(Sys.setlocale("LC_COLLATE", "C"))
RNGkind("Mersenne-Twister", "Inversion", "Rejection")
options(contrasts = c("contr.treatment", "contr.poly"), warn = 1)

# The repository root: run.sh starts R there.
repo_root <- normalizePath(".")
if (!file.exists(file.path(repo_root, "scripts/r_references/common.R"))) {
  stop("run the scripts from the repository root (scripts/r_references/run.sh does)")
}

# The shared folder holding data/stats/*.csv (outside the repository, as the Rust tests look for it).
find_shared <- function() {
  env <- Sys.getenv("TRUSTQL_SHARED")
  cands <- c(if (nzchar(env)) env, file.path(repo_root, "../shared"),
             file.path(repo_root, "../../shared"), "/work/shared")
  for (d in cands) {
    if (file.exists(file.path(d, "data/stats/sleepstudy.csv"))) return(normalizePath(d))
  }
  stop("shared/data/stats not found; set TRUSTQL_SHARED")
}

out_dir <- file.path(repo_root, "tests/reference")
data_dir <- file.path(out_dir, "data")
dir.create(data_dir, recursive = TRUE, showWarnings = FALSE)

# ---- JSON writer ---------------------------------------------------------------------------
# Rules: a named list is an object (keys in the list's order); an unnamed list is an array; an
# atomic vector of length 1 is a scalar unless wrapped in I() (then a one-element array); longer
# vectors are arrays; a matrix is an array of its rows; NULL, NA and NaN are null; +-Inf are the
# strings "Inf" / "-Inf" (none is expected; the checks in check.py report any).
json_num <- function(x) {
  s <- sprintf("%.17g", x)
  s[is.na(x)] <- "null"
  s[!is.na(x) & is.infinite(x) & x > 0] <- "\"Inf\""
  s[!is.na(x) & is.infinite(x) & x < 0] <- "\"-Inf\""
  s
}
json_str <- function(x) {
  out <- vapply(x, function(s) if (is.na(s)) "null" else
    as.character(jsonlite::toJSON(s, auto_unbox = TRUE)), "")
  unname(out)
}
json_atoms <- function(x) {
  if (is.factor(x)) x <- as.character(x)
  if (is.logical(x)) return(ifelse(is.na(x), "null", ifelse(x, "true", "false")))
  if (is.character(x)) return(json_str(x))
  if (is.numeric(x)) return(json_num(as.double(x)))
  stop("cannot write a ", class(x)[1], " as JSON")
}
to_json <- function(x, indent = 0) {
  pad <- strrep(" ", indent + 1)
  end <- strrep(" ", indent)
  if (is.null(x)) return("null")
  if (is.data.frame(x)) x <- as.list(x)
  if (is.list(x)) {
    if (length(x) == 0) return(if (is.null(names(x))) "[]" else "{}")
    items <- vapply(x, to_json, "", indent = indent + 1)
    if (!is.null(names(x))) {
      if (any(names(x) == "") || anyDuplicated(names(x))) stop("bad or duplicated keys: ", paste(names(x), collapse = ","))
      items <- paste0(json_str(names(x)), ": ", items)
    }
    open <- if (is.null(names(x))) "[" else "{"
    close <- if (is.null(names(x))) "]" else "}"
    return(paste0(open, "\n", pad, paste(items, collapse = paste0(",\n", pad)), "\n", end, close))
  }
  if (is.matrix(x)) {
    rows <- vapply(seq_len(nrow(x)), function(i) paste0("[", paste(json_atoms(x[i, ]), collapse = ", "), "]"), "")
    if (length(rows) == 0) return("[]")
    return(paste0("[\n", pad, paste(rows, collapse = paste0(",\n", pad)), "\n", end, "]"))
  }
  a <- json_atoms(unclass(x))
  if (length(x) == 1 && !inherits(x, "AsIs")) return(a)
  paste0("[", paste(a, collapse = ", "), "]")
}
write_json_file <- function(x, path) {
  writeLines(to_json(x), path, useBytes = TRUE)
  cat("wrote", path, "(", file.size(path), "bytes )\n")
}

# A vector with its names, kept in order: {"names": [...], "values": [...]}.
named_vec <- function(v) list(names = I(names(v)), values = I(unname(as.double(v))))

# A data frame as {column: [values...]} with every column an array.
df_cols <- function(d) {
  d <- as.data.frame(d)
  out <- lapply(d, function(col) I(if (is.factor(col)) as.character(col) else col))
  names(out) <- names(d)
  out
}

# Writes a generated data set as CSV (no quotes, no row names: the tests' CSV reader is minimal),
# reads it back and returns the read-back frame, so that R fits exactly the rows the tests read.
write_data <- function(d, name) {
  path <- file.path(data_dir, name)
  for (col in names(d)) {
    if (is.character(d[[col]]) || is.factor(d[[col]])) {
      if (any(grepl("[,\"\n]", as.character(d[[col]])))) stop("text with a comma or quote in ", col)
    }
  }
  write.csv(d, path, row.names = FALSE, quote = FALSE)
  if (file.size(path) > 1e6) stop(name, " is over 1 MB")
  read.csv(path, stringsAsFactors = FALSE)
}

md5 <- function(path) unname(tools::md5sum(path))

# Runs expr, collecting warnings and messages instead of printing them only.
with_log <- function(expr) {
  warns <- character(0)
  msgs <- character(0)
  value <- withCallingHandlers(expr,
    warning = function(w) { warns <<- c(warns, conditionMessage(w)); invokeRestart("muffleWarning") },
    message = function(m) { msgs <<- c(msgs, conditionMessage(m)); invokeRestart("muffleMessage") })
  list(value = value, warnings = warns, messages = msgs)
}

pkg_versions <- function(pkgs) {
  v <- lapply(pkgs, function(p) as.character(packageVersion(p)))
  names(v) <- pkgs
  v
}

# emmeans 1.8.4's test(..., joint = TRUE), which joint_tests() calls, returns df2 rounded to 2
# decimals and F.ratio to 3 digits (the p-value is computed before rounding). joint_tests_exact()
# runs joint_tests() with that rounding switched off (the same code with round() as identity) and
# returns both the unrounded and emmeans' rounded columns.
joint_tests_exact <- function(object, ...) {
  ns <- asNamespace("emmeans")
  original <- get("test.emmGrid", envir = ns)
  patched <- original
  e <- new.env(parent = environment(original))
  e$round <- function(x, digits = 0) x
  environment(patched) <- e
  # joint_tests() finds test.emmGrid in the namespace before the S3 table: replace both.
  set_method <- function(f) {
    unlockBinding("test.emmGrid", ns)
    assign("test.emmGrid", f, envir = ns)
    lockBinding("test.emmGrid", ns)
    registerS3method("test", "emmGrid", f, envir = ns)
  }
  set_method(patched)
  on.exit(set_method(original))
  # Unrounded, the "(confounded)" check (df1 = 0 when nothing is confounded, a row joint_tests
  # then drops) divides a tiny nonzero difference by 0 and pf() warns "NaNs produced"; muffled.
  exact <- withCallingHandlers(as.data.frame(emmeans::joint_tests(object, ...)),
    warning = function(w) if (grepl("NaNs produced", conditionMessage(w))) invokeRestart("muffleWarning"))
  set_method(original)
  rounded <- as.data.frame(emmeans::joint_tests(object, ...))
  stopifnot(identical(exact[["model term"]], rounded[["model term"]]),
            isTRUE(all.equal(exact$p.value, rounded$p.value)))
  list(exact = exact, rounded = rounded)
}
