"""Checks of chapter 11's exercises (``solutions/11_testing_solutions.ipynb``): answers are tests.

Each exercise asks for one pytest test function that takes the code under test as its only
argument (in the notebook a fixture of that name provides the real one). The check calls the
learner's test on the correct code, where it must pass, then on buggy versions, where it
must fail (raise anything: an ``AssertionError``, the bug's own exception). A test that
passes on a buggy version gets the hint for the bug it missed. The buggy versions put their
bug in more than one place (a repeated step first, in the middle and last; ``.s`` on every
step and on the last one only; a retry limit in the decorator and in the ``retry()`` call).

The check also looks at what the test did while it ran (:func:`_watched`), not at how long it
took: the tasks it sent through the broker (11.1 must mock ``welcome.delay``, 11.2 must run the
task here with ``apply()``), the tasks it ran here (11.3 must run the chain, with ``apply()``
or through the worker; eager mode is no mock in 11.1), and every ``get()``/``wait()`` on a
task's handle with its timeout (a wait without one can hang for ever). The worker is
simulated busy for :data:`BUSY_SECONDS` of the test's waiting: a task the test sent looks
PENDING to it until it has waited that long for it (in ``get()``/``wait()`` timeouts or in
``time.sleep``) and, without get()/wait(), looked at it more than once (it polls), so a short
timeout, a fixed sleep of any length and a polling loop with a short deadline fail on the
correct code; one buggy ``tag_post`` never gets an answer, so a wait with no deadline hangs
(the check ends it). Seen, not timed: the simulation never sleeps. A loop that reads the
state with no pause between its looks (:data:`SPIN_LOOKS` in under :data:`SPIN_SECONDS`) fails,
and 11.4's correct code runs once more with a quick worker, the task done before ``tag_post``
returns, where a test that asserts what the worker has not done yet (``not ready()``) fails.
A test that sends a task
through the broker while its mock (or a stand-in of its own) is in place on course code fails:
only the embedded worker thread would see it. 11.3 must run the chain itself, not each step.

After every run, on the correct code and on each buggy version, passed or failed, the test
must have left nothing behind: no mock still in place on a course module or task (a patch
started and never stopped, a mock or fake assigned by hand), no ``task_always_eager`` or any
other setting of the course app changed (``task_eager_propagates``), no users that were there
before deleted (nor, in 11.1, users who signed up while it ran), no mails taken out of the
outbox, and, in 11.2, no simulated outage of the gateway in the store, nor one an earlier cell
left there wiped (a cleanup that a failing assertion skips shows on a buggy version).
11.2's test makes every gateway failure with its mock: the real ``gateway_charge`` reads the
simulated outage in the store, which the worker shares. The correct code runs in more than one
state of the store: an empty users table (a fresh kernel) and one where other users signed up
before and there is no user 1 (11.1 also: the newest users deleted, so the highest id + 1 is not
the next id; another user signing up just before and just after the call, so an id worked out
before it or the newest user after it is someone else); each buggy version runs in each of
them, so that a test leaning on earlier data, on id 1 or on a worked-out id shows. 11.2 also
runs the correct code with an outage an earlier cell left in the store. The store's users
table and the gateway's outage are put back as they were after the check.

Only a test that never answers is timed (:data:`HANG_SECONDS`, while it is not inside a wait
with a timeout of its own).

* 11.1 ``check("11.1", test_signup)``: the web handler :func:`~course_tasks.tasks.signup.signup`
  with ``welcome.delay`` mocked; bugs: the mail sent inline, the user object sent instead of
  its id, the task queued twice, an answer with the user id or a made-up id where the queued
  task's id belongs, another user's id, an argument the task does not take;
* 11.2 ``check("11.2", test_charge)``: retries of :func:`~course_tasks.tasks.signup.charge`,
  run with ``apply()`` (not eager mode) and a mocked gateway; bugs: no retry, 10 retries or 2
  (in the decorator, or in the ``self.retry(max_retries=...)`` call with the decorator's 3 left
  as it was), a test charge before the real one on every retry (only a recovery shows it), a
  declined card retried, a task that gives up quietly (SUCCESS with ``None``), a
  receipt never returned;
* 11.3 ``check("11.3", test_onboarding)``: the canvas
  :func:`~course_tasks.tasks.signup.onboarding`; bugs: ``.s`` instead of ``.si`` (guide 002)
  on every step or on the last one, steps out of order, the last or the middle step missing,
  the middle or the last step twice, the first, middle or last step with another user's id, a
  group instead of a chain; a test that runs a step again after the chain, or sends the canvas
  to the worker and then fails on a buggy one without waiting for that run, fails;
* 11.4 ``check("11.4", test_tag_post)``: :func:`~course_tasks.tasks.signup.tag_post` against
  the real worker; bugs: tags sent as a set (fine with ``apply()``, ``EncodeError`` when sent),
  the task run inline with ``apply()``, tags dropped, and ``index_tags`` itself broken (on
  the worker and in the test's process alike: a test whose expected value comes from running
  ``index_tags`` agrees with it): it keeps only the first tag, never lower-cases, keeps
  duplicates, or does not sort. The broken ``index_tags`` answers on the worker are the
  worker's answers rewritten on their way to the test (:attr:`Bug.rewrite`).
"""

from __future__ import annotations

import contextlib
import inspect
import json
import sys
import threading
import time
import types
import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass, field, replace
from typing import Any
from unittest import mock

from celery import chain, group, states
from celery.canvas import _chain
from celery.exceptions import TimeoutError as CeleryTimeoutError
from celery.result import AsyncResult, EagerResult, ResultSet
from celery.signals import before_task_publish, task_postrun, task_prerun

from course_tasks.app import app
from course_tasks.checks import Fail, NotYet, exercise
from course_tasks.checks.isolation import MISSING, owners, stand_ins_left
from course_tasks.checks.support import error_text, is_stub_body
from course_tasks.store import store
from course_tasks.tasks import signup as sut
from course_tasks.tasks import users
from course_tasks.tasks.email import OUTBOX_KEY

#: A test still running after this long, outside a wait with a timeout of its own, never
#: answers (a loop polling a task that is never stored). Generous: a right answer takes
#: well under a second, and gets all of its own timeout on top.
HANG_SECONDS = 20.0
#: Room after a test's own timed wait should have ended, and the most a check waits in all.
WAIT_GRACE_SECONDS, MOST_SECONDS = 5.0, 60.0
#: A simulated busy worker: a task the test sent answers only once the test has waited this
#: long for it (get()/wait() timeouts and time.sleep() added up); a shorter get()/wait() ends
#: at once in Celery's TimeoutError, as it would on a loaded machine or a real broker, and a
#: look at the task's state before then says PENDING. Seen, not timed: nothing sleeps.
BUSY_SECONDS = 2.0
#: ... or once this long has passed since the test sent it (a loop that polls with no
#: time.sleep in it, or a sleep imported as ``from time import sleep``, which is not seen).
BUSY_AT_MOST_SECONDS = 3.0
#: A test that only sleeps and then reads the result (no get()/wait()) is answered only if it
#: polls: it must have looked at the task this often before (a fixed sleep looks once).
POLLS_BEFORE_ANSWER = 2
#: A test that reads a task's state this often in less than this many seconds polls with no
#: pause: a loop that keeps a core busy and reads the result backend thousands of times a
#: second (a loop with time.sleep(0.05) between its looks takes 10 s for as many).
SPIN_LOOKS, SPIN_SECONDS = 200, 1.0
THREAD_NAME = "course-check-11"
GENERIC_HINT = (
    "a test must pass on working code: print what the code really returns and assert that"
)
#: What a :attr:`Bug.rewrite` returns to leave the worker's answer as it is.
KEEP = object()

#: ``rewrite(task_name, args, kwargs)``: the answer a buggy task would have given the test.
Rewrite = Callable[[str, tuple[Any, ...], dict[str, Any]], Any]


@dataclass(frozen=True)
class Bug:
    """A buggy version of the code under test, what is wrong with it, and the hint.

    ``during``, if given, makes the context the buggy version runs in (a patched task body);
    ``rewrite``, if given, is what the worker answers the test for a task the test sent, in
    place of the real task's result (a task body broken on the worker, in every mode).
    """

    subject: Any
    what: str
    hint: str
    during: Callable[[], AbstractContextManager[Any]] | None = None
    rewrite: Rewrite | None = None
    #: given what a test that passed on this version did, a hint that names its own way of
    #: missing the bug (or None: ``hint``)
    explain: Callable[[Seen], str | None] | None = None


@dataclass(frozen=True)
class Setting:
    """A state of the store that the correct code is run in (``where`` says which)."""

    where: str
    prepare: Callable[[], None] | None = None
    #: The hint when the test fails in this state but passes in another one.
    hint: str = GENERIC_HINT
    #: makes the code under test as it runs in this state (11.1: other users sign up at the
    #: same time; 11.4: the worker has finished the task before the test's next line)
    wrap: Callable[[Callable[..., Any]], Callable[..., Any]] | None = None
    #: the simulated worker is quick, not busy: a task the test sent is answered at once
    quick: bool = False
    #: whether the buggy versions run in this state too (or only the correct code)
    bugs: bool = True
    #: given what the test did in this state, a hint that names its own mistake (or None)
    explain: Callable[[Seen], str | None] | None = None


@dataclass
class Seen:
    """What the learner's test did while it ran, besides passing or failing."""

    #: names of tasks it sent through the broker (delay, apply_async, a canvas's delay)
    sent: list[str] = field(default_factory=list)
    #: the tasks it sent, by id: (task name, args, kwargs), when it sent them, and how long
    #: it had slept by then
    published: dict[str, tuple[str, tuple[Any, ...], dict[str, Any]]] = field(default_factory=dict)
    sent_at: dict[str, float] = field(default_factory=dict)
    slept_at_send: dict[str, float] = field(default_factory=dict)
    #: seconds it asked time.sleep() for, in all
    slept: float = 0.0
    #: ids of tasks it sent that the simulated busy worker has answered
    answered: set[str] = field(default_factory=set)
    #: how often it looked at each task it sent while the simulated busy worker was busy
    looks: dict[str, int] = field(default_factory=dict)
    #: how often it ran a chain itself (apply(), delay(), apply_async(), a call)
    chain_runs: int = 0
    #: the course's modules and tasks as they were when the test started
    owners_before: list[tuple[Any, dict[str, Any]]] = field(default_factory=list)
    #: (task sent, names of the stand-ins in place on course code when it was sent)
    sent_under_mock: list[tuple[str, list[str]]] = field(default_factory=list)
    #: how often it looked at a task before the simulated busy worker answered, and how long
    #: after sending it the last time
    early_looks: int = 0
    early_after: float = 0.0
    #: names of tasks it ran right here (apply(), a chain's apply(), eager mode)
    ran_here: list[str] = field(default_factory=list)
    #: of those, the ones that ran here because task_always_eager was on (delay() ran them)
    ran_eager_mode: list[str] = field(default_factory=list)
    #: the timeout of every get()/wait() on a task's handle (None: no timeout)
    timeouts: list[float | None] = field(default_factory=list)
    #: timeouts that the simulated busy worker outlasted (the wait ended in TimeoutError)
    cut_short: list[float] = field(default_factory=list)
    #: while the test is in a get()/wait() with a timeout: when that wait ends
    waiting_until: float | None = None
    #: 11.2: the real gateway_charge ran in the test, and it found a simulated outage
    real_gateway: bool = False
    outage_used: bool = False
    #: "pytest.skip(...)" or "pytest.xfail(...)" with its reason, if the test ended that way
    skipped: str | None = None
    #: ids of the users in the table when the test started, and of those it created
    users_before: set[str] = field(default_factory=set)
    users_created: set[str] = field(default_factory=set)
    #: (task name, args) of every task it ran right here
    ran_args: list[tuple[str, tuple[Any, ...]]] = field(default_factory=list)
    #: names of tasks it ran here or sent on their own, outside a run of a chain
    alone: list[str] = field(default_factory=list)
    #: how deep the test's thread is in a chain's apply()/apply_async() right now
    chain_depth: int = 0
    #: names of tasks it sent since its last get()/wait() on a task's handle
    unwaited: list[str] = field(default_factory=list)
    #: (looks, seconds): it read a task's state this often with no pause, in this long
    spun: tuple[int, float] | None = None
    #: 11.2: how each run of a task it ran here ended: (request.retries, state, the
    #: result's or exception's type name)
    runs_ended: list[tuple[int, str, str]] = field(default_factory=list)


