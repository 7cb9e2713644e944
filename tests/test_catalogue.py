"""A catalogue of bad configs and data the project never saw, each through the real CLI.

Every entry asserts the exit code and the exact last line on stderr (the one line a user
reads: file, key path or column, what was found, what is allowed, "did you mean"), and
that no traceback is printed. Runs ``cohortpress validate`` in this process (fast); the
entries that :mod:`tests.test_bad_inputs` checks by words through ``build`` are not
repeated here. ``{config}`` and ``{data}`` in an expected line stand for the paths of the
config and the cohort file.
"""

from __future__ import annotations

import dataclasses

import pytest


@dataclasses.dataclass(frozen=True)
class Case:
    id: str
    line: str
    toml: tuple[tuple[str, str], ...] = ()  # (old, new) replacements in the demo config
    extra: str = ""  # appended to the demo config
    csv: tuple[tuple[str, str], ...] = ()  # (old, new) replacements in the demo cohort
    code: int = 2


def case(id, line, *, toml=(), extra="", csv=(), code=2) -> Case:
    return Case(id, line, tuple(toml), extra, tuple(csv), code)


SECTION = '[[section]]\nid = "s"\n'


def section(analysis: str, body: str) -> str:
    return f'{SECTION}analysis = "{analysis}"\n{body}\n'


