# SPDX-License-Identifier: Apache-2.0
"""``myna-edge sim export-pki --out DIR``: the test PKI as a verifier's ``trust_dir``.

Why: the production shape (a verifier over mTLS with a ``verifier.toml``
naming its ``trust_dir``) must be rehearsable with the simulated card, and
only ``--insecure-dev`` trusted the test PKI before. This writes, into
DIR, exactly what ``trust_dir`` expects: ``auth-ca.pem``, ``sign-ca.pem``,
their CRLs (every catalogue card is issued first, so the revoked and
expired profiles are on them), ``card-data-issuer.pub.pem``, the test
issuer's master key ``issuer-master.key`` (hex) and a face-match provider
key pair (``face-provider.pub.pem`` for the verifier,
``face-provider.key`` for the simulated phone that books PIN resets; kept
when it exists). These are test secrets: never trust them in production.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any, Final

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from host.private_files import write_private
from hw_sim.card import open_card, profiles
from hw_sim.card.issuer_commands import issuer_master_key
from hw_sim.home import sim_home
from hw_sim.pki.authority import TestPki
from hw_sim.pki.mobile import open_mobile_pki

__all__ = ["FACE_KEY_FILE", "add_sim_commands", "export_test_pki"]

#: The simulated face-match provider's private key (the phone signs with it).
FACE_KEY_FILE: Final = "face-provider.key"


def export_test_pki(out: Path, *, home: Path | None = None) -> list[Path]:
    """Write the test PKI's trust folder to ``out``; return the files written.

    Raises:
        PkiCacheError: the simulator's PKI cache is damaged.
        OSError: ``out`` cannot be written.
    """
    root = sim_home(home)
    for profile in profiles():  # issuing the revoked/expired cards updates the CRLs
        with open_card(profile.name, home=root, persist=False):
            pass
    TestPki.open(root / "pki").export_public(out)
    # The phones' CAs in their own sub-folder: the verifier derives the
    # credential kind from the folder that holds the issuing CA (issue 15).
    open_mobile_pki(root / "pki").export_public(out / "mobile")
    write_private(out / "issuer-master.key", issuer_master_key(root / "pki").hex().encode())
    face_private = out / FACE_KEY_FILE
    if face_private.exists():
        loaded = serialization.load_pem_private_key(face_private.read_bytes(), password=None)
        if not isinstance(loaded, rsa.RSAPrivateKey):
            raise OSError(f"{face_private} is not an RSA private key")
        face = loaded
    else:
        face = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        write_private(
            face_private,
            face.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            ),
        )
    public = face.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    (out / "face-provider.pub.pem").write_bytes(public)
    return sorted(p for p in [*out.iterdir(), *(out / "mobile").iterdir()] if p.is_file())


def add_sim_commands(commands: argparse._SubParsersAction[Any]) -> None:
    """Register ``export-pki`` on the ``sim`` group."""
    export = commands.add_parser(
        "export-pki", help="write the test PKI as a verifier trust_dir (mTLS rehearsals)"
    )
    export.add_argument("--out", type=Path, required=True, help="the trust folder to write")
    export.add_argument("--home", type=Path, default=None, help="simulator folder")
    export.set_defaults(handler=_run_export)


def _run_export(args: argparse.Namespace) -> int:
    try:
        written = export_test_pki(args.out, home=args.home)
    except (OSError, ValueError) as error:
        print(f"myna-edge sim export-pki: {error}", file=sys.stderr)
        return 1
    for path in written:
        print(path)
    print(f'# verifier.toml: trust_dir = "{args.out.resolve()}"  (test PKI: never in production)')
    return 0
