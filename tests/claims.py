"""The claims ledger (``docs/claims.yaml``): what the chapters say Celery does, and where.

Each entry is one sentence a chapter says about Celery's (or kombu's, Flower's) behaviour,
the chapter section and the cell that shows it, and the names in the pinned version's source
the sentence rests on, each with a fingerprint of that source. ``tests/test_claims.py``
resolves every name in the installed version and compares the fingerprints, so that an
upgrade lists exactly the sentences to read again.

A name is ``path/in/site-packages.py:Qualified.name`` (a module's function, class or
method: ``celery/worker/request.py:Request.on_failure``), ``path.py`` alone (the whole
module), or ``setting:name`` (a Celery setting: its default and type in
``celery/app/defaults.py``).

    python tests/claims.py            # list the claims whose source changed
    python tests/claims.py --update   # after reading them again: record the new fingerprints
"""

from __future__ import annotations

import ast
import functools
import hashlib
import importlib
import importlib.util
import inspect
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
LEDGER = ROOT / "docs" / "claims.yaml"
#: The packages a claim may rest on (their source is in site-packages).
PACKAGES = ("celery", "kombu", "flower", "billiard", "redis", "supervisor")
FIELDS = ("id", "chapter", "section", "cell", "claim", "rests_on")


def _read_statically(name: str, path: str, qualified: str, why: ImportError) -> str:
    """The source of ``path[:qualified]`` read from the file, for a module that cannot be
    imported here."""
    spec = importlib.util.find_spec(path.split("/")[0])
    if spec is None or not spec.submodule_search_locations:
        raise Unresolved(f"{name}: cannot import it ({why})")
    file = Path(next(iter(spec.submodule_search_locations))).parent / path
    if not file.is_file():
        raise Unresolved(f"{name}: no {path} ({why})")
    text = file.read_text(encoding="utf-8")
    if not qualified:
        return text
    body: list[ast.stmt] = ast.parse(text).body
    node: ast.AST | None = None
    for part in qualified.split("."):
        node = next((n for n in body if getattr(n, "name", None) == part), None)
        if node is None:
            raise Unresolved(f"{name}: {path} has no {qualified}")
        body = getattr(node, "body", [])
    return ast.get_source_segment(text, node) or ""


class Unresolved(Exception):
    """A name in the ledger that the installed version does not have."""


@dataclass(frozen=True)
class Source:
    """What a ledger name points at: its text, and where it was found."""

    name: str
    text: str

    @property
    def fingerprint(self) -> str:
        normalized = "\n".join(line.rstrip() for line in self.text.strip().splitlines())
        return hashlib.sha256(normalized.encode()).hexdigest()[:12]


def resolve(name: str) -> Source:
    """The source text that ledger name ``name`` stands for in the installed packages."""
    if name.startswith("setting:"):
        from celery.app.defaults import NAMESPACES, flatten

        key = name.removeprefix("setting:")
        option = dict(flatten(NAMESPACES)).get(key)
        if option is None:
            raise Unresolved(f"{name}: Celery has no setting {key!r}")
        return Source(name, f"{key} default={option.default!r} type={option.type}")
    path, _, qualified = name.partition(":")
    if not path.endswith(".py") or path.split("/")[0] not in PACKAGES:
        raise Unresolved(f"{name}: not 'package/module.py[:name]' in {', '.join(PACKAGES)}")
    module_name = path.removesuffix(".py").replace("/", ".").removesuffix(".__init__")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        # A pool or transport whose optional dependency is not installed (eventlet, gevent):
        # its source is still there to read.
        return Source(name, _read_statically(name, path, qualified, exc))
    target: Any = module
    for part in qualified.split(".") if qualified else []:
        try:
            target = inspect.getattr_static(target, part)
        except AttributeError:
            raise Unresolved(f"{name}: {module_name} has no {qualified}") from None
    target = getattr(target, "__func__", target)  # classmethod, staticmethod
    target = getattr(target, "fget", target)  # property
    if isinstance(target, functools.cached_property):
        target = target.func
    try:
        return Source(name, inspect.getsource(target))
    except (TypeError, OSError):  # a constant: its value is what the claim rests on
        value = repr(target)
        if " at 0x" in value:  # an object whose repr changes from run to run
            raise Unresolved(f"{name}: no source to fingerprint ({value})") from None
        return Source(name, value)


def load(path: Path = LEDGER) -> list[dict[str, Any]]:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    claims = list(data["claims"])
    # YAML reads an unquoted cell id or fingerprint made of digits only (a hex string can be)
    # as a number: both are text.
    for claim in claims:
        if isinstance(claim.get("cell"), int):
            claim["cell"] = str(claim["cell"])
        for entry in claim.get("rests_on") or []:
            if isinstance(entry.get("fingerprint"), int):
                entry["fingerprint"] = str(entry["fingerprint"])
    return claims


def changed(claims: list[dict[str, Any]]) -> list[tuple[str, str, str]]:
    """``(claim id, name, why)`` for every name that no longer resolves or whose source moved."""
    out = []
    for claim in claims:
        for entry in claim["rests_on"]:
            try:
                now = resolve(entry["name"]).fingerprint
            except Unresolved as exc:
                out.append((claim["id"], entry["name"], str(exc)))
                continue
            if now != entry["fingerprint"]:
                out.append((claim["id"], entry["name"], f"source changed ({now})"))
    return out


def update(path: Path = LEDGER) -> int:
    """Record the installed version's fingerprints in the ledger, keeping its text as it is.

    Each name is written ``{name: NAME, fingerprint: FINGERPRINT}`` on one line (a new
    claim may leave the fingerprint empty: ``fingerprint: ""``).
    """
    text = path.read_text(encoding="utf-8")
    count = 0
    for claim in load(path):
        for entry in claim["rests_on"]:
            now = resolve(entry["name"]).fingerprint
            if now == entry["fingerprint"]:
                continue
            line = re.compile(rf"(name: {re.escape(entry['name'])}, fingerprint: )[^}}\n]*\}}")
            written = f'"{now}"' if now.isdigit() else now  # digits alone: YAML reads a number
            text, found = line.subn(rf"\g<1>{written}}}", text)
            if not found:
                raise SystemExit(f"write {entry['name']} as '{{name: ..., fingerprint: ...}}'")
            count += found
    path.write_text(text, encoding="utf-8")
    return count


def main(argv: list[str]) -> int:
    if argv == ["--update"]:
        print(f"{update()} fingerprints updated in {LEDGER.relative_to(ROOT)}")
        return 0
    moved = changed(load())
    for claim_id, name, why in moved:
        print(f"{claim_id}: {name}: {why}")
    print(f"{len(moved)} names to read again" if moved else "every claim's source is unchanged")
    return 1 if moved else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