CASES = [
    # ---------------------------------------------------------------- [report]
    case("report-title-not-text",
         "cohortpress: error: {config}: key 'report.title': found the number 3; expected a text in quotes",
         toml=[('title = "Foundation demo"', 'title = 3')]),
    case("report-p-digits-text",
         "cohortpress: error: {config}: key 'report.p_digits': found the text 'three'; expected a whole number",
         toml=[('date = "2024-05-31"', 'date = "2024-05-31"\np_digits = "three"')]),
    case("report-p-digits-too-many",
         "cohortpress: error: {config}: key 'report.p_digits': found the number 9; expected a number of at most 6",
         toml=[('date = "2024-05-31"', 'date = "2024-05-31"\np_digits = 9')]),
    case("report-style-misspelt",
         "cohortpress: error: {config}: key 'report.style': 'jurnal' is not allowed; use one of 'journal', 'compact'; did you mean 'journal'?",
         toml=[('date = "2024-05-31"', 'date = "2024-05-31"\nstyle = "jurnal"')]),
    case("report-exports-pdf",
         "cohortpress: error: {config}: key 'report.exports[0]': 'pdf' is not allowed; use one of 'csv', 'xlsx', 'docx', 'png', 'html'",
         toml=[('date = "2024-05-31"', 'date = "2024-05-31"\nexports = ["pdf"]')]),
    case("report-authors-not-a-list",
         "cohortpress: error: {config}: key 'report.authors': found the text 'A. Author'; expected a list in square brackets",
         toml=[('date = "2024-05-31"', 'date = "2024-05-31"\nauthors = "A. Author"')]),
    case("report-timeout-zero",
         "cohortpress: error: {config}: key 'report.section_timeout': found the number 0; expected a number greater than 0",
         toml=[('date = "2024-05-31"', 'date = "2024-05-31"\nsection_timeout = 0')]),
    case("report-date-impossible",
         "cohortpress: error: {config}: key 'report.date': must be an ISO date such as 2024-05-31",
         toml=[('date = "2024-05-31"', 'date = "2024-02-30"')]),
    case("report-pdf-variant",
         "cohortpress: error: {config}: key 'report.pdf_variant': 'pdf/a-1b' is not allowed; use one of 'pdf/a-3b'; did you mean 'pdf/a-3b'?",
         toml=[('date = "2024-05-31"', 'date = "2024-05-31"\npdf_variant = "pdf/a-1b"')]),
    # ---------------------------------------------------------------- [cohort]
    case("cohort-id-unknown-column",
         "cohortpress: error: {data}: key 'cohort.id': column 'ident' not found in the cohort; did you mean 'death'?",
         toml=[('id = "id"', 'id = "ident"')]),
    case("cohort-group-misspelt",
         "cohortpress: error: {data}: key 'cohort.group': column 'armm' not found in the cohort; did you mean 'arm'?",
         toml=[('group = "arm"', 'group = "armm"')]),
    case("cohort-group-continuous",
         "cohortpress: error: {config}: key 'cohort.group': the grouping variable must be categorical, 'age' is continuous",
         toml=[('group = "arm"', 'group = "age"')]),
    case("cohort-max-levels-one",
         "cohortpress: error: {config}: key 'cohort.max_levels': found the number 1; expected a number of at least 2",
         toml=[('group = "arm"', 'group = "arm"\nmax_levels = 1')]),
    case("cohort-filter-not-a-list",
         "cohortpress: error: {config}: key 'cohort.filter': found a table; expected a list in square brackets",
         toml=[('group = "arm"', 'group = "arm"\nfilter = { variable = "age", gt = 1 }')]),
    case("cohort-filter-unknown-op",
         "cohortpress: error: {config}: key 'cohort.filter[0].greater': unknown key; allowed keys: eq, ge, gt, in, le, lt, missing, ne, not_in, variable",
         toml=[('group = "arm"', 'group = "arm"\nfilter = [{ variable = "age", greater = 1 }]')]),
    case("cohort-filter-unknown-variable",
         "cohortpress: error: {data}: key 'cohort.filter[0].variable': column 'agee' not found in the cohort; did you mean 'age'?",
         toml=[('group = "arm"', 'group = "arm"\nfilter = [{ variable = "agee", gt = 1 }]')]),
    case("cohort-filter-empties-cohort",
         "cohortpress: error: {config}: key 'cohort.filter': no rows left after cohort.filter (age > 500.0)",
         toml=[('group = "arm"', 'group = "arm"\nfilter = [{ variable = "age", gt = 500 }]')]),
    case("cohort-encoding-unknown",
         'cohortpress: error: {data}: key \'cohort.encoding\': unknown encoding \'utf-9\'; use e.g. "utf-8", "latin-1" or "cp1252"',
         toml=[('group = "arm"', 'group = "arm"\nencoding = "utf-9"')]),
    case("cohort-format-unknown",
         "cohortpress: error: {data}: key 'cohort.format': no reader for the format 'xls'",
         toml=[('group = "arm"', 'group = "arm"\nformat = "xls"')]),
    # ---------------------------------------------------------------- [variables]
    case("variable-kind-misspelt",
         "cohortpress: error: {config}: key 'variables.age.kind': 'continous' is not allowed; use one of 'categorical', 'binary', 'continuous', 'date', 'text'; did you mean 'continuous'?",
         toml=[('kind = "continuous"', 'kind = "continous"')]),
    case("variable-levels-not-a-list",
         "cohortpress: error: {config}: key 'variables.sex.levels': found the text 'F'; expected a list in square brackets",
         toml=[('levels = ["F", "M"]', 'levels = "F"')]),
    case("variable-labels-not-a-table",
         "cohortpress: error: {config}: key 'variables.sex.labels': found the list ['Female', 'Male']; expected a table ({{ key = value }} or a [heading])",
         toml=[('labels = { F = "Female", M = "Male" }', 'labels = ["Female", "Male"]')]),
    case("variable-reference-unknown",
         "cohortpress: error: {config}: key 'variables.sex.reference': reference level 'Z' is not among the levels ['Female', 'Male']",
         toml=[('levels = ["F", "M"]', 'levels = ["F", "M"]\nreference = "Z"')]),
    case("variable-missing-not-a-list",
         "cohortpress: error: {config}: key 'variables.age.missing': found the number 99; expected a list in square brackets",
         toml=[('missing = [99]', 'missing = 99')]),
    # ---------------------------------------------------------------- [derived]
    case("derived-cut-labels-count",
         "cohortpress: error: {config}: key 'derived.g': 2 bins need 2 labels, got 1",
         extra='[derived.g]\ntype = "cut"\nsource = "age"\nbreaks = [0, 40, 200]\nlabels = ["young"]\n'),
    case("derived-cut-breaks-text",
         "cohortpress: error: {config}: key 'derived.g.breaks': found the text '0, 40'; expected a list in square brackets",
         extra='[derived.g]\ntype = "cut"\nsource = "age"\nbreaks = "0, 40"\nlabels = ["young"]\n'),
    case("derived-recode-without-source",
         "cohortpress: error: {config}: key 'derived.g.source': required key is missing",
         extra='[derived.g]\ntype = "recode"\nmapping = { A = "x" }\n'),
    case("derived-transform-scale-without-per",
         "cohortpress: error: {config}: key 'derived.g': function 'scale' needs 'per', e.g. per = 10",
         extra='[derived.g]\ntype = "transform"\nsource = "age"\nfunction = "scale"\n'),
    case("derived-transform-function-misspelt",
         "cohortpress: error: {config}: key 'derived.g.function': 'log3' is not allowed; use one of 'log', 'log2', 'log10', 'sqrt', 'scale'; did you mean 'log'?",
         extra='[derived.g]\ntype = "transform"\nsource = "age"\nfunction = "log3"\n'),
    case("derived-date-diff-weeks",
         "cohortpress: error: {config}: key 'derived.g.unit_of_time': 'weeks' is not allowed; use one of 'days', 'months', 'years'",
         extra='[derived.g]\ntype = "date_diff"\nstart = "dx"\nend = "last"\nunit_of_time = "weeks"\n'),
    case("derived-kmt2a-kind-misspelt",
         "cohortpress: error: {config}: key 'derived.g.kind': 'fish' is not allowed; use one of 'auto', 'karyotype', 'fusion', 'partner'",
         extra='[derived.g]\ntype = "kmt2a"\nsource = "sex"\nkind = "fish"\n'),
    case("derived-case-unknown-misspelt",
         "cohortpress: error: {config}: key 'derived.g.unknown': 'maybe' is not allowed; use one of 'skip', 'missing'",
         extra='[derived.g]\ntype = "case"\ncases = [{ when = [{ variable = "age", gt = 40 }], value = "old" }]\nunknown = "maybe"\n'),
    case("derived-flag-key-of-cut",
         "cohortpress: error: {config}: key 'derived.g.breaks': unknown key; allowed keys: label, missing_label, no, type, unit, when, yes",
         extra='[derived.g]\ntype = "flag"\nwhen = [{ variable = "age", gt = 40 }]\nbreaks = [1, 2]\n'),
    case("derived-source-unknown",
         "cohortpress: error: {data}: key 'derived.g': column 'agee' not found in the cohort; did you mean 'age'?",
         extra='[derived.g]\ntype = "cut"\nsource = "agee"\nbreaks = [0, 40, 200]\nlabels = ["a", "b"]\n'),
    case("derived-no-type",
         "cohortpress: error: {config}: key 'derived.g': needs a 'type' (cut, recode, flag, case, date_diff, transform, kmt2a)",
         extra='[derived.g]\nsource = "age"\n'),
    # ---------------------------------------------------------------- [endpoints]
    case("endpoint-time-without-unit",
         'cohortpress: error: {config}: key \'endpoints.os.time_unit\': the unit of the time column is never guessed: give time_unit = "days", "months" or "years"',
         toml=[('time_unit = "months"\n', '')]),
    case("endpoint-competing-on-columns",
         "cohortpress: error: {config}: key 'endpoints.os.competing': applies to date endpoints (start/events/last_contact); this endpoint uses time/event columns",
         toml=[('event = "os_status"', 'event = "os_status"\ncompeting = ["trm"]')]),
    case("endpoint-time-unit-on-dates",
         "cohortpress: error: {config}: key 'endpoints.efs.time_unit': applies to endpoints from time/event columns; this endpoint uses dates (start/events/last_contact)",
         toml=[('last_contact = "last"', 'last_contact = "last"\ntime_unit = "days"')]),
    case("endpoint-time-unit-weeks",
         "cohortpress: error: {config}: key 'endpoints.os.time_unit': 'weeks' is not allowed; use one of 'days', 'months', 'years'",
         toml=[('unit = "months"\n', 'unit = "weeks"\n')]),
    case("endpoint-event-column-unknown",
         "cohortpress: error: {data}: key 'endpoints.os.event': column 'os_stat' not found in the cohort; did you mean 'os_status'?",
         toml=[('event = "os_status"', 'event = "os_stat"')]),
    case("endpoint-no-events",
         "cohortpress: error: {config}: key 'endpoints.efs.events': found an empty list; expected at least 1 item",
         toml=[('events = ["relapse", "death"]', 'events = []')]),
    case("endpoint-codes-not-a-list",
         "cohortpress: error: {config}: key 'endpoints.os.event_codes': found the text 'dead'; expected a list in square brackets",
         toml=[('event_codes = ["dead"]', 'event_codes = "dead"')]),
    case("endpoint-unknown-event-code",
         "cohortpress: error: {data}: column 'os_status': row 1 (patient P1): values in no code list of endpoints.os (first here): 'dead' (4) (listed: event_codes ['died'], censor_codes ['alive'])",
         toml=[('event_codes = ["dead"]', 'event_codes = ["died"]')]),
    # ---------------------------------------------------------------- sections
    case("section-analysis-misspelt",
         "cohortpress: error: {config}: key 'section[1].analysis': unknown analysis 'survivl'; did you mean 'survival'?",
         extra=section("survivl", 'endpoints = ["os"]')),
    case("section-without-analysis",
         "cohortpress: error: {config}: key 'section[1].analysis': required key is missing",
         extra=f'{SECTION}title = "x"\n'),
    case("section-id-duplicate",
         "cohortpress: error: {config}: key 'section': duplicate section id 'overview'",
         extra='[[section]]\nid = "overview"\nanalysis = "overview"\n'),
    case("section-title-not-text",
         "cohortpress: error: {config}: key 'section[1].title': found the number 5; expected a text in quotes",
         extra=section("overview", "title = 5")),
    case("section-option-misspelt",
         "cohortpress: error: {config}: key 'section[1].variabels': unknown key; did you mean 'variables'? (and 1 more error)",
         extra=section("demographics", 'variabels = ["sex"]')),
    case("demographics-test-misspelt",
         "cohortpress: error: {config}: key 'section[1].variables[0].test': 'fischer' is not allowed; use one of 'auto', 'fisher', 'chisq', 'chisq_yates', 't_test', 'welch', 'wilcoxon', 'kruskal', 'anova', 'none'; did you mean 'fisher'?",
         extra=section("demographics", 'variables = [{ variable = "sex", test = "fischer" }]')),
    case("demographics-stat-unknown",
         "cohortpress: error: {config}: key 'section[1].variables[0].stat': 'meen' is not a statistic; use one of 'median_range', 'median_iqr', 'mean_sd', 'median', 'mean', 'iqr', 'range', 'n', 'n_missing'; did you mean 'mean'?",
         extra=section("demographics", 'variables = [{ variable = "age", stat = "meen" }]')),
    case("demographics-t-test-three-groups",
         "cohortpress: error: {config}: key 'section[1]': column 'age': the t test compares two groups, there are 3; use kruskal or anova",
         extra='[derived.g3]\ntype = "cut"\nsource = "age"\nbreaks = [0, 40, 60, 200]\nlabels = ["a", "b", "c"]\n' + section("demographics", 'by = "g3"\nvariables = [{ variable = "age", test = "t_test" }]')),
    case("demographics-variable-twice",
         "cohortpress: error: {config}: key 'section[1].variables[1].variable': 'sex' is listed twice (also at section[1].variables[0])",
         extra=section("demographics", 'variables = ["sex", { variable = "sex", test = "chisq" }]')),
    case("demographics-by-continuous",
         "cohortpress: error: {config}: key 'section[1]': column 'age': grouping variable 'age' is continuous; it must be categorical (derive groups with a 'cut' in [derived])",
         extra=section("demographics", 'by = "age"\nvariables = ["sex"]')),
    case("crosstab-row-unknown",
         "cohortpress: error: {data}: key 'section[1].row': column 'sexx' not found in the cohort; did you mean 'sex'?",
         extra=section("crosstab", 'row = "sexx"')),
    case("crosstab-percent-misspelt",
         "cohortpress: error: {config}: key 'section[1].percent': 'col' is not allowed; use one of 'column', 'row', 'total', 'none'; did you mean 'column'?",
         extra=section("crosstab", 'row = "sex"\npercent = "col"')),
    case("survival-endpoint-unknown",
         "cohortpress: error: {config}: key 'section[1].endpoints[0]': unknown endpoint 'oss' (not in [endpoints]); did you mean 'os'?",
         extra=section("survival", 'endpoints = ["oss"]')),
    case("survival-no-endpoints",
         "cohortpress: error: {config}: key 'section[1].endpoints': found an empty list; expected at least 1 item",
         extra=section("survival", 'endpoints = []')),
    case("survival-by-continuous",
         "cohortpress: error: {config}: key 'section[1]': column 'age': grouping variable 'age' is continuous; it must be categorical (derive groups with a 'cut' in [derived])",
         extra=section("survival", 'endpoints = ["os"]\nby = "age"')),
    case("survival-strata-continuous",
         "cohortpress: error: {config}: key 'section[1]': column 'age': strata variable 'age' must be categorical",
         extra=section("survival", 'endpoints = ["os"]\nstrata = "age"')),
    case("survival-landmark-negative",
         "cohortpress: error: {config}: key 'section[1].landmarks[0]': found the number -1; expected a number of at least 0",
         extra=section("survival", 'endpoints = ["os"]\nlandmarks = [-1]')),
    case("survival-conf-level-percent",
         "cohortpress: error: {config}: key 'section[1].conf_level': found the number 95; expected a number less than 1",
         extra=section("survival", 'endpoints = ["os"]\nconf_level = 95')),
    case("survival-endpoint-twice",
         "cohortpress: error: {config}: key 'section[1].endpoints[1]': 'os' is listed twice (also at section[1].endpoints[0])",
         extra=section("survival", 'endpoints = ["os", "os"]')),
    case("survival-ci-bands-on-competing",
         "cohortpress: error: {config}: key 'section[1].ci_bands': applies to Kaplan–Meier estimates; every endpoint of this section has competing events (cumulative incidence with Gray's test)",
         extra=section("survival", 'endpoints = ["efs"]\nci_bands = true')),
    case("survival-trend-on-competing",
         "cohortpress: error: {config}: key 'section[1].test': 'trend' applies to Kaplan–Meier estimates; competing-risks endpoints are compared with Gray's test",
         extra=section("survival", 'endpoints = ["efs"]\ntest = "trend"')),
    case("subset-empties-section",
         "cohortpress: error: {config}: key 'section[1].subset': no patients left after the section's subset",
         extra=section("overview", 'subset = [{ variable = "age", gt = 500 }]')),
    case("subset-level-misspelt",
         "cohortpress: error: {config}: key 'section[1].subset[0]': 'Arm C' is not a level of 'arm' (levels: 'Arm B', 'Arm A'; conditions use the displayed labels)",
         extra=section("overview", 'subset = [{ variable = "arm", eq = "Arm C" }]')),
    case("subset-variable-unknown",
         "cohortpress: error: {data}: key 'section[1].subset[0].variable': column 'armm' not found in the cohort; did you mean 'arm'?",
         extra=section("overview", 'subset = [{ variable = "armm", eq = "Arm A" }]')),
    case("cox-covariate-unknown",
         "cohortpress: error: {data}: key 'section[1].covariates[0]': column 'agee' not found in the cohort; did you mean 'age'?",
         extra=section("cox", 'endpoint = "os"\ncovariates = ["agee"]')),
    case("logistic-without-outcome",
         "cohortpress: error: {config}: key 'section[1].predictors': unknown key; allowed keys: auc, caption, ci, conf_level, covariates, digits, events_per_variable, firth, forest, hosmer_lemeshow, intercept_row, multivariable, outcome, univariable (and 2 more errors)",
         extra=section("logistic", 'predictors = ["age"]')),
    # ---------------------------------------------------------------- top level
    case("disable-plugins-unknown",
         "cohortpress: error: {config}: key 'disable_plugins[0]': no plugin named 'survivall'; did you mean 'cohortpress.plugins.survival'?",
         toml=[('[report]', 'disable_plugins = ["survivall"]\n[report]')]),
    case("plugins-not-a-list",
         "cohortpress: error: {config}: key 'plugins': found the text 'mine.py'; expected a list in square brackets",
         toml=[('[report]', 'plugins = "mine.py"\n[report]')]),
    case("unknown-top-level-key",
         "cohortpress: error: {config}: key 'endpoint': unknown key; did you mean 'endpoints'?",
         toml=[('[report]', 'endpoint = {}\n[report]')]),
    # ---------------------------------------------------------------- wording (issue 23, item 6)
    case("toml-table-twice",
         "cohortpress: error: {config}: not valid TOML at line 49, column 8: the table [report] is declared twice",
         extra='[report]\ntitle = "again"\n'),
    case("toml-key-without-equals",
         "cohortpress: error: {config}: not valid TOML at line 49, column 5: expected '=' after the key (key = value)",
         extra='foo bar\n'),
    case("toml-text-without-quotes",
         "cohortpress: error: {config}: not valid TOML at line 2, column 9: not a value: a text needs quotes (key = \"text\"), a list brackets",
         toml=[('title = "Foundation demo"', 'title = Foundation')]),
    case("toml-unterminated-text",
         "cohortpress: error: {config}: not valid TOML at line 2, column 25: a text is not closed by its quote on its line",
         toml=[('title = "Foundation demo"', 'title = "Foundation demo')]),
    case("cohort-delimiter-two-characters",
         "cohortpress: error: {config}: key 'cohort.delimiter': found the text ';;'; expected one character, such as \",\", \";\" or \"\\t\"",
         toml=[('group = "arm"', 'group = "arm"\ndelimiter = ";;"')]),
    case("cohort-sheet-on-csv",
         "cohortpress: error: {config}: key 'cohort.sheet': applies to excel files; the cohort file is read as csv",
         toml=[('group = "arm"', 'group = "arm"\nsheet = "Patients"')]),
    case("section-id-with-space",
         "cohortpress: error: {config}: key 'section[1].id': found the text 'my section'; expected a name of letters, digits, '_', '.' and '-' that starts with a letter or digit (no spaces)",
         extra='[[section]]\nid = "my section"\nanalysis = "overview"\n'),
    case("demographics-variable-a-number",
         "cohortpress: error: {config}: key 'section[1].variables[0]': found the number 3; expected a name in quotes or a table ({{ variable = \"name\", ... }})",
         extra=section("demographics", 'variables = [3]')),
    case("demographics-digits-text",
         "cohortpress: error: {config}: key 'section[1].variables[0].digits': found the text '2'; expected a whole number or a table of decimals by field, such as {{ mean = 1, p = 0 }}",
         extra=section("demographics", 'variables = [{ variable = "age", digits = "2" }]')),
    case("demographics-overall-yes",
         "cohortpress: error: {config}: key 'section[1].overall': found the text 'yes'; expected true or false",
         extra=section("demographics", 'variables = ["age"]\noverall = "yes"')),
    case("crosstab-seed-fraction",
         "cohortpress: error: {config}: key 'section[1].seed': found the number 1.5; expected a whole number",
         extra=section("crosstab", 'row = "sex"\nseed = 1.5')),
    case("survival-landmark-infinite",
         "cohortpress: error: {config}: key 'section[1].landmarks[0]': found the number inf; expected a finite number",
         extra=section("survival", 'endpoints = ["os"]\nlandmarks = [inf]')),
    case("survival-width-text",
         "cohortpress: error: {config}: key 'section[1].width_mm': found the text 'wide'; expected a number",
         extra=section("survival", 'endpoints = ["os"]\nwidth_mm = "wide"')),
    case("survival-captions-a-list",
         "cohortpress: error: {config}: key 'section[1].figure_captions': found the list ['a']; expected a table ({{ key = value }} or a [heading])",
         extra=section("survival", 'endpoints = ["os"]\nfigure_captions = ["a"]')),
    case("section-not-an-array-of-tables",
         "cohortpress: error: {config}: key 'section': found a table; expected a list in square brackets",
         toml=[('[[section]]', '[section]')]),
    case("disable-plugins-short-name",
         "cohortpress: error: {config}: key 'disable_plugins[0]': no plugin named 'logistc'; did you mean 'cohortpress.plugins.logistic'?",
         toml=[('[report]', 'disable_plugins = ["logistc"]\n[report]')]),
    case("crosstab-column-not-given",
         "cohortpress: error: {config}: key 'section[1].column': crosstab needs 'column' (or cohort.group)",
         toml=[('group = "arm"\n', '')], extra=section("crosstab", 'row = "sex"')),
    # ---------------------------------------------------------------- data
    case("data-unknown-event-code",
         "cohortpress: error: {data}: column 'os_status': row 1 (patient P1): values in no code list of endpoints.os (first here): 'deceased' (1) (listed: event_codes ['dead'], censor_codes ['alive'])",
         csv=[("26.0,dead", "26.0,deceased")]),
    case("data-event-before-diagnosis",
         "cohortpress: error: {data}: column 'relapse': row 7 (patient P7): event date 2012-04-01 is before the start date 2013-01-01",
         csv=[("P7,A,M,71,2013-01-01,2013-04-01", "P7,A,M,71,2013-01-01,2012-04-01")]),
    case("data-competing-before-diagnosis",
         "cohortpress: error: {data}: column 'trm': row 4 (patient P4): event date 2011-02-01 is before the start date 2011-05-01",
         csv=[("2011-05-01,,,2011-08-01", "2011-05-01,,,2011-02-01")]),
    case("data-impossible-date",
         'cohortpress: error: {data}: column \'dx\': row 6 (patient P6): \'2012-02-30\' is not an ISO date (YYYY-MM-DD); set variables.dx.date_format or cohort.date_format (e.g. "%d/%m/%Y"); one format per column',
         csv=[("2012-03-01,,,,2017-03-01", "2012-02-30,,,,2017-03-01")]),
    case("data-time-text",
         "cohortpress: error: {data}: column 'os_months': row 2 (patient P2): 'about 59' is not a number (declare it in variables.os_months.missing if it is a missing-value code)",
         csv=[("59.0,alive", "about 59,alive")]),
    case("data-time-decimal-comma",
         "cohortpress: error: {data}: column 'os_months': row 2 (patient P2): '59,0' is not a number (declare it in variables.os_months.missing if it is a missing-value code)",
         csv=[("59.0,alive", '"59,0",alive')]),
    case("data-age-text",
         "cohortpress: error: {data}: column 'age': row 3 (patient P3): 'fifty' is not a number (declare it in variables.age.missing if it is a missing-value code)",
         csv=[("P3,B,F,50", "P3,B,F,fifty")]),
    case("data-duplicate-id",
         "cohortpress: error: {data}: column 'id': duplicate patient id 'P7' (rows 7 and 8)",
         csv=[("P8,B", "P7,B")]),
]


