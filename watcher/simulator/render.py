"""How a batch looks on the wire: its log and the DLI/Livy JSON objects."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from watcher.core.states import is_terminal, normalise
from watcher.simulator.layouts import render_log

if TYPE_CHECKING:
    from watcher.simulator.batch import SimBatch

WINDOW = 10


def dumps(obj: object) -> bytes:
    """Compact UTF-8 JSON, as APIs send it."""
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode()


def full_log(flavor: str, batch: SimBatch) -> list[str]:
    """Render the whole log in the batch's layout (by default its flavour's): sections, or Livy 0.3's."""
    return render_log(batch.layout or flavor, batch.stdout, batch.stderr, batch.diagnostics)


def endpoint_log(flavor: str, batch: SimBatch) -> list[str]:
    """What the log endpoint serves: the whole log, or only the output without markers (like DLI's example)."""
    return full_log(flavor, batch) if batch.log_markers else list(batch.stdout)


def dli_details(batch: SimBatch, log: list[str]) -> dict[str, Any]:
    """Render the DLI details object (``GET /v2.0/{project_id}/batches/{id}``)."""
    return {
        "id": batch.id,
        "appId": batch.app_id,
        "name": batch.name,
        "owner": batch.owner,
        "proxyUser": batch.proxy_user,
        "state": batch.state,
        "kind": batch.kind,
        "log": log[-WINDOW:],
        "sc_type": batch.sc_type,
        "cluster_name": batch.cluster_name,
        "queue": batch.queue,
        "create_time": batch.create_time,
        "update_time": batch.update_time,
        "req_body": batch.req_body,
        "image": batch.image,
        "feature": batch.feature,
        "spark_version": batch.spark_version,
        **batch.extra,
    }


def app_info(app_id: str | None) -> dict[str, str | None]:
    """Livy's ``appInfo``: YARN URLs once the application is known.

    Livy 0.9's ``AppInfo.asJavaMap`` (apache/incubator-livy ``SparkApp.scala``) always carries
    ``executorLogUrls`` too: ``name#url`` pairs joined by ``;`` on Kubernetes with Loki, null on YARN.
    """
    if app_id is None:
        return {"driverLogUrl": None, "sparkUiUrl": None, "executorLogUrls": None}
    return {
        "driverLogUrl": f"http://sim-nodemanager:8042/node/containerlogs/{app_id}/livy",
        "sparkUiUrl": f"http://sim-resourcemanager:8088/proxy/{app_id}/",
        "executorLogUrls": None,
    }


def livy_details(batch: SimBatch, log: list[str]) -> dict[str, Any]:
    """Render the Livy batch object (``GET /batches/{id}``)."""
    return {
        "id": batch.id,
        "name": batch.name,
        "owner": batch.owner,
        "proxyUser": batch.proxy_user,
        "state": batch.state,
        "appId": batch.app_id,
        "appInfo": app_info(batch.app_id),
        "log": log[-WINDOW:],
        **batch.extra,
    }


def details(flavor: str, batch: SimBatch) -> dict[str, Any]:
    """Render the details object of the flavour, with the last-10 log window."""
    log = full_log(flavor, batch)
    return dli_details(batch, log) if flavor == "dli" else livy_details(batch, log)


def duration_ms(batch: SimBatch, now_ms: int) -> int:
    """Run time in ms: up to the last update once finished, else up to now."""
    end = batch.update_time if is_terminal(normalise(batch.state)) else now_ms
    return max(0, end - batch.create_time)


# huaweicloudsdkdli 3.1.219: ShowSparkJobResponse (details) has feature and spark_version, SparkJob
# (a list item) has neither but has duration (v1/model/show_spark_job_response.py, spark_job.py)
_DETAILS_ONLY = ("feature", "spark_version")


def session(flavor: str, batch: SimBatch, now_ms: int) -> dict[str, Any]:
    """Render a list item: on DLI the details without the details-only fields, plus ``duration``."""
    obj = details(flavor, batch)
    if flavor == "dli":
        for name in _DETAILS_ONLY:
            obj.pop(name, None)
        obj["duration"] = duration_ms(batch, now_ms)
    return obj
