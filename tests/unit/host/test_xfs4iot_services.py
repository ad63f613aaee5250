# SPDX-License-Identifier: Apache-2.0
"""CardReader, PinPad, Printer and MynaEdge over a scripted agent; the local-only rules."""

from __future__ import annotations

import argparse
import asyncio
import base64
import datetime as dt
import ipaddress
import json
import ssl
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidMessage, InvalidStatus

from host.xfs4iot import cardreader
from host.xfs4iot.cardreader import CardReaderService
from host.xfs4iot.cli import add_parser, run_xfs4iot
from host.xfs4iot.pinpad import PinPadService
from host.xfs4iot.printer import PrinterService
from host.xfs4iot.server import Xfs4IotConfig, Xfs4IotServer
from host.xfs4iot.transfer import TransferService
from myna.edge.v1 import terminal_pb2 as tpb
from myna.edge.v1 import verifier_pb2 as vpb
from tests.unit.host.xfs4iot_fakes import Conversation, FakeAgent, code, run

SELECT = base64.b64encode(bytes.fromhex("00A4040C0AD392F000260100000001")).decode()
NO_MEDIA = tpb.ChipPowerResponse(
    code=tpb.COMPLETION_CODE_DEVICE_NOT_READY, error=tpb.DEVICE_ERROR_NO_MEDIA
)


def reader() -> tuple[CardReaderService, FakeAgent]:
    agent = FakeAgent()
    return CardReaderService("CardReader", ("CardReader",), "reader", agent), agent


def test_chip_io_carries_type_b_and_type_a_part4_and_refuses_contact_protocols() -> None:
    async def scenario() -> None:
        service, agent = reader()
        chat = Conversation(service)
        for protocol in ("chipTypeB", "chipTypeAPart4"):
            done = await chat.run(
                "CardReader.ChipIO", {"chipProtocol": protocol, "chipData": SELECT}
            )
            assert done["payload"] == {"chipProtocol": protocol, "chipData": "kAA="}
        assert agent.requests == [("io", base64.b64decode(SELECT))] * 2
        contact = await chat.run(
            "CardReader.ChipIO", {"chipProtocol": "chipT1", "chipData": SELECT}
        )
        assert contact["payload"] == {"errorCode": "protocolNotSupported"}
        assert len(agent.requests) == 2  # never reached the agent

    run(scenario)


def test_chip_io_with_a_secret_is_unsupported_data_and_a_lost_card_is_announced() -> None:
    async def scenario() -> None:
        service, agent = reader()
        chat = Conversation(service)
        await chat.run("CardReader.ChipPower", {"chipPower": "cold"})  # the card answered
        agent.io_replies = [
            tpb.ChipIoResponse(
                code=tpb.COMPLETION_CODE_COMMAND_ERROR, error=tpb.DEVICE_ERROR_ACCESS_DENIED
            ),
            tpb.ChipIoResponse(
                code=tpb.COMPLETION_CODE_DEVICE_NOT_READY, error=tpb.DEVICE_ERROR_NO_MEDIA
            ),
        ]
        payload = {"chipProtocol": "chipTypeB", "chipData": SELECT}
        assert code(await chat.run("CardReader.ChipIO", payload)) == "unsupportedData"
        gone = await chat.run("CardReader.ChipIO", payload)
        assert code(gone) == "commandErrorCode"
        assert gone["payload"] == {"errorCode": "noMedia"}
        assert chat.unsolicited() == ["CardReader.MediaRemovedEvent"]
        status = (await chat.run("Common.Status"))["payload"]["cardReader"]
        assert (status["media"], status["chipPower"]) == ("notPresent", "noCard")

    run(scenario)


