# SPDX-License-Identifier: Apache-2.0
"""The verification service's exception tree.

The service raises only these on purpose; each maps to one gRPC status code
at the servicer's edge (``code`` attribute), so handlers never pick status
codes ad hoc. Messages never carry a PIN, password, OTP or personal data::

    VerifierError
    ├── ConfigError (ValueError)           the configuration cannot be used
    ├── StorageError                       the database failed or is foreign
    │   ├── StorageUnavailableError        transient (restart, lost connection): UNAVAILABLE
    │   └── MigrationError                 the schema is newer than this code
    ├── RevocationError                    no revocation source could answer
    └── RequestError                       a request the service refuses
        ├── InvalidRequestError            INVALID_ARGUMENT: .field says which
        ├── IdempotencyConflictError       ALREADY_EXISTS: key reused with another body
        ├── NotFoundError                  NOT_FOUND
        ├── PreconditionError              FAILED_PRECONDITION: wrong state
        ├── PermissionDeniedError        PERMISSION_DENIED: not this terminal's
        ├── DeadlineError                DEADLINE_EXCEEDED: the caller's deadline passed
        └── UnauthenticatedError           UNAUTHENTICATED: no terminal identity
"""

from __future__ import annotations

import grpc

from verifier.codes import ErrorReason

__all__ = [
    "ConfigError",
    "DeadlineError",
    "IdempotencyConflictError",
    "InvalidRequestError",
    "MigrationError",
    "NotFoundError",
    "PermissionDeniedError",
    "PreconditionError",
    "RequestError",
    "RevocationError",
    "StorageError",
    "StorageUnavailableError",
    "UnauthenticatedError",
    "VerifierError",
]


class VerifierError(Exception):
    """Root of every error the verifier raises on purpose."""


class ConfigError(VerifierError, ValueError):
    """The configuration file or flags cannot be used."""


class StorageError(VerifierError):
    """The database failed, or holds something this code does not understand."""


class StorageUnavailableError(StorageError):
    """The database cannot be reached now (a restart, a lost connection); worth a retry.

    Nothing of the failed transaction was committed, or it was committed
    together with its idempotency answer (COMMIT in doubt), so the caller
    may safely repeat the same request with the same key.
    """


class MigrationError(StorageError):
    """The database schema is newer than this code knows."""


class RevocationError(VerifierError):
    """No configured revocation source could give a usable answer."""


class RequestError(VerifierError):
    """A request the service refuses; ``code`` is the gRPC status to answer with.

    Args:
        reason: the stable reason for ``ErrorInfo.reason``.
        message: human-readable text; never holds a secret.
    """

    code: grpc.StatusCode = grpc.StatusCode.FAILED_PRECONDITION

    def __init__(self, reason: ErrorReason, message: str, **metadata: str) -> None:
        super().__init__(message)
        #: The ``ErrorInfo.reason`` text (an ``ErrorReason`` value; a replayed
        #: refusal keeps the text it was stored with, see ``replayed``).
        self.reason: str = str(reason)
        self.metadata = dict(metadata)

    @staticmethod
    def replayed(reason: str, message: str, code: grpc.StatusCode) -> RequestError:
        """A refusal read back from an idempotency record, as it was first answered."""
        error = RequestError(ErrorReason.FIELD_INVALID, message)
        error.reason, error.code = reason, code
        return error


class InvalidRequestError(RequestError):
    """A malformed request: wrong size, format, enum value or missing field."""

    code = grpc.StatusCode.INVALID_ARGUMENT

    def __init__(self, field: str, message: str) -> None:
        super().__init__(ErrorReason.FIELD_INVALID, f"{field}: {message}", field=field)
        self.field = field


class IdempotencyConflictError(RequestError):
    """The idempotency key was used before with a different request."""

    code = grpc.StatusCode.ALREADY_EXISTS


class NotFoundError(RequestError):
    """The named session, authorisation or reservation does not exist."""

    code = grpc.StatusCode.NOT_FOUND


class PreconditionError(RequestError):
    """The object is in a state that does not allow the operation."""

    code = grpc.StatusCode.FAILED_PRECONDITION


class PermissionDeniedError(RequestError):
    """The object belongs to another terminal."""

    code = grpc.StatusCode.PERMISSION_DENIED


class DeadlineError(RequestError):
    """The caller's deadline passed before the work began."""

    code = grpc.StatusCode.DEADLINE_EXCEEDED


class UnauthenticatedError(RequestError):
    """The caller presented no terminal identity."""

    code = grpc.StatusCode.UNAUTHENTICATED
