# SPDX-License-Identifier: Apache-2.0
"""terminal.toml parsing: safe defaults, relative paths, errors that name the key."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from host.agent import load_agent_config
from host.api import Profile
from host.errors import AgentConfigError

GOOD = """
profile = "atm"
terminal_id = "atm-01"
reader = "sim://default"
listen = "127.0.0.1:0"
journal = "state/journal.sqlite"
electronic_journal = "state/ej.txt"

[verifier]
target = "127.0.0.1:50051"
ca = "ca.pem"
certificate = "cert.pem"
key = "key.pem"
timeout = 3
"""


def write(tmp_path: Path, text: str) -> Path:
    for name in ("ca.pem", "cert.pem", "key.pem"):
        (tmp_path / name).write_bytes(b"PEM " + name.encode())
    path = tmp_path / "terminal.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_good_config(tmp_path: Path) -> None:
    config = load_agent_config(write(tmp_path, GOOD))
    assert config.profile is Profile.ATM
    assert config.journal == tmp_path / "state" / "journal.sqlite"
    assert config.verifier.ca_pem == b"PEM ca.pem"
    assert config.verifier.timeout == 3.0
    assert not config.verifier.insecure_dev
    assert config.printer is None
    assert config.recovery_answer_seconds == 120.0  # default: ask for two minutes, then reverse


def test_recovery_answer_seconds(tmp_path: Path) -> None:
    config = load_agent_config(write(tmp_path, "recovery_answer_seconds = 30\n" + GOOD))
    assert config.recovery_answer_seconds == 30.0


def test_card_taken_seconds(tmp_path: Path) -> None:
    assert load_agent_config(write(tmp_path, GOOD)).card_taken_seconds == 0.0  # off by default
    config = load_agent_config(write(tmp_path, "card_taken_seconds = 30\n" + GOOD))
    assert config.card_taken_seconds == 30.0


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda t: t.replace('profile = "atm"', 'profile = "bank"'), "profile"),
        (lambda t: t.replace('listen = "127.0.0.1:0"', 'listen = "0.0.0.0:1"'), "listen"),
        (lambda t: t.replace('key = "key.pem"', ""), "verifier.key is required"),
        (lambda t: t.replace('key = "key.pem"', 'key = "missing.pem"'), "verifier.key"),
        (lambda t: t + "\n[extra]\n", "unknown key"),
        (lambda t: t.replace("timeout = 3", 'timeout = "3"'), "verifier.timeout must be"),
        (lambda t: t.replace("timeout = 3", "timeout = nan"), "timeout must be more than 0"),
        (lambda t: t.replace("timeout = 3", "timeout = inf"), "timeout must be more than 0"),
        (lambda t: t.replace("timeout = 3", "timeout = 0"), "timeout must be more than 0"),
        (
            lambda t: t.replace('terminal_id = "atm-01"', "terminal_id = 1"),
            "terminal_id must be str",
        ),
        (lambda t: t + "\n[[", "cannot read"),
        (lambda t: 'kiosk_hours = "6-23"\n' + t, "kiosk_hours"),
        (lambda t: 'kiosk_hours = "25:00-26:00"\n' + t, "kiosk_hours"),
        (lambda t: "recovery_answer_seconds = -1\n" + t, "recovery_answer_seconds"),
        (lambda t: 'recovery_answer_seconds = "30"\n' + t, "recovery_answer_seconds"),
        (lambda t: "card_taken_seconds = 601\n" + t, "card_taken_seconds"),
    ],
)
def test_errors_name_the_key(tmp_path: Path, edit: Callable[[str], str], message: str) -> None:
    path = write(tmp_path, edit(GOOD))
    with pytest.raises(AgentConfigError, match=message):
        load_agent_config(path)


def test_plaintext_only_with_the_dev_flag(tmp_path: Path) -> None:
    text = GOOD.replace('ca = "ca.pem"\ncertificate = "cert.pem"\nkey = "key.pem"\n', "")
    with pytest.raises(AgentConfigError, match="required"):
        load_agent_config(write(tmp_path, text))
    config = load_agent_config(write(tmp_path, text.replace("timeout = 3", "insecure_dev = true")))
    assert config.verifier.insecure_dev


def test_the_deploy_example_parses(tmp_path: Path) -> None:
    example = Path(__file__).resolve().parents[3] / "deploy" / "terminal.toml"
    text = example.read_text(encoding="utf-8").replace("/etc/myna-edge/", f"{tmp_path}/")
    for name in ("verifier-ca.pem", "terminal.pem", "terminal.key"):
        (tmp_path / name).write_bytes(b"PEM")
    (tmp_path / "board.key").write_text("00" * 32)
    path = tmp_path / "terminal.toml"
    path.write_text(text, encoding="utf-8")
    config = load_agent_config(path)
    assert config.profile is Profile.ATM
    assert config.listen.startswith("unix:")
    assert config.printer == "/dev/ttyUSB1"
    assert config.controller == "/dev/ttyACM0"
    assert config.controller_key == bytes(32)
    assert config.kiosk_hours is not None
    assert config.kiosk_hours[0].hour == 6


def test_controller_needs_a_readable_hex_key(tmp_path: Path) -> None:
    text = GOOD.replace(
        'reader = "sim://default"', 'reader = "sim://default"\ncontroller = "/dev/x"'
    )
    with pytest.raises(AgentConfigError, match="controller_key is required"):
        load_agent_config(write(tmp_path, text))
    (tmp_path / "board.key").write_text("not hex")
    text = text.replace(
        'controller = "/dev/x"', 'controller = "/dev/x"\ncontroller_key = "board.key"'
    )
    with pytest.raises(AgentConfigError, match="hex key"):
        load_agent_config(write(tmp_path, text))
    (tmp_path / "board.key").write_text("ab" * 16)
    assert b"\xab" * 16 not in repr(load_agent_config(write(tmp_path, text))).encode()


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda t: t.replace("timeout = 3", 'timeout = "3"'), "verifier.timeout must be float"),
        (lambda t: t.replace("timeout = 3", "extra = 1"), "unknown key verifier.extra"),
        (lambda t: t.replace('reader = "sim://default"', ""), "reader is required"),
        (lambda t: "card_taken_seconds = true\n" + t, "card_taken_seconds must be float"),
        (lambda t: "transfer_threshold_yen = 1.5\n" + t, "transfer_threshold_yen must be int"),
    ],
)
def test_errors_name_the_file_the_key_and_what_was_expected(
    tmp_path: Path, edit: Callable[[str], str], message: str
) -> None:
    path = write(tmp_path, edit(GOOD))
    with pytest.raises(AgentConfigError) as caught:
        load_agent_config(path)
    assert str(caught.value).startswith(f"{path}: ")
    assert message in str(caught.value)


@pytest.mark.parametrize(
    ("key", "line"),
    [
        ("profile", 'profile = "hunter2-secret"'),
        ("verifier.targets", 'targets = ["127.0.0.1:1", "hunter2-secret", 2]'),
    ],
)
def test_a_bad_value_is_not_repeated(tmp_path: Path, key: str, line: str) -> None:
    # A value typed into the wrong key may be a secret: the error names the key only.
    text = GOOD.replace('profile = "atm"', line) if key == "profile" else GOOD + line + "\n"
    text = text.replace('target = "127.0.0.1:50051"\n', "") if key != "profile" else text
    with pytest.raises(AgentConfigError, match=key) as caught:
        load_agent_config(write(tmp_path, text))
    assert "hunter2" not in str(caught.value)


COUNTER = (
    GOOD.replace('profile = "atm"', 'profile = "counter"')
    + """
