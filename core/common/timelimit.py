"""Calling functions with a time limit, in a forked child that is killed when it runs over.

An analysis or a user template can loop for ever; a thread cannot be stopped from outside,
a process can. On POSIX a :class:`TimeLimitedWorker` forks a child with :func:`os.fork` at
its first call: the child inherits the whole parent (the cohort, the loaded plugins, a
test's monkeypatches) without pickling any of it. Each call sends a small request (such as
an index) through a pipe; the child answers with the return value, or the exception raised,
pickled. The child serves the calls one after another, so what one call imports or caches
the next finds (a child per call would import Matplotlib again for every figure); when a
call runs over its limit the child gets ``SIGKILL`` and the next call forks a new one.

What the calls change in the process (a plugin's module state, a cache it fills) stays in
the child and is lost when the worker closes. Where there is no ``fork`` (Windows) each
call runs in a daemon thread instead: the caller still gets its answer on time, but a call
that runs over keeps running in the background until the process ends.

The standard library's ``multiprocessing`` is not used: its 'fork' context adds a process
object, a manager of sentinels and an ``atexit`` join that this one-shot call does not need,
and it would hide the child's pid, which is all the time limit needs.
"""

from __future__ import annotations

import os
import pickle
import selectors
import signal
import struct
import sys
import threading
import time
from typing import Any, Callable, TypeVar

T = TypeVar("T")

#: True where the call runs in a forked child (POSIX); False where it runs in a thread.
CAN_FORK = hasattr(os, "fork")


class TimeLimitExceeded(Exception):
    """The call did not finish within its time limit (its child process was killed)."""


class ChildDied(Exception):
    """The child process ended without sending an answer (killed, or ``os._exit``)."""


class TimeLimitedWorker:
    """Calls ``function(request)`` in a forked child, each call within its own time limit.

    Parameters
    ----------
    function : callable
        Called in the child with each request. Its return value must pickle (when ``fork``).
    fork : bool
        Run in a forked child (the default where the platform has ``fork``), or in threads.

    Use it as a context manager, or call :meth:`close`: the child is ended then.
    """

    def __init__(self, function: Callable[[Any], Any], *, fork: bool = CAN_FORK):
        self._function = function
        self._fork = fork
        self._child: _Child | None = None

    def call(self, request: Any, seconds: float) -> Any:
        """Return ``function(request)``, or raise what it raised, within ``seconds``.

        Raises
        ------
        TimeLimitExceeded
            The call ran over (the child has been killed; a thread is left running).
        ChildDied
            The child ended without an answer (a signal, ``os._exit``).
        BaseException
            Whatever ``function`` raised. An exception that does not survive pickling
            arrives as a ``RuntimeError`` subclass with the same class name and message.
        """
        if not self._fork:
            return _call_in_thread(lambda: self._function(request), seconds)
        if self._child is None:
            self._child = _Child.start(self._function)
        child = self._child
        try:
            payload = child.ask(request, time.monotonic() + seconds)
        except BaseException:
            self._child = None
            child.kill()
            raise
        if payload is None:
            self._child = None
            child.kill()
            raise TimeLimitExceeded()
        if not payload:
            self._child = None
            raise ChildDied(child.reap())
        return _unpacked(payload)

    def close(self) -> None:
        """End the child (it leaves when its request pipe closes)."""
        if self._child is not None:
            self._child.close()
            self._child = None

    def __enter__(self) -> "TimeLimitedWorker":
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()


def call_with_time_limit(function: Callable[[], T], seconds: float, *,
                         fork: bool = CAN_FORK) -> T:
    """Return ``function()`` if it finishes within ``seconds``, in a child of its own.

    See :meth:`TimeLimitedWorker.call` for what it raises.
    """
    with TimeLimitedWorker(lambda _: function(), fork=fork) as worker:
        return worker.call(None, seconds)


# --------------------------------------------------------------------------- fork

_HEADER = struct.Struct("!Q")  # the length of the pickled message that follows


