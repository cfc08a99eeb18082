# Reference values for rdstats.designs.GroupSequentialDesign from rpact.
# Run from the repository root:
#   Rscript tests/reference/scripts/group_sequential_rpact.R
# Writes tests/reference/group_sequential_rpact.json. rpact's defaults are kept
# (tolerance 1e-8) except where the call says otherwise.
suppressPackageStartupMessages({
  library(rpact)
  library(jsonlite)
})

version <- as.character(packageVersion("rpact"))
cases <- list()

num <- function(x) {
  x <- as.numeric(x)
  x[is.na(x)] <- NA
  x
}

add <- function(name, call, inputs, expected, tol = 1e-7) {
  # sample sizes (hundreds of patients) are compared to 1e-7 relative as well
  tolerance <- if (tol >= 1e-5) list(abs = tol, rel = 1e-7) else list(abs = tol)
  if (!is.null(expected$shift) && tol < 1e-5) {
    # the shift (squared drift, about 5 to 15) is compared to 1e-7 relative
    tolerance$by_key <- list(shift = list(abs = 0, rel = 1e-7))
  }
  cases[[length(cases) + 1]] <<- list(
    name = name,
    source = sprintf("rpact %s (R package): %s", version, call),
    inputs = inputs,
    expected = expected,
    tolerance = tolerance
  )
}

# -- boundaries -------------------------------------------------------------------------------
design_case <- function(name, args, inputs, tol = 1e-7) {
  d <- do.call(getDesignGroupSequential, args)
  exp <- list(
    critical_values = num(d$criticalValues),
    stage_levels = num(d$stageLevels),
    alpha_spent = num(d$alphaSpent)
  )
  if (!all(is.na(d$futilityBounds))) {
    exp$futility_bounds <- num(d$futilityBounds)
  }
  add(name, paste0("getDesignGroupSequential(", deparse1(args), ")"), inputs, exp, tol)
}

design_case("OF kmax=3", list(kMax = 3, alpha = 0.025, typeOfDesign = "OF"),
  list(kmax = 3, alpha = 0.025, spending = list(type = "OBrienFleming")))
design_case("asOF kmax=3", list(kMax = 3, alpha = 0.025, typeOfDesign = "asOF"),
  list(kmax = 3, alpha = 0.025, spending = list(type = "OBrienFlemingSpending")))
design_case("P kmax=4", list(kMax = 4, alpha = 0.025, typeOfDesign = "P"),
  list(kmax = 4, alpha = 0.025, spending = list(type = "Pocock")))
design_case("WT delta=0.25 kmax=5", list(kMax = 5, alpha = 0.025, typeOfDesign = "WT", deltaWT = 0.25),
  list(kmax = 5, alpha = 0.025, spending = list(type = "WangTsiatis", delta = 0.25)))
design_case("HP kmax=3", list(kMax = 3, alpha = 0.025, typeOfDesign = "HP"),
  list(kmax = 3, alpha = 0.025, spending = list(type = "HaybittlePeto", z = 3)))
design_case("asP kmax=5", list(kMax = 5, alpha = 0.025, typeOfDesign = "asP"),
  list(kmax = 5, alpha = 0.025, spending = list(type = "PocockSpending")))
design_case("asKD gamma=2 kmax=4", list(kMax = 4, alpha = 0.025, typeOfDesign = "asKD", gammaA = 2),
  list(kmax = 4, alpha = 0.025, spending = list(type = "KimDeMetsSpending", gamma = 2)))
design_case("asHSD gamma=-4 kmax=4", list(kMax = 4, alpha = 0.025, typeOfDesign = "asHSD", gammaA = -4),
  list(kmax = 4, alpha = 0.025, spending = list(type = "HwangShihDeCaniSpending", gamma = -4)))
design_case("asHSD gamma=1 kmax=3", list(kMax = 3, alpha = 0.05, typeOfDesign = "asHSD", gammaA = 1),
  list(kmax = 3, alpha = 0.05, spending = list(type = "HwangShihDeCaniSpending", gamma = 1)))
