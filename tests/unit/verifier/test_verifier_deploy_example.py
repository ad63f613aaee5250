# SPDX-License-Identifier: Apache-2.0
"""The shipped ``deploy/verifier.toml`` loads, and its systemd unit runs it."""

from __future__ import annotations

import configparser
from pathlib import Path

from verifier.config import load_config

DEPLOY = Path(__file__).resolve().parents[3] / "deploy"


def test_the_example_verifier_toml_loads(tmp_path: Path) -> None:
    text = (DEPLOY / "verifier.toml").read_text(encoding="utf-8")
    path = tmp_path / "verifier.toml"
    path.write_text(text.replace("/etc/myna-edge-verifier/", f"{tmp_path}/"), encoding="utf-8")
    config = load_config(path)
    assert config.listen == "0.0.0.0:50051"
    assert config.database == "sqlite:////var/lib/myna-edge-verifier/verifier.sqlite"
    assert not config.insecure_dev
    assert config.trust_dir == tmp_path / "trust"
    assert config.issuer_master_key == tmp_path / "issuer-master.key"
    assert config.tls.directory == Path("/var/lib/myna-edge-verifier/tls")
    assert config.crl_sources("sign") == (str(tmp_path / "trust" / "sign.crl.der"),)
    assert config.policy.transfer_threshold_yen == 100_000
    assert config.policy.reset_policy == "reservation_only"
    assert config.policy.idempotency_ttl_seconds == 48 * 3600


def test_the_unit_runs_the_verifier_with_that_file() -> None:
    unit = configparser.ConfigParser(strict=False, interpolation=None)
    unit.read(DEPLOY / "myna-edge-verifier.service", encoding="utf-8")
    service = unit["Service"]
    assert service["ExecStart"].split()[1:] == [
        "verifier",
        "--config",
        "/etc/myna-edge-verifier/verifier.toml",
    ]
    assert service["StateDirectory"] == "myna-edge-verifier"
    assert service["User"] != "root"
    assert unit["Install"]["WantedBy"] == "multi-user.target"
