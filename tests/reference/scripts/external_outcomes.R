# Reference values for rdstats.external outcome analyses (tests/reference/external_outcomes.json).
# Run from the repository root: Rscript tests/reference/scripts/external_outcomes.R
# Needs R >= 4, survival, sandwich, jsonlite.
suppressMessages({library(survival); library(sandwich); library(jsonlite)})
cases <- list()
src <- function(call) sprintf("R %s, survival %s, sandwich %s: %s", getRversion(),
                               packageVersion("survival"), packageVersion("sandwich"), call)

nsw <- read.csv("../shared/data/nsw_experiment.csv")
fn <- lm(re78 ~ treat, data = nsw)
cases[[length(cases) + 1]] <- list(
  name = "NSW experiment benchmark: difference in means of re78 (issue 6: 1794.34, SE 632.85)",
  source = src("lm(re78 ~ treat) on nsw_experiment.csv; classical (pooled-variance) OLS SE"),
  kind = "effect_model", inputs = list(outcome = "re78", measure = "mean_difference"),
  expected = list(estimate = unname(coef(fn)[2]), se = unname(sqrt(diag(vcov(fn)))[2]),
                  se_hc1 = sqrt(vcovHC(fn, type = "HC1")[2, 2])),
  tolerance = list(rel = 1e-6))

## Continuous / binary outcomes on lalonde with ATT odds weights ---------------------------
lal <- read.csv("../shared/data/lalonde.csv")
ps <- fitted(glm(treat ~ age + educ + race + married + nodegree + re74 + re75, data = lal,
                 family = binomial))
lal$w <- ifelse(lal$treat == 1, 1, ps / (1 - ps))
lal$emp <- as.integer(lal$re78 > 0)
lal$cl <- (seq_len(nrow(lal)) - 1) %/% 3          # artificial clusters of 3 rows
fit <- lm(re78 ~ treat, data = lal, weights = w)
cases[[length(cases) + 1]] <- list(
  name = "lalonde ATT odds weights, mean difference re78, HC1 and CR1",
  source = src("lm(re78 ~ treat, weights = w); vcovHC(type='HC1'); vcovCL(cluster=~cl)"),
  kind = "effect", inputs = list(outcome = "re78", measure = "mean_difference"),
  expected = list(estimate = unname(coef(fit)[2]),
                  se = sqrt(vcovHC(fit, type = "HC1")[2, 2]),
                  se_cluster = sqrt(vcovCL(fit, cluster = ~cl, type = "HC1")[2, 2])),
  tolerance = list(rel = 1e-6))
g <- suppressWarnings(glm(emp ~ treat, data = lal, weights = w, family = quasibinomial))
for (m in c("risk_difference", "risk_ratio", "odds_ratio")) {
  for (cl in c(FALSE, TRUE)) {
    V <- if (cl) vcovCL(g, cluster = ~cl, type = "HC1") else vcovHC(g, type = "HC1")
    b <- coef(g); p0 <- plogis(b[1]); p1 <- plogis(b[1] + b[2])
    grad <- switch(m,
      risk_difference = c(p1 * (1 - p1) - p0 * (1 - p0), p1 * (1 - p1)),
      risk_ratio = c(p0 - p1, 1 - p1),
      odds_ratio = c(0, 1))
    est <- switch(m, risk_difference = p1 - p0, risk_ratio = p1 / p0, odds_ratio = exp(b[2]))
    cases[[length(cases) + 1]] <- list(
      name = sprintf("lalonde ATT odds weights, %s of employment (re78 > 0)%s", m,
                     if (cl) ", clustered" else ""),
      source = src(sprintf("glm(emp ~ treat, weights = w, quasibinomial); %s; delta method",
                           if (cl) "vcovCL(cluster=~cl, type='HC1')" else "vcovHC(type='HC1')")),
      kind = "effect", inputs = list(outcome = "emp", measure = m, cluster = cl),
      expected = list(estimate = unname(est), se = sqrt(drop(t(grad) %*% V %*% grad))),
      tolerance = list(rel = 1e-6))
  }
}

