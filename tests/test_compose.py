"""docker-compose.yml, Dockerfile and .env.example, checked without a Docker engine.

Every service's command is parsed by the real command line of the program it runs
(Celery's click commands, Flower's tornado options, the course's ``python -m course_tasks``),
so a misspelled option fails here instead of in a container that restarts forever.
``.ci/compose-check.sh`` validates the file against Compose itself.
"""

from __future__ import annotations

import importlib.util
import re
import shlex
import sys
import types
from importlib import metadata
from pathlib import Path
from urllib.parse import urlsplit

import click
import pytest

yaml = pytest.importorskip("yaml")

ROOT = Path(__file__).resolve().parents[1]
COMPOSE_PATH = ROOT / "docker-compose.yml"
ENV_EXAMPLE_PATH = ROOT / ".env.example"
DOCKERFILE_PATH = ROOT / "Dockerfile"

#: ``${NAME}``, ``${NAME:?message}``, ``${NAME:-default}``...; ``$${`` is an escaped ``$``.
VAR_RE = re.compile(r"(?<!\$)\$\{([A-Za-z_][A-Za-z0-9_]*)([^}]*)\}")
#: Names of settings, options and variables that hold a secret.
SECRET_NAME_RE = re.compile(r"pass|token|secret|auth|key", re.IGNORECASE)
#: Options whose value is a secret, as they appear in a command.
SECRET_OPTIONS = ("--requirepass", "--basic-auth", "--IdentityProvider.token", "--ServerApp.token")
#: Services that publish a port, and the container port each must publish.
PUBLISHED = {"redis": 6379, "flower": 5555, "jupyter": 8888}
COURSE_SERVICES = ("worker", "worker-ai", "worker-demo", "beat", "flower", "jupyter")


def _load_compose() -> dict:
    assert COMPOSE_PATH.is_file(), f"{COMPOSE_PATH} is missing"
    data = yaml.safe_load(COMPOSE_PATH.read_text())
    assert isinstance(data, dict) and isinstance(data.get("services"), dict), (
        "docker-compose.yml has no 'services:' mapping"
    )
    return data


