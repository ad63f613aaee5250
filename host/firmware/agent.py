# SPDX-License-Identifier: Apache-2.0
"""Applying an image through a running agent (its terminal API's ``UpdateFirmware``).

Why: the agent owns the controller's serial port, so while it runs
``myna-edge firmware update --link`` cannot open it; ``--agent ADDRESS``
asks the agent instead, which applies the image over its own connection
only when no command runs (``host.api.firmware``). The answers come back
as the same types as a direct update: ``UpdateProgress`` events and, on a
refusal by the board, ``UpdateError`` with its ``UpdateFailure``.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Final

import grpc

from host.api.runtime import check_listen
from host.errors import BoardSilentError
from host.firmware.errors import FirmwareError, UpdateError, UpdateFailure
from host.firmware.update import UpdatePhase, UpdateProgress
from myna.edge.v1 import terminal_pb2 as tpb
from myna.edge.v1 import terminal_pb2_grpc as tpb_grpc

__all__ = ["AgentRefusedError", "agent_firmware", "update_via_agent"]

_PHASES: Final = {
    tpb.FIRMWARE_UPDATE_PHASE_TRANSFER: UpdatePhase.TRANSFER,
    tpb.FIRMWARE_UPDATE_PHASE_COMMIT: UpdatePhase.COMMIT,
    tpb.FIRMWARE_UPDATE_PHASE_REBOOT: UpdatePhase.REBOOT,
    tpb.FIRMWARE_UPDATE_PHASE_CONFIRMED: UpdatePhase.CONFIRMED,
}
#: Larger than the largest image (528,460 bytes) plus the message's framing.
_MAX_MESSAGE: Final = 1024 * 1024


class AgentRefusedError(FirmwareError):
    """The agent refused the update at acknowledgement (busy, no board, malformed image).

    Attributes:
        refusal: the ``RefusalReason`` name without its prefix (``BUSY``, ...).
        invalid_field: the request field at fault (``image``), else empty.
    """

    def __init__(self, ack: tpb.Acknowledgement) -> None:
        self.refusal = tpb.RefusalReason.Name(ack.refusal).removeprefix("REFUSAL_REASON_")
        self.invalid_field = ack.invalid_field
        where = f" ({ack.invalid_field})" if ack.invalid_field else ""
        super().__init__(f"the agent refused the update: {self.refusal}{where}: {ack.detail}")


def _channel(address: str) -> grpc.Channel:
    options = [("grpc.max_send_message_length", _MAX_MESSAGE)]
    return grpc.insecure_channel(check_listen(address), options=options)


def agent_firmware(address: str, *, timeout: float = 10.0) -> tpb.FirmwareInfo | None:
    """The controller firmware the agent at ``address`` reports (None: no board answered).

    Raises:
        ValueError: ``address`` is not ``unix:PATH`` or ``127.0.0.1:PORT``.
        grpc.RpcError: the agent cannot be reached.
    """
    with _channel(address) as channel:
        stub = tpb_grpc.TerminalServiceStub(channel)
        reply = stub.GetStatus(tpb.GetStatusRequest(), timeout=timeout)
    for device in reply.devices:
        if device.device == "controller" and device.HasField("firmware"):
            return device.firmware
    return None


def update_via_agent(
    address: str,
    image: bytes,
    *,
    progress: Callable[[UpdateProgress], None] | None = None,
    timeout: float = 600.0,
) -> tpb.FirmwareInfo:
    """Ask the agent at ``address`` to apply ``image``; return what the board then runs.

    Raises:
        ValueError: ``address`` is not ``unix:PATH`` or ``127.0.0.1:PORT``.
        AgentRefusedError: refused at acknowledgement.
        UpdateError: the board refused the image or did not keep it (``reason``).
        BoardSilentError: the board stopped answering the agent.
        FirmwareError: the agent failed otherwise.
        grpc.RpcError: the agent cannot be reached.
    """
    request = tpb.UpdateFirmwareRequest(request_id=f"fw-{uuid.uuid4().hex[:12]}", image=image)
    with _channel(address) as channel:
        stub = tpb_grpc.TerminalServiceStub(channel)
        for message in stub.UpdateFirmware(request, timeout=timeout):
            which = message.WhichOneof("message")
            if which == "acknowledgement" and not message.acknowledgement.accepted:
                raise AgentRefusedError(message.acknowledgement)
            if which == "progress" and progress is not None:
                event = message.progress
                phase = _PHASES.get(event.phase)
                if phase is not None:
                    progress(UpdateProgress(phase, event.bytes_done, event.bytes_total))
            if which == "completion":
                return _outcome(message.completion)
    raise FirmwareError("the agent ended the update without a completion")


def _outcome(done: tpb.FirmwareUpdateCompletion) -> tpb.FirmwareInfo:
    if done.code == tpb.COMPLETION_CODE_SUCCESS:
        return done.firmware
    if done.error == tpb.FIRMWARE_UPDATE_ERROR_BOARD_UNREACHABLE:
        raise BoardSilentError(f"the board stopped answering the agent: {done.detail}")
    name = tpb.FirmwareUpdateError.Name(done.error).removeprefix("FIRMWARE_UPDATE_ERROR_")
    try:
        reason = UpdateFailure[name]
    except KeyError:
        raise FirmwareError(f"the agent's update failed: {done.detail}") from None
    raise UpdateError(reason, done.detail)
