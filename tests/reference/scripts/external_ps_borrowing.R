# Reference values for rdstats.external.ps_power_prior (PS-integrated power prior, Wang et al.
# 2019, J Biopharm Stat 29:731-748) and hybrid_control on the lalonde data
# (../shared/data/lalonde.csv relative to the repository root), computed independently in
# base R from the method's definition (documented in rdstats/external/_ps_borrowing.py):
#   glm(study ~ covariates, binomial) for the trial-membership propensity score;
#   strata cut at quantile(type = 7) of the trial scores; trimming outside the trial range;
#   overlapping coefficient of Gaussian KDEs (bandwidth 1.06 * sd(group) * n^-1/5; the pooled
#   SD for a group of one or without spread), each
#   renormalised on the stratum, trapezoid on 201 points; A_k = A r_k / sum(r),
#   a_k = min(1, A_k / n_ext_k); flat-prior normal (plug-in SD) / beta posteriors.
# The psrwe package is not on CRAN/Debian here, so this is a second implementation, not psrwe.
#
# Run from the repository root:
#   Rscript tests/reference/scripts/external_ps_borrowing.R > /tmp/external_ps_borrowing_r.json
suppressPackageStartupMessages(library(jsonlite))

d <- read.csv("../shared/data/lalonde.csv")
d$employed78 <- as.numeric(d$re78 > 0)
fit <- glm(treat ~ age + educ + race + married + nodegree + re74 + re75,
           family = binomial, data = d)
e <- unname(fitted(fit))
trial <- d$treat == 1

ovl <- function(a, b, lo, hi) {
  if (length(a) == 0 || length(b) == 0) return(0)
  s <- sd(c(a, b))
  if (s == 0 || !(hi > lo)) return(1)
  x <- seq(lo, hi, length.out = 201)
  trap <- function(f) sum(diff(x) * (head(f, -1) + tail(f, -1)) / 2)
  dens <- function(v) {
    own <- if (length(v) > 1) sd(v) else 0
    h <- max(1.06 * (if (own > 1e-9 * s) own else s) * length(v)^(-0.2), (hi - lo) / 200)
    f <- sapply(x, function(xx) sum(dnorm((xx - v) / h)))
    f / trap(f)
  }
  min(1, max(0, trap(pmin(dens(a), dens(b)))))
}

pspp <- function(y, A, K = 5, overlap = "ovl", binary = FALSE) {
  cuts <- quantile(e[trial], probs = seq(0, 1, length.out = K + 1), type = 7, names = FALSE)
  k <- findInterval(e, cuts[2:K], left.open = TRUE) + 1  # e <= c_1 -> stratum 1
  used <- trial | (e >= cuts[1] & e <= cuts[K + 1])
  ext <- !trial & used
  n_ext <- sapply(1:K, function(j) sum(ext & k == j))
  n_tr <- sapply(1:K, function(j) sum(trial & k == j))
  r <- if (overlap == "equal") as.numeric(n_ext > 0) else
    sapply(1:K, function(j) ovl(e[trial & k == j], e[ext & k == j], cuts[j], cuts[j + 1]))
  a0 <- ifelse(n_ext > 0, pmin(1, A * r / sum(r) / pmax(n_ext, 1)), 0)
  w <- n_tr / sum(n_tr)
  s_t <- sd(y[trial])
  mt <- vt <- mc <- vc <- numeric(K)
  for (j in 1:K) {
    yt <- y[trial & k == j]; ye <- y[ext & k == j]
    if (binary) {
      at <- 1 + sum(yt); bt <- 1 + length(yt) - sum(yt)
      ac <- 1 + a0[j] * sum(ye); bc <- 1 + a0[j] * (length(ye) - sum(ye))
      mt[j] <- at / (at + bt); vt[j] <- at * bt / ((at + bt)^2 * (at + bt + 1))
      mc[j] <- ac / (ac + bc); vc[j] <- ac * bc / ((ac + bc)^2 * (ac + bc + 1))
    } else {
      m0 <- a0[j] * length(ye)
      mt[j] <- mean(yt); vt[j] <- s_t^2 / length(yt)
      mc[j] <- sum(ye) * a0[j] / m0; vc[j] <- sd(ye)^2 / m0
    }
  }
  est <- sum(w * mt) - sum(w * mc)
  list(n_external = n_ext, overlap = r, a0 = a0, n_borrowed = sum(a0 * n_ext),
       n_trimmed = sum(!used), estimate = est, sd = sqrt(sum(w^2 * (vt + vc))),
       treated_mean = sum(w * mt), control_mean = sum(w * mc))
}

# hybrid control, single arm, power prior on odds-weighted external data
hyb <- function(y, a0, binary = FALSE) {
  we <- e[!trial] / (1 - e[!trial]); ye <- y[!trial]
  ess <- sum(we)^2 / sum(we^2); m <- sum(we * ye) / sum(we)
  if (binary) {
    ac <- 1 + a0 * ess * m; bc <- 1 + a0 * ess * (1 - m)
    return(list(ess = ess, control_mean = ac / (ac + bc),
                control_sd = sqrt(ac * bc / ((ac + bc)^2 * (ac + bc + 1)))))
  }
  sdw <- sqrt(sum(we * (ye - m)^2) / sum(we))
  list(ess = ess, control_mean = m, control_sd = sdw / sqrt(ess) / sqrt(a0))
}

out <- list(
  r_version = R.version.string,
  pspp_re78_A185_ovl = pspp(d$re78, 185),
  pspp_re78_A92_equal = pspp(d$re78, 92, overlap = "equal"),
  pspp_re78_A1000_K4 = pspp(d$re78, 1000, K = 4),
  pspp_employed_A185_ovl = pspp(d$employed78, 185, binary = TRUE),
  hybrid_re78_power_a05 = hyb(d$re78, 0.5),
  hybrid_employed_power_a05 = hyb(d$employed78, 0.5, binary = TRUE)
)
cat(toJSON(out, digits = 15, auto_unbox = TRUE, pretty = TRUE))
