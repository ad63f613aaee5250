# SPDX-License-Identifier: Apache-2.0
"""``grpc.RpcError`` -> ``host.errors.ServiceError``, once, at the client's edge.

Codes are data (STYLE §3): the status code picks the class through a table,
and the service's ``ErrorInfo`` (trailing metadata ``myna-error-bin``) gives
``.reason`` and ``.metadata``. The free-text details are deliberately
dropped: they are the service's prose and could echo request fields.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Final, TypeVar

import grpc
from google.protobuf.message import DecodeError

from host.errors import (
    IdempotencyConflictError,
    InvalidServiceRequestError,
    ServiceAuthenticationError,
    ServiceError,
    ServiceInternalError,
    ServiceStateError,
    ServiceTimeoutError,
    ServiceUnavailableError,
)
from myna.edge.v1 import verifier_pb2 as pb

__all__ = ["ERROR_METADATA_KEY", "STATUS_ERRORS", "call_rpc", "translate_rpc_error"]

_log = logging.getLogger(__name__)

ERROR_METADATA_KEY: Final = "myna-error-bin"

STATUS_ERRORS: Final[dict[grpc.StatusCode, type[ServiceError]]] = {
    grpc.StatusCode.UNAVAILABLE: ServiceUnavailableError,
    grpc.StatusCode.DEADLINE_EXCEEDED: ServiceTimeoutError,
    grpc.StatusCode.UNAUTHENTICATED: ServiceAuthenticationError,
    grpc.StatusCode.PERMISSION_DENIED: ServiceAuthenticationError,
    grpc.StatusCode.INVALID_ARGUMENT: InvalidServiceRequestError,
    grpc.StatusCode.FAILED_PRECONDITION: ServiceStateError,
    grpc.StatusCode.NOT_FOUND: ServiceStateError,
    grpc.StatusCode.ALREADY_EXISTS: IdempotencyConflictError,
}


def _error_info(error: grpc.RpcError) -> pb.ErrorInfo | None:
    trailing = getattr(error, "trailing_metadata", None)
    if trailing is None:
        return None
    for key, value in trailing() or ():
        if key == ERROR_METADATA_KEY and isinstance(value, bytes):
            try:
                return pb.ErrorInfo.FromString(value)
            except DecodeError:
                _log.warning("undecodable %s trailer ignored", ERROR_METADATA_KEY)
    return None


def translate_rpc_error(error: grpc.RpcError, method: str) -> ServiceError:
    """The ``ServiceError`` for ``error`` raised by ``method`` (chain it with ``from``)."""
    code_fn = getattr(error, "code", None)
    code = code_fn() if code_fn is not None else grpc.StatusCode.UNKNOWN
    cls = STATUS_ERRORS.get(code, ServiceInternalError)
    info = _error_info(error)
    return cls(
        f"{method} failed",
        code=code.name,
        reason=info.reason if info else "",
        metadata=dict(info.metadata) if info else None,
    )


_T = TypeVar("_T")


async def call_rpc(
    send: Callable[..., Awaitable[_T]],
    request: object,
    *,
    method: str,
    key: str,
    timeout: float,
    metadata: tuple[tuple[str, str], ...],
    log: logging.Logger,
) -> _T:
    """One unary call of a client (``VerifierClient``, ``IssuanceClient``), failures typed.

    Logs the method and idempotency key (never the request) on ``log``.

    Raises:
        ServiceError: a subclass per gRPC status (``translate_rpc_error``).
    """
    try:
        response = await send(request, timeout=timeout, metadata=metadata)
    except grpc.RpcError as exc:
        error = translate_rpc_error(exc, method)
        log.info("%s key=%s failed: %s", method, key or "-", error)
        # Not chained: the RpcError's text carries the service's prose and
        # debug string, which tracebacks would then log; code, reason and
        # metadata are kept on ``error`` instead (STYLE §3, §7).
        raise error from None
    log.debug("%s key=%s ok", method, key or "-")
    return response
