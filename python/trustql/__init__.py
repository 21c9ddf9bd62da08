"""trustql from Python: machine-learning trustworthiness experiments written as SQL.

Two ways in:

- ``trustql.Session(models=...)`` is a whole trustql session, as the CLI opens it: the model
  store, ``SET trustql.*``, ``CREATE MODEL`` and the rest of the model DDL, ``COPY ... (FORMAT
  plot)`` and every function. ``Session.sql`` returns a :class:`Result`, which becomes a
  ``pyarrow.Table`` (sharing trustql's Arrow buffers, not copying them), a pandas frame (numpy
  columns, no Python object per row) or a list of dicts, and which any reader of the Arrow
  PyCapsule interface takes directly (it implements ``__arrow_c_stream__``).
- ``trustql.register(ctx, models=...)`` puts trustql's functions on a datafusion-python
  ``SessionContext`` (the ``datafusion`` package, version 55) through DataFusion's FFI;
  ``trustql.Models(path)`` creates, lists and drops models in that store from Python.

Errors are :class:`Error` (:class:`PlanningError`, :class:`ExecutionError`, :class:`ModelError`)
with the CLI's messages. Ctrl-C (KeyboardInterrupt) cancels the running statement; the session
goes on. Progress of long work goes to the ``trustql`` logger, or to a tqdm bar when tqdm is
installed.
"""

# trustql's models run on libtorch, which the torch package provides: importing torch loads its
# libraries, so the extension module links to them instead of shipping a second copy.
try:
    import torch as _torch  # noqa: F401
except ImportError as e:  # pragma: no cover - exercised only without torch
    raise ImportError(
        "trustql needs the torch package (torch==2.11.0), whose libtorch runs trustql's "
        f"models: pip install torch==2.11.0 ({e})"
    ) from e

from . import _trustql
from ._trustql import (
    DATAFUSION_VERSION,
    Error,
    ExecutionError,
    ModelError,
    PlanningError,
)
from ._datafusion import register
from ._models import Models
from ._session import DEFAULT_MODELS, Result, Session

__version__ = _trustql.__version__

__all__ = [
    "DATAFUSION_VERSION",
    "DEFAULT_MODELS",
    "Error",
    "ExecutionError",
    "ModelError",
    "Models",
    "PlanningError",
    "Result",
    "Session",
    "register",
]
