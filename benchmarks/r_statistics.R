# The statistics of the benchmark report in R, for comparison: read.csv, then survfit
# (+ landmarks at 1, 3, 5 years) and survdiff for EFS and OS by arm, and one coxph for OS
# with the six covariates (Efron ties, R's default). No Table 1, no figures, no PDF.
#
#   Rscript benchmarks/r_statistics.R path/to/cohort.csv
#
# Prints one line per step, "step<TAB>seconds", then "total<TAB>seconds" (elapsed time,
# from proc.time(); R's start-up and loading survival are not counted, and reported as
# "startup").
started <- proc.time()[["elapsed"]]
suppressPackageStartupMessages(library(survival))
args <- commandArgs(trailingOnly = TRUE)
if (length(args) != 1) stop("usage: Rscript r_statistics.R cohort.csv")

timings <- list()
timed <- function(name, expr) {
  t0 <- proc.time()[["elapsed"]]
  value <- force(expr)
  timings[[name]] <<- proc.time()[["elapsed"]] - t0
  invisible(value)
}
startup <- proc.time()[["elapsed"]] - started
t_all <- proc.time()[["elapsed"]]

d <- timed("read.csv", read.csv(args[[1]]))
timed("prepare factors", {
  d$stage[d$stage == "9"] <- NA
  d$stage <- factor(d$stage, levels = c("I", "II", "III", "IV"))
  d$sex <- factor(d$sex, levels = c("F", "M"))
  d$arm <- factor(d$arm, levels = c("A", "B"))
  d$histology <- factor(d$histology,
                        levels = c("adenocarcinoma", "squamous", "large cell", "other"))
  d$bulky <- factor(d$bulky, levels = c(0, 1))
})
check <- 0
for (ep in c("efs", "os")) {
  time <- d[[paste0(ep, "_years")]]
  event <- d[[paste0(ep, "_event")]]
  timed(paste0("survfit ", ep), {
    fit <- survfit(Surv(time, event) ~ arm, data = d)
    s <- summary(fit, times = c(1, 3, 5), extend = TRUE)
    overall <- survfit(Surv(time, event) ~ 1, data = d)
    m <- summary(overall)$table
    check <- check + sum(s$surv)
  })
  timed(paste0("survdiff ", ep), {
    test <- survdiff(Surv(time, event) ~ arm, data = d)
    check <- check + test$chisq
  })
}
timed("coxph os (6 covariates)", {
  cox <- coxph(Surv(os_years, os_event) ~ age + sex + stage + bulky + histology + bmi,
               data = d, ties = "efron")
  check <- check + sum(coef(cox))
})
total <- proc.time()[["elapsed"]] - t_all
cat(sprintf("startup\t%.3f\n", startup))
for (name in names(timings)) cat(sprintf("%s\t%.3f\n", name, timings[[name]]))
cat(sprintf("total\t%.3f\n", total))
cat(sprintf("check\t%.6f\n", check))
