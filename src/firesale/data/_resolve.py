"""Turn a data reference from a scenario file into a path on disk.

Two kinds of reference are accepted:

* ``"firesale-data:NAME"`` names a file shipped inside the package (``NAME`` as listed by
  :func:`firesale.data.datasets`, with or without its extension). It is found with :mod:`importlib.resources`, so
  it works from any working directory and from an installed wheel.
* anything else is a path, relative to ``base_dir`` (the folder of the scenario file) unless absolute.
"""

from __future__ import annotations

import atexit
import contextlib
import importlib.resources
from pathlib import Path

from firesale.data._catalog import CATALOG, lookup
from firesale.exceptions import ParameterError

__all__ = ["PREFIX", "available_names", "resolve"]

PREFIX = "firesale-data:"

# Keeps extracted copies alive for the life of the process when the package is imported from a zip archive.
_EXTRACTED = contextlib.ExitStack()
atexit.register(_EXTRACTED.close)


def available_names() -> list[str]:
    """Names of the shipped datasets, sorted."""
    return sorted(entry.name for entry in CATALOG)


def _names_hint() -> str:
    return "Available names: " + ", ".join(available_names()) + "."


def _packaged_file(file_name: str) -> Path:
    resource = importlib.resources.files("firesale.data").joinpath("files", file_name)
    if isinstance(resource, Path):
        return resource
    # A zipped install has no real path: extract once and keep the copy until exit.
    return _EXTRACTED.enter_context(importlib.resources.as_file(resource))


def _strip_extension(name: str) -> str:
    for suffix in (".csv.gz", ".parquet", ".json", ".csv", ".gz"):
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return name


def resolve(ref: str | Path, base_dir: str | Path | None = None) -> Path:
    """Resolve a data reference to an existing file.

    Parameters
    ----------
    ref : str or Path
        ``"firesale-data:NAME"`` for a file shipped with firesale (``NAME`` with or without its extension),
        or a path to the user's own file.
    base_dir : str or Path, optional
        Folder that relative paths are relative to, normally the folder of the scenario file. Defaults to the
        current working directory.

    Returns
    -------
    Path
        Absolute path of the file.

    Raises
    ------
    ParameterError
        If ``ref`` is empty or not a string/path, if no shipped dataset has that name, or if the file does not
        exist; the message names the reference, where it looked and the available dataset names.

    Examples
    --------
    >>> from firesale.data import resolve
    >>> resolve("firesale-data:eth_10min_2020-03-12").name
    'eth_10min_2020-03-12.csv.gz'
    """
    if not isinstance(ref, str | Path) or not str(ref).strip():
        raise ParameterError(
            "The 'ref' parameter of resolve must be a non-empty string or path "
            f"('firesale-data:NAME' or a file path). Got {ref!r} instead."
        )
    text = str(ref).strip()
    if text.startswith(PREFIX):
        name = text[len(PREFIX) :].strip()
        entry = lookup(name) or lookup(_strip_extension(name))
        if entry is None:
            raise ParameterError(
                f"The data reference {text!r} names no dataset shipped with firesale "
                f"(looked in the package folder firesale/data/files). {_names_hint()}"
            )
        path = _packaged_file(entry.file)
        if not path.is_file():
            raise ParameterError(
                f"The data reference {text!r} points to {path}, which is missing from this installation "
                "(reinstall firesale)."
            )
        return path

    if base_dir is not None and not isinstance(base_dir, str | Path):
        raise ParameterError(
            f"The 'base_dir' parameter of resolve must be a path or None. Got {base_dir!r} instead."
        )
    path = Path(text).expanduser()
    if not path.is_absolute():
        path = Path(base_dir if base_dir is not None else Path.cwd()) / path
    path = path.resolve()
    if not path.is_file():
        where = (
            "an absolute path"
            if Path(text).expanduser().is_absolute()
            else f"relative to {Path(base_dir or Path.cwd()).resolve()}"
        )
        raise ParameterError(
            f"The data file {text!r} does not exist (looked for {path}, {where}). "
            f"For a dataset shipped with firesale use 'firesale-data:NAME'. {_names_hint()}"
        )
    return path
