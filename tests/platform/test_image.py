"""The Docker image: what its Dockerfile promises (no Docker daemon here to build it), and its
health check run for real against a server."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

from app.main import create_app
from app.platform.settings import PROJECT_ROOT, Settings
from tests.server_support import free_port, served

DOCKERFILE = (PROJECT_ROOT / "Dockerfile").read_text(encoding="utf-8")
MAKEFILE = (PROJECT_ROOT / "Makefile").read_text(encoding="utf-8")


def instructions(name: str) -> list[str]:
    """The arguments of every instruction `name` (continuation lines joined)."""
    text = DOCKERFILE.replace("\\\n", " ")
    return [m.group(1).strip() for m in re.finditer(rf"^{name} (.+)$", text, re.MULTILINE)]


def healthcheck_command() -> list[str]:
    (healthcheck,) = instructions("HEALTHCHECK")
    command: list[str] = json.loads(healthcheck.partition(" CMD ")[2])
    return command


def test_the_image_installs_the_locked_package_as_make_install_does() -> None:
    uv = re.search(r"^UV_VERSION := (\S+)$", MAKEFILE, re.MULTILINE)
    assert uv is not None
    assert f"pip install uv=={uv.group(1)}" in instructions("RUN")
    assert "uv sync --quiet --locked --extra dev" in MAKEFILE
    syncs = [run for run in instructions("RUN") if run.startswith("uv sync")]
    assert syncs == ["uv sync --locked --no-install-project", "uv sync --locked"]
    assert "pyproject.toml uv.lock" in instructions("COPY")[0]
    assert "PATH=/opt/bordin/bin:$PATH" in " ".join(instructions("ENV"))


def test_the_image_holds_the_data_every_setting_of_a_project_folder_reads() -> None:
    """The package is installed away from the project's folders: every folder of data the
    settings read from the project (instruments, guidance, languages) is copied into the
    image and its setting points there."""
    environment = " ".join(instructions("ENV"))
    copied = instructions("COPY")
    for name, field in Settings.model_fields.items():
        default = field.default
        if not isinstance(default, Path) or PROJECT_ROOT not in default.parents:
            continue
        relative = default.relative_to(PROJECT_ROOT)
        folder = relative.parts[0]
        assert f"{folder} ./{folder}" in copied, name
        assert f"{name.upper()}=/srv/bordin/{relative.as_posix()}" in environment, name


def test_the_image_runs_as_a_user_with_a_volume_and_settings_for_port_and_workers() -> None:
    assert instructions("USER") == ["bordin"]
    assert instructions("VOLUME") == ["/srv/bordin/data"]
    (command,) = instructions("CMD")
    assert '--port \\"$PORT\\"' in command
    assert '--workers \\"$WORKERS\\"' in command
    assert "--proxy-headers" in command
    environment = " ".join(instructions("ENV"))
    assert "PORT=8000" in environment
    assert "WORKERS=1" in environment
    assert Settings.model_fields["port"].default == 8000
    assert Settings.model_fields["workers"].default == 1


def test_the_health_check_passes_when_the_service_is_ready_and_fails_when_it_does_not_answer(
    settings: Settings,
) -> None:
    command = healthcheck_command()
    assert command[0] == "python"
    assert "/health/ready" in command[-1]
    run = [sys.executable, *command[1:]]
    with served(lambda: create_app(settings), uvicorn_logging=False) as url:
        port = url.rsplit(":", 1)[1]
        ready = subprocess.run(
            run, env={**os.environ, "PORT": port}, cwd=PROJECT_ROOT, capture_output=True,
            timeout=30, check=False,
        )  # fmt: skip
    assert ready.returncode == 0, ready.stderr
    silent = subprocess.run(
        run, env={**os.environ, "PORT": str(free_port())}, cwd=PROJECT_ROOT, capture_output=True,
        timeout=30, check=False,
    )  # fmt: skip
    assert silent.returncode != 0
