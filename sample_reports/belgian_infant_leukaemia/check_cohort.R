# Independent R recomputation of the published figures from the SYNTHETIC Belgian cohort.
# Usage: Rscript check_cohort.R cohort.csv   -> prints "id<TAB>value" lines (ids of published.toml)
suppressPackageStartupMessages(library(survival))
args <- commandArgs(trailingOnly = TRUE)
d <- read.csv(args[1], colClasses = "character", na.strings = "")
yr <- 365.25
for (v in c("diagnosis_date", "relapse_date", "second_malignancy_date", "death_date", "last_contact_date"))
  d[[v]] <- as.Date(d[[v]])
d$age_days <- as.integer(d$age_days)
d$wbc <- as.numeric(d$wbc)

partner <- function(k) {
  m <- regmatches(k, gregexpr("(t|ins|add)\\([^)]*\\)\\([^)]*\\)", k))[[1]]
  for (a in m) {
    kind <- sub("\\(.*", "", a)
    parts <- regmatches(a, gregexpr("\\(([^)]*)\\)", a))[[1]]
    chroms <- strsplit(gsub("[()]", "", parts[1]), ";")[[1]]
    bands <- strsplit(gsub("[()]", "", parts[2]), ";")[[1]]
    for (i in seq_along(chroms)) {
      if (chroms[i] == "11" && grepl("q23", bands[i])) {
        if (kind == "add") return("unspecified")
        return(paste0("chr", chroms[chroms != "11"][1]))
      }
    }
  }
  NA_character_
}
d$partner <- vapply(d$karyotype, partner, "")
d$kmt2a <- !is.na(d$partner)

ev <- pmin(d$relapse_date, d$second_malignancy_date, d$death_date, na.rm = TRUE)
d$efs_e <- as.integer(!is.na(ev))
d$efs_t <- as.numeric(ifelse(is.na(ev), d$last_contact_date, ev) - as.numeric(d$diagnosis_date)) / yr
d$os_e <- as.integer(!is.na(d$death_date))
d$os_t <- as.numeric(ifelse(is.na(d$death_date), d$last_contact_date, d$death_date) - as.numeric(d$diagnosis_date)) / yr

out <- function(id, x) cat(id, "\t", format(x, digits = 12), "\n", sep = "")
A <- d[d$type == "ALL", ]
M <- d[d$type == "AML", ]
for (g in c("ALL", "AML")) {
  s <- d[d$type == g, ]
  out(paste0("table1.age.", g, ".all.median"), median(s$age_days))
  out(paste0("table1.age.", g, ".all.min"), min(s$age_days))
  out(paste0("table1.age.", g, ".all.max"), max(s$age_days))
  out(paste0("table1.wbc.", g, ".all.median"), median(s$wbc))
  out(paste0("table1.wbc.", g, ".all.min"), min(s$wbc))
  out(paste0("table1.wbc.", g, ".all.max"), max(s$wbc))
  out(paste0("table2.kmt2a.", g, ".positive.n"), sum(s$kmt2a))
  out(paste0("table2.kmt2a.", g, ".negative.n"), sum(!s$kmt2a))
  sp <- s$partner[!is.na(s$partner) & s$partner != "unspecified"]
  for (c in c("chr1", "chr2", "chr4", "chr9", "chr10", "chr19")) {
    out(paste0("table3.partner.", g, ".", c, ".n"), sum(sp == c))
    out(paste0("table3.partner.", g, ".", c, ".pct"), 100 * sum(sp == c) / length(sp))
  }
  fit <- summary(survfit(Surv(efs_t, efs_e) ~ 1, data = s), times = 5)
  out(paste0("results.efs5.", g, ".all.surv"), 100 * fit$surv)
  fit <- summary(survfit(Surv(os_t, os_e) ~ 1, data = s), times = 5)
  out(paste0("results.os5.", g, ".all.surv"), 100 * fit$surv)
}
out("table3.partner.AML.unspecified.n", sum(M$partner == "unspecified", na.rm = TRUE))
out("discussion.efs5.AML.all.surv", 100 * summary(survfit(Surv(efs_t, efs_e) ~ 1, data = M), times = 5)$surv)
out("results.efs5.total.all.surv", 100 * summary(survfit(Surv(efs_t, efs_e) ~ 1, data = d), times = 5)$surv)
out("results.os5.total.all.surv", 100 * summary(survfit(Surv(os_t, os_e) ~ 1, data = d), times = 5)$surv)

out("table1.age.ALLvsAML.all.p", t.test(A$age_days, M$age_days, var.equal = TRUE)$p.value)
tab2 <- function(x, y) matrix(c(sum(x), sum(!x), sum(y), sum(!y)), 2, byrow = TRUE)
out("table1.agegroup.ALLvsAML.all.p", fisher.test(tab2(A$age_days < 183, M$age_days < 183))$p.value)
out("table1.sex.ALLvsAML.all.p", fisher.test(tab2(A$sex == "M", M$sex == "M"))$p.value)
out("table1.wbc.ALLvsAML.all.p", t.test(A$wbc, M$wbc, var.equal = TRUE)$p.value)
cns <- rbind(table(factor(A$cns, c("CNS-1", "CNS-2", "CNS-3"))), table(factor(M$cns, c("CNS-1", "CNS-2", "CNS-3"))))
out("table1.cns.ALLvsAML.all.p", fisher.test(cns)$p.value)
out("results.wbc.ALLvsAML.gt50.p", fisher.test(tab2(A$wbc > 50, M$wbc > 50))$p.value)
out("results.hepatomegaly.ALLvsAML.yes.p", fisher.test(tab2(A$hepatomegaly == "yes", M$hepatomegaly == "yes"))$p.value)
out("results.splenomegaly.ALLvsAML.yes.p", fisher.test(tab2(A$splenomegaly == "yes", M$splenomegaly == "yes"))$p.value)
out("results.kmt2a.ALLvsAML.positive.p", chisq.test(tab2(A$kmt2a, M$kmt2a), correct = FALSE)$p.value)
out("results.event_time.total.all.max", max(d$efs_t[d$efs_e == 1]))

lr <- function(f) { s <- survdiff(f, data = d); 1 - pchisq(s$chisq, length(s$n) - 1) }
out("results.os.ALLvsAML.all.p", lr(Surv(os_t, os_e) ~ type))
out("results.efs.ALLvsAML.all.p", lr(Surv(efs_t, efs_e) ~ type))
d$age_lt6m <- as.integer(d$age_days < 183)
d$wbc_ge50 <- as.integer(d$wbc >= 50)
d$kmt2a_i <- as.integer(d$kmt2a)
for (ep in c("efs", "os")) {
  for (cv in c("age_lt6m", "wbc_ge50", "kmt2a")) {
    f <- as.formula(paste0("Surv(", ep, "_t, ", ep, "_e) ~ ", if (cv == "kmt2a") "kmt2a_i" else cv))
    out(paste0("results.cox_", ep, ".total.", cv, ".p"), summary(coxph(f, data = d))$coefficients[1, "Pr(>|z|)"])
  }
}
r <- A[!is.na(A$day8_response), ]
r$poor <- as.integer(r$day8_response == "poor")
r$protocol <- factor(r$protocol)
for (cv in c("wbc", "age_days", "kmt2a", "protocol")) {
  fit <- glm(as.formula(paste("poor ~", cv)), family = binomial, data = r)
  p <- 1 - pchisq(fit$null.deviance - fit$deviance, fit$df.null - fit$df.residual)
  out(paste0("results.day8.ALL.", if (cv == "age_days") "age" else cv, ".p"), p)
}