@dataclass(frozen=True)
class Left:
    """Something a test left behind: what, and the hint to avoid it."""

    what: str
    hint: str


# --------------------------------------------------------------------------- running a test


def _need_test(test: Any, param: str) -> Callable[..., Any]:
    if not callable(test) or isinstance(test, type):
        raise Fail(
            f"got {type(test).__name__}, not a test function",
            hint=f"define def test_...({param}): ... and pass the function itself",
        )
    if is_stub_body(test, unknown=False):
        raise NotYet("write the body of your test")
    try:
        params = list(inspect.signature(test).parameters)
    except (TypeError, ValueError):
        params = [param]
    if len(params) != 1:
        raise Fail(
            f"your test takes {len(params)} arguments ({', '.join(params) or 'none'})",
            hint=f"take exactly one, the code under test: def test_...({param}):",
        )
    return test


#: Ids of results that no worker will ever store (a buggy version ran its task inline).
_never_stored: list[str] = []
#: The users' id counter right after each call of the code under test (11.1): the highest id
#: handed out, which the counter must never go below.
_ids_handed_out: list[int] = []
#: 11.1: users another request signed up while the test ran (id -> their row), which the
#: test must leave alone.
_signed_up_meanwhile: dict[str, str] = {}

SKIP_HINT = (
    "let the test fail on a bug: assert what the code did, and never turn what you see into "
    "pytest.skip(...) or pytest.xfail(...) (a timeout too is a failure: let get(timeout=5) "
    "raise); under pytest a skipped or xfailed test is not a failed one, the suite stays green"
)


def _skip_kind(exc: BaseException) -> str | None:
    """How the test ended if it skipped or xfailed itself (pytest's outcomes), else None."""
    try:
        from _pytest.outcomes import Skipped, XFailed
    except ImportError:  # no pytest: nothing can raise its outcomes
        return None
    reason = str(getattr(exc, "msg", None) or exc).strip()
    reason = f': "{reason.splitlines()[0]}"' if reason else ""
    if isinstance(exc, XFailed):
        return f"pytest.xfail(...){reason}"
    if isinstance(exc, Skipped):
        return f"pytest.skip(...){reason}"
    return None


def _standing_in(call: Callable[..., Any], code: Callable[..., Any]) -> Callable[..., Any]:
    """``call``, named and documented as the ``code`` it wraps (a test may read them)."""
    call.__name__ = getattr(code, "__name__", "call")
    call.__doc__ = getattr(code, "__doc__", None)
    call.__wrapped__ = code  # type: ignore[attr-defined]
    return call


def _handing_out(code: Callable[..., Any]) -> Callable[..., Any]:
    """``code`` that notes the users' id counter after each call (see :data:`_ids_handed_out`)."""

    def call(*args: Any, **kwargs: Any) -> Any:
        try:
            return code(*args, **kwargs)
        finally:
            with contextlib.suppress(Exception):
                _ids_handed_out.append(int(store().get(users.LAST_ID_KEY) or 0))

    return _standing_in(call, code)


def _in_test() -> bool:
    return threading.current_thread().name == THREAD_NAME


def _message_args(body: Any) -> tuple[tuple[Any, ...], dict[str, Any]]:
    """The args and kwargs of a task message's body (protocol 2, or 1's dict)."""
    if isinstance(body, (tuple, list)) and len(body) == 3:
        return tuple(body[0] or ()), dict(body[1] or {})
    if isinstance(body, dict):
        return tuple(body.get("args") or ()), dict(body.get("kwargs") or {})
    return (), {}


@contextmanager
def _watched(seen: Seen, rewrite: Rewrite | None = None, quick: bool = False) -> Iterator[None]:
    """Meanwhile, record in ``seen`` what the test's thread sends, runs, sleeps and waits for.

    A ``get()``/``wait()`` on a task's handle records its timeout. On a result no worker
    will ever store it ends at once in Celery's TimeoutError (the check has seen the wait).
    The worker is busy: a task the test sent answers once the test has waited
    :data:`BUSY_SECONDS` for it, its earlier waits and its sleeps since it sent the task
    included (or :data:`BUSY_AT_MOST_SECONDS` have passed): a shorter wait ends in
    TimeoutError at once, and its state looks PENDING before then. With ``rewrite``, the
    test gets the rewritten answer for a task it sent (a broken task on the worker).
    ``quick``: the worker is not busy, a task the test sent answers as soon as it is done.
    A test that reads a task's state :data:`SPIN_LOOKS` times in less than
    :data:`SPIN_SECONDS` (a polling loop with no pause) is answered at once, and noted.
    Other threads (the embedded worker, the check itself) are left alone.
    """
    asked: dict[str, float] = {}
    first_look: dict[str, float] = {}

    def waited(task_id: str) -> float:
        return seen.slept - seen.slept_at_send.get(task_id, 0.0) + asked.get(task_id, 0.0)

    def busy(task_id: str) -> bool:
        """Whether the simulated busy worker has still not answered this task."""
        if quick or task_id not in seen.sent_at or task_id in seen.answered:
            return False
        if seen.looks.get(task_id, 0) >= POLLS_BEFORE_ANSWER and (
            waited(task_id) >= BUSY_SECONDS - 1e-6
            or time.monotonic() - seen.sent_at[task_id] >= BUSY_AT_MOST_SECONDS
        ):
            seen.answered.add(task_id)
            return False
        return True

    def rewritten(result: Any, meta: Any) -> Any:
        """The buggy answer for this task, or KEEP."""
        if rewrite is None or result.id not in seen.published or not isinstance(meta, dict):
            return KEEP
        if meta.get("status") != states.SUCCESS:
            return KEEP
        return rewrite(*seen.published[result.id])

    def waiting(real: Callable[..., Any]) -> Callable[..., Any]:
        def wait(self: Any, timeout: float | None = None, *args: Any, **kwargs: Any) -> Any:
            if not _in_test():
                return real(self, timeout, *args, **kwargs)
            seen.timeouts.append(timeout)
            seen.unwaited.clear()
            if self.id in _never_stored:
                raise CeleryTimeoutError("The operation timed out.")
            if (
                timeout is not None
                and not quick
                and self.id not in seen.answered
                and waited(self.id) + timeout < BUSY_SECONDS
            ):
                asked[self.id] = asked.get(self.id, 0.0) + timeout
                seen.cut_short.append(timeout)
                raise CeleryTimeoutError("The operation timed out.")
            seen.answered.add(self.id)
            if timeout is not None:
                seen.waiting_until = time.monotonic() + timeout
            try:
                value = real(self, timeout, *args, **kwargs)
            finally:
                seen.waiting_until = None
            new = rewritten(self, real_meta(self))
            return value if new is KEEP else new

        return wait

    def meta(self: Any) -> Any:
        if not _in_test():
            return real_meta(self)
        if busy(self.id):
            now = time.monotonic()
            looks = seen.looks[self.id] = seen.looks.get(self.id, 0) + 1
            seen.early_looks += 1
            seen.early_after = now - seen.sent_at[self.id]
            since = now - first_look.setdefault(self.id, now)
            if looks >= SPIN_LOOKS and since < SPIN_SECONDS:
                seen.spun = seen.spun or (looks, since)
                seen.answered.add(self.id)  # no need to spin on: it has been seen
                return meta(self)
            return {
                "task_id": self.id,
                "status": states.PENDING,
                "result": None,
                "traceback": None,
                "children": None,
            }
        found = real_meta(self)
        new = rewritten(self, found)
        return found if new is KEEP else {**found, "result": new}

    def sleep(seconds: float) -> None:
        if _in_test():
            with contextlib.suppress(TypeError, ValueError):
                seen.slept += max(float(seconds), 0.0)
        real_sleep(seconds)

    def published(sender: Any = None, body: Any = None, headers: Any = None, **kw: Any) -> None:
        if _in_test():
            seen.sent.append(str(sender))
            seen.unwaited.append(str(sender))
            if not seen.chain_depth:
                seen.alone.append(str(sender))
            task_id = (headers or {}).get("id") if isinstance(headers, dict) else None
            if task_id:
                seen.published[task_id] = (str(sender), *_message_args(body))
                seen.sent_at[task_id] = time.monotonic()
                seen.slept_at_send[task_id] = seen.slept
            stand_ins = [
                f"{_owner_name(owner)}.{name}"
                for owner, before in seen.owners_before
                for name, _ in stand_ins_left(owner, before)
            ]
            if stand_ins:
                seen.sent_under_mock.append((str(sender), stand_ins))

    def prerun(task: Any = None, **kwargs: Any) -> None:
        if task is not None and _in_test() and task.request.is_eager:
            seen.ran_here.append(task.name)
            seen.ran_args.append((task.name, tuple(task.request.args or ())))
            if not seen.chain_depth:
                seen.alone.append(task.name)
            if task.app.conf.task_always_eager:
                seen.ran_eager_mode.append(task.name)

    def chain_run(real: Callable[..., Any]) -> Callable[..., Any]:
        def run(self: Any, *args: Any, **kwargs: Any) -> Any:
            if not _in_test():
                return real(self, *args, **kwargs)
            seen.chain_runs += 1
            seen.chain_depth += 1
            try:
                return real(self, *args, **kwargs)
            finally:
                seen.chain_depth -= 1

        return run

    def joining(real: Callable[..., Any]) -> Callable[..., Any]:
        def join(self: Any, *args: Any, **kwargs: Any) -> Any:
            if _in_test():
                seen.unwaited.clear()
            return real(self, *args, **kwargs)

        return join

    set_get, set_join, set_join_native = ResultSet.get, ResultSet.join, ResultSet.join_native
    ResultSet.get, ResultSet.join = joining(set_get), joining(set_join)  # type: ignore[method-assign]
    ResultSet.join_native = joining(set_join_native)  # type: ignore[method-assign]
    chain_apply, chain_apply_async = _chain.apply, _chain.apply_async
    _chain.apply, _chain.apply_async = chain_run(chain_apply), chain_run(chain_apply_async)  # type: ignore[method-assign]
    real_get, real_wait = AsyncResult.get, AsyncResult.wait
    real_meta, real_sleep = AsyncResult._get_task_meta, time.sleep
    AsyncResult.get, AsyncResult.wait = waiting(real_get), waiting(real_wait)  # type: ignore[method-assign]
    AsyncResult._get_task_meta = meta  # type: ignore[method-assign]
    time.sleep = sleep
    before_task_publish.connect(published, weak=False)
    task_prerun.connect(prerun, weak=False)
    try:
        yield
    finally:
        task_prerun.disconnect(prerun)
        before_task_publish.disconnect(published)
        time.sleep = real_sleep
        AsyncResult._get_task_meta = real_meta  # type: ignore[method-assign]
        AsyncResult.get, AsyncResult.wait = real_get, real_wait  # type: ignore[method-assign]
        _chain.apply, _chain.apply_async = chain_apply, chain_apply_async  # type: ignore[method-assign]
        ResultSet.get, ResultSet.join = set_get, set_join  # type: ignore[method-assign]
        ResultSet.join_native = set_join_native  # type: ignore[method-assign]


