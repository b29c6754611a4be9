"""Checks of chapter 11's exercises (``solutions/11_testing_solutions.ipynb``): answers are tests.

Each exercise asks for one pytest test function that takes the code under test as its only
argument (in the notebook a fixture of that name provides the real one). The check calls the
learner's test on the correct code, where it must pass, then on buggy versions, where it
must fail (raise anything: an ``AssertionError``, the bug's own exception). A test that
passes on a buggy version gets the hint for the bug it missed.

The check also looks at what the test did while it ran (:func:`_watched`), not at how long it
took: the tasks it sent through the broker (11.1 must mock ``welcome.delay``, 11.2 must run the
task here with ``apply()``), the tasks it ran here (11.3 must run the chain, with ``apply()``
or through the worker; eager mode is no mock in 11.1), and every ``get()``/``wait()`` on a
task's handle with its timeout (a wait without one can hang for ever; a short one meets a
simulated busy worker, :data:`BUSY_SECONDS`). The correct code
runs in more than one state of the store: an empty users table (a fresh kernel) and one where
other users signed up before and there is no user 1, so that a test leaning on earlier data
or on id 1 shows. 11.2's test must not leave the simulated gateway down. The store's users
table and the gateway's outage are put back as they were after the check.

Only a test that never answers is timed (:data:`HANG_SECONDS`, while it is not inside a wait
with a timeout of its own).

* 11.1 ``check("11.1", test_signup)``: the web handler :func:`~course_tasks.tasks.signup.signup`
  with ``welcome.delay`` mocked; bugs: the mail sent inline, the user object sent instead of
  its id, the task queued twice, an answer without the queued task's id, another user's id,
  an argument the task does not take;
* 11.2 ``check("11.2", test_charge)``: retries of :func:`~course_tasks.tasks.signup.charge`,
  run with ``apply()`` and a mocked gateway; bugs: no retry, ``max_retries=10``,
  ``max_retries=2``, a declined card retried, a task that gives up quietly (SUCCESS with
  ``None``), a receipt never returned;
* 11.3 ``check("11.3", test_onboarding)``: the canvas
  :func:`~course_tasks.tasks.signup.onboarding`; bugs: ``.s`` instead of ``.si`` (guide 002),
  steps out of order, the last or the middle step missing, a step twice, a step with another
  user's id, a group instead of a chain;
* 11.4 ``check("11.4", test_tag_post)``: :func:`~course_tasks.tasks.signup.tag_post` against
  the real worker; bugs: tags sent as a set (fine with ``apply()``, ``EncodeError`` when sent),
  the task run inline with ``apply()``, tags dropped, and ``index_tags`` itself broken (on
  the worker and in the test's process alike: a test whose expected value comes from running
  ``index_tags`` agrees with it).
"""

from __future__ import annotations

import inspect
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass, field
from typing import Any

from celery import chain, group
from celery.exceptions import TimeoutError as CeleryTimeoutError
from celery.result import AsyncResult
from celery.signals import before_task_publish, task_prerun

from course_tasks.app import app
from course_tasks.checks import Fail, NotYet, exercise
from course_tasks.checks.support import error_text, is_stub_body
from course_tasks.store import store
from course_tasks.tasks import signup as sut
from course_tasks.tasks import users

#: A test still running after this long, outside a wait with a timeout of its own, never
#: answers (a loop polling a task that is never stored). Generous: a right answer takes
#: well under a second, and gets all of its own timeout on top.
HANG_SECONDS = 20.0
#: Room after a test's own timed wait should have ended, and the most a check waits in all.
WAIT_GRACE_SECONDS, MOST_SECONDS = 5.0, 60.0
#: A simulated busy worker: a wait on a task's handle that, with the test's earlier waits on
#: the same task, asks for less than this ends in Celery's TimeoutError, as it would on a
#: loaded machine or a real broker. Seen, not timed: nothing sleeps.
BUSY_SECONDS = 1.0
THREAD_NAME = "course-check-11"
GENERIC_HINT = (
    "a test must pass on working code: print what the code really returns and assert that"
)


