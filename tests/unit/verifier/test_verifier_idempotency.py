# SPDX-License-Identifier: Apache-2.0
"""Idempotent units on real SQLite storage: same key same answer, refusals stored too."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest

from myna.edge.v1 import verifier_pb2 as pb
from verifier.codes import ErrorReason
from verifier.errors import IdempotencyConflictError, PreconditionError, RequestError
from verifier.idempotency import idempotent_unit, raise_refusal
from verifier.storage import Storage, Transaction, open_storage


@pytest.fixture
def storage(tmp_path: Path) -> Iterator[Storage]:
    with open_storage(f"sqlite:///{tmp_path / 'i.sqlite'}") as opened:
        yield opened


def _run(storage: Storage, request: pb.OpenSessionRequest, work: object) -> object:
    unit = idempotent_unit(
        "atm-01", "OpenSession", request, pb.OpenSessionResponse, work, lambda: 1
    )  # type: ignore[arg-type]
    return storage.submit(unit).result(timeout=30)


def test_same_key_same_body_gets_the_stored_answer_without_new_work(storage: Storage) -> None:
    calls: list[int] = []

    def work(tx: Transaction) -> pb.OpenSessionResponse:
        calls.append(1)
        return pb.OpenSessionResponse(session_id=f"ses_{len(calls)}")

    request = pb.OpenSessionRequest(purpose=pb.SESSION_PURPOSE_TRANSFER, idempotency_key="k1")
    first = _run(storage, request, work)
    again = _run(storage, request, work)
    assert first == again == pb.OpenSessionResponse(session_id="ses_1")
    assert calls == [1]
    other = pb.OpenSessionRequest(purpose=pb.SESSION_PURPOSE_PIN_RESET, idempotency_key="k1")
    conflict = _run(storage, other, work)
    assert isinstance(conflict, IdempotencyConflictError)
    assert calls == [1]


def test_a_refusal_is_stored_and_returned_not_raised(storage: Storage) -> None:
    def refuse(tx: Transaction) -> pb.OpenSessionResponse:
        raise PreconditionError(ErrorReason.TRANSFER_REVERSED, "the transfer was reversed")

    request = pb.OpenSessionRequest(purpose=pb.SESSION_PURPOSE_TRANSFER, idempotency_key="k2")
    first = _run(storage, request, refuse)
    assert isinstance(first, PreconditionError)
    again = _run(storage, request, lambda tx: pb.OpenSessionResponse(session_id="never"))
    assert isinstance(again, RequestError)
    assert (again.reason, again.code) == ("TRANSFER_REVERSED", grpc.StatusCode.FAILED_PRECONDITION)
    with pytest.raises(RequestError, match="reversed"):
        raise_refusal(again)
    assert raise_refusal(pb.OpenSessionResponse(session_id="x")).session_id == "x"