design_case("asUser kmax=3",
  list(kMax = 3, alpha = 0.025, typeOfDesign = "asUser", userAlphaSpending = c(0.001, 0.01, 0.025)),
  list(kmax = 3, alpha = 0.025, spending = list(type = "UserSpending", values = c(0.001, 0.01, 0.025))))
design_case("asOF unequal information rates",
  list(kMax = 3, alpha = 0.025, typeOfDesign = "asOF", informationRates = c(0.3, 0.7, 1)),
  list(kmax = 3, alpha = 0.025, information_rates = c(0.3, 0.7, 1),
       spending = list(type = "OBrienFlemingSpending")))
design_case("OF unequal information rates",
  list(kMax = 3, alpha = 0.025, typeOfDesign = "OF", informationRates = c(0.4, 0.75, 1)),
  list(kmax = 3, alpha = 0.025, information_rates = c(0.4, 0.75, 1),
       spending = list(type = "OBrienFleming")))
design_case("OF two-sided kmax=5", list(kMax = 5, alpha = 0.05, sided = 2, typeOfDesign = "OF"),
  list(kmax = 5, alpha = 0.05, sided = 2, spending = list(type = "OBrienFleming")))
design_case("P two-sided kmax=4", list(kMax = 4, alpha = 0.05, sided = 2, typeOfDesign = "P"),
  list(kmax = 4, alpha = 0.05, sided = 2, spending = list(type = "Pocock")))
design_case("asOF two-sided kmax=4", list(kMax = 4, alpha = 0.05, sided = 2, typeOfDesign = "asOF"),
  list(kmax = 4, alpha = 0.05, sided = 2, spending = list(type = "OBrienFlemingSpending")))
design_case("OF binding futility 0",
  list(kMax = 3, alpha = 0.025, typeOfDesign = "OF", futilityBounds = c(0, 0), bindingFutility = TRUE),
  list(kmax = 3, alpha = 0.025, spending = list(type = "OBrienFlemingSpending"),
       futility = c(0, 0), binding_futility = TRUE,
       note = "classical OF shape"), 1e-7)
cases[[length(cases)]]$inputs$spending <- list(type = "OBrienFleming")
design_case("asOF binding futility 0",
  list(kMax = 3, alpha = 0.025, typeOfDesign = "asOF", futilityBounds = c(0, 0), bindingFutility = TRUE),
  list(kmax = 3, alpha = 0.025, spending = list(type = "OBrienFlemingSpending"),
       futility = c(0, 0), binding_futility = TRUE))

design_case("OF non-binding futility 0",
  list(kMax = 3, alpha = 0.025, typeOfDesign = "OF", futilityBounds = c(0, 0), bindingFutility = FALSE),
  list(kmax = 3, alpha = 0.025, spending = list(type = "OBrienFleming"),
       futility = c(0, 0), binding_futility = FALSE))
design_case("asKD gamma=3 two-sided kmax=4",
  list(kMax = 4, alpha = 0.05, sided = 2, typeOfDesign = "asKD", gammaA = 3),
  list(kmax = 4, alpha = 0.05, sided = 2, spending = list(type = "KimDeMetsSpending", gamma = 3)))
design_case("HP two-sided kmax=3", list(kMax = 3, alpha = 0.05, sided = 2, typeOfDesign = "HP"),
  list(kmax = 3, alpha = 0.05, sided = 2, spending = list(type = "HaybittlePeto", z = 3)))
design_case("WT delta=0.4 two-sided kmax=3",
  list(kMax = 3, alpha = 0.05, sided = 2, typeOfDesign = "WT", deltaWT = 0.4),
  list(kmax = 3, alpha = 0.05, sided = 2, spending = list(type = "WangTsiatis", delta = 0.4)))
