# Writes pbc.csv, the public example cohort of examples/pbc, from R's survival package.
#
# Run from the repository root:  Rscript examples/pbc/export_pbc.R
#
# The 312 patients of the Mayo Clinic trial in primary biliary cholangitis who were
# randomised (D-penicillamine or placebo); the 106 who were not have no treatment and are
# left out. Codes become words so that the report reads without a codebook.

suppressPackageStartupMessages(library(survival))

d <- pbc[!is.na(pbc$trt), ]
out <- data.frame(
  id = d$id,
  time_days = d$time,
  # status: 0 censored, 1 liver transplant, 2 death
  status = c("censored", "transplant", "dead")[d$status + 1],
  death = as.integer(d$status == 2),
  treatment = ifelse(d$trt == 1, "D-penicillamine", "Placebo"),
  age = round(d$age, 2),
  sex = ifelse(d$sex == "f", "female", "male"),
  ascites = ifelse(d$ascites == 1, "yes", "no"),
  hepatomegaly = ifelse(d$hepato == 1, "yes", "no"),
  spiders = ifelse(d$spiders == 1, "yes", "no"),
  oedema = c("none", "untreated or resolved", "despite diuretics")[match(d$edema, c(0, 0.5, 1))],
  bilirubin = d$bili,
  albumin = d$albumin,
  stage = d$stage
)
write.csv(out, "examples/pbc/pbc.csv", row.names = FALSE, na = "")
