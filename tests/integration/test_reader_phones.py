# SPDX-License-Identifier: Apache-2.0
"""Phones on the real reader paths: libnfc's ``nfc-list`` and detection over pcsc/libnfc.

``nfc-list`` (Debian libnfc-bin) against the PN532 emulator must list a
phone as an ISO 14443A target with its ATQA, UID, SAK and ATS; an Android
phone is listed on Type B too. The host's credential detection runs over
``pcsc://`` (pyscard → pcscd → vpcd, where a phone shows the PC/SC Type A
ATR) and over ``libnfc://`` (the host's libnfc transport polls Type B, then
Type A: Android is found on B, the iPhone on A; the full phone cases over
all three paths live in test_reader_contract.py). libnfc's own
``nfc_initiator_poll_target`` (what ``nfc-poll`` calls: PN532 InAutoPoll;
Debian's libnfc-bin does not ship nfc-poll) must decode the emulator's
InAutoPoll answer as Type A for a phone and Type B for the card.
"""

from __future__ import annotations

import ctypes
import hashlib
import os
import shutil
import subprocess

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa, utils

from host.card import CredentialKind, KeyKind, MynaCard
from host.secret import Secret
from host.transport import nfc_binding, open_transport
from hw_sim.card import get_profile
from hw_sim.card.phones import Approval
from hw_sim.readers.stack import PcscRig, Pn532Rig
from tests.integration.reader_stack import PCSC_URL, pcsc_stack, pn532_stack, require

__all__ = ["pcsc_stack", "pn532_stack"]  # fixtures used by name

DIGEST = hashlib.sha256(b"transfer 150000 JPY to 0123456").digest()
SELECT_JPKI = bytes.fromhex("00A4040C0AD392F000260100000001")
SIGN = bytes.fromhex("802A0080") + bytes([len(DIGEST)]) + DIGEST + b"\x00"
OK = b"\x90\x00"


def nfc_list(stack: Pn532Rig, *argv: str) -> str:
    require(shutil.which("nfc-list") is not None, "nfc-list (Debian libnfc-bin) is not installed")
    env = {**os.environ, "LIBNFC_DEVICE": stack.pty.connstring}
    done = subprocess.run(
        ["nfc-list", *argv], capture_output=True, text=True, env=env, timeout=30, check=False
    )
    return done.stdout


def spaced(data: bytes) -> str:
    return "  ".join(f"{b:02x}" for b in data)


def test_nfc_list_shows_an_iphone_as_type_a(pn532_stack: Pn532Rig) -> None:
    contactless = get_profile("iphone-default").contactless
    assert contactless is not None
    assert contactless.type_a is not None
    with pn532_stack.card("iphone-default"):
        out = nfc_list(pn532_stack)
    assert "NFC device: user defined device opened" in out
    assert "1 ISO14443A passive target(s) found:" in out
    assert "ISO/IEC 14443A (106 kbps) target:" in out
    assert "ATQA (SENS_RES): 00  04" in out
    assert f"UID (NFCID3): {spaced(contactless.type_a.uid)}" in out  # 08 = random UID
    assert "SAK (SEL_RES): 20" in out
    assert f"ATS: {spaced(contactless.type_a.ats[1:])}" in out
    assert "ISO14443B passive target(s) found:" not in out  # an iPhone is Type A only


def test_nfc_list_shows_an_android_on_both_types(pn532_stack: Pn532Rig) -> None:
    with pn532_stack.card("android-default"):
        out = nfc_list(pn532_stack)
    assert "1 ISO14443A passive target(s) found:" in out
    assert "1 ISO14443B passive target(s) found:" in out


def test_detection_over_pcsc(pcsc_stack: PcscRig) -> None:
    expected = {
        "default": CredentialKind.CARD,
        "android-default": CredentialKind.ANDROID,
        "iphone-default": CredentialKind.IPHONE,
    }
    for profile, kind in expected.items():
        with pcsc_stack.card(profile) as card, open_transport(PCSC_URL) as transport:
            assert transport.atr == card.atr  # pcscd passes the bridge's ATR on
            detection = MynaCard(transport).detect(atr=transport.atr)
            assert detection.kind is kind, profile
            assert detection.contactless is (kind is not CredentialKind.CARD)


