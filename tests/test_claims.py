"""The claims ledger (``docs/claims.yaml``) is whole, points at real cells, and still holds.

Every claim names the chapter cell that shows it and the source it rests on; when Celery,
kombu or Flower change under a claim, ``test_no_source_under_a_claim_changed`` lists exactly
the claims to read again (``tests/claims.py`` explains the names and ``--update``).
"""

from __future__ import annotations

import json
import re
from importlib.metadata import version
from pathlib import Path
from typing import Any

import pytest
import yaml
from claims import FIELDS, LEDGER, ROOT, Unresolved, changed, load, resolve

CLAIMS = load()
_HEADING = re.compile(r"^#{1,4} .*$", re.M)


def section_of(notebook: Path, cell_id: str) -> str | None:
    """The last markdown heading above cell ``cell_id`` (None if there is no such cell)."""
    heading = ""
    for cell in json.loads(notebook.read_text(encoding="utf-8"))["cells"]:
        if cell.get("id") == cell_id:
            return heading
        if cell["cell_type"] == "markdown":
            found = _HEADING.findall("".join(cell["source"]))
            heading = found[-1] if found else heading
    return None


def test_every_claim_has_its_fields_and_a_unique_id() -> None:
    assert CLAIMS, "the ledger is empty"
    for claim in CLAIMS:
        assert set(claim) == set(FIELDS), claim.get("id", claim)
        assert claim["rests_on"], f"{claim['id']}: rests on nothing"
        assert all(set(entry) == {"name", "fingerprint"} for entry in claim["rests_on"])
    ids = [claim["id"] for claim in CLAIMS]
    assert len(ids) == len(set(ids)), "claim ids repeat"


def test_the_ledger_names_the_installed_versions() -> None:
    recorded = yaml.safe_load(LEDGER.read_text(encoding="utf-8"))["versions"]
    assert {name: version(name) for name in recorded} == recorded


@pytest.mark.parametrize("claim", CLAIMS, ids=[c["id"] for c in CLAIMS])
def test_each_claim_points_at_a_cell_of_its_section(claim: dict[str, Any]) -> None:
    notebook = ROOT / claim["chapter"]
    assert notebook.is_file(), claim["chapter"]
    heading = section_of(notebook, claim["cell"])
    assert heading is not None, f"{claim['chapter']} has no cell {claim['cell']}"
    assert heading.startswith(claim["section"]), f"cell {claim['cell']} is under {heading!r}"


def test_every_name_resolves_in_the_installed_version() -> None:
    for claim in CLAIMS:
        for entry in claim["rests_on"]:
            resolve(entry["name"])  # raises Unresolved with the name


def test_no_source_under_a_claim_changed() -> None:
    moved = changed(CLAIMS)
    assert not moved, "read these claims again, then `python tests/claims.py --update`:\n" + (
        "\n".join(f"  {claim}: {name}: {why}" for claim, name, why in moved)
    )


@pytest.mark.parametrize(
    "name",
    ["celery/worker/request.py:Request.no_such_method", "celery/no_such_module.py",
     "setting:no_such_setting", "requests/api.py:get", "celery/worker/request.py:Nope.x"],
)  # fmt: skip
def test_a_name_the_installed_version_lacks_is_reported(name: str) -> None:
    with pytest.raises(Unresolved, match=re.escape(name)):
        resolve(name)


def test_a_fingerprint_follows_the_source_not_its_trailing_spaces() -> None:
    source = resolve("celery/worker/request.py:Request.on_failure")
    same = type(source)(source.name, source.text.replace("\n", "  \n"))
    other = type(source)(source.name, source.text.replace("return", "return  None or", 1))
    assert same.fingerprint == source.fingerprint != other.fingerprint
    assert resolve("setting:worker_prefetch_multiplier").text.startswith(
        "worker_prefetch_multiplier default=4"
    )


def test_a_module_whose_optional_dependency_is_missing_is_read_from_its_file() -> None:
    """celery.concurrency.eventlet imports eventlet (not installed here): the method's source
    is read from the file, and a name it lacks is still reported."""
    source = resolve("celery/concurrency/eventlet.py:TaskPool.on_apply")
    assert source.text.lstrip().startswith("def on_apply")
    with pytest.raises(Unresolved):
        resolve("celery/concurrency/eventlet.py:TaskPool.no_such_method")
