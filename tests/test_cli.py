"""python -m course_tasks: doctor and worker, in every mode, with clear messages."""

from __future__ import annotations

import time

import pytest

from conftest import run_course, run_python


def test_doctor_ok_in_embedded_mode() -> None:
    proc = run_course("doctor", COURSE_BROKER=None)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "mode       embedded" in proc.stdout
    assert "1 answered ping" in proc.stdout
    assert proc.stdout.rstrip().endswith("OK: the course can run.")


def test_doctor_ok_in_eager_mode() -> None:
    proc = run_course("doctor", COURSE_BROKER="eager")
    assert proc.returncode == 0
    assert "none needed" in proc.stdout


def test_doctor_fails_fast_on_unreachable_redis() -> None:
    started = time.monotonic()
    proc = run_course("doctor", COURSE_BROKER="redis://127.0.0.1:1/0", timeout=15)
    assert time.monotonic() - started < 10
    assert proc.returncode == 1
    assert "Cannot reach Redis at redis://127.0.0.1:1/0" in proc.stdout
    assert "Fix: start Redis" in proc.stdout
    assert "Traceback" not in proc.stdout + proc.stderr


def test_doctor_fails_fast_on_a_blackholed_address() -> None:
    # 192.0.2.0/24 is reserved for documentation: nothing answers, connects time out.
    started = time.monotonic()
    proc = run_course("doctor", COURSE_BROKER="redis://192.0.2.1:6379/0", timeout=15)
    assert time.monotonic() - started < 10
    assert proc.returncode == 1
    assert "192.0.2.1" in proc.stdout and "Fix:" in proc.stdout


def test_doctor_rejects_an_unknown_broker() -> None:
    proc = run_course("doctor", COURSE_BROKER="amqp://guest@localhost//")
    assert proc.returncode == 1
    assert "not a mode the course knows" in proc.stdout


def test_doctor_flags_celery_env_overrides() -> None:
    proc = run_course("doctor", CELERY_BROKER_URL="redis://elsewhere:6379/0")
    assert proc.returncode == 1
    assert "CELERY_BROKER_URL is set: Celery uses it instead" in proc.stdout
    assert "Fix: unset CELERY_BROKER_URL" in proc.stdout


def test_worker_command_refuses_embedded_mode_with_a_reason() -> None:
    proc = run_course("worker", COURSE_BROKER=None)
    assert proc.returncode == 2
    assert "COURSE_BROKER=redis://" in proc.stderr


def test_unknown_command() -> None:
    proc = run_course("wokrer")
    assert proc.returncode == 2
    assert "unknown command 'wokrer'" in proc.stderr


def test_help() -> None:
    proc = run_course("--help")
    assert proc.returncode == 0 and "doctor" in proc.stdout and "worker" in proc.stdout


@pytest.mark.redis
def test_doctor_without_a_worker_says_how_to_start_one(redis_url: str) -> None:
    proc = run_course("doctor", COURSE_BROKER=redis_url)
    assert proc.returncode == 1
    assert "0 answered ping" in proc.stdout
    assert "python -m course_tasks worker" in proc.stdout


@pytest.mark.redis
def test_doctor_ok_with_redis_and_a_worker(redis_worker: str) -> None:
    from conftest import run_python

    wait = run_python(
        "from course_tasks import runtime; print(len(runtime.wait_for_workers(15)))",
        COURSE_BROKER=redis_worker,
    )
    assert wait.stdout.strip() == "1", wait.stderr
    proc = run_course("doctor", COURSE_BROKER=redis_worker)
    assert proc.returncode == 0, proc.stdout
    assert "1 answered ping: testworker@" in proc.stdout


@pytest.mark.redis
def test_redis_mode_round_trip_through_a_worker_process(redis_worker: str) -> None:
    from conftest import run_python

    proc = run_python(
        "from course_tasks import runtime\n"
        "from course_tasks.tasks.basics import add, multiply, xsum\n"
        "from course_tasks.tasks import email\n"
        "from celery import chord\n"
        "runtime.wait_for_workers(15)\n"
        "runtime.start(quiet=True)\n"
        "print(add.delay(2, 3).get(timeout=5))\n"
        "print((add.s(4, 4) | multiply.s(8)).delay().get(timeout=5))\n"
        "print(chord(add.s(i, i) for i in range(1, 5))(xsum.s()).get(timeout=5))\n"
        "email.clear_outbox()\n"
        "email.send_welcome_email.delay('ada@example.com', 'Ada').get(timeout=10)\n"
        "print([m['to'] for m in email.outbox()])\n",
        COURSE_BROKER=redis_worker,
        COURSE_SMTP_SECONDS="0",
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split("\n")[:4] == ["5", "64", "20", "['ada@example.com']"]


@pytest.mark.redis
def test_runtime_start_without_a_worker_is_a_clear_error(redis_url: str) -> None:
    from conftest import run_python

    proc = run_python(
        "from course_tasks import runtime\n"
        "try:\n"
        "    runtime.start()\n"
        "except Exception as exc:\n"
        "    print(type(exc).__name__, exc)\n",
        COURSE_BROKER=redis_url,
        COURSE_WORKER_WAIT="1",
    )
    assert proc.stdout.startswith("NoWorker No Celery worker answered within 1 s")
    assert "python -m course_tasks worker" in proc.stdout


def test_notebook_commands_skip_the_iri_grammar_and_still_validate() -> None:
    """build-exercises and grade go without rfc3987_syntax (0.8 s of start-up) and nbformat
    still rejects an invalid notebook."""
    code = """
import sys
from course_tasks.__main__ import main
status = main(["build-exercises", "--check"])
import nbformat
try:
    nbformat.v4.new_code_cell("1", execution_count="one")
except nbformat.validator.NotebookValidationError:
    print("invalid notebook rejected")
print(status, "rfc3987_syntax" in sys.modules and sys.modules["rfc3987_syntax"] is not None)
"""
    proc = run_python(code)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines()[-2:] == ["invalid notebook rejected", "0 False"]
