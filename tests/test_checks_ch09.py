"""Chapter 09: the checks on right and wrong answers, and the services the chapter starts
(Flower, the health server, event threads), against an embedded worker with task events on."""

from __future__ import annotations

import json
import re
import socket
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
from checkhelpers import assert_fails, assert_passed, verdict

from course_tasks import app, dashboard, eventwatch, healthcheck, runtime
from course_tasks.checks.ch09_monitoring import metrics_text, nobody
from course_tasks.tasks.payments import charge_card


@pytest.fixture(scope="module", autouse=True)
def events_worker() -> Iterator[None]:
    """An embedded worker started with task events on (what the chapter's set-up does)."""
    before = app.conf.worker_send_task_events
    app.conf.worker_send_task_events = True
    runtime.start(quiet=True)
    yield
    runtime.stop(quiet=True)
    app.conf.worker_send_task_events = before
    assert runtime.leftover_threads() == []


def _port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _course_threads() -> list[str]:
    return sorted(
        t.name
        for t in threading.enumerate()
        if t.name.startswith(("course-flower", "course-health", "ThreadPoolExecutor", "ch09"))
    )


# --------------------------------------------------------------------------- 09.1


def names_right(app, timeout):
    return sorted(app.control.inspect(timeout=timeout).ping() or {})


def names_raw_reply(app, timeout):
    return app.control.inspect(timeout=timeout).ping()


def names_no_none(app, timeout):
    return sorted(app.control.inspect(timeout=timeout).ping())


def names_default_timeout(app, timeout):
    return sorted(app.control.inspect().ping() or {})


def names_course_app(app_given, timeout):
    return sorted(app.control.inspect(timeout=timeout).ping() or {})


def names_stub(app, timeout): ...


def test_091_right_answer() -> None:
    assert_passed(verdict("09.1", names_right), "[] within 0.3 s")


def test_091_stub_is_not_yet() -> None:
    assert "not yet" in verdict("09.1", names_stub).feedback


@pytest.mark.parametrize(
    ("answer", "problem", "hint"),
    [
        (names_raw_reply, "returned the reply dict itself", "return the names only"),
        (names_no_none, "raised TypeError", "inspect().ping() returns None"),
        (names_default_timeout, "with timeout=0.3, worker_names waited 1 s for replies",
         "pass the timeout on"),
        (names_course_app, "for an app that no worker serves, worker_names returned [",
         "ask the app you are given"),
    ],
)  # fmt: skip
def test_091_wrong_answers(answer, problem, hint) -> None:
    assert_fails(verdict("09.1", answer), problem, hint)


# --------------------------------------------------------------------------- 09.2


def handler_right(task_id, counts):
    def handler(event):
        if event.get("uuid") == task_id:
            counts[event["type"]] = counts.get(event["type"], 0) + 1

    return handler


def handler_all_tasks(task_id, counts):
    def handler(event):
        counts[event["type"]] = counts.get(event["type"], 0) + 1

    return handler


def handler_keyerror(task_id, counts):
    def handler(event):
        if event["uuid"] == task_id:
            counts[event["type"]] = counts.get(event["type"], 0) + 1

    return handler


def handler_not_returned(task_id, counts):
    def handler(event):
        if event.get("uuid") == task_id:
            counts[event["type"]] = counts.get(event["type"], 0) + 1


def handler_own_dict(task_id, counts):
    mine = {}

    def handler(event):
        if event.get("uuid") == task_id:
            mine[event["type"]] = mine.get(event["type"], 0) + 1

    return handler


def handler_by_name(task_id, counts):
    def handler(event):
        if event.get("name") == charge_card.name or event.get("uuid") == task_id:
            counts[event["type"]] = counts.get(event["type"], 0) + 1

    return handler


def test_092_right_answer() -> None:
    assert_passed(verdict("09.2", handler_right), "task-sent 1, task-received 1")


@pytest.mark.parametrize(
    ("answer", "problem", "hint"),
    [
        (handler_all_tasks, "counts are", "count only the events whose event.get('uuid')"),
        (handler_by_name, "counts are", "count only the events whose event.get('uuid')"),
        (handler_keyerror, "your handler raised KeyError: 'uuid' on a worker event",
         "the handler gets every event, the workers' too"),
        (handler_not_returned, "make_handler returned None, not a function",
         "define def handler(event)"),
        (handler_own_dict, "counts is still empty", "add to the dict you were given"),
    ],
)  # fmt: skip
def test_092_wrong_answers(answer, problem, hint) -> None:
    assert_fails(verdict("09.2", answer), problem, hint)


# --------------------------------------------------------------------------- 09.3

SAMPLE = re.compile(r"^(\w+)(?:\{(.*)\})? (\S+)$")
LABEL = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')


def samples_right(text, name):
    found = []
    for line in text.splitlines():
        match = SAMPLE.match(line)
        if match and match[1] == name:
            found.append((dict(LABEL.findall(match[2] or "")), float(match[3])))
    return found


