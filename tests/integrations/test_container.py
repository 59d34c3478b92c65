"""The container files (Dockerfile, compose.yaml) checked against the code they run, without a Docker daemon.

compose.yaml must be a valid Compose file (the official Compose Specification schema, vendored in
tests/fixtures/compose-spec.json), every variable it sets for the app must be a real `Settings` field (taken
from the model, so a renamed setting fails here) and the values must load as settings; the Dockerfile's
HEALTHCHECK must ask a route the app answers, its user must not be root, and its CMD, the build-time `init`
and compose's commands must be real `billing-assistant` commands and options (their `--help` runs in a
subprocess). The image is built only where `docker info` answers (this machine has no daemon).
"""

from __future__ import annotations

import copy
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from fastapi.testclient import TestClient

from assistant.settings import ENV_PREFIX, Settings, load_settings
from knowledge.practice.database import make_engine, upgrade

REPO_ROOT = Path(__file__).resolve().parents[2]
COMPOSE = REPO_ROOT / "compose.yaml"
DOCKERFILE = REPO_ROOT / "Dockerfile"
SCHEMA = REPO_ROOT / "tests" / "fixtures" / "compose-spec.json"
APP_SERVICES = ("init", "app")  # the services that run the project's image
CLI = [sys.executable, "-m", "integrations.cli.main"]
_INTERPOLATION = re.compile(r"\$\{(?P<name>[A-Z0-9_]+)(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\}")


# -- reading the two files --------------------------------------------------------------------------------
def _compose() -> dict[str, Any]:
    loaded = yaml.safe_load(COMPOSE.read_text())  # resolves the anchors and `<<` merges, as compose does
    assert isinstance(loaded, dict)
    return loaded


