"""The console in a real browser: headless Chromium from Debian's packages, driven by Playwright
for Python (pointed at /usr/bin/chromium; no browser is downloaded), over the quickstart's local
state served by `modelyard local console`.

Every page reachable from the models list loads with no console error (a CSP violation is one)
and every link on it answers; the compare page shows the deltas the objects imply and hides the
rows that agree on request; a running training job's progress moves on its page as the operator
writes it; a screenshot of each kind of page is kept in the test's tmp folder
(MODELYARD_UPDATE_DOCS=1 also copies the model page's to docs/console.png). Skipped, saying so,
where Debian's chromium is not installed; an install still running (CI's) is waited for."""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urldefrag, urljoin, urlparse

import pytest

from modelyard.cli import main
from tests.support.console import serve
from tests.support.quickstart import QUICKSTART, ROOT, prepare, train

pytestmark = pytest.mark.integration

INSTALL_LOCK = Path("/tmp/modelyard-chromium-install.lock")
"""Held by CI's background install of Debian's chromium (.ci/run) until it is done."""
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
CRAWL_AT_MOST = 120

playwright = pytest.importorskip("playwright.sync_api", reason="Playwright for Python is not installed (pip install playwright)")


def chromium() -> str | None:
    """Debian's Chromium, once an install that is still running (CI's, in the background) ends."""
    if INSTALL_LOCK.exists():
        with INSTALL_LOCK.open() as lock:
            fcntl.flock(lock, fcntl.LOCK_SH)
    found = shutil.which("chromium") or "/usr/bin/chromium"
    return found if Path(found).is_file() else None


@pytest.fixture(scope="module")
def quickstart_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The README's quickstart, run in local mode."""
    folder = tmp_path_factory.mktemp("console-quickstart")
    manifests = prepare(QUICKSTART, folder / "manifests", train(folder / "training"))
    home = folder / "home"
    assert main(["local", "apply", "-f", str(manifests), "--home", str(home)]) == 0
    return home


def _serve(home: Path) -> contextlib.AbstractContextManager[str]:
    return serve([str(Path(sys.executable).with_name("modelyard")), "local", "console", "--home", str(home), "--port", "0"])


@pytest.fixture(scope="module")
def console(quickstart_home: Path) -> Iterator[str]:
    with _serve(quickstart_home) as base:
        yield base


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    executable = chromium()
    if executable is None:
        pytest.skip("Chromium is not installed (Debian: apt-get install -y chromium)")
    with tempfile.TemporaryDirectory(prefix="modelyard-chromium-", ignore_cleanup_errors=True) as profile, \
            playwright.sync_playwright() as driver:
        # a fresh, empty profile (--user-data-dir), removed afterwards
        context = driver.chromium.launch_persistent_context(profile, executable_path=executable, headless=True, args=ARGS,
                                                            viewport={"width": 1280, "height": 900})
        yield context
        context.close()


class Watched:
    """A page whose console errors, page errors and failed requests are collected."""

    def __init__(self, context: Any):
        self.page = context.new_page()
        self.problems: list[str] = []
        self.page.on("console", lambda m: self.problems.append(f"console {m.type}: {m.text}") if m.type == "error" else None)
        self.page.on("pageerror", lambda e: self.problems.append(f"page error: {e}"))
        self.page.on("requestfailed", lambda r: self.problems.append(f"request failed: {r.url} {r.failure}"))
        self.page.on("response", lambda r: self.problems.append(f"{r.status} {r.url}") if r.status >= 400 else None)


def _kind_of(path: str) -> str:
    """The page family of a path: models, model, lineage, compare, versions, ..."""
    parts = [p for p in path.split("/") if p]
    if not parts:
        return "home"
    if parts[0] == "models" and len(parts) == 4:
        return parts[3]
    if parts[0] == "models" and len(parts) == 3:
        return "model"
    return parts[0]


def _answers(url: str) -> int:
    with urllib.request.urlopen(url, timeout=30) as reply:
        return reply.status