def _load_env_example() -> dict[str, str]:
    assert ENV_EXAMPLE_PATH.is_file(), f"{ENV_EXAMPLE_PATH} is missing"
    values = {}
    for number, line in enumerate(ENV_EXAMPLE_PATH.read_text().splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        name, sep, value = line.partition("=")
        assert sep, f".env.example line {number} is not NAME=value: {line!r}"
        values[name.strip()] = value.strip()
    return values


COMPOSE = _load_compose()
SERVICES: dict[str, dict] = COMPOSE["services"]
ENV_EXAMPLE = _load_env_example()


def _strings(node, where: str = ""):
    """Every string in the compose data (keys excepted), with where it is."""
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _strings(value, f"{where}.{key}" if where else str(key))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _strings(value, f"{where}[{i}]")
    elif isinstance(node, str):
        yield where, node


def _interpolate(text: str) -> str:
    """``text`` as Compose would expand it with the values of .env.example."""
    return VAR_RE.sub(lambda m: ENV_EXAMPLE.get(m.group(1), m.group(0)), text).replace("$$", "$")


def _command(service: str) -> list[str]:
    command = SERVICES[service].get("command")
    assert command, f"service {service!r} has no command"
    argv = shlex.split(command) if isinstance(command, str) else [str(a) for a in command]
    return [_interpolate(a) for a in argv]


def _environment(service: str) -> dict[str, str]:
    env = SERVICES[service].get("environment") or {}
    if isinstance(env, list):
        env = dict(item.partition("=")[::2] for item in env)
    return {k: _interpolate(str(v)) for k, v in env.items()}


# --- the programs and their options ---------------------------------------------------


def _celery_cli():
    from celery import Celery
    from celery.bin.celery import celery

    # What a subcommand's option callbacks read (e.g. beat's default scheduler).
    obj = types.SimpleNamespace(app=Celery("compose-check", set_as_current=False))
    return celery, obj


def _split_celery_argv(group: click.Group, args: list[str]) -> tuple[list[str], str, list[str]]:
    """``celery`` global options, the subcommand and its arguments."""
    takes_value = {
        opt: not (param.is_flag or param.count)
        for param in group.params
        if isinstance(param, click.Option)
        for opt in param.opts + param.secondary_opts
    }
    i = 0
    while i < len(args) and args[i].startswith("-"):
        opt = args[i].split("=", 1)[0]
        assert opt in takes_value, f"`celery {args[i]}` is not a global option of celery"
        i += 2 if takes_value[opt] and "=" not in args[i] else 1
    assert i < len(args), f"`celery {' '.join(args)}` names no subcommand"
    return args[:i], args[i], args[i + 1 :]


def _parse_celery_subcommand(where: str, sub: str, sub_args: list[str], global_args=()) -> None:
    celery, obj = _celery_cli()
    if sub == "flower":
        pytest.importorskip("flower", reason="flower is not installed")
    command = celery.commands.get(sub)
    if command is None and sub == "flower":
        # Flower is a plugin: celery finds it through this entry point group.
        (entry,) = [e for e in metadata.entry_points(group="celery.commands") if e.name == sub]
        command = entry.load()
    assert command is not None, (
        f"{where}: `celery {sub}` is not a celery subcommand; "
        f"the subcommands are {sorted(celery.commands)}"
    )
    parent = celery.make_context("celery", [*global_args, sub], obj=obj)
    try:
        ctx = command.make_context(sub, list(sub_args), parent=parent)
    except click.ClickException as exc:
        pytest.fail(f"{where}: `celery {sub} {shlex.join(sub_args)}`: {exc.format_message()}")
    if sub == "flower":
        _check_flower_options(where, ctx.params["tornado_argv"])
    else:
        assert not ctx.args, f"{where}: `celery {sub}` does not take arguments {ctx.args}"


def _check_flower_options(where: str, argv) -> None:
    # Flower passes its arguments to tornado.options, where importing flower defined them.
    import flower.options  # noqa: F401
    from tornado.options import options

    for arg in argv:
        assert arg.startswith("--"), f"{where}: flower takes --name=value options, not {arg!r}"
        name = arg[2:].split("=", 1)[0]
        assert name in options, f"{where}: `--{name}` is not a flower option"
        if name == "basic-auth":
            user, _, password = arg.split("=", 1)[1].partition(":")
            assert user and password, f"{where}: --basic-auth must be user:password, got {arg!r}"
        if name == "port":
            assert arg.split("=", 1)[1].isdigit(), f"{where}: --port must be a number: {arg!r}"


def _check_celery(where: str, argv: list[str]) -> None:
    from celery.app.utils import find_app

    celery, obj = _celery_cli()
    global_args, sub, sub_args = _split_celery_argv(celery, argv[1:])
    ctx = celery.make_context("celery", [*global_args, sub], obj=obj)
    app_name = ctx.params["app"]
    assert app_name == "course_tasks", f"{where}: runs `celery -A {app_name}`, not -A course_tasks"
    try:
        app = find_app(app_name)
    except Exception as exc:
        pytest.fail(f"{where}: `celery -A {app_name}` finds no Celery app: {exc!r}")
    assert type(app).__name__ == "Celery", f"{where}: -A {app_name} is {app!r}, not a Celery app"
    _parse_celery_subcommand(where, sub, sub_args, global_args)


def _check_python_m_course_tasks(where: str, argv: list[str]) -> None:
    assert argv[1:3] == ["-m", "course_tasks"], f"{where}: expected `python -m course_tasks ...`"
    assert importlib.util.find_spec("course_tasks.__main__"), "course_tasks has no __main__"
    from course_tasks import __main__ as course_main

    command, options = argv[3], argv[4:]
    commands = re.findall(r"^  (\w+)", course_main.USAGE, re.MULTILINE)
    assert command in commands, (
        f"{where}: `python -m course_tasks {command}` is not a command; the commands are {commands}"
    )
    if command == "worker":
        # The wrapper hands its options to `celery worker`, after --loglevel=INFO.
        _parse_celery_subcommand(where, "worker", ["--loglevel=INFO", *options])


def _check_jupyter(where: str, argv: list[str]) -> None:
    assert argv[1] == "lab", f"{where}: expected `jupyter lab`, got `jupyter {argv[1]}`"
    scripts = {e.name: e for e in metadata.entry_points(group="console_scripts")}
    assert "jupyter-lab" in scripts, "no installed package provides the jupyter-lab command"
    assert (Path(sys.executable).parent / "jupyter-lab").exists(), (
        f"jupyter-lab is not installed next to {sys.executable}"
    )
    for arg in argv[2:]:
        name = arg[2:].split("=", 1)[0]
        if "." in name:
            # --Class.trait=value: the class must have that configurable trait. (The plain
            # aliases --ip, --port, --no-browser would need jupyter_server.serverapp,
            # whose import alone takes seconds.)
            cls_name, trait = name.split(".", 1)
            classes = {"IdentityProvider": "jupyter_server.auth.identity"}
            assert cls_name in classes, f"{where}: this test does not know {cls_name}; add it"
            cls = getattr(importlib.import_module(classes[cls_name]), cls_name)
            assert trait in cls.class_traits(config=True), (
                f"{where}: {cls_name}.{trait} is not a configurable trait of jupyter"
            )


def _check_redis_server(where: str, argv: list[str]) -> None:
    assert argv[0] == "redis-server", f"{where}: expected redis-server, got {argv[0]}"


PROGRAMS = {
    "celery": _check_celery,
    "python": _check_python_m_course_tasks,
    "jupyter": _check_jupyter,
    "redis-server": _check_redis_server,
}


# --- the tests ---------------------------------------------------------------------------


def test_the_expected_services_exist():
    missing = {"redis", *COURSE_SERVICES} - set(SERVICES)
    assert not missing, f"docker-compose.yml lacks the services {sorted(missing)}"


@pytest.mark.parametrize("service", sorted(SERVICES))
def test_command_runs_a_real_program_with_real_options(service):
    argv = _command(service)
    check = PROGRAMS.get(argv[0])
    assert check, (
        f"service {service!r} runs {argv[0]!r}, which this test does not know how to check"
    )
    check(f"service {service!r}", argv)


def test_the_course_services_share_the_image_built_from_the_dockerfile():
    for service in COURSE_SERVICES:
        build = SERVICES[service].get("build")
        context = build if isinstance(build, str) else (build or {}).get("context")
        assert context in (".", "./"), (
            f"service {service!r} is not built from the repo's Dockerfile"
        )


def test_course_services_run_in_redis_mode_against_the_redis_service():
    from course_tasks import settings

    password = ENV_EXAMPLE.get("REDIS_PASSWORD")
    for service in COURSE_SERVICES:
        url = _environment(service).get("COURSE_BROKER")
        assert url, f"service {service!r} has no COURSE_BROKER, so it would run in embedded mode"
        cfg = settings.from_env({"COURSE_BROKER": url})
        assert cfg.mode == settings.REDIS, f"service {service!r}: COURSE_BROKER selects {cfg.mode}"
        parts = urlsplit(url)
        assert (parts.hostname, parts.port) == ("redis", 6379), (
            f"service {service!r}: COURSE_BROKER points at {parts.hostname}:{parts.port}, "
            "not the redis service"
        )
        assert parts.password == password, (
            f"service {service!r}: COURSE_BROKER does not use ${{REDIS_PASSWORD}}"
        )
        depends = SERVICES[service].get("depends_on") or {}
        condition = depends.get("redis", {}).get("condition") if isinstance(depends, dict) else None
        assert condition == "service_healthy", (
            f"service {service!r} must depend on redis with condition: service_healthy"
        )


def test_beat_schedule_sends_registered_tasks():
    from course_tasks import app

    schedule = app.conf.beat_schedule
    assert schedule, "the beat service runs, but course_tasks has no beat_schedule"
    app.loader.import_default_modules()
    unknown = sorted(e["task"] for e in schedule.values() if e["task"] not in app.tasks)
    assert not unknown, f"beat_schedule sends tasks no worker registers: {unknown}"


def _published(service: str) -> list[tuple[str | None, int]]:
    """(host ip, container port) of each published port of ``service``."""
    out = []
    for port in SERVICES[service].get("ports") or []:
        if isinstance(port, dict):
            out.append((port.get("host_ip"), int(port["target"])))
            continue
        parts = str(port).split("/")[0].rsplit(":", 2)
        host_ip = parts[0] if len(parts) == 3 else None
        out.append((host_ip, int(parts[-1])))
    return out


def test_ports_are_published_on_localhost_only():
    for service in SERVICES:
        for host_ip, target in _published(service):
            assert host_ip == "127.0.0.1", (
                f"service {service!r} publishes port {target} on {host_ip or 'every interface'}; "
                "bind it to 127.0.0.1"
            )
    for service, target in PUBLISHED.items():
        assert target in [t for _, t in _published(service)], (
            f"service {service!r} does not publish port {target} on 127.0.0.1"
        )


def test_redis_requires_the_password_and_its_healthcheck_uses_it():
    raw = SERVICES["redis"]["command"]
    raw = raw if isinstance(raw, list) else shlex.split(raw)
    assert "--requirepass" in raw, "redis runs without --requirepass"
    value = raw[raw.index("--requirepass") + 1]
    assert VAR_RE.fullmatch(value) and VAR_RE.fullmatch(value).group(1) == "REDIS_PASSWORD", (
        f"redis --requirepass takes {value!r}, not ${{REDIS_PASSWORD:?...}}"
    )
    env = SERVICES["redis"].get("environment") or {}
    assert VAR_RE.fullmatch(str(env.get("REDISCLI_AUTH", ""))), (
        "the redis healthcheck's redis-cli needs REDISCLI_AUTH=${REDIS_PASSWORD...}"
    )
    test = " ".join(SERVICES["redis"].get("healthcheck", {}).get("test", []))
    assert "redis-cli" in test and "PONG" in test, (
        "the redis healthcheck must look for PONG: redis-cli exits 0 even on NOAUTH"
    )
    volumes = SERVICES["redis"].get("volumes") or []
    assert any(str(v).endswith(":/data") for v in volumes), "redis keeps /data in no volume"


def test_no_literal_secrets():
    for where, value in _strings(COMPOSE):
        key = where.rsplit(".", 1)[-1]
        if SECRET_NAME_RE.search(key) and "[" not in key:
            assert VAR_RE.fullmatch(value), f"{where} holds a literal secret; use ${{VAR:?message}}"
        for option in SECRET_OPTIONS:
            if value.startswith(option + "="):
                secret = value.split("=", 1)[1]
                assert VAR_RE.sub("", secret).strip(":") == "", (
                    f"{where}: {option} holds a literal secret; use ${{VAR:?message}}"
                )
        if "://" in value:
            password = urlsplit(VAR_RE.sub("VAR", value)).password
            assert password in (None, "VAR"), f"{where}: a URL holds a literal password"


def test_every_variable_fails_loudly_when_missing():
    for where, value in _strings(COMPOSE):
        for match in VAR_RE.finditer(value):
            assert match.group(2).startswith(":?") and match.group(2)[2:].strip(), (
                f"{where}: ${{{match.group(1)}{match.group(2)}}} must be "
                f"${{{match.group(1)}:?message}}, so that a missing value stops compose"
            )


def test_env_example_defines_every_variable_with_a_placeholder():
    used = {m.group(1) for _, value in _strings(COMPOSE) for m in VAR_RE.finditer(value)}
    missing = sorted(used - set(ENV_EXAMPLE))
    assert not missing, f".env.example does not define {missing}, which docker-compose.yml uses"
    for name in used:
        assert ENV_EXAMPLE[name].startswith("change-me"), (
            f".env.example: {name}={ENV_EXAMPLE[name]!r} looks real; "
            "use a change-me-... placeholder"
        )
    assert "secrets.token_urlsafe" in ENV_EXAMPLE_PATH.read_text(), (
        ".env.example does not say how to generate the secrets"
    )


def _dockerfile_instructions() -> list[tuple[str, str]]:
    assert DOCKERFILE_PATH.is_file(), "the Dockerfile is missing"
    text = re.sub(r"\\\n", " ", DOCKERFILE_PATH.read_text())
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            keyword, _, rest = line.partition(" ")
            out.append((keyword.upper(), rest.strip()))
    return out


def test_dockerfile_bakes_in_no_secrets_and_runs_as_a_user():
    instructions = _dockerfile_instructions()
    assert instructions[0] == ("FROM", "python:3.11-slim"), (
        "the Dockerfile must start FROM python:3.11-slim"
    )
    for keyword, rest in instructions:
        if keyword in ("ENV", "ARG"):
            names = re.findall(r"([A-Za-z_][A-Za-z0-9_]*)=", rest) or rest.split()[:1]
            secret = [n for n in names if SECRET_NAME_RE.search(n)]
            assert not secret, f"Dockerfile: {keyword} {secret} would bake a secret into the image"
    users = [rest for keyword, rest in instructions if keyword == "USER"]
    assert users and users[-1] not in ("root", "0"), "the image must run as a non-root USER"
    assert ("WORKDIR", "/course") in instructions, "the Dockerfile must use WORKDIR /course"
    assert any(
        k == "RUN" and 'pip install --no-cache-dir -e ".[lab]"' in r for k, r in instructions
    ), 'the Dockerfile must pip install --no-cache-dir -e ".[lab]"'


def test_dockerfile_copies_what_exists_and_never_the_env_file():
    dockerignore = ROOT / ".dockerignore"
    ignored = dockerignore.read_text().split() if dockerignore.is_file() else []
    for keyword, rest in _dockerfile_instructions():
        if keyword not in ("COPY", "ADD"):
            continue
        args = [a for a in shlex.split(rest) if not a.startswith("--")]
        for source in args[:-1]:
            assert source not in (".", "./") or ".env" in ignored, (
                f"Dockerfile: {keyword} {source} copies a local .env (the secrets) into the image; "
                "add .env to .dockerignore or copy paths one by one"
            )
            assert ".env" not in Path(source).name.split("*"), f"Dockerfile copies {source}"
            if "*" in source:
                continue  # a glob may match nothing (README*)
            assert (ROOT / source).exists(), (
                f"Dockerfile: {keyword} {source}: no such path in the repo (an empty folder is "
                "not in a git clone), so the image would not build"
            )


def test_environment_yml_installs_redis_and_the_course_from_conda_forge():
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    assert env["name"] == "celery-course", "environment.yml: the environment must be celery-course"
    assert env["channels"] == ["conda-forge"], "environment.yml: use the conda-forge channel only"
    deps = env["dependencies"]
    for package in ("python=3.11", "redis-server", "pip"):
        assert package in deps, f"environment.yml does not install {package}"
    pip = next((d["pip"] for d in deps if isinstance(d, dict) and "pip" in d), [])
    assert "-e .[lab,test]" in pip, "environment.yml does not pip install -e .[lab,test]"
    extras = set(metadata.metadata("course-tasks").get_all("Provides-Extra") or [])
    assert {"lab", "test"} <= extras, f"course-tasks has the extras {extras}, not lab and test"


def test_guide_003_queues_each_have_a_dedicated_worker():
    """Chapter 08: ``-Q ai_processing -c 1`` and ``-Q demo_tasks -c 4``, each a named worker."""
    celery, obj = _celery_cli()
    found = {}
    for service in SERVICES:
        argv = _command(service)
        if argv[0] != "celery":
            continue
        global_args, sub, sub_args = _split_celery_argv(celery, argv[1:])
        if sub != "worker":
            continue
        parent = celery.make_context("celery", [*global_args, sub], obj=obj)
        params = celery.commands["worker"].make_context(sub, list(sub_args), parent=parent).params
        for queue in params.get("queues") or []:
            found[queue] = (params["concurrency"], "-n" in sub_args)
    assert found.get("ai_processing") == (1, True), found
    assert found.get("demo_tasks") == (4, True), found


def test_no_obsolete_top_level_version_key():
    assert "version" not in COMPOSE, (
        "docker-compose.yml has a top-level `version:`: Compose v2 ignores it and warns that "
        "it is obsolete; remove it"
    )


def _seconds(duration) -> float:
    """A Compose duration (``10m``, ``1m30s``, ``90s``, or a number of seconds) in seconds."""
    if isinstance(duration, (int, float)):
        return float(duration)
    parts = re.fullmatch(r"(?:(\d+)h)?(?:(\d+)m(?!s))?(?:(\d+)s)?(?:(\d+)ms)?", str(duration))
    assert parts and any(parts.groups()), f"{duration!r} is not a Compose duration"
    h, m, s, ms = (int(g or 0) for g in parts.groups())
    return h * 3600 + m * 60 + s + ms / 1000


def _worker_node(service: str) -> str | None:
    """The node name (``-n``) of a service whose command runs a Celery worker, else None."""
    argv = _command(service)
    runs_worker = (argv[0] == "celery" and "worker" in argv) or argv[1:4] == [
        "-m", "course_tasks", "worker"]  # fmt: skip
    if not runs_worker:
        return None
    assert "-n" in argv, f"service {service!r}: a worker without -n NAME@%h"
    return argv[argv.index("-n") + 1]


WORKERS = [s for s in sorted(SERVICES) if _worker_node(s)]


def test_the_three_workers_are_found():
    assert WORKERS == ["worker", "worker-ai", "worker-demo"], WORKERS


@pytest.mark.parametrize("service", WORKERS)
def test_a_worker_gets_a_stop_grace_period_longer_than_the_default(service):
    """``docker compose stop``: TERM (warm shutdown), SIGKILL after stop_grace_period (10 s)."""
    grace = SERVICES[service].get("stop_grace_period")
    assert grace is not None, (
        f"service {service!r} has no stop_grace_period: Compose SIGKILLs it 10 s after TERM, "
        "in the middle of any longer task"
    )
    assert _seconds(grace) >= 600, (
        f"service {service!r}: stop_grace_period {grace} is shorter than the chapter's 600 s "
        "(stopwaitsecs, TimeoutStopSec)"
    )


@pytest.mark.parametrize("service", WORKERS)
def test_a_worker_healthcheck_pings_its_own_node(service):
    health = SERVICES[service].get("healthcheck") or {}
    test = health.get("test") or []
    assert test[:1] == ["CMD-SHELL"] and len(test) == 2, (
        f"service {service!r}: the healthcheck must be [CMD-SHELL, 'celery ... inspect ping ...']"
    )
    argv = shlex.split(test[1])
    node = _worker_node(service)
    assert node.endswith("@%h"), f"service {service!r}: -n {node} does not end in @%h"
    expected = node.replace("%h", "$$HOSTNAME")
    assert "-d" in argv and argv[argv.index("-d") + 1] == expected, (
        f"service {service!r}: the healthcheck must ping -d {expected} (its own -n {node}), "
        f"got {test[1]!r}"
    )
    assert argv[:5] == ["celery", "-A", "course_tasks", "inspect", "ping"], test[1]
    # The command parses as the real `celery inspect` would parse it ($HOSTNAME expanded).
    _check_celery(f"service {service!r} healthcheck", [a.replace("$$", "$") for a in argv])
    for key in ("interval", "timeout"):
        assert key in health, f"service {service!r}: the healthcheck has no {key}"
    assert _seconds(health["timeout"]) > 10, (
        f"service {service!r}: the healthcheck's timeout must exceed ping's --timeout 10"
    )