# --------------------------------------------------------------------------- left behind

STARTED_HINT = (
    "use the patch as a with block (with mock.patch(...) as m:), or stop it in a finally "
    "(patcher.stop()): a mock left in place stands in for the real code in every later cell"
)
ASSIGNED_HINT = (
    "patch it with mock.patch.object(...) in a with block instead of assigning a mock or a "
    "fake of your own by hand: the with block puts the real one back, even when an assertion "
    "fails"
)
SHARED_DATA_HINT = (
    "leave the data you did not make alone: create the user your test needs and compare with "
    "its own id (user.id, response['user_id']); clear_users() or clear_outbox() wipes what "
    "every cell, the worker and other tests share"
)
EAGER_HINT = (
    "leave task_always_eager alone and run the task or chain here with apply() "
    "(flow.apply().get()): a setting switched back after an assertion is never switched back "
    "when the assertion fails (if you must switch it, do it in try/finally)"
)

EAGER_RESTORE_HINT = (
    "put back the value you found, not False: before = app.conf.task_always_eager, then "
    "finally: app.conf.task_always_eager = before (better: leave it alone and run the chain "
    "here with flow.apply().get())"
)
CONF_HINT = (
    "put back every setting you change, each one, in a finally (before = "
    "app.conf.task_eager_propagates ... finally: app.conf.task_eager_propagates = before), "
    "or better leave the course app's settings alone and run the task or chain here with "
    "apply()"
)
OUTAGE_WIPED_HINT = (
    "leave the outage in the store alone (no gateway_down(0) to start clean): your mock "
    "answers every call, so an outage there cannot change your test, and it belongs to "
    "whoever set it (the worker's charges, an earlier cell)"
)
NEWEST_HINT = (
    "delete only the user your call created, by the id signup answered "
    "(store().hdel('users', str(response['user_id']))), or leave it: the newest user "
    "(users:last-id) is whoever signed up last, not necessarily your test"
)
COUNTER_HINT = (
    "never wind the users' id counter back (store().decr(...)): ids are handed out once; "
    "delete only the user your test created (or leave it: a test user does no harm)"
)


def _owner_name(owner: Any) -> str:
    if isinstance(owner, types.ModuleType):
        return owner.__name__
    name = getattr(owner, "name", None)
    if isinstance(name, str):
        return name.rsplit(".", 1)[-1]
    return getattr(owner, "__name__", type(owner).__name__)


def _active_patches() -> list[Any]:
    """The patchers started with ``start()`` and not stopped (unittest.mock keeps a list)."""
    return list(getattr(getattr(mock, "_patch", None), "_active_patches", []))


def _patched_name(patcher: Any) -> str:
    attribute = getattr(patcher, "attribute", None)
    try:
        target = _owner_name(patcher.getter())
    except Exception:  # a patch.dict, or a getter that no longer resolves
        target = "an object"
    return f"{target}.{attribute}" if attribute else target


def _conf_now() -> dict[str, Any]:
    """The course app's settings, every key."""
    return {key: app.conf.get(key) for key in list(app.conf.keys())}


def _left_watch(
    outage: bool, consumed: Callable[[], bool] = lambda: False
) -> Callable[[], list[Left]]:
    """Take stock now; the function returned says what a test left behind since, and puts
    it back: patchers it started and never stopped, mocks on course modules and tasks,
    the app's settings, users and mails, and (``outage``) a simulated gateway outage it
    left in the store, or one an earlier cell left that it wiped (unless ``consumed()``:
    the real gateway ran, and used it up)."""
    patches = _active_patches()
    saved = [(owner, dict(vars(owner))) for owner in owners(app)]
    outage_before = _outage() if outage else 0
    db = store()
    users_before = db.hgetall(users.USERS_KEY)
    last_id_before = db.get(users.LAST_ID_KEY)
    outbox_before = db.lrange(OUTBOX_KEY, 0, -1)
    eager_before = app.conf.task_always_eager
    conf_before = _conf_now()

    def put_back(rows: dict[str, str]) -> list[str]:
        """The ids of these users that are no longer in the table; their rows put back."""
        deleted = [key for key in rows if not db.hexists(users.USERS_KEY, key)]
        if deleted:
            db.hset(users.USERS_KEY, mapping={key: rows[key] for key in deleted})
        return deleted

    def left() -> list[Left]:
        found: list[Left] = []
        for patcher in reversed(_active_patches()):
            if any(patcher is p for p in patches):
                continue
            found.append(
                Left(
                    f"{_patched_name(patcher)} mocked (a patch started with start() and "
                    "never stopped)",
                    STARTED_HINT,
                )
            )
            with contextlib.suppress(Exception):
                patcher.stop()
        for owner, before in saved:
            for name, value in stand_ins_left(owner, before):
                now = vars(owner).get(name)
                what = "a mock" if isinstance(now, mock.NonCallableMock) else "a stand-in"
                found.append(Left(f"{_owner_name(owner)}.{name} replaced by {what}", ASSIGNED_HINT))
                if value is MISSING:
                    delattr(owner, name)
                else:
                    setattr(owner, name, value)
        if outage and (now := _outage()) > outage_before:
            found.append(
                Left(
                    f"the simulated gateway down for the next {now} charge"
                    f"{'' if now == 1 else 's'} ({sut.GATEWAY_DOWN_KEY} in the store)",
                    OUTAGE_HINT,
                )
            )
            store().set(sut.GATEWAY_DOWN_KEY, outage_before)
        elif outage and (now := _outage()) < outage_before and not consumed():
            found.append(
                Left(
                    f"the outage an earlier cell left in the store wiped ({sut.GATEWAY_DOWN_KEY}"
                    f" from {outage_before} to {now}: gateway_down(0) or a delete)",
                    OUTAGE_WIPED_HINT,
                )
            )
            store().set(sut.GATEWAY_DOWN_KEY, outage_before)
        meanwhile = put_back(_signed_up_meanwhile)
        if meanwhile:
            found.append(
                Left(
                    f"user {meanwhile[0]}, who signed up while your test ran (another request), "
                    "deleted from the shared users table",
                    NEWEST_HINT,
                )
            )
        if gone := put_back(users_before):
            count = f"{len(gone)} user{'' if len(gone) == 1 else 's'}"
            found.append(
                Left(
                    f"{count} who were there before it deleted from the shared users table "
                    "(clear_users())",
                    SHARED_DATA_HINT,
                )
            )
            if last_id_before is not None and int(db.get(users.LAST_ID_KEY) or 0) < int(
                last_id_before
            ):
                db.set(users.LAST_ID_KEY, last_id_before)
        if (
            not gone
            and _ids_handed_out
            and db.exists(users.LAST_ID_KEY)  # deleted: clear_users(), shown by users it deletes
            and (now_id := int(db.get(users.LAST_ID_KEY) or 0)) < (top := max(_ids_handed_out))
        ):
            found.append(
                Left(
                    f"the users' id counter ({users.LAST_ID_KEY}) wound back from {top} to "
                    f"{now_id} (the next sign-up gets an id handed out already, and overwrites "
                    "a user another process or test created meanwhile)",
                    COUNTER_HINT,
                )
            )
            db.set(users.LAST_ID_KEY, top)
        if db.llen(OUTBOX_KEY) < len(outbox_before):
            found.append(
                Left("mails that were there before it deleted from the outbox", SHARED_DATA_HINT)
            )
            db.delete(OUTBOX_KEY)
            if outbox_before:
                db.rpush(OUTBOX_KEY, *outbox_before)
        if app.conf.task_always_eager != eager_before:
            found.append(
                Left(
                    "task_always_eager switched on (every later delay() runs inline, not on "
                    "the worker)"
                    if app.conf.task_always_eager
                    else "task_always_eager switched off (it was on when your test started: "
                    "every later cell that counts on it now sends its tasks to the worker)",
                    EAGER_HINT if app.conf.task_always_eager else EAGER_RESTORE_HINT,
                )
            )
            app.conf.task_always_eager = eager_before
        conf_after = _conf_now()
        for key in sorted(set(conf_before) | set(conf_after)):
            if key == "task_always_eager":
                continue
            before, after = conf_before.get(key, MISSING), conf_after.get(key, MISSING)
            with contextlib.suppress(Exception):
                if before == after:
                    continue
            found.append(
                Left(
                    f"app.conf.{key} set to {after!r} (it was {before!r}: every later cell and "
                    "the embedded worker share the course app's settings)",
                    CONF_HINT,
                )
            )
            with contextlib.suppress(Exception):
                if before is MISSING:
                    app.conf.pop(key, None)
                else:
                    app.conf[key] = before
        return found

    return left


def _left_behind(left: list[Left], error: str | None, label: str, correct: bool) -> None:
    """A Fail if the test left something behind on this run."""
    if not left:
        return
    what = " and ".join(item.what for item in left)
    if error is not None:
        when = f"when it fails (on {label}: {error})"
    else:
        when = "after it ends" if correct else f"after it ends (on {label})"
    raise Fail(
        f"your test leaves {what} {when}: every later cell and test gets it too",
        hint=left[0].hint,
    )


def _as_current(test: Callable[..., Any], subject: Any) -> Any:
    """``test(subject)`` with the course app current in this thread, as in the notebook.

    The code under test uses shared tasks, which resolve to the *current* app: a
    thread-local. A new thread falls back to the default app, which, when no embedded
    worker made the course app the default (redis mode), is Celery's own fallback app.
    """
    app.set_current()
    return test(subject)


@dataclass(frozen=True)
class Watch:
    """How every run of one exercise's test is watched, besides :func:`_watched`."""

    #: a context around each run, given its Seen (11.2: the real gateway's calls)
    around: Callable[[Seen], AbstractContextManager[Any]] | None = None
    #: whether a simulated gateway outage left in the store counts as left behind
    outage: bool = False


