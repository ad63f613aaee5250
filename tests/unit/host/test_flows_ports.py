# SPDX-License-Identifier: Apache-2.0
"""ThreadedCard: the virtual card through one worker thread, proofs that verify."""

from __future__ import annotations

import asyncio
import hashlib
import threading
from collections.abc import Callable

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from host.card import KeyKind, PinKind
from host.errors import NoCardError, StepTimeoutError, WrongPinError
from host.flows import ThreadedCard
from host.secret import Secret
from hw_sim.card import get_profile


def test_proof_verifies_and_runs_in_one_card_thread(sim_url: Callable[[str], str]) -> None:
    digest = hashlib.sha256(b"statement").digest()
    threads: set[str] = set()

    async def scenario() -> None:
        card = ThreadedCard(sim_url("default"))
        try:
            await card.wait_card(5)
            threads.add(await card._run(lambda: threading.current_thread().name))
            transport = card._transport
            transport.virtual_card.apdu_log.clear()  # type: ignore[union-attr]
            assert await card.tries_left(PinKind.SIGN) == 5
            with Secret.from_text(get_profile("default").sign_password) as secret:
                proof = await card.prove(KeyKind.SIGN, digest, secret)
            # one password verification and one counter read: the protocol minimum
            log = transport.virtual_card.apdu_log.entries  # type: ignore[union-attr]
            assert len(log) == 8, [e.command[:4].hex() for e in log]
            threads.add(await card._run(lambda: threading.current_thread().name))
        finally:
            await card.aclose()
        key = x509.load_der_x509_certificate(proof.certificate_der).public_key()
        assert isinstance(key, rsa.RSAPublicKey)
        key.verify(proof.signature, b"statement", padding.PKCS1v15(), hashes.SHA256())

    asyncio.run(scenario())
    assert len(threads) == 1
    assert threads.pop() != threading.current_thread().name


def test_wrong_password_and_no_session(sim_url: Callable[[str], str]) -> None:
    async def scenario() -> None:
        card = ThreadedCard(sim_url("default"))
        try:
            with pytest.raises(NoCardError):
                await card.tries_left(PinKind.SIGN)
            await card.wait_card(5)
            with Secret.from_text("WRONG999") as secret, pytest.raises(WrongPinError) as info:
                await card.prove(KeyKind.SIGN, bytes(32), secret)
            assert info.value.tries_left == 4
            await card.release()
            await card.release()  # harmless twice
        finally:
            await card.aclose()

    asyncio.run(scenario())


def test_no_card_times_out(monkeypatch: pytest.MonkeyPatch) -> None:
    import host.flows.ports as ports

    def no_card(url: str) -> object:
        raise NoCardError("empty reader")

    monkeypatch.setattr(ports, "open_transport", no_card)

    async def scenario() -> None:
        card = ThreadedCard("sim://", poll_interval=0.01)
        try:
            with pytest.raises(StepTimeoutError):
                await card.wait_card(0.05)
        finally:
            await card.aclose()

    asyncio.run(scenario())


def test_wait_removed_sees_a_slot_card_taken_away() -> None:
    # The CardTakenEvent's sensor (issue 23.4): a slot reader tells a taken
    # card; a fixed sim:// card is never taken, and nothing is raised.
    from hw_sim.readers.slot import insert_card, remove_card

    insert_card("ports-taken", "default")
    card = ThreadedCard("sim://?slot=ports-taken&persist=0", poll_interval=0.01)
    fixed = ThreadedCard("sim://default?persist=0", poll_interval=0.01)

    async def scenario() -> tuple[bool, bool, bool, bool]:
        try:
            await card.wait_card(1.0)
            presented = card.presented
            await card.release()
            still = await card.wait_removed(0.05)
            remove_card("ports-taken")
            taken = await card.wait_removed(1.0)
            never = await fixed.wait_removed(0.05)
        finally:
            await card.aclose()
            await fixed.aclose()
        return presented, still, taken, never

    presented, still, taken, never = asyncio.run(scenario())
    assert presented
    assert not still
    assert taken
    assert not never
    assert not fixed.presented
