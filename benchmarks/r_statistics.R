# The statistics of the benchmark report (benchmarks/generate.py REPORT_TOML) in R, step by
# step, so that the benchmark compares the same work. cohortpress computes, by default:
#
# Table 1 by arm (demographics): per arm, the count and percentage of each level and the
#   missing count of sex, stage (code 9 = missing), bulky and histology, each tested by
#   Fisher's exact test (2 x 2 exactly; larger tables exactly when the network algorithm
#   can, else simulated with 100,000 tables); median and range of age, median and
#   quartiles (type 7) of crp, mean and SD of bmi, each with its missing count and the
#   Wilcoxon rank-sum test (normal approximation with continuity correction at this size);
#   the first and last diagnosis date.
# Survival, for EFS and OS: Kaplan-Meier by arm and overall, the estimates with log-type
#   95% CIs at 1, 3 and 5 years, the medians with their CIs, the numbers at risk under the
#   figure, the log-rank test, and the median follow-up by reverse Kaplan-Meier with its CI.
#   (The figure itself is not drawn here.)
# Cox for OS with age, sex, stage, bulky, histology and bmi (Efron ties): one univariable
#   model per covariate (each on its own complete cases) with its concordance, the
#   multivariable model with its concordance, a likelihood-ratio refit without each factor
#   of more than two levels (stage, histology; a univariable factor's test is its model's
#   likelihood-ratio test), and cox.zph(transform = "km") of the multivariable model.
#
#   Rscript benchmarks/r_statistics.R path/to/cohort.csv [numbers.json]
#
# Reads with data.table::fread (Debian r-cran-data.table). Prints one line per step,
# "step<TAB>seconds", then "total<TAB>seconds" (elapsed time from proc.time(); R's start-up
# and loading the packages are reported as "startup" and not counted). With a second
# argument, writes the key numbers as JSON (jsonlite) for the runner to compare with
# cohortpress's results.json.
started <- proc.time()[["elapsed"]]
suppressPackageStartupMessages({
  library(survival)
  library(data.table)
})
args <- commandArgs(trailingOnly = TRUE)
if (!length(args) %in% 1:2) stop("usage: Rscript r_statistics.R cohort.csv [numbers.json]")
setDTthreads(1L)  # cohortpress fits on at most two threads; R's single thread is the fair match

timings <- list()
timed <- function(name, expr) {
  t0 <- proc.time()[["elapsed"]]
  value <- force(expr)
  timings[[name]] <<- proc.time()[["elapsed"]] - t0
  invisible(value)
}
numbers <- list()
startup <- proc.time()[["elapsed"]] - started
t_all <- proc.time()[["elapsed"]]

columns <- c("arm", "age", "sex", "stage", "crp", "bulky", "histology", "diagnosis_date",
             "bmi", "efs_years", "efs_event", "os_years", "os_event")
d <- timed("read (fread)", fread(args[[1]], select = columns, na.strings = "",
                                 showProgress = FALSE))
timed("prepare factors", {
  d[stage == "9", stage := NA_character_]
  d[, stage := factor(stage, levels = c("I", "II", "III", "IV"))]
  d[, sex := factor(sex, levels = c("F", "M"))]
  d[, arm := factor(arm, levels = c("A", "B"))]
  d[, histology := factor(histology,
                          levels = c("adenocarcinoma", "squamous", "large cell", "other"))]
  d[, bulky := factor(bulky, levels = c(0, 1))]
  d[, diagnosis_date := as.IDate(diagnosis_date)]
})

