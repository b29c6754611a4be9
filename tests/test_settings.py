"""The one switch: COURSE_BROKER selects the mode and where everything lives."""

from __future__ import annotations

from pathlib import Path

import pytest

from course_tasks import settings


def test_unset_means_embedded() -> None:
    cfg = settings.from_env({})
    assert cfg.mode == "embedded"
    assert cfg.broker_url == "memory://localhost/"
    assert cfg.backend_url.startswith("fakeredis://")
    assert cfg.home == Path.home() / ".course_tasks"


@pytest.mark.parametrize("value", ["embedded", "  ", ""])
def test_embedded_spellings(value: str) -> None:
    assert settings.from_env({"COURSE_BROKER": value}).mode == "embedded"


def test_eager() -> None:
    assert settings.from_env({"COURSE_BROKER": "eager"}).mode == "eager"


def test_redis_url_derives_results_and_app_data_databases() -> None:
    cfg = settings.from_env({"COURSE_BROKER": "redis://:s3cret@cache:6380/4"})
    assert cfg.mode == "redis"
    assert cfg.broker_url == "redis://:s3cret@cache:6380/4"
    assert cfg.backend_url == "redis://:s3cret@cache:6380/5"
    assert cfg.store_url == "redis://:s3cret@cache:6380/6"


def test_redis_url_without_db_starts_at_zero() -> None:
    cfg = settings.from_env({"COURSE_BROKER": "redis://localhost:6379"})
    assert (cfg.backend_url, cfg.store_url) == (
        "redis://localhost:6379/1",
        "redis://localhost:6379/2",
    )


def test_overrides_win() -> None:
    cfg = settings.from_env(
        {
            "COURSE_BROKER": "redis://a/0",
            "COURSE_BACKEND": "redis://b/3",
            "COURSE_STORE": "redis://c/9",
        }
    )
    assert (cfg.backend_url, cfg.store_url) == ("redis://b/3", "redis://c/9")


def test_unknown_scheme_is_a_clear_error_that_names_the_choices() -> None:
    with pytest.raises(settings.SettingsError, match="not a mode the course knows.*eager"):
        settings.from_env({"COURSE_BROKER": "amqp://guest@localhost//"})


def test_non_numeric_db_is_a_clear_error() -> None:
    with pytest.raises(settings.SettingsError, match="must be a number"):
        settings.from_env({"COURSE_BROKER": "redis://localhost/zero"})


def test_passwords_are_redacted_for_printing() -> None:
    assert settings.redact("redis://:s3cret@cache:6380/4") == "redis://:***@cache:6380/4"
    assert settings.redact("redis://user:pw@h/0") == "redis://user:***@h/0"
    assert settings.redact("redis://h:1/0") == "redis://h:1/0"
    cfg = settings.from_env({"COURSE_BROKER": "redis://:s3cret@cache:6380/4"})
    assert "s3cret" not in cfg.describe()


def test_app_is_json_only() -> None:
    from course_tasks import app

    assert app.conf.task_serializer == "json"
    assert app.conf.result_serializer == "json"
    assert list(app.conf.accept_content) == ["json"]
    assert list(app.conf.result_accept_content) == ["json"]


def test_learner_namespaces_every_key_in_redis_mode() -> None:
    cfg = settings.from_env({"COURSE_BROKER": "redis://h:1/0", "COURSE_LEARNER": " alice "})
    assert cfg.learner == "alice"
    assert cfg.key_prefix == "learner:alice:"
    assert cfg.describe() == (
        "redis (broker redis://h:1/0, results redis://h:1/1, learner alice: keys under "
        "learner:alice:)"
    )


def test_no_learner_no_prefix_and_the_banner_is_unchanged() -> None:
    cfg = settings.from_env({"COURSE_BROKER": "redis://h:1/0", "COURSE_LEARNER": ""})
    assert (cfg.learner, cfg.key_prefix) == (None, "")
    assert cfg.describe() == "redis (broker redis://h:1/0, results redis://h:1/1)"


@pytest.mark.parametrize("broker", ["", "eager"])
def test_learner_has_no_effect_where_nothing_is_shared(broker: str) -> None:
    cfg = settings.from_env({"COURSE_BROKER": broker, "COURSE_LEARNER": "alice"})
    assert cfg.learner == "alice"
    assert cfg.key_prefix == ""
    assert "learner" not in cfg.describe()


@pytest.mark.parametrize("name", ["bob:x", "a*", "al?ce", "[ab]", "-lead", "a b", "é", "x" * 65])
def test_a_learner_name_that_could_reach_another_namespace_is_refused(name: str) -> None:
    with pytest.raises(settings.SettingsError, match="COURSE_LEARNER=.* cannot name a namespace"):
        settings.from_env({"COURSE_BROKER": "redis://h:1/0", "COURSE_LEARNER": name})


@pytest.mark.parametrize("name", ["alice", "team-3", "j.doe", "A_1", "7" * 64])
def test_learner_names(name: str) -> None:
    cfg = settings.from_env({"COURSE_BROKER": "redis://h:1/0", "COURSE_LEARNER": name})
    assert cfg.key_prefix == f"learner:{name}:"


def test_celery_configuration_of_a_learner() -> None:
    from conftest import run_python

    code = (
        "from course_tasks.app import app\n"
        "c = app.conf\n"
        "print(c.broker_transport)\n"
        "print(c.broker_transport_options['global_keyprefix'])\n"
        "print(c.result_backend_transport_options['global_keyprefix'])\n"
        "print(app.backend.get_key_for_task('t1').decode())\n"
    )
    proc = run_python(code, COURSE_BROKER="redis://127.0.0.1:1/0", COURSE_LEARNER="alice")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == [
        "course_tasks.namespace:Transport",
        "learner:alice:",
        "learner:alice:",
        "learner:alice:celery-task-meta-t1",
    ]
    plain = run_python(code.replace("['global_keyprefix']", ".get('global_keyprefix')"),
                       COURSE_BROKER="redis://127.0.0.1:1/0", COURSE_LEARNER=None)  # fmt: skip
    assert plain.returncode == 0, plain.stderr
    assert plain.stdout.splitlines()[-1] == "celery-task-meta-t1"