def _run(
    test: Callable[..., Any],
    subject: Any,
    label: str,
    prepare: Callable[[], None] | None = None,
    bug: Bug | None = None,
    watch: Watch | None = None,
    quick: bool = False,
) -> tuple[str | None, Seen, list[Left]]:
    """Run ``test(subject)``: None if it passed, else the error it raised, as text; what it
    did meanwhile; what it left behind (put back). A Fail if it never answers."""
    watch = watch or Watch()
    _never_stored.clear()
    if prepare is not None:
        prepare()
    seen = Seen()
    seen.users_before = set(store().hkeys(users.USERS_KEY))
    _ids_handed_out.clear()
    _signed_up_meanwhile.clear()
    box: dict[str, BaseException] = {}

    def target() -> None:
        seen.owners_before = [(owner, dict(vars(owner))) for owner in owners(app)]
        try:
            _as_current(test, subject)
        except BaseException as exc:  # the test failed: that is its job on a buggy version
            box["error"] = exc
            seen.skipped = _skip_kind(exc)

    during = bug.during if bug is not None else None
    with (
        _watched(seen, bug.rewrite if bug is not None else None, quick),
        during() if during is not None else nullcontext(),
        watch.around(seen) if watch.around is not None else nullcontext(),
    ):
        left = _left_watch(watch.outage, lambda: seen.real_gateway)
        thread = threading.Thread(target=target, name=THREAD_NAME, daemon=True)
        started = time.monotonic()
        thread.start()
        while True:
            thread.join(0.05)
            if not thread.is_alive():
                break
            now, until = time.monotonic(), seen.waiting_until
            if until is not None and now < min(until + WAIT_GRACE_SECONDS, started + MOST_SECONDS):
                continue  # inside a wait with a timeout of its own: it will end
            if now - started > HANG_SECONDS:
                # A wait with no deadline on an id nobody stores: REVOKED ends that wait.
                for task_id in _never_stored:
                    app.backend.mark_as_revoked(task_id, reason="check finished")
                thread.join(1.0)
                raise Fail(
                    f"your test was still running after {HANG_SECONDS:g} s on {label}: "
                    "it waits for something that never happens, with no deadline",
                    hint="give every wait a deadline: result.get(timeout=5), or a loop "
                    "that gives up after a few seconds",
                )
        seen.users_created = set(store().hkeys(users.USERS_KEY)) - seen.users_before
        found = left()
    error = box.get("error")
    return (None if error is None else error_text(error)), seen, found


def _waits(seen: Seen, error: str | None, name: str) -> None:
    """A Fail for a wait with no timeout, or one too short for a busy worker."""
    if None in seen.timeouts:
        raise Fail(
            "your test waits for the worker with no timeout (get() or wait() without "
            "timeout=): if the message is lost or no worker runs, it hangs for ever",
            hint="always wait with a timeout: result.get(timeout=5)",
        )
    if seen.spun is not None:
        looks, since = seen.spun
        raise Fail(
            f"your test reads the task's state {looks} times in {since:.2f} s while it waits "
            "(a polling loop with no pause): it keeps a core busy and floods the result "
            "backend, which the worker writes to, with reads",
            hint="wait with result.get(timeout=5), which pauses between its looks, or pause in "
            "your loop: time.sleep(0.1) between two looks, and a deadline",
        )
    if error is not None and seen.cut_short:
        shortest = min(seen.cut_short)
        raise Fail(
            f"your test gives the worker only {shortest:g} s (get(timeout={shortest:g})) and "
            f"fails on the correct {name} when the worker is busy: {error}",
            hint="give the worker a few seconds on a loaded machine: result.get(timeout=5)",
        )
    if error is not None and seen.early_looks:
        raise Fail(
            f"your test reads the task's result {seen.early_after:.1f} s after sending it "
            "without waiting for the worker's answer (a fixed time.sleep, however long, or a "
            f"polling loop with a short deadline) and fails on the correct {name} when the "
            f"worker is busy: {error}",
            hint="wait with result.get(timeout=5): it returns as soon as the worker answers, "
            "and gives a busy worker a few seconds",
        )


def _sent_under_mock(seen: Seen) -> None:
    """A Fail if the test sent a task through the broker while its mock was in place."""
    if not seen.sent_under_mock:
        return
    task, stand_ins = seen.sent_under_mock[0]
    raise Fail(
        f"your test sent {task.rsplit('.', 1)[-1]} through the broker (delay(), apply_async()) "
        f"while {', '.join(sorted(set(stand_ins)))} was mocked: only the embedded worker, a "
        "thread of this kernel, sees that mock; a worker process (redis mode) runs the real "
        "code and fails",
        hint="a test that mocks runs the task here, with apply(), while the mock is in place; "
        "or mock nothing and make the data the task needs (user = create_user(...))",
    )


@contextmanager
def _store_kept(*keys: str) -> Iterator[None]:
    """Put these keys of the store (strings and hashes) back as they were before."""
    db = store()
    before: dict[str, Any] = {}
    for key in keys:
        kind = db.type(key)
        before[key] = (
            db.hgetall(key) if kind == "hash" else db.get(key) if kind == "string" else None
        )
    try:
        yield
    finally:
        for key, value in before.items():
            db.delete(key)
            if isinstance(value, dict):
                if value:
                    db.hset(key, mapping=value)
            elif value is not None:
                db.set(key, value)


def _judge(
    test: Callable[..., Any],
    correct: Any,
    bugs: list[Bug],
    name: str,
    *,
    settings: list[Setting],
    conduct: Callable[[Seen, str | None], None] | None = None,
    manners: Callable[[Seen], None] | None = None,
    error_hints: dict[str, str] | None = None,
    kept: tuple[str, ...] = (),
    watch: Watch | None = None,
    eager_too: bool = False,
    failed_run: Callable[[Seen, str, str], None] | None = None,
    states: str = "",
) -> str:
    """Run the test on the correct code in every setting, then on each buggy version in
    every setting (that has ``bugs``); the store's ``kept`` keys are put back afterwards.

    ``conduct`` judges what the test did on the correct code at once (a mock left out);
    ``manners`` once the test has caught every bug (how it makes its failures), or when it
    fails on the correct code in one setting only (the real gateway, in an outage);
    ``failed_run(seen, error, label)`` what it did on a buggy version it caught (11.3: the
    buggy canvas sent to the worker before the check that fails).
    ``eager_too``: the correct code runs once more with ``task_always_eager`` on when the
    test starts (as an earlier cell may leave it), and the test must leave it on.
    ``states`` names what the settings are, for the verdict ("of the users table").
    """
    with _store_kept(*kept):
        return _judged(
            test,
            correct,
            bugs,
            name,
            settings,
            conduct,
            manners,
            error_hints or {},
            watch or Watch(),
            eager_too,
            failed_run,
            states,
        )


def _judged(
    test: Callable[..., Any],
    correct: Any,
    bugs: list[Bug],
    name: str,
    settings: list[Setting],
    conduct: Callable[[Seen, str | None], None] | None,
    manners: Callable[[Seen], None] | None,
    error_hints: dict[str, str],
    watch: Watch,
    eager_too: bool = False,
    failed_run: Callable[[Seen, str, str], None] | None = None,
    states: str = "",
) -> str:
    runs: list[tuple[Setting, str | None]] = []
    seens: list[Seen] = []

    def subject(code: Any, setting: Setting) -> Any:
        return setting.wrap(code) if setting.wrap is not None else code

    for setting in settings:
        label = f"the correct {name}{setting.where}"
        error, seen, left = _run(
            test,
            subject(correct, setting),
            label,
            setting.prepare,
            watch=watch,
            quick=setting.quick,
        )
        if conduct is not None:  # what it did wrong comes before what it left behind
            conduct(seen, error)
        _left_behind(left, error, label, correct=True)
        _sent_under_mock(seen)
        _waits(seen, error, name)
        if seen.skipped is not None:
            raise Fail(
                f"your test ends in {seen.skipped} on the correct {name}{setting.where}: a "
                "skipped test tests nothing, and passes on every buggy version too",
                hint=SKIP_HINT,
            )
        runs.append((setting, error))
        seens.append(seen)
    failed = [(setting, error) for setting, error in runs if error is not None]
    if failed:
        setting, error = failed[0]
        named = next(
            (hint for prefix, hint in error_hints.items() if error.startswith(prefix)),
            None,
        )
        if len(failed) < len(runs):  # it fails in this state only: the state is the news
            if manners is not None:  # unless how it tests explains it (the real gateway)
                for seen in seens:
                    manners(seen)
            seen = seens[next(i for i, (where, _) in enumerate(runs) if where is setting)]
            explained = setting.explain(seen) if setting.explain is not None else None
            raise Fail(
                f"your test fails on the correct {name}{setting.where}: {error}",
                hint=explained or setting.hint,
            )
        raise Fail(f"your test fails on the correct {name}: {error}", hint=named or GENERIC_HINT)
    buggy = [setting for setting in settings if setting.bugs]
    for bug in bugs:
        for setting in buggy:
            where = f",{setting.where}" if len(buggy) > 1 else ""
            label = f"a {name} that {bug.what}{where}"
            error, seen, left = _run(
                test,
                subject(bug.subject, setting),
                label,
                setting.prepare,
                bug,
                watch,
                quick=setting.quick,
            )
            _left_behind(left, error, label, correct=False)
            if seen.skipped is not None:
                raise Fail(
                    f"your test ends in {seen.skipped} on a buggy {name} that {bug.what}{where}"
                    ": under pytest a skipped or xfailed test does not fail, so the suite stays "
                    "green while the bug is there",
                    SKIP_HINT,
                )
            if error is None:
                if manners is not None:  # how it tests explains a miss better than the bug
                    for seen in seens:
                        manners(seen)
                hint = (bug.explain(seen) if bug.explain is not None else None) or bug.hint
                raise Fail(f"your test passed on a buggy {name} that {bug.what}{where}", hint)
            if failed_run is not None:
                failed_run(seen, error, label)
    if eager_too:
        # Eager mode switched on by an earlier cell: the test must leave it as it found it.
        setting = settings[-1]
        label = f"the correct {name}{setting.where}, with task_always_eager on when it started"
        before = app.conf.task_always_eager
        app.conf.task_always_eager = True
        try:
            error, _, left = _run(
                test, subject(correct, setting), label, setting.prepare, watch=watch
            )
        finally:
            app.conf.task_always_eager = before
        _left_behind(left, error, label, correct=False)
    if manners is not None:
        for seen in seens:
            manners(seen)
    where = f", {states}" if states else ""
    return f"passes on the correct {name}{where}, fails on all {len(bugs)} buggy versions"


# --------------------------------------------------------------------------- the users table


def _empty_users() -> None:
    """An empty users table: the next user is user 1 (a fresh kernel)."""
    store().delete(users.USERS_KEY, users.LAST_ID_KEY)


