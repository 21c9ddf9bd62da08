"""``trustql.Session`` and ``trustql.Result``: a trustql session, and a statement's result."""

from __future__ import annotations

import html
import os
from typing import Any, List, Mapping, Optional

from . import _progress, _trustql

#: The model store a session opens when given none (the CLI's default), relative to the
#: working directory.
DEFAULT_MODELS = ".trustql/models"

#: Rows a result shows in a notebook or its repr.
PREVIEW_ROWS = 10


def arrow_stream(data: Any) -> Any:
    """An Arrow C stream capsule for ``data``: anything with ``__arrow_c_stream__`` (pyarrow
    tables and readers, polars and datafusion frames, trustql results), a pandas DataFrame
    (its index is kept as a column unless it is a plain range), or what ``pyarrow.table``
    accepts (a dict of columns, ...)."""
    if hasattr(data, "__arrow_c_stream__"):
        return data.__arrow_c_stream__()
    import pyarrow as pa

    try:
        import pandas as pd
    except ImportError:
        pd = None
    if pd is not None and isinstance(data, pd.DataFrame):
        return pa.Table.from_pandas(data).__arrow_c_stream__()
    try:
        table = pa.table(data)
    except (TypeError, ValueError, pa.ArrowException) as e:
        raise TypeError(
            f"cannot register a {type(data).__name__} as a table: give a pandas DataFrame, a "
            f"pyarrow Table or an object with __arrow_c_stream__ ({e})"
        ) from e
    return table.__arrow_c_stream__()


class Result:
    """The result of a statement: its Arrow record batches, held by trustql.

    ``to_arrow()``, ``to_pandas()`` and ``to_pylist()`` convert it; ``__arrow_c_stream__``
    hands the batches to any reader of the Arrow PyCapsule interface (``pyarrow.table(r)``;
    polars and duckdb read the same interface) without copying them. It can be read any number of
    times.
    """

    def __init__(self, inner: Any) -> None:
        self._inner = inner

    def __arrow_c_stream__(self, requested_schema: Optional[Any] = None) -> Any:
        return self._inner.__arrow_c_stream__(requested_schema)

    @property
    def num_rows(self) -> int:
        return self._inner.num_rows

    @property
    def column_names(self) -> List[str]:
        return self._inner.column_names

    def __len__(self) -> int:
        return self._inner.num_rows

    def to_arrow(self):
        """The result as a ``pyarrow.Table`` (sharing trustql's buffers)."""
        import pyarrow as pa

        return pa.RecordBatchReader.from_stream(self).read_all()

    def to_pandas(self, **kwargs: Any):
        """The result as a pandas DataFrame (``pyarrow.Table.to_pandas``, whose keyword
        arguments it takes: ``types_mapper=pd.ArrowDtype`` keeps every column in Arrow)."""
        return self.to_arrow().to_pandas(**kwargs)

    def to_pylist(self) -> List[dict]:
        """The rows as a list of dicts (Python objects: for small results)."""
        return self.to_arrow().to_pylist()

    def _preview(self):
        return self.to_arrow().slice(0, PREVIEW_ROWS)

    def _shape(self) -> str:
        n, m = self.num_rows, len(self.column_names)
        return f"{n:,} row{'s' if n != 1 else ''} × {m} column{'s' if m != 1 else ''}"

    def __repr__(self) -> str:
        if not self.column_names:
            return f"[{self._shape()}]"
        preview = self._preview()
        try:
            body = preview.to_pandas().to_string(index=False)
        except ImportError:
            body = "\n".join(str(row) for row in preview.to_pylist())
        more = "\n..." if self.num_rows > PREVIEW_ROWS else ""
        return f"{body}{more}\n[{self._shape()}]"

    def _repr_html_(self) -> str:
        """A table for Jupyter: the first rows and the size of the whole result."""
        preview = self._preview()
        head = "".join(f"<th>{html.escape(c)}</th>" for c in preview.column_names)
        rows = []
        for row in preview.to_pylist():
            cells = "".join(f"<td>{html.escape(_cell(v))}</td>" for v in row.values())
            rows.append(f"<tr>{cells}</tr>")
        if self.num_rows > PREVIEW_ROWS:
            rows.append(f"<tr><td colspan='{len(preview.column_names)}'>…</td></tr>")
        return (
            f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"
            f"<p>{html.escape(self._shape())}</p>"
        )


def _cell(value: Any) -> str:
    text = str(value)
    return text if len(text) <= 80 else text[:77] + "..."


