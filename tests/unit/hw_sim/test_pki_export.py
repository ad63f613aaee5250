# SPDX-License-Identifier: Apache-2.0
"""``myna-edge sim export-pki``: the test PKI as a verifier ``trust_dir`` (issue 23.2).

The folder must be what ``trust_dir`` expects, so a verifier configured
with it (no ``--insecure-dev``) trusts the simulated cards and knows the
revoked one from its CRL; the private test keys are 0600; a second export
keeps the face-match provider key the simulated phone already signs with.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from cryptography import x509

from hw_sim.card import open_card
from hw_sim.pki.export import FACE_KEY_FILE
from myna_edge.cli import main
from verifier.config import VerifierConfig
from verifier.pki import TrustStore

_PRIVATE = ("issuer-master.key", FACE_KEY_FILE)


def _export(out: Path, home: Path, capsys: pytest.CaptureFixture[str]) -> list[str]:
    assert main(["sim", "export-pki", "--out", str(out), "--home", str(home)]) == 0
    return capsys.readouterr().out.splitlines()


def test_export_is_a_trust_dir_the_verifier_accepts(
    tmp_path: Path, sim_home_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "trust"
    printed = _export(out, sim_home_dir, capsys)
    names = {p.name for p in out.iterdir()}
    assert {"auth-ca.pem", "sign-ca.pem", "auth.crl.der", "sign.crl.der",
            "card-data-issuer.pub.pem", "face-provider.pub.pem", *_PRIVATE} <= names  # fmt: skip
    assert printed[-1].startswith(f'# verifier.toml: trust_dir = "{out.resolve()}"')
    for name in _PRIVATE:
        assert (out / name).stat().st_mode & 0o777 == 0o600, name

    config = VerifierConfig(trust_dir=out)  # the production shape: no insecure_dev
    store = TrustStore.from_folder(config.trust_folder())
    now = dt.datetime.now(dt.UTC)
    with open_card("default", home=sim_home_dir, persist=False):
        pass
    sign_der = (sim_home_dir / "cards" / "default" / "sign-cert.der").read_bytes()
    assert store.check("sign", sign_der, now).reason == "OK"
    revoked = x509.load_der_x509_certificate(
        (sim_home_dir / "cards" / "revoked" / "sign-cert.der").read_bytes()
    )
    crl = x509.load_der_x509_crl(Path(config.crl_sources("sign")[0]).read_bytes())
    assert crl.get_revoked_certificate_by_serial_number(revoked.serial_number) is not None
    # The phones' CAs come along (issue 15): a phone's certificate is trusted, as a phone.
    with open_card("android-default", home=sim_home_dir, persist=False):
        pass
    phone_der = (sim_home_dir / "cards" / "android-default" / "auth-cert.der").read_bytes()
    phone = store.check("auth", phone_der, now)
    assert phone.reason == "OK"
    assert phone.credential is not None
    assert phone.credential.value != "card"


def test_a_second_export_keeps_the_face_provider_key(
    tmp_path: Path, sim_home_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "trust"
    _export(out, sim_home_dir, capsys)
    first = (out / FACE_KEY_FILE).read_bytes(), (out / "face-provider.pub.pem").read_bytes()
    _export(out, sim_home_dir, capsys)
    assert ((out / FACE_KEY_FILE).read_bytes(), (out / "face-provider.pub.pem").read_bytes()) == (
        first
    )


def test_an_unwritable_folder_is_an_error_not_a_traceback(
    tmp_path: Path, sim_home_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    assert (
        main(["sim", "export-pki", "--out", str(blocker / "trust"), "--home", str(sim_home_dir)])
        == 1
    )
    assert capsys.readouterr().err.startswith("myna-edge sim export-pki: ")
