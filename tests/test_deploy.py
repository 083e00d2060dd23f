"""The deployment files: docker-compose.yml, the production image, the hashed lock files.

No Docker engine runs here, so the files are read: the compose file against the compose
specification's JSON schema (as check-jsonschema ships it), every service's command against the
real `etp` command line, and the Dockerfile instruction by instruction.
"""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import sys
import tomllib
from importlib.resources import files
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import typer.main
import yaml
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from etp.cli import cli

ROOT = Path(__file__).resolve().parents[1]
ETP_BIN = Path(sys.executable).with_name("etp")


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    return loaded


def services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = compose["services"]
    return found


def test_compose_file_follows_the_compose_specification(compose: dict[str, Any]) -> None:
    vendored = files("check_jsonschema.builtin_schemas.vendor") / "compose-spec.json"
    schema = json.loads(vendored.read_text())
    validator = jsonschema.validators.validator_for(schema)(schema)
    errors = [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(compose)]
    assert errors == []
    assert not validator.is_valid({**compose, "services": {"api": {"helthcheck": {}}}})


def _etp_commands(compose: dict[str, Any]) -> dict[str, list[str]]:
    return {
        name: service["command"]
        for name, service in services(compose).items()
        if service.get("image", "").startswith("etp-express")
    }


def test_every_etp_service_runs_a_real_etp_command(compose: dict[str, Any]) -> None:
    commands = _etp_commands(compose)
    assert set(commands) == {"migrate", "api", "worker", "telegram", "slack"}
    group = typer.main.get_command(cli)
    for name, command in commands.items():
        assert isinstance(command, list) and command[0] == "etp", name
        # walk the sub-commands as click would, then parse the options: an unknown command or
        # option (a typo, a renamed flag) fails here as it would in the container
        args = command[1:]
        target: Any = group  # typer's own click: a group has list_commands
        ctx = target.make_context("etp", list(args))
        path: list[str] = []
        while hasattr(target, "list_commands") and args:
            sub = target.get_command(ctx, args[0])
            assert sub is not None, f"{name}: `etp {' '.join([*path, args[0]])}` does not exist"
            path.append(args[0])
            target, args = sub, args[1:]
            ctx = target.make_context(" ".join(["etp", *path]), list(args), parent=ctx)
        assert not hasattr(target, "list_commands"), f"{name}: `etp {' '.join(path)}` is a group"
        # and the installed command line itself knows it
        shown = subprocess.run(
            [str(ETP_BIN), *path, "--help"], capture_output=True, text=True, timeout=120
        )
        assert shown.returncode == 0, shown.stderr
        for option in (a.split("=")[0] for a in args if a.startswith("--")):
            assert option in shown.stdout, f"{name}: {option} not in `etp {' '.join(path)}`"


def test_compose_checks_health_and_starts_in_order(compose: dict[str, Any]) -> None:
    s = services(compose)
    assert s["postgres"]["image"] == "postgres:15"
    assert "pg_isready" in " ".join(s["postgres"]["healthcheck"]["test"])
    assert s["redis"]["healthcheck"]["test"][-2:] == ["redis-cli", "ping"]
    # the database's data lives in a named volume, declared at the top level
    volume = s["postgres"]["volumes"][0].split(":")[0]
    assert volume in compose["volumes"]
    assert " ".join(s["migrate"]["command"]) == "etp db upgrade"
    assert s["migrate"]["restart"] == "no"
    assert s["migrate"]["depends_on"] == {"postgres": {"condition": "service_healthy"}}
    for name in ("api", "worker", "telegram", "slack"):
        assert s[name]["depends_on"] == {
            "migrate": {"condition": "service_completed_successfully"},
            "redis": {"condition": "service_healthy"},
        }, name
    assert "/health/ready" in " ".join(s["api"]["healthcheck"]["test"])
    assert s["api"]["command"][:2] == ["etp", "serve"]


def test_compose_scales_workers_and_keeps_one_poller(compose: dict[str, Any]) -> None:
    s = services(compose)
    # a name or a host port would stop `--scale worker=N`
    assert "container_name" not in s["worker"] and "ports" not in s["worker"]
    assert s["worker"]["command"] == ["etp", "worker"]
    assert s["telegram"]["profiles"] == ["telegram"]
    assert s["telegram"]["deploy"]["replicas"] == 1
    assert s["telegram"]["command"][:2] == ["etp", "telegram"]
    assert "--set-webhook" not in s["telegram"]["command"]  # long polling
    assert s["slack"]["profiles"] == ["slack"]
    assert s["slack"]["command"][:2] == ["etp", "slack"]
    # the always-on services have no profile: `docker compose up` starts them
    for name in ("postgres", "redis", "migrate", "api", "worker"):
        assert "profiles" not in s[name], name


def test_compose_values_come_from_env_and_the_template_lists_them(
    compose: dict[str, Any],
) -> None:
    s = services(compose)
    for name, _ in _etp_commands(compose).items():
        assert {"path": ".env", "required": False} in s[name]["env_file"], name
        env = s[name]["environment"]
        assert env["DATABASE_URL"].startswith("postgresql+asyncpg://"), name  # never SQLite
        assert env["REDIS_URL"].startswith("redis://redis:"), name
    text = (ROOT / "docker-compose.yml").read_text()
    used = set(re.findall(r"\$\{([A-Z][A-Z0-9_]*)", text))
    template = (ROOT / ".env.template").read_text()
    listed = set(re.findall(r"^#?\s*([A-Z][A-Z0-9_]+)=", template, re.M))
    assert used <= listed, used - listed


