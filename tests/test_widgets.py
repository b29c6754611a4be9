"""The task widgets: what they see of a task, what they print, what a notebook stores."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest
from celery import states
from nbclient import NotebookClient
from nbformat.v4 import new_code_cell, new_notebook

from conftest import ROOT
from course_tasks import app, widgets
from course_tasks.kernels import AsyncIPCKernelManager
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


def test_the_pictures_are_drawn_from_the_final_state() -> None:
    failed = widgets._progress_html((2, 5), "FAILURE", "report: 2 PROGRESS updates")
    assert 'class="course-progress"' in failed
    assert "width:40%" in failed and widgets.COLOURS["FAILURE"] in failed
    done = widgets._progress_html((3, 5), "SUCCESS", "a < b")
    assert "width:100%" in done and widgets.COLOURS["SUCCESS"] in done
    assert "a &lt; b" in done  # text is escaped
    assert "width:0%" in widgets._progress_html(None, "STARTED", "waiting")

    watch = widgets.Watch(
        [widgets.Event(0.0, "PENDING"), widgets.Event(0.25, "SUCCESS", 5)], False, 5
    )
    with_offsets = widgets._timeline_html(watch)
    assert with_offsets.index("PENDING") < with_offsets.index("SUCCESS")
    assert "+0.25 s" in with_offsets
    assert "+0.25 s" not in widgets._timeline_html(watch, offsets=False)


KERNEL_CELLS = [
    "from celery import chain\n"
    "from course_tasks import runtime, widgets\n"
    "from course_tasks.tasks.basics import add\n"
    "from course_tasks.tasks.reports import export_users_csv, monthly_sales_report\n"
    "runtime.start(quiet=True)",
    "widgets.progress(export_users_csv.delay(5, rows=3, seconds_per_row=0.02), timeout=5)",
    "widgets.timeline(export_users_csv.delay(5, rows=2, seconds_per_row=0.02), timeout=5)",
    "widgets.timeline(monthly_sales_report.delay('2024-13'), timeout=5, offsets=False)",
    "flow = chain(add.s(1, 2), add.s(3))\nwidgets.canvas(flow.apply_async(), flow, timeout=5)",
    "runtime.stop(quiet=True)",
]


def run_in_kernel(cells: list[str]) -> nbformat.NotebookNode:
    nb = new_notebook(cells=[new_code_cell(source) for source in cells])
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    NotebookClient(
        nb, timeout=60, kernel_name="python3", resources={"metadata": {"path": ROOT}},
        kernel_manager_class=AsyncIPCKernelManager,
    ).execute()
    return nb


@pytest.fixture(scope="module")
def kernel_notebook() -> nbformat.NotebookNode:
    """The cells above, run in a real kernel, outputs as a front end stores them."""
    return run_in_kernel(KERNEL_CELLS)


def test_in_a_kernel_each_picture_is_one_bundle_of_widget_html_and_text(
    kernel_notebook: nbformat.NotebookNode,
) -> None:
    expected = {
        1: ("progress", "export_users_csv: 3 PROGRESS updates (1/3 … 3/3), then SUCCESS"),
        2: (
            "timeline",
            "+<n> s  PENDING\n+<n> s  STARTED\n+<n> s  PROGRESS 1/2 … 2/2\n+<n> s  SUCCESS",
        ),
        3: ("timeline", "PENDING → STARTED → FAILURE (ReportError)"),
        4: ("canvas", "1. add: SUCCESS\n2. add: SUCCESS"),
    }
    for index, (kind, text) in expected.items():
        outputs = kernel_notebook.cells[index].outputs
        # the live view, emptied when the task was ready, then the final picture; no stream
        assert [o.output_type for o in outputs] == ["display_data", "display_data"], outputs
        assert outputs[0].data == {}
        data = outputs[1].data
        assert set(data) == {"application/vnd.jupyter.widget-view+json", "text/html", "text/plain"}
        assert re.sub(r"\d+\.\d\d s", "<n> s", data["text/plain"]) == text
        page = data["text/html"]
        assert page.startswith(f'<div class="course-{kind}"')
        model_id = data["application/vnd.jupyter.widget-view+json"]["model_id"]
        assert model_id and model_id not in page
        for line in text.replace(" → ", "\n").splitlines():  # every state is drawn
            assert line.split("  ")[-1].replace("1. ", "").replace("2. ", "") in page


def test_strict_nbval_compares_the_html_and_the_text(
    kernel_notebook: nbformat.NotebookNode, tmp_path: Path
) -> None:
    """A stored picture that differs from a new run's fails nbval; the same one passes."""
    good = tmp_path / "good.ipynb"
    nbformat.write(kernel_notebook, good)
    for name, key, change in [
        ("html.ipynb", "text/html", ("SUCCESS", "FAILURE")),
        ("text.ipynb", "text/plain", ("SUCCESS", "FAILURE")),
    ]:
        changed = nbformat.from_dict(json.loads(json.dumps(kernel_notebook)))
        data = changed.cells[1].outputs[1].data
        data[key] = data[key].replace(*change)
        nbformat.write(changed, tmp_path / name)
    run = subprocess.run(
        [
            sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-p", "no:xdist",
            "--nbval", "--nbval-current-env", "--nbval-cell-timeout=60",
            "--nbval-sanitize-with", str(ROOT / "nbval_sanitize.cfg"),
            "-o", "addopts=", "--rootdir", str(tmp_path), "-q", "-rA", str(good),
            str(tmp_path / "html.ipynb"), str(tmp_path / "text.ipynb"),
        ],
        cwd=tmp_path, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    report = run.stdout
    cells = len(KERNEL_CELLS)
    assert f"{cells * 3 - 2} passed" in report and "2 failed" in report, report
    assert "FAILED html.ipynb::Cell 1" in report and "FAILED text.ipynb::Cell 1" in report