def _instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of the Dockerfile, continuation lines joined, comments dropped."""
    lines: list[str] = []
    pending = ""
    for raw in DOCKERFILE.read_text().splitlines():
        stripped = raw.strip()
        if not stripped or (stripped.startswith("#") and not pending):
            continue
        if stripped.startswith("#"):
            continue
        if stripped.endswith("\\"):
            pending += stripped[:-1] + " "
            continue
        lines.append(pending + stripped)
        pending = ""
    parsed = []
    for line in lines:
        keyword, _, rest = line.partition(" ")
        parsed.append((keyword.upper(), rest.strip()))
    return parsed


def _final_stage() -> list[tuple[str, str]]:
    """The instructions of the last stage: the image that runs."""
    instructions = _instructions()
    last_from = max(i for i, (keyword, _) in enumerate(instructions) if keyword == "FROM")
    return instructions[last_from:]


def _exec_form(arguments: str) -> list[str]:
    value = json.loads(arguments)
    assert isinstance(value, list) and all(isinstance(part, str) for part in value), arguments
    return value


def _one(stage: list[tuple[str, str]], keyword: str) -> str:
    found = [arguments for word, arguments in stage if word == keyword]
    assert found, f"the final stage has no {keyword}"
    return found[-1]  # Docker keeps the last one


def _settings_variables() -> set[str]:
    """Every environment variable `Settings` reads: the prefixed field names and their aliases."""
    names: set[str] = set()
    for field_name, field in Settings.model_fields.items():
        names.add(f"{ENV_PREFIX}{field_name.upper()}")
        alias = field.validation_alias
        for choice in getattr(alias, "choices", []):
            if isinstance(choice, str):
                names.add(choice.upper())
    return names


def _interpolated(value: str, given: dict[str, str]) -> str:
    """Compose's `${VAR}`, `${VAR:-default}` and `${VAR:?message}` against ``given`` (the host's .env)."""

    def replace(match: re.Match[str]) -> str:
        name, op, arg = match["name"], match["op"], match["arg"]
        if name in given and (given[name] or op not in (":-", ":?")):
            return given[name]
        if op in (":-", "-"):
            return arg or ""
        if op in (":?", "?"):
            raise KeyError(f"{name}: {arg}")
        return ""

    return _INTERPOLATION.sub(replace, value)


def _help(*command: str) -> str:
    result = subprocess.run(
        [*CLI, *command, "--help"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**os.environ, "COLUMNS": "200"},
    )
    assert result.returncode == 0, (command, result.stderr)
    return result.stdout


def _assert_real_command(argv: list[str]) -> None:
    """``argv`` (after the `billing-assistant` entry point) names a real command and only its options."""
    words = [word for word in argv if not word.startswith("-")]
    command = words[:1]
    text = _help(*command)
    for option in (word.split("=", 1)[0] for word in argv if word.startswith("--")):
        assert re.search(rf"(?<![\w-]){re.escape(option)}(?![\w-])", text), (argv, option)


# -- compose.yaml -------------------------------------------------------------------------------------------
def test_compose_file_is_valid_against_the_compose_specification() -> None:
    schema = json.loads(SCHEMA.read_text())
    validator = jsonschema.Draft7Validator(schema)
    compose = _compose()
    errors = sorted(validator.iter_errors(compose), key=lambda error: list(error.path))
    assert not errors, [f"{'/'.join(map(str, e.path))}: {e.message}" for e in errors]

    # The schema does catch what compose would refuse: a condition compose does not know.
    broken = copy.deepcopy(compose)
    broken["services"]["app"]["depends_on"]["db"]["condition"] = "service_ready"
    assert not validator.is_valid(broken)


def test_compose_runs_the_app_beside_postgres_and_a_pinned_chroma() -> None:
    services = _compose()["services"]
    assert set(services) == {"init", "app", "db", "chroma"}
    assert services["db"]["image"] == "postgres:15"
    assert services["chroma"]["image"] == f"chromadb/chroma:{version('chromadb')}"  # the client's own version
    named = set(_compose()["volumes"])
    for service in ("db", "chroma", "app"):
        mounted = {volume.split(":", 1)[0] for volume in services[service]["volumes"]}
        assert mounted and mounted <= named, (service, mounted)
    for name in ("db", "chroma"):
        assert services[name]["healthcheck"]["test"], name
    assert "pg_isready" in " ".join(services["db"]["healthcheck"]["test"])
    for name in APP_SERVICES:
        for dependency, rule in services[name]["depends_on"].items():
            if rule["condition"] == "service_healthy":
                assert services[dependency].get("healthcheck"), (name, dependency)
    assert services["app"]["depends_on"]["db"]["condition"] == "service_healthy"
    assert services["app"]["depends_on"]["chroma"]["condition"] == "service_healthy"
    assert services["app"]["depends_on"]["init"]["condition"] == "service_completed_successfully"
    assert services["init"]["depends_on"]["db"]["condition"] == "service_healthy"


def test_every_variable_compose_sets_for_the_app_is_a_real_setting() -> None:
    known = _settings_variables()
    services = _compose()["services"]
    for name in APP_SERVICES:
        environment = services[name]["environment"]
        assert isinstance(environment, dict), name
        unknown = sorted(set(environment) - known)
        assert not unknown, f"{name} sets variables no setting reads: {unknown}"


def test_the_compose_environment_loads_as_production_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    """With the two secrets given, the app's environment is valid production configuration that points at
    the compose services; without them compose refuses to start (`${VAR:?...}`), so no secret has a default."""
    environment = _compose()["services"]["app"]["environment"]
    secrets = {"POSTGRES_PASSWORD": "pg-secret-for-test", "BILLING_ASSISTANT_SECRET_KEY": "k" * 40}
    for secret in secrets:
        with pytest.raises(KeyError):
            for value in environment.values():
                _interpolated(str(value), {k: v for k, v in secrets.items() if k != secret})
    for key in list(os.environ):
        if key.startswith(ENV_PREFIX) or key.startswith("SLACK_"):
            monkeypatch.delenv(key, raising=False)
    for key, value in environment.items():
        monkeypatch.setenv(key, _interpolated(str(value), secrets))
    monkeypatch.chdir(REPO_ROOT / "tests")  # no stray .env
    settings = load_settings()
    assert settings.environment.value == "production"
    assert settings.resolved_database_url == "postgresql+psycopg://billing:pg-secret-for-test@db:5432/billing"
    assert settings.chroma_url == "http://chroma:8000"
    assert str(settings.home) == "/home/app/data"
    assert settings.secret_key.get_secret_value() == "k" * 40
    services = _compose()["services"]
    assert services["db"]["environment"]["POSTGRES_USER"] in settings.resolved_database_url
    assert f"/{services['db']['environment']['POSTGRES_DB']}" in settings.resolved_database_url
    home_volume = {volume.split(":", 1)[1] for volume in services["app"]["volumes"]}
    assert str(settings.home) in home_volume


def test_compose_commands_are_real_cli_commands() -> None:
    for name in APP_SERVICES:
        command = _compose()["services"][name].get("command")
        if command is not None:
            _assert_real_command(command)


# -- Dockerfile ---------------------------------------------------------------------------------------------
def test_the_image_runs_as_an_unprivileged_user() -> None:
    stage = _final_stage()
    user = _one(stage, "USER").split(":", 1)[0]
    assert user not in {"root", "0"}
    created = [arguments for word, arguments in stage if word == "RUN" and "useradd" in arguments]
    assert created and shlex.split(created[0])[-1] == user  # the user exists in the image
    # Nothing runs as root after the switch: USER comes before the build-time `init` and the CMD.
    keywords = [word for word, _ in stage]
    assert keywords.index("USER") < keywords.index("CMD")
    assert all(word != "USER" for word in keywords[keywords.index("USER") + 1 :])


def test_the_healthcheck_asks_a_route_the_app_answers(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    healthcheck = _one(_final_stage(), "HEALTHCHECK")
    urls = re.findall(r"http://127\.0\.0\.1:(\d+)(/[\w/.-]*)", healthcheck)
    assert len(urls) == 1, healthcheck
    port, path = urls[0]
    assert f"EXPOSE {port}" in {f"{w} {a}" for w, a in _final_stage()}
    assert ["--port", port] == _exec_form(_one(_final_stage(), "CMD"))[-2:]

    from integrations.web.app import create_app

    home = tmp_path / "home"
    monkeypatch.setenv("BILLING_ASSISTANT_HOME", str(home))
    monkeypatch.setenv("BILLING_ASSISTANT_DATABASE_URL", f"sqlite:///{tmp_path / 'health.db'}")
    engine = make_engine(f"sqlite:///{tmp_path / 'health.db'}")
    upgrade(engine)
    engine.dispose()
    app = create_app(load_settings())
    with TestClient(app) as client:
        answer = client.get(path)
        elsewhere = client.get(path + "-not-a-route")
    assert answer.status_code == 200 and answer.json()["status"] == "ok"
    assert elsewhere.status_code == 404  # the app does not answer 200 to any path


def test_the_cmd_and_the_build_time_init_are_real_cli_commands() -> None:
    stage = _final_stage()
    assert _exec_form(_one(stage, "ENTRYPOINT")) == ["billing-assistant"]
    pyproject = (REPO_ROOT / "pyproject.toml").read_text()
    assert 'billing-assistant = "integrations.cli.main:run"' in pyproject  # the entry point the image calls
    cmd = _exec_form(_one(stage, "CMD"))
    assert cmd[0] == "serve" and cmd[cmd.index("--host") + 1] == "0.0.0.0"
    _assert_real_command(cmd)
    baked = [arguments for word, arguments in stage if word == "RUN" and "billing-assistant init" in arguments]
    assert len(baked) == 1
    init = shlex.split(baked[0].split("billing-assistant", 1)[1].split("&&", 1)[0].split(">", 1)[0])
    assert init[0] == "init" and "--no-knowledge" in init
    _assert_real_command(init)


def test_torch_is_the_projects_pin_from_the_cpu_index() -> None:
    pin = re.search(r'"torch==([\d.]+)"', (REPO_ROOT / "pyproject.toml").read_text())
    assert pin is not None
    runs = [arguments for word, arguments in _instructions() if word == "RUN" and "torch==" in arguments]
    assert runs == [f"pip install torch=={pin[1]} --index-url https://download.pytorch.org/whl/cpu"]
    installs = [arguments for word, arguments in _instructions() if word == "RUN" and "pip install" in arguments]
    assert installs.index(runs[0]) == 0  # before the project, so the project's pin finds it installed


# -- the image itself, where Docker answers -----------------------------------------------------------------
def _docker_answers() -> bool:
    if shutil.which("docker") is None:
        return False
    try:
        return subprocess.run(["docker", "info"], capture_output=True, timeout=30, check=False).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


@pytest.mark.slow
def test_the_image_builds_and_its_cli_runs() -> None:
    if not _docker_answers():
        pytest.skip("no Docker daemon answers `docker info` on this machine; the image is not built here")
    tag = "billing-assistant:test"
    subprocess.run(["docker", "build", "-t", tag, "."], cwd=REPO_ROOT, check=True, timeout=3600)
    who = subprocess.run(
        ["docker", "run", "--rm", "--entrypoint", "id", tag, "-u"], capture_output=True, text=True, check=True
    )
    assert who.stdout.strip() != "0"
    served = subprocess.run(["docker", "run", "--rm", tag, "serve", "--help"], capture_output=True, text=True)
    assert served.returncode == 0 and "--host" in served.stdout
