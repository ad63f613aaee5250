# SPDX-License-Identifier: Apache-2.0
"""An XFS4IoT application against the front end, on the real stack.

The client here is written from the XFS4IoT message shapes (2024-3
header: name, requestId, type, version, timeout / status / completionCode)
with plain ``websockets`` and ``json``: it imports nothing of
``host.xfs4iot``. Every message the server sends is validated twice:
against the published JSON schemas read straight from their files (what an
integrator gets), and against ``RELEASE_2024_3`` below, the release's own
shapes for the standard messages written here from the XFS4IoT 2024-3
specification's message definitions (as KAL's open-source SP-Dev framework
generates them), not from our schemas, with no extra members allowed: a
field the release does not define, a wrong enum value or a wrong version
fails the test. CEN's machine-readable schema files are not available
offline here, so this is a transcription of the release, not CEN's file
itself (docs/xfs4iot.md says so). The front end runs as
its own process (``myna-edge xfs4iot``) in front of the real agent
(``host.agent.Agent``: the virtual card over ``sim://``, the controller
firmware under the MicroPython unix port, the ESC/POS printer emulator on
a pty, the real verifier over mTLS).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import re
import sys
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import websockets
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012
from websockets.asyncio.client import ClientConnection, connect

from host.agent import Agent
from host.agent.config import AgentConfig
from host.api import Profile
from host.peripherals import BoardKey, Controller
from hw_sim.card import get_profile, open_card
from hw_sim.devices import SimController, SimPrinter
from hw_sim.home import sim_home
from hw_sim.pki import open_mobile_pki
from tests.flows_support import client_config
from tests.integration.controller_support import running_sim
from tests.verifier_support import ServerThread, VerifierEnv, make_env

SCHEMAS = Path(__file__).resolve().parents[2] / "host" / "xfs4iot" / "schemas"
JPKI_AID = bytes.fromhex("D392F000260100000001")
SELECT_JPKI = bytes.fromhex("00A4040C0A") + JPKI_AID
SELECT_AUTH_PIN_EF = bytes.fromhex("00A4020C020018")
SW_OK = base64.b64encode(b"\x90\x00").decode()


B64 = {
    "type": "string",
    "pattern": "^([A-Za-z0-9+/]{4})*([A-Za-z0-9+/]{4}|[A-Za-z0-9+/]{2}([A-Za-z0-9+/]|=)=)$",
}
DEVICE = {"enum": [
    "online", "offline", "powerOff", "noDevice", "hardwareError", "userError", "deviceBusy",
    "fraudAttempt", "potentialFraud", "starting",
]}  # fmt: skip
CHIP_PROTOCOLS = (
    "chipT0", "chipT1", "chipProtocolNotRequired", "chipTypeAPart3", "chipTypeAPart4",
    "chipTypeB", "chipTypeNFC",
)  # fmt: skip
CHIP_PROTOCOL = {"enum": list(CHIP_PROTOCOLS)}
CARD_DATA = {
    "type": "object", "additionalProperties": False,
    "properties": {"status": {"enum": [
        "ok", "dataMissing", "dataInvalid", "dataTooLong", "dataTooShort",
        "dataSourceNotSupported", "dataSourceMissing",
    ]}, "data": B64},
}  # fmt: skip
VERSIONS = {"type": "object", "additionalProperties": {
    "type": "object", "required": ["versions"],
    "properties": {"versions": {"type": "array", "items": {"pattern": "^[0-9]+\\.[0-9]+$"}}},
}}  # fmt: skip
EMPTY = {"type": "object", "maxProperties": 0}
BOOLEAN = {"type": "boolean"}


def closed(properties: dict[str, Any], *required: str) -> dict[str, Any]:
    return {
        "type": "object", "properties": properties, "additionalProperties": False,
        "required": list(required),
    }  # fmt: skip


SERVICE = closed({"serviceURI": {"type": "string"}}, "serviceURI")
SERVICES = closed(
    {"vendorName": {"type": "string"}, "services": {"type": "array", "items": SERVICE}}
)
CARD_READER_STATUS = closed({
    "media": {"enum": ["unknown", "present", "notPresent", "jammed", "entering", "latched"]},
    "security": {"enum": ["notReady", "open"]},
    "chipPower": {"enum": [
        "unknown", "online", "busy", "poweredOff", "noDevice", "hardwareError", "noCard",
    ]},
    "chipModule": {"enum": ["ok", "inoperable", "unknown"]},
})  # fmt: skip
STATUS = closed({
    "common": closed({"device": DEVICE}, "device"), "cardReader": CARD_READER_STATUS,
    "keyboard": {"type": "object"}, "printer": {"type": "object"},
    # a vendor interface's own section, named after the interface (docs/xfs4iot.md)
    "mynaEdge": {"type": "object"},
}, "common")  # fmt: skip

#: The XFS4IoT 2024-3 shapes of the standard messages this test receives:
#: (name, type) -> (message version, payload schema).
RELEASE_2024_3: dict[tuple[str, str], tuple[str, dict[str, Any]]] = {
    ("ServicePublisher.GetServices", "completion"): ("2.0", SERVICES),
    ("ServicePublisher.ServiceDetailEvent", "event"): ("2.0", SERVICES),
    ("Common.Status", "completion"): ("3.0", STATUS),
    ("Common.StatusChangedEvent", "unsolicited"): ("3.0", STATUS | {"required": []}),
    ("Common.Capabilities", "completion"): ("3.0", closed({
        "interfaces": {"type": "array", "items": closed({
            "name": {"enum": [
                "Common", "CardReader", "CashAcceptor", "CashDispenser", "CashManagement",
                "Check", "Crypto", "Keyboard", "KeyManagement", "Lights", "Printer", "PinPad",
                "Storage", "TextTerminal", "VendorApplication", "VendorMode", "BarcodeReader",
                "Biometric", "Camera", "Auxiliaries", "Deposit", "German", "MixedMedia",
                "ServicePublisher", "Banknote Neutralization", "PowerManagement",
                # a vendor-specific interface (the spec reserves no name for it)
                "MynaEdge",
            ]},
            "commands": VERSIONS, "events": VERSIONS, "maximumRequests": {"type": "integer"},
            "authenticationRequired": {"type": "array"},
        }, "name")},
        "common": {"type": "object"},
        "cardReader": closed({
            "type": {"enum": [
                "motor", "swipe", "dip", "latchedDip", "contactless", "intelligentContactless",
                "permanent",
            ]},
            "readTracks": {"type": "object", "additionalProperties": {"type": "boolean"}},
            "chipProtocols": closed(dict.fromkeys(CHIP_PROTOCOLS, BOOLEAN)),
            "chipPower": closed(dict.fromkeys(("cold", "warm", "off"), BOOLEAN)),
            "cardTakenSensor": {"type": "boolean"},
        }),
        "keyboard": {"type": "object"}, "pinPad": {"type": "object"},
        "printer": {"type": "object"}, "mynaEdge": {"type": "object"},
    }, "interfaces")),
    ("Common.Cancel", "completion"): (
        "2.0", closed({"errorCode": {"enum": ["noMatchingRequestIDs"]}}),
    ),
    ("CardReader.InsertCardEvent", "event"): ("2.0", EMPTY),
    ("CardReader.MediaInsertedEvent", "event"): ("2.0", EMPTY),
    ("CardReader.MediaRemovedEvent", "unsolicited"): ("2.0", EMPTY),
    ("CardReader.ReadRawData", "completion"): ("3.0", closed({
        "errorCode": {"enum": [
            "mediaJam", "shutterFail", "noMedia", "invalidMedia", "cardTooShort", "cardTooLong",
            "securityFail", "cardCollision",
        ]},
        **dict.fromkeys((
            "track1", "track2", "track3", "watermark", "track1Front", "track1JIS", "track3JIS",
            "ddi",
        ), CARD_DATA),
        "chip": {"type": "array", "items": CARD_DATA},
    })),
    ("CardReader.ChipIO", "completion"): ("3.0", closed({
        "errorCode": {"enum": [
            "mediaJam", "noMedia", "invalidMedia", "invalidData", "protocolNotSupported",
            "atrNotObtained", "cardCollision",
        ]},
        "chipProtocol": CHIP_PROTOCOL, "chipData": B64,
    })),
    ("CardReader.ChipPower", "completion"): ("3.0", closed({
        "errorCode": {"enum": [
            "chipPowerNotSupported", "mediaJam", "noMedia", "invalidMedia", "invalidData",
            "atrNotObtained", "cardCollision",
        ]},
        "chipData": B64,
    })),
    ("Keyboard.PinEntry", "completion"): ("2.0", closed({
        "errorCode": {"enum": [
            "keyInvalid", "keyNotSupported", "noActivekeys", "noTerminatekeys", "minimumLength",
            "tooManyFrames", "partialFrame", "entryTimeout",
        ]},
        "digits": {"type": "integer", "minimum": 0},
        "completion": {"enum": [
            "auto", "enter", "cancel", "continue", "clear", "backspace", "fdk", "help",
            "fk", "contFdk",
        ]},
    })),
    ("PinPad.PresentIDC", "completion"): ("3.0", closed({
        "errorCode": {"enum": ["accessDenied", "noPin", "protocolNotSupported", "invalidData"]},
        "chipProtocol": {"type": "string"}, "chipData": B64,
    })),
    ("Printer.PrintRaw", "completion"): ("3.0", closed({
        "errorCode": {"type": "string"}, "data": B64,
    })),
}  # fmt: skip
HEADER_2024_3 = {
    "type": "object",
    "properties": {
        "name": {"type": "string", "pattern": "^[A-Za-z]+\\.[A-Za-z]+$"},
        "requestId": {"type": "integer", "minimum": 0},
        "type": {"enum": ["command", "acknowledge", "event", "completion", "unsolicited"]},
        "version": {"type": "string", "pattern": "^[0-9]+\\.[0-9]+$"},
        "timeout": {"type": "integer", "minimum": 0},
        "status": {"enum": ["invalidMessage", "invalidRequestID", "tooManyRequests"]},
        "completionCode": {"enum": [
            "success", "commandErrorCode", "canceled", "deviceNotReady", "hardwareError",
            "internalError", "invalidCommand", "invalidRequestID", "timeOut",
            "unsupportedCommand", "invalidData", "userError", "unsupportedData",
            "fraudAttempt", "sequenceError", "authorisationRequired", "noCommandNonce",
            "invalidToken", "invalidTokenNonce", "invalidTokenHMAC", "invalidTokenFormat",
            "invalidTokenKeyNoValue", "notEnoughSpace",
        ]},
        "errorDescription": {"type": "string"},
    },
    "additionalProperties": False,
    "required": ["name", "type", "version"],
}  # fmt: skip


def release_errors(message: dict[str, Any]) -> list[str]:
    """Where a received message differs from the XFS4IoT 2024-3 shapes (standard messages)."""
    header = message["header"]
    found = [e.message for e in Draft202012Validator(HEADER_2024_3).iter_errors(header)]
    kind, name = header["type"], header["name"]
    needs = {"acknowledge": {"requestId"}, "event": {"requestId"},
             "completion": {"requestId", "completionCode"}}.get(kind, set())  # fmt: skip
    found += [f"{kind} without {k}" for k in needs - set(header)]
    if kind == "unsolicited" and "requestId" in header:
        found.append("an unsolicited event with a requestId")
    if kind == "acknowledge" or name.startswith("MynaEdge."):
        return found  # the vendor interface has no release shape: the published schema only
    if "payload" not in message:
        return found if kind == "completion" else [*found, f"{name} {kind} without payload"]
    shape = RELEASE_2024_3.get((name, kind))
    if shape is None:
        return [*found, f"{name} {kind} is not covered by this test's release shapes"]
    version, schema = shape
    if header["version"] != version:
        found.append(f"{name} {kind} is version {header['version']}, the release says {version}")
    found += [e.message for e in Draft202012Validator(schema).iter_errors(message["payload"])]
    return found


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


class Schemas:
    """The published schema files, read as any integrator would."""

    def __init__(self) -> None:
        self.docs = {p.name: json.loads(p.read_text("utf-8")) for p in SCHEMAS.glob("*.json")}
        registry: Registry[Any] = Registry().with_resources(
            (doc["$id"], Resource.from_contents(doc, default_specification=DRAFT202012))
            for doc in self.docs.values()
        )
        self.base = self.docs["header.json"]["$id"].rsplit("/", 1)[0] + "/"
        self.registry = registry

    def errors(self, message: dict[str, Any]) -> list[str]:
        kind = message["header"]["type"]
        envelope = Draft202012Validator(
            {"$ref": f"{self.base}header.json#/$defs/{kind}"}, registry=self.registry
        )
        found = [e.message for e in envelope.iter_errors(message)]
        if kind == "acknowledge" or found:
            return found
        interface, name = message["header"]["name"].split(".", 1)
        key = f"{name}.{kind}"
        doc = self.docs.get(interface.lower() + ".json", {})
        if key not in doc.get("$defs", {}):
            # docs/xfs4iot.md: a command the service does not know completes with no payload
            unknown_ok = kind == "completion" and "payload" not in message
            return [] if unknown_ok else [f"no schema for {interface}.{key}"]
        payload = Draft202012Validator(
            {"$ref": f"{doc['$id']}#/$defs/{key}"}, registry=self.registry
        )
        return [e.message for e in payload.iter_errors(message.get("payload", {}))]


@dataclass
class Reply:
    ack: dict[str, Any]
    events: list[dict[str, Any]] = field(default_factory=list)
    completion: dict[str, Any] | None = None

    @property
    def code(self) -> str:
        assert self.completion is not None
        return str(self.completion["header"]["completionCode"])

    @property
    def description(self) -> str:
        assert self.completion is not None
        return str(self.completion["header"].get("errorDescription", ""))

    @property
    def payload(self) -> dict[str, Any]:
        assert self.completion is not None
        return dict(self.completion.get("payload", {}))

    def event_names(self) -> list[str]:
        return [e["header"]["name"] for e in self.events]


class XfsClient:
    """An XFS4IoT client on one service connection; checks every message it receives."""

    def __init__(self, ws: ClientConnection, schemas: Schemas) -> None:
        self.ws, self.schemas = ws, schemas
        self.raw: list[str] = []
        self.unsolicited: list[dict[str, Any]] = []
        self._ids = iter(range(1, 1_000_000))
        self._pending: dict[int, asyncio.Queue[dict[str, Any]]] = {}
        self._reader = asyncio.ensure_future(self._read())

    async def _read(self) -> None:
        async for text in self.ws:
            assert isinstance(text, str)
            self.raw.append(text)
            message = json.loads(text)
            assert self.schemas.errors(message) == [], (message, self.schemas.errors(message))
            assert release_errors(message) == [], (message, release_errors(message))
            header = message["header"]
            if header["type"] == "unsolicited":
                self.unsolicited.append(message)
            else:
                self._pending.setdefault(header["requestId"], asyncio.Queue()).put_nowait(message)

    async def next_unsolicited(self, name: str, timeout: float) -> dict[str, Any]:
        """The first unsolicited event called ``name`` (already received or the next)."""
        async with asyncio.timeout(timeout):
            while True:
                found = [m for m in self.unsolicited if m["header"]["name"] == name]
                if found:
                    return found[0]
                if self._reader.done():
                    raise AssertionError(f"the connection ended before {name}")
                await asyncio.sleep(0.05)

    def next_id(self) -> int:
        return next(self._ids)

    async def send_raw(self, data: str) -> None:
        await self.ws.send(data)

    async def next_message(self, request_id: int, timeout: float = 30) -> dict[str, Any]:
        queue = self._pending.setdefault(request_id, asyncio.Queue())
        getting = asyncio.ensure_future(queue.get())
        done, _ = await asyncio.wait(
            {getting, self._reader}, timeout=timeout, return_when="FIRST_COMPLETED"
        )
        if getting in done:
            return getting.result()
        getting.cancel()
        if self._reader in done and self._reader.exception() is not None:
            raise self._reader.exception()  # type: ignore[misc]  # a message broke its schema
        raise TimeoutError(f"no message for request {request_id} in {timeout} s")

    async def start(
        self, name: str, payload: dict[str, Any] | None = None, *, timeout_ms: int = 0,
        request_id: int | None = None,
    ) -> tuple[int, dict[str, Any]]:  # fmt: skip
        rid = request_id or self.next_id()
        header = {"name": name, "requestId": rid, "type": "command", "version": "2.0"}
        if timeout_ms:
            header["timeout"] = timeout_ms
        await self.ws.send(json.dumps({"header": header, "payload": payload or {}}))
        return rid, await self.next_message(rid)

    async def finish(
        self, rid: int, ack: dict[str, Any], on_event: Callable[[dict[str, Any]], Any] | None = None
    ) -> Reply:
        reply = Reply(ack)
        while True:
            message = await self.next_message(rid, timeout=60)
            if message["header"]["type"] == "event":
                reply.events.append(message)
                if on_event is not None:
                    result = on_event(message)
                    if asyncio.iscoroutine(result):
                        await result
                continue
            assert message["header"]["type"] == "completion", message
            reply.completion = message
            return reply

    async def run(
        self, name: str, payload: dict[str, Any] | None = None, *, timeout_ms: int = 0,
        on_event: Callable[[dict[str, Any]], Any] | None = None,
    ) -> Reply:  # fmt: skip
        rid, ack = await self.start(name, payload, timeout_ms=timeout_ms)
        assert ack["header"]["type"] == "acknowledge", ack
        assert "status" not in ack["header"], ack
        return await self.finish(rid, ack, on_event)

    async def close(self) -> None:
        await self.ws.close()
        self._reader.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await self._reader


@contextlib.asynccontextmanager
async def client(uri: str, schemas: Schemas) -> AsyncIterator[XfsClient]:
    ws = await connect(uri, open_timeout=10)
    xfs = XfsClient(ws, schemas)
    try:
        yield xfs
    finally:
        await xfs.close()


@dataclass
class Stack:
    publisher: str
    board: SimController | None
    printer: SimPrinter | None


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> VerifierEnv:
    made = make_env(tmp_path_factory.mktemp("xfs4iot"))
    # The iPhone rows: the verifier trusts the phones' own CAs (trust/mobile).
    for profile in ("iphone-default", "iphone-declined"):
        with open_card(profile, persist=False):
            pass  # issues the phone's certificates
    open_mobile_pki(sim_home() / "pki").export_public(made.trust / "mobile")
    return made


@pytest.fixture(scope="module")
def verifier(env: VerifierEnv) -> Iterator[ServerThread]:
    thread = ServerThread(env.config())
    thread.start()
    yield thread
    thread.stop()


@pytest.fixture(scope="module")
def schemas() -> Schemas:
    return Schemas()


async def start_front_end(agent_address: str) -> tuple[asyncio.subprocess.Process, str]:
    """``myna-edge xfs4iot`` as its own process; returns it and the publisher URI."""
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "myna_edge", "xfs4iot", "--agent", agent_address, "--port", "0",
        stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    assert process.stdout is not None
    try:
        line = (await asyncio.wait_for(process.stdout.readline(), 60)).decode()
    except BaseException:
        process.kill()
        await process.wait()
        raise
    found = re.search(r"ws://127\.0\.0\.1:\d+/xfs4iot/v1\.0", line)
    assert found, line
    return process, found.group(0)


async def stop_process(process: asyncio.subprocess.Process) -> None:
    if process.returncode is None:
        process.terminate()
        try:
            await asyncio.wait_for(process.wait(), 10)
        except TimeoutError:
            process.kill()
            await process.wait()


@contextlib.asynccontextmanager
async def atm_stack(
    env: VerifierEnv,
    verifier: ServerThread,
    tmp_path: Path,
    *,
    devices: bool,
    card: str = "default",
) -> AsyncIterator[Stack]:
    with contextlib.ExitStack() as stack:
        board = printer = None
        extra: dict[str, Any] = {}
        if devices:
            key = BoardKey.generate()
            board = stack.enter_context(running_sim())
            printer = stack.enter_context(SimPrinter())
            with Controller(board.url, key=key) as commissioning:
                commissioning.inject_key(key)
            extra = {"printer": printer.url, "controller": board.url,
                     "controller_key": key.material()}  # fmt: skip
        config = AgentConfig(
            profile=Profile.ATM, terminal_id="atm-01", reader=f"sim://{card}?persist=0",
            listen="127.0.0.1:0", journal=tmp_path / "journal.sqlite", electronic_journal=None,
            verifier=client_config(env, verifier), **extra,
        )  # fmt: skip
        agent = Agent(config)
        address = await agent.start()
        try:
            process, publisher = await start_front_end(address)
            try:
                yield Stack(publisher, board, printer)
            finally:
                await stop_process(process)
        finally:
            await agent.stop()


def typing_on_pad(board: SimController, prompt: str, value: str) -> threading.Thread:
    """The customer: waits for the pad's prompt, then types (a PIN or, multi-tap, a password)."""
    mark = board.display_mark()

    def run() -> None:
        board.wait_display(0, prompt, timeout=30.0, since=mark)
        if prompt == "ENTER PIN":
            board.enter_pin(value)
        else:
            board.enter_password(value)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