class Session:
    """A trustql session, as the CLI opens it.

    ``models`` is the model store (a directory, created when a model is first stored);
    ``progress`` says where progress goes (see ``trustql._progress``: ``"auto"``, ``"tqdm"``,
    ``"log"``, ``None`` or a callable); ``status_interval`` is the least time in seconds
    between two status reports of one piece of work. ``cluster`` runs the statements on an
    Apache Ballista cluster, as ``trustql --cluster`` does: the scheduler's address
    (``"df://host:50050"``), or ``"local"`` / ``"local:N"`` for a scheduler and N executors
    inside this process (README, "Cluster"; the module must be built with the ``cluster``
    feature, as ``scripts/test.sh`` builds it).
    """

    def __init__(
        self,
        models: "str | os.PathLike[str]" = DEFAULT_MODELS,
        *,
        progress: Any = "auto",
        status_interval: float = 1.0,
        cluster: Optional[str] = None,
    ) -> None:
        self._attach(_trustql.Session, models, progress, status_interval, cluster)

    @classmethod
    def _shared(
        cls, models: "str | os.PathLike[str]", progress: Any, status_interval: float
    ) -> "Session":
        """The process's shared session of the store ``models`` (``trustql.Models`` and
        ``trustql.register`` use it; opened with these callbacks on first use)."""
        session = cls.__new__(cls)
        session._attach(_trustql.shared_session, models, progress, status_interval)
        return session

    def _attach(
        self, opener: Any, models: Any, progress: Any, status_interval: float, *cluster: Any
    ) -> None:
        on_line, on_status = _progress.callbacks(progress)
        self._inner = opener(os.fspath(models), on_line, on_status, status_interval, *cluster)
        self._status = on_status

    def _run(self, method: Any, *args: Any) -> Any:
        """Calls ``method``; a progress bar left open by an error or Ctrl-C is closed."""
        try:
            return method(*args)
        finally:
            close = getattr(self._status, "close", None)
            if close is not None:
                close()

    @property
    def models(self) -> str:
        """The model store's directory."""
        return os.fspath(self._inner.models)

    def sql(self, query: str) -> Result:
        """Runs the statements of ``query`` (one, or a script separated by ``;``) to their end
        and returns the last one's result. The GIL is released while they run; Ctrl-C cancels
        them and raises KeyboardInterrupt."""
        return Result(self._run(self._inner.sql, query))

    def run_script(
        self,
        path: "str | os.PathLike[str]",
        variables: "Mapping[str, Any] | None" = None,
        *,
        echo: bool = False,
    ) -> str:
        """Runs the script file at ``path`` as ``trustql -f`` does: its statements and backslash
        commands (``\\set``, ``\\i``, ...), with ``variables`` set first (as ``-v name=value``).
        Returns what the CLI would print (each result as a table), and prints it too with
        ``echo``. It stops at the first failing statement, whose error names the file and line;
        Ctrl-C stops the running statement and the script."""
        pairs = [(str(k), str(v)) for k, v in (variables or {}).items()]
        out = self._run(self._inner.run_script, os.fspath(path), pairs)
        if echo:
            print(out, end="")
        return out

    def register(self, name: str, data: Any) -> None:
        """Registers ``data`` as the table ``name`` (replacing one of that name): a pandas
        DataFrame, a pyarrow Table or anything with ``__arrow_c_stream__``."""
        self._inner.register_stream(name, arrow_stream(data))

    def deregister(self, name: str) -> bool:
        """Removes the table ``name``; ``True`` when there was one."""
        return self._inner.deregister(name)

    def read_parquet(self, name: str, path: "str | os.PathLike[str]") -> None:
        """Registers the Parquet file (or directory of files) at ``path`` as the table
        ``name``."""
        self._inner.read_parquet(name, os.fspath(path))

    def read_csv(
        self,
        name: str,
        path: "str | os.PathLike[str]",
        *,
        has_header: bool = True,
        delimiter: str = ",",
    ) -> None:
        """Registers the CSV file (or directory of files) at ``path`` as the table ``name``."""
        self._inner.read_csv(name, os.fspath(path), has_header, delimiter)

    def table(self, name: str) -> Result:
        """Every row of the table ``name``."""
        return self.sql(f"SELECT * FROM {quote_identifier(name)}")

    def __repr__(self) -> str:
        return f"trustql.Session(models={self.models!r})"


def quote_identifier(name: str) -> str:
    """``name`` as a quoted SQL identifier (kept exactly as written)."""
    return '"' + name.replace('"', '""') + '"'
