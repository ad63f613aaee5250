# SPDX-License-Identifier: Apache-2.0
"""The status-code table and ErrorInfo decoding of the client's error translation."""

from __future__ import annotations

from collections.abc import Sequence

import grpc

from host.client.translate import STATUS_ERRORS, translate_rpc_error
from host.errors import (
    ServiceAuthenticationError,
    ServiceError,
    ServiceInternalError,
    ServiceTimeoutError,
)
from myna.edge.v1 import verifier_pb2 as pb


class FakeRpcError(grpc.RpcError):
    def __init__(self, code: grpc.StatusCode, trailing: Sequence[tuple[str, object]] = ()) -> None:
        self._code, self._trailing = code, tuple(trailing)

    def code(self) -> grpc.StatusCode:
        return self._code

    def trailing_metadata(self) -> tuple[tuple[str, object], ...]:
        return self._trailing

    def details(self) -> str:
        return "secret-looking details 1234"


def test_table_classes_are_service_errors() -> None:
    assert all(issubclass(cls, ServiceError) for cls in STATUS_ERRORS.values())
    assert STATUS_ERRORS[grpc.StatusCode.UNAUTHENTICATED] is ServiceAuthenticationError


def test_error_info_is_decoded_and_details_dropped() -> None:
    info = pb.ErrorInfo(reason="IDEMPOTENCY_KEY_REUSED", domain="verifier.myna-edge")
    error = translate_rpc_error(
        FakeRpcError(
            grpc.StatusCode.DEADLINE_EXCEEDED, [("myna-error-bin", info.SerializeToString())]
        ),
        "CommitTransfer",
    )
    assert isinstance(error, ServiceTimeoutError)
    assert error.reason == "IDEMPOTENCY_KEY_REUSED"
    assert "CommitTransfer" in str(error)
    assert "1234" not in str(error)


def test_garbage_trailer_and_unknown_code() -> None:
    error = translate_rpc_error(
        FakeRpcError(grpc.StatusCode.DATA_LOSS, [("myna-error-bin", b"\xff\xff")]), "X"
    )
    assert type(error) is ServiceInternalError
    assert error.code == "DATA_LOSS"
    assert error.reason == ""
