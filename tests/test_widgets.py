"""The task widgets: what they see of a task, what they print, what a notebook stores."""

from __future__ import annotations

import re
import time

import nbformat
import pytest
from celery import states
from conftest import ROOT
from nbclient import NotebookClient
from nbformat.v4 import new_code_cell, new_notebook

from course_tasks import app, widgets
from course_tasks.tasks import reports
from course_tasks.tasks.basics import add, sleepy_add
from course_tasks.tasks.reports import export_users_csv, monthly_sales_report

pytestmark = pytest.mark.usefixtures("worker")

OFFSET_LINE = re.compile(r"^\+\d+\.\d\d s  \S")


@pytest.fixture(autouse=True)
def _clean_files():
    reports.clear_files()
    yield
    reports.clear_files()


def labels(watch: widgets.Watch) -> list[str]:
    return [event.label() for event in watch.events]


def test_follow_sees_every_state_of_a_task_just_sent() -> None:
    watch = widgets.follow(export_users_csv.delay(1, rows=3, seconds_per_row=0.02), timeout=5)
    assert labels(watch) == [
        "PENDING",
        "STARTED",
        "PROGRESS 1/3",
        "PROGRESS 2/3",
        "PROGRESS 3/3",
        "SUCCESS",
    ]
    assert not watch.timed_out
    offsets = [event.offset for event in watch.events]
    assert offsets == sorted(offsets) and offsets[0] == 0


def test_follow_keeps_the_steps_of_a_task_that_finished_before_the_watch() -> None:
    quick = export_users_csv.delay(1, rows=2, seconds_per_row=0.01)
    time.sleep(0.3)  # done by now: get() alone would only see SUCCESS
    assert labels(widgets.follow(quick, timeout=5)) == [
        "PENDING",
        "STARTED",
        "PROGRESS 1/2",
        "PROGRESS 2/2",
        "SUCCESS",
    ]


def test_follow_sees_a_retry() -> None:
    reports.fail_next_uploads(1)
    watch = widgets.follow(export_users_csv.delay(1, rows=1, seconds_per_row=0.01), timeout=5)
    assert labels(watch) == [
        "PENDING",
        "STARTED",
        "PROGRESS 1/1",
        "RETRY (UploadUnavailable)",
        "STARTED",
        "PROGRESS 1/1",
        "SUCCESS",
    ]


def test_follow_sees_a_failure_and_does_not_raise() -> None:
    watch = widgets.follow(monthly_sales_report.delay("2024-13"), timeout=5)
    assert labels(watch) == ["PENDING", "STARTED", "FAILURE (ReportError)"]
    assert isinstance(watch.events[-1].info, reports.ReportError)


def test_follow_sees_a_revoked_task() -> None:
    later = add.apply_async((1, 1), countdown=30)
    later.revoke()
    assert labels(widgets.follow(later, timeout=5)) == ["PENDING", "REVOKED"]


def test_follow_stops_at_the_timeout() -> None:
    slow = sleepy_add.delay(1, 1, seconds=2.5)
    watch = widgets.follow(slow, timeout=0.3)
    assert watch.timed_out and watch.final == states.STARTED
    assert watch.summary() == "PENDING → STARTED → still STARTED when the 0.3 s ran out"
    assert slow.get(timeout=5) == 2


def test_a_handle_built_from_the_id_starts_from_the_stored_state() -> None:
    done = add.delay(2, 3)
    done.get(timeout=5)
    assert labels(widgets.follow(app.AsyncResult(done.id), timeout=5)) == ["SUCCESS"]


def test_compact_folds_runs_of_progress() -> None:
    events = [
        widgets.Event(0.0, "PENDING"),
        widgets.Event(0.01, "STARTED", {"pid": 1}),
        *(widgets.Event(0.1 * i, "PROGRESS", {"current": i, "total": 3}) for i in (1, 2, 3)),
        widgets.Event(0.4, "PROGRESS", {"current": 1, "total": 1}),
        widgets.Event(0.5, "PROGRESS", {"step": "mail"}),
        widgets.Event(0.6, "SUCCESS", {"rows": 3}),
    ]
    watch = widgets.Watch(events, timed_out=False, timeout=5)
    assert watch.summary() == (
        "PENDING → STARTED → PROGRESS 1/3 … 3/3 → PROGRESS 1/1 → PROGRESS → SUCCESS"
    )
    assert [offset for offset, _ in watch.compact()] == [0.0, 0.01, 0.1, 0.4, 0.5, 0.6]