design_case("asUser two-sided kmax=3",
  list(kMax = 3, alpha = 0.05, sided = 2, typeOfDesign = "asUser", userAlphaSpending = c(0.01, 0.03, 0.05)),
  list(kmax = 3, alpha = 0.05, sided = 2,
       spending = list(type = "UserSpending", values = c(0.01, 0.03, 0.05))))
design_case("OF binding futility kmax=5",
  list(kMax = 5, alpha = 0.025, typeOfDesign = "OF", futilityBounds = c(-1, 0, 0.5, 1), bindingFutility = TRUE),
  list(kmax = 5, alpha = 0.025, spending = list(type = "OBrienFleming"),
       futility = c(-1, 0, 0.5, 1), binding_futility = TRUE))

# -- beta spending ------------------------------------------------------------------------------
beta_case <- function(name, args, inputs) {
  d <- do.call(getDesignGroupSequential, args)
  ch <- getDesignCharacteristics(d)
  add(name, paste0("getDesignGroupSequential(", deparse1(args), ") and getDesignCharacteristics()"),
    inputs,
    list(
      critical_values = num(d$criticalValues),
      futility_bounds = num(d$futilityBounds),
      beta_spent = num(d$betaSpent),
      shift = num(ch$shift),
      inflation_factor = num(ch$inflationFactor),
      power = num(ch$power),
      futility_probabilities = num(ch$futilityProbabilities)
    ), 1e-7)
}
beta_case("asOF + bsOF non-binding",
  list(kMax = 3, alpha = 0.025, beta = 0.2, typeOfDesign = "asOF", typeBetaSpending = "bsOF"),
  list(kmax = 3, alpha = 0.025, beta = 0.2, spending = list(type = "OBrienFlemingSpending"),
       futility = list(type = "OBrienFlemingSpending"), binding_futility = FALSE))
beta_case("asOF + bsOF binding",
  list(kMax = 3, alpha = 0.025, beta = 0.2, typeOfDesign = "asOF", typeBetaSpending = "bsOF",
       bindingFutility = TRUE),
  list(kmax = 3, alpha = 0.025, beta = 0.2, spending = list(type = "OBrienFlemingSpending"),
       futility = list(type = "OBrienFlemingSpending"), binding_futility = TRUE))
beta_case("asP + bsKD gamma=2 non-binding kmax=4",
  list(kMax = 4, alpha = 0.025, beta = 0.1, typeOfDesign = "asP", typeBetaSpending = "bsKD",
       gammaB = 2),
  list(kmax = 4, alpha = 0.025, beta = 0.1, spending = list(type = "PocockSpending"),
       futility = list(type = "KimDeMetsSpending", gamma = 2), binding_futility = FALSE))

beta_case("asHSD gamma=-2 + bsP binding kmax=4",
  list(kMax = 4, alpha = 0.025, beta = 0.1, typeOfDesign = "asHSD", gammaA = -2,
       typeBetaSpending = "bsP", bindingFutility = TRUE),
  list(kmax = 4, alpha = 0.025, beta = 0.1, spending = list(type = "HwangShihDeCaniSpending", gamma = -2),
       futility = list(type = "PocockSpending"), binding_futility = TRUE))
beta_case("asP + bsHSD gamma=-2 unequal information rates",
  list(kMax = 3, alpha = 0.025, beta = 0.2, typeOfDesign = "asP", informationRates = c(0.2, 0.5, 1),
       typeBetaSpending = "bsHSD", gammaB = -2),
  list(kmax = 3, alpha = 0.025, beta = 0.2, spending = list(type = "PocockSpending"),
       information_rates = c(0.2, 0.5, 1),
       futility = list(type = "HwangShihDeCaniSpending", gamma = -2), binding_futility = FALSE))

