"""cohortpress.common.timelimit: calls with a time limit, in a forked worker or a thread."""

from __future__ import annotations

import os
import pickle
import time

import pytest

from cohortpress.common import errors
from cohortpress.common.timelimit import (ChildDied, TimeLimitedWorker, TimeLimitExceeded,
                                          call_with_time_limit)

MODES = [pytest.param(True, id="fork", marks=pytest.mark.skipif(not hasattr(os, "fork"),
                                                                 reason="no fork")),
         pytest.param(False, id="thread")]


@pytest.mark.parametrize("fork", MODES)
def test_a_call_returns_its_value_or_raises_its_exception(fork):
    assert call_with_time_limit(lambda: {"png": b"\x89PNG", "n": 3}, 30, fork=fork) == \
        {"png": b"\x89PNG", "n": 3}
    with pytest.raises(errors.DataError) as caught:
        call_with_time_limit(lambda: (_ for _ in ()).throw(
            errors.DataError("bad", file="c.csv", column="age", row=3)), 30, fork=fork)
    assert caught.value.one_line() == "c.csv: column 'age': row 3: bad"


@pytest.mark.parametrize("fork", MODES)
def test_a_call_that_runs_over_raises_time_limit_exceeded(fork):
    started = time.monotonic()
    with pytest.raises(TimeLimitExceeded):
        call_with_time_limit(lambda: time.sleep(5), 0.2, fork=fork)
    assert time.monotonic() - started < 4


@pytest.mark.skipif(not hasattr(os, "fork"), reason="no fork")
def test_the_worker_serves_calls_in_one_child_and_replaces_a_killed_one():
    state = {"n": 0}

    def work(request):
        if request == "hang":
            time.sleep(60)
        state["n"] += 1
        return os.getpid(), state["n"]

    with TimeLimitedWorker(work) as worker:
        first, second = worker.call(None, 30), worker.call(None, 30)
        assert first[0] == second[0] != os.getpid() and (first[1], second[1]) == (1, 2)
        with pytest.raises(TimeLimitExceeded):
            worker.call("hang", 0.3)
        third = worker.call(None, 30)
    assert third[0] != first[0] and third[1] == 1  # a new child, forked from this process
    assert state["n"] == 0  # what the children changed stayed in them


@pytest.mark.skipif(not hasattr(os, "fork"), reason="no fork")
def test_a_child_that_dies_without_an_answer_is_reported():
    with pytest.raises(ChildDied, match="exited with status 9 without an answer"):
        call_with_time_limit(lambda: os._exit(9), 30)


class NeedsTwoArguments(Exception):
    def __init__(self, a, b):
        super().__init__(f"{a} and {b}")


@pytest.mark.skipif(not hasattr(os, "fork"), reason="no fork")
def test_an_exception_that_does_not_pickle_arrives_with_its_name_and_message():
    def fail():
        raise NeedsTwoArguments("x", "y")

    with pytest.raises(RuntimeError) as caught:
        call_with_time_limit(fail, 30)
    assert type(caught.value).__name__ == "NeedsTwoArguments"
    assert str(caught.value) == "x and y"


@pytest.mark.parametrize("kind", [errors.UserError, errors.ConfigError, errors.DataError])
def test_user_errors_survive_pickling_with_their_details(kind):
    from cohortpress.app.build import StrictFailure

    for cls in (kind, StrictFailure):
        error = cls("bad value", file="report.toml", key="section[0].x", column="age", row=4)
        back = pickle.loads(pickle.dumps(error))
        assert type(back) is cls and back.one_line() == error.one_line()
        assert (back.message, back.file, back.key, back.column, back.row) == \
            ("bad value", "report.toml", "section[0].x", "age", 4)
