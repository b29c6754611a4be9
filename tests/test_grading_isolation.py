"""One exercise's wrong answer leaves the points of the chapter's other exercises untouched.

For every chapter, the solutions notebook with ONE answer replaced by a plausible wrong one,
graded as a learner's submission: that exercise scores 0 and every other exercise of the
chapter keeps its full points. The wrong answers are chosen to reach what the exercises
share: the course's app (12.2 reconfigures it, 11.1 switches eager mode on in a test, 08.2
routes every task to a queue, 13.1 changes the default queue, 06.3 sets the beat schedule),
Celery's current app (02.2), the worker (03.2 retries for ever, 07.2 computes in the
notebook), the store (10.3 takes a lock that never expires). One grading run (``--jobs 2``)
covers all thirteen chapters.
"""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

import pytest
from gradekit import grade, private_package, write

from conftest import ROOT

#: chapter → (exercise, the wrong answer's code, put in place of the answer cell's first
#: ``### BEGIN SOLUTION`` ... ``### END SOLUTION`` region, at the marker's indentation).
WRONG: dict[str, tuple[str, str]] = {
    "01": ("01.2", "return send_welcome_email.delay(email, name)"),
    "02": ("02.2", 'host = env.get("REDIS_HOST", "localhost")\n'
                   'return Celery("fastapi_tasks", broker=f"redis://{host}:6379/0",\n'
                   '              backend=f"redis://{host}:6379/1")'),
    "03": ("03.2", "@app.task(bind=True, max_retries=None)\n"
                   "def fetch_title(self, url):\n"
                   "    try:\n"
                   "        page = fetch(url)\n"
                   "    except SiteUnavailable as exc:\n"
                   "        raise self.retry(exc=exc, countdown=0.1)\n"
                   '    return page["title"]'),
    "04": ("04.2", "return app.tasks[name].delay(*args)"),
    "05": ("05.3", 'app.AsyncResult(task_id).revoke()\nreturn "cancelled"'),
    "06": ("06.3", "app.conf.beat_schedule = schedule\n"
                   'return [e["task"] for e in schedule.values() if e["task"] not in app.tasks]'),
    "07": ("07.2", "return xsum.s([n + n for n in numbers])"),
    "08": ("08.2", 'app.conf.task_routes = {"*": {"queue": "urgent"}}\n'
                   'return simple_calculation.apply_async((x, y), queue="rush")'),
    "09": ("09.1", "return sorted(app.control.inspect().ping() or {})"),
    "10": ("10.3", "token = uuid.uuid4().hex\n"
                   'if store().set(practices.key("lock", name), token, nx=True):\n'
                   "    return token\n"
                   "return None"),
    "11": ("11.1", "from course_tasks import app\n\n"
                   "app.conf.task_always_eager = True\n"
                   'response = signup("Ada", "ada@example.com")\n'
                   'assert response["task_id"]'),
    "12": ("12.2", "from course_tasks import app as celery_app\n\n"
                   'celery_app.config_from_object(settings, namespace="CELERY")\n'
                   "return celery_app"),
    "13": ("13.1", "app.conf.task_default_queue = queue"),
}  # fmt: skip
_REGION = re.compile(
    r"^(?P<indent>[ \t]*)### BEGIN SOLUTION.*?^[ \t]*### END SOLUTION[ \t]*\n?", re.M | re.S
)


def with_wrong_answer(solution: Path, exercise: str, code: str) -> dict[str, Any]:
    """``solution`` with the answer cell of ``exercise`` (the cell before its check) changed."""
    nb = copy.deepcopy(json.loads(solution.read_text(encoding="utf-8")))
    cells = nb["cells"]
    checks = [n for n, c in enumerate(cells) if f'check("{exercise}"' in "".join(c["source"])]
    assert len(checks) == 1, f"{solution.name}: no single check cell for {exercise}"
    answer = cells[checks[0] - 1]
    source = "".join(answer["source"])

    def replace(match: re.Match[str]) -> str:
        indent = match["indent"]
        return "".join(f"{indent}{line}\n" if line else "\n" for line in code.splitlines())

    changed, count = _REGION.subn(replace, source, count=1)
    assert count == 1, f"{solution.name}: the answer cell of {exercise} has no solution region"
    answer["source"] = changed
    answer["outputs"] = []
    return nb


@pytest.fixture(scope="module")
def graded(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    folder = tmp_path_factory.mktemp("one-wrong")
    package = private_package(tmp_path_factory.mktemp("package"))
    for chapter, (exercise, code) in WRONG.items():
        (solution,) = (ROOT / "solutions").glob(f"{chapter}_*_solutions.ipynb")
        name = solution.name.replace("_solutions", f" (wrong {exercise})")
        write(folder / name, with_wrong_answer(solution, exercise, code))
    proc = grade(package, "--json", "--jobs", "2", str(folder), timeout=900,
                 COURSE_SMTP_SECONDS="0.2")  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    return {Path(nb["path"]).name[:2]: nb for nb in json.loads(proc.stdout)["notebooks"]}


def test_every_chapter_is_covered() -> None:
    chapters = sorted(p.name[:2] for p in (ROOT / "solutions").glob("*_solutions.ipynb"))
    assert sorted(WRONG) == chapters


@pytest.mark.parametrize("chapter", sorted(WRONG))
def test_a_wrong_answer_costs_only_its_own_points(
    graded: dict[str, dict[str, Any]], chapter: str
) -> None:
    exercise = WRONG[chapter][0]
    nb = graded[chapter]
    assert "error" not in nb and "problem" not in nb, nb
    rows = {ex["id"]: ex for ex in nb["exercises"]}
    assert rows[exercise]["points"] == 0, rows[exercise]
    assert not rows[exercise]["feedback"].startswith("not run"), rows[exercise]
    others = [ex for ex in nb["exercises"] if ex["id"] != exercise]
    assert len(others) >= 2
    lost = [ex for ex in others if ex["points"] != ex["max_points"]]
    assert not lost, f"{exercise}'s wrong answer cost points elsewhere: {lost}"