def samples_prefix(text, name):
    found = []
    for line in text.splitlines():
        match = SAMPLE.match(line)
        if match and match[1].startswith(name) and not match[1].endswith("_created"):
            found.append((dict(LABEL.findall(match[2] or "")), float(match[3])))
    return found


def samples_str_values(text, name):
    return [(labels, str(value)) for labels, value in samples_right(text, name)]


def samples_split_commas(text, name):
    found = []
    for line in text.splitlines():
        if line.startswith(name + "{"):
            head, value = line.rsplit(" ", 1)
            inner = head[len(name) + 1 : -1]
            labels = dict(pair.split("=", 1) for pair in inner.split(","))
            found.append(({k: v.strip('"') for k, v in labels.items()}, float(value)))
        elif line.startswith(name + " "):
            found.append(({}, float(line.split()[1])))
    return found


def samples_needs_braces(text, name):
    found = []
    for line in text.splitlines():
        if line.startswith("#") or re.split(r"[{ ]", line, maxsplit=1)[0] != name:
            continue
        head, value = line.rsplit(" ", 1)
        inner = head[head.index("{") + 1 : -1]  # ValueError without labels
        found.append((dict(LABEL.findall(inner)), float(value)))
    return found


def test_093_right_answer() -> None:
    assert_passed(verdict("09.3", samples_right), "exact names")


def test_093_metrics_text_has_the_traps() -> None:
    text = metrics_text()
    assert 'reason="declined, card expired"' in text
    assert "queue_length_max{" in text
    assert "\nworkers_online 2.0" in text


@pytest.mark.parametrize(
    ("answer", "problem", "hint"),
    [
        (samples_prefix, "returned 3 samples, expected 2", "match the name exactly"),
        (samples_str_values, "returned the values as str", "convert each value"),
        (samples_split_commas, "samples(text, 'course_charges_total') raised ValueError",
         'read each label as name="value" with a regex'),
        (samples_needs_braces, "raised ValueError", "a sample may have no labels at all"),
    ],
)
def test_093_wrong_answers(answer, problem, hint) -> None:
    assert_fails(verdict("09.3", answer), problem, hint)


# --------------------------------------------------------------------------- 09.4


def health_right(app, timeout):
    checks = {}
    try:
        with app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1)
        checks["broker"] = "ok"
    except Exception as exc:
        checks["broker"] = f"error: {exc}"
    names = sorted(app.control.inspect(timeout=timeout).ping() or {})
    checks["celery_worker"] = f"ok ({len(names)} workers)" if names else "no active workers"
    ok = checks["broker"] == "ok" and names
    return {"status": "healthy" if ok else "unhealthy", "checks": checks}


def health_always(app, timeout):
    return {"status": "healthy", "checks": {"broker": "ok", "celery_worker": "ok (1 workers)"}}


def health_no_none(app, timeout):
    names = app.control.inspect(timeout=timeout).ping()
    return {"status": "healthy" if len(names) else "unhealthy",
            "checks": {"broker": "ok", "celery_worker": f"ok ({len(names)} workers)"}}  # fmt: skip


def health_slow(app, timeout):
    return health_right(app, 1.0)


def health_ok_word(app, timeout):
    answer = health_right(app, timeout)
    answer["status"] = "ok" if answer["status"] == "healthy" else "error"
    return answer


def health_course_app(app_given, timeout):
    return health_right(app, timeout)


def test_094_right_answer() -> None:
    assert_passed(verdict("09.4", health_right), "unhealthy within 0.3 s")


@pytest.mark.parametrize(
    ("answer", "problem", "hint"),
    [
        (health_always, "an app with no worker was reported healthy", "ping the app you are"),
        (health_course_app, "an app with no worker was reported healthy", "ping the app you"),
        (health_no_none, "raised TypeError", "inspect().ping() returns None"),
        (health_slow, "with timeout=0.3, health waited 1 s for replies",
         "a load balancer will not wait"),
        (health_ok_word, "status is 'ok'", 'guide 004 answers "healthy" or "unhealthy"'),
    ],
)
def test_094_wrong_answers(answer, problem, hint) -> None:
    assert_fails(verdict("09.4", answer), problem, hint)


# --------------------------------------------------------------------------- services


def test_nobody_app_has_no_worker_and_is_not_current() -> None:
    from celery import current_app

    other = nobody()
    assert other.control.inspect(timeout=0.2).ping() is None
    assert current_app._get_current_object() is not other


def test_event_thread_sees_a_tasks_life_and_stops() -> None:
    seen: list[dict] = []
    thread = eventwatch.EventThread(app, seen.append, "ch09-test-events")
    thread.start()
    assert thread.ready.wait(5)
    before = app.conf.task_send_sent_event
    app.conf.task_send_sent_event = True
    try:
        result = charge_card.delay(1, 2.0)
        result.get(timeout=5)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and not any(
            e.get("uuid") == result.id and e["type"] == "task-succeeded" for e in list(seen)
        ):
            time.sleep(0.02)
    finally:
        app.conf.task_send_sent_event = before
        thread.stop()
    kinds = [e["type"] for e in eventwatch.of_task(seen, result.id)]
    assert kinds == ["task-sent", "task-received", "task-started", "task-succeeded"]
    assert not thread.is_alive()