[counter]
issuer_key = "issuer.pem"
aml_file = "state/aml.jsonl"
store_photo = true
staff_id = "desk-3"
"""
)


def test_counter_desk_settings(tmp_path: Path) -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    public = rsa.generate_private_key(public_exponent=65537, key_size=2048).public_key()
    pem = public.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    (tmp_path / "issuer.pem").write_bytes(pem)
    config = load_agent_config(write(tmp_path, COUNTER))
    assert config.profile is Profile.COUNTER
    desk = config.counter
    assert desk is not None
    assert desk.issuer_key is not None
    assert desk.issuer_key.public_numbers() == public.public_numbers()
    assert desk.aml_file == tmp_path / "state" / "aml.jsonl"
    assert desk.store_photo is True
    assert desk.staff_id == "desk-3"
    assert load_agent_config(write(tmp_path, GOOD)).counter is None


def test_counter_issuer_key_must_be_a_readable_rsa_key(tmp_path: Path) -> None:
    (tmp_path / "issuer.pem").write_bytes(b"not a key")
    with pytest.raises(AgentConfigError, match=r"counter\.issuer_key"):
        load_agent_config(write(tmp_path, COUNTER))
    with pytest.raises(AgentConfigError, match=r"counter\.colour"):
        load_agent_config(write(tmp_path, COUNTER + 'colour = "red"\n'))
