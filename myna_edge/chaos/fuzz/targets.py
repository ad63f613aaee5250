# SPDX-License-Identifier: Apache-2.0
"""The fuzz harness table: one entry per parser that meets hostile bytes at a boundary.

Why one table: the campaign (``myna_edge.chaos.fuzz``), the libFuzzer worker
(``fuzz.worker``) and the corpus replay test all run exactly the same
harnesses, so a crasher found by a long local run replays in CI as it was
found. A harness takes the fuzzer's bytes and may raise only the parser's
documented typed errors (which it swallows: a clean refusal); anything else
escapes and is a crash. Where a parser owns state, the harness also checks
that a refusal changed nothing and raises ``ChaosInvariantError`` when it did.

The gRPC targets of both services live in ``fuzz.grpc_targets`` (they need servers);
this module holds the sans-I/O parsers: APDU responses at the host (channel,
TLV and the JPKI driver's certificate, basic-four and integrity parsing),
command APDUs at the virtual card, PN532 frames at the emulator, controller
link frames and messages, ESC/POS printer status, both config files, and
the issued document's code and files (``document verify``).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import struct
from collections.abc import Callable, Iterator
from contextlib import ExitStack, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from cryptography.hazmat.primitives.asymmetric import ec

from host.agent.config import load_agent_config
from host.apdu import ResponseApdu, check
from host.api.chip import is_secret_bearing
from host.card import KeyKind, MynaCard, PinKind
from host.card.basic_four import parse_basic_four, parse_my_number
from host.card.detection import fuzz_contactless_atr
from host.card.integrity import parse_integrity_record
from host.card.surface_face import parse_card_face
from host.card.surface_photo import decode_photo
from host.errors import (
    AgentConfigError,
    CardError,
    IntegrityError,
    PeripheralError,
    ProtocolError,
    XfsMessageError,
)
from host.firmware.errors import ImageFormatError, ImageRejectedError, ImageSignatureError
from host.firmware.image import parse_image
from host.firmware.signing import verify_image
from host.gateway import Gateway, GatewayConfig
from host.peripherals import Controller, CounterStore
from host.peripherals import face_matcher as fm
from host.peripherals.cctalk import fuzzing as cctalk_fuzzing
from host.peripherals.escpos import parse_status
from host.peripherals.link import Frame, FrameDecoder, Link, decode_body
from host.peripherals.messages import parse_event, parse_info
from host.peripherals.printer import ReceiptPrinter
from host.printing.states import fuzz_attributes
from host.secret import Secret
from host.tlv import parse_all
from host.transport.base import CardTransport, TransportCapabilities
from host.transport.libnfc import fuzz_type_a_atr
from host.xfs4iot import SchemaBook, parse_command
from host.xfs4iot.service import unb64
from hw_sim.card import open_card
from hw_sim.card.constants import KNOWN_SWS
from hw_sim.card.contactless import fuzz_parse_ats
from hw_sim.card.timing_profile import TimingProfileError, load_profile
from hw_sim.devices.memory_port import MemoryPort
from hw_sim.errors import SlotStateError
from hw_sim.readers.pn532 import Pn532
from hw_sim.readers.pn532_frames import Command, FrameParser
from hw_sim.readers.slot import parse_slot
from municipal.config import load_config as load_municipal_config
from municipal.document import (
    CodeFormatError,
    DocumentError,
    DocumentInputError,
    TrustStore,
    parse_code,
    read_document,
    verify_input,
)
from municipal.errors import MunicipalConfigError
from municipal.registry_file import load_registry
from myna_edge.chaos import ChaosInvariantError
from myna_edge.chaos.fuzz import holder_certificates
from myna_edge.issuance_fuzz import ISSUANCE_METHODS
from myna_edge.issuance_fuzz import grpc_fuzz_target as issuance_grpc_fuzz_target
from myna_edge.municipal_world import MUNICIPAL_METHODS, grpc_fuzz_target
from verifier.config import load_config
from verifier.errors import ConfigError
from verifier.fleet import fuzz_report_status
from verifier.terminal_denylist import TerminalDenyList

__all__ = [
    "CARD_OPERATIONS",
    "DOCUMENT_FUZZ_KEY",
    "PARSER_TARGETS",
    "Harness",
    "ScriptedCardTransport",
    "Target",
    "run_card_operation",
    "split_frames",
]

#: A harness: the fuzzer's bytes in; returns on a clean refusal or success.
Harness = Callable[[bytes], None]

_CARD_PIN: Final = "1234"
_CARD_PASSWORD: Final = "ABCD1234"  # noqa: S105 - the default test card's test password
_DIGEST: Final = hashlib.sha256(b"fuzz").digest()


@dataclass(frozen=True)
class Target:
    """A fuzz target: ``build`` makes its harness, owning its resources in ``stack``."""

    name: str
    boundary: str
    build: Callable[[ExitStack, Path], Harness]


def split_frames(data: bytes) -> Iterator[bytes]:
    """Cut ``data`` into items, each a 2-byte big-endian length then that many bytes."""
    offset = 0
    while offset + 2 <= len(data):
        (size,) = struct.unpack_from(">H", data, offset)
        yield data[offset + 2 : offset + 2 + size]
        offset += 2 + size


# --- APDU responses at the host ---------------------------------------------------


class ScriptedCardTransport(CardTransport):
    """A hostile card: answers each command with the next scripted response."""

    scheme = "fuzz"

    def __init__(self, responses: list[bytes], *, extended: bool) -> None:
        super().__init__("fuzz://card")
        self._responses = responses
        self._extended = extended

    @property
    def atr(self) -> bytes:
        return bytes.fromhex("3BE000FF8131FE4514")

    @property
    def capabilities(self) -> TransportCapabilities:
        if self._extended:
            return TransportCapabilities()
        return TransportCapabilities(extended_length=False, max_response_bytes=263)

    def _open(self) -> None:
        pass

    def _transmit(self, command: bytes) -> bytes:
        # A card that has nothing more to say answers "file not found".
        return self._responses.pop(0) if self._responses else b"\x6a\x82"

    def _close(self) -> None:
        pass


#: Driver operations a fuzzed card is asked for (first input byte, low 3 bits).
CARD_OPERATIONS: Final[tuple[str, ...]] = (
    "card_info", "auth_certificate", "sign_ca_certificate", "token_label",
    "tries_left", "prove", "sign_certificate", "change_pin",
)  # fmt: skip


def run_card_operation(card: MynaCard, operation: str) -> None:
    """Run one driver operation (the seeds record the virtual card doing the same)."""
    pin, password = Secret.from_text(_CARD_PIN), Secret.from_text(_CARD_PASSWORD)
    if operation == "card_info":
        card.read_card_info(pin, include_my_number=True)
    elif operation == "auth_certificate":
        card.read_certificate(KeyKind.AUTH)
    elif operation == "sign_ca_certificate":
        card.read_ca_certificate(KeyKind.SIGN)
    elif operation == "token_label":
        card.token_label()
    elif operation == "tries_left":
        for kind in PinKind:
            card.tries_left(kind)
    elif operation == "prove":
        card.prove(KeyKind.SIGN, _DIGEST, password)
    elif operation == "sign_certificate":
        card.read_certificate(KeyKind.SIGN, password)
    else:
        card.change_pin(PinKind.AUTH, pin, Secret.from_text("4321"))


def _host_card(stack: ExitStack, workdir: Path) -> Harness:
    def harness(data: bytes) -> None:
        if not data:
            return
        operation = CARD_OPERATIONS[data[0] & 0x07]
        transport = ScriptedCardTransport(list(split_frames(data[1:])), extended=data[0] < 0x80)
        with transport.open():
            try:
                run_card_operation(MynaCard(transport), operation)
            except (ProtocolError, CardError, IntegrityError):
                return

    return harness


def _host_apdu(stack: ExitStack, workdir: Path) -> Harness:
    def harness(data: bytes) -> None:
        with suppress(ProtocolError, CardError):
            check(ResponseApdu.parse(data), "FUZZ")
        try:
            items = parse_all(data)
        except ProtocolError:
            return
        pending = list(items)
        while pending:  # walk every constructed item, as the driver does
            item = pending.pop()
            if item.constructed:
                with suppress(ProtocolError):
                    pending.extend(item.children())

    return harness


def _host_card_files(stack: ExitStack, workdir: Path) -> Harness:
    parsers = (parse_basic_four, parse_my_number, parse_integrity_record)

    def harness(data: bytes) -> None:
        if not data:
            return
        parser = parsers[data[0] % len(parsers)]
        try:
            parser(data[1:])
        except ProtocolError:
            return

    return harness


def _host_card_surface(stack: ExitStack, workdir: Path) -> Harness:
    # First byte even: the card face (EF 0002 of the surface AP); odd: the photo (DF27).
    def harness(data: bytes) -> None:
        if not data:
            return
        parser = decode_photo if data[0] & 1 else parse_card_face
        try:
            parser(data[1:])
        except ProtocolError:
            return

    return harness


# --- command APDUs at the virtual card and PN532 frames at the emulator -----------


def _sim_card(stack: ExitStack, workdir: Path) -> Harness:
    with open_card("default", persist=False):
        pass  # build the card image once, outside the executions

    def harness(data: bytes) -> None:
        with open_card("default", persist=False) as card:
            card.power_on()
            for command in split_frames(data):
                before = card.state_snapshot()
                response = card.transmit(command)
                sw = int.from_bytes(response[-2:], "big") if len(response) >= 2 else -1
                if sw not in KNOWN_SWS:
                    raise ChaosInvariantError(f"card answered {command.hex()} with {sw:04X}")
                refused = sw != 0x9000 and sw & 0xFFF0 != 0x63C0
                if refused and (len(response) != 2 or card.state_snapshot() != before):
                    raise ChaosInvariantError(f"refusal {sw:04X} of {command.hex()} changed state")

    return harness


def _sim_pn532(stack: ExitStack, workdir: Path) -> Harness:
    with open_card("default", persist=False):
        pass

    def harness(data: bytes) -> None:
        with open_card("default", persist=False) as card:
            card.power_on()
            chip, parser = Pn532(card), FrameParser()
            for event in parser.feed(data):
                if isinstance(event, Command):
                    answer = chip.handle(event.payload)
                    if answer is not None and not isinstance(answer, bytes):
                        raise ChaosInvariantError("PN532 answered with a non-bytes payload")

    return harness


# --- serial peripherals ---------------------------------------------------------


def _host_link(stack: ExitStack, workdir: Path) -> Harness:
    def harness(data: bytes) -> None:
        with suppress(ValueError):
            decode_body(data)
        frames = FrameDecoder().feed(data)
        link = Link()
        link.receive(data, 0.0)
        link.poll(1.0)
        if any(f is not None and not isinstance(f, Frame) for f in frames):
            raise ChaosInvariantError("FrameDecoder returned something that is not a frame")

    return harness


def _host_messages(stack: ExitStack, workdir: Path) -> Harness:
    def harness(data: bytes) -> None:
        if not data:
            return
        with suppress(ValueError):
            parse_info(data[1:])
        try:
            parse_event(data[0], data[1:])
        except ValueError:
            return

    return harness


def _host_controller(stack: ExitStack, workdir: Path) -> Harness:
    def harness(data: bytes) -> None:
        controller = Controller("loop://", timeout=0.05)
        controller._port = MemoryPort(data)  # type: ignore[assignment]  # the wire is fuzzed
        try:
            controller.pump(0)
        except PeripheralError:
            return

    return harness


def _host_printer_status(stack: ExitStack, workdir: Path) -> Harness:
    def harness(data: bytes) -> None:
        if len(data) >= 2:
            with suppress(ValueError):
                parse_status(data[0], data[1])
        printer = ReceiptPrinter("loop://", timeout=0.001)
        printer._port = MemoryPort(data[2:], (data[:1], data[1:2]))  # type: ignore[assignment]
        try:
            printer.status()
        except PeripheralError:
            return

    return harness


def _host_face_matcher(stack: ExitStack, workdir: Path) -> Harness:
    """Face-matcher frames: the parser, then the driver (IDENTIFY/STATUS) on them."""

    def harness(data: bytes) -> None:
        for got in fm.FrameParser().feed(data):  # refusals are returned, never raised
            if isinstance(got, fm.FmFrame):
                if fm.encode_frame(got.type, got.seq, got.payload) not in data:
                    raise ChaosInvariantError("a face-matcher frame parsed into another")
                with suppress(PeripheralError):
                    fm.parse_result(got.payload)
                with suppress(PeripheralError):
                    fm.parse_identity(got.payload)
        device = fm.FaceMatcher("loop://", timeout=0.0)
        device._port = MemoryPort(b"", (data,))  # type: ignore[assignment]
        ask = device.status if data[:1] == b"\xa5" else device.identify
        try:
            ask()
        except PeripheralError:
            if device._port is None or device.identity is not None:
                raise ChaosInvariantError("a refused answer changed the driver") from None

    return harness


def _sim_reader_slot(stack: ExitStack, workdir: Path) -> Harness:
    def harness(data: bytes) -> None:
        with suppress(SlotStateError):
            state = parse_slot(data)
            if f"{state.profile} {state.insertion}\n".encode() not in (data, data + b"\n"):
                raise ChaosInvariantError("a reader slot file parsed into something else")

    return harness


#: How long the gateway harness waits for an answer: a request the input leaves
#: incomplete (a Content-Length past its end) gets none, as from a real browser.
_GATEWAY_ANSWER_S: Final = 1.0


def _host_gateway_http(stack: ExitStack, workdir: Path) -> Harness:
    # The raw bytes go to a started Gateway (aiohttp) over a loopback socket,
    # with no agent behind it (so nothing a request does can reach one). The
    # seeds name 127.0.0.1:8080; that becomes the gateway's port so they pass
    # the Host/Origin checks and reach the routes and the JSON bounds.
    loop = asyncio.new_event_loop()
    stack.callback(loop.close)
    gateway = Gateway(GatewayConfig(agent=f"unix:{workdir / 'no-agent.sock'}"))
    loop.run_until_complete(gateway.start())
    stack.callback(lambda: loop.run_until_complete(gateway.stop()))
    errors = _ErrorRecords()
    logging.getLogger("host.gateway").addHandler(errors)
    stack.callback(logging.getLogger("host.gateway").removeHandler, errors)
    own = f"127.0.0.1:{gateway.port}".encode()

    async def exchange(data: bytes) -> bytes:
        reader, writer = await asyncio.open_connection("127.0.0.1", gateway.port)
        answer = b""
        try:
            writer.write(data.replace(b"127.0.0.1:8080", own))
            async with asyncio.timeout(_GATEWAY_ANSWER_S):
                while chunk := await reader.read(65536):
                    answer += chunk
        except (TimeoutError, ConnectionError):
            pass
        finally:
            writer.close()
            with suppress(ConnectionError):
                await writer.wait_closed()
        return answer

    def harness(data: bytes) -> None:
        answer = loop.run_until_complete(exchange(data))
        status = answer.split(b" ", 2)[1] if answer.count(b" ") >= 2 else b""
        if answer and (not answer.startswith(b"HTTP/") or not status.isdigit()):
            raise ChaosInvariantError(f"the gateway answered {answer[:40]!r}")
        if status == b"500" or errors.records:
            errors.records.clear()
            raise ChaosInvariantError("a request made the gateway fail (500 or an error logged)")

    return harness


class _ErrorRecords(logging.Handler):
    """The gateway's ERROR records: a malformed request must be a refusal, never a fault."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def _host_xfs4iot(stack: ExitStack, workdir: Path) -> Harness:
    book = SchemaBook.load()

    def harness(data: bytes) -> None:
        # The front end's whole intake: envelope, then the command's payload
        # schema, then (for ChipIO) the secret-bearing APDU guard.
        try:
            command = parse_command(data)
        except XfsMessageError:
            return
        if not book.knows(command.name, "command"):
            return
        if book.payload_errors(command.name, "command", command.payload):
            return
        if command.name == "CardReader.ChipIO":
            with suppress(ValueError):
                is_secret_bearing(unb64(command.payload["chipData"]))

    return harness