def test_flower_auth_api_and_stop_leaves_nothing() -> None:
    flower = dashboard.start()
    try:
        assert dashboard.start() is flower  # idempotent
        assert "flower" in runtime.services()
        assert flower.request("/api/workers", auth=False)[0] == 401
        assert flower.request("/api/workers", auth=("course", "wrong"))[0] == 401
        assert flower.password not in flower.describe()
        assert flower.text("/healthcheck") == "OK"
        result = charge_card.delay(2, 3.0)
        result.get(timeout=5)
        deadline, info = time.monotonic() + 5, {}
        while time.monotonic() < deadline and info.get("state") != "SUCCESS":
            time.sleep(0.05)
            status, body = flower.request(f"/api/task/info/{result.id}")
            info = json.loads(body) if status == 200 else {}
        assert info["state"] == "SUCCESS"
        assert "flower_events_total" in flower.text("/metrics")
        port = flower.port
    finally:
        runtime.stop(quiet=True)  # stops Flower (and the worker): the chapter's last cell
        runtime.start(quiet=True)
    assert not flower.alive()
    assert not _port_open(port)
    assert "flower" not in runtime.services()
    assert [n for n in _course_threads() if n.startswith(("course-flower", "ThreadPool"))] == []
    assert dashboard.current() is None
    from flower.options import options

    assert not options.basic_auth  # Flower's global options are put back


def test_flower_frame_is_shown_while_flower_runs_and_replaced_when_it_stops() -> None:
    """In a real kernel: show() displays the frame; runtime.stop() replaces it, so the saved
    notebook keeps no frame pointing at a closed port (chapter 09's Flower cell)."""
    from nbclient import NotebookClient
    from nbformat.v4 import new_code_cell, new_notebook

    from course_tasks.kernels import AsyncIPCKernelManager

    nb = new_notebook(cells=[new_code_cell(source) for source in (
        "from course_tasks import dashboard, runtime\n"
        "runtime.start(quiet=True)\nflower = dashboard.start()",
        'flower.show("/tasks", height=100)',
        "print(flower.port)",
        "runtime.stop(quiet=True)",
    )])  # fmt: skip
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3"}
    shown: list[dict[str, str]] = []

    def snapshot(cell: Any, cell_index: int, **kwargs: Any) -> None:
        if cell_index == 1:
            shown.extend(dict(out["data"]) for out in cell.outputs)

    NotebookClient(nb, timeout=60, kernel_name="python3", on_cell_executed=snapshot,
                   kernel_manager_class=AsyncIPCKernelManager).execute()
    port = nb.cells[2].outputs[0]["text"].strip()
    assert len(shown) == 1
    assert f'src="http://127.0.0.1:{port}/tasks"' in shown[0]["text/html"]
    assert shown[0]["text/plain"] == "<Flower dashboard /tasks in an IFrame, 100 px high>"
    [saved] = nb.cells[1].outputs
    assert "<iframe" not in saved["data"]["text/html"]
    assert "Flower has stopped" in saved["data"]["text/html"]
    assert saved["data"]["text/plain"] == (
        "<Flower dashboard /tasks: Flower has stopped; run the chapter to see it>"
    )


def test_health_server_serves_and_stop_leaves_nothing() -> None:
    server = healthcheck.start(queues=["celery", "ch09-test-parked"])
    try:
        with urllib.request.urlopen(server.url + "/health", timeout=5) as response:
            report = json.load(response)
        assert response.status == 200
        assert report == {
            "status": "healthy",
            "checks": {"broker": "ok", "result_backend": "ok", "celery_worker": "ok (1 workers)"},
        }
        charge_card.apply_async((3, 1.0), queue="ch09-test-parked")
        charge_card.delay(4, 0).get(timeout=5, propagate=False)
        time.sleep(0.2)
        with urllib.request.urlopen(server.url + "/metrics", timeout=5) as response:
            text = response.read().decode()
        assert 'course_queue_length{queue="ch09-test-parked"} 1.0' in text
        assert (
            f'course_tasks_finished_total{{state="FAILURE",task="{charge_card.name}"}} 1.0' in text
        )
        assert "course_workers_online 1.0" in text
        with pytest.raises(urllib.error.HTTPError):
            urllib.request.urlopen(server.url + "/nothing", timeout=5)
        port = server.port
    finally:
        with app.connection_for_write() as conn:
            conn.default_channel.queue_purge("ch09-test-parked")
        server.stop()
        server.stop()  # idempotent
    assert not server.alive()
    assert not _port_open(port)
    assert [n for n in _course_threads() if n.startswith("course-health")] == []


def test_check_reports_no_worker_and_no_backend() -> None:
    report = healthcheck.check(nobody(), timeout=0.2)
    assert report["status"] == "unhealthy"
    assert report["checks"]["celery_worker"] == "no active workers"
    assert report["checks"]["result_backend"].startswith("error: LookupError")