def _project(cp, root, c: Case):
    toml = cp.DEMO_TOML
    for old, new in c.toml:
        assert old in toml, old
        toml = toml.replace(old, new, 1)
    csv = cp.DEMO_CSV
    for old, new in c.csv:
        assert old in csv, old
        csv = csv.replace(old, new)
    return cp.Project(root, toml=toml + c.extra, csv=csv)


@pytest.mark.parametrize("c", CASES, ids=lambda c: c.id)
def test_catalogue(cp, tmp_path, capsys, c):
    project = _project(cp, tmp_path / "p", c)
    result = cp.run_cli(["validate", project.config, "--quiet"], capsys)
    assert "Traceback" not in result.err
    assert result.code == c.code
    line = c.line.format(config=project.config, data=project.root / "cohort.csv")
    assert result.err_lines[-1] == line


def test_the_catalogue_is_large_and_distinct():
    assert len(CASES) >= 60
    assert len({c.id for c in CASES}) == len(CASES)


@pytest.mark.parametrize("body, warning", [
    ('endpoints = ["os"]\nlandmarks = [1, 10]',
     "cohortpress: warning: section 's': landmark 10.0 years is beyond the longest follow-up "
     "of endpoint 'os' (5.0 years)"),
    ('endpoints = ["os"]\nsubset = [{ variable = "os_status", eq = "alive" }]',
     "cohortpress: warning: section 's': endpoint 'os' has no events among these 4 patients"),
])
def test_validate_warns_of_what_changes_no_number_but_looks_wrong(cp, tmp_path, capsys, body,
                                                                  warning):
    project = cp.Project(tmp_path / "p", toml=cp.DEMO_TOML + section("survival", body))
    result = cp.run_cli(["validate", project.config], capsys)
    assert result.code == 0, result.err
    assert warning in result.err_lines
