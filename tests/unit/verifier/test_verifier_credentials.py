# SPDX-License-Identifier: Apache-2.0
"""Smartphone credentials at the verifier (issue 15): policy per operation and its configuration.

The policy is data (``[credentials]``), so its defaults are pinned here as
the table an operator reads in the docs, and every way the file can be
wrong names the file, the key and what was expected.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from verifier.config import VerifierConfig, load_config
from verifier.credentials import CredentialKind, CredentialPolicy, Operation
from verifier.errors import ConfigError

CARD, MOBILE, ANDROID, IPHONE = (
    CredentialKind.CARD,
    CredentialKind.MOBILE,
    CredentialKind.ANDROID,
    CredentialKind.IPHONE,
)

#: The default table (docs: verifier/README.md, "Smartphones").
DEFAULTS = {
    Operation.READING: {CARD: True, MOBILE: True, ANDROID: True, IPHONE: True},
    Operation.TRANSFER: {CARD: True, MOBILE: True, ANDROID: True, IPHONE: True},
    Operation.ISSUANCE: {CARD: True, MOBILE: True, ANDROID: True, IPHONE: True},
    Operation.RESET: {CARD: True, MOBILE: False, ANDROID: False, IPHONE: False},
}


@pytest.mark.parametrize(
    ("operation", "kind", "allowed"),
    [(op, kind, ok) for op, row in DEFAULTS.items() for kind, ok in row.items()],
)
def test_the_default_policy_is_what_an_operator_expects(
    operation: Operation, kind: CredentialKind, allowed: bool
) -> None:
    assert CredentialPolicy().allows(operation, kind) is allowed
    assert VerifierConfig().credentials == CredentialPolicy()


def test_a_phone_of_unknown_platform_needs_both_platforms_allowed() -> None:
    policy = CredentialPolicy(reading=frozenset({CARD, ANDROID}))
    assert policy.allows(Operation.READING, ANDROID)
    assert not policy.allows(Operation.READING, IPHONE)
    assert not policy.allows(Operation.READING, MOBILE)  # could be the iPhone
    assert policy.allows(Operation.TRANSFER, MOBILE)  # the others keep their defaults


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"reset": frozenset({CARD, ANDROID})}, "reset: phones cannot be accepted"),
        ({"reset": frozenset({IPHONE})}, "reset: phones cannot be accepted"),
        ({"reading": frozenset()}, "reading: accepts no credential kind"),
        ({"issuance": frozenset({CARD, MOBILE})}, "issuance: 'mobile' is derived"),
    ],
)
def test_a_policy_that_makes_no_sense_is_refused(changes: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        CredentialPolicy(**changes)  # type: ignore[arg-type]


def _load(tmp_path: Path, text: str) -> VerifierConfig:
    path = tmp_path / "verifier.toml"
    path.write_text(text, encoding="utf-8")
    return load_config(path)


def test_the_file_sets_each_operation(tmp_path: Path) -> None:
    config = _load(
        tmp_path,
        '[credentials]\nreading = ["card", "iphone"]\ntransfer = ["card"]\n',
    )
    assert config.credentials.reading == frozenset({CARD, IPHONE})
    assert config.credentials.transfer == frozenset({CARD})
    assert config.credentials.reset == frozenset({CARD})  # not in the file: the default
    assert config.credentials.issuance == CredentialPolicy().issuance


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('reset = ["card", "android"]', "credentials.reset: phones cannot be accepted"),
        ('reading = ["card", "nokia"]', "credentials.reading\\[1\\]: expected one of 'card'"),
        ("reading = []", "credentials.reading: expected an array of length >= 1"),
        ('reading = ["card", "card"]', "credentials.reading: a kind is listed twice"),
        ('reading = ["mobile"]', "credentials.reading\\[0\\]: expected one of"),
        ('payment = ["card"]', "credentials.payment: unknown key"),
        ('reading = "card"', "credentials.reading: expected an array"),
    ],
)
def test_a_bad_credentials_section_names_the_file_and_the_key(
    tmp_path: Path, text: str, message: str
) -> None:
    with pytest.raises(ConfigError, match=f"verifier.toml: {message}"):
        _load(tmp_path, f"[credentials]\n{text}\n")


def test_revocation_sources_are_named_by_revocation_key(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"revocation.ocsp_urls.phone-auth: unknown key"):
        _load(tmp_path, '[revocation]\nocsp_urls = {phone-auth = "http://127.0.0.1:1/"}\n')
    with pytest.raises(ConfigError, match=r"revocation.crl_sources.pin: unknown key"):
        _load(tmp_path, "[revocation]\ncrl_sources = {pin = []}\n")
    config = _load(
        tmp_path,
        '[revocation]\nocsp_urls = {mobile-auth = "http://127.0.0.1:1/m"}\n'
        'crl_sources = {mobile-sign = ["http://127.0.0.1:1/mobile-sign.crl"]}\n',
    )
    assert config.revocation.ocsp_urls == {"mobile-auth": "http://127.0.0.1:1/m"}


def test_the_crls_of_a_kind_include_each_phone_folder(tmp_path: Path) -> None:
    trust = tmp_path / "trust"
    (trust / "mobile").mkdir(parents=True)
    config = VerifierConfig(trust_dir=trust)
    assert config.crl_sources("auth") == (
        str(trust / "auth.crl.der"),
        str(trust / "mobile" / "auth.crl.der"),
    )
    assert config.crl_sources("mobile-sign") == (str(trust / "mobile" / "sign.crl.der"),)
    # No android/ folder: no Android CRL is looked for, unless configured.
    assert not any("android" in source for source in config.crl_sources("sign"))
    from verifier.config import RevocationConfig

    configured = VerifierConfig(
        trust_dir=trust,
        revocation=RevocationConfig(crl_sources={"android-sign": ("http://x/a.crl",)}),
    )
    assert configured.crl_sources("sign") == (
        str(trust / "sign.crl.der"),
        str(trust / "mobile" / "sign.crl.der"),
        "http://x/a.crl",
    )
