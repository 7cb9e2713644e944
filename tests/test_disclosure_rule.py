"""The disclosure rule on counts, the [disclosure] config table and secondary suppression,
checked by brute force: every table consistent with what is released is enumerated, and no
hidden count may have only one possible value."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from cohortpress.common.disclosure import (PRESETS, DisclosureRule, release_count,
                                           release_share)
from cohortpress.common.errors import ConfigError
from cohortpress.config.schema import load_config
from cohortpress.stats.suppression import (SECONDARY, grid_sums, known_interval, protect)


def test_small_counts_are_hidden_zero_shown_others_rounded():
    rule = DisclosureRule(min_count=10, round_to=5)
    assert [release_count(n, rule).text for n in (0, 1, 9, 10, 12, 13, 17, 18, 101)] == \
        ["0", "<10", "<10", "10", "10", "15", "15", "20", "100"]
    assert release_count(4, rule).action == "suppressed"
    assert "4" not in release_count(4, rule).reason


def test_a_rounded_count_never_falls_below_the_threshold():
    rule = DisclosureRule(min_count=8, round_to=5)  # the OpenSAFELY rule
    assert [release_count(n, rule).value for n in (7, 8, 9, 12, 13)] == [None, 10, 10, 10, 15]
    assert release_count(10, DisclosureRule(10, 20)).value == 20


def test_without_rounding_a_count_at_the_threshold_is_shown_as_it_is():
    rule = DisclosureRule(min_count=10)
    assert release_count(11, rule).text == "11"
    assert release_count(11, rule).action == "shown"


def test_a_share_of_a_hidden_count_is_hidden():
    rule = DisclosureRule(min_count=10, round_to=5)
    assert release_share(release_count(4, rule), release_count(40, rule)) is None
    assert release_share(release_count(12, rule), release_count(41, rule)) == 10 / 40


def write_config(tmp_path, disclosure: str):
    path = tmp_path / "report.toml"
    path.write_text('[report]\ntitle = "T"\n[cohort]\npath = "c.csv"\n' + disclosure)
    return path


def test_config_is_off_by_default_and_takes_a_rule_or_a_preset(tmp_path):
    assert load_config(write_config(tmp_path, "")).disclosure is None
    rule = load_config(write_config(tmp_path, "[disclosure]\nmin_count = 10\nround_to = 5\n")
                       ).disclosure.rule()
    assert (rule.min_count, rule.round_to, rule.preset) == (10, 5, None)
    rule = load_config(write_config(tmp_path, '[disclosure]\npreset = "opensafely"\n')
                       ).disclosure.rule()
    assert (rule.min_count, rule.round_to) == (8, 5)
    assert "OpenSAFELY" in rule.sentence()
    assert set(PRESETS) == {"opensafely", "small-numbers-10"}


@pytest.mark.parametrize("text, words", [
    ('[disclosure]\npreset = "opensafely"\nmin_count = 10\n', "not both"),
    ("[disclosure]\nround_to = 5\n", "give min_count"),
    ("[disclosure]\nmin_count = 1\n", "min_count"),
    ("[disclosure]\nmin_cont = 10\n", "min_count"),
])
def test_a_bad_disclosure_table_is_one_clear_error(tmp_path, text, words):
    with pytest.raises(ConfigError) as caught:
        load_config(write_config(tmp_path, text))
    assert "disclosure" in str(caught.value) and words in str(caught.value)


# --------------------------------------------------------------------------- brute force


def full_table(cells: np.ndarray) -> np.ndarray:
    r, c = cells.shape
    full = np.zeros((r + 1, c + 1), dtype=int)
    full[:r, :c] = cells
    full[:r, c] = cells.sum(axis=1)
    full[r, :c] = cells.sum(axis=0)
    full[r, c] = cells.sum()
    return full


def consistent_tables(released, rule, shape):
    """Every table (cells and margins) a reader cannot tell from the released one."""
    r, c = shape
    grand = known_interval(released[-1], rule, 10_000)
    ceiling = grand[1]
    intervals = [known_interval(x, rule, ceiling) for x in released]
    width = c + 1

    def options(i, j):
        low, high = intervals[i * width + j]
        return range(low, min(high, ceiling) + 1)

    def rows_for(i):
        low, high = intervals[i * width + c]
        for row in itertools.product(*(options(i, j) for j in range(c))):
            if low <= sum(row) <= high:
                yield row

    for rows in itertools.product(*(list(rows_for(i)) for i in range(r))):
        cells = np.array(rows).reshape(r, c)
        full = full_table(cells)
        if all(intervals[k][0] <= v <= intervals[k][1]
               for k, v in enumerate(full.ravel())):
            yield full.ravel()


@pytest.mark.parametrize("round_to", [1, 3])
@pytest.mark.parametrize("seed", range(20))
def test_no_hidden_count_can_be_derived_from_the_released_table(seed, round_to):
    rng = np.random.default_rng(seed)
    shape = tuple(rng.integers(2, 4, size=2))
    if round_to == 3 and np.prod(shape) > 6:
        shape = (2, 3)
    cells = rng.choice([0, 1, 2, 3, 5, 6, 8, 11], size=shape,
                       p=[.1, .15, .15, .1, .15, .15, .1, .1])
    rule = DisclosureRule(min_count=4, round_to=round_to)
    full = full_table(cells)
    sums, size = grid_sums(*shape)
    released = protect(list(full.ravel()), sums, rule)
    hidden = [k for k, x in enumerate(released) if x.suppressed]
    seen: dict[int, set[int]] = {k: set() for k in hidden}
    for table in consistent_tables(released, rule, shape):
        for k in hidden:
            seen[k].add(int(table[k]))
    assert any(seen.values()) or not hidden
    for k in hidden:
        assert full.ravel()[k] in seen[k]  # the truth is among the candidates
        assert len(seen[k]) >= 2, (cells, [x.text for x in released], k)
    for k, x in enumerate(released):
        if 0 < full.ravel()[k] < rule.min_count:
            assert x.suppressed
        if x.suppressed and not 0 < full.ravel()[k] < rule.min_count:
            assert x.reason == SECONDARY


def test_a_single_small_cell_with_shown_margins_takes_others_with_it():
    rule = DisclosureRule(min_count=10)
    full = full_table(np.array([[3, 20, 30], [15, 12, 40]]))
    sums, _ = grid_sums(2, 3)
    texts = [x.text for x in protect(list(full.ravel()), sums, rule)]
    assert texts == ["<10", "<10", "30", "53", "<10", "<10", "40", "67", "18", "32", "70", "120"]