## Survival on the veteran data (survival package) -----------------------------------------
vet <- veteran
vet$trt01 <- as.integer(vet$trt == 2)
vet$w <- round(0.5 + (vet$karno %% 7) / 4, 2)      # arbitrary fixed non-integer weights
vet$cl <- (seq_len(nrow(vet)) - 1) %/% 2
vet$time_nt <- vet$time + (seq_len(nrow(vet)) - 1) / 1000   # the same times without ties
write.csv(vet[, c("time", "time_nt", "status", "trt01", "karno", "age", "w", "cl")],
          "tests/reference/data/veteran_weighted.csv", row.names = FALSE)
times <- c(10, 30, 60, 100, 200)
km <- survfit(Surv(time, status) ~ trt01, data = vet, weights = w)
s <- summary(km, times = times, extend = TRUE)
cases[[length(cases) + 1]] <- list(
  name = "veteran weighted Kaplan-Meier survival at 10, 30, 60, 100, 200 days",
  source = src("survfit(Surv(time, status) ~ trt01, weights = w); summary(times=)"),
  kind = "km", inputs = list(times = times),
  expected = list(treated = s$surv[s$strata == "trt01=1"], control = s$surv[s$strata == "trt01=0"]),
  tolerance = list(abs = 1e-10))
# lifelines' robust (Lin-Wei) variance agrees with coxph's exactly without tied event times;
# with ties (Efron) its score residuals differ slightly (about 0.1-0.2% in the SE), hence
# the looser tolerance of the tied cases.
for (tv in c("time_nt", "time")) for (v in list(list(cl = FALSE, cov = FALSE),
    list(cl = TRUE, cov = FALSE), list(cl = FALSE, cov = TRUE))) {
  f <- as.formula(sprintf("Surv(%s, status) ~ trt01%s", tv, if (v$cov) " + karno" else ""))
  cx <- if (v$cl) coxph(f, data = vet, weights = w, cluster = cl) else
    coxph(f, data = vet, weights = w, robust = TRUE)
  cases[[length(cases) + 1]] <- list(
    name = sprintf("veteran weighted Cox%s%s%s", if (v$cl) ", clustered" else "",
                   if (v$cov) ", + karno" else "", if (tv == "time") ", tied times" else ""),
    source = src(sprintf("coxph(%s, weights = w, %s) (Efron ties)", deparse(f),
                         if (v$cl) "cluster = cl" else "robust = TRUE")),
    kind = "cox", inputs = list(time = tv, cluster = v$cl,
                                covariates = if (v$cov) list("karno") else NULL),
    expected = list(log_hr = unname(coef(cx)[1]), robust_se = unname(sqrt(diag(vcov(cx)))[1])),
    tolerance = if (tv == "time") list(rel_log_hr = 1e-6, rel_se = 5e-3) else
      list(rel_log_hr = 1e-6, rel_se = 1e-5))
}
r <- summary(survfit(Surv(time, status) ~ trt01, data = vet, weights = w), rmean = 200)$table
cases[[length(cases) + 1]] <- list(
  name = "veteran weighted RMST up to 200 days",
  source = src("summary(survfit(..., weights = w), rmean = 200)$table[, 'rmean']"),
  kind = "rmst", inputs = list(tau = 200),
  expected = list(rmst_treated = unname(r["trt01=1", "rmean"]),
                  rmst_control = unname(r["trt01=0", "rmean"])),
  tolerance = list(rel = 1e-8))
lr <- survdiff(Surv(time, status) ~ trt01, data = vet)
cases[[length(cases) + 1]] <- list(
  name = "veteran unweighted log-rank", source = src("survdiff(Surv(time, status) ~ trt01)"),
  kind = "logrank", inputs = list(),
  expected = list(statistic = lr$chisq), tolerance = list(rel = 1e-8))
write_json(list(description = "R references for rdstats.external outcome analyses",
                cases = cases), "tests/reference/external_outcomes.json",
           auto_unbox = TRUE, digits = NA, pretty = TRUE, null = "null")
