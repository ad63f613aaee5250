# SPDX-License-Identifier: Apache-2.0
"""VerifierClient against the real verifier over mTLS on 127.0.0.1.

Identity comes from the client certificate: a foreign certificate or a
plaintext client gets nowhere, a terminal id that is not the certificate's
is refused; commit/reverse are exactly-once and their refusals typed.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Iterator

import pytest

from host.client import ClientConfig, SessionPurpose, TransferState, VerifierClient
from host.errors import ServiceAuthenticationError, ServiceStateError, ServiceUnavailableError
from tests.flows_support import client_config, transfer_request
from tests.verifier_support import ServerThread, VerifierEnv, make_env
from verifier.tls import TlsConfig, ensure_tls_material, issue_terminal_certificate


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> VerifierEnv:
    return make_env(tmp_path_factory.mktemp("flows-client"))


@pytest.fixture(scope="module")
def server(env: VerifierEnv) -> Iterator[ServerThread]:
    thread = ServerThread(env.config()).start()
    yield thread
    thread.stop()


def test_commit_is_exactly_once_and_reverse_after_commit_is_refused(
    env: VerifierEnv, server: ServerThread
) -> None:

    async def scenario() -> None:
        async with VerifierClient(client_config(env, server)) as client:
            session = await client.open_session(SessionPurpose.TRANSFER, "c1.session")
            r = transfer_request(50_000)
            statement = r.bind(nonce=session.nonce, terminal_id="atm-01")
            auth = await client.authorize_transfer(session.session_id, statement, None, "c1.auth")
            assert auth.accepted
            again = await client.authorize_transfer(session.session_id, statement, None, "c1.auth")
            assert again.authorization_id == auth.authorization_id  # replayed, not re-done
            first = await client.commit_transfer(auth.authorization_id, "c1.commit")
            second = await client.commit_transfer(auth.authorization_id, "c1.commit")
            assert first.state is second.state is TransferState.COMMITTED
            with pytest.raises(ServiceStateError) as info:
                await client.reverse_transfer(auth.authorization_id, "c1.reverse")
            assert info.value.reason == "TRANSFER_COMMITTED"

    asyncio.run(scenario())


def test_terminal_id_must_match_the_certificate(env: VerifierEnv, server: ServerThread) -> None:
    from host.card import KeyKind
    from host.client import CardProof
    from tests.verifier_support import prove

    config = dataclasses.replace(client_config(env, server, "atm-02"), terminal_id="atm-01")

    async def scenario() -> None:
        async with VerifierClient(config) as client:
            session = await client.open_session(SessionPurpose.CARD_VERIFICATION, "c2.session")
            p = prove(
                "default",
                KeyKind.AUTH,
                "SESSION_PURPOSE_CARD_VERIFICATION",
                "atm-01",
                session.nonce,
            )
            proof = CardProof(p.certificate_der, p.signature)
            # acting for another terminal is PERMISSION_DENIED (the proto's
            # convention), which the client types as an authentication error
            with pytest.raises(ServiceAuthenticationError) as info:
                await client.verify_card(session.session_id, proof, "c2.verify")
            assert info.value.reason == "TERMINAL_MISMATCH"

    asyncio.run(scenario())


def test_foreign_certificate_and_plaintext_get_nowhere(
    env: VerifierEnv, server: ServerThread, tmp_path_factory: pytest.TempPathFactory
) -> None:
    other = TlsConfig(directory=tmp_path_factory.mktemp("other-ca"))
    ensure_tls_material(other)
    foreign = issue_terminal_certificate(other, "atm-01")
    real = issue_terminal_certificate(env.tls, "atm-01")
    configs = [
        ClientConfig(
            f"127.0.0.1:{server.port}", "atm-01", ca_pem=real.ca_pem,
            certificate_pem=foreign.certificate_pem, key_pem=foreign.key_pem,
            timeout=3.0, max_attempts=2,
        ),
        ClientConfig(
            f"127.0.0.1:{server.port}", "atm-01", insecure_dev=True, timeout=3.0, max_attempts=2
        ),
    ]  # fmt: skip

    async def scenario() -> None:
        for config in configs:
            async with VerifierClient(config) as client:
                with pytest.raises(ServiceUnavailableError):
                    await client.open_session(SessionPurpose.TRANSFER, "c3.session")

    asyncio.run(scenario())