def _other_users() -> None:
    """Three users signed up before (ids 38 to 40, the last one Ada <ada@example.com>, as the
    test's own sign-up), and there is no user 1."""
    store().delete(users.USERS_KEY)
    store().set(users.LAST_ID_KEY, 37)
    for first in ("Grace", "Linus", "Ada"):
        # the last one as the test signs up: its own earlier runs leave such users behind
        users.create_user(first, f"{first.lower()}@example.com")


def _newest_deleted() -> None:
    """Users 38 to 40 in the table, and the newest users, 41 to 45, deleted since: the next
    user is user 46 (ids are never handed out twice)."""
    _other_users()
    store().set(users.LAST_ID_KEY, 45)


def _signing_up_meanwhile(code: Callable[..., Any]) -> Callable[..., Any]:
    """``code``, with another user signing up just before it runs and one just after (other
    requests served at the same time), noted in :data:`_signed_up_meanwhile`."""

    def other(name: str) -> None:
        user = users.create_user(name, f"{name.lower()}@example.com")
        _signed_up_meanwhile[str(user.id)] = store().hget(users.USERS_KEY, str(user.id))

    def call(*args: Any, **kwargs: Any) -> Any:
        other("Barbara")
        try:
            return code(*args, **kwargs)
        finally:
            other("Edsger")

    return _standing_in(call, code)


#: The users table (its rows and its id counter), which the settings above change.
USERS_TABLE = (users.USERS_KEY, users.LAST_ID_KEY)
FRESH_WHERE = " in an empty users table (a fresh kernel)"
USED_WHERE = (
    " when other users signed up before (users 38 to 40 in the table, ids 1 to 37 gone: "
    "the new user is user 41)"
)


# --------------------------------------------------------------------------- 11.1


def _signup_inline(name: str, email: str) -> dict[str, Any]:
    user = sut.create_user(name, email)
    sut.welcome(user.id)  # runs the mail here, in the request
    task_id = f"inline-{user.id}"
    _never_stored.append(task_id)
    return {"user_id": user.id, "task_id": task_id}


def _signup_object(name: str, email: str) -> dict[str, Any]:
    user = sut.create_user(name, email)
    result = sut.welcome.delay(user)
    return {"user_id": user.id, "task_id": result.id}


def _signup_twice(name: str, email: str) -> dict[str, Any]:
    user = sut.create_user(name, email)
    sut.welcome.delay(user.id)
    result = sut.welcome.delay(user.id)
    return {"user_id": user.id, "task_id": result.id}


def _signup_user_id_as_task_id(name: str, email: str) -> dict[str, Any]:
    user = sut.create_user(name, email)
    sut.welcome.delay(user.id)
    return {"user_id": user.id, "task_id": user.id}  # user 1 in a fresh table


def _signup_made_up_task_id(name: str, email: str) -> dict[str, Any]:
    user = sut.create_user(name, email)
    sut.welcome.delay(user.id)
    return {"user_id": user.id, "task_id": f"signup-{user.id}-welcome"}  # not the queued one


def _signup_result_as_task_id(name: str, email: str) -> dict[str, Any]:
    user = sut.create_user(name, email)
    result = sut.welcome.delay(user.id)
    return {"user_id": user.id, "task_id": result}  # the result object, not its id


def _signup_other_id(name: str, email: str) -> dict[str, Any]:
    user = sut.create_user(name, email)
    result = sut.welcome.delay(user.id - 1)  # the user before: an int, but not this one
    return {"user_id": user.id, "task_id": result.id}


def _signup_extra_argument(name: str, email: str) -> dict[str, Any]:
    user = sut.create_user(name, email)
    result = sut.welcome.delay(user.id, email=email)  # a TypeError on the worker
    return {"user_id": user.id, "task_id": result.id}


SIGNUP_BUGS = [
    Bug(
        _signup_inline,
        "sends the mail inline, welcome(user.id), instead of queueing it",
        "patch welcome.delay (mock.patch.object(welcome, 'delay')) and assert it was called",
    ),
    Bug(
        _signup_object,
        "queues the User object instead of its id",
        "assert which arguments were sent: delay.assert_called_once_with(response['user_id'])",
    ),
    Bug(
        _signup_twice,
        "queues the welcome mail twice",
        "assert it was queued exactly once: assert_called_once_with(...), not "
        "assert_called_with(...), which only looks at the last call",
    ),
    Bug(
        _signup_user_id_as_task_id,
        "answers with the user id where the task id belongs",
        "assert the answer carries the queued task's id: "
        "response['task_id'] == delay.return_value.id, an id no user can have (leave it to "
        "the mock: a task id fixed at 1 is also the first user's id)",
    ),
    Bug(
        _signup_made_up_task_id,
        "answers with a task id of its own making, not the queued task's",
        "assert the answer carries the queued task's id itself: "
        "response['task_id'] == delay.return_value.id, not only that it differs from the "
        "user id",
    ),
    Bug(
        _signup_result_as_task_id,
        "answers with the result object itself ({'task_id': result}, not JSON), not its id",
        "assert the answer carries the queued task's id itself: "
        "response['task_id'] == delay.return_value.id, not only that it came from the mock "
        "(isinstance(..., Mock)): the result object, or any of its attributes, is a mock too",
    ),
    Bug(
        _signup_other_id,
        "queues another user's id (user.id - 1), an int all the same (an earlier user, who "
        "may have the same name and address)",
        "assert the exact id that was sent, the new user's: "
        "delay.assert_called_once_with(response['user_id']), not a user looked up by it (an "
        "earlier sign-up with the same address passes that)",
    ),
    Bug(
        _signup_extra_argument,
        "queues an argument welcome does not take (welcome.delay(user.id, email=email))",
        "assert the whole call, every positional and keyword argument: "
        "delay.assert_called_once_with(response['user_id'])",
    ),
]

SIGNUP_SETTINGS = [
    Setting(FRESH_WHERE, _empty_users),
    Setting(
        USED_WHERE,
        _other_users,
        hint="the new user's id comes from the users table: compare with "
        "response['user_id'], not a number you expect or work out (1, the number of users), "
        "nor a user you look up by name or address (an Ada who signed up earlier has them "
        "too)",
    ),
    Setting(
        " when the newest users were deleted (users 38 to 40 in the table, users 41 to 45 "
        "deleted since: the new user is user 46)",
        _newest_deleted,
        hint="compare with the id signup answered, response['user_id'], not one you work out "
        "from the table before the call (the highest id + 1): the ids of deleted users are "
        "never handed out again",
    ),
    Setting(
        " while other users sign up at the same time (users 38 to 40 in the table; user 41 "
        "signs up just before your call, user 43 just after it: yours is user 42)",
        _other_users,
        hint="compare with the id signup answered, response['user_id']: an id worked out "
        "before the call (the id counter + 1) or read from the table after it (the newest "
        "user, all_users()[-1]) is another user's when someone signs up at the same time",
        wrap=_signing_up_meanwhile,
    ),
]


def _signup_conduct(seen: Seen, error: str | None) -> None:
    if sut.welcome.name in seen.sent:
        how = "sent the welcome mail through the broker for real"
    elif sut.welcome.name in seen.ran_eager_mode:
        how = "ran the welcome mail for real, here (eager mode)"
    else:
        return
    raise Fail(
        f"your test {how}: welcome.delay was not mocked",
        hint="patch it in the test: with mock.patch.object(welcome, 'delay') as delay: "
        "response = signup(...), then assert on delay",
    )


@exercise("11.1", "mock .delay in a web handler test", points=2)
def _(test_signup: Any) -> str:
    test = _need_test(test_signup, "signup")
    return _judge(
        test,
        _handing_out(sut.signup),
        [replace(bug, subject=_handing_out(bug.subject)) for bug in SIGNUP_BUGS],
        "signup",
        settings=SIGNUP_SETTINGS,
        conduct=_signup_conduct,
        kept=USERS_TABLE,
        states=f"in {len(SIGNUP_SETTINGS)} states of the users table",
    )


# --------------------------------------------------------------------------- 11.2


@app.task(bind=True, max_retries=3, name="course-check-11.charge-no-retry")
def _charge_no_retry(self: Any, order_id: int, cents: int) -> str:
    return sut.gateway_charge(order_id, cents)


def _charge_retrying(max_retries: int, name: str) -> Any:
    """The right charge task with another ``max_retries`` in its decorator."""

    @app.task(bind=True, max_retries=max_retries, name=f"course-check-11.{name}")
    def charge(self: Any, order_id: int, cents: int) -> str:
        try:
            return sut.gateway_charge(order_id, cents)
        except sut.GatewayDown as exc:
            raise self.retry(exc=exc, countdown=0.2) from exc

    return charge


def _charge_retry_call(max_retries: int, name: str) -> Any:
    """The decorator's ``max_retries=3`` as it should be, overridden in the retry() call."""

    @app.task(bind=True, max_retries=3, name=f"course-check-11.{name}")
    def charge(self: Any, order_id: int, cents: int) -> str:
        try:
            return sut.gateway_charge(order_id, cents)
        except sut.GatewayDown as exc:
            raise self.retry(exc=exc, countdown=0.2, max_retries=max_retries) from exc

    return charge


_charge_ten_retries = _charge_retrying(10, "charge-ten-retries")
_charge_two_retries = _charge_retrying(2, "charge-two-retries")
_charge_ten_in_retry = _charge_retry_call(10, "charge-ten-retries-in-retry-call")
_charge_two_in_retry = _charge_retry_call(2, "charge-two-retries-in-retry-call")


@app.task(bind=True, max_retries=3, name="course-check-11.charge-retries-declined")
def _charge_retries_declined(self: Any, order_id: int, cents: int) -> str:
    try:
        return sut.gateway_charge(order_id, cents)
    except (sut.GatewayDown, sut.CardDeclined) as exc:
        raise self.retry(exc=exc, countdown=0.2) from exc


@app.task(bind=True, max_retries=3, name="course-check-11.charge-gives-up-quietly")
def _charge_gives_up(self: Any, order_id: int, cents: int) -> str | None:
    try:
        return sut.gateway_charge(order_id, cents)
    except sut.GatewayDown as exc:
        if self.request.retries >= self.max_retries:
            return None  # the order stays unpaid and nobody hears of it
        raise self.retry(exc=exc, countdown=0.2) from exc


@app.task(bind=True, max_retries=3, name="course-check-11.charge-own-receipt")
def _charge_own_receipt(self: Any, order_id: int, cents: int) -> str:
    try:
        sut.gateway_charge(order_id, cents)
    except sut.GatewayDown as exc:
        raise self.retry(exc=exc, countdown=0.2) from exc
    return f"charged-{order_id}"  # a receipt of its own making, not the gateway's


@app.task(bind=True, max_retries=3, name="course-check-11.charge-made-up-receipt")
def _charge_made_up_receipt(self: Any, order_id: int, cents: int) -> str:
    try:
        sut.gateway_charge(order_id, cents)
    except sut.GatewayDown as exc:
        raise self.retry(exc=exc, countdown=0.2) from exc
    return f"rcpt-{order_id}-{cents}"  # the real gateway's format, made up here