@dataclass(frozen=True)
class Bug:
    """A buggy version of the code under test, what is wrong with it, and the hint.

    ``during``, if given, makes the context the buggy version runs in (a patched task body).
    """

    subject: Any
    what: str
    hint: str
    during: Callable[[], AbstractContextManager[Any]] | None = None


@dataclass(frozen=True)
class Setting:
    """A state of the store that the correct code is run in (``where`` says which)."""

    where: str
    prepare: Callable[[], None] | None = None
    #: The hint when the test fails in this state but passes in another one.
    hint: str = GENERIC_HINT


@dataclass
class Seen:
    """What the learner's test did while it ran, besides passing or failing."""

    #: names of tasks it sent through the broker (delay, apply_async, a canvas's delay)
    sent: list[str] = field(default_factory=list)
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


def _in_test() -> bool:
    return threading.current_thread().name == THREAD_NAME


@contextmanager
def _watched(seen: Seen) -> Iterator[None]:
    """Meanwhile, record in ``seen`` what the test's thread sends, runs and waits for.

    A ``get()``/``wait()`` on a task's handle records its timeout. On a result no worker
    will ever store it ends at once in Celery's TimeoutError (the check has seen the wait);
    a wait that, with the earlier ones on the same task, asks for less than
    :data:`BUSY_SECONDS` ends the same way (a busy worker would not have answered yet).
    Other threads (the embedded worker, the check itself) are left alone.
    """
    asked: dict[str, float] = {}

    def waiting(real: Callable[..., Any]) -> Callable[..., Any]:
        def wait(self: Any, timeout: float | None = None, *args: Any, **kwargs: Any) -> Any:
            if not _in_test():
                return real(self, timeout, *args, **kwargs)
            seen.timeouts.append(timeout)
            if self.id in _never_stored:
                raise CeleryTimeoutError("The operation timed out.")
            if timeout is not None and asked.get(self.id, 0.0) + timeout < BUSY_SECONDS:
                asked[self.id] = asked.get(self.id, 0.0) + timeout
                seen.cut_short.append(timeout)
                raise CeleryTimeoutError("The operation timed out.")
            if timeout is not None:
                seen.waiting_until = time.monotonic() + timeout
            try:
                return real(self, timeout, *args, **kwargs)
            finally:
                seen.waiting_until = None

        return wait

    def published(sender: Any = None, **kwargs: Any) -> None:
        if _in_test():
            seen.sent.append(str(sender))

    def prerun(task: Any = None, **kwargs: Any) -> None:
        if task is not None and _in_test() and task.request.is_eager:
            seen.ran_here.append(task.name)
            if task.app.conf.task_always_eager:
                seen.ran_eager_mode.append(task.name)

    real_get, real_wait = AsyncResult.get, AsyncResult.wait
    AsyncResult.get, AsyncResult.wait = waiting(real_get), waiting(real_wait)  # type: ignore[method-assign]
    before_task_publish.connect(published, weak=False)
    task_prerun.connect(prerun, weak=False)
    try:
        yield
    finally:
        task_prerun.disconnect(prerun)
        before_task_publish.disconnect(published)
        AsyncResult.get, AsyncResult.wait = real_get, real_wait  # type: ignore[method-assign]


def _as_current(test: Callable[..., Any], subject: Any) -> Any:
    """``test(subject)`` with the course app current in this thread, as in the notebook.

    The code under test uses shared tasks, which resolve to the *current* app: a
    thread-local. A new thread falls back to the default app, which, when no embedded
    worker made the course app the default (redis mode), is Celery's own fallback app.
    """
    app.set_current()
    return test(subject)