def test_detection_of_an_android_over_libnfc(pn532_stack: Pn532Rig) -> None:
    with pn532_stack.card("android-default"), open_transport(pn532_stack.url) as transport:
        detection = MynaCard(transport).detect()
    assert detection.kind is CredentialKind.ANDROID
    assert detection.token_label == "JPKIAPGPSETOKEN"


def test_phone_signing_over_pcsc(pcsc_stack: PcscRig) -> None:
    with pcsc_stack.card("android-default"), open_transport(PCSC_URL) as transport:
        card = MynaCard(transport)
        with Secret.from_text("2580") as pin:
            signature = card.sign(KeyKind.AUTH, DIGEST, pin)
        certificate = card.read_certificate(KeyKind.AUTH)  # the PIN is still verified
        public = certificate.public_key()
        assert isinstance(public, rsa.RSAPublicKey)
        public.verify(signature, DIGEST, padding.PKCS1v15(), utils.Prehashed(hashes.SHA256()))
    with pcsc_stack.card("iphone-default") as iphone, open_transport(PCSC_URL) as transport:
        assert transport.transmit(SELECT_JPKI) == OK
        assert transport.transmit(bytes.fromhex("00A4020C02001A")) == OK
        assert len(transport.transmit(SIGN)) == 258  # approved on the phone: no PIN
        iphone.set_approval(Approval.DECLINED)
        assert transport.transmit(SIGN) == bytes.fromhex("6600")
        iphone.set_approval(Approval.NO_ANSWER)
        assert transport.transmit(SIGN) == bytes.fromhex("6401")


def test_android_signing_over_libnfc(pn532_stack: Pn532Rig) -> None:
    with pn532_stack.card("android-default"), open_transport(pn532_stack.url) as transport:
        card = MynaCard(transport)
        with Secret.from_text("PHONE2580") as password:
            signature = card.sign(KeyKind.SIGN, DIGEST, password)
        assert len(signature) == 256


def poll_target(stack: Pn532Rig) -> tuple[int, bytes]:
    """``nfc_initiator_poll_target`` for A and B at 106 kbps: (modulation type, ATS or PUPI)."""
    nfc = nfc_binding.load()
    context = ctypes.POINTER(nfc.nfc_context)()
    nfc.nfc_init(ctypes.byref(context))
    device = nfc.nfc_open(context, stack.pty.connstring.encode())
    assert device, "libnfc could not open the emulator"
    try:
        assert nfc.nfc_initiator_init(device) == 0
        modulations = (nfc.nfc_modulation * 2)(
            nfc.nfc_modulation(nfc.NMT_ISO14443A, nfc.NBR_106),
            nfc.nfc_modulation(nfc.NMT_ISO14443B, nfc.NBR_106),
        )
        target = nfc.nfc_target()
        found = nfc.nfc_initiator_poll_target(device, modulations, 2, 1, 2, ctypes.byref(target))
        assert found == 1, found
        if target.nm.nmt == nfc.NMT_ISO14443A:
            info = target.nti.nai
            return int(target.nm.nmt), bytes(info.abtAts[: info.szAtsLen])
        return int(target.nm.nmt), bytes(target.nti.nbi.abtPupi)
    finally:
        nfc.nfc_close(device)
        nfc.nfc_exit(context)


def test_libnfc_auto_poll_sees_phones_as_type_a(pn532_stack: Pn532Rig) -> None:
    nfc = nfc_binding.load()
    for profile in ("iphone-default", "android-default"):
        contactless = get_profile(profile).contactless
        assert contactless is not None
        assert contactless.type_a is not None
        with pn532_stack.card(profile):
            kind, ats = poll_target(pn532_stack)
        assert kind == nfc.NMT_ISO14443A, profile  # type 20 comes first in libnfc's list
        assert ats == contactless.type_a.ats[1:]  # RATS was sent: the ATS, TL stripped
    with pn532_stack.card("default"):
        kind, pupi = poll_target(pn532_stack)
    assert kind == nfc.NMT_ISO14443B
    assert pupi == bytes.fromhex("4D594E41")