@app.task(bind=True, max_retries=3, name="course-check-11.charge-no-receipt")
def _charge_no_receipt(self: Any, order_id: int, cents: int) -> None:
    try:
        sut.gateway_charge(order_id, cents)  # the receipt is dropped: no return
    except sut.GatewayDown as exc:
        raise self.retry(exc=exc, countdown=0.2) from exc


@app.task(bind=True, max_retries=3, name="course-check-11.charge-probes-on-retry")
def _charge_probes(self: Any, order_id: int, cents: int) -> str:
    try:
        if self.request.retries:  # a retry: is the gateway back? a test charge of 0 cents first
            sut.gateway_charge(order_id, 0)
        return sut.gateway_charge(order_id, cents)
    except sut.GatewayDown as exc:
        raise self.retry(exc=exc, countdown=0.2) from exc


def _outage_ran_out(seen: Seen) -> str | None:
    """The hint for a test whose gateway that 'never recovers' stops being an outage at the
    4th call (a list of answers ending in a decline, a receipt), if it is one."""
    ends = [
        kind
        for retries, state, kind in seen.runs_ended
        if retries >= 3 and state == states.FAILURE and kind != sut.GatewayDown.__name__
    ]
    if not ends:
        return None
    return (
        "make the gateway that never recovers an outage at every call, "
        "side_effect=GatewayDown('down'), not a list of answers whose 4th is a "
        f"{ends[0]} ([GatewayDown()] * 3 + [...]): a task that would retry a 4th time gets "
        "that answer instead of an outage, and fails with 4 calls as the right one does"
    )


TEN_RETRIES = (
    "when the gateway never recovers, assert how often it was called: "
    "1 try + 3 retries = 4 (gateway.call_count == 4)"
)
EXACT_CALLS = (
    "when the gateway never recovers, assert the exact number of calls, not a range: "
    "1 try + 3 retries = 4 (gateway.call_count == 4)"
)
COUNT_WRITTEN_OUT = (
    ", the 4 written out: a count taken from the code under test (charge.max_retries + 1) "
    "agrees with a wrong max_retries"
)
TEN_RETRIES_HINT = TEN_RETRIES + COUNT_WRITTEN_OUT
EXACT_CALLS_HINT = EXACT_CALLS + COUNT_WRITTEN_OUT
COUNT_NOT_ATTRIBUTE = (
    ", not charge.max_retries: a self.retry(max_retries=...) call overrides the decorator's"
)

CHARGE_BUGS = [
    Bug(
        _charge_no_retry,
        "never retries",
        "make the gateway fail, then recover (mock side_effect=[GatewayDown(), GatewayDown(), "
        "'rcpt']) and assert the task still ends in SUCCESS",
    ),
    Bug(
        _charge_ten_retries,
        "retries 10 times instead of 3",
        TEN_RETRIES_HINT,
        explain=_outage_ran_out,
    ),
    Bug(_charge_two_retries, "gives up after 2 retries instead of 3", EXACT_CALLS_HINT),
    Bug(
        _charge_ten_in_retry,
        "retries 10 times instead of 3 (self.retry(exc=exc, max_retries=10); the decorator "
        "still says max_retries=3)",
        TEN_RETRIES + COUNT_NOT_ATTRIBUTE,
        explain=_outage_ran_out,
    ),
    Bug(
        _charge_two_in_retry,
        "gives up after 2 retries instead of 3 (self.retry(exc=exc, max_retries=2); the "
        "decorator still says max_retries=3)",
        EXACT_CALLS + COUNT_NOT_ATTRIBUTE,
    ),
    Bug(
        _charge_retries_declined,
        "retries a declined card too",
        "a CardDeclined is final: assert the gateway was called once and the task FAILED",
    ),
    Bug(
        _charge_gives_up,
        "ends in SUCCESS with None when the retries run out",
        "when the gateway never recovers, assert result.state == 'FAILURE'",
    ),
    Bug(
        _charge_no_receipt,
        "drops the receipt (a charge that gets through ends in SUCCESS with None)",
        "test the recovery: a gateway that fails, then answers (side_effect=[GatewayDown(), "
        "GatewayDown(), 'rcpt-1']), and assert SUCCESS with that receipt after 3 calls",
    ),
    Bug(
        _charge_probes,
        "makes a test charge of 0 cents on every retry before the real one (is the gateway "
        "back?): a charge that gets through on a retry calls the gateway once more, and fails "
        "when the gateway answers only once",
        "test the recovery the text asks for: a gateway that fails, then answers "
        "(side_effect=[GatewayDown(), GatewayDown(), 'rcpt-1']), and assert SUCCESS with that "
        "receipt after 3 calls; a charge that gets through at the first call never retries",
    ),
    Bug(
        _charge_own_receipt,
        "answers with a receipt of its own making ('charged-1'), not the gateway's",
        "compare the result with the exact receipt your mock gave: result.result == 'rcpt-1', "
        "not only that there is one",
    ),
    Bug(
        _charge_made_up_receipt,
        "makes up its own receipt in the real gateway's format (f'rcpt-{order_id}-{cents}', "
        "'rcpt-1-500' for charge(1, 500)), not the gateway's",
        "let your mock answer a receipt the task cannot work out from its arguments "
        "('rcpt-test', not 'rcpt-1-500'), and compare the result with it exactly",
    ),
]

OUTAGE_HINT = (
    "mock the gateway with side_effect=[GatewayDown(), ...] instead of an outage in the "
    "store: nothing is left behind when the with block ends, even when an assertion fails"
)
MOCK_EVERY_CASE = (
    "make every gateway answer with your mock: side_effect=[GatewayDown(), GatewayDown(), "
    "'rcpt-1'] for a recovery, side_effect=GatewayDown('down') for a gateway that never "
    "recovers, side_effect=CardDeclined('declined') for a declined card"
)


def _outage() -> int:
    """How many more charges the simulated gateway fails (0: it is up)."""
    try:
        return max(int(store().get(sut.GATEWAY_DOWN_KEY) or 0), 0)
    except ValueError:
        return 0


def _no_outage() -> None:
    store().delete(sut.GATEWAY_DOWN_KEY)


#: An outage an earlier cell left in the store (gateway_down(5)): the worker's next charges fail.
OUTAGE_LEFT = 5


def _outage_left() -> None:
    store().set(sut.GATEWAY_DOWN_KEY, OUTAGE_LEFT)


CHARGE_SETTINGS = [
    Setting("", _no_outage),
    Setting(
        f" with the gateway left down by an earlier cell (gateway_down({OUTAGE_LEFT}): the "
        "store, which the worker shares, says its next 5 charges fail)",
        _outage_left,
        hint=MOCK_EVERY_CASE,
        bugs=False,
    ),
]


def _is_gateway(code: Any) -> bool:
    return code.co_name == "gateway_charge" and code.co_filename == sut.__file__


@contextmanager
def _gateway_watched(seen: Seen) -> Iterator[None]:
    """Meanwhile, record in ``seen`` when the real ``gateway_charge`` runs in the test's
    thread, and whether it found a simulated outage in the store.

    It is seen from inside: ``gateway_charge`` reads the outage through the signup module's
    ``store``, whoever calls it (a spy with ``wraps=``, the function imported by name, the
    task itself with no mock).
    """
    real = sut.store
    left_down = _outage() > 0  # by an earlier cell (the check's setting), not by the test

    def store_seen() -> Any:
        client = real()
        if _in_test() and _is_gateway(sys._getframe(1).f_code):
            seen.real_gateway = True
            if _outage() > 0 and not left_down:
                seen.outage_used = True
        return client

    def ended(task: Any = None, state: Any = None, retval: Any = None, **kwargs: Any) -> None:
        if task is not None and _in_test():
            seen.runs_ended.append(
                (int(task.request.retries or 0), str(state), type(retval).__name__)
            )

    sut.store = store_seen
    task_postrun.connect(ended, weak=False)
    try:
        yield
    finally:
        task_postrun.disconnect(ended)
        sut.store = real


def _charge_conduct(seen: Seen, error: str | None) -> None:
    if sut.charge.name in seen.sent:
        raise Fail(
            "your test sent charge to the worker (delay() or apply_async()) instead of running "
            "it here: a worker process (redis mode) never sees your mock and calls the real "
            "gateway; only the embedded worker shares this kernel",
            hint="run it here with the mock in place: result = charge.apply(args=(1, 500)); "
            "the retries run here too, and result.state is there at once",
        )
    if sut.charge.name in seen.ran_eager_mode:
        raise Fail(
            "your test runs charge with task_always_eager switched on on the course's shared "
            "app: while it is on, every delay() in this kernel runs inline, other cells' and "
            "the embedded worker's own too, and the text asks for charge.apply(args=(...))",
            hint="leave task_always_eager alone and run the task here with the mock in place: "
            "result = charge.apply(args=(1, 500))",
        )


def _charge_manners(seen: Seen) -> None:
    if seen.outage_used:
        raise Fail(
            "your test makes the gateway fail with a simulated outage in the store "
            "(gateway_down(...)): the worker shares that store, so while the outage lasts "
            "every charge there fails too (and takes failures meant for your test), and an "
            "assertion that fails before your cleanup leaves the outage behind",
            hint=MOCK_EVERY_CASE,
        )
    if seen.real_gateway:
        raise Fail(
            "your test calls the real gateway_charge (a spy with wraps=, or no mock): what it "
            "answers depends on the simulated outage in the store, which the worker shares, "
            "so your test fails whenever an earlier cell or another test left the gateway down",
            hint=MOCK_EVERY_CASE,
        )


@exercise("11.2", "test retries deterministically", points=2)
def _(test_charge: Any) -> str:
    test = _need_test(test_charge, "charge")
    return _judge(
        test,
        sut.charge,
        CHARGE_BUGS,
        "charge task",
        settings=CHARGE_SETTINGS,
        conduct=_charge_conduct,
        manners=_charge_manners,
        kept=(sut.GATEWAY_DOWN_KEY,),
        watch=Watch(around=_gateway_watched, outage=True),
        states="with the gateway up and with an outage an earlier cell left in the store",
    )


# --------------------------------------------------------------------------- 11.3


def _onboarding_s(user_id: int) -> Any:
    return chain(
        sut.create_profile.s(user_id), sut.welcome.s(user_id), sut.suggest_follows.s(user_id)
    )


def _onboarding_last_s(user_id: int) -> Any:
    return chain(
        sut.create_profile.si(user_id), sut.welcome.si(user_id), sut.suggest_follows.s(user_id)
    )


def _onboarding_order(user_id: int) -> Any:
    return chain(
        sut.welcome.si(user_id), sut.create_profile.si(user_id), sut.suggest_follows.si(user_id)
    )


def _onboarding_missing(user_id: int) -> Any:
    return chain(sut.create_profile.si(user_id), sut.welcome.si(user_id))


def _onboarding_missing_middle(user_id: int) -> Any:
    return chain(sut.create_profile.si(user_id), sut.suggest_follows.si(user_id))


def _onboarding_twice(user_id: int) -> Any:
    return chain(
        sut.create_profile.si(user_id),
        sut.welcome.si(user_id),
        sut.welcome.si(user_id),
        sut.suggest_follows.si(user_id),
    )