def _run(
    test: Callable[..., Any],
    subject: Any,
    label: str,
    prepare: Callable[[], None] | None = None,
    during: Callable[[], AbstractContextManager[Any]] | None = None,
) -> tuple[str | None, Seen]:
    """Run ``test(subject)``: None if it passed, else the error it raised, as text; and
    what it did meanwhile. A Fail if it never answers."""
    _never_stored.clear()
    if prepare is not None:
        prepare()
    seen = Seen()
    box: dict[str, BaseException] = {}

    def target() -> None:
        try:
            _as_current(test, subject)
        except BaseException as exc:  # the test failed: that is its job on a buggy version
            box["error"] = exc

    with _watched(seen), during() if during is not None else nullcontext():
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
    error = box.get("error")
    return (None if error is None else error_text(error)), seen


def _waits(seen: Seen, error: str | None, name: str) -> None:
    """A Fail for a wait with no timeout, or one too short for a busy worker."""
    if None in seen.timeouts:
        raise Fail(
            "your test waits for the worker with no timeout (get() or wait() without "
            "timeout=): if the message is lost or no worker runs, it hangs for ever",
            hint="always wait with a timeout: result.get(timeout=5)",
        )
    if error is not None and seen.cut_short:
        shortest = min(seen.cut_short)
        raise Fail(
            f"your test gives the worker only {shortest:g} s (get(timeout={shortest:g})) and "
            f"fails on the correct {name} when the worker is busy: {error}",
            hint="give the worker a few seconds on a loaded machine: result.get(timeout=5)",
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
    error_hints: dict[str, str] | None = None,
    kept: tuple[str, ...] = (),
) -> str:
    """Run the test on the correct code in every setting, then on each buggy version (in
    the last setting); the store's ``kept`` keys are put back afterwards."""
    with _store_kept(*kept):
        return _judged(test, correct, bugs, name, settings, conduct, error_hints or {})


def _judged(
    test: Callable[..., Any],
    correct: Any,
    bugs: list[Bug],
    name: str,
    settings: list[Setting],
    conduct: Callable[[Seen, str | None], None] | None,
    error_hints: dict[str, str],
) -> str:
    runs: list[tuple[Setting, str | None]] = []
    for setting in settings:
        error, seen = _run(test, correct, f"the correct {name}{setting.where}", setting.prepare)
        if conduct is not None:
            conduct(seen, error)
        _waits(seen, error, name)
        runs.append((setting, error))
    failed = [(setting, error) for setting, error in runs if error is not None]
    if failed:
        setting, error = failed[0]
        named = next(
            (hint for prefix, hint in error_hints.items() if error.startswith(prefix)),
            None,
        )
        if len(failed) < len(runs):  # it fails in this state only: the state is the news
            raise Fail(
                f"your test fails on the correct {name}{setting.where}: {error}",
                hint=setting.hint,
            )
        raise Fail(f"your test fails on the correct {name}: {error}", hint=named or GENERIC_HINT)
    last = settings[-1]
    for bug in bugs:
        label = f"a {name} that {bug.what}"
        error, _ = _run(test, bug.subject, label, last.prepare, bug.during)
        if error is None:
            raise Fail(f"your test passed on a buggy {name} that {bug.what}", hint=bug.hint)
    where = f", in {len(settings)} states of the users table" if len(settings) > 1 else ""
    return f"passes on the correct {name}{where}, fails on all {len(bugs)} buggy versions"


# --------------------------------------------------------------------------- the users table


def _empty_users() -> None:
    """An empty users table: the next user is user 1 (a fresh kernel)."""
    store().delete(users.USERS_KEY, users.LAST_ID_KEY)


def _other_users() -> None:
    """Three users signed up before (ids 38 to 40), and there is no user 1."""
    store().delete(users.USERS_KEY)
    store().set(users.LAST_ID_KEY, 37)
    for first in ("Grace", "Linus", "Barbara"):
        users.create_user(first, f"{first.lower()}@example.com")


#: The users table (its rows and its id counter), which the settings above change.
USERS_TABLE = (users.USERS_KEY, users.LAST_ID_KEY)
FRESH_WHERE = " in an empty users table (a fresh kernel)"
USED_WHERE = " when other users signed up before (the new user's id is not 1, there is no user 1)"


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