def _host_firmware_image(stack: ExitStack, workdir: Path) -> Harness:
    # Any fixed point will do: the harness checks that verification refuses
    # cleanly, not that it accepts (the seeds are signed by the test key).
    point = bytes.fromhex("04" + "6b17d1f2e12c4247f8bce6e563a440f277037d812deb33a0f4a13945d898c296")
    point += bytes.fromhex("4fe342e2fe1a7f9b8ee7eb4a7c0f9e162bce33576b315ececbb6406837bf51f5")

    def harness(data: bytes) -> None:
        try:
            image = parse_image(data)
        except ImageFormatError:
            return
        if image.to_bytes() != data:
            raise ChaosInvariantError("a firmware image parsed into different bytes")
        with suppress(ImageSignatureError, ImageRejectedError):
            verify_image(image, point, board="myna-pinpad-1", min_counter=1)

    return harness


# --- issued documents (issue 14) ------------------------------------------------

#: The fuzz municipality's key: fixed, so seeds signed with it verify in every run.
DOCUMENT_FUZZ_KEY: Final = ec.derive_private_key(0x6D796E612D646F63, ec.SECP256R1())
#: PDFs render at this resolution in the harness: every page path runs, 1000 runs stay fast.
_DOCUMENT_FUZZ_DPI: Final = 72


