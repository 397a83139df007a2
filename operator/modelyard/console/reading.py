"""What the console's pages read: the objects (one Snapshot per request, over the CLI's object
sources of views/objects.py) and the stored files some pages draw (report.json, metrics.jsonl).

A cluster that cannot be read becomes a ClusterProblem that the page states (unreachable, or the
console's identity refused) — never a stack trace; an object that is not there is NotFound."""

from __future__ import annotations

import json
import os
import threading
from collections import OrderedDict
from pathlib import Path
from typing import Any, Callable, Iterable

LIST_TIMEOUT = (5, 60)
"""(connect, read) seconds of each list call: an unreachable API server is reported in seconds,
not after the operating system's TCP timeout."""


class NotFound(LookupError):
    """An object (or page) that does not exist; the message names it."""

    def __init__(self, kind: str, name: str, namespace: str | None = None):
        self.kind, self.name, self.namespace = kind, name, namespace
        where = f" in namespace {namespace}" if namespace else ""
        super().__init__(f'{kind} "{name}" not found{where}')


class ClusterProblem(RuntimeError):
    """The objects could not be read: `title` says what happened, `detail` the server's own words
    (never a credential), `status` the HTTP status of the console's answer."""

    def __init__(self, title: str, detail: str, status: int = 503):
        super().__init__(f"{title}: {detail}")
        self.title, self.detail, self.status = title, detail, status


def explain_cluster_error(error: Exception, server: str, kind: str) -> ClusterProblem | None:
    """A kubernetes client failure as the page says it; None for anything else (a bug: the
    application's own error page handles it)."""
    from kubernetes.client.exceptions import ApiException
    from urllib3.exceptions import HTTPError as Urllib3Error

    from modelyard.api import KINDS

    plural = KINDS[kind].info.plural if kind in KINDS else kind
    if isinstance(error, ApiException):
        message = _status_message(error)
        if error.status == 401:
            return ClusterProblem("The cluster refused the console's identity",
                                  f"{server} answered 401 Unauthorized: its credentials are not accepted ({message})", 502)
        if error.status == 403:
            return ClusterProblem("The cluster refused the console's identity", message, 502)
        if error.status == 404:
            return ClusterProblem("The cluster has no Modelyard API",
                                  f"{server} has no {plural}.modelyard.dev: are the CRDs installed? ({message})", 502)
        return ClusterProblem("The cluster could not answer", f"{server}: {error.status} {message}", 502)
    if isinstance(error, (Urllib3Error, ConnectionError, TimeoutError)):
        reason = getattr(error, "reason", None) or error
        return ClusterProblem("The cluster is unreachable", f"{server}: {reason}", 503)
    return None


def _status_message(error: Any) -> str:
    """The `message` of the API server's Status body (it names the user and the verb refused)."""
    try:
        return str(json.loads(error.body or "{}").get("message") or error.reason)
    except (ValueError, AttributeError):
        return str(error.reason)


class Snapshot:
    """The objects one page is built from: each kind listed at most once, in the namespaces the
    console shows (None: every namespace), then looked up by name from memory."""

    def __init__(self, lister: Callable[[str, str | None], Iterable[dict[str, Any]]], namespaces: list[str] | None = None):
        self._lister = lister
        self.namespaces = namespaces
        self._bodies: dict[str, list[dict[str, Any]]] = {}
        self._index: dict[str, dict[tuple[str, str], dict[str, Any]]] = {}

    def bodies(self, kind: str) -> list[dict[str, Any]]:
        if kind not in self._bodies:
            found: list[dict[str, Any]] = []
            for namespace in self.namespaces or [None]:
                found.extend(self._lister(kind, namespace))
            self._bodies[kind] = found
        return self._bodies[kind]

    def find(self, kind: str, namespace: str, name: str) -> dict[str, Any] | None:
        if kind not in self._index:
            self._index[kind] = {(b["metadata"].get("namespace") or "", b["metadata"]["name"]): b for b in self.bodies(kind)}
        return self._index[kind].get((namespace, name))

    def get(self, kind: str, namespace: str, name: str) -> dict[str, Any]:
        found = self.find(kind, namespace, name)
        if found is None:
            raise NotFound(kind, name, namespace)
        return found

    def in_namespace(self, kind: str, namespace: str) -> list[dict[str, Any]]:
        return [b for b in self.bodies(kind) if (b["metadata"].get("namespace") or "") == namespace]


class Objects:
    """A source of object bodies for the console, and how to describe where they come from."""

    where: str = ""
    namespaces: list[str] | None = None

    def snapshot(self) -> Snapshot:
        return Snapshot(self.list, self.namespaces)

    def list(self, kind: str, namespace: str | None) -> Iterable[dict[str, Any]]:
        raise NotImplementedError


