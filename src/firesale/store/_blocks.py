"""Completed path blocks of a run in progress, so a run killed mid-way resumes without redoing them.

A resumable run writes each finished chunk of path blocks (``run_blocks`` output: per-path metrics and the
recorded series of those paths) into its run folder::

    runs/run_id=<id>/blocks/blocks-<first>-<stop>.npz       recorded series (float32 arrays)
    runs/run_id=<id>/blocks/blocks-<first>-<stop>.parquet   per-path metrics, indexed by global path

Both are written under temporary names and renamed into place, the Parquet file last: a chunk counts as done
exactly when its Parquet file exists, so a writer killed at any moment leaves only whole chunks behind. The
folder is removed once the run is finished (its ``metrics.parquet`` then holds every path).
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd

from firesale.exceptions import StoreError
from firesale.store._catalog import RUNS_DIR, write_catalog
from firesale.store._files import PARTITION_COLUMN, read_frame, to_table, write_table
from firesale.store._process import current_writer, writer_is_alive

__all__ = ["BlockLog", "reopen_run"]

BLOCKS_DIR = "blocks"
_CHUNK = re.compile(r"blocks-(\d+)-(\d+)\.parquet")


class BlockLog:
    """The completed chunks of path blocks of one run, in its folder of the store at ``root``.

    Parameters
    ----------
    root : Path
        The run store directory.
    run_id : str
        The run's id.
    """

    def __init__(self, root: Path, run_id: str) -> None:
        self.folder = Path(root) / RUNS_DIR / f"{PARTITION_COLUMN}={run_id}" / BLOCKS_DIR

    def completed(self) -> list[range]:
        """Block ranges already stored, in block order."""
        if not self.folder.is_dir():
            return []
        found = []
        for name in os.listdir(self.folder):
            m = _CHUNK.fullmatch(name)
            if m is not None:
                found.append(range(int(m.group(1)), int(m.group(2))))
        return sorted(found, key=lambda r: r.start)

    def save(
        self,
        blocks: range,
        metrics: pd.DataFrame,
        arrays: dict[str, np.ndarray],
        accounts: list[dict[str, np.ndarray]] | None = None,
    ) -> None:
        """Store one finished chunk (the series and per-account summaries first, the metrics file last, as the
        commit mark). ``accounts``: one dict of arrays per protocol (``AccountSummary.to_arrays``)."""
        stem = f"blocks-{blocks.start}-{blocks.stop}"
        self.folder.mkdir(parents=True, exist_ok=True)
        if accounts is not None:
            flat = {f"{i}/{k}": v for i, part in enumerate(accounts) for k, v in part.items()}
            flat["n_protocols"] = np.array(len(accounts))
            self._write_npz(self.folder / f"{stem}.accounts.npz", stem, flat)
        self._write_npz(self.folder / f"{stem}.npz", stem, arrays)
        frame = metrics.reset_index()
        write_table(to_table(frame, name="metrics", where="BlockLog.save"), self.folder / f"{stem}.parquet")

    def _write_npz(self, npz: Path, stem: str, arrays: dict[str, np.ndarray]) -> None:
        tmp = self.folder / f".{stem}.{secrets.token_hex(4)}.npz.tmp"
        try:
            with open(tmp, "wb") as fh:
                np.savez(fh, **arrays)  # type: ignore[arg-type]
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, npz)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise

    def load(self, blocks: range) -> tuple[pd.DataFrame, dict[str, np.ndarray]]:
        """Read one stored chunk back: (metrics indexed by global path, recorded series)."""
        stem = f"blocks-{blocks.start}-{blocks.stop}"
        frame = read_frame(self.folder / f"{stem}.parquet", what="completed-blocks").set_index("path")
        frame.index = pd.RangeIndex(frame.index[0], frame.index[-1] + 1, name="path")
        try:
            with np.load(self.folder / f"{stem}.npz") as data:
                arrays = {k: data[k] for k in data.files}
        except (OSError, ValueError) as exc:
            raise StoreError(
                f"The completed-blocks file {self.folder / stem}.npz is unreadable ({exc}). Delete the folder "
                f"{self.folder} to recompute those blocks."
            ) from exc
        return frame, arrays

    def load_accounts(self, blocks: range) -> list[dict[str, np.ndarray]] | None:
        """One stored chunk's per-account summaries (as :meth:`save` got them), or None if it has none."""
        path = self.folder / f"blocks-{blocks.start}-{blocks.stop}.accounts.npz"
        if not path.exists():
            return None
        try:
            with np.load(path) as data:
                out: list[dict[str, np.ndarray]] = [{} for _ in range(int(data["n_protocols"]))]
                for key in data.files:
                    if key != "n_protocols":
                        i, name = key.split("/", 1)
                        out[int(i)][name] = data[key]
        except (OSError, ValueError, KeyError) as exc:
            raise StoreError(
                f"The completed-blocks file {path} is unreadable ({exc}). Delete the folder {self.folder} to "
                "recompute those blocks."
            ) from exc
        return out

    def __iter__(self) -> Iterator[range]:
        return iter(self.completed())

    def clear(self) -> None:
        """Remove the folder (once the run's results are stored whole)."""
        shutil.rmtree(self.folder, ignore_errors=True)


def reopen_run(root: Path, run_id: str) -> tuple[int, int, str]:
    """Mark an interrupted, failed or dead ("incomplete") run as running again, by this process.

    Returns
    -------
    (n_paths, n_steps, seed as decimal text) of the stored run.

    Raises
    ------
    StoreError
        If the run is unknown, complete, or still running in a live process.
    """
    pid, host, started = current_writer()
    with write_catalog(Path(root)) as con:
        row = con.execute(
            "SELECT status, writer_pid, writer_host, writer_started, n_paths, n_steps, seed FROM runs "
            "WHERE id = ?",
            [run_id],
        ).fetchone()
        if row is None:
            raise StoreError(f"There is no run {run_id!r} in the run store {root}; nothing to resume.")
        status, w_pid, w_host, w_started, n_paths, n_steps, seed = row
        if status == "complete":
            raise StoreError(f"Run {run_id} is already complete; there is nothing to resume.")
        if status == "running" and writer_is_alive(w_pid, w_host, w_started):
            raise StoreError(
                f"Run {run_id} is still running in process {w_pid} on {w_host}; stop it before resuming."
            )
        con.execute(
            "UPDATE runs SET status = 'running', message = '', ended_at = NULL, writer_pid = ?, writer_host = ?, "
            "writer_started = ? WHERE id = ?",
            [pid, host, started, run_id],
        )
    return int(n_paths), int(n_steps), str(seed)