def _onboarding_last_twice(user_id: int) -> Any:
    return chain(
        sut.create_profile.si(user_id),
        sut.welcome.si(user_id),
        sut.suggest_follows.si(user_id),
        sut.suggest_follows.si(user_id),
    )


def _onboarding_other_user(user_id: int) -> Any:
    return chain(
        sut.create_profile.si(user_id + 1), sut.welcome.si(user_id), sut.suggest_follows.si(user_id)
    )


def _onboarding_welcome_other_user(user_id: int) -> Any:
    # the user who signed up before: there is one when others signed up before
    return chain(
        sut.create_profile.si(user_id), sut.welcome.si(user_id - 1), sut.suggest_follows.si(user_id)
    )


def _onboarding_last_other_user(user_id: int) -> Any:
    return chain(
        sut.create_profile.si(user_id), sut.welcome.si(user_id), sut.suggest_follows.si(user_id - 1)
    )


def _onboarding_group(user_id: int) -> Any:
    return group(
        sut.create_profile.si(user_id), sut.welcome.si(user_id), sut.suggest_follows.si(user_id)
    )


def _suggest_follows_broken(
    answer: Callable[[int], dict[str, Any]],
) -> Callable[[], AbstractContextManager[None]]:
    """A context in which the chain's last step, ``suggest_follows``, answers ``answer(user_id)``
    (the steps of the canvas are the right ones: a bug in the task's body).

    Run here (``flow.apply()``), the task's body is swapped; run on the worker
    (``flow.delay()``), the answer the test reads for the chain's result (``get()``,
    ``result``, ``info``) is the buggy one, as a broken body on the worker would give.
    """

    @contextmanager
    def broken() -> Iterator[None]:
        task = app.tasks[sut.suggest_follows.name]
        before = vars(task).get("run")
        sent: dict[str, Any] = {}  # id of a chain's result the test sent -> the buggy answer
        chain_send = _chain.apply_async
        real_get, real_meta = AsyncResult.get, AsyncResult._get_task_meta

        def run(user_id: int) -> dict[str, Any]:
            return answer(user_id)

        def send(self: Any, *args: Any, **kwargs: Any) -> Any:
            result = chain_send(self, *args, **kwargs)
            last = self.tasks[-1] if getattr(self, "tasks", None) else None
            if result is not None and last is not None and last.task == task.name and last.args:
                sent[result.id] = answer(last.args[0])
            return result

        def get(self: Any, *args: Any, **kwargs: Any) -> Any:
            value = real_get(self, *args, **kwargs)
            return sent.get(self.id, value) if _in_test() else value

        def meta(self: Any) -> Any:
            found = real_meta(self)
            if (
                _in_test()
                and self.id in sent
                and isinstance(found, dict)
                and found.get("status") == states.SUCCESS
            ):
                return {**found, "result": sent[self.id]}
            return found

        task.run = run
        _chain.apply_async = send  # type: ignore[method-assign]
        AsyncResult.get, AsyncResult._get_task_meta = get, meta  # type: ignore[method-assign]
        try:
            yield
        finally:
            AsyncResult.get, AsyncResult._get_task_meta = real_get, real_meta  # type: ignore[method-assign]
            _chain.apply_async = chain_send  # type: ignore[method-assign]
            if before is None:
                del task.run
            else:
                task.run = before

    return broken


def _follows_for_other_user(user_id: int) -> dict[str, Any]:
    return {"user_id": user_id - 1, "step": "suggestions"}


def _follows_wrong_step(user_id: int) -> dict[str, Any]:
    return {"user_id": user_id, "step": "welcome"}


RUN_RESULT_HINT = (
    "run the canvas and compare what the run returns with the whole value you expect, "
    "flow.apply().get() == {'user_id': user.id, 'step': 'suggestions'}: successful(), or "
    "one key of it, passes a last step that answers wrongly"
)

ALL_STEPS_HINT = (
    "compare the whole list of steps, in order, with ==: [step.task for step in flow.tasks] "
    "== [...] (all three, nothing more; zip() stops at the shorter list), not the first and "
    "last only"
)
EACH_ARGUMENT_HINT = (
    "compare each step's arguments with your user's id: [(step.task, step.args) for step "
    "in flow.tasks] == [(name, (user.id,)) for name in ...]"
)

ONBOARDING_BUGS = [
    Bug(
        _onboarding_s,
        "chains the steps with .s(user_id), as guide 002 does",
        "with .s each step also gets the previous result: run the chain "
        "(flow.apply().get()) or assert every step is immutable (step.immutable)",
    ),
    Bug(
        _onboarding_order,
        "sends the welcome mail before the profile exists",
        "compare the steps in order: [step.task for step in flow.tasks] == [...], not as a set, "
        "and with the names written out, not with another onboarding(...)'s steps: the code "
        "under test compared with itself always agrees",
    ),
    Bug(
        _onboarding_missing,
        "leaves out suggest_follows",
        "assert all three steps, or the last step's result: flow.apply().get() == "
        "{'user_id': ..., 'step': 'suggestions'}",
    ),
    Bug(
        _onboarding_missing_middle, "leaves out the welcome mail (the middle step)", ALL_STEPS_HINT
    ),
    Bug(_onboarding_twice, "sends the welcome mail twice (a step too many)", ALL_STEPS_HINT),
    Bug(
        _onboarding_other_user,
        "creates the profile of another user (create_profile.si(user_id + 1))",
        EACH_ARGUMENT_HINT,
    ),
    Bug(
        _onboarding_group,
        "builds a group (all at once) instead of a chain",
        "a group has .tasks too: run it (flow.apply().get() is the last step's result for a "
        "chain, a list for a group) or assert type(flow).__name__ == '_chain', written out: "
        "a kind taken from the code under test, type(onboarding(...)), is the group again",
    ),
    Bug(
        _onboarding_last_twice,
        "suggests follows twice (the last step repeated at the end)",
        ALL_STEPS_HINT,
    ),
    Bug(
        _onboarding_welcome_other_user,
        "mails the welcome to the user who signed up before (welcome.si(user_id - 1), the "
        "middle step)",
        EACH_ARGUMENT_HINT,
    ),
    Bug(
        _onboarding_last_other_user,
        "suggests follows to the user who signed up before (suggest_follows.si(user_id - 1), "
        "the last step)",
        EACH_ARGUMENT_HINT,
    ),
    Bug(
        _onboarding_last_s,
        "chains the last step with .s(user_id) (the others with .si)",
        "assert every step is immutable (step.immutable), or read the run's result: "
        "flow.apply().get() == {...} (a step that fails does not raise until you get() it)",
    ),
    Bug(
        sut.onboarding,
        "has the right three steps, but its last step, suggest_follows, answers for the user "
        "who signed up before ({'user_id': user_id - 1, ...})",
        RUN_RESULT_HINT,
        during=_suggest_follows_broken(_follows_for_other_user),
    ),
    Bug(
        sut.onboarding,
        "has the right three steps, but its last step, suggest_follows, answers with another "
        "step's name ({'user_id': user_id, 'step': 'welcome'})",
        RUN_RESULT_HINT,
        during=_suggest_follows_broken(_follows_wrong_step),
    ),
]

KEPT_USER_HINT = (
    "create the user your test needs in the test, every time it runs (user = "
    "create_user(...)), and use its id, user.id: a user kept from an earlier run (in a "
    "global) is not in this table, and may be someone else by now"
)
CREATE_THE_USER = (
    "create the user your test needs: user = create_user('Ada', 'ada@example.com'), then "
    "onboarding(user.id): users made by earlier cells are not there in a fresh kernel"
)

ONBOARDING_SETTINGS = [
    Setting(FRESH_WHERE, _empty_users, hint=CREATE_THE_USER),
    Setting(
        USED_WHERE,
        _other_users,
        hint="use the id of the user your test creates: user = create_user(...), "
        "onboarding(user.id), and compare with user.id, not 1",
        explain=lambda seen: None if seen.users_created else KEPT_USER_HINT,
    ),
]

ONBOARDING_STEPS = {sut.create_profile.name, sut.welcome.name, sut.suggest_follows.name}


def _onboarding_conduct(seen: Seen, error: str | None) -> None:
    ran = ONBOARDING_STEPS & {*seen.ran_here, *seen.sent}
    first = sut.create_profile.name
    runs = seen.ran_here.count(first) + seen.sent.count(first)
    if runs > 1:
        raise Fail(
            f"your test runs the canvas {runs} times (flow.apply() and flow.delay(), or a "
            "step again): every run mails the user once more, and the text asks for one run",
            hint="run the canvas itself once, here with flow.apply().get() or on the worker "
            "with flow.delay().get(timeout=5), and check that run's result",
        )
    theirs = sorted(
        {
            args[0]
            for name, args in [*seen.ran_args, *((n, a) for n, a, _ in seen.published.values())]
            if name in ONBOARDING_STEPS and args and str(args[0]) in seen.users_before
        },
        key=str,
    )
    if theirs:
        raise Fail(
            f"your test runs the canvas for user {theirs[0]}, who was in the table before "
            "it started: it mails a user it did not create and depends on what earlier cells "
            "left behind",
            hint="create the user your test needs every time, even when the table has users: "
            "user = create_user('Ada', 'ada@example.com'), then onboarding(user.id)",
        )
    again = [step for step in seen.alone if step in ONBOARDING_STEPS]
    if seen.chain_runs and again:
        step = again[0].rsplit(".", 1)[-1]
        raise Fail(
            f"your test runs the canvas, and {step} again on its own (a step's apply() or "
            f"delay()): the text asks for one run of the canvas and a check of what that run "
            f"returns; {step} run again answers for itself, not for the chain, and runs once "
            "more for the user",
            hint="check the run's own result: assert flow.apply().get() == "
            "{'user_id': user.id, 'step': 'suggestions'} (a chain's result is its last "
            "step's answer in that run)",
        )
    if error is None and ran and not seen.chain_runs:
        raise Fail(
            "your test runs the steps one by one (step.apply(), step.delay()), never the chain "
            "itself: a chain passes each step's result on and stops at a failing step, which "
            "steps run on their own never show",
            hint="run the chain once, as onboarding returns it: flow.apply().get() == "
            "{'user_id': user.id, 'step': 'suggestions'}",
        )
    if error is None and not ran:
        raise Fail(
            "your test never runs the chain: it checks how the canvas is built, not what "
            "it does when it runs",
            hint="run it once, here: flow.apply().get() == "
            "{'user_id': user.id, 'step': 'suggestions'}",
        )


def _onboarding_failed_run(seen: Seen, error: str, label: str) -> None:
    """A Fail if the test sent the canvas to the worker, then failed without waiting for it."""
    if any(name in ONBOARDING_STEPS for name in seen.unwaited):
        raise Fail(
            "your test sends the canvas to the worker (flow.delay()) before it checks it, then "
            f"fails on {label} without waiting for that run ({error}): the buggy canvas runs "
            "on the worker all the same, for real (a profile, a welcome mail, for whichever "
            "user its steps name), after your test has ended",
            hint="check the canvas first (its kind, every step with its arguments), then run it "
            "once and wait for that run: flow.apply().get(), or flow.delay().get(timeout=5)",
        )


