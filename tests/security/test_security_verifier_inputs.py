# SPDX-License-Identifier: Apache-2.0
"""Attacks on the verifier's inputs: dev mode, invisible text, session flooding.

Issue 22, items 6 and 9. Each test failed before its fix:

* ``insecure_dev`` could be set in the TOML and bound any address; now only
  ``--insecure-dev`` on the command line, only on loopback, and every
  response's trailing metadata says so;
* a statement name could carry bidirectional controls and zero-width
  characters, so the screen showed other text than what was signed; now
  they are refused with an error naming the field and what it allows, and
  the host shows names NFC-normalised, as signed;
* every OpenSession added a row forever; now expired sessions are purged.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest

from host.client import AccountType, TransferStatement
from host.prompt_texts import statement_message
from myna.edge.v1 import verifier_pb2 as pb
from tests.verifier_support import ServerThread, VerifierEnv, make_env
from verifier.config import load_config
from verifier.errors import ConfigError, InvalidRequestError
from verifier.server import VerifierServer
from verifier.service import ERROR_METADATA_KEY, INSECURE_DEV_METADATA_KEY
from verifier.validation import check_statement

INVISIBLE = [
    *(chr(c) for c in range(0x202A, 0x202F)),  # LRE RLE PDF LRO RLO
    *(chr(c) for c in range(0x2066, 0x206A)),  # LRI RLI FSI PDI
    "\u200e", "\u200f", "\u061c",  # LRM RLM ALM
    "\u200b", "\u200c", "\u200d", "\u2060", "\ufeff",  # zero-width
]  # fmt: skip


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> VerifierEnv:
    return make_env(tmp_path_factory.mktemp("security-inputs"))


@pytest.fixture
def server(env: VerifierEnv) -> Iterator[ServerThread]:
    thread = ServerThread(env.config())
    thread.start()
    yield thread
    thread.stop()


def _statement(**fields: object) -> pb.TransferStatement:
    values: dict[str, object] = {
        "nonce": bytes(32),
        "terminal_id": "atm-01",
        "amount_yen": 300_000,
        "payee_bank_code": "0001",
        "payee_branch_code": "123",
        "payee_account_type": pb.ACCOUNT_TYPE_ORDINARY,
        "payee_account_number": "1234567",
        "payee_name": "ヤマダ　ハナコ",
        "remitter_name": "ヤマダ　タロウ",
        "remitter_phone": "03-1234-5678",
    }
    values.update(fields)
    return pb.TransferStatement(**values)  # type: ignore[arg-type]


# -- item 6: insecure_dev ------------------------------------------------------


def test_insecure_dev_in_the_file_is_refused_naming_the_key(tmp_path: Path) -> None:
    path = tmp_path / "verifier.toml"
    path.write_text('listen = "127.0.0.1:50051"\ninsecure_dev = true\n', encoding="utf-8")
    with pytest.raises(ConfigError, match="insecure_dev is not allowed in the configuration"):
        load_config(path)


@pytest.mark.parametrize("listen", ["0.0.0.0:50051", "[::]:50051", "10.0.0.5:1", "verifier:1"])
def test_insecure_dev_only_on_loopback(listen: str) -> None:
    with pytest.raises(ConfigError, match="loopback"):
        load_config(None, insecure_dev=True, listen=listen)


@pytest.mark.parametrize("listen", ["127.0.0.1:0", "[::1]:50051", "localhost:50051"])
def test_insecure_dev_on_loopback_is_allowed(listen: str) -> None:
    assert load_config(None, insecure_dev=True, listen=listen).insecure_dev


def test_a_programmatic_config_cannot_bind_plaintext_to_a_network(env: VerifierEnv) -> None:
    config = dataclasses.replace(env.config(), insecure_dev=True, listen="0.0.0.0:0")
    server = VerifierServer(config)
    try:
        with pytest.raises(ConfigError, match="loopback"):
            asyncio.run(server.start())
    finally:
        server.core.storage.close()


def test_every_insecure_response_says_so(env: VerifierEnv) -> None:
    thread = ServerThread(dataclasses.replace(env.config(), insecure_dev=True))
    thread.start()
    try:
        with thread.stub(None) as stub:
            request = pb.OpenSessionRequest(
                purpose=pb.SESSION_PURPOSE_TRANSFER, idempotency_key="k"
            )
            _, call = stub.OpenSession.with_call(request, timeout=10)
            trailers = dict(call.trailing_metadata() or ())
            assert "insecure" in trailers[INSECURE_DEV_METADATA_KEY]
            bad = pb.OpenSessionRequest(purpose=pb.SESSION_PURPOSE_TRANSFER, idempotency_key="")
            with pytest.raises(grpc.RpcError) as refused:
                stub.OpenSession(bad, timeout=10)
            trailers = dict(refused.value.trailing_metadata() or ())
            assert INSECURE_DEV_METADATA_KEY in trailers
            assert ERROR_METADATA_KEY in trailers  # the error detail is still there
    finally:
        thread.stop()


def test_insecure_start_says_so_loudly(env: VerifierEnv, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="verifier.server")
    thread = ServerThread(dataclasses.replace(env.config(), insecure_dev=True))
    thread.start()
    thread.stop()
    warnings = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert any("INSECURE DEVELOPMENT MODE" in r.getMessage() for r in warnings)


def test_a_secure_response_carries_no_dev_warning(env: VerifierEnv, server: ServerThread) -> None:
    with server.stub(env.credentials("atm-01")) as stub:
        request = pb.OpenSessionRequest(purpose=pb.SESSION_PURPOSE_TRANSFER, idempotency_key="s")
        _, call = stub.OpenSession.with_call(request, timeout=10)
    assert INSECURE_DEV_METADATA_KEY not in dict(call.trailing_metadata() or ())


# -- item 9: invisible characters, NFC on screen, session purge ----------------


@pytest.mark.parametrize("field", ["payee_name", "remitter_name"])
@pytest.mark.parametrize("char", INVISIBLE, ids=lambda c: f"U+{ord(c):04X}")
def test_invisible_characters_are_refused(field: str, char: str) -> None:
    with pytest.raises(InvalidRequestError) as refused:
        check_statement(_statement(**{field: f"ヤマダ{char}ハナコ"}))
    assert refused.value.field == f"statement.{field}"
    assert "allowed: 1-48 visible characters" in str(refused.value)


def test_rare_kanji_and_combining_marks_stay_allowed() -> None:
    # 𠮷 (outside the BMP), an ideographic variation sequence, and カ + U+3099.
    check_statement(_statement(payee_name="𠮷野\U000e0100　カ\u3099"))


def test_an_rlo_statement_is_refused_over_grpc_and_stores_nothing(
    env: VerifierEnv, server: ServerThread
) -> None:
    with server.stub(env.credentials("atm-01")) as stub:
        session = stub.OpenSession(
            pb.OpenSessionRequest(purpose=pb.SESSION_PURPOSE_TRANSFER, idempotency_key="o"),
            timeout=10,
        )
        with server.core.storage.transaction() as tx:
            before = (tx.count("transfers"), tx.count("idempotency"))
        statement = _statement(nonce=session.nonce, payee_name="ヤマダ\u202eコナハ", amount_yen=5)
        request = pb.AuthorizeTransferRequest(
            session_id=session.session_id, statement=statement, idempotency_key="t"
        )
        with pytest.raises(grpc.RpcError) as refused:
            stub.AuthorizeTransfer(request, timeout=10)
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "statement.payee_name" in (refused.value.details() or "")
    with server.core.storage.transaction() as tx:
        assert (tx.count("transfers"), tx.count("idempotency")) == before


def test_the_screen_shows_the_text_that_is_signed() -> None:
    decomposed = "ヤマカ\u3099"  # what a keyboard may send
    statement = TransferStatement(
        nonce=bytes(32),
        terminal_id="atm-01",
        amount_yen=300_000,
        payee_bank_code="0001",
        payee_branch_code="123",
        payee_account_type=AccountType.ORDINARY,
        payee_account_number="1234567",
        payee_name=decomposed,
        remitter_name="ヤマダ　タロウ",
        remitter_phone="03-1234-5678",
    )
    composed = dataclasses.replace(statement, payee_name="ヤマガ")
    assert statement.to_bytes() == composed.to_bytes()  # NFC: the same signed bytes
    text = statement_message(statement)
    assert "ヤマガ" in text.ja
    assert "ヤマガ" in text.en
    assert "\u3099" not in text.ja + text.en


def test_expired_sessions_are_purged(env: VerifierEnv, server: ServerThread) -> None:
    ttl = server.config.policy.nonce_ttl_seconds
    with server.stub(env.credentials("atm-flood")) as stub:
        for i in range(40):
            stub.OpenSession(
                pb.OpenSessionRequest(purpose=pb.SESSION_PURPOSE_TRANSFER, idempotency_key=f"f{i}"),
                timeout=10,
            )
        server.clock.advance(2 * ttl + 1)  # past expiry and the NONCE_EXPIRED margin
        for i in range(3):
            stub.OpenSession(
                pb.OpenSessionRequest(purpose=pb.SESSION_PURPOSE_TRANSFER, idempotency_key=f"l{i}"),
                timeout=10,
            )
    server.server.sweep_once(server.config.policy.idempotency_ttl_seconds)
    with server.core.storage.transaction() as tx:
        assert tx.count("sessions") == 3  # only the live ones