# -- characteristics ------------------------------------------------------------------------------
char_case <- function(name, args, inputs) {
  d <- do.call(getDesignGroupSequential, args)
  ch <- getDesignCharacteristics(d)
  add(name, paste0("getDesignCharacteristics(getDesignGroupSequential(", deparse1(args), "))"),
    inputs,
    list(
      shift = num(ch$shift),
      inflation_factor = num(ch$inflationFactor),
      power = num(ch$power),
      asn_h1 = num(ch$averageSampleNumber1),
      asn_h01 = num(ch$averageSampleNumber01),
      asn_h0 = num(ch$averageSampleNumber0)
    ), 1e-7)
}
char_case("characteristics OF kmax=3",
  list(kMax = 3, alpha = 0.025, beta = 0.2, typeOfDesign = "OF"),
  list(kmax = 3, alpha = 0.025, beta = 0.2, spending = list(type = "OBrienFleming")))
char_case("characteristics P kmax=5",
  list(kMax = 5, alpha = 0.025, beta = 0.1, typeOfDesign = "P"),
  list(kmax = 5, alpha = 0.025, beta = 0.1, spending = list(type = "Pocock")))
char_case("characteristics asOF two-sided kmax=4",
  list(kMax = 4, alpha = 0.05, beta = 0.2, sided = 2, typeOfDesign = "asOF", twoSidedPower = TRUE),
  list(kmax = 4, alpha = 0.05, beta = 0.2, sided = 2, two_sided_power = TRUE,
       spending = list(type = "OBrienFlemingSpending")))
d <- getDesignGroupSequential(kMax = 4, alpha = 0.05, beta = 0.2, sided = 2, typeOfDesign = "asOF")
ch <- getDesignCharacteristics(d)
add("characteristics asOF two-sided kmax=4 default power",
  "getDesignCharacteristics(getDesignGroupSequential(kMax = 4, alpha = 0.05, beta = 0.2, sided = 2, typeOfDesign = 'asOF')) (twoSidedPower = FALSE, the default; average sample numbers not compared)",
  list(kmax = 4, alpha = 0.05, beta = 0.2, sided = 2, spending = list(type = "OBrienFlemingSpending")),
  list(shift = num(ch$shift), inflation_factor = num(ch$inflationFactor), power = num(ch$power)), 1e-7)
char_case("characteristics OF binding futility kmax=5",
  list(kMax = 5, alpha = 0.025, beta = 0.2, typeOfDesign = "OF", futilityBounds = c(-1, 0, 0.5, 1),
       bindingFutility = TRUE),
  list(kmax = 5, alpha = 0.025, beta = 0.2, spending = list(type = "OBrienFleming"),
       futility = c(-1, 0, 0.5, 1), binding_futility = TRUE))
char_case("characteristics asOF futility 0 non-binding",
  list(kMax = 3, alpha = 0.025, beta = 0.2, typeOfDesign = "asOF", futilityBounds = c(0, 0)),
  list(kmax = 3, alpha = 0.025, beta = 0.2, spending = list(type = "OBrienFlemingSpending"),
       futility = c(0, 0), binding_futility = FALSE))

# -- sample size ------------------------------------------------------------------------------------
d3 <- getDesignGroupSequential(kMax = 3, alpha = 0.025, beta = 0.2, typeOfDesign = "asOF")
ss_inputs <- list(kmax = 3, alpha = 0.025, beta = 0.2, spending = list(type = "OBrienFlemingSpending"))
s <- getSampleSizeMeans(d3, alternative = 0.5, stDev = 1, normalApproximation = TRUE)
add("sample size two-sample means",
  "getSampleSizeMeans(getDesignGroupSequential(kMax = 3, alpha = 0.025, beta = 0.2, typeOfDesign = 'asOF'), alternative = 0.5, stDev = 1, normalApproximation = TRUE)",
  c(ss_inputs, list(endpoint = "means", groups = 2, difference = 0.5, sd = 1)),
  list(n_fixed = num(s$nFixed), n_max = num(s$maxNumberOfSubjects),
       n_per_stage = num(s$numberOfSubjects),
       expected_n_h0 = num(s$expectedNumberOfSubjectsH0),
       expected_n_h1 = num(s$expectedNumberOfSubjectsH1),
       critical_effect = num(s$criticalValuesEffectScale)), 1e-5)
