# Reference values for rdstats.external.propensity_scores(model = "probit" | "cloglog" |
# "spline") and match(method = "full", estimand = "ATE") weights, on the lalonde data.
# Run from the repository root: Rscript tests/reference/scripts/external_flexible_ps.R
# Writes tests/reference/external_flexible_ps.json.
#
# - probit / cloglog: glm(f, family = binomial(link = ...)) coefficients and fitted values.
# - spline: glm(treat ~ ns(age) + ns(educ) + race + married + nodegree + ns(re74) + ns(re75),
#   family = binomial) with splines::ns natural cubic splines, df = 4, knots chosen by the rule
#   documented in rdstats (boundary knots at the range; interior knots the distinct
#   quantiles k/4, k = 1..3, strictly inside the range; type-7 quantiles as R's default).
#   rdstats builds its own basis (truncated-power form), so the two fits share only the
#   function space; their fitted probabilities must agree.
# - full matching ATE weights: the Debian MatchIt 4.5.1 build has no optmatch, so
#   method = "full" cannot run here. The matched sets produced by rdstats (written to
#   /tmp by the command below) are passed to MatchIt as an exact-matching variable:
#   matchit(method = "exact", estimand = "ATE") computes its subclass weights exactly as
#   for full matching (documented weights: unit weight = 1 + (units of the other group in
#   its set) / (units of its own group in its set), rescaled within each group to sum to
#   the number of matched units of that group). The sets are stored in the json.
#   Before running this script:
#   .venv/bin/python -c "from rdstats.datasets import load_lalonde; \
#     from rdstats.external._matching import match; d = load_lalonde().set_index('id'); \
#     m = match(d, 'treat', ['age','educ','race','married','nodegree','re74','re75'], \
#     method='full', estimand='ATE'); \
#     m.subclass.rename('subclass').to_csv('/tmp/h2/full_ate_subclass.csv')"
suppressMessages({library(MatchIt); library(jsonlite); library(splines)})
if (!file.exists("../shared/data/lalonde.csv")) stop("lalonde.csv not found")
d <- read.csv("../shared/data/lalonde.csv", stringsAsFactors = FALSE)
d$race <- factor(d$race)
rownames(d) <- d$id
f <- treat ~ age + educ + race + married + nodegree + re74 + re75
src <- function(call) sprintf("R %s, stats::glm: %s", getRversion(), call)

glm_case <- function(link) {
  fit <- glm(f, data = d, family = binomial(link = link), control = glm.control(epsilon = 1e-14, maxit = 100))
  list(
    source = src(sprintf("glm(treat ~ age + educ + race + married + nodegree + re74 + re75, binomial(link = '%s'))", link)),
    coefficients = as.list(coef(fit)),
    std_errors = as.list(sqrt(diag(vcov(fit)))),
    fitted = unname(fitted(fit)),
    loglik = as.numeric(logLik(fit)),
    tolerance = list(coefficients = 1e-6, fitted = 1e-6, std_errors = 1e-5)
  )
}

knots_for <- function(x, df) {
  k <- unique(unname(quantile(x, (1:(df - 1)) / df)))
  k[k > min(x) & k < max(x)]
}
df <- 4
kn <- lapply(list(age = d$age, educ = d$educ, re74 = d$re74, re75 = d$re75), knots_for, df = df)
ns_term <- function(v) sprintf("ns(%s, knots = kn$%s, Boundary.knots = range(d$%s))", v, v, v)
fs <- as.formula(paste("treat ~", paste(c(ns_term("age"), ns_term("educ"), "race", "married",
                                         "nodegree", ns_term("re74"), ns_term("re75")), collapse = " + ")))
sfit <- glm(fs, data = d, family = binomial(), control = glm.control(epsilon = 1e-14, maxit = 100))
spline <- list(
  source = src(paste("glm(", deparse1(fs), ", binomial) with splines::ns, df = 4")),
  df = df,
  interior_knots = kn,
  fitted = unname(fitted(sfit)),
  loglik = as.numeric(logLik(sfit)),
  n_coefficients = length(coef(sfit)),
  tolerance = list(fitted = 1e-6, loglik = 1e-6)
)

full_ate <- NULL
sub_file <- "/tmp/h2/full_ate_subclass.csv"
if (file.exists(sub_file)) {
  s <- read.csv(sub_file, stringsAsFactors = FALSE)
  d2 <- d
  d2$set <- factor(s$subclass[match(d2$id, s$id)])
  m <- matchit(treat ~ set, data = d2, method = "exact", estimand = "ATE")
  w <- m$weights
  names(w) <- d2$id
  full_ate <- list(
    source = sprintf(paste("MatchIt %s (R %s): matchit(treat ~ set, method = 'exact',",
                           "estimand = 'ATE') on the matched sets of rdstats full matching"),
                     packageVersion("MatchIt"), getRversion()),
    subclass = as.list(setNames(as.integer(as.character(d2$set)), d2$id)),
    weights = as.list(w),
    weighted_mean_re78 = list(
      treated = weighted.mean(d$re78[d$treat == 1], w[d$treat == 1]),
      control = weighted.mean(d$re78[d$treat == 0], w[d$treat == 0])
    ),
    tolerance = list(weights = 1e-10, means = 1e-8)
  )
}

out <- list(
  description = paste("Flexible propensity models (probit, cloglog, natural-spline logistic)",
                      "and full-matching ATE weights on lalonde (614 rows, data order)"),
  data = "../shared/data/lalonde.csv (MatchIt/cobalt lalonde)",
  covariates = c("age", "educ", "race", "married", "nodegree", "re74", "re75"),
  probit = glm_case("probit"),
  cloglog = glm_case("cloglog"),
  spline = spline,
  full_ate = full_ate
)
write(toJSON(out, auto_unbox = TRUE, digits = NA, pretty = TRUE, null = "null"),
      "tests/reference/external_flexible_ps.json")