def _signup_no_task_id(name: str, email: str) -> dict[str, Any]:
    user = sut.create_user(name, email)
    sut.welcome.delay(user.id)
    return {"user_id": user.id, "task_id": str(user.id)}


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
        _signup_no_task_id,
        "answers with the user id where the task id belongs",
        "assert the answer carries the queued task's id: "
        "response['task_id'] == delay.return_value.id",
    ),
    Bug(
        _signup_other_id,
        "queues another user's id (user.id - 1), an int all the same",
        "assert the exact id that was sent, the new user's: "
        "delay.assert_called_once_with(response['user_id'])",
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
        "response['user_id'], not a number you expect",
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
        sut.signup,
        SIGNUP_BUGS,
        "signup",
        settings=SIGNUP_SETTINGS,
        conduct=_signup_conduct,
        kept=USERS_TABLE,
    )


# --------------------------------------------------------------------------- 11.2


@app.task(bind=True, max_retries=3, name="course-check-11.charge-no-retry")
def _charge_no_retry(self: Any, order_id: int, cents: int) -> str:
    return sut.gateway_charge(order_id, cents)


def _charge_retrying(max_retries: int, name: str) -> Any:
    """The right charge task with another ``max_retries``."""

    @app.task(bind=True, max_retries=max_retries, name=f"course-check-11.{name}")
    def charge(self: Any, order_id: int, cents: int) -> str:
        try:
            return sut.gateway_charge(order_id, cents)
        except sut.GatewayDown as exc:
            raise self.retry(exc=exc, countdown=0.2) from exc

    return charge


_charge_ten_retries = _charge_retrying(10, "charge-ten-retries")
_charge_two_retries = _charge_retrying(2, "charge-two-retries")


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


@app.task(bind=True, max_retries=3, name="course-check-11.charge-no-receipt")
def _charge_no_receipt(self: Any, order_id: int, cents: int) -> None:
    try:
        sut.gateway_charge(order_id, cents)  # the receipt is dropped: no return
    except sut.GatewayDown as exc:
        raise self.retry(exc=exc, countdown=0.2) from exc


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
        "when the gateway never recovers, assert how often it was called: "
        "1 try + 3 retries = 4 (gateway.call_count == 4)",
    ),
    Bug(
        _charge_two_retries,
        "gives up after 2 retries instead of 3",
        "when the gateway never recovers, assert the exact number of calls, not a range: "
        "1 try + 3 retries = 4 (gateway.call_count == 4)",
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
]


def _no_outage() -> None:
    store().delete(sut.GATEWAY_DOWN_KEY)


def _charge_conduct(seen: Seen, error: str | None) -> None:
    if sut.charge.name in seen.sent:
        raise Fail(
            "your test sent charge to the worker (delay() or apply_async()) instead of running "
            "it here: a worker process (redis mode) never sees your mock and calls the real "
            "gateway; only the embedded worker shares this kernel",
            hint="run it here with the mock in place: result = charge.apply(args=(1, 500)); "
            "the retries run here too, and result.state is there at once",
        )
    left = int(store().get(sut.GATEWAY_DOWN_KEY) or 0)
    if left > 0:
        raise Fail(
            f"your test leaves the simulated gateway down for the next {left} charges "
            f"({sut.GATEWAY_DOWN_KEY} in the store): every later test and cell that charges "
            "fails because of it",
            hint="mock the gateway with side_effect=... (nothing is left behind when the with "
            "block ends), or end the outage in a finally: gateway_down(0)",
        )


@exercise("11.2", "test retries deterministically", points=2)
def _(test_charge: Any) -> str:
    test = _need_test(test_charge, "charge")
    return _judge(
        test,
        sut.charge,
        CHARGE_BUGS,
        "charge task",
        settings=[Setting("", _no_outage)],
        conduct=_charge_conduct,
        kept=(sut.GATEWAY_DOWN_KEY,),
    )


# --------------------------------------------------------------------------- 11.3