def test_read_raw_data_waits_for_the_card_and_returns_its_atr(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(cardreader, "_POLL_S", 0.0)

    async def scenario() -> None:
        service, agent = reader()
        agent.power_replies = [NO_MEDIA, NO_MEDIA]
        chat = Conversation(service)
        rid = await chat.send("CardReader.ReadRawData", {"chip": True, "track2": True})
        done = await chat.completion(rid)
        events = [m["header"]["name"] for m in chat.of(rid) if m["header"]["type"] == "event"]
        assert events == ["CardReader.InsertCardEvent", "CardReader.MediaInsertedEvent"]
        assert done["payload"] == {
            "chip": [{"data": base64.b64encode(b"\x3b\x88").decode()}],
            "track2": {"status": "dataSourceNotSupported"},
        }
        assert len(agent.requests) == 3

    run(scenario)


def test_chip_power_off_and_the_last_client_leaving_power_the_chip_down() -> None:
    async def scenario() -> None:
        service, agent = reader()
        chat = Conversation(service)
        cold = await chat.run("CardReader.ChipPower", {"chipPower": "cold"})
        assert cold["payload"] == {"chipData": "O4g="}
        assert (await chat.run("CardReader.ChipPower", {"chipPower": "off"}))["payload"] == {}
        assert service.chip_power_state == "poweredOff"
        await chat.run("CardReader.ChipPower", {"chipPower": "warm"})
        await service.last_client_left()
        assert agent.requests[-1] == ("power", tpb.CHIP_POWER_ACTION_OFF)
        assert service.chip_power_state == "poweredOff"

    run(scenario)


def pad() -> tuple[PinPadService, FakeAgent]:
    agent = FakeAgent()
    return PinPadService("PinPad", ("Keyboard", "PinPad"), "controller", agent), agent


PRESENT = {
    "presentAlgorithm": "presentClear", "chipProtocol": "chipTypeB",
    "chipData": base64.b64encode(bytes.fromhex("00200080")).decode(),
    "algorithmData": {"pinPointer": 5, "pinOffset": 0},
}  # fmt: skip


def test_pin_entry_tells_the_digit_count_and_picks_the_secret_kind_by_length() -> None:
    async def scenario() -> None:
        service, agent = pad()
        chat = Conversation(service)
        pin = await chat.run("Keyboard.PinEntry", {"minLen": 4, "maxLen": 4})
        assert pin["payload"] == {"digits": 4, "completion": "enter"}
        await chat.run("Keyboard.PinEntry", {"minLen": 6, "maxLen": 16})
        kinds = [r.type for r in agent.requests if isinstance(r, tpb.EnterPinRequest)]
        assert kinds == [tpb.PROMPT_TYPE_AUTH_PIN, tpb.PROMPT_TYPE_SIGNING_PASSWORD]
        upside_down = await chat.run("Keyboard.PinEntry", {"minLen": 8, "maxLen": 4})
        assert upside_down["payload"] == {"errorCode": "minimumLength"}
        agent.pin_reply = tpb.EnterPinResponse(
            code=tpb.COMPLETION_CODE_COMMAND_ERROR, error=tpb.DEVICE_ERROR_UNSUPPORTED_LENGTH
        )
        assert code(await chat.run("Keyboard.PinEntry", {"minLen": 5})) == "unsupportedData"
        agent.pin_reply = tpb.EnterPinResponse(
            code=tpb.COMPLETION_CODE_COMMAND_ERROR, error=tpb.DEVICE_ERROR_ENTRY_TIMEOUT
        )
        late = await chat.run("Keyboard.PinEntry", {"minLen": 4})
        assert late["payload"] == {"errorCode": "entryTimeout"}
        assert code(await chat.run("Keyboard.DataEntry", {"maxLen": 4})) == "unsupportedCommand"

    run(scenario)


def test_present_idc_takes_a_verify_header_only_and_the_pin_is_used_once() -> None:
    async def scenario() -> None:
        service, agent = pad()
        chat = Conversation(service)
        done = await chat.run("PinPad.PresentIDC", PRESENT)
        assert done["payload"] == {"chipProtocol": "chipTypeB", "chipData": "kAA="}
        assert agent.requests == [("present", bytes.fromhex("00200080"))]
        # a nibble-packed (ISO 9564 format 2) block position is refused: the card takes ASCII
        nibbles = PRESENT | {"algorithmData": {"pinPointer": 6, "pinOffset": 0}}
        refused = await chat.run("PinPad.PresentIDC", nibbles)
        assert refused["payload"] == {"errorCode": "invalidData"}
        assert "ASCII" in refused["header"]["errorDescription"]
        with_data = PRESENT | {"chipData": base64.b64encode(bytes(9)).decode()}
        assert (await chat.run("PinPad.PresentIDC", with_data))["payload"] == {
            "errorCode": "invalidData"
        }
        assert len(agent.requests) == 1
        agent.present_reply = tpb.PresentPinResponse(
            code=tpb.COMPLETION_CODE_COMMAND_ERROR, error=tpb.DEVICE_ERROR_NO_PIN
        )
        assert (await chat.run("PinPad.PresentIDC", PRESENT))["payload"] == {"errorCode": "noPin"}

    run(scenario)


def test_print_raw_sends_the_bytes_and_reports_paper_out() -> None:
    async def scenario() -> None:
        agent = FakeAgent()
        chat = Conversation(PrinterService("Printer", ("Printer",), "printer", agent))
        data = base64.b64encode(b"RECEIPT\n").decode()
        assert code(await chat.run("Printer.PrintRaw", {"inputData": "no", "data": data})) == (
            "success"
        )
        assert agent.requests == [("print", b"RECEIPT\n")]
        reply = await chat.run("Printer.PrintRaw", {"inputData": "yes", "data": data})
        assert code(reply) == "unsupportedData"
        agent.print_reply = tpb.PrintRawResponse(
            code=tpb.COMPLETION_CODE_COMMAND_ERROR, error=tpb.DEVICE_ERROR_PAPER_OUT
        )
        out = await chat.run("Printer.PrintRaw", {"data": data})
        assert out["payload"] == {"errorCode": "paperOut"}

    run(scenario)


TRANSFER = {
    "amountYen": 250_000, "payeeBankCode": "0001", "payeeBranchCode": "123",
    "payeeAccountType": "ordinary", "payeeAccountNumber": "1234567",
    "payeeName": "ヤマダ　ハナコ", "remitterName": "ヤマダ　タロウ",
}  # fmt: skip


def response(**fields: object) -> tpb.ExecuteResponse:
    return tpb.ExecuteResponse(request_id="x", **fields)  # type: ignore[arg-type]


def test_the_vendor_transfer_maps_events_completion_and_hands_the_timeout_to_the_agent() -> None:
    async def scenario() -> None:
        agent = FakeAgent()
        service = TransferService("MynaEdge", ("MynaEdge",), "reader", agent)
        message = tpb.UserMessage(key="prompt.confirm_statement", ja="確認", en="Confirm")
        prompt = tpb.PromptEvent(
            prompt_id="p1", type=tpb.PROMPT_TYPE_CONFIRM_STATEMENT, text="Confirm", message=message
        )
        result = tpb.TransferResult(
            authorization_id="a1", state=vpb.TRANSFER_STATE_REVERSED, identity_verified=True,
            receipt_lines=["line"],
        )  # fmt: skip
        done_message = tpb.Completion(
            code=tpb.COMPLETION_CODE_CANCELED, error_code="reversed",
            reason=tpb.COMPLETION_REASON_TRANSFER_REVERSED, message=message, transfer=result,
        )  # fmt: skip
        agent.stream = [
            response(acknowledgement=tpb.Acknowledgement(accepted=True)),
            response(event=tpb.FlowEvent(prompt=prompt)),
            response(event=tpb.FlowEvent(card_taken=tpb.CardTakenEvent())),
            response(completion=done_message),
        ]
        chat = Conversation(service)
        rid = await chat.send("MynaEdge.IdentityVerifiedTransfer", TRANSFER, timeout=60_000)
        done = await chat.completion(rid)
        events = [m for m in chat.of(rid) if m["header"]["type"] == "event"]
        assert [e["header"]["name"] for e in events] == [
            "MynaEdge.PromptEvent", "MynaEdge.CardTakenEvent",
        ]  # fmt: skip
        assert events[0]["payload"]["answerable"] is True
        assert events[0]["payload"]["message"]["ja"] == "確認"
        assert code(done) == "canceled"
        assert done["payload"] == {
            "transactionId": f"xfs4iot-1-{rid}",
            "errorCode": "reversed", "reason": "transferReversed",
            "message": {"key": "prompt.confirm_statement", "ja": "確認", "en": "Confirm"},
            "authorizationId": "a1", "state": "reversed", "identityVerified": True,
            "receiptPrinted": False, "receiptLines": ["line"],
        }  # fmt: skip
        sent = agent.requests[0]
        assert isinstance(sent, tpb.ExecuteRequest)
        assert sent.timeout_ms == 60_000  # the agent's timeout, which spares the cash question
        assert sent.transfer.remitter_phone == ""
        assert sent.request_id == f"xfs4iot-1-{rid}"

    run(scenario)


def test_an_iphone_transfer_shows_the_phone_the_approval_prompt_and_a_decline() -> None:
    """Issue 15 over XFS4IoT: what was presented, "authenticate on your phone", declined."""

    async def scenario() -> None:
        agent = FakeAgent()
        service = TransferService("MynaEdge", ("MynaEdge",), "reader", agent)
        approve = tpb.UserMessage(key="prompt.approve_on_phone", ja="スマートフォンで認証", en="A")
        declined = tpb.UserMessage(key="result.declined_on_phone", ja="取り消されました", en="D")
        agent.stream = [
            response(acknowledgement=tpb.Acknowledgement(accepted=True)),
            response(event=tpb.FlowEvent(credential=tpb.CredentialEvent(
                kind=tpb.CREDENTIAL_KIND_IPHONE,
                user_verification=tpb.USER_VERIFICATION_ON_DEVICE,
            ))),
            response(event=tpb.FlowEvent(prompt=tpb.PromptEvent(
                type=tpb.PROMPT_TYPE_APPROVE_ON_PHONE, text="A", message=approve,
            ))),
            response(event=tpb.FlowEvent(failure=tpb.FailureEvent(code="declined_on_phone"))),
            response(completion=tpb.Completion(
                code=tpb.COMPLETION_CODE_CANCELED, error_code="declined_on_phone",
                reason=tpb.COMPLETION_REASON_DECLINED_ON_PHONE, message=declined,
                credential_kind=tpb.CREDENTIAL_KIND_IPHONE,
                transfer=tpb.TransferResult(state=vpb.TRANSFER_STATE_UNSPECIFIED),
            )),
        ]  # fmt: skip
        chat = Conversation(service)
        rid = await chat.send("MynaEdge.IdentityVerifiedTransfer", TRANSFER)
        done = await chat.completion(rid)
        events = [m for m in chat.of(rid) if m["header"]["type"] == "event"]
        assert [e["header"]["name"] for e in events] == [
            "MynaEdge.CredentialEvent", "MynaEdge.PromptEvent", "MynaEdge.FailureEvent",
        ]  # fmt: skip
        assert events[0]["payload"] == {"kind": "iphone", "userVerification": "onDevice"}
        shown = events[1]["payload"]
        assert shown["prompt"] == "approveOnPhone"
        assert shown["answerable"] is False  # display only: the phone answers, not the ATM
        assert shown["message"]["key"] == "prompt.approve_on_phone"
        assert code(done) == "canceled"
        assert done["header"]["errorDescription"] == "declined_on_phone"
        assert done["payload"]["reason"] == "declinedOnPhone"
        assert done["payload"]["credentialKind"] == "iphone"
        assert done["payload"]["identityVerified"] is False

    run(scenario)


def test_a_card_and_an_android_phone_are_named_and_no_kind_is_left_out() -> None:
    async def scenario() -> None:
        for kind, verification, name, how in (
            (tpb.CREDENTIAL_KIND_CARD, tpb.USER_VERIFICATION_PIN_PAD, "card", "pinPad"),
            (tpb.CREDENTIAL_KIND_ANDROID, tpb.USER_VERIFICATION_PIN_PAD, "android", "pinPad"),
        ):
            agent = FakeAgent()
            agent.stream = [
                response(event=tpb.FlowEvent(credential=tpb.CredentialEvent(
                    kind=kind, user_verification=verification,
                ))),
                response(completion=COMMITTED),
            ]  # fmt: skip
            chat = Conversation(TransferService("MynaEdge", ("MynaEdge",), "reader", agent))
            rid = await chat.send("MynaEdge.IdentityVerifiedTransfer", TRANSFER)
            done = await chat.completion(rid)
            (event,) = [m for m in chat.of(rid) if m["header"]["type"] == "event"]
            assert event["payload"] == {"kind": name, "userVerification": how}
            assert code(done) == "success"
            assert "credentialKind" not in done["payload"]  # the agent named none
        # every kind the agent can name has a name here (a new one would fail the schema)
        named = {v.name for v in tpb.CredentialKind.DESCRIPTOR.values if v.number}
        assert named == {
            "CREDENTIAL_KIND_CARD",
            "CREDENTIAL_KIND_ANDROID",
            "CREDENTIAL_KIND_IPHONE",
        }

    run(scenario)


def test_an_agent_refusal_names_the_offending_field() -> None:
    async def scenario() -> None:
        agent = FakeAgent()
        agent.stream = [
            response(acknowledgement=tpb.Acknowledgement(
                refusal=tpb.REFUSAL_REASON_INVALID_MESSAGE,
                invalid_field="transfer.payee_name", detail="too long",
            )),
            response(acknowledgement=tpb.Acknowledgement(
                refusal=tpb.REFUSAL_REASON_DEVICE_NOT_READY
            )),
        ]  # fmt: skip
        chat = Conversation(TransferService("MynaEdge", ("MynaEdge",), "reader", agent))
        refused = await chat.run("MynaEdge.IdentityVerifiedTransfer", TRANSFER)
        assert code(refused) == "invalidData"
        assert "transfer.payee_name" in refused["header"]["errorDescription"]
        agent.stream = agent.stream[1:]
        not_ready = await chat.run("MynaEdge.IdentityVerifiedTransfer", TRANSFER)
        assert code(not_ready) == "deviceNotReady"

    run(scenario)


def test_cancelling_a_transfer_asks_the_agent_and_keeps_its_completion() -> None:
    async def scenario() -> None:
        agent = FakeAgent()
        agent.hold = asyncio.Event()
        agent.stream = [
            response(acknowledgement=tpb.Acknowledgement(accepted=True)),
            response(completion=tpb.Completion(code=tpb.COMPLETION_CODE_CANCELED)),
        ]
        chat = Conversation(TransferService("MynaEdge", ("MynaEdge",), "reader", agent))
        rid = await chat.send("MynaEdge.IdentityVerifiedTransfer", TRANSFER)
        await asyncio.sleep(0.05)
        await chat.run("Common.Cancel", {"requestIds": [rid]})
        assert code(await chat.completion(rid)) == "canceled"
        assert len(agent.cancelled) == 1
        assert agent.cancelled[0].endswith(f"-{rid}")

    run(scenario)


# --- local only ---------------------------------------------------------------------------


@pytest.mark.parametrize("host", ["127.0.0.1", "::1", "127.0.0.5"])
def test_loopback_addresses_are_served_by_default(host: str) -> None:
    assert Xfs4IotConfig(agent="unix:/a", host=host).scheme == "ws"


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.0.2.7"])
def test_other_addresses_are_refused_unless_explicitly_allowed_with_tls(
    host: str, tmp_path: Path
) -> None:
    with pytest.raises(ValueError, match="loopback"):
        Xfs4IotConfig(agent="unix:/a", host=host)
    with pytest.raises(ValueError, match="tls"):
        Xfs4IotConfig(agent="unix:/a", host=host, allow_remote=True)
    allowed = Xfs4IotConfig(
        agent="unix:/a", host=host, allow_remote=True,
        tls_cert=tmp_path / "c.pem", tls_key=tmp_path / "k.pem",
    )  # fmt: skip
    assert allowed.scheme == "wss"


@pytest.mark.parametrize("host", ["localhost", "example.org", ""])
def test_the_bind_address_must_be_an_ip_address(host: str) -> None:
    with pytest.raises(ValueError, match="IP address"):
        Xfs4IotConfig(agent="unix:/a", host=host)


async def handshake_status(port: int, host: str) -> int:
    """The HTTP status of a WebSocket handshake naming ``host`` (written by hand: no client
    library sends a Host other than the one it connects to)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    key = base64.b64encode(bytes(16)).decode()
    writer.write(
        f"GET /xfs4iot/v1.0 HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\n"
        f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
        "Sec-WebSocket-Version: 13\r\n\r\n".encode()
    )
    try:
        line = await asyncio.wait_for(reader.readline(), 5)
    finally:
        writer.close()
        await writer.wait_closed()
    return int(line.split()[1])


def test_the_server_binds_loopback_and_refuses_a_foreign_host_or_origin() -> None:
    async def scenario() -> None:
        config = Xfs4IotConfig(agent="unix:/nonexistent/agent.sock", port=0)
        async with Xfs4IotServer(config) as server:
            assert server.url.startswith("ws://127.0.0.1:")
            assert server._server is not None
            bound = {s.getsockname()[0] for s in server._server.sockets}
            assert bound == {"127.0.0.1"}
            uri = server.service_uri("CardReader")
            with pytest.raises(InvalidStatus) as refused:
                await connect(uri, origin="http://evil.example", open_timeout=5)  # type: ignore[arg-type]
            assert refused.value.response.status_code == 403
            assert await handshake_status(server.port, "attacker.example") == 403  # DNS rebinding
            with pytest.raises(InvalidStatus) as missing:
                await connect(server.url + "/NoSuchService", open_timeout=5)
            assert missing.value.response.status_code == 404
            async with connect(uri, open_timeout=5) as ws:
                header = {"name": "Common.Status", "requestId": 1, "type": "command"}
                await ws.send(json.dumps({"header": header}))
                ack = json.loads(await asyncio.wait_for(ws.recv(), 5))
                assert ack["header"]["type"] == "acknowledge"
                done = json.loads(await asyncio.wait_for(ws.recv(), 15))
                assert done["payload"]["common"]["device"] == "offline"  # no agent there

    run(scenario)


def transfer_service() -> tuple[TransferService, FakeAgent]:
    agent = FakeAgent()
    return TransferService("MynaEdge", ("MynaEdge",), "reader", agent), agent


COMMITTED = tpb.Completion(
    code=tpb.COMPLETION_CODE_SUCCESS,
    transfer=tpb.TransferResult(authorization_id="a9", state=vpb.TRANSFER_STATE_COMMITTED),
)


def test_the_application_names_the_transaction_and_a_reused_name_is_refused() -> None:
    async def scenario() -> None:
        service, agent = transfer_service()
        agent.stream = [
            response(acknowledgement=tpb.Acknowledgement(accepted=True)),
            response(completion=COMMITTED),
        ]
        chat = Conversation(service)
        done = await chat.run(
            "MynaEdge.IdentityVerifiedTransfer", TRANSFER | {"transactionId": "T-1"}
        )
        assert done["payload"]["transactionId"] == "T-1"
        sent = agent.requests[0]
        assert isinstance(sent, tpb.ExecuteRequest)
        assert sent.request_id == "T-1"
        agent.stream = [
            response(acknowledgement=tpb.Acknowledgement(
                refusal=tpb.REFUSAL_REASON_DUPLICATE_REQUEST_ID
            ))
        ]  # fmt: skip
        again = await chat.run(
            "MynaEdge.IdentityVerifiedTransfer", TRANSFER | {"transactionId": "T-1"}
        )
        assert code(again) == "invalidData"
        assert "(transactionId)" in again["header"]["errorDescription"]
        spaced = await chat.run(
            "MynaEdge.IdentityVerifiedTransfer", TRANSFER | {"transactionId": "a b"}
        )
        assert code(spaced) == "invalidData"  # the agent's request id rule, in the schema

    run(scenario)


def test_get_transfer_outcome_reports_where_a_transfer_is() -> None:
    async def scenario() -> None:
        service, agent = transfer_service()
        chat = Conversation(service)
        unknown = await chat.run("MynaEdge.GetTransferOutcome", {"transactionId": "T-9"})
        assert unknown["payload"] == {
            "transactionId": "T-9", "state": "unknown", "awaitingCashAnswer": False,
        }  # fmt: skip
        agent.outcome = tpb.GetCommandOutcomeResponse(
            request_id="T-9", state=tpb.COMMAND_STATE_JOURNALED, completion=COMMITTED,
            awaiting_recovery=True,
        )  # fmt: skip
        known = (await chat.run("MynaEdge.GetTransferOutcome", {"transactionId": "T-9"}))["payload"]
        assert known["state"] == "journaled"
        assert known["awaitingCashAnswer"] is True
        assert known["outcome"]["completionCode"] == "success"
        assert known["outcome"]["transfer"]["state"] == "committed"
        assert ("outcome", "T-9") in agent.requests

    run(scenario)


def test_attach_transfer_follows_a_running_transfer_again() -> None:
    async def scenario() -> None:
        service, agent = transfer_service()
        chat = Conversation(service)
        missing = await chat.run("MynaEdge.AttachTransfer", {"transactionId": "T-2"})
        assert code(missing) == "invalidData"
        agent.outcome = tpb.GetCommandOutcomeResponse(state=tpb.COMMAND_STATE_RUNNING)
        working = tpb.FlowEvent(working=tpb.WorkingEvent(step="authorising"))
        agent.stream = [
            response(acknowledgement=tpb.Acknowledgement(accepted=True)),
            response(event=working),
            response(completion=COMMITTED),
        ]
        rid = await chat.send("MynaEdge.AttachTransfer", {"transactionId": "T-2"})
        done = await chat.completion(rid)
        assert [m["header"]["name"] for m in chat.of(rid)][1:] == [
            "MynaEdge.WorkingEvent", "MynaEdge.AttachTransfer",
        ]  # fmt: skip
        assert done["payload"]["transactionId"] == "T-2"
        assert ("attach", "T-2") in agent.requests
        agent.outcome = tpb.GetCommandOutcomeResponse(
            state=tpb.COMMAND_STATE_JOURNALED, completion=COMMITTED
        )
        journaled = await chat.run("MynaEdge.AttachTransfer", {"transactionId": "T-2"})
        assert journaled["payload"]["state"] == "committed"

    run(scenario)


def test_every_client_is_asked_the_cash_question_and_the_answer_goes_to_the_agent() -> None:
    async def scenario() -> None:
        service, agent = transfer_service()
        agent.questions = [tpb.RecoveryPrompt(
            recovery_id="r1", request_id="T-3", authorization_id="a3", amount_yen=250_000,
            payee_name="ヤマダ　ハナコ",
        )]  # fmt: skip
        chat = Conversation(service)
        await service.client_joined(chat.session)
        await chat.wait_for(chat.unsolicited)
        question = next(m for m in chat.sent if m["header"]["type"] == "unsolicited")
        assert question["header"]["name"] == "MynaEdge.CashQuestionEvent"
        assert question["payload"] == {
            "recoveryId": "r1", "transactionId": "T-3", "authorizationId": "a3",
            "amountYen": 250_000, "payeeName": "ヤマダ　ハナコ",
        }  # fmt: skip
        answer = {"recoveryId": "r1", "cashMoved": True}
        assert (await chat.run("MynaEdge.AnswerCashQuestion", answer))["payload"] == {
            "accepted": True
        }
        stale = {"recoveryId": "r0", "cashMoved": False}
        assert (await chat.run("MynaEdge.AnswerCashQuestion", stale))["payload"] == {
            "accepted": False
        }
        assert agent.answers == [("r1", True), ("r0", False)]
        await service.client_left(chat.session)
        assert service._watchers == {}

    run(scenario)


def test_the_cli_refuses_a_public_address_before_serving(
    capsys: pytest.CaptureFixture[str],
) -> None:
    parser = argparse.ArgumentParser()
    add_parser(parser.add_subparsers())
    args = parser.parse_args(["xfs4iot", "--agent", "127.0.0.1:1", "--host", "0.0.0.0"])
    assert run_xfs4iot(args) == 2
    assert "not a loopback address" in capsys.readouterr().err
    args = parser.parse_args(["xfs4iot", "--agent", "10.0.0.1:1"])
    assert run_xfs4iot(args) == 2


def self_signed(folder: Path) -> tuple[Path, Path, ssl.SSLContext]:
    """A certificate for 127.0.0.1 and a client context trusting it."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "xfs4iot test")])
    now = dt.datetime.now(dt.UTC)
    loopback = x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))])
    builder = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name)
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=1))
        .not_valid_after(now + dt.timedelta(hours=1))
        .add_extension(loopback, critical=False)
    )  # fmt: skip
    cert = builder.sign(key, hashes.SHA256())
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )  # fmt: skip
    client = ssl.create_default_context(cafile=str(cert_path))
    return cert_path, key_path, client


def test_with_tls_the_services_are_wss(tmp_path: Path) -> None:
    cert, key, client_tls = self_signed(tmp_path)

    async def scenario() -> None:
        config = Xfs4IotConfig(
            agent="unix:/nonexistent/agent.sock", port=0, tls_cert=cert, tls_key=key
        )
        async with Xfs4IotServer(config) as server:
            assert server.url.startswith("wss://127.0.0.1:")
            async with connect(server.url, ssl=client_tls, open_timeout=5) as ws:
                header = {"name": "ServicePublisher.GetServices", "requestId": 1, "type": "command"}
                await ws.send(json.dumps({"header": header}))
                messages = [json.loads(await asyncio.wait_for(ws.recv(), 5)) for _ in range(3)]
                uris = messages[-1]["payload"]["services"]
                assert all(u["serviceURI"].startswith("wss://") for u in uris)
            with pytest.raises(InvalidMessage):  # a plain client gets no WebSocket
                await connect(server.url.replace("wss://", "ws://"), open_timeout=5)

    run(scenario)
