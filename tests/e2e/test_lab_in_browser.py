"""The course as a learner meets it: `make lab`, then every chapter run twice in Chromium.

For each chapter: open it, check that the stored widget outputs show their static picture
(no placeholder text), clear the outputs, Run All (Run menu), wait until the kernel is idle,
then do it again in the same kernel. After each run: no error output, no "Error displaying
widget", no JavaScript error, and every timeline, progress bar and canvas graph rendered as a
live widget. A screenshot of the whole notebook is kept in ``.course/e2e-screenshots/``.
An exercise's check is driven like a learner does: a wrong answer gives ✗ in red, the right
one ✓ in green.

JupyterLab windows long notebooks (off-screen cells have an empty ``innerText``), so the test
reads ``textContent`` and the notebook's model (``window.jupyterapp``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from labserver import ROOT, SCREENSHOTS, Lab, require_chromium, running_chromium, running_lab

CHAPTERS = sorted((ROOT / "notebooks").glob("*.ipynb"))
#: The widget functions and the class of the picture each one draws.
PICTURES = {"timeline": "course-timeline", "progress": "course-progress", "canvas": "course-canvas"}
PLACEHOLDERS = ("[state timeline]", "[progress bar", "[canvas graph]")
OPEN_MS = 180_000
RUN_MS = 600_000

# The notebook in the main area, read from JupyterLab's own model.
CURRENT = "(window.jupyterapp && window.jupyterapp.shell.currentWidget)"
CELLS_JS = f"""() => {{
  const panel = {CURRENT};
  return [...panel.content.model.cells].map(c => ({{
    type: c.type,
    count: c.type === 'code' ? c.executionCount : null,
    outputs: c.type === 'code' ? c.outputs.toJSON() : [],
  }}));
}}"""
# Idle: the kernel and the execution indicator idle, and no `*` prompt.
IDLE_JS = f"""() => {{
  const panel = {CURRENT};
  if (!panel || !panel.content || !panel.content.model || !panel.sessionContext) return false;
  const session = panel.sessionContext.session;
  if (!session || !session.kernel || session.kernel.status !== 'idle') return false;
  const indicator = panel.node.querySelector('.jp-Notebook-ExecutionIndicator');
  if (indicator && indicator.dataset.status !== 'idle') return false;
  const prompts = [...panel.node.querySelectorAll('.jp-InputPrompt')];
  return !prompts.some(p => p.textContent.includes('*'));
}}"""
# Done with Run All: idle, and every code cell has run (or one failed, which stops Run All).
RAN_JS = f"""() => {{
  if (!({IDLE_JS})()) return false;
  const code = [...{CURRENT}.content.model.cells].filter(c => c.type === 'code');
  const failed = code.some(c => c.outputs.toJSON().some(o => o.output_type === 'error'));
  return failed || code.every(c => c.executionCount !== null);
}}"""
PICTURES_JS = """(cls) => {
  const found = [...document.querySelectorAll('.jp-NotebookPanel .jp-OutputArea-output .' + cls)];
  return {
    live: found.filter(e => e.closest('.jupyter-widgets')).length,
    static: found.filter(e => !e.closest('.jupyter-widgets')).length,
  };
}"""


class LabPage:
    """One Chromium page on the lab, with every JavaScript error it raised."""

    def __init__(self, page: Any, lab: Lab) -> None:
        self.page = page
        self.lab = lab
        self.errors: list[str] = []
        page.set_default_timeout(OPEN_MS)
        page.on("pageerror", lambda error: self.errors.append(f"page error: {error}"))
        page.on(
            "console",
            lambda message: (
                message.type == "error" and self.errors.append(f"console error: {message.text}")
            ),
        )

    def goto(self, path: str = "") -> None:
        self.page.goto(f"{self.lab.url}/{path}?reset&token={self.lab.token}")

    def open(self, notebook: Path) -> None:
        """Open a notebook of the course alone in the main area, its kernel started and idle."""
        cells = len(json.loads(notebook.read_text(encoding="utf-8"))["cells"])
        self.goto(f"lab/tree/{notebook.relative_to(ROOT).as_posix()}")
        self.page.wait_for_function(
            f"() => {{ const p = {CURRENT}; return p && p.content && p.content.model"
            f" && p.node.querySelectorAll('.jp-Cell').length === {cells}; }}"
        )
        self.wait_idle(OPEN_MS)

    def wait_idle(self, timeout_ms: int, script: str = IDLE_JS) -> None:
        self.page.wait_for_function(script, timeout=timeout_ms, polling=250)

    def menu(self, top: str, item: str) -> None:
        """Click ``top`` in the menu bar, then ``item`` in its menu.

        No fallback to the command: chapter 09's Flower frame is replaced when Flower stops
        (``Dashboard.show``), and a frame left pointing at a closed port kept headless
        Chromium's menus from opening at all, which this test should catch.
        """
        entry = self.page.locator(".lm-Menu-item:visible .lm-Menu-itemLabel").get_by_text(
            item, exact=True
        )
        self.page.locator(".lm-MenuBar-item", has_text=top).first.click()
        entry.wait_for(state="visible", timeout=10_000)
        entry.click()

    def cells(self) -> list[dict[str, Any]]:
        return self.page.evaluate(CELLS_JS)

    def text(self) -> str:
        return self.page.evaluate(f"() => {CURRENT}.node.textContent")

    def pictures(self, cls: str) -> dict[str, int]:
        return self.page.evaluate(PICTURES_JS, cls)

    def run_all(self) -> None:
        """Clear every output, Run All from the Run menu, wait until everything ran."""
        self.menu("Edit", "Clear Outputs of All Cells")
        assert all(cell["count"] is None for cell in self.cells() if cell["type"] == "code")
        self.menu("Run", "Run All Cells")
        self.wait_idle(RUN_MS, RAN_JS)

    def screenshot(self, path: Path) -> None:
        """The whole notebook in one picture: the viewport grown to its scroll height."""
        height = self.page.evaluate(
            f"() => {CURRENT}.node.querySelector('.jp-WindowedPanel-outer').scrollHeight"
        )
        size = self.page.viewport_size
        self.page.set_viewport_size({"width": size["width"], "height": min(height + 200, 30000)})
        self.page.evaluate(
            f"() => {CURRENT}.node.querySelector('.jp-WindowedPanel-outer').scrollTop = 0"
        )
        self.page.wait_for_timeout(500)
        self.page.screenshot(path=str(path), full_page=True)
        self.page.set_viewport_size(size)

    def shutdown_kernels(self) -> None:
        headers = {"Authorization": f"token {self.lab.token}"}
        sessions = self.page.request.get(f"{self.lab.url}/api/sessions", headers=headers).json()
        for session in sessions:
            self.page.request.delete(
                f"{self.lab.url}/api/sessions/{session['id']}", headers=headers
            )


@pytest.fixture(scope="module")
def chromium() -> str:
    return require_chromium()


@pytest.fixture(scope="module")
def lab(chromium: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    with running_lab(tmp_path_factory.mktemp("lab")) as running:
        yield running


@pytest.fixture(scope="module")
def browser(chromium: str) -> Iterator[Any]:
    with running_chromium(chromium) as running:
        yield running


@pytest.fixture(scope="module")
def screenshots() -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS


@pytest.fixture
def lab_page(lab: Lab, browser: Any) -> Iterator[LabPage]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = LabPage(context.new_page(), lab)
    try:
        yield page
    finally:
        try:
            page.shutdown_kernels()
        finally:
            context.close()


def failures(cells: list[dict[str, Any]]) -> list[str]:
    """Every error output, as ``cell N: Name: value``."""
    found = []
    for number, cell in enumerate(cells):
        for output in cell["outputs"]:
            if output.get("output_type") == "error":
                found.append(f"cell {number}: {output.get('ename')}: {output.get('evalue')}")
    return found


def widget_calls(notebook: Path) -> dict[str, int]:
    """How many cells of ``notebook`` call each widget function."""
    cells = json.loads(notebook.read_text(encoding="utf-8"))["cells"]
    sources = ["".join(c["source"]) for c in cells if c["cell_type"] == "code"]
    return {
        name: sum(1 for s in sources if re.search(rf"\bwidgets\.{name}\(", s)) for name in PICTURES
    }


def test_make_lab_opens_the_course_root_on_chapter_00(lab_page: LabPage) -> None:
    lab_page.goto()  # the server's own landing page: LabApp.default_url
    lab_page.page.wait_for_function(f"() => {{ const p = {CURRENT}; return p && p.content; }}")
    assert lab_page.page.url.split("?")[0].endswith("/lab/tree/notebooks/00_setup.ipynb")
    assert lab_page.page.evaluate(f"() => {CURRENT}.context.path") == "notebooks/00_setup.ipynb"
    root = lab_page.page.request.get(
        f"{lab_page.lab.url}/api/contents/",
        headers={"Authorization": f"token {lab_page.lab.token}"},
    ).json()
    names = {item["name"] for item in root["content"]}
    assert {"notebooks", "exercises", "solutions", "docs"} <= names, names
    # the news popup does not cover the notebook (jupyter/overrides.json)
    assert "news" not in lab_page.page.locator(".jp-toast-message").all_text_contents()
    assert lab_page.errors == []


@pytest.mark.parametrize("notebook", CHAPTERS, ids=[path.stem for path in CHAPTERS])
def test_a_chapter_runs_twice_in_the_browser(
    lab_page: LabPage, notebook: Path, screenshots: Path
) -> None:
    lab_page.open(notebook)
    calls = widget_calls(notebook)
    # Before running: the stored pictures are drawn (static HTML), no placeholder text.
    text = lab_page.text()
    assert not [p for p in PLACEHOLDERS if p in text]
    for name, cls in PICTURES.items():
        assert lab_page.pictures(cls)["static"] == calls[name], name

    for run in (1, 2):  # Run All twice in one kernel, as a learner does after a mistake
        lab_page.run_all()
        shot = screenshots / f"{notebook.stem}-run{run}.png"
        lab_page.screenshot(shot)
        where = f"run {run} of {notebook.name} (screenshot: {shot})"
        assert failures(lab_page.cells()) == [], where
        text = lab_page.text()
        assert "Error displaying widget" not in text, where
        for name, cls in PICTURES.items():  # each picture is a live widget, drawn once
            assert lab_page.pictures(cls) == {"live": calls[name], "static": 0}, (name, where)
        assert lab_page.errors == [], where
        frames = lab_page.page.evaluate(f"() => {CURRENT}.node.querySelectorAll('iframe').length")
        assert frames == 0, f"{where}: an iframe outlived the service it showed"


def test_a_chapter_its_exercises_and_solutions_have_different_tab_titles(
    lab_page: LabPage,
) -> None:
    titles = []
    for path in ("notebooks/05_states_and_results.ipynb",
                 "exercises/05_states_and_results_exercises.ipynb",
                 "solutions/05_states_and_results_solutions.ipynb"):  # fmt: skip
        lab_page.open(ROOT / path)
        titles.append(lab_page.page.evaluate(f"() => {CURRENT}.title.label"))
    assert titles == ["05_states_and_results.ipynb", "05_states_and_results_exercises.ipynb",
                      "05_states_and_results_solutions.ipynb"]  # fmt: skip


def test_an_exercise_check_says_wrong_then_right(lab_page: LabPage, screenshots: Path) -> None:
    exercise = ROOT / "exercises" / "01_concepts_exercises.ipynb"
    cells = json.loads(exercise.read_text(encoding="utf-8"))["cells"]
    answer = next(i for i, c in enumerate(cells) if "".join(c["source"]).endswith("result = ..."))
    assert "".join(cells[answer + 1]["source"]).startswith('check("01.1"')
    setup = next(i for i, c in enumerate(cells) if c["cell_type"] == "code")
    lab_page.open(exercise)
    cell = lab_page.page.locator(".jp-NotebookPanel .jp-Cell")

    def run_cell(number: int) -> None:  # select it in command mode, Shift+Enter
        cell.nth(number).locator(".jp-InputPrompt").click()
        lab_page.page.keyboard.press("Escape")
        lab_page.page.keyboard.press("Shift+Enter")
        lab_page.wait_idle(RUN_MS)

    run_cell(setup)  # starts the worker, imports check
    run_cell(answer)  # the untouched stub: result = ...
    run_cell(answer + 1)  # and its check
    untouched = lab_page.cells()[answer + 1]["outputs"]

    def answer_and_check(code: str) -> tuple[str, str]:
        cell.nth(answer).locator(".cm-content").click()
        lab_page.page.keyboard.press("Control+a")
        lab_page.page.keyboard.insert_text(code)
        lab_page.page.keyboard.press("Shift+Enter")  # runs the answer, selects the check
        lab_page.page.keyboard.press("Shift+Enter")  # runs the check
        lab_page.wait_idle(RUN_MS)
        outputs = lab_page.cells()[answer + 1]["outputs"]
        plain = "".join(
            o.get("data", {}).get("text/plain", "") if "data" in o else o.get("text", "")
            for o in outputs
        )
        colour = lab_page.page.evaluate(
            """(n) => {
              const cell = window.jupyterapp.shell.currentWidget.node
                .querySelectorAll('.jp-Cell')[n];
              const mark = cell.querySelector('.course-check span');
              return mark ? getComputedStyle(mark).color : '';
            }""",
            answer + 1,
        )
        return plain, colour

    wrong, wrong_colour = answer_and_check(
        "from course_tasks.tasks.basics import add\n\nresult = add(2, 3)"
    )
    right, right_colour = answer_and_check(
        "from course_tasks.tasks.basics import add\n\nresult = add.delay(2, 3)"
    )
    lab_page.screenshot(screenshots / "exercise-01-check.png")
    assert "not yet" in json.dumps(untouched, ensure_ascii=False), untouched
    assert wrong.startswith("✗ 01.1"), wrong
    assert right.startswith("✓ 01.1"), right
    red, green = (tuple(map(int, re.findall(r"\d+", c)[:3])) for c in (wrong_colour, right_colour))
    assert red[0] > red[1] and green[1] > green[0], (wrong_colour, right_colour)
    assert failures(lab_page.cells()) == []
    assert lab_page.errors == []
