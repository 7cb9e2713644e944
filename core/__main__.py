from cohortpress.cli import run

run()
