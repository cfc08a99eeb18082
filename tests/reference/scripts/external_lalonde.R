# Reference values for rdstats.external propensity scores, weights and balance tables on
# the lalonde data (MatchIt/cobalt example; ../shared/data/lalonde.csv relative to the
# repository root). Independent base-R formulas (glm for the propensity model; balance
# statistics written out here following cobalt's documented conventions: unweighted
# standardising SDs, treated SD for the ATT and pooled for the ATE/ATO, sqrt(p(1-p)) for
# binary variables, unbiased weighted variances for variance ratios, weighted eCDFs).
# MatchIt is used only for its copy of the data, as a cross-check of the CSV.
#
# Run from the repository root:
#   Rscript tests/reference/scripts/external_lalonde.R > /tmp/external_lalonde_r.json
suppressPackageStartupMessages({library(MatchIt); library(jsonlite)})

d <- read.csv("../shared/data/lalonde.csv")
data("lalonde", package = "MatchIt")
stopifnot(nrow(d) == nrow(lalonde), all.equal(d$re78, lalonde$re78))

fit <- glm(treat ~ age + educ + race + married + nodegree + re74 + re75,
           family = binomial, data = d)
e <- unname(fitted(fit))
t <- d$treat

X <- data.frame(distance = e, age = d$age, educ = d$educ,
                race_black = as.numeric(d$race == "black"),
                race_hispan = as.numeric(d$race == "hispan"),
                race_white = as.numeric(d$race == "white"),
                married = d$married, nodegree = d$nodegree, re74 = d$re74, re75 = d$re75)
binary <- c(FALSE, FALSE, FALSE, TRUE, TRUE, TRUE, TRUE, TRUE, FALSE, FALSE)

wmean <- function(x, w) sum(w * x) / sum(w)
wvar <- function(x, w) {
  m <- wmean(x, w); sw <- sum(w)
  sw / (sw^2 - sum(w^2)) * sum(w * (x - m)^2)
}
wcdf_stats <- function(x1, w1, x0, w0) {
  grid <- sort(unique(c(x1, x0)))
  F1 <- sapply(grid, function(g) sum(w1[x1 <= g]) / sum(w1))
  F0 <- sapply(grid, function(g) sum(w0[x0 <= g]) / sum(w0))
  c(mean = mean(abs(F1 - F0)), max = max(abs(F1 - F0)))
}
stats <- function(w, denom) {
  out <- list()
  for (j in seq_along(X)) {
    x <- X[[j]]; x1 <- x[t == 1]; x0 <- x[t == 0]; w1 <- w[t == 1]; w0 <- w[t == 0]
    if (binary[j]) {
      v1 <- mean(x1) * (1 - mean(x1)); v0 <- mean(x0) * (1 - mean(x0))
    } else {
      v1 <- var(x1); v0 <- var(x0)
    }
    s <- if (denom == "treated") sqrt(v1) else sqrt((v1 + v0) / 2)
    diff <- wmean(x1, w1) - wmean(x0, w0)
    ks <- if (binary[j]) c(mean = abs(diff), max = abs(diff)) else wcdf_stats(x1, w1, x0, w0)
    out[[names(X)[j]]] <- list(
      smd = diff / s,
      var_ratio = if (binary[j]) NA else wvar(x1, w1) / wvar(x0, w0),
      ecdf_mean = unname(ks["mean"]), ecdf_max = unname(ks["max"]))
  }
  out
}
ess <- function(w) sum(w)^2 / sum(w^2)
weights <- list(
  ATT = ifelse(t == 1, 1, e / (1 - e)),
  ATE = ifelse(t == 1, 1 / e, 1 / (1 - e)),
  ATO = ifelse(t == 1, 1 - e, e))
res <- list(
  R = R.version.string, MatchIt = as.character(packageVersion("MatchIt")),
  coefficients = as.list(coef(fit)),
  unadjusted_att = stats(rep(1, length(t)), "treated"),
  unadjusted_ate = stats(rep(1, length(t)), "pooled"))
for (est in names(weights)) {
  w <- weights[[est]]
  res[[paste0("weighted_", est)]] <- list(
    balance = stats(w, if (est == "ATT") "treated" else "pooled"),
    ess_treated = ess(w[t == 1]), ess_control = ess(w[t == 0]),
    effect_re78 = wmean(d$re78[t == 1], w[t == 1]) - wmean(d$re78[t == 0], w[t == 0]))
}
cat(toJSON(res, auto_unbox = TRUE, digits = NA, na = "null", pretty = TRUE))
