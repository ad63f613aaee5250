# SPDX-License-Identifier: Apache-2.0
"""Plain values to and from ``myna.edge.v1.VerifierService`` messages.

Why a module of its own: the conversions are pure and shared by the
client's methods; keeping them apart keeps ``host.client.verifier`` about
calls (deadlines, keys, errors) and lets the conversions be read at a glance.
"""

from __future__ import annotations

import datetime as dt
from typing import Final

from google.protobuf.timestamp_pb2 import Timestamp

from host.card.detection import CredentialKind
from host.client.models import AccountType, CardProof, RevocationSource
from myna.edge.v1 import verifier_pb2 as pb

__all__ = ["WIRE_ACCOUNT_TYPE", "reason_name", "revocation_source", "wire_proof", "wire_time"]

#: The statement's account type on the wire (the proto enum's numbers are the 全銀 codes).
WIRE_ACCOUNT_TYPE: Final = {
    AccountType.ORDINARY: pb.ACCOUNT_TYPE_ORDINARY,
    AccountType.CURRENT: pb.ACCOUNT_TYPE_CURRENT,
    AccountType.SAVINGS: pb.ACCOUNT_TYPE_SAVINGS,
}


def wire_time(ts: Timestamp, present: bool) -> dt.datetime | None:
    """A timestamp field as an aware UTC datetime; None when the field is absent."""
    return ts.ToDatetime(tzinfo=dt.UTC) if present else None


def revocation_source(value: pb.RevocationSource.ValueType) -> RevocationSource:
    """Where the verifier's revocation answer came from."""
    name = pb.RevocationSource.Name(value).removeprefix("REVOCATION_SOURCE_")
    return RevocationSource(name)


def reason_name(value: pb.Reason.ValueType) -> str:
    """A verdict's reason as its name without the prefix (``"OK"``, ``"CERTIFICATE_REVOKED"``)."""
    return pb.Reason.Name(value).removeprefix("REASON_")


#: The terminal's claim on the wire (verifier.proto's numbers for the same kinds).
_PRESENTED: Final = {
    CredentialKind.CARD: pb.CREDENTIAL_DEVICE_CARD,
    CredentialKind.ANDROID: pb.CREDENTIAL_DEVICE_ANDROID,
    CredentialKind.IPHONE: pb.CREDENTIAL_DEVICE_IPHONE,
}


def wire_proof(proof: CardProof) -> pb.CardProof:
    """A proof with the terminal's claim of what was presented (audited, never trusted)."""
    return pb.CardProof(
        certificate_der=proof.certificate_der,
        signature=proof.signature,
        credential_device=(
            pb.CREDENTIAL_DEVICE_UNSPECIFIED
            if proof.presented is None
            else _PRESENTED[proof.presented]
        ),
    )
