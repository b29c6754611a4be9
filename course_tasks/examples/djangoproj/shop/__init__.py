"""The project's one Django app: ``autodiscover_tasks`` finds its ``tasks`` module."""
