# One image for every service of docker-compose.yml: worker, beat, flower and jupyter.
# No secrets here: passwords and tokens come from the environment at run time (.env).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# A non-root user that owns the course directory, so JupyterLab can save notebooks.
RUN useradd --create-home --uid 1000 --shell /bin/bash course \
    && mkdir /course \
    && chown course:course /course
WORKDIR /course

# The package first, so editing a notebook does not reinstall the dependencies.
# .dockerignore keeps .env (the secrets), .git and local environments out of the image.
COPY --chown=course:course pyproject.toml README.md ./
COPY --chown=course:course course_tasks ./course_tasks
RUN pip install --no-cache-dir -e ".[lab]"

COPY --chown=course:course . .

USER course

# Overridden by every service in docker-compose.yml.
CMD ["python", "-m", "course_tasks", "doctor"]
