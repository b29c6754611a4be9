"""The tasks the chapters call, one module per domain of the guides' examples.

Side effects are simulated (an outbox in the app-data store instead of SMTP), so that every
example runs on a laptop with no network. Modules:

* :mod:`course_tasks.tasks.basics` — ``add``, ``multiply``, ``xsum``, slow and progress tasks
* :mod:`course_tasks.tasks.email` — mail sending into a simulated outbox (outages on demand)
* :mod:`course_tasks.tasks.maintenance` — periodic housekeeping that beat sends
* :mod:`course_tasks.tasks.periodic` — guide 004's periodic jobs, ``platform.*`` (chapter 06)
* :mod:`course_tasks.tasks.users` — a users table; pass ids, not objects (chapter 04)
* :mod:`course_tasks.tasks.crawler` — a flaky site and retries with backoff (chapter 03)
* :mod:`course_tasks.tasks.factcheck` — guide 002's async fact-checking (chapter 03)
* :mod:`course_tasks.tasks.hooks` — class-based tasks with handlers, task options (chapter 03)
* :mod:`course_tasks.tasks.reports` — CSV export with progress, failing reports (chapter 05)
* :mod:`course_tasks.tasks.demo` — guide 003's quick calculations, runs recorded (chapter 08)
* :mod:`course_tasks.tasks.ai` — guide 003's slow "AI" tasks, for a queue of their own (chapter 08)
* :mod:`course_tasks.tasks.troubles` — stuck reports, refunds, double charges (chapter 13)
* :mod:`course_tasks.tasks.signup` — a sign-up service, the code chapter 11 tests (shared tasks)
* :mod:`course_tasks.tasks.events` — guide 002's pub/sub, user-registered and post-liked
  events (chapter 07)
* :mod:`course_tasks.tasks.media` — guide 002's five-step image pipeline (chapter 07)
* :mod:`course_tasks.tasks.payments` — card charges that log and can be declined (chapter 09)
* :mod:`course_tasks.tasks.practices` — idempotency, locks, retries, time limits, lost tasks
  (chapter 10)
* :mod:`course_tasks.tasks.workload` — CPU-bound and I/O-bound work for choosing a pool (chapter 12)
"""
