"""Progress lines on stderr, shared by every stage of a build."""

from __future__ import annotations

import sys
import time


class Progress:
    """Progress lines on stderr, one per stage and per section (silent when ``quiet``)."""

    def __init__(self, quiet: bool = False, stream=None):
        self.quiet = quiet
        self.stream = stream or sys.stderr
        self.started = time.perf_counter()

    def say(self, text: str) -> None:
        if not self.quiet:
            print(f"cohortpress: {text}", file=self.stream, flush=True)

    def timed(self, text: str, seconds: float) -> None:
        self.say(f"{text} ({seconds:.2f} s)")