async def discover(publisher: str, schemas: Schemas) -> dict[str, str]:
    async with client(publisher, schemas) as pub:
        reply = await pub.run("ServicePublisher.GetServices")
    assert reply.code == "success"
    assert reply.event_names() == ["ServicePublisher.ServiceDetailEvent"]
    uris = [s["serviceURI"] for s in reply.payload["services"]]
    return {uri.rsplit("/", 1)[1]: uri for uri in uris}


def transfer_payload(amount: int = 250_000) -> dict[str, Any]:
    return {
        "amountYen": amount, "payeeBankCode": "0001", "payeeBranchCode": "123",
        "payeeAccountType": "ordinary", "payeeAccountNumber": "1234567",
        "payeeName": "ヤマダ　ハナコ", "remitterName": "ヤマダ　タロウ",
        "remitterPhone": "03-1234-5678",
    }  # fmt: skip


def test_atm_application_drives_card_pad_printer_and_transfer(
    env: VerifierEnv, verifier: ServerThread, schemas: Schemas, tmp_path: Path
) -> None:
    card = get_profile("default")

    async def scenario() -> None:
        async with atm_stack(env, verifier, tmp_path, devices=True) as st:
            assert st.board is not None
            assert st.printer is not None
            services = await discover(st.publisher, schemas)
            assert set(services) == {"CardReader", "PinPad", "Printer", "MynaEdge"}
            async with (
                client(services["CardReader"], schemas) as reader,
                client(services["PinPad"], schemas) as pad,
                client(services["Printer"], schemas) as paper,
                client(services["MynaEdge"], schemas) as atm,
            ):
                caps = await reader.run("Common.Capabilities")
                assert caps.payload["cardReader"]["type"] == "contactless"
                assert caps.payload["cardReader"]["chipProtocols"]["chipTypeB"] is True
                names = {i["name"] for i in caps.payload["interfaces"]}
                assert names == {"Common", "CardReader"}
                status = await pad.run("Common.Status")
                assert status.payload["common"]["device"] == "online"

                # the card's raw chip data (its ATR), after it answered in the field
                raw = await reader.run("CardReader.ReadRawData", {"chip": True, "track2": True})
                assert raw.code == "success"
                assert "CardReader.MediaInsertedEvent" in raw.event_names()
                assert base64.b64decode(raw.payload["chip"][0]["data"])
                assert raw.payload["track2"]["status"] == "dataSourceNotSupported"

                async def chip(apdu: bytes, protocol: str = "chipTypeB") -> Reply:
                    return await reader.run(
                        "CardReader.ChipIO", {"chipProtocol": protocol, "chipData": b64(apdu)}
                    )

                selected = await chip(SELECT_JPKI)
                assert selected.payload == {"chipProtocol": "chipTypeB", "chipData": SW_OK}
                # a PIN may not travel through the application: VERIFY with data is refused
                refused = await chip(bytes.fromhex("0020008004") + card.auth_pin.encode())
                assert refused.code == "unsupportedData"
                assert (await chip(SELECT_AUTH_PIN_EF, "chipTypeAPart4")).payload[
                    "chipData"
                ] == SW_OK

                # secure PIN entry: the application learns the digit count only
                typist = typing_on_pad(st.board, "ENTER PIN", card.auth_pin)
                entry = await pad.run(
                    "Keyboard.PinEntry", {"minLen": 4, "maxLen": 4, "autoEnd": True}
                )
                typist.join(timeout=10)
                assert entry.code == "success"
                assert entry.payload == {"digits": 4, "completion": "enter"}
                present = {
                    "presentAlgorithm": "presentClear", "chipProtocol": "chipTypeB",
                    "chipData": b64(bytes.fromhex("00200080")),
                    "algorithmData": {"pinPointer": 5, "pinOffset": 0},
                }  # fmt: skip
                verified = await pad.run("PinPad.PresentIDC", present)
                assert verified.payload["chipData"] == SW_OK  # the card accepted the PIN
                again = await pad.run("PinPad.PresentIDC", present)  # used once, then wiped
                assert again.code == "commandErrorCode"
                assert again.payload == {"errorCode": "noPin"}
                assert (await reader.run("CardReader.ChipPower", {"chipPower": "off"})).code == (
                    "success"
                )

                # raw ESC/POS to the receipt printer
                escpos = b"XFS4IOT RAW RECEIPT\n" + bytes.fromhex("1B6403 1D5600")
                printed = await paper.run(
                    "Printer.PrintRaw", {"inputData": "no", "data": b64(escpos)}
                )
                assert printed.code == "success"
                receipts = await asyncio.to_thread(st.printer.wait_receipts, 1, 10.0)
                assert "XFS4IOT RAW RECEIPT" in receipts[-1].text()

                # cancel one command: a PIN entry nobody types
                rid, ack = await pad.start("Keyboard.PinEntry", {"minLen": 4, "maxLen": 4})
                assert "status" not in ack["header"]
                await asyncio.sleep(0.5)
                cancel = await pad.run("Common.Cancel", {"requestIds": [rid]})
                assert cancel.code == "success"
                assert (await pad.finish(rid, ack)).code == "canceled"

                # the vendor transfer: the password typed on the pad, prompts answered by id
                typist = typing_on_pad(st.board, "ENTER PASSWORD", card.sign_password)
                prompts: list[str] = []

                async def answer(message: dict[str, Any]) -> None:
                    payload = message["payload"]
                    if message["header"]["name"] == "MynaEdge.PromptEvent":
                        prompts.append(payload["prompt"])
                        if payload["answerable"]:
                            answered = await atm.run("MynaEdge.AnswerPrompt", {
                                "transferRequestId": message["header"]["requestId"],
                                "promptId": payload["promptId"], "confirmed": True,
                            })  # fmt: skip
                            assert answered.payload == {"accepted": True}

                done = await atm.run(
                    "MynaEdge.IdentityVerifiedTransfer", transfer_payload(), on_event=answer
                )
                typist.join(timeout=10)
                assert done.code == "success", done.description
                assert done.payload["state"] == "committed"
                assert done.payload["identityVerified"] is True
                assert "confirmStatement" in prompts
                assert "signingPassword" in prompts
            every = reader.raw + pad.raw + paper.raw + atm.raw
            for secret in (card.auth_pin, card.sign_password):
                assert all(f'"{secret}"' not in text for text in every)

    asyncio.run(scenario())