def _document_code(stack: ExitStack, workdir: Path) -> Harness:
    key = DOCUMENT_FUZZ_KEY.public_key()

    def harness(data: bytes) -> None:
        with suppress(CodeFormatError):
            signed = parse_code(data)
            with suppress(DocumentError):
                signed.verify(key)

    return harness


def _document_file(stack: ExitStack, workdir: Path) -> Harness:
    trust = TrustStore({"141003": DOCUMENT_FUZZ_KEY.public_key()})

    def harness(data: bytes) -> None:
        with suppress(DocumentInputError):
            document = read_document(data, dpi=_DOCUMENT_FUZZ_DPI)
            with suppress(DocumentError):
                verify_input(document, trust)

    return harness


# --- configuration files --------------------------------------------------------


def _pin_counters(path: Path) -> int:
    return CounterStore(path).last("B")


def _config(
    name: str, load: Callable[[Path], object], errors: type[Exception]
) -> Callable[[ExitStack, Path], Harness]:
    def build(stack: ExitStack, workdir: Path) -> Harness:
        folder = workdir / f"config-{name}"
        folder.mkdir(parents=True, exist_ok=True)
        for material in ("ca.pem", "cert.pem", "key.pem"):
            (folder / material).write_bytes(b"PEM " + material.encode())
        path = folder / name

        def harness(data: bytes) -> None:
            path.write_bytes(data)
            before = sorted(p.name for p in folder.iterdir())
            with suppress(errors):
                load(path)
            if sorted(p.name for p in folder.iterdir()) != before:
                raise ChaosInvariantError(f"loading {name} changed the files beside it")

        return harness

    return build