def test_every_page_loads_without_errors_and_every_link_answers(browser: Any, console: str, tmp_path: Path):
    watched = Watched(browser)
    queue, seen, checked = [f"{console}/models"], set(), {}
    shots: dict[str, Path] = {}
    while queue and len(seen) < CRAWL_AT_MOST:
        url = queue.pop(0)
        if url in seen:
            continue
        seen.add(url)
        before = len(watched.problems)
        reply = watched.page.goto(url, wait_until="load")
        assert reply is not None and reply.status == 200, f"{url}: {reply and reply.status}"
        assert watched.problems[before:] == [], f"{url}: {watched.problems[before:]}"
        path = urlparse(url).path
        kind = _kind_of(path)
        if kind not in shots:
            shots[kind] = tmp_path / f"console-{kind}.png"
            watched.page.screenshot(path=str(shots[kind]), full_page=True)
        hrefs = watched.page.eval_on_selector_all("a[href]", "links => links.map(a => a.getAttribute('href'))")
        for href in hrefs:
            target = urldefrag(urljoin(url, href))[0]
            assert target.startswith(console), f"{url} links outside the console: {href}"
            if target not in checked:
                checked[target] = _answers(target)
                assert checked[target] == 200, f"{url} links to {href}: {checked[target]}"
            if "format=json" not in target and target not in seen:
                queue.append(target)
    kinds = set(shots)
    assert {"models", "model", "lineage", "compare", "versions", "evaluations", "trainings", "jobs", "objects"} <= kinds, kinds
    assert len(checked) > 30
    if os.environ.get("MODELYARD_UPDATE_DOCS") == "1":
        shutil.copyfile(shots["model"], ROOT / "docs" / "console.png")


def test_the_compare_page_shows_the_right_deltas_and_can_show_only_differences(browser: Any, console: str,
                                                                                quickstart_home: Path,
                                                                                capsys: pytest.CaptureFixture[str]):
    capsys.readouterr()
    assert main(["local", "get", "evj", "-o", "json", "--home", str(quickstart_home)]) == 0
    results = {e["spec"]["modelVersionRef"]["name"]: e["status"]["results"] for e in json.loads(capsys.readouterr().out)["items"]}
    base, int8 = results["digits-1-0-0"]["latencyP95Ms"], results["digits-int8-arm"]["latencyP95Ms"]
    watched = Watched(browser)
    page = watched.page
    page.goto(f"{console}/models/default/digits/compare?v=digits-1-0-0&v=digits-int8-arm")
    cells = page.locator('tr[data-fact="evaluation.latencyP95Ms"] td')
    assert cells.nth(0).inner_text().strip() == f"{base:.4g}"
    shown = cells.nth(1).locator(".delta")
    assert shown.inner_text().strip() == f"{int8 - base:+.4g} ({(int8 - base) / base * 100:+.1f}%)"
    # measured latencies: on a loaded machine the INT8 one can come out slower
    verdict = "same" if int8 == base else "better" if int8 < base else "worse"
    assert verdict in (shown.get_attribute("class") or ""), "lower latency is better, higher worse"
    same = page.locator('tr[data-fact="signature.inputs"]')
    assert same.is_visible() and "same" in (same.get_attribute("class") or "")
    page.check("#only-differences")
    assert not same.is_visible() and page.locator('tr[data-fact="version.format"]').is_visible()
    assert page.url.endswith("only=differences&metric=accuracy")
    page.reload()  # the URL alone keeps the choice
    assert not page.locator('tr[data-fact="signature.inputs"]').count()
    assert page.locator("svg.chart circle").count() == 4  # accuracy of each of the 4 versions
    assert watched.problems == []


def _until(condition: Any, seconds: float = 15) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "the page did not change in time"
        time.sleep(0.2)


def test_a_running_training_jobs_progress_moves_on_its_page(browser: Any, quickstart_home: Path, tmp_path: Path):
    """The operator writes a running job's progress into its status; the page follows it."""
    from modelyard.local.state import LocalCluster

    home = tmp_path / "running"
    source = LocalCluster(quickstart_home / "state").read("TrainingJob", "default", "digits-train")
    assert source is not None
    cluster = LocalCluster(home / "state")
    running = json.loads(json.dumps(source))
    running["status"] = {"phase": "Running", "message": "training", "startTime": source["status"]["startTime"],
                         "progress": {"step": 4, "total": 40, "percent": 10.0, "message": "training"},
                         "metrics": {"valAccuracy": {"latest": 0.85}}, "hyperparameters": source["status"]["hyperparameters"]}
    cluster.write(running)
    with _serve(home) as base:
        watched = Watched(browser)
        page = watched.page
        page.goto(f"{base}/trainings/default/digits-train")
        assert page.locator("#progress").get_attribute("value") == "10.0"
        running["status"]["progress"] = {"step": 24, "total": 40, "percent": 60.0, "message": "training"}
        running["status"]["metrics"] = {"valAccuracy": {"latest": 0.97}}
        cluster.write(running)
        # polled from here: the page's CSP (no eval) also stops Playwright's in-page wait_for_function
        _until(lambda: page.locator("#progress").get_attribute("value") == "60")
        assert "step 24 of 40" in page.locator("#progress-text").inner_text()
        assert page.locator('tr[data-metric="valAccuracy"] .latest').inner_text() == "0.97"
        page.screenshot(path=str(tmp_path / "console-training-running.png"), full_page=True)
        cluster.write(source)  # finished: the page reloads and draws the curves
        page.wait_for_selector("svg", timeout=15000)
        _until(lambda: "Succeeded" in page.locator("h1 + section").inner_text())
        assert watched.problems == []
