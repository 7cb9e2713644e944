# survival's veteran (Veterans' Administration lung cancer trial, 137 patients), written as
# the cohort of tests/test_disclosure_outputs.py: a cohort no sample resembles, with cells
# of 1 to 9 in its cross-tables (cell type by treatment and prior therapy).
# Run from this folder: Rscript make_veteran.R
library(survival)
v <- survival::veteran
out <- data.frame(
  id = sprintf("V%03d", seq_len(nrow(v))),
  trt = ifelse(v$trt == 1, "standard", "test"),
  celltype = as.character(v$celltype),
  karno = v$karno,
  age = v$age,
  prior = ifelse(v$prior == 10, "yes", "no"),
  diagtime = v$diagtime,
  time = v$time,
  status = v$status
)
out$age[c(3, 50, 90)] <- NA
out$prior[c(7, 8)] <- NA
write.csv(out, "veteran.csv", row.names = FALSE, quote = FALSE, na = "")
