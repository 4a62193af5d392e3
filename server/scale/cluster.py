"""The Dask client a run uses: a LocalCluster on loopback, or a running scheduler's address."""
from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator, Mapping


@contextmanager
def dask_client(dask_cfg: Mapping) -> Iterator["distributed.Client"]:  # noqa: F821
    """`scheduler: local` starts (and always stops) a LocalCluster bound to 127.0.0.1."""
    from distributed import Client, LocalCluster

    scheduler = str(dask_cfg.get("scheduler", "local"))
    if scheduler != "local":
        with Client(scheduler, timeout="30s") as client:
            yield client
        return
    cluster = LocalCluster(
        n_workers=int(dask_cfg.get("n_workers", 2)), threads_per_worker=int(dask_cfg.get("threads_per_worker", 1)),
        memory_limit=str(dask_cfg.get("memory_limit", "2GiB")), host="127.0.0.1", dashboard_address="127.0.0.1:0",
        processes=True)
    try:
        with Client(cluster) as client:
            yield client
    finally:
        cluster.close()
