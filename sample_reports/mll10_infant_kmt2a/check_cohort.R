# Independent R recomputation of the published figures from the SYNTHETIC MLL-10 cohort.
# Usage: Rscript check_cohort.R cohort.csv   -> prints "id<TAB>value" lines (ids of published.toml)
suppressPackageStartupMessages(library(survival))
args <- commandArgs(trailingOnly = TRUE)
d <- read.csv(args[1], colClasses = "character", na.strings = "")
yr <- 365.25
for (v in c("enrolment_date", "event_date", "death_date", "last_contact_date")) d[[v]] <- as.Date(d[[v]])
d$efs_e <- as.integer(!is.na(d$event_date))
d$efs_t <- as.numeric(ifelse(is.na(d$event_date), d$last_contact_date, d$event_date) - as.numeric(d$enrolment_date)) / yr
d$os_e <- as.integer(!is.na(d$death_date))
d$os_t <- as.numeric(d$last_contact_date - d$enrolment_date) / yr
out <- function(id, x) cat(id, "\t", format(x, digits = 12), "\n", sep = "")
out("abstract.patients.all.all.n", nrow(d))
e <- summary(survfit(Surv(efs_t, efs_e) ~ 1, data = d), times = 3)
o <- summary(survfit(Surv(os_t, os_e) ~ 1, data = d), times = 3)
out("abstract.efs3.all.all.surv", 100 * e$surv)
out("abstract.efs3.all.all.se", 100 * e$std.err)
out("abstract.os3.all.all.surv", 100 * o$surv)
out("abstract.os3.all.all.se", 100 * o$std.err)
# risk groups (not published; information only)
d$risk <- ifelse(as.integer(d$age_days) < 180 | d$cns == "CNS-3", "HR", "IR")
for (g in c("HR", "IR")) {
  s <- d[d$risk == g, ]
  out(paste0("info.efs3.", g, ".surv"), 100 * summary(survfit(Surv(efs_t, efs_e) ~ 1, data = s), times = 3)$surv)
}
sd <- survdiff(Surv(efs_t, efs_e) ~ risk, data = d)
out("info.efs.HRvsIR.p", 1 - pchisq(sd$chisq, 1))
