"""pytest plugin for `.ci/with-redis --learners N`: each xdist worker is a learner of its own.

In redis mode every notebook sends to the workers of its namespace, so notebooks that run at
the same time on one Redis must not share one: a purge, a revoke or a shutdown in one would
reach the other. ``.ci/with-redis --learners N`` starts N namespaced workers (``ci1`` ...
``ciN``, docs/classroom.md) and exports ``COURSE_XDIST_LEARNERS=ci1,...,ciN``; this plugin,
loaded through ``PYTEST_ADDOPTS``, gives pytest-xdist's worker ``gwK`` the learner
``ci(K+1)``: its ``COURSE_LEARNER`` and its ``COURSE_HOME``, which the kernels it starts
inherit. Without xdist, or without ``COURSE_XDIST_LEARNERS``, it changes nothing.
"""

from __future__ import annotations

import os
from typing import Any


def pytest_configure(config: Any) -> None:
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    if not worker.startswith("gw"):
        return  # the xdist controller (its workers inherit its environment) or no xdist
    learners = [n for n in os.environ.pop("COURSE_XDIST_LEARNERS", "").split(",") if n]
    os.environ.pop("PYTEST_ADDOPTS", None)  # not for the kernels (chapter 11 runs pytest)
    if learners:
        name = learners[int(worker[2:]) % len(learners)]
        os.environ["COURSE_LEARNER"] = name
        os.environ["COURSE_HOME"] = os.path.join(os.environ["COURSE_HOME"], name)
