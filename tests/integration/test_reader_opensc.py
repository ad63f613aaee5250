# SPDX-License-Identifier: Apache-2.0
"""OpenSC, an independent implementation, against the virtual card via pcscd+vpcd.

If OpenSC's own jpki driver binds the card, lists and reads its
certificates, signs through its PKCS#11 module and counts PIN tries the way
our driver does, the simulator is faithful beyond our own driver's
expectations (jpki-card.md §1.3). OpenSC's file cache is off so every run
reads the card.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from host.card import KeyKind, MynaCard, PinKind
from host.transport import open_transport
from hw_sim.card import VirtualCard, get_profile
from hw_sim.readers.stack import PcscRig
from tests.integration.reader_stack import PCSC_URL, pcsc_stack, require

__all__ = ["pcsc_stack"]

PKCS11_MODULE = Path("/usr/lib/x86_64-linux-gnu/opensc-pkcs11.so")
PIN_ENV = "MYNA_TEST_OPENSC_PIN"


@pytest.fixture(scope="module")
def opensc_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    for tool in ("opensc-tool", "pkcs15-tool", "pkcs11-tool"):
        require(shutil.which(tool) is not None, f"{tool} (Debian opensc) is not installed")
    require(PKCS11_MODULE.exists(), f"{PKCS11_MODULE} is missing")
    conf = tmp_path_factory.mktemp("opensc") / "opensc.conf"
    conf.write_text("app default {\n  framework pkcs15 {\n    use_file_caching = no;\n  }\n}\n")
    return {**os.environ, "OPENSC_CONF": str(conf)}


@pytest.fixture
def card(pcsc_stack: PcscRig) -> Iterator[VirtualCard]:
    with pcsc_stack.card("default") as card:
        yield card


def run(env: dict[str, str], *argv: str) -> str:
    done = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=60, check=False)
    assert done.returncode == 0, f"{argv[0]} failed: {done.stderr}"
    return done.stdout


def driver_certificate(kind: KeyKind, ca: bool = False) -> x509.Certificate:
    with open_transport(PCSC_URL) as transport:
        driver = MynaCard(transport)
        return driver.read_ca_certificate(kind) if ca else driver.read_certificate(kind)


def test_opensc_names_the_card_jpki(opensc_env: dict[str, str], card: VirtualCard) -> None:
    assert run(opensc_env, "opensc-tool", "-n").strip() == "jpki"
    assert len(card.apdu_log) > 0  # OpenSC really talked to our card


def test_pkcs15_lists_both_certificates(opensc_env: dict[str, str], card: VirtualCard) -> None:
    out = run(opensc_env, "pkcs15-tool", "--list-certificates")
    assert "X.509 Certificate [User Authentication Certificate]" in out
    assert "X.509 Certificate [Digital Signature Certificate]" in out


@pytest.mark.parametrize(
    ("cert_id", "kind", "ca"),
    [("1", KeyKind.AUTH, False), ("3", KeyKind.AUTH, True), ("4", KeyKind.SIGN, True)],
)
def test_pkcs15_reads_exactly_the_card_certificates(
    opensc_env: dict[str, str], card: VirtualCard, cert_id: str, kind: KeyKind, ca: bool
) -> None:
    pem = run(opensc_env, "pkcs15-tool", "--read-certificate", cert_id)
    theirs = x509.load_pem_x509_certificate(pem.encode())
    assert theirs == driver_certificate(kind, ca)


def test_pkcs11_sign_with_auth_pin_verifies(
    opensc_env: dict[str, str], card: VirtualCard, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    data.write_bytes(b"identity proof nonce 42")
    signature = tmp_path / "sig"
    env = {**opensc_env, PIN_ENV: get_profile("default").auth_pin}
    run(
        env,
        "pkcs11-tool",
        "--module",
        str(PKCS11_MODULE),
        "--login",
        "--pin",
        f"env:{PIN_ENV}",
        "--sign",
        "--id",
        "01",
        "-m",
        "SHA256-RSA-PKCS",
        "--input-file",
        str(data),
        "--output-file",
        str(signature),
    )
    public = driver_certificate(KeyKind.AUTH).public_key()
    assert isinstance(public, rsa.RSAPublicKey)
    public.verify(signature.read_bytes(), data.read_bytes(), padding.PKCS1v15(), hashes.SHA256())
    assert hashlib.sha256(data.read_bytes()).digest()  # the signed bytes are the file's


def test_wrong_pin_through_opensc_decrements_our_counter(
    opensc_env: dict[str, str], card: VirtualCard
) -> None:
    env = {**opensc_env, PIN_ENV: "0000"}
    done = subprocess.run(
        ["pkcs15-tool", "--verify-pin", "--auth-id", "01", "--pin", f"env:{PIN_ENV}"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert "0000" not in done.stdout + done.stderr
    with open_transport(PCSC_URL) as transport:
        assert MynaCard(transport).tries_left(PinKind.AUTH) == PinKind.AUTH.max_tries - 1
    out = run(opensc_env, "pkcs15-tool", "--list-pins")
    assert f"Tries left     : {PinKind.AUTH.max_tries - 1}" in out
