# Reference values for rdstats.external.e_value(measure = "RD") (risk-difference E-values,
# Ding & VanderWeele 2016, Epidemiology 27:368-377; VanderWeele & Ding 2017, Ann Intern
# Med 167:268-274). The EValue package is not installable here (no Debian build), so this
# script computes the values from the published definition by root finding in base R:
#   bound(B) = (p1 - p0 B) (f + (1 - f) / B), f = n1 / (n1 + n0),
#   point: B* solves bound(B) = true;  E-value = B* + sqrt(B* (B* - 1));
#   CI:    B solves bound(B) - z se(B) = true,
#          se(B) = (f + (1 - f) / B) sqrt(p1 (1 - p1) / n1 + B^2 p0 (1 - p0) / n0).
# (rdstats solves the point equation as a quadratic and the CI equation by bracketing.)
# Run from the repository root: Rscript tests/reference/scripts/external_evalue_rd.R
suppressMessages(library(jsonlite))
ev <- function(b) if (is.finite(b)) b + sqrt(b * (b - 1)) else Inf
case <- function(name, counts, true = 0, alpha = 0.05, note = NULL) {
  n1 <- counts[1] + counts[2]; n0 <- counts[3] + counts[4]
  p1 <- counts[1] / n1; p0 <- counts[3] / n0; f <- n1 / (n1 + n0)
  z <- qnorm(1 - alpha / 2)
  bound <- function(b) (p1 - p0 * b) * (f + (1 - f) / b)
  lower <- function(b) bound(b) - z * (f + (1 - f) / b) * sqrt(p1 * (1 - p1) / n1 + b^2 * p0 * (1 - p0) / n0)
  solve <- function(g) {
    if (g(1) <= true) return(1)
    if (g(1e8) > true) return(Inf)
    uniroot(function(b) g(b) - true, c(1, 1e8), tol = 1e-14)$root
  }
  b <- solve(bound); bci <- solve(lower)
  list(name = name, counts = counts, true = true, alpha = alpha,
       risks = c(p1, p0), n = c(n1, n0),
       rd = p1 - p0, bias_factor = b, bias_factor_ci = bci,
       e_value = ev(b), e_value_ci = ev(bci),
       note = note,
       source = sprintf("R %s uniroot on the Ding & VanderWeele (2016) bound", getRversion()),
       tolerance = 1e-8)
}
cases <- list(
  case("Hammond & Holl 1958 smoking and lung cancer, true = 0", c(397, 78557, 51, 108778),
       note = "with true = 0 the bias factor is the risk ratio 10.72978 (EValue docs: twoXtwoRR)"),
  case("Hammond & Holl 1958, true = 0.001", c(397, 78557, 51, 108778), true = 0.001),
  case("small single-arm trial vs external control", c(12, 8, 10, 50),
       note = "by hand: p1 = 0.6, p0 = 1/6, B = p1 / p0 = 3.6, E = 3.6 + sqrt(3.6 * 2.6) = 6.6594"),
  case("small trial, true = 0.1, alpha = 0.1", c(12, 8, 10, 50), true = 0.1, alpha = 0.1),
  case("no control events, true = 0.1", c(5, 15, 0, 30), true = 0.1,
       note = "bound(B) = p1 (f + (1 - f) / B) > p1 f = 0.1 = true for every B: Inf"),
  case("no control events, true = 0.15", c(5, 15, 0, 30), true = 0.15,
       note = "by hand: B = p1 (1 - f) / (true - p1 f) = 0.25 * 0.6 / 0.05 = 3"),
  case("no control events, true = 0 (cannot be explained away)", c(5, 15, 0, 30))
)
out <- list(description = "Risk-difference E-values computed from the published definition",
            cases = cases)
write(toJSON(out, auto_unbox = TRUE, digits = NA, pretty = TRUE, null = "null"),
      "tests/reference/external_evalue_rd.json")