def test_timeline_prints_sanitizable_offsets(capsys: pytest.CaptureFixture[str]) -> None:
    widgets.timeline(export_users_csv.delay(1, rows=2, seconds_per_row=0.02), timeout=5)
    lines = capsys.readouterr().out.splitlines()
    assert all(OFFSET_LINE.match(line) for line in lines), lines
    assert [line.split("  ", 1)[1] for line in lines] == [
        "PENDING",
        "STARTED",
        "PROGRESS 1/2 … 2/2",
        "SUCCESS",
    ]


def test_timeline_without_offsets_prints_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    widgets.timeline(monthly_sales_report.delay("2024-01"), timeout=5, offsets=False)
    assert capsys.readouterr().out == "PENDING → STARTED → SUCCESS\n"


def test_progress_prints_a_stable_summary(capsys: pytest.CaptureFixture[str]) -> None:
    widgets.progress(export_users_csv.delay(1, rows=4, seconds_per_row=0.02), timeout=5)
    assert capsys.readouterr().out == (
        "export_users_csv: 4 PROGRESS updates (1/4 … 4/4), then SUCCESS\n"
    )
    widgets.progress(monthly_sales_report.delay("2024-13"), timeout=5, description="report")
    assert capsys.readouterr().out == "report: no PROGRESS update, then FAILURE (ReportError)\n"


def test_progress_timeout_is_reported(capsys: pytest.CaptureFixture[str]) -> None:
    slow = sleepy_add.delay(1, 1, seconds=2.5)
    widgets.progress(slow, timeout=0.3)
    assert capsys.readouterr().out == (
        "sleepy_add: no PROGRESS update, still STARTED when the 0.3 s ran out\n"
    )
    slow.get(timeout=5)


def test_a_shown_widget_has_a_fixed_text_plain() -> None:
    import ipywidgets

    bar = ipywidgets.IntProgress(value=3, max=5)
    bundle = widgets._Shown(bar, "[progress bar]")._repr_mimebundle_()
    assert bundle["text/plain"] == "[progress bar]"
    assert bundle["application/vnd.jupyter.widget-view+json"]["model_id"] == bar.model_id


def test_in_a_kernel_the_outputs_are_the_same_on_every_run() -> None:
    """What nbval compares: a fixed text/plain next to the widget view, and the summary."""
    source = (
        "from course_tasks import runtime, widgets\n"
        "from course_tasks.tasks.reports import export_users_csv\n"
        "runtime.start(quiet=True)\n"
        "widgets.progress(export_users_csv.delay(5, rows=3, seconds_per_row=0.02), timeout=5)\n"
        "widgets.timeline(export_users_csv.delay(5, rows=2, seconds_per_row=0.02), timeout=5,"
        " offsets=False)\n"
        "runtime.stop(quiet=True)\n"
    )
    nb = new_notebook(cells=[new_code_cell(source)])
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    NotebookClient(
        nb, timeout=60, kernel_name="python3", resources={"metadata": {"path": ROOT}}
    ).execute()
    outputs = nbformat.from_dict(nb).cells[0].outputs
    shown = [o for o in outputs if o.output_type == "display_data"]
    assert [o.data["text/plain"] for o in shown] == ["[progress bar]", "[state timeline]"]
    assert all("application/vnd.jupyter.widget-view+json" in o.data for o in shown)
    text = "".join(o.text for o in outputs if o.output_type == "stream" and o.name == "stdout")
    assert text == (
        "export_users_csv: 3 PROGRESS updates (1/3 … 3/3), then SUCCESS\n"
        "PENDING → STARTED → PROGRESS 1/2 … 2/2 → SUCCESS\n"
    )