@exercise("11.3", "test a canvas", points=2)
def _(test_onboarding: Any) -> str:
    test = _need_test(test_onboarding, "onboarding")
    return _judge(
        test,
        sut.onboarding,
        ONBOARDING_BUGS,
        "onboarding",
        settings=ONBOARDING_SETTINGS,
        conduct=_onboarding_conduct,
        error_hints={"UserNotFound": CREATE_THE_USER},
        kept=USERS_TABLE,
        eager_too=True,
        failed_run=_onboarding_failed_run,
        states=f"in {len(ONBOARDING_SETTINGS)} states of the users table",
    )


# --------------------------------------------------------------------------- 11.4


def _tag_post_set(post_id: int, tags: list[str]) -> Any:
    return sut.index_tags.delay(post_id, set(tags))  # de-duplicated early: a set


def _tag_post_inline(post_id: int, tags: list[str]) -> Any:
    result = sut.index_tags.apply(args=(post_id, list(tags)))
    _never_stored.append(result.id)
    return result


def _tag_post_lost(post_id: int, tags: list[str]) -> Any:
    task_id = f"lost-{uuid.uuid4()}"  # a message no worker ever gets: never answered
    _never_stored.append(task_id)
    return app.AsyncResult(task_id)


def _tag_post_lost_stale_row(post_id: int, tags: list[str]) -> Any:
    """A message lost, in a store where an earlier, correct run left this post's row: the
    right tags are in ``post-tags`` though no worker ran this one."""
    store().hset(POST_TAGS_KEY, str(post_id), json.dumps(sorted({str(t).lower() for t in tags})))
    return _tag_post_lost(post_id, tags)


def _tag_post_first_only(post_id: int, tags: list[str]) -> Any:
    return sut.index_tags.delay(post_id, list(tags)[:1])


def _index_tags_broken(body: Callable[[list[str]], list[str]]) -> Callable[[], Iterator[None]]:
    """A context in which ``index_tags`` run in this process returns ``body(tags)``.

    With the same body on the worker (a tag_post that sends only what that body keeps, or
    :func:`_worker_index_tags` rewriting the worker's answer), the task gives the same wrong
    answer wherever it runs, as a bug in its body would: a test that computes its expected
    value with ``index_tags.run(...)``, ``index_tags(...)`` or ``index_tags.apply(...)``
    agrees. (The embedded worker keeps the body it was started with.)
    """

    @contextmanager
    def broken() -> Iterator[None]:
        task = app.tasks[sut.index_tags.name]
        real = task.run
        before = vars(task).get("run")

        def run(post_id: int, tags: list[str]) -> list[str]:
            real(post_id, list(tags))  # the post-tags hash as the real one writes it
            return body(list(tags))

        task.run = run
        try:
            yield
        finally:
            if before is None:
                del task.run
            else:
                task.run = before

    return broken


def _worker_index_tags(body: Callable[[list[str]], list[str]]) -> Rewrite:
    """The worker's answer to an ``index_tags`` the test sent, as ``body`` would give it."""

    def rewrite(name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        if name != sut.index_tags.name:
            return KEEP
        tags = args[1] if len(args) > 1 else kwargs.get("tags")
        return body(list(tags)) if isinstance(tags, (list, tuple)) else KEEP

    return rewrite


def _first_only(tags: list[str]) -> list[str]:
    return sorted({tag.lower() for tag in tags[:1]})


def _not_lowered(tags: list[str]) -> list[str]:
    return sorted(set(tags))


def _duplicates_kept(tags: list[str]) -> list[str]:
    return sorted(tag.lower() for tag in tags)


def _unsorted(tags: list[str]) -> list[str]:
    return list(dict.fromkeys(tag.lower() for tag in tags))


def _answers_nothing(name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """The worker's answer to an index_tags the test sent: an empty list (the post-tags row
    in the store is written right all the same)."""
    return [] if name == sut.index_tags.name else KEEP


def _clear_post_tags() -> None:
    """No post-tags row left by an earlier run: a test reads only what this run wrote."""
    store().delete(POST_TAGS_KEY)
    _tags_passed.clear()


#: the types of the ``tags`` the test passed to the correct tag_post, in this run
_tags_passed: list[type] = []


def _tags_typed(code: Callable[..., Any]) -> Callable[..., Any]:
    """``code``, recording the type of the tags the test passes it."""

    def call(post_id: Any, tags: Any, *args: Any, **kwargs: Any) -> Any:
        _tags_passed.append(type(tags))
        return code(post_id, tags, *args, **kwargs)

    return call


def _tag_post_conduct(seen: Seen, error: str | None) -> None:
    unordered = [kind for kind in _tags_passed if issubclass(kind, (set, frozenset))]
    if unordered:
        raise Fail(
            f"your test passes tag_post its tags as a {unordered[0].__name__}: their order is "
            "the set's hash order, which changes from one kernel to the next, so whether they "
            "come out of order (and your test can catch an index_tags that does not sort) is "
            "left to chance",
            hint="pass a list in an order you choose, mixed case, a duplicate, out of order: "
            "tag_post(7, ['Redis', 'celery', 'redis'])",
        )


POST_TAGS_KEY = "post-tags"


def _broken_index_tags(body: Callable[[list[str]], list[str]], what: str, hint: str) -> Bug:
    """The correct tag_post, with an ``index_tags`` whose body is ``body`` on the worker and
    here alike."""
    return Bug(
        sut.tag_post,
        f"queues an index_tags that {what} (on the worker and in your test alike)",
        hint,
        during=_index_tags_broken(body),
        rewrite=_worker_index_tags(body),
    )


TAG_BUGS = [
    Bug(
        _tag_post_set,
        "sends the tags as a set (fine with apply(), EncodeError when sent)",
        "run it for real, through the worker: call tag_post(...) and get(timeout=5); "
        "apply(), a direct call or a mocked delay never serialize the arguments",
    ),
    Bug(
        _tag_post_inline,
        "runs the task inline with apply() instead of queueing it",
        "assert the result went through the worker: after get(), "
        "app.AsyncResult(result.id).state == 'SUCCESS' (an eager run stores nothing)",
    ),
    Bug(
        sut.tag_post,
        "queues an index_tags that stores the right row in the store but returns an empty list",
        "compare the list the worker returns, result.get(timeout=5) == ['celery', 'redis']: "
        "the task's answer is what the test is about, not the post-tags row in the store",
        rewrite=_answers_nothing,
    ),
    Bug(
        _tag_post_lost,
        "never gets an answer from a worker (the message is lost: the task stays PENDING)",
        "give every wait a deadline: result.get(timeout=5), or a polling loop that gives up "
        "after a few seconds; a loop on result.ready() with no deadline waits for ever",
    ),
    Bug(
        _tag_post_lost_stale_row,
        "never gets an answer from a worker (the message is lost), in a store where an "
        "earlier run left the post's row with the right tags",
        "a TimeoutError must fail the test: don't catch it and read the post-tags row in the "
        "store instead (an earlier run leaves the right row there), compare the worker's "
        "answer, result.get(timeout=5) == ['celery', 'redis']",
    ),
    Bug(
        _tag_post_first_only,
        "sends only the first tag",
        "send two or more distinct tags (['Redis', 'celery', 'redis']: 'Redis' and 'REDIS' are "
        "one tag) and compare the worker's result exactly, == ['celery', 'redis'], not only "
        "the state",
    ),
    Bug(
        _tag_post_first_only,
        "queues an index_tags broken to keep only the first tag (on the worker and in your "
        "test alike)",
        "write out the value you expect, ['celery', 'redis'] (lower case, no duplicates, "
        "sorted): an expected value computed with index_tags itself agrees with a broken "
        "index_tags",
        during=_index_tags_broken(_first_only),
    ),
    _broken_index_tags(
        _not_lowered,
        "never lower-cases the tags",
        "send tags that need all of it, mixed case, a duplicate, out of order "
        "(tag_post(7, ['Redis', 'celery', 'redis'])), and compare the exact list, "
        "== ['celery', 'redis']: tags that are clean already come back the same from an "
        "index_tags that does nothing",
    ),
    _broken_index_tags(
        _duplicates_kept,
        "keeps duplicates",
        "compare the exact list, == ['celery', 'redis'], with a duplicate among the tags you "
        "send ('Redis' and 'redis'): set(...) of the result, or tags without a duplicate, "
        "cannot show one kept",
    ),
    _broken_index_tags(
        _unsorted,
        "does not sort the tags",
        "compare the exact list, in order, == ['celery', 'redis'], with tags whose lower-cased "
        "first occurrences are out of order (['Redis', 'celery', 'redis']: 'redis' before "
        "'celery'; ['Celery', 'redis', 'Redis'] is in order already once lower-cased); "
        "set(...) or sorted(...) of the result cannot show the order either",
    ),
]


#: time.sleep as it was when this module was imported (the check's own waits, not the test's)
_sleep = time.sleep
#: The most a quick worker takes to finish a task (a loaded machine): only a task that is
#: lost takes this long, and no buggy version runs in that state.
QUICK_AT_MOST_SECONDS = 30.0


def _finished_first(code: Callable[..., Any]) -> Callable[..., Any]:
    """``code``, returning only once the worker has finished the task it sent (a quick
    worker: done before the test's next line)."""

    def call(*args: Any, **kwargs: Any) -> Any:
        result = code(*args, **kwargs)
        task_id = getattr(result, "id", None)
        if (
            isinstance(result, AsyncResult)
            and not isinstance(result, EagerResult)
            and task_id
            and task_id not in _never_stored
        ):
            until = time.monotonic() + QUICK_AT_MOST_SECONDS
            while time.monotonic() < until:
                with contextlib.suppress(Exception):
                    if app.backend.get_task_meta(task_id)["status"] in states.READY_STATES:
                        break
                _sleep(0.01)
        return result

    return call


QUICK_WHERE = (
    " when the worker is quick (the task done before your test's next line, as a worker on "
    "a fast machine does)"
)
QUICK_HINT = (
    "don't assert what the worker has not done yet (assert not result.ready()): a worker can "
    "finish before your next line; wait with result.get(timeout=5), and tell a worker's run "
    "from an inline one by the stored state, app.AsyncResult(result.id).state == 'SUCCESS'"
)
TAG_SETTINGS = [
    Setting("", _clear_post_tags),
    Setting(
        QUICK_WHERE, _clear_post_tags, hint=QUICK_HINT, wrap=_finished_first, quick=True, bugs=False
    ),
]


@exercise("11.4", "a test that a real worker would fail", points=2)
def _(test_tag_post: Any) -> str:
    test = _need_test(test_tag_post, "tag_post")
    return _judge(
        test,
        _tags_typed(sut.tag_post),
        TAG_BUGS,
        "tag_post",
        settings=TAG_SETTINGS,
        conduct=_tag_post_conduct,
        kept=(POST_TAGS_KEY,),
        states="with the worker busy and quick",
    )
