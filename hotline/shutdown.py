"""Graceful stop of a long-running process (the AudioSocket listener, workers).

SIGINT and SIGTERM set `Stopper.requested`; the process then stops taking new work, finishes
or hands over what is in flight, and must be gone within `seconds` of the signal
(`HOTLINE_SHUTDOWN_SECONDS`). `exit_in_time` is the last step: worker threads (thread pools are
joined when the interpreter exits) get what is left of that time, and a thread still busy
after it (a model load, a synthesis) no longer keeps the process alive.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys
import threading
import time

log = logging.getLogger(__name__)


class Stopper:
    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.requested = asyncio.Event()
        self.signalled_at: float | None = None

    def install(self) -> None:
        """Handle SIGINT/SIGTERM in the running loop (instead of KeyboardInterrupt anywhere)."""
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, self.request, sig)

    def request(self, sig: int = signal.SIGTERM) -> None:
        if self.signalled_at is None:
            self.signalled_at = time.monotonic()
            log.info("%s: stopping within %.0f s", signal.Signals(sig).name, self.seconds)
        else:  # a second signal: do not wait for in-flight work any longer
            log.warning("%s again: stopping now", signal.Signals(sig).name)
            self.seconds = 0.0
        self.requested.set()

    def remaining(self) -> float:
        """Seconds left before the process must be gone (all of them before a signal)."""
        if self.signalled_at is None:
            return self.seconds
        return max(0.0, self.seconds - (time.monotonic() - self.signalled_at))

    def exit_in_time(self, code: int = 0) -> None:
        """Give busy non-daemon threads the time left, then leave even if one still runs."""
        me = threading.current_thread()
        busy = [t for t in threading.enumerate() if t is not me and not t.daemon]
        deadline = time.monotonic() + self.remaining()
        for thread in busy:
            thread.join(max(0.0, deadline - time.monotonic()))
        late = [t.name for t in busy if t.is_alive()]
        if not late:
            return
        log.warning("threads still busy at the shutdown deadline, leaving anyway: %s", late)
        logging.shutdown()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
