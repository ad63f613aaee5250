# SPDX-License-Identifier: Apache-2.0
"""``myna-edge demo``: the main job on the embedded default, no hardware.

For now the main job is reading the default virtual card end to end: the
host opens ``sim://default``, checks the tries left, verifies the card-info
PIN, reads the basic four items, checks them against the card's signed
integrity record, and reads the certificates. The demo knows the test
card's PINs because it is a test card; a real card's PINs come from the
user (``myna-edge read``).
"""

from __future__ import annotations

import argparse

from host.card import KeyKind, MynaCard, PinKind, summarize_certificate
from host.cli import card_report, print_card_report
from host.secret import Secret
from host.transport import open_transport
from host.transport.sim import sim_trust_dir
from hw_sim.card import get_profile
from myna_edge.demo_transfer import add_flow_arguments, run_flow_demo

__all__ = ["add_parser", "run_demo"]


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``demo``."""
    demo = sub.add_parser("demo", help="read the default virtual card end to end")
    add_flow_arguments(demo)
    demo.set_defaults(handler=run_demo)


def run_demo(args: argparse.Namespace) -> int:
    """Read a virtual card with its documented test PINs and print what was read.

    ``--flow transfer`` runs the ATM transfer flow instead (``demo_transfer``).
    """
    if args.flow == "transfer":
        return run_flow_demo(args)
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    url = f"sim://{args.card}"
    profile = get_profile(args.card)
    trust = sim_trust_dir(url)
    issuer_key = serialization.load_pem_public_key(
        (trust / "card-data-issuer.pub.pem").read_bytes()
    )
    assert isinstance(issuer_key, rsa.RSAPublicKey)
    print(f"myna-edge demo: reading virtual card {url!r} ({profile.description})")
    with open_transport(url) as transport:
        card = MynaCard(transport)
        for kind in PinKind:
            print(f"  {kind.description}: {card.tries_left(kind)} tries left")
        with Secret.from_text(profile.text_pin) as pin:
            info = card.read_card_info(pin, include_my_number=True, issuer_key=issuer_key)
        certs = [summarize_certificate(card.read_certificate(KeyKind.AUTH), KeyKind.AUTH)]
        with Secret.from_text(profile.sign_password) as password:
            sign_cert = card.read_certificate(KeyKind.SIGN, password=password)
        certs.append(summarize_certificate(sign_cert, KeyKind.SIGN))
        count = len(transport.virtual_card.apdu_log)  # type: ignore[attr-defined]
    print()
    print_card_report(card_report(info, certs, show_my_number=False))
    print()
    print(f"{count} APDUs exchanged with the virtual card.")
    return 0
