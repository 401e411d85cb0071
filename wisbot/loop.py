"""A background task that keeps itself referenced and survives a failing pass."""

from __future__ import annotations

import asyncio
import logging
from abc import ABC, abstractmethod

log = logging.getLogger(__name__)


class WakeableLoop(ABC):
    """Runs :meth:`run_once` until stopped: again at once when a pass did work, else after
    ``poll_interval`` seconds or as soon as :meth:`wake` is called. A pass that raises is
    logged and the loop goes on, so one bad row never stops delivery."""

    name = "wisbot-loop"
    wake_delay = 0.0
    """Pause after a wake-up, to gather a burst of changes into one pass."""

    def __init__(self, poll_interval: float) -> None:
        self.poll_interval = poll_interval
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._stopping = False

    @abstractmethod
    async def run_once(self) -> bool:
        """One pass; True when it did something and another may be due at once."""

    def start(self) -> None:
        if self._task is None:
            self._stopping = False
            self._task = asyncio.create_task(self._loop(), name=self.name)

    async def stop(self) -> None:
        self._stopping = True
        self._wake.set()
        if self._task is not None:
            await self._task
            self._task = None

    def wake(self) -> None:
        self._wake.set()

    async def _loop(self) -> None:
        while not self._stopping:
            # Cleared before the pass, not after: a wake-up during the pass (a row written
            # just after the pass looked) starts the next pass at once instead of being lost.
            self._wake.clear()
            try:
                busy = await self.run_once()
            except Exception:
                log.exception("%s: pass failed; retrying", self.name)
                busy = False
            if busy:
                continue
            try:
                await asyncio.wait_for(self._wake.wait(), self.poll_interval)
                if self.wake_delay:
                    await asyncio.sleep(self.wake_delay)
            except TimeoutError:
                pass
