"""Giving the memory a finished step freed back to the system.

glibc's allocator keeps freed blocks of up to 32 MB in its heap for later allocations, and
NumPy's arrays of a large step (a survival table of millions of distinct times) are such
blocks: after the step the process keeps them as its own, and the next step's larger
arrays, which glibc maps afresh, come on top. ``malloc_trim`` returns the free pages.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools


def release_freed_memory() -> None:
    """Return the heap's free pages to the system (glibc's ``malloc_trim``; nothing where
    the C library has no such function)."""
    trim = _malloc_trim()
    if trim is not None:
        trim(0)


@functools.cache
def _malloc_trim():
    try:
        return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").malloc_trim
    except (OSError, AttributeError):  # not glibc (macOS, Windows, musl without it)
        return None
