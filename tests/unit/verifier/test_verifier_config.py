# SPDX-License-Identifier: Apache-2.0
"""Configuration: embedded safe defaults, TOML loading, overrides, refusals."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import msgspec
import pytest

from verifier import config as config_module
from verifier.config import PolicyConfig, RevocationConfig, TlsConfig, VerifierConfig, load_config
from verifier.errors import ConfigError


def test_defaults_are_safe() -> None:
    config = load_config()
    assert not config.insecure_dev
    assert config.listen == "127.0.0.1:50051"
    assert config.database.startswith("sqlite:///")
    assert config.policy.transfer_threshold_yen == 100_000
    with pytest.raises(ConfigError, match="trust_dir"):
        config.trust_folder()


def test_dev_mode_trusts_the_simulator_export(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("MYNA_EDGE_SIM_HOME", str(tmp_path))
    assert load_config(insecure_dev=True).trust_folder() == tmp_path / "trust"


def test_toml_file_with_relative_paths(tmp_path: Path) -> None:
    path = tmp_path / "verifier.toml"
    path.write_text(
        'listen = "127.0.0.1:6000"\n'
        'trust_dir = "trust"\n'
        "[tls]\n"
        'directory = "tls"\n'
        "[revocation]\n"
        'crl_sources = {auth = ["crl/auth.der", "http://127.0.0.1:1/a.crl"]}\n'
        'ocsp_urls = {sign = "http://127.0.0.1:2/"}\n'
        "crl_refresh_seconds = 60\n"
        "[policy]\n"
        "transfer_threshold_yen = 50000\n"
        'reset_policy = "otp"\n'
    )
    config = load_config(path, listen="127.0.0.1:7000")
    assert config.listen == "127.0.0.1:7000"  # flags win
    assert config.trust_dir == tmp_path / "trust"
    assert config.tls.path("server_cert") == tmp_path / "tls" / "server.pem"
    assert config.crl_sources("auth") == (
        str(tmp_path / "crl/auth.der"),
        "http://127.0.0.1:1/a.crl",
    )
    assert config.crl_sources("sign") == (str(tmp_path / "trust" / "sign.crl.der"),)
    assert config.revocation.crl_refresh_seconds == 60.0
    assert config.policy.transfer_threshold_yen == 50_000
    assert config.policy.reset_policy == "otp"


@pytest.mark.parametrize(
    "text",
    [
        "unknown = 1\n",
        "listen = 5\n",
        "insecure_dev = 1\n",
        "[policy]\nreset_policy = 'sometimes'\n",
        "[policy]\nnonce_ttl_seconds = 0\n",
        "[policy]\ntransfer_threshold_yen = true\n",
        "[revocation]\nocsp_urls = ['x']\n",
        "not toml",
        "policy = 3\n",
    ],
)
def test_bad_files_are_refused(tmp_path: Path, text: str) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(ConfigError):
        load_config(path)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path / "absent.toml")


@pytest.mark.parametrize(
    ("text", "key", "expected"),
    [
        ("[policy]\notp_max_attempts = 'three'\n", "policy.otp_max_attempts", "expected `int`"),
        ("[policy]\nnonce_ttl_seconds = -1\n", "policy.nonce_ttl_seconds", "> 0"),
        ("[policy]\nreset_policy = 'maybe'\n", "policy.reset_policy", "'otp', 'reservation_only'"),
        ("[tls]\nserver_kee = 'k'\n", "tls.server_kee", "unknown key"),
        ("trust_dir = ''\n", "trust_dir", "non-empty string path"),
        ("policy = 3\n", "policy", "expected a table"),
    ],
)
def test_an_error_names_the_file_the_key_and_what_was_expected(
    tmp_path: Path, text: str, key: str, expected: str
) -> None:
    path = tmp_path / "verifier.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    message = str(caught.value)
    assert message.startswith(f"{path}: {key}: ")
    assert expected in message
    assert "maybe" not in message  # the bad value is not echoed


@pytest.mark.parametrize(
    ("schema", "public"),
    [
        (config_module._TlsFile, TlsConfig),
        (config_module._RevocationFile, RevocationConfig),
        (config_module._PolicyFile, PolicyConfig),
        (config_module._File, VerifierConfig),
    ],
)
def test_the_file_schema_has_every_key_of_the_configuration(
    schema: type[msgspec.Struct], public: type
) -> None:
    # Every configuration field is a file key, except insecure_dev (command line only).
    fields = {f.name for f in dataclasses.fields(public)} - {"insecure_dev"}
    assert set(schema.__struct_fields__) == fields
