"""Adversary round: wrong answers to chapter NN's exercises, run through the real checks.

Copy to .adversary/chNN_rR.py (git ignores .adversary/), then from the course root:
    .venv/bin/python .adversary/chNN_rR.py
Embedded mode (an in-process worker), exactly as a learner's kernel runs the checks.
"""
import os
import sys

os.environ.pop("COURSE_BROKER", None)
sys.path.insert(0, os.getcwd())

from course_tasks import runtime  # noqa: E402
from course_tasks.checks import evaluate  # noqa: E402

# Import what the exercise notebook's set-up cell imports, e.g.:
# from course_tasks.tasks.practices import ...

# ---------------------------------------------------------------- NN.1
# Each wrong answer: a small change to the solution, the way a learner writes it.

def answer_name_of_mistake(order_id, amount):  # one function (or value) per wrong answer
    ...

WRONG = [
    # (exercise id, short name, the mistake in one sentence, the check's arguments as a tuple)
    ("NN.1", "name-of-mistake", "what is wrong with it and why a teacher rejects it", (answer_name_of_mistake,)),
]

if __name__ == "__main__":
    runtime.start(quiet=True)
    try:
        for ex, name, why, args in WRONG:
            outcome = evaluate(ex, *args)
            mark = "PASSED (defect!)" if outcome.passed else f"rejected {outcome.points}/{outcome.max_points}"
            print(f"{ex} {name}: {mark}\n    mistake: {why}\n    feedback: {outcome.feedback}\n", flush=True)
    finally:
        runtime.stop(quiet=True)
