"""``trustql.register``: trustql's functions on a datafusion-python ``SessionContext``.

The functions cross through DataFusion's FFI, whose structs are only compatible within one
DataFusion major version; datafusion-python does not check, and a mismatch would crash rather
than fail. So the installed ``datafusion`` package's version is read when trustql is imported
(without importing datafusion) and ``register`` refuses a major other than the one trustql was
built with.
"""

from __future__ import annotations

import os
from importlib import metadata
from typing import Any, List, Optional

from . import _trustql
from ._trustql import Error
from ._session import DEFAULT_MODELS, Session

#: The DataFusion major version trustql was built with.
DATAFUSION_MAJOR = int(_trustql.DATAFUSION_VERSION.split(".")[0])


def installed_datafusion() -> Optional[str]:
    """The installed ``datafusion`` package's version, or ``None``."""
    try:
        return metadata.version("datafusion")
    except metadata.PackageNotFoundError:
        return None


def version_problem(version: Optional[str]) -> Optional[str]:
    """Why ``register`` cannot work with the ``datafusion`` package at ``version``; ``None``
    when it can."""
    wanted = f"'datafusion>={DATAFUSION_MAJOR},<{DATAFUSION_MAJOR + 1}'"
    if version is None:
        return f"the datafusion package is not installed: pip install {wanted}"
    try:
        major = int(version.split(".")[0])
    except ValueError:
        return f"cannot read the datafusion package's version {version!r}"
    if major != DATAFUSION_MAJOR:
        return (
            f"the installed datafusion package is {version}, but trustql was built with "
            f"DataFusion {_trustql.DATAFUSION_VERSION} and DataFusion's FFI only works within "
            f"one major version: pip install {wanted}"
        )
    return None


#: Checked once, when trustql is imported.
_PROBLEM = version_problem(installed_datafusion())


def register(
    ctx: Any,
    models: "str | os.PathLike[str]" = DEFAULT_MODELS,
    *,
    progress: Any = "auto",
) -> List[str]:
    """Registers every trustql function (scalar, aggregate, window and table functions,
    ``models()`` and ``model_info(name)`` included) on the datafusion-python context ``ctx``;
    models are looked up in the store ``models`` (shared with ``trustql.Models(models)``).
    Returns the names registered. Inside that context the ``trustql.*`` settings take their
    defaults."""
    if _PROBLEM is not None:
        raise Error(_PROBLEM)
    import datafusion
    from datafusion import udaf, udf, udwf

    if not isinstance(ctx, datafusion.SessionContext):
        raise TypeError(f"ctx must be a datafusion.SessionContext, not {type(ctx).__name__}")
    session = Session._shared(models, progress, 1.0)._inner
    names = []
    for f in _trustql.functions(session):
        if hasattr(f, "__datafusion_scalar_udf__"):
            ctx.register_udf(udf(f))
        elif hasattr(f, "__datafusion_aggregate_udf__"):
            ctx.register_udaf(udaf(f))
        elif hasattr(f, "__datafusion_window_udf__"):
            ctx.register_udwf(udwf(f))
        else:
            ctx.register_udtf(datafusion.TableFunction(f.name, f, ctx))
        names.append(f.name)
    return names