def _onboarding_s(user_id: int) -> Any:
    return chain(
        sut.create_profile.s(user_id), sut.welcome.s(user_id), sut.suggest_follows.s(user_id)
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


def _onboarding_other_user(user_id: int) -> Any:
    return chain(
        sut.create_profile.si(user_id + 1), sut.welcome.si(user_id), sut.suggest_follows.si(user_id)
    )


def _onboarding_group(user_id: int) -> Any:
    return group(
        sut.create_profile.si(user_id), sut.welcome.si(user_id), sut.suggest_follows.si(user_id)
    )


ALL_STEPS_HINT = (
    "compare the whole list of steps, in order: [step.task for step in flow.tasks] == "
    "[...] (all three, nothing more), not the first and last only"
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
        "compare the steps in order: [step.task for step in flow.tasks] == [...], not as a set",
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
        "compare each step's arguments with your user's id: [(step.task, step.args) for step "
        "in flow.tasks] == [(name, (user.id,)) for name in ...]",
    ),
    Bug(
        _onboarding_group,
        "builds a group (all at once) instead of a chain",
        "a group has .tasks too: run it (flow.apply().get() is the last step's result for a "
        "chain, a list for a group) or assert type(flow).__name__ == '_chain'",
    ),
]

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
    ),
]

ONBOARDING_STEPS = {sut.create_profile.name, sut.welcome.name, sut.suggest_follows.name}


def _onboarding_conduct(seen: Seen, error: str | None) -> None:
    ran = ONBOARDING_STEPS & {*seen.ran_here, *seen.sent}
    if error is None and not ran:
        raise Fail(
            "your test never runs the chain: it checks how the canvas is built, not what "
            "it does when it runs",
            hint="run it once, here: flow.apply().get() == "
            "{'user_id': user.id, 'step': 'suggestions'}",
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
    )


# --------------------------------------------------------------------------- 11.4


def _tag_post_set(post_id: int, tags: list[str]) -> Any:
    return sut.index_tags.delay(post_id, set(tags))  # de-duplicated early: a set


def _tag_post_inline(post_id: int, tags: list[str]) -> Any:
    result = sut.index_tags.apply(args=(post_id, list(tags)))
    _never_stored.append(result.id)
    return result


def _tag_post_first_only(post_id: int, tags: list[str]) -> Any:
    return sut.index_tags.delay(post_id, list(tags)[:1])


@contextmanager
def _index_tags_first_only() -> Iterator[None]:
    """``index_tags`` broken in this process too: its body keeps only the first tag.

    With :func:`_tag_post_first_only` on the worker, the task gives the same wrong answer
    wherever it runs, as a bug in its body would: a test that computes its expected value
    with ``index_tags.run(...)``, ``index_tags(...)`` or ``index_tags.apply(...)`` agrees.
    (The embedded worker keeps the body it was started with.)
    """
    task = app.tasks[sut.index_tags.name]
    real = task.run
    before = vars(task).get("run")

    def first_only(post_id: int, tags: list[str]) -> list[str]:
        return real(post_id, list(tags)[:1])

    task.run = first_only
    try:
        yield
    finally:
        if before is None:
            del task.run
        else:
            task.run = before


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
        _tag_post_first_only,
        "sends only the first tag",
        "compare the worker's result exactly: == ['celery', 'redis'], not only the state",
    ),
    Bug(
        _tag_post_first_only,
        "queues an index_tags broken to keep only the first tag (on the worker and in your "
        "test alike)",
        "write out the value you expect, ['celery', 'redis'] (lower case, no duplicates, "
        "sorted): an expected value computed with index_tags itself agrees with a broken "
        "index_tags",
        during=_index_tags_first_only,
    ),
]


@exercise("11.4", "a test that a real worker would fail", points=2)
def _(test_tag_post: Any) -> str:
    test = _need_test(test_tag_post, "tag_post")
    return _judge(test, sut.tag_post, TAG_BUGS, "tag_post", settings=[Setting("")])
