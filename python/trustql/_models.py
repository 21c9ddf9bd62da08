"""``trustql.Models``: the model DDL as Python, for people who use trustql's functions on their
own datafusion-python context (whose SQL parser does not know ``CREATE MODEL``).

A ``Models`` object works on the shared session of its model store, the one whose registry
the functions registered by ``trustql.register(ctx, models=...)`` look models up in: a model
created or replaced here is the one those functions use next. Each method runs the statement
the CLI would run (``CREATE MODEL``, ``SHOW MODELS``, ``DESCRIBE MODEL``, ``DROP MODEL``),
so the rules and error messages are the CLI's.
"""

from __future__ import annotations

import itertools
import math
import os
import re
from typing import Any, Mapping

from ._session import DEFAULT_MODELS, Result, Session, quote_identifier

_OPTION = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_training_tables = itertools.count()


def option_value(key: str, value: Any) -> str:
    """An option value as the DDL writes it."""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, (int, float)):
        if isinstance(value, float) and not math.isfinite(value):
            raise ValueError(f"option {key!r} must be a finite number, not {value!r}")
        return repr(value)
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    raise TypeError(
        f"option {key!r} must be a string, a number or a bool, not {type(value).__name__}"
    )


def options_clause(options: Mapping[str, Any]) -> str:
    """``OPTIONS (key = value, ...)`` for ``options``."""
    parts = []
    for key, value in options.items():
        if not isinstance(key, str) or not _OPTION.fullmatch(key):
            raise ValueError(f"option names are identifiers (letters, digits, _), not {key!r}")
        parts.append(f"{key} = {option_value(key, value)}")
    return f"OPTIONS ({', '.join(parts)})"


class Models:
    """The models of the store at ``path`` (see the module docs)."""

    def __init__(
        self,
        path: "str | os.PathLike[str]" = DEFAULT_MODELS,
        *,
        progress: Any = "auto",
        status_interval: float = 1.0,
    ) -> None:
        self._session = Session._shared(path, progress, status_interval)

    @property
    def path(self) -> str:
        return self._session.models

    def create(
        self,
        name: str,
        options: Mapping[str, Any],
        data: Any,
        *,
        replace: bool = False,
        if_not_exists: bool = False,
    ) -> Result:
        """Trains and stores the model ``name`` (``CREATE [OR REPLACE] MODEL [IF NOT EXISTS]``)
        with ``options`` (``{"type": "als", "factors": 32, ...}``) on ``data``: a SQL query
        (over the files and tables of the store's session) or a table (a pandas DataFrame, a
        pyarrow Table, a datafusion-python DataFrame or anything with ``__arrow_c_stream__``).
        Returns the statement's result (the model's summary)."""
        if replace and if_not_exists:
            raise ValueError("replace and if_not_exists cannot both be set")
        head = "CREATE OR REPLACE MODEL" if replace else "CREATE MODEL"
        if if_not_exists:
            head += " IF NOT EXISTS"
        head = f"{head} {quote_identifier(name)} {options_clause(options)} AS"
        if isinstance(data, str):
            return self._session.sql(f"{head} {data}")
        table = f"__trustql_training_{os.getpid()}_{next(_training_tables)}"
        self._session.register(table, data)
        try:
            return self._session.sql(f"{head} SELECT * FROM {table}")
        finally:
            self._session.deregister(table)

    def register(self, name: str, data: Any) -> None:
        """Registers ``data`` (as ``Session.register`` takes it) as the table ``name`` of the
        store's session, for queries given to ``create`` and for options that name a table
        (``tags = 'item_tags'``)."""
        self._session.register(name, data)

    def sql(self, query: str) -> Result:
        """Runs statements in the store's session (the one ``create`` trains in)."""
        return self._session.sql(query)

    def show(self) -> Result:
        """The store's models (``SHOW MODELS``)."""
        return self._session.sql("SHOW MODELS")

    def types(self) -> Result:
        """The model types ``create`` accepts (``SHOW MODEL TYPES``)."""
        return self._session.sql("SHOW MODEL TYPES")

    def describe(self, name: str) -> Result:
        """The model's type, options, training data and summary (``DESCRIBE MODEL``)."""
        return self._session.sql(f"DESCRIBE MODEL {quote_identifier(name)}")

    def drop(self, name: str, *, if_exists: bool = False) -> None:
        """Deletes the model ``name`` (``DROP MODEL [IF EXISTS]``)."""
        exists = " IF EXISTS" if if_exists else ""
        self._session.sql(f"DROP MODEL{exists} {quote_identifier(name)}")

    def __repr__(self) -> str:
        return f"trustql.Models({self.path!r})"