# ------------------------------------------------------------------------------ Table 1
fisher <- function(tab) {
  tab <- tab[rowSums(tab) > 0, colSums(tab) > 0, drop = FALSE]
  if (all(dim(tab) == 2)) return(fisher.test(tab)$p.value)
  tryCatch(fisher.test(tab)$p.value,  # R's default workspace, as a user would run it
           error = function(e) fisher.test(tab, simulate.p.value = TRUE, B = 1e5)$p.value)
}
timed("table 1: categorical rows + Fisher", {
  for (v in c("sex", "stage", "bulky", "histology")) {
    tab <- table(d[[v]], d$arm)
    numbers[[paste0("table1.", v, ".n")]] <- as.vector(tab)
    numbers[[paste0("table1.", v, ".percent")]] <- as.vector(100 * prop.table(tab, 2))
    numbers[[paste0("table1.", v, ".missing")]] <- as.vector(tapply(is.na(d[[v]]), d$arm, sum))
    numbers[[paste0("table1.", v, ".p")]] <- fisher(tab)
  }
})
timed("table 1: continuous rows + Wilcoxon", {
  summaries <- list(
    age = function(x) c(median = median(x), min = min(x), max = max(x)),
    crp = function(x) c(median = median(x), quantile(x, c(0.25, 0.75), names = FALSE, type = 7)),
    bmi = function(x) c(mean = mean(x), sd = sd(x)))
  for (v in names(summaries)) {
    for (a in levels(d$arm)) {
      x <- d[[v]][d$arm == a]
      numbers[[paste0("table1.", v, ".", a)]] <- unname(summaries[[v]](x[!is.na(x)]))
      numbers[[paste0("table1.", v, ".", a, ".missing")]] <- sum(is.na(x))
    }
    numbers[[paste0("table1.", v, ".p")]] <- wilcox.test(d[[v]] ~ d$arm)$p.value
  }
  for (a in levels(d$arm)) {
    x <- d$diagnosis_date[d$arm == a]
    numbers[[paste0("table1.diagnosis_date.", a)]] <- format(range(x, na.rm = TRUE))
  }
})

# ------------------------------------------------------------------------------ survival
for (ep in c("efs", "os")) {
  surv <- Surv(d[[paste0(ep, "_years")]], d[[paste0(ep, "_event")]])
  timed(paste0("KM + landmarks + medians + at risk ", ep), {
    fit <- survfit(surv ~ arm, data = d, conf.type = "log")
    overall <- survfit(surv ~ 1, conf.type = "log")
    for (f in list(fit, overall)) {
      s <- summary(f, times = c(1, 3, 5), extend = TRUE)
      at_risk <- summary(f, times = seq(0, 15, by = 2.5), extend = TRUE)$n.risk
    }
    numbers[[paste0(ep, ".landmarks.by_arm")]] <- summary(fit, times = c(1, 3, 5),
                                                          extend = TRUE)$surv
    numbers[[paste0(ep, ".median")]] <- unname(summary(fit)$table[, "median"])
    numbers[[paste0(ep, ".median.overall")]] <- unname(summary(overall)$table["median"])
  })
  timed(paste0("log-rank ", ep), {
    numbers[[paste0(ep, ".logrank.chisq")]] <- survdiff(surv ~ arm, data = d)$chisq
  })
  timed(paste0("reverse KM follow-up ", ep), {
    reverse <- survfit(Surv(d[[paste0(ep, "_years")]], 1 - d[[paste0(ep, "_event")]]) ~ 1)
    numbers[[paste0(ep, ".followup")]] <- unname(quantile(reverse, 0.5)$quantile)
  })
}

# ------------------------------------------------------------------------------ Cox
covariates <- c("age", "sex", "stage", "bulky", "histology", "bmi")
os <- function(terms) reformulate(terms, response = "Surv(os_years, os_event)")
timed("Cox univariable models + concordance", {
  for (v in covariates) {
    uni <- coxph(os(v), data = d, ties = "efron")
    numbers[[paste0("cox.univariable.", v)]] <- unname(coef(uni))
    numbers[[paste0("cox.univariable.", v, ".C")]] <- unname(concordance(uni)$concordance)
  }
})
complete <- d[complete.cases(d[, ..covariates])]
full <- timed("Cox multivariable + concordance", {
  full <- coxph(os(covariates), data = complete, ties = "efron")
  numbers[["cox.multivariable.C"]] <- unname(concordance(full)$concordance)
  full
})
numbers[["cox.multivariable.coef"]] <- unname(coef(full))
numbers[["cox.multivariable.loglik"]] <- full$loglik[[2]]
timed("Cox likelihood-ratio refits (stage, histology)", {
  for (v in c("stage", "histology")) {
    reduced <- coxph(os(setdiff(covariates, v)), data = complete, ties = "efron")
    numbers[[paste0("cox.lr.", v)]] <- 2 * (full$loglik[[2]] - reduced$loglik[[2]])
  }
})
timed("cox.zph", {
  zph <- cox.zph(full, transform = "km")
  numbers[["cox.zph.p"]] <- unname(zph$table[, "p"])
})

total <- proc.time()[["elapsed"]] - t_all
cat(sprintf("startup\t%.3f\n", startup))
for (name in names(timings)) cat(sprintf("%s\t%.3f\n", name, timings[[name]]))
cat(sprintf("total\t%.3f\n", total))
if (length(args) == 2) {
  jsonlite::write_json(numbers, args[[2]], digits = NA, auto_unbox = TRUE)
}