# --- the production image ----------------------------------------------------------------


def dockerfile() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    joined = re.sub(r"\\\n", " ", (ROOT / "deploy" / "Dockerfile").read_text())
    found = []
    for line in joined.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            found.append((word.upper(), rest.strip()))
    return found


def stages() -> list[list[tuple[str, str]]]:
    result: list[list[tuple[str, str]]] = []
    for instruction in dockerfile():
        if instruction[0] == "FROM":
            result.append([])
        if result:
            result[-1].append(instruction)
    return result


def test_image_is_built_in_stages_from_the_hashed_lock() -> None:
    build, runtime = stages()
    assert build[0][1].endswith("AS build")
    runs = " ".join(args for word, args in build if word == "RUN")
    assert "--require-hashes" in runs and "-r /tmp/requirements.lock" in runs
    assert "--no-deps" in runs and "--no-build-isolation" in runs
    copied = {args.split()[0] for word, args in build if word == "COPY"}
    assert "requirements.lock" in copied
    # every package the project ships is copied in
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    packages = {p.rstrip("*") for p in config["tool"]["setuptools"]["packages"]["find"]["include"]}
    assert packages <= copied, packages - copied
    # the runtime stage takes the built virtualenv, not the build tools
    assert any(w == "COPY" and a.startswith("--from=build") for w, a in runtime)
    assert not any("pip install" in a for w, a in runtime if w == "RUN")


def test_image_runs_unprivileged_under_an_init_and_checks_readiness() -> None:
    runtime = stages()[-1]
    users = [args for word, args in runtime if word == "USER"]
    assert users and users[-1] not in ("root", "0")
    entrypoint = json.loads(next(a for w, a in runtime if w == "ENTRYPOINT"))
    assert entrypoint[0].endswith("tini")  # PID 1 passes SIGTERM on to etp
    assert any("tini" in a for w, a in runtime if w == "RUN")
    health = next(a for w, a in runtime if w == "HEALTHCHECK")
    assert "/health/ready" in health
    assert json.loads(next(a for w, a in runtime if w == "CMD"))[:2] == ["etp", "serve"]
    env = " ".join(a for w, a in runtime if w in ("ENV", "ARG"))
    assert "ETP_ENV=production" in env  # no embedded SQLite default in the container
    assert "DATABASE_URL" not in env


def test_build_context_leaves_out_secrets_and_local_state() -> None:
    ignored = set((ROOT / ".dockerignore").read_text().split())
    # .env holds the secrets; the rest is large or local (a SQLite file holds ETPs)
    assert {".env", ".venv", ".git", "*.db"} <= ignored
    copied = {a.split()[0] for w, a in stages()[0] if w == "COPY"}
    assert not {c for c in copied if c in ignored}  # nothing the image needs is left out


# --- the lock files -----------------------------------------------------------------------


def _pins(path: Path) -> dict[str, tuple[str, list[str]]]:
    text = re.sub(r"\\\n", " ", path.read_text())
    pins = {}
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        spec, *options = shlex.split(line)
        name, _, version = spec.partition("==")
        hashes = [o.removeprefix("--hash=") for o in options if o.startswith("--hash=")]
        pins[canonicalize_name(name)] = (version, hashes)
    return pins


@pytest.mark.parametrize(
    ("lock", "extras"), [("requirements.lock", ()), ("requirements-dev.lock", ("dev",))]
)
def test_lock_pins_every_dependency_with_hashes(lock: str, extras: tuple[str, ...]) -> None:
    pins = _pins(ROOT / lock)
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = [Requirement(r) for r in project["dependencies"]]
    for extra in extras:
        wanted += [Requirement(r) for r in project["optional-dependencies"][extra]]
    for requirement in wanted:
        name = canonicalize_name(requirement.name)
        assert name in pins, f"{name} is not in {lock}: run `make lock`"
        version, _ = pins[name]
        assert requirement.specifier.contains(version, prereleases=True), (
            f"{lock} pins {name}=={version}, outside {requirement.specifier}: run `make lock`"
        )
    for name, (version, hashes) in pins.items():
        assert version and hashes, f"{name} in {lock} has no exact version or no hash"
        assert all(re.fullmatch(r"sha256:[0-9a-f]{64}", h) for h in hashes), name


def test_the_dev_lock_runs_what_production_runs() -> None:
    runtime, dev = _pins(ROOT / "requirements.lock"), _pins(ROOT / "requirements-dev.lock")
    differing = {
        n: (v, dev.get(n, ("absent",))[0])
        for n, (v, _) in runtime.items()
        if dev.get(n, ("",))[0] != v
    }
    assert differing == {}


def test_make_installs_from_the_lock_with_hashes() -> None:
    makefile = (ROOT / "Makefile").read_text()
    recipe = makefile.split("$(STAMP):", 1)[1].split("\n\n", 1)[0]
    assert "--require-hashes" in recipe and "-r $(DEV_LOCK)" in recipe
    # the project itself adds nothing unpinned
    assert re.search(r"install .*--no-deps .*-e \.", recipe)
