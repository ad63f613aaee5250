# SPDX-License-Identifier: Apache-2.0
"""Variant virtual cards for the card-surface tests: expired, forged, inconsistent.

The catalogue's profiles are shared by many suites, so these variants are
built here instead: the default card's image with its card-surface AP
rebuilt from changed content (another expiry, another signer, a face whose
sex differs from the card-info AP), run by the real simulator engine behind
a ``FakeTransport``. 照合番号B follows the face, as on a card issued so.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric import rsa

from hw_sim.card.constants import AID_SURFACE
from hw_sim.card.issue import build_card, pin_seeds
from hw_sim.card.pins import PinStore
from hw_sim.card.profiles import CardProfile, get_profile
from hw_sim.card.surface_ap import SurfaceContent, build_surface_application
from hw_sim.card.virtual_card import VirtualCard
from hw_sim.identity import Sex
from hw_sim.pki import TestPki
from tests.unit.host.host_fakes import FakeTransport

__all__ = ["variant_card", "variant_profile", "variant_transport"]


def variant_profile(*, expiry: dt.date | None = None) -> CardProfile:
    """The default profile, with another card expiry when given."""
    profile = get_profile("default")
    if expiry is not None:
        profile = dataclasses.replace(profile, card_expiry=expiry)
    return profile


def variant_card(
    home: Path,
    *,
    expiry: dt.date | None = None,
    forged: bool = False,
    face_sex: Sex | None = None,
) -> VirtualCard:
    """The default card, powered off, with its surface AP changed as asked.

    Args:
        expiry: another card expiry (and so another 照合番号B).
        forged: the face is signed by a key that is not the issuer's.
        face_sex: the face says this sex while the card-info AP keeps the profile's.
    """
    pki = TestPki.open(home / "pki")
    base = get_profile("default")
    image, _ = build_card(base, pki, home / "cards" / base.name)
    profile = variant_profile(expiry=expiry)
    person = profile.person
    if face_sex is not None:
        person = dataclasses.replace(person, sex=face_sex)
    signer: rsa.RSAPrivateKey = pki.holder_key("t21-forger") if forged else pki.card_data_key()
    surface = build_surface_application(
        SurfaceContent(
            person,
            profile.card_expiry,
            profile.security_code,
            "SERIAL-T21",
            signer,
            pki.holder_key("default-surface-ap"),
        )
    )
    apps = tuple(surface if app.aid == AID_SURFACE else app for app in image.applications)
    return VirtualCard(
        dataclasses.replace(image, applications=apps),
        PinStore.issue(pin_seeds(profile)),
        profile_name="default",
    )


@contextmanager
def variant_transport(
    home: Path,
    *,
    expiry: dt.date | None = None,
    forged: bool = False,
    face_sex: Sex | None = None,
    extended: bool = True,
) -> Iterator[FakeTransport]:
    """An open transport to ``variant_card`` (same arguments)."""
    with variant_card(home, expiry=expiry, forged=forged, face_sex=face_sex) as card:
        card.power_on()
        transport = FakeTransport(card.transmit, extended=extended)
        with transport.open():
            yield transport
