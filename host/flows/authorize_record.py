# SPDX-License-Identifier: Apache-2.0
"""What the journal keeps of an AuthorizeTransfer, and the request rebuilt from it.

Why a module of its own: an authorisation whose answer was lost is learnt
by repeating the very same request under the same key (``settle``); the
verifier compares the repeat with the first request byte for byte
(``IDEMPOTENCY_KEY_REUSED`` when they differ). So what is kept and what is
rebuilt must cover every field the client puts on the wire, and they are
written side by side here, with one test round-tripping every kind of proof.
"""

from __future__ import annotations

from host.card import CredentialKind
from host.client import CardProof, TransferStatement
from host.journal.records import CREDENTIAL_KIND

__all__ = ["authorize_request_data", "authorize_request_from_data"]


def authorize_request_data(
    session_id: str, statement: TransferStatement, proof: CardProof | None
) -> dict[str, str | int | float | bool | None]:
    """What the journal keeps to repeat an AuthorizeTransfer byte for byte (no secrets).

    Every field the request carries is kept, the proof's ``presented`` claim
    too (as ``credential_kind``): a repeat that left it out would be another
    request under the same key, which the verifier refuses as
    ``IDEMPOTENCY_KEY_REUSED``, and recovery could then never learn the answer.
    """
    data: dict[str, str | int | float | bool | None] = {"session_id": session_id}
    data.update({f"st_{k}": _scalar(v) for k, v in statement.to_dict().items()})
    data["proof_certificate_hex"] = proof.certificate_der.hex() if proof else None
    data["proof_signature_hex"] = proof.signature.hex() if proof else None
    presented = proof.presented if proof else None
    data[CREDENTIAL_KIND] = presented.value if presented else None
    return data


def _scalar(value: object) -> str | int | float | bool | None:
    # to_dict promises JSON scalars but types them ``object``; a surprise is a bug here.
    if value is None or isinstance(value, str | int | float | bool):
        return value
    raise TypeError(f"not a JSON scalar: {type(value).__name__}")


def authorize_request_from_data(
    data: dict[str, object],
) -> tuple[str, TransferStatement, CardProof | None]:
    """The AuthorizeTransfer kept by :func:`authorize_request_data`, as it was sent.

    Raises:
        ValueError, KeyError: the data is not such a record.
    """
    fields = {k.removeprefix("st_"): v for k, v in data.items() if k.startswith("st_")}
    statement = TransferStatement.from_dict(fields)
    cert, sig = data.get("proof_certificate_hex"), data.get("proof_signature_hex")
    kind = data.get(CREDENTIAL_KIND)
    presented = CredentialKind(str(kind)) if kind else None
    proof = (
        CardProof(bytes.fromhex(str(cert)), bytes.fromhex(str(sig)), presented)
        if cert and sig
        else None
    )
    return str(data["session_id"]), statement, proof
