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