class _Child:
    """A forked child serving requests from one pipe and answering through another."""

    def __init__(self, pid: int, requests: int, answers: int):
        self.pid, self.requests, self.answers = pid, requests, answers

    @classmethod
    def start(cls, function: Callable[[Any], Any]) -> "_Child":
        # Written-but-unflushed output would be flushed twice, once by each process.
        for stream in (sys.stdout, sys.stderr):
            if stream is not None:
                stream.flush()
        request_read, request_write = os.pipe()
        answer_read, answer_write = os.pipe()
        pid = os.fork()
        if pid == 0:  # the child: never returns
            os.close(request_write)
            os.close(answer_read)
            _serve(function, request_read, answer_write)
        os.close(request_read)
        os.close(answer_write)
        return cls(pid, request_write, answer_read)

    def ask(self, request: Any, deadline: float) -> bytes | None:
        """The pickled answer; None when the deadline passed, b"" when the child died."""
        try:
            _write_message(self.requests, pickle.dumps(request, pickle.HIGHEST_PROTOCOL))
        except BrokenPipeError:
            return b""
        return _read_message(self.answers, deadline)

    def kill(self) -> None:
        try:
            os.kill(self.pid, signal.SIGKILL)
        except ProcessLookupError:  # pragma: no cover - it ended on its own meanwhile
            pass
        self.reap()

    def reap(self) -> str:
        """Close the pipes, wait for the child, and say how it ended."""
        for fd in (self.requests, self.answers):
            try:
                os.close(fd)
            except OSError:
                pass
        _, status = os.waitpid(self.pid, 0)
        return _describe_status(status)

    def close(self) -> None:
        self.reap()  # the child reads the end of its request pipe and leaves


def _serve(function: Callable[[Any], Any], requests: int, answers: int) -> None:
    """The forked child's loop: answer each request until the pipe closes, then leave."""
    try:
        while True:
            message = _read_message(requests, None)
            if not message:
                break
            try:
                payload = pickle.dumps(("returned", function(pickle.loads(message))),
                                       pickle.HIGHEST_PROTOCOL)
            except BaseException as exc:
                payload = _pickled_error(exc)
            for stream in (sys.stdout, sys.stderr):
                if stream is not None:
                    stream.flush()
            _write_message(answers, payload)
    finally:
        # No atexit handlers, no finally blocks of the parent's stack: they belong to it.
        os._exit(0)


def _write_message(fd: int, payload: bytes) -> None:
    data = memoryview(_HEADER.pack(len(payload)) + payload)
    while data:
        data = data[os.write(fd, data):]


def _read_message(fd: int, deadline: float | None) -> bytes | None:
    """One message from ``fd``: None if the deadline passes first, b"" at the pipe's end."""
    header = _read_exactly(fd, _HEADER.size, deadline)
    if not header:
        return header
    return _read_exactly(fd, _HEADER.unpack(header)[0], deadline)


def _read_exactly(fd: int, size: int, deadline: float | None) -> bytes | None:
    chunks, left = [], size
    with selectors.DefaultSelector() as selector:
        selector.register(fd, selectors.EVENT_READ)
        while left:
            wait = None if deadline is None else deadline - time.monotonic()
            if wait is not None and (wait <= 0 or not selector.select(wait)):
                return None
            chunk = os.read(fd, min(left, 1 << 20))
            if not chunk:
                return b""
            chunks.append(chunk)
            left -= len(chunk)
    return b"".join(chunks)


def _pickled_error(exc: BaseException) -> bytes:
    """The exception, pickled if it survives the trip; else its class name and message."""
    try:
        payload = pickle.dumps(("raised", exc), pickle.HIGHEST_PROTOCOL)
        pickle.loads(payload)  # an exception whose __init__ needs more than its args fails here
        return payload
    except Exception:
        return pickle.dumps(("raised-unpicklable", type(exc).__name__, str(exc)))


def _unpacked(payload: bytes) -> Any:
    try:
        answer = pickle.loads(payload)
    except Exception as exc:
        raise RuntimeError(f"the answer of the child process cannot be read back: "
                           f"{type(exc).__name__}: {exc}") from None
    if answer[0] == "returned":
        return answer[1]
    if answer[0] == "raised":
        raise answer[1]
    raise type(answer[1], (RuntimeError,), {})(answer[2])


def _describe_status(status: int) -> str:
    if os.WIFSIGNALED(status):
        number = os.WTERMSIG(status)
        try:
            name = signal.Signals(number).name
        except ValueError:  # pragma: no cover
            name = str(number)
        return f"the child process was ended by signal {name}"
    return f"the child process exited with status {os.waitstatus_to_exitcode(status)} " \
           f"without an answer"


# --------------------------------------------------------------------------- thread


def _call_in_thread(function: Callable[[], T], seconds: float) -> T:
    """The fallback without ``fork``: a daemon thread that is abandoned when it runs over."""
    outcome: dict[str, Any] = {}

    def work() -> None:
        try:
            outcome["returned"] = function()
        except BaseException as exc:  # re-raised in the caller's thread
            outcome["raised"] = exc

    thread = threading.Thread(target=work, name="time-limited call", daemon=True)
    thread.start()
    thread.join(seconds)
    if thread.is_alive():
        raise TimeLimitExceeded()
    if "raised" in outcome:
        raise outcome["raised"]
    return outcome["returned"]
