# SPDX-License-Identifier: Apache-2.0
"""``CredentialWatch``: a renewed certificate is noticed, a half-written one is not."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from host.client.channel import ClientConfig, CredentialFiles, CredentialWatch, service_config
from verifier.config import TlsConfig
from verifier.tls import issue_terminal_certificate, write_issued


class _Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _enrol(tmp_path: Path) -> tuple[TlsConfig, ClientConfig]:
    tls = TlsConfig(directory=tmp_path / "ca")
    write_issued(issue_terminal_certificate(tls, "atm-01"), tmp_path, "atm-01")
    config = ClientConfig.from_files(
        "127.0.0.1:1",
        "atm-01",
        ca=tmp_path / "ca.pem",
        certificate=tmp_path / "atm-01.pem",
        key=tmp_path / "atm-01.key",
        reload_interval=5.0,
    )
    return tls, config


def test_a_renewal_is_picked_up_once_per_interval(tmp_path: Path) -> None:
    tls, config = _enrol(tmp_path)
    clock = _Clock()
    watch = CredentialWatch(config, clock=clock)
    assert watch.poll() is None
    renewed = issue_terminal_certificate(tls, "atm-01")
    write_issued(renewed, tmp_path, "atm-01")
    clock.now = 4.9
    assert watch.poll() is None  # not looked at before the interval
    clock.now = 5.0
    fresh = watch.poll()
    assert fresh is not None
    assert watch.generation == 1
    assert fresh.certificate_pem == renewed.certificate_pem
    assert fresh.key_pem == renewed.key_pem
    clock.now = 10.0
    assert watch.poll() is None  # nothing new since


def test_a_certificate_without_its_key_waits(tmp_path: Path) -> None:
    tls, config = _enrol(tmp_path)
    clock = _Clock()
    watch = CredentialWatch(config, clock=clock)
    renewed = issue_terminal_certificate(tls, "atm-01")
    (tmp_path / "atm-01.pem").write_bytes(renewed.certificate_pem)  # the key is still the old one
    clock.now = 5.0
    assert watch.poll() is None
    assert watch.generation == 0
    (tmp_path / "atm-01.key").write_bytes(renewed.key_pem)
    clock.now = 10.0
    assert watch.poll() is not None
    assert watch.generation == 1


def test_touched_or_missing_files_change_nothing(tmp_path: Path) -> None:
    _, config = _enrol(tmp_path)
    clock = _Clock()
    watch = CredentialWatch(config, clock=clock)
    pem = tmp_path / "atm-01.pem"
    pem.write_bytes(pem.read_bytes())  # same bytes, new inode/mtime
    clock.now = 5.0
    assert watch.poll() is None
    pem.unlink()
    clock.now = 10.0
    assert watch.poll() is None
    assert watch.generation == 0


def test_without_files_nothing_is_watched() -> None:
    watch = CredentialWatch(ClientConfig("127.0.0.1:1", "atm-01", insecure_dev=True))
    assert watch.poll() is None
    with pytest.raises(ValueError, match="reload_interval"):
        CredentialFiles(Path("a"), Path("b"), Path("c"), reload_interval=0)


@pytest.mark.parametrize("attempts", [1, 4])
def test_round_robin_skips_a_replica_that_reports_not_serving(attempts: int) -> None:
    # gRFC A17: with healthCheckConfig the balancer watches grpc.health.v1 and
    # leaves a draining replica (rolling restarts, verifier.server.stop).
    config = ClientConfig(
        "ipv4:127.0.0.1:1,127.0.0.1:2", "atm-01", insecure_dev=True, max_attempts=attempts
    )
    parsed = json.loads(service_config(config))
    assert parsed["healthCheckConfig"] == {"serviceName": ""}
    assert parsed["loadBalancingConfig"] == [{"round_robin": {}}]


def test_terminal_toml_paths_are_resolved_beside_it(tmp_path: Path) -> None:
    toml = tmp_path / "etc" / "terminal.toml"
    files = CredentialFiles.beside(toml, "ca.pem", "/abs/t.pem", "t.key")
    assert files == CredentialFiles(
        tmp_path / "etc" / "ca.pem", Path("/abs/t.pem"), tmp_path / "etc" / "t.key"
    )
    assert CredentialFiles.beside(toml, "ca.pem", None, "t.key") is None  # plaintext development
