"""The tasks the chapters call, one module per domain of the guides' examples.

Side effects are simulated (an outbox in the app-data store instead of SMTP), so that every
example runs on a laptop with no network. Modules:

* :mod:`course_tasks.tasks.basics` — ``add``, ``multiply``, ``xsum``, slow and progress tasks
* :mod:`course_tasks.tasks.email` — mail sending into a simulated outbox
"""
