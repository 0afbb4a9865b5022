"""Progress of long work (a consolidation's stages, a bench): counted steps, so nothing a user waits
for is silent. A terminal shows a bar (cli/base.py); everywhere else (CI logs, `make demo > log`, a
queued job's log) `ProgressLines` writes a plain line at least every `every` seconds."""

import time
from collections.abc import Callable

Progress = Callable[[str, int, int], None]  # (what is being done, steps done, steps in all)


def _duration(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 90 else f"{seconds / 60:.1f} min"


class ProgressLines:
    """A Progress that writes through `log`: a stage's first step, then a line at most every `every`
    seconds with the rate and the time left, and its last step with the time it took."""

    def __init__(
        self, log: Callable[[str], None], every: float = 15.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.log, self.every, self.clock = log, every, clock
        self._started: dict[str, float] = {}
        self._last = float("-inf")

    def __call__(self, what: str, done: int, total: int) -> None:
        now = self.clock()
        started = self._started.setdefault(what, now)
        elapsed = now - started
        if done >= total:
            self._started.pop(what)
            self.log(f"{what}: {done}/{total} in {_duration(elapsed)}")
        elif done == 0 or now - self._last >= self.every:
            left = f", about {_duration(elapsed / done * (total - done))} left" if done else ""
            self.log(f"{what}: {done}/{total}{left}")
        else:
            return
        self._last = now
