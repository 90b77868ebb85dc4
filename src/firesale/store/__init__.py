"""The run store: every simulation run, its inputs and its results, in one directory.

A store is a directory (default ``./firesale-runs``, see :func:`default_store_root`) laid out as::

    firesale-runs/
      catalog.duckdb                     DuckDB catalog: table ``runs`` (one row per run) and ``meta``
      catalog.lock                       flock guarding every catalog connection
      runs/run_id=<id>/metrics.parquet   per-path metrics, one row per path
      runs/run_id=<id>/series/<name>.parquet
                                         optional named time series

Run folders use Hive partitioning (``run_id=<id>``) so that a SQL engine reading a glob of them gets the run id
as a column. Write with :class:`RunStore` (``start``, then ``finish`` or ``mark``); read with
:meth:`RunStore.runs` and :meth:`RunStore.get`, which return pandas objects.

The ``runs`` table holds ``id``, ``scenario_name``, ``scenario_hash`` (sha256 hex), ``scenario_text`` (TOML),
``seed`` (decimal text, since seeds may exceed any SQL integer type; ``CAST(seed AS HUGEINT)`` when it fits),
``version``, ``n_paths``, ``n_steps``, ``started_at`` and ``ended_at`` (TIMESTAMP in UTC), ``status`` ("running",
"complete", "interrupted", "failed"), ``message``, ``parameters`` and ``summary`` (JSON), the typed headline
metrics ``bad_debt_mean_usd``, ``bad_debt_var99_usd``, ``bad_debt_es99_usd``, ``p_bad_debt``, ``p_insolvency``
(DOUBLE, NULL when not reported), ``wall_seconds``, ``series_names`` and the writer's ``writer_pid``,
``writer_host`` and ``writer_started``. A row with status "running" whose writer has died is what
:meth:`RunStore.runs` reports as "incomplete"; only "complete" runs have files you can rely on.

Querying with SQL
-----------------
From the directory that holds the store, in a DuckDB session (``con = duckdb.connect(); con.sql(...)``, or the
``duckdb`` shell), join the catalog to the per-path metrics of every complete run:

.. code-block:: sql

    ATTACH 'firesale-runs/catalog.duckdb' AS store (READ_ONLY);
    SELECT r.id, r.scenario_name, r.seed, r.p_bad_debt, count(*) AS n_rows
    FROM store.runs AS r
    JOIN read_parquet('firesale-runs/runs/*/metrics.parquet', hive_partitioning = true,
                      hive_types = {'run_id': VARCHAR}, union_by_name = true) AS m
      ON m.run_id = r.id
    WHERE r.status = 'complete'
    GROUP BY ALL
    ORDER BY r.id;

A time series of every run reads the same way from ``'firesale-runs/runs/*/series/<name>.parquet'``. DuckDB lets
one process at a time write a database file, so while a session keeps the catalog attached, firesale's writers in
other processes wait (up to a minute) and those in the same process fail: ``DETACH store`` when done.
"""

from __future__ import annotations

from firesale.store._run import StoredRun
from firesale.store._store import RunStore, default_store_root

__all__ = ["RunStore", "StoredRun", "default_store_root"]
