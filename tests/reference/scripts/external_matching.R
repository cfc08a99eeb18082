# Reference values for rdstats.external.match: MatchIt on the lalonde data.
# Run from the repository root: Rscript tests/reference/scripts/external_matching.R
# Writes tests/reference/external_matching.json.
suppressMessages({library(MatchIt); library(jsonlite)})
d <- read.csv("../shared/data/lalonde.csv", stringsAsFactors = FALSE)
if (!file.exists("../shared/data/lalonde.csv")) stop("lalonde.csv not found")
d$race <- factor(d$race)
rownames(d) <- d$id
f <- treat ~ age + educ + race + married + nodegree + re74 + re75
# MatchIt 4.5.1 (the Debian r-cran-matchit build) has a regression in its nearest-neighbour
# matching on a scalar distance (picks that are not the nearest available control, calipers
# ignored; fixed in later releases, see github.com/kosukeimai/MatchIt/issues/151 and 159).
# Its matrix-based path (used for Mahalanobis matching) is correct, so the propensity score
# (or its logit) is estimated by matchit() and matched on through mahvars = ~ps: the
# Mahalanobis distance on one variable, |ps_i - ps_j| / sd, ranks controls exactly as
# |ps_i - ps_j| does, while m.order and the caliper still use matchit's own distance.
fit <- glm(f, data = d, family = binomial())
d$ps <- fitted(fit)
d$lp <- predict(fit, type = "link")
ver <- as.character(packageVersion("MatchIt"))

run <- function(name, call_text, inputs, keep_distance = FALSE, mv = "ps", ties = FALSE, ...) {
  if (is.null(mv)) {
    m <- matchit(f, data = d, ...)
  } else {
    m <- matchit(f, data = d, mahvars = as.formula(paste("~", mv)), ...)
    call_text <- sub(")$", sprintf(", mahvars = ~%s)", mv), call_text)
  }
  mm <- m$match.matrix
  pairs <- lapply(seq_len(nrow(mm)), function(i) {
    ids <- mm[i, ]
    ids <- ids[!is.na(ids)]
    as.list(unname(ids))
  })
  names(pairs) <- rownames(mm)
  w <- m$weights
  names(w) <- rownames(d)
  keep <- w > 0
  ctl <- keep & d$treat == 0
  list(
    name = name,
    source = sprintf("MatchIt %s (R %s): %s", ver, getRversion(), call_text),
    inputs = inputs,
    expected = list(
      matches = pairs,
      weights = as.list(w[keep]),
      n_treated_matched = sum(keep & d$treat == 1),
      n_control_matched = sum(ctl),
      mean_re78_matched_controls = sum(w[ctl] * d$re78[ctl]) / sum(w[ctl]),
      distance = if (keep_distance) unname(m$distance) else NULL
    ),
    tolerance = if (ties) {
      list(ids = "up to exact ties of the distance", weights = "not compared",
           mean = "not compared", distance = 1e-6)
    } else {
      list(ids = "exact", weights = 1e-8, mean = 1e-8, distance = 1e-6)
    }
  )
}

cases <- list(
  run("nearest 1:1 no replacement largest", "matchit(f, data, method = 'nearest')",
      list(method = "nearest", ratio = 1, replace = FALSE, order = "largest"),
      keep_distance = TRUE, method = "nearest"),
  run("nearest 2:1 no replacement largest", "matchit(f, data, method = 'nearest', ratio = 2)",
      list(method = "nearest", ratio = 2, replace = FALSE, order = "largest"),
      method = "nearest", ratio = 2),
  run("nearest 1:1 with replacement", "matchit(f, data, method = 'nearest', replace = TRUE)",
      list(method = "nearest", ratio = 1, replace = TRUE, order = "largest"),
      method = "nearest", replace = TRUE),
  run("nearest 3:1 with replacement", "matchit(f, data, method = 'nearest', ratio = 3, replace = TRUE)",
      list(method = "nearest", ratio = 3, replace = TRUE, order = "largest"),
      # MatchIt breaks exact ties at the k-th place by the later unit in the data, rdstats
      # by the earlier one, so only the distances to the matched controls are compared
      ties = TRUE, method = "nearest", ratio = 3, replace = TRUE),
  run("nearest 3:1 no replacement smallest", "matchit(f, data, method = 'nearest', ratio = 3, m.order = 'smallest')",
      list(method = "nearest", ratio = 3, replace = FALSE, order = "smallest"),
      method = "nearest", ratio = 3, m.order = "smallest"),
  run("nearest 1:1 smallest", "matchit(f, data, method = 'nearest', m.order = 'smallest')",
      list(method = "nearest", ratio = 1, replace = FALSE, order = "smallest"),
      method = "nearest", m.order = "smallest"),
  run("nearest 1:1 data order", "matchit(f, data, method = 'nearest', m.order = 'data')",
      list(method = "nearest", ratio = 1, replace = FALSE, order = "data"),
      method = "nearest", m.order = "data"),
  run("nearest caliper 0.1 ps", "matchit(f, data, method = 'nearest', caliper = 0.1)",
      list(method = "nearest", ratio = 1, replace = FALSE, order = "largest", caliper = 0.1,
           caliper_scale = "ps"),
      method = "nearest", caliper = 0.1),
  run("nearest caliper 0.1 logit", "matchit(f, data, method = 'nearest', link = 'linear.logit', caliper = 0.1)",
      list(method = "nearest", ratio = 1, replace = FALSE, order = "largest", caliper = 0.1,
           caliper_scale = "logit"),
      keep_distance = TRUE, mv = "lp", method = "nearest", link = "linear.logit", caliper = 0.1),
  run("nearest 2:1 caliper 0.2 logit", "matchit(f, data, method = 'nearest', ratio = 2, link = 'linear.logit', caliper = 0.2)",
      list(method = "nearest", ratio = 2, replace = FALSE, order = "largest", caliper = 0.2,
           caliper_scale = "logit"),
      mv = "lp", method = "nearest", ratio = 2, link = "linear.logit", caliper = 0.2),
  run("nearest exact married", "matchit(f, data, method = 'nearest', exact = ~married)",
      list(method = "nearest", ratio = 1, replace = FALSE, order = "largest", exact = list("married")),
      method = "nearest", exact = ~married),
  run("nearest mahalanobis", "matchit(f, data, method = 'nearest', distance = 'mahalanobis')",
      list(method = "nearest", ratio = 1, replace = FALSE, order = "data", distance = "mahalanobis"),
      mv = NULL, method = "nearest", distance = "mahalanobis")
)
if (requireNamespace("optmatch", quietly = TRUE)) {
  cases[[length(cases) + 1]] <- run("optimal 1:1", "matchit(f, data, method = 'optimal')",
                                    list(method = "optimal", ratio = 1), method = "optimal")
}
out <- list(
  description = paste("Reference values for rdstats.external.match computed with MatchIt", ver,
                      "by tests/reference/scripts/external_matching.R on ../shared/data/lalonde.csv,",
                      "PS formula treat ~ age + educ + race + married + nodegree + re74 + re75"),
  note = paste("matches: matched control ids per treated id (MatchIt's match.matrix);",
               "weights: nonzero matching weights by id; matching on the propensity score goes through",
               "mahvars (see the script) because of MatchIt 4.5.1's scalar-distance regression; distance: MatchIt's distance",
               "(propensity score, or its logit with link = 'linear.logit'). optmatch is not",
               "installed, so optimal matching has no R reference here."),
  cases = cases
)
write_json(out, "tests/reference/external_matching.json", auto_unbox = TRUE, digits = NA, pretty = TRUE)