s <- getSampleSizeMeans(d3, groups = 1, alternative = 0.4, stDev = 1.2, normalApproximation = TRUE)
add("sample size one-sample mean",
  "getSampleSizeMeans(getDesignGroupSequential(kMax = 3, alpha = 0.025, beta = 0.2, typeOfDesign = 'asOF'), groups = 1, alternative = 0.4, stDev = 1.2, normalApproximation = TRUE)",
  c(ss_inputs, list(endpoint = "means", groups = 1, difference = 0.4, sd = 1.2)),
  list(n_fixed = num(s$nFixed), n_max = num(s$maxNumberOfSubjects),
       critical_effect = num(s$criticalValuesEffectScale)), 1e-5)
s <- getSampleSizeMeans(d3, alternative = 0.5, stDev = 1, allocationRatioPlanned = 2,
  normalApproximation = TRUE)
add("sample size two-sample means allocation 2",
  "getSampleSizeMeans(getDesignGroupSequential(kMax = 3, alpha = 0.025, beta = 0.2, typeOfDesign = 'asOF'), alternative = 0.5, stDev = 1, allocationRatioPlanned = 2, normalApproximation = TRUE)",
  c(ss_inputs, list(endpoint = "means", groups = 2, difference = 0.5, sd = 1, allocation = 2)),
  list(n_fixed = num(s$nFixed), n_max = num(s$maxNumberOfSubjects),
       critical_effect = num(s$criticalValuesEffectScale)), 1e-5)
d2 <- getDesignGroupSequential(kMax = 3, alpha = 0.05, beta = 0.1, sided = 2, typeOfDesign = "asP")
s <- getSampleSizeMeans(d2, alternative = 0.3, stDev = 1.5, normalApproximation = TRUE)
add("sample size two-sample means two-sided",
  "getSampleSizeMeans(getDesignGroupSequential(kMax = 3, alpha = 0.05, beta = 0.1, sided = 2, typeOfDesign = 'asP'), alternative = 0.3, stDev = 1.5, normalApproximation = TRUE)",
  list(kmax = 3, alpha = 0.05, beta = 0.1, sided = 2, spending = list(type = "PocockSpending"),
       endpoint = "means", groups = 2, difference = 0.3, sd = 1.5),
  list(n_fixed = num(s$nFixed), n_max = num(s$maxNumberOfSubjects),
       n_per_stage = num(s$numberOfSubjects),
       critical_effect = num(s$criticalValuesEffectScaleUpper)), 1e-5)
s <- getSampleSizeSurvival(d2, hazardRatio = 0.75, lambda2 = log(2) / 12)
add("sample size survival events two-sided",
  "getSampleSizeSurvival(getDesignGroupSequential(kMax = 3, alpha = 0.05, beta = 0.1, sided = 2, typeOfDesign = 'asP'), hazardRatio = 0.75, lambda2 = log(2) / 12)",
  list(kmax = 3, alpha = 0.05, beta = 0.1, sided = 2, spending = list(type = "PocockSpending"),
       endpoint = "survival", hazard_ratio = 0.75),
  list(events_fixed = num(s$eventsFixed), events_max = num(s$maxNumberOfEvents),
       critical_effect = num(s$criticalValuesEffectScaleLower)), 1e-5)
s <- getSampleSizeRates(d3, pi1 = 0.4, pi2 = 0.2)
add("sample size two rates",
  "getSampleSizeRates(getDesignGroupSequential(kMax = 3, alpha = 0.025, beta = 0.2, typeOfDesign = 'asOF'), pi1 = 0.4, pi2 = 0.2)",
  c(ss_inputs, list(endpoint = "rates", pi1 = 0.4, pi2 = 0.2)),
  list(n_fixed = num(s$nFixed), n_max = num(s$maxNumberOfSubjects),
       critical_effect = num(s$criticalValuesEffectScale)), 1e-5)
