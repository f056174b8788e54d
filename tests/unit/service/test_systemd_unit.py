"""systemd/relais.service as systemd reads it (systemd/verify.sh), and as the daemon needs it."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from datetime import timedelta
from pathlib import Path

import pytest

from scheduler.config import DispatchConfig, load_config
from scheduler.durations import parse_duration
from tests.paths import REPOSITORY

ROOT = REPOSITORY
UNIT = ROOT / "systemd" / "relais.service"
VERIFY = ROOT / "systemd" / "verify.sh"

needs_systemd_analyze = pytest.mark.skipif(
    shutil.which("systemd-analyze") is None and os.environ.get("CI") != "true",
    reason="systemd-analyze is missing (under CI=true verify.sh installs it)",
)


def verify(unit: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(VERIFY), *([str(unit)] if unit else [])],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def settings(text: str) -> dict[str, list[str]]:
    """Active ``Key=Value`` lines; a key may repeat (SystemCallFilter=, LoadCredential=)."""
    found: dict[str, list[str]] = {}
    for line in text.splitlines():
        if line.startswith(("#", ";", "[")) or "=" not in line:
            continue
        key, value = line.split("=", 1)
        found.setdefault(key.strip(), []).append(value.strip())
    return found


def edited(tmp_path: Path, change: str, by: str) -> Path:
    text = UNIT.read_text(encoding="utf-8")
    assert change in text
    copy = tmp_path / "relais.service"
    copy.write_text(text.replace(change, by), encoding="utf-8")
    return copy


@needs_systemd_analyze
def test_the_unit_passes_systemd_analyze_verify_and_security() -> None:
    result = verify()
    assert result.returncode == 0, result.stdout + result.stderr
    assert "systemd-analyze verify: relais.service OK" in result.stdout
    score = re.search(r"exposure ([0-9.]+)", result.stdout)
    assert score is not None and float(score.group(1)) <= 2.0


@needs_systemd_analyze
def test_verify_refuses_a_key_systemd_would_ignore(tmp_path: Path) -> None:
    # A misspelt hardening key is only a warning for systemd: the unit would run unprotected.
    result = verify(edited(tmp_path, "ProtectSystem=strict", "ProtectSytem=strict"))
    assert result.returncode != 0
    assert "Unknown key 'ProtectSytem'" in result.stderr


@needs_systemd_analyze
def test_verify_refuses_a_weakened_unit(tmp_path: Path) -> None:
    text = UNIT.read_text(encoding="utf-8")
    weak = tmp_path / "weak.service"
    weak.write_text(re.sub(r"(?ms)^# -- hardening.*?^\[Install\]", "[Install]", text))
    result = verify(weak)
    assert result.returncode != 0
    assert "is above 2.0" in result.stderr


@needs_systemd_analyze
def test_verify_refuses_a_unit_that_does_not_start_the_installed_relais(tmp_path: Path) -> None:
    result = verify(edited(tmp_path, "/opt/relais/.venv/bin/relais", "/usr/bin/relais"))
    assert result.returncode != 0
    assert "does not start /opt/relais/.venv/bin/relais" in result.stderr


def test_the_unit_runs_the_daemon_as_the_install_notes_say() -> None:
    unit = settings(UNIT.read_text(encoding="utf-8"))
    assert unit["Type"] == ["notify"]
    assert unit["ExecStart"] == [
        "/opt/relais/.venv/bin/relais --config /etc/relais/config.yaml run"
    ]
    assert unit["User"] == ["relais"]
    assert unit["StateDirectory"] == ["relais"]
    assert unit["ConfigurationDirectory"] == ["relais"]
    assert unit["Restart"] == ["on-failure"]
    assert unit["KillSignal"] == ["SIGTERM"]
    assert parse_duration(unit["WatchdogSec"][0]) >= timedelta(seconds=30)
    assert unit["ProtectSystem"] == ["strict"]
    assert unit["NoNewPrivileges"] == ["yes"]
    assert unit["CapabilityBoundingSet"] == [""]


def test_the_stop_timeout_leaves_room_for_the_in_flight_deadline() -> None:
    stop = parse_duration(settings(UNIT.read_text(encoding="utf-8"))["TimeoutStopSec"][0])
    bundled = load_config(ROOT / "config.yaml").dispatch.shutdown_deadline
    for deadline in (DispatchConfig().shutdown_deadline, bundled):
        # systemd's SIGKILL must not cut short the release of claims after the deadline.
        assert stop >= deadline + timedelta(seconds=15)


def test_the_shipped_unit_starts_without_any_secret_file() -> None:
    # A LoadCredential= whose file is missing fails the start (243/CREDENTIALS); secrets are
    # listed per site in a drop-in, so the offline default configuration starts as is.
    assert "LoadCredential" not in settings(UNIT.read_text(encoding="utf-8"))


WEB_UNIT = ROOT / "systemd" / "relais-web.service"


@needs_systemd_analyze
def test_the_desk_unit_passes_systemd_analyze_verify_and_security() -> None:
    result = verify(WEB_UNIT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "systemd-analyze verify: relais-web.service OK" in result.stdout
    score = re.search(r"exposure ([0-9.]+)", result.stdout)
    assert score is not None and float(score.group(1)) <= 2.0


def test_the_desk_unit_is_hardened_like_the_daemons() -> None:
    daemon = settings(UNIT.read_text(encoding="utf-8"))
    desk = settings(WEB_UNIT.read_text(encoding="utf-8"))
    assert desk["ExecStart"] == [
        "/opt/relais/.venv/bin/relais --config /etc/relais/config.yaml web"
    ]
    assert desk["User"] == daemon["User"] and desk["StateDirectory"] == daemon["StateDirectory"]
    hardening = [
        "NoNewPrivileges", "CapabilityBoundingSet", "ProtectSystem", "ProtectHome", "PrivateTmp",
        "PrivateDevices", "ProtectKernelTunables", "ProtectKernelModules", "RestrictNamespaces",
        "MemoryDenyWriteExecute", "RestrictAddressFamilies", "SystemCallFilter", "LockPersonality",
    ]  # fmt: skip
    for key in hardening:
        assert desk.get(key) == daemon.get(key), key
    assert "LoadCredential" not in desk
