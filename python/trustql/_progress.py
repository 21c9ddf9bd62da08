"""Where the progress of long statements goes: the ``trustql`` logger, or a tqdm bar.

trustql reports two things while a statement runs: progress lines (a model's training epochs,
warnings), and the status of long work inside a function call (rows done, rate, time left),
at most once per ``status_interval`` seconds. ``progress`` chooses their destination:

- ``"auto"`` (the default): lines to the logger; the status to a tqdm bar when tqdm is
  installed (``tqdm.auto``, so a notebook shows a widget), else to the logger;
- ``"tqdm"``: as ``"auto"`` but tqdm is required;
- ``"log"``: both to the logger (``logging.getLogger("trustql")``, level INFO; call
  ``logging.basicConfig(level=logging.INFO)`` to see them);
- ``None`` or ``False``: nothing;
- a callable: called with each line of text (the status as the CLI's status line).
"""

from __future__ import annotations

import logging
from typing import Any, Callable, Optional, Tuple

logger = logging.getLogger("trustql")

LineFn = Callable[[str], None]
StatusFn = Callable[..., None]


class _LogStatus:
    """The status as log lines (the CLI's status line)."""

    def __init__(self, emit: LineFn) -> None:
        self._emit = emit

    def __call__(self, task, unit, done, total, elapsed, line) -> None:
        if task is not None:
            self._emit(line)


class _TqdmStatus:
    """The status as a tqdm bar: one bar per task, closed when the work ends."""

    def __init__(self, tqdm: Any) -> None:
        self._tqdm = tqdm
        self._bar = None
        self._task = None

    def __call__(self, task, unit, done, total, elapsed, line) -> None:
        if task is None or task != self._task:
            self.close()
        if task is None:
            return
        if self._bar is None:
            self._task = task
            self._bar = self._tqdm(desc=task, total=total, unit=f" {unit}", leave=False)
        self._bar.update(done - self._bar.n)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
        self._bar = None
        self._task = None


def _tqdm() -> Optional[Any]:
    try:
        from tqdm.auto import tqdm
    except ImportError:
        return None
    return tqdm


def callbacks(progress: Any) -> Tuple[Optional[LineFn], Optional[StatusFn]]:
    """The line and status callbacks for a ``progress`` choice (see the module docs)."""
    if progress is None or progress is False:
        return None, None
    if callable(progress):
        return progress, _LogStatus(progress)
    if progress == "log":
        return logger.info, _LogStatus(logger.info)
    if progress in ("auto", "tqdm"):
        tqdm = _tqdm()
        if tqdm is None:
            if progress == "tqdm":
                raise ValueError("progress='tqdm' needs the tqdm package: pip install tqdm")
            return logger.info, _LogStatus(logger.info)
        return logger.info, _TqdmStatus(tqdm)
    raise ValueError(
        f"progress must be 'auto', 'tqdm', 'log', None or a callable, not {progress!r}"
    )