class LocalObjects(Objects):
    """Local mode's state folder (`<home>/state`), laid out as local/state.py writes it: one JSON
    file per object under `<Kind>/<namespace>/`. Each file is parsed once and kept while its
    inode, size and times stay the same (local mode replaces a file whole on every write, as a
    new file), so a page reads a thousand unchanged objects with a thousand `stat` calls.
    Bodies are shared between requests: pages only read them."""

    def __init__(self, home: Path):
        from modelyard.views.objects import local_source

        self.home = home.resolve()
        self.where = f"local state in {self.home}"
        self.root: Path = local_source(self.home).root
        self._parsed: dict[Path, tuple[tuple[int, ...], dict[str, Any]]] = {}
        self._lock = threading.Lock()

    def list(self, kind: str, namespace: str | None) -> Iterable[dict[str, Any]]:
        folder = self.root / kind
        if not folder.is_dir():
            return []
        spaces = [folder / namespace] if namespace else sorted(p for p in folder.iterdir() if p.is_dir())
        found = []
        for space in spaces:
            if not space.is_dir():
                continue
            # in name order, as LocalCluster.bodies lists them (names compared as text: cheaper than Paths)
            for name in sorted(entry.name for entry in os.scandir(space) if entry.name.endswith(".json")):
                body = self._read(space / name)
                if body is not None:
                    found.append(body)
        return found

    def _read(self, path: Path) -> dict[str, Any] | None:
        try:
            stat = path.stat()
        except FileNotFoundError:
            return None  # deleted since the folder was listed
        key = (stat.st_ino, stat.st_mtime_ns, stat.st_ctime_ns, stat.st_size)
        with self._lock:
            kept = self._parsed.get(path)
        if kept is not None and kept[0] == key:
            return kept[1]
        try:
            body = json.loads(path.read_text())
        except FileNotFoundError:
            return None
        with self._lock:
            self._parsed[path] = (key, body)
        return body


class ClusterObjects(Objects):
    """A cluster through the kubeconfig or the in-cluster ServiceAccount (list only)."""

    def __init__(self, namespaces: list[str] | None, api_client: Any = None):
        from modelyard.views.objects import ClusterSource

        self._source = ClusterSource(api_client, request_timeout=LIST_TIMEOUT)
        self.server = self._source.custom.api_client.configuration.host
        self.namespaces = namespaces
        self.where = f"cluster {self.server}" + (f", namespaces {', '.join(namespaces)}" if namespaces else "")

    def list(self, kind: str, namespace: str | None) -> Iterable[dict[str, Any]]:
        try:
            return self._source.bodies(kind, namespace)
        except Exception as error:  # noqa: BLE001 - translated where it is the cluster's failure
            problem = explain_cluster_error(error, self.server, kind)
            if problem is None:
                raise
            raise problem from None


class StoreFiles:
    """report.json and metrics.jsonl from the store (file:// in local mode, s3:// on a cluster,
    with MODELYARD_S3_* settings and boto3's credentials). A file that cannot be read is a note on
    the page, not a failure of it. Finished jobs' files never change: they are kept (LRU)."""

    def __init__(self, settings: Any = None, keep: int = 64):
        self._settings = settings
        self._keep = keep
        self._cache: OrderedDict[str, Any] = OrderedDict()
        self._lock = threading.Lock()

    def read(self, uri: str, tag: str | None = None) -> bytes:
        """The bytes at `uri` (`<folder>/<file>`); raises StoreError, or ValueError for a URI
        that names no store. With `tag` (what identifies a finished job's run: its uid and
        completion time) the bytes are kept and served again for the same tag."""
        key = f"{tag}|{uri}"
        with self._lock:
            if tag and key in self._cache:
                self._cache.move_to_end(key)
                return self._cache[key]
        from modelyard.storage.open import open_store

        folder, _, name = uri.rpartition("/")
        settings = self._settings
        if settings is None and folder.startswith("s3://"):
            from modelyard.storage.config import S3Settings

            settings = self._settings = S3Settings()
        data = open_store(folder, settings).get_bytes(name)
        if tag:
            with self._lock:
                self._cache[key] = data
                while len(self._cache) > self._keep:
                    self._cache.popitem(last=False)
        return data

    def json(self, uri: str, tag: str | None = None) -> tuple[Any, str | None]:
        """(parsed JSON, None) or (None, why it could not be read)."""
        try:
            return json.loads(self.read(uri, tag)), None
        except Exception as error:  # noqa: BLE001 - StoreError, a bad URI, a half-written file
            return None, _why(error)

    def jsonl(self, uri: str, tag: str | None = None) -> tuple[list[dict[str, Any]] | None, str | None]:
        """The records of a metrics.jsonl (those with a step), or why it could not be read."""
        try:
            text = self.read(uri, tag).decode()
        except Exception as error:  # noqa: BLE001
            return None, _why(error)
        records = []
        for line in text.splitlines():
            try:
                record = json.loads(line)
            except ValueError:
                continue  # a line being written as the file is read
            if isinstance(record, dict) and "step" in record:
                records.append(record)
        return records, None


def finished_tag(body: dict[str, Any]) -> str | None:
    """What identifies a finished job's stored files (None while it runs: read them afresh)."""
    status = body.get("status") or {}
    if status.get("phase") not in ("Succeeded", "Failed") or not status.get("completionTime"):
        return None
    return f"{body['metadata'].get('uid')}@{status['completionTime']}"


def _why(error: Exception) -> str:
    return getattr(error, "detail", None) or str(error) or type(error).__name__