def test_an_application_that_drops_at_the_cash_question_answers_it_after_reconnecting(
    env: VerifierEnv, verifier: ServerThread, schemas: Schemas, tmp_path: Path
) -> None:
    """Issue 23 part 1 through XFS4IoT: the agent never decides the cash question itself."""
    card = get_profile("default")

    async def scenario() -> None:
        async with atm_stack(env, verifier, tmp_path, devices=True) as st:
            assert st.board is not None
            services = await discover(st.publisher, schemas)
            typist = typing_on_pad(st.board, "ENTER PASSWORD", card.sign_password)
            async with client(services["MynaEdge"], schemas) as atm:
                payload = transfer_payload() | {"transactionId": "ATM-0001-CASH"}
                rid, ack = await atm.start("MynaEdge.IdentityVerifiedTransfer", payload)
                assert "status" not in ack["header"]
                while True:  # answer the statement; stop at "did the cash move?"
                    message = await atm.next_message(rid, timeout=60)
                    assert message["header"]["type"] == "event", message
                    event = message["payload"]
                    if message["header"]["name"] != "MynaEdge.PromptEvent":
                        continue
                    if event["prompt"] == "confirmMoneyMoved":
                        break
                    if event["answerable"]:
                        answered = await atm.run("MynaEdge.AnswerPrompt", {
                            "transferRequestId": rid, "promptId": event["promptId"],
                            "confirmed": True,
                        })  # fmt: skip
                        assert answered.payload == {"accepted": True}
                # the application's record says the cash moved; then it crashes (drops)
            typist.join(timeout=10)
            async with client(services["MynaEdge"], schemas) as again:
                question = await again.next_unsolicited("MynaEdge.CashQuestionEvent", 60)
                assert question["payload"]["transactionId"] == "ATM-0001-CASH"
                assert question["payload"]["amountYen"] == 250_000
                waiting = await again.run(
                    "MynaEdge.GetTransferOutcome", {"transactionId": "ATM-0001-CASH"}
                )
                assert waiting.payload["awaitingCashAnswer"] is True  # undecided, not reversed
                answer = {"recoveryId": question["payload"]["recoveryId"], "cashMoved": True}
                answered = await again.run("MynaEdge.AnswerCashQuestion", answer)
                assert answered.payload == {"accepted": True}
                for _ in range(100):
                    outcome = await again.run(
                        "MynaEdge.GetTransferOutcome", {"transactionId": "ATM-0001-CASH"}
                    )
                    if outcome.payload["state"] in ("completed", "journaled"):
                        break
                    await asyncio.sleep(0.1)
                assert outcome.payload["awaitingCashAnswer"] is False
                assert outcome.payload["outcome"]["transfer"]["state"] == "committed"
                assert outcome.payload["outcome"]["transfer"]["identityVerified"] is True

    asyncio.run(scenario())