PARSER_TARGETS: Final[dict[str, Target]] = {
    t.name: t
    for t in (
        Target("host_apdu_tlv", "R-APDU and TLV at the host", _host_apdu),
        Target("host_card", "JPKI driver over a hostile card", _host_card),
        Target("host_card_files", "basic four, My Number, integrity record", _host_card_files),
        Target("host_card_surface", "card face and JPEG 2000 photo", _host_card_surface),
        Target("sim_card_apdu", "command APDUs at the virtual card", _sim_card),
        Target("sim_pn532_frames", "host frames at the PN532 emulator", _sim_pn532),
        Target("host_link_frames", "controller link frames at the host", _host_link),
        Target("host_controller_messages", "controller messages at the host", _host_messages),
        Target("host_controller_wire", "controller serial bytes at the driver", _host_controller),
        Target("host_printer_status", "ESC/POS status bytes at the host", _host_printer_status),
        Target("host_face_matcher_frames", "face-matcher frames at the host", _host_face_matcher),
        Target(
            "host_cctalk_frames",
            "ccTalk frames at the payment driver",
            cctalk_fuzzing.build_harness,
        ),
        Target(
            "host_cups_attributes",
            "CUPS/IPP printer and job attributes at the host",
            lambda stack, workdir: fuzz_attributes,
        ),
        Target("host_firmware_image", "controller firmware update images", _host_firmware_image),
        Target("sim_reader_slot", "sim://?slot= reader slot files", _sim_reader_slot),
        Target(
            "host_credential_atr",
            "contactless ATR and token label at host detection",
            lambda stack, workdir: fuzz_contactless_atr,
        ),
        Target(
            "host_libnfc_type_a_ats",
            "Type A ATS at the libnfc transport (ATR synthesis)",
            lambda stack, workdir: fuzz_type_a_atr,
        ),
        Target(
            "sim_contactless_ats",
            "ATS parsing in the simulator's RF answers",
            lambda stack, workdir: fuzz_parse_ats,
        ),
        Target("host_gateway_http", "kiosk browser requests at the gateway", _host_gateway_http),
        Target(
            holder_certificates.TARGET,
            "holder certificates: the kind their CA tells (card, phone)",
            holder_certificates.build_harness,
        ),
        Target(
            "verifier_fleet_report",
            "terminal status reports at the verifier",
            lambda stack, workdir: fuzz_report_status,
        ),
        Target("host_xfs4iot_messages", "XFS4IoT commands at the front end", _host_xfs4iot),
        Target("document_code", "decoded document codes (document verify)", _document_code),
        Target("document_file", "PDF/PNG/JPEG files at document verify", _document_file),
        Target(
            "host_pin_counters",
            "the agent's PIN-block counters file",
            _config("pin-counters.json", _pin_counters, PeripheralError),
        ),
        Target(
            "agent_config_toml",
            "terminal.toml",
            _config("terminal.toml", load_agent_config, AgentConfigError),
        ),
        Target(
            "verifier_config_toml",
            "verifier.toml",
            _config("verifier.toml", load_config, ConfigError),
        ),
        Target(
            "sim_timing_profile",
            "calibration profiles (sim://?timing=, bench --timing)",
            _config("timing-profile.json", load_profile, TimingProfileError),
        ),
        Target(
            "verifier_terminal_denylist",
            "the verifier's terminal deny-list file",
            _config("revoked-terminals.txt", TerminalDenyList, ConfigError),
        ),
        Target(
            "municipal_registry",
            "the municipality's registry file (--registry)",
            _config("registry.json", load_registry, MunicipalConfigError),
        ),
        Target(
            "municipal_config_toml",
            "municipal.toml",
            _config("municipal.toml", load_municipal_config, MunicipalConfigError),
        ),
        *(
            Target(
                f"municipal_{m.name}",
                f"MunicipalService.{m.name} request",
                grpc_fuzz_target(m.name),
            )
            for m in MUNICIPAL_METHODS
        ),
        *(
            Target(
                f"issuance_{m.name}",
                f"IssuanceService.{m.name} request",
                issuance_grpc_fuzz_target(m.name),
            )
            for m in ISSUANCE_METHODS
        ),
    )
}
