"""Tests for cohortpress.common.suggest: the one wording of "did you mean"."""

from __future__ import annotations

from cohortpress.common.suggest import did_you_mean


def test_the_closest_name_is_suggested():
    assert did_you_mean("agee", ["sex", "age", "stage"]) == "; did you mean 'age'?"


def test_nothing_is_suggested_when_no_name_is_close():
    assert did_you_mean("xyz", ["sex", "age"]) == ""
    assert did_you_mean("age", []) == ""


def test_choices_are_compared_as_text():
    assert did_you_mean("1999", [1998, 5]) == "; did you mean '1998'?"