@pytest.mark.parametrize(
    ("profile", "ending"),
    [("iphone-default", "success"), ("iphone-declined", "canceled")],
)
def test_an_iphone_transfer_shows_the_approval_prompt_and_the_credential_kind(
    env: VerifierEnv,
    verifier: ServerThread,
    schemas: Schemas,
    tmp_path: Path,
    profile: str,
    ending: str,
) -> None:
    """Issue 15 through XFS4IoT: the application learns a phone was presented and shows
    "authenticate on your phone"; nothing is typed on the pad; a decline is a clear ending."""

    async def scenario() -> None:
        async with atm_stack(env, verifier, tmp_path, devices=False, card=profile) as st:
            services = await discover(st.publisher, schemas)
            async with client(services["MynaEdge"], schemas) as atm:
                seen: list[str] = []  # the credential and the prompts, in order
                prompts: list[dict[str, Any]] = []
                credentials: list[dict[str, Any]] = []

                async def answer(message: dict[str, Any]) -> None:
                    name, payload = message["header"]["name"], message["payload"]
                    if name == "MynaEdge.CredentialEvent":
                        credentials.append(payload)
                        seen.append("credential")
                    if name != "MynaEdge.PromptEvent":
                        return
                    prompts.append(payload)
                    seen.append(payload["prompt"])
                    if payload["answerable"]:
                        answered = await atm.run("MynaEdge.AnswerPrompt", {
                            "transferRequestId": message["header"]["requestId"],
                            "promptId": payload["promptId"], "confirmed": True,
                        })  # fmt: skip
                        assert answered.payload == {"accepted": True}

                done = await atm.run(
                    "MynaEdge.IdentityVerifiedTransfer", transfer_payload(), on_event=answer
                )
        assert credentials == [{"kind": "iphone", "userVerification": "onDevice"}]
        kinds = [p["prompt"] for p in prompts]
        # the phone is named before the holder is asked to approve on it
        assert seen.index("credential") < seen.index("approveOnPhone")
        assert "approveOnPhone" in kinds
        assert "signingPassword" not in kinds  # nothing is typed at the ATM
        approve = prompts[kinds.index("approveOnPhone")]
        assert approve["answerable"] is False  # display only: the phone answers
        assert approve["message"]["key"] == "prompt.approve_on_phone"
        assert "スマートフォンで認証" in approve["message"]["ja"]
        assert done.code == ending, done.description
        assert done.payload["credentialKind"] == "iphone"
        if ending == "success":
            assert done.payload["state"] == "committed"
            assert done.payload["identityVerified"] is True
        else:
            assert done.payload["reason"] == "declinedOnPhone"
            assert done.description == "declined_on_phone"
            assert done.payload["message"]["key"] == "result.declined_on_phone"
            assert done.payload["identityVerified"] is False

    asyncio.run(scenario())