s <- getSampleSizeSurvival(d3, hazardRatio = 0.7, lambda2 = log(2) / 12)
add("sample size survival events",
  "getSampleSizeSurvival(getDesignGroupSequential(kMax = 3, alpha = 0.025, beta = 0.2, typeOfDesign = 'asOF'), hazardRatio = 0.7, lambda2 = log(2) / 12)",
  c(ss_inputs, list(endpoint = "survival", hazard_ratio = 0.7)),
  list(events_fixed = num(s$eventsFixed), events_max = num(s$maxNumberOfEvents),
       events_per_stage = num(s$eventsPerStage),
       critical_effect = num(s$criticalValuesEffectScale)), 1e-5)

db <- getDesignGroupSequential(kMax = 3, alpha = 0.025, beta = 0.2, typeOfDesign = "asOF",
  typeBetaSpending = "bsOF")
db_inputs <- list(kmax = 3, alpha = 0.025, beta = 0.2, spending = list(type = "OBrienFlemingSpending"),
  futility = list(type = "OBrienFlemingSpending"), binding_futility = FALSE)
s <- getSampleSizeRates(db, pi1 = 0.25, pi2 = 0.5, allocationRatioPlanned = 2)
add("sample size two rates, decrease, allocation 2, beta-spending",
  "getSampleSizeRates(getDesignGroupSequential(kMax = 3, alpha = 0.025, beta = 0.2, typeOfDesign = 'asOF', typeBetaSpending = 'bsOF'), pi1 = 0.25, pi2 = 0.5, allocationRatioPlanned = 2)",
  c(db_inputs, list(endpoint = "rates", pi1 = 0.25, pi2 = 0.5, allocation = 2)),
  list(n_fixed = num(s$nFixed), n_max = num(s$maxNumberOfSubjects),
       critical_effect = num(s$criticalValuesEffectScale),
       futility_effect = num(s$futilityBoundsEffectScale)), 1e-5)
s <- getSampleSizeSurvival(db, hazardRatio = 1.4, lambda2 = log(2) / 12, allocationRatioPlanned = 2)
add("sample size survival events, hazard ratio above 1, allocation 2, beta-spending",
  "getSampleSizeSurvival(getDesignGroupSequential(kMax = 3, alpha = 0.025, beta = 0.2, typeOfDesign = 'asOF', typeBetaSpending = 'bsOF'), hazardRatio = 1.4, lambda2 = log(2) / 12, allocationRatioPlanned = 2)",
  c(db_inputs, list(endpoint = "survival", hazard_ratio = 1.4, allocation = 2)),
  list(events_fixed = num(s$eventsFixed), events_max = num(s$maxNumberOfEvents),
       critical_effect = num(s$criticalValuesEffectScale),
       futility_effect = num(s$futilityBoundsEffectScale)), 1e-5)

out <- list(
  description = paste(
    "Reference values for rdstats.designs.GroupSequentialDesign computed with rpact",
    version, "by tests/reference/scripts/group_sequential_rpact.R"),
  note = paste(
    "Tolerances are absolute (1e-7 for boundaries, probabilities, inflation factors and",
    "average sample numbers; rdstats' default grid agrees to at most 7e-8), except the",
    "shift (squared drift, 5 to 15), compared to 1e-7 relative (by_key): its absolute",
    "deviations reach 7e-7 (Pocock, kMax = 5) because an error of 1e-8 in a drift of",
    "about 3.5 is 7e-8 in its square, and rpact solves the shift to its own tolerance",
    "of 1e-8 in power. Sample sizes are compared to 1e-5 absolute or 1e-7 relative."),
  cases = cases
)
write(toJSON(out, auto_unbox = TRUE, digits = NA, pretty = TRUE, na = "null"),
  "tests/reference/group_sequential_rpact.json")
cat("wrote", length(cases), "cases\n")