def test_malformed_messages_cancel_timeout_and_foreign_origin(
    env: VerifierEnv, verifier: ServerThread, schemas: Schemas, tmp_path: Path
) -> None:
    async def scenario() -> None:
        async with atm_stack(env, verifier, tmp_path, devices=False) as st:
            services = await discover(st.publisher, schemas)
            # a web page on another origin cannot open the service (browsers send Origin)
            with pytest.raises(websockets.InvalidStatus) as refused:
                await connect(services["CardReader"], origin="http://evil.example", open_timeout=10)  # type: ignore[arg-type]
            assert refused.value.response.status_code == 403
            async with client(services["MynaEdge"], schemas) as atm:
                for junk in ("not json", "[1, 2]", '{"header": 5}', "{}"):
                    await atm.send_raw(junk)
                    ack = await atm.next_message(0)
                    assert ack["header"]["status"] == "invalidMessage"
                bad_id = {"name": "Common.Status", "requestId": -4, "type": "command"}
                await atm.send_raw(json.dumps({"header": bad_id}))
                assert (await atm.next_message(0))["header"]["status"] == "invalidRequestID"
                unknown = await atm.run("CardReader.Move", {})
                assert unknown.code == "invalidCommand"
                bad_payload = await atm.run(
                    "MynaEdge.IdentityVerifiedTransfer", {"amountYen": "lots"}
                )
                assert bad_payload.code == "invalidData"
                assert "lots" not in bad_payload.description

                # a transfer waits at the statement prompt: duplicate id, then cancel all
                rid, ack = await atm.start("MynaEdge.IdentityVerifiedTransfer", transfer_payload())
                while (await atm.next_message(rid))["header"]["name"] != "MynaEdge.PromptEvent":
                    pass  # working events first; the statement prompt then waits
                _, duplicate = await atm.start("Common.Status", request_id=rid)
                assert duplicate["header"]["status"] == "invalidRequestID"
                assert (await atm.run("Common.Cancel")).code == "success"
                assert (await atm.finish(rid, ack)).code == "canceled"

                # the header timeout bounds a command: nobody answers the prompt
                timed = await atm.run(
                    "MynaEdge.IdentityVerifiedTransfer", transfer_payload(), timeout_ms=300
                )
                assert timed.code == "timeOut"
                status = await atm.run("Common.Status")
                assert status.code == "success"  # still serving after all of it
            async with client(services["CardReader"], schemas) as reader:
                nothing = await reader.run(
                    "CardReader.ChipIO", {"chipProtocol": "chipT0", "chipData": b64(SELECT_JPKI)}
                )
                assert nothing.payload == {"errorCode": "protocolNotSupported"}
                no_pad = await reader.run("Keyboard.PinEntry", {})
                assert no_pad.code == "invalidCommand"
            async with client(services["PinPad"], schemas) as pad:
                no_device = await pad.run("Keyboard.PinEntry", {"minLen": 4})
                assert no_device.code == "deviceNotReady"
                unsupported = await pad.run("Keyboard.DataEntry", {"maxLen": 4})
                assert unsupported.code == "unsupportedCommand"

    asyncio.run(scenario())
