# SPDX-License-Identifier: Apache-2.0
# The request tables below read best one request per line.
# ruff: noqa: E501
"""Seed inputs for every fuzz target, recorded from the real stack.

Why recorded: a mutation fuzzer reaches deep branches only from inputs that
already get far. The host-card seeds are the virtual card's real answers to
each driver operation (so the fuzzer starts from a full certificate read or
an integrity-checked basic-four read), the virtual-card and PN532 seeds are
the host's real commands, and the gRPC seeds are well-formed requests.
``python -m myna_edge.chaos.fuzz.seeds FOLDER`` writes them as
``FOLDER/<target>/seed-<sha1>``; the committed corpus was made this way.
"""

from __future__ import annotations

import hashlib
import io
import struct
import sys
from contextlib import suppress
from pathlib import Path
from typing import Any

from host.card import CodeKind, MynaCard
from host.errors import MynaEdgeError
from host.peripherals import face_matcher as fm
from host.peripherals.cctalk import fuzzing as cctalk_fuzzing
from host.peripherals.link import encode_frame
from host.secret import Secret
from host.transport.base import TransportCapabilities
from host.transport.sim import SimTransport
from hw_sim.card.contactless import pcsc_atr
from hw_sim.card.phones import DeviceKind, phone_contactless
from hw_sim.card.profiles import get_profile
from hw_sim.card.timing_profile import example_profile
from hw_sim.readers.pn532_frames import build_frame
from municipal.document import encode_code, key_id, render_pdf, sign_content
from municipal.document.cli import sample_content
from municipal.document.render import code_image
from myna.edge.v1 import fleet_pb2 as fpb
from myna.edge.v1 import terminal_pb2 as tpb
from myna.edge.v1 import verifier_pb2 as vpb
from myna_edge.chaos.fuzz import holder_certificates
from myna_edge.chaos.fuzz.targets import CARD_OPERATIONS, DOCUMENT_FUZZ_KEY, run_card_operation
from myna_edge.firmware import fuzz_seed_images
from myna_edge.issuance_fuzz import fuzz_seeds as issuance_fuzz_seeds
from myna_edge.municipal_world import fuzz_seeds as municipal_fuzz_seeds

__all__ = ["main", "seeds", "write_seeds"]

_AGENT_TOML = b"""profile = "atm"
terminal_id = "atm-01"
reader = "sim://default"
listen = "127.0.0.1:0"
journal = "state/journal.sqlite"
transfer_threshold_yen = 100000
kiosk_hours = "06:00-23:00"
[verifier]
target = "127.0.0.1:50051"
ca = "ca.pem"
certificate = "cert.pem"
key = "key.pem"
timeout = 5.0
"""
_VERIFIER_TOML = b"""listen = "127.0.0.1:50051"
database = "sqlite:///verifier.sqlite"
trust_dir = "trust"
[tls]
directory = "tls"
[revocation]
crl_refresh_seconds = 300
[policy]
transfer_threshold_yen = 100000
reset_policy = "otp"
otp_max_attempts = 3
"""
#: Issue 15: which credential kinds (card, phones) each operation accepts.
_CREDENTIALS_TOML = b"""[credentials]
reading = ["card", "android", "iphone"]
transfer = ["card", "android"]
reset = ["card"]
issuance = ["card", "iphone"]
"""


def _frames(items: list[bytes]) -> bytes:
    return b"".join(struct.pack(">H", len(i)) + i for i in items)


class _RecordingSim(SimTransport):
    """The virtual card over ``sim://``, keeping the raw (unredacted) exchange."""

    def __init__(self, url: str, *, extended: bool) -> None:
        super().__init__(url)
        self.exchanges: list[tuple[bytes, bytes]] = []
        self._extended = extended

    @property
    def capabilities(self) -> TransportCapabilities:
        if self._extended:
            return super().capabilities
        return TransportCapabilities(extended_length=False, max_response_bytes=263)

    def _transmit(self, command: bytes) -> bytes:
        response = super()._transmit(command)
        self.exchanges.append((command, response))
        return response


def _card_transcripts() -> dict[str, list[bytes]]:
    """Per target: the virtual card's answers and the host's commands, one file each."""
    host, sim, files = [], [], []
    for extended in (True, False):
        for index, operation in enumerate(CARD_OPERATIONS):
            transport = _RecordingSim("sim://default?persist=0", extended=extended)
            with transport.open(), suppress(MynaEdgeError):  # a seed may end in a refusal
                run_card_operation(MynaCard(transport), operation)
            commands = [c for c, _ in transport.exchanges]
            answers = [r for _, r in transport.exchanges]
            host.append(bytes([index | (0 if extended else 0x80)]) + _frames(answers))
            if extended:
                sim.append(_frames(commands))
                files += [bytes([k]) + a[:-2] for a in answers if len(a) > 40 for k in range(3)]
    tlv = sorted({f[1:] for f in files})[:8]
    return {
        "host_card": host,
        "sim_card_apdu": sim,
        "host_card_files": files,
        "host_apdu_tlv": [*tlv, b"\x90\x00", b"\x63\xc2", b"\x6a\x82", b"\x61\x10"],
    }


def _pn532() -> list[bytes]:
    select = bytes.fromhex("00A4040C0AD392F000260100000001")
    steps = [
        bytes.fromhex("D41401"), bytes.fromhex("D400006C69626E6663"), bytes.fromhex("D402"),
        bytes.fromhex("D412 14".replace(" ", "")), bytes.fromhex("D406 6302".replace(" ", "")),
        bytes.fromhex("D43201 01"), bytes.fromhex("D44A010300"), b"\xd4\x40\x01" + select,
        bytes.fromhex("D44201B2"), bytes.fromhex("D44401"), bytes.fromhex("D45201"),
    ]  # fmt: skip
    wake = b"\x55\x55" + b"\x00" * 14
    ack = bytes.fromhex("0000FF00FF00")
    return [
        wake + b"".join(build_frame(s, tfi=0xD4)[:] for s in steps),
        ack + build_frame(steps[6], 0xD4),
    ]


def _link() -> dict[str, list[bytes]]:
    events = [(0x80, b"\x00\x00\x00\x01\x00" + b"\x01abc\x00\x00\x00\x00"), (0x90, b"\x05"),
              (0x91, b"\x01\x02"), (0x92, b"\x00"), (0x93, b"\x01"), (0x94, b"\x00\x01")]  # fmt: skip
    wire = b"".join(encode_frame(t, seq, p) for seq, (t, p) in enumerate(events))
    info = b"\x01\x02\x03\x04" + b"\x01\x00\x01\x00\x00\x00\x00\x00"
    return {
        "host_link_frames": [encode_frame(t, 3, p) for t, p in events] + [wire],
        "host_controller_wire": [wire, encode_frame(0x01, 0, info)],
        "host_controller_messages": [bytes([t]) + p for t, p in events] + [b"\x00" + info],
    }


def _grpc() -> dict[str, list[bytes]]:
    proof = vpb.CardProof(
        certificate_der=b"\x30\x82\x01\x00" + b"\x00" * 60, signature=b"\x01" * 256
    )
    phone_proof = vpb.CardProof(
        certificate_der=proof.certificate_der, signature=proof.signature,
        credential_device=vpb.CREDENTIAL_DEVICE_IPHONE,
    )  # fmt: skip
    statement = vpb.TransferStatement(
        nonce=b"n" * 32, terminal_id="atm-01", amount_yen=250_000, payee_bank_code="0001",
        payee_branch_code="001", payee_account_type=vpb.ACCOUNT_TYPE_ORDINARY,
        payee_account_number="0000001", payee_name="ヤマダ", remitter_name="タナカ",
        remitter_phone="0312345678",
    )  # fmt: skip
    ses, aut, res = "ses_" + "A" * 22, "aut_" + "B" * 22, "res_" + "C" * 22
    verifier: dict[str, list[Any]] = {
        "OpenSession": [vpb.OpenSessionRequest(purpose=p, idempotency_key="k-1") for p in (vpb.SESSION_PURPOSE_CARD_VERIFICATION, vpb.SESSION_PURPOSE_PIN_RESET, vpb.SESSION_PURPOSE_TRANSFER)],
        "VerifyCard": [vpb.VerifyCardRequest(session_id=ses, terminal_id="atm-01", proof=proof, idempotency_key="k-2"),
                       vpb.VerifyCardRequest(session_id=ses, terminal_id="atm-01", proof=phone_proof, idempotency_key="k-2")],
        "ReserveReset": [vpb.ReserveResetRequest(session_id=ses, terminal_id="atm-01", operation=vpb.RESET_OPERATION_SIGNING_PASSWORD, proof=proof, face_match=vpb.FaceMatchAttestation(signature=b"\x01" * 256), idempotency_key="k-3")],
        "RedeemReset": [vpb.RedeemResetRequest(session_id=ses, terminal_id="atm-01", operation=vpb.RESET_OPERATION_SIGNING_PASSWORD, proof=proof, one_time_password="12345678", card_challenge=b"c" * 8, card_id=b"i" * 16, idempotency_key="k-4")],  # noqa: S106
        "ConfirmReset": [vpb.ConfirmResetRequest(reservation_id=res, terminal_id="atm-01", succeeded=True, idempotency_key="k-5")],
        "AuthorizeTransfer": [vpb.AuthorizeTransferRequest(session_id=ses, statement=statement, identity_proof=proof, idempotency_key="k-6")],
        "CommitTransfer": [vpb.CommitTransferRequest(authorization_id=aut, idempotency_key="k-7")],
        "ReverseTransfer": [vpb.ReverseTransferRequest(authorization_id=aut, idempotency_key="k-8")],
        "CheckRevocation": [vpb.CheckRevocationRequest(kind=vpb.CERTIFICATE_KIND_AUTHENTICATION, serial_hex="1A2B")],
        "ReportStatus": [vpb.ReportStatusRequest(reader=fpb.FLEET_DEVICE_STATE_ONLINE, printer=fpb.FLEET_DEVICE_STATE_HARDWARE_ERROR)],
    }  # fmt: skip
    transfer = tpb.TransferCommand(
        amount_yen=250_000, payee_bank_code="0001", payee_branch_code="001",
        payee_account_type=vpb.ACCOUNT_TYPE_ORDINARY, payee_account_number="0000001", payee_name="ヤマダ",
        remitter_name="タナカ", remitter_phone="0312345678",
    )  # fmt: skip
    execute = [
        tpb.ExecuteRequest(request_id="r-1", read_card=tpb.ReadCardCommand(read_basic_four=True, verify_card=True)),
        tpb.ExecuteRequest(request_id="r-2", pin_reset=tpb.PinResetCommand(operation=vpb.RESET_OPERATION_SIGNING_PASSWORD)),
        tpb.ExecuteRequest(request_id="r-3", transfer=transfer),
    ]  # fmt: skip
    terminal: dict[str, list[Any]] = {
        "Execute": execute,
        "AnswerPrompt": [tpb.AnswerPromptRequest(request_id="r-1", prompt_id="p1", confirmed=True),
                         tpb.AnswerPromptRequest(request_id="r-1", prompt_id="p1", touch_entry=tpb.TouchEntry(ephemeral_public_key=b"\x04" * 65, nonce=b"n" * 12, ciphertext=b"c" * 20))],
        "Cancel": [tpb.CancelRequest(request_ids=["r-1", "r-2"])],
        "AnswerRecovery": [tpb.AnswerRecoveryRequest(recovery_id="rec-1", cash_moved=True)],
        "ChipPower": [tpb.ChipPowerRequest(action=tpb.CHIP_POWER_ACTION_OFF)],
        "ChipIo": [tpb.ChipIoRequest(command_apdu=bytes.fromhex("00A4040C0AD392F000260100000001"))],
        "EnterPin": [tpb.EnterPinRequest(type=tpb.PROMPT_TYPE_AUTH_PIN, min_length=4, max_length=4)],
        "PresentPin": [tpb.PresentPinRequest(command_header=bytes.fromhex("00200080"))],
        "PrintRaw": [tpb.PrintRawRequest(data=b"RAW\n")],
        "UpdateFirmware": [tpb.UpdateFirmwareRequest(request_id="fw-1", image=b"MYFW\x01\x00" + bytes(6))],
    }  # fmt: skip
    out = {f"verifier_{m}": [r.SerializeToString() for r in rs] for m, rs in verifier.items()}
    for method in tpb.DESCRIPTOR.services_by_name["TerminalService"].methods_by_name:
        requests = [r.SerializeToString() for r in terminal.get(method, [])] or [b""]
        out[f"terminal_{method}_atm"] = requests
    out["terminal_Execute_kiosk"] = out["terminal_Execute_atm"]
    return out


def seeds() -> dict[str, list[bytes]]:
    """Target name -> seed inputs."""
    out = {**_card_transcripts(), **_link(), **_grpc(), **_documents()}
    out["sim_pn532_frames"] = _pn532()
    out["host_printer_status"] = [b"\x12\x12", b"\x1a\x72", b"\x16\x12", b"\x12\x1e", b"\xff"]
    out["host_face_matcher_frames"] = [
        fm.encode_frame(fm.MsgType.STATE, 1, b"\x00"),
        fm.encode_frame(fm.MsgType.IDENTITY, 1, b"\x01MODEL\x00SERIAL\x00FW"),
        b"noise" + fm.encode_frame(fm.MsgType.RESULT, 1, b"\x00\x57"),
        fm.encode_frame(fm.MsgType.REJECT, 0, b"\x01"),
    ]
    out["agent_config_toml"] = [_AGENT_TOML, _AGENT_TOML.replace(b"atm", b"kiosk")]
    out["verifier_config_toml"] = [_VERIFIER_TOML, _VERIFIER_TOML + _CREDENTIALS_TOML]
    out[holder_certificates.TARGET] = holder_certificates.seeds()
    out.update(municipal_fuzz_seeds())
    out.update(issuance_fuzz_seeds())
    out["verifier_terminal_denylist"] = [
        b"# deny-list\nserial 5d2c0e9f  # revoked 2026-12-07T00:00:00Z stolen\nterminal atm-01\n",
        b"serial 00\nterminal kiosk_7.a\n\n   # only a comment\n",
    ]
    out["host_gateway_http"] = [
        b"GET /api/config HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n\r\n",
        b"POST /api/cancel HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nOrigin: http://127.0.0.1:8080"
        b'\r\nContent-Type: application/json\r\nContent-Length: 22\r\n\r\n{"requestIds":["r-1"]}',
    ]
    out["host_xfs4iot_messages"] = [
        b'{"header":{"name":"CardReader.ChipIO","requestId":7,"type":"command","version":"3.0",'
        b'"timeout":5000},"payload":{"chipProtocol":"chipTypeB","chipData":"AKQEDArTkvAAJgEAAAAB"}}',
        b'{"header":{"name":"Common.Cancel","requestId":8,"type":"command"},'
        b'"payload":{"requestIds":[7]}}',
    ]
    out["host_pin_counters"] = [b'{"boards": {"B": 7, "PAD-0001": 4294967295}}']
    out["sim_reader_slot"] = [b"default 0123456789abcdef\n", b"minor fedcba9876543210"]
    out["host_firmware_image"] = fuzz_seed_images()
    out["sim_timing_profile"] = [example_profile()]
    out["host_card_surface"] = _card_surface()
    out["host_cctalk_frames"] = cctalk_fuzzing.SEEDS
    out.update(_contactless())
    out["verifier_fleet_report"] = [
        vpb.ReportStatusRequest(
            reader=fpb.FLEET_DEVICE_STATE_ONLINE, printer=fpb.FLEET_DEVICE_STATE_HARDWARE_ERROR
        ).SerializeToString(),
        vpb.ReportStatusRequest(
            reader=fpb.FLEET_DEVICE_STATE_OFFLINE,
            printer=fpb.FLEET_DEVICE_STATE_ONLINE,
            controller=fpb.FLEET_DEVICE_STATE_NO_DEVICE,
        ).SerializeToString(),
    ]
    out["host_cups_attributes"] = [_cups_attributes(*case) for case in _CUPS_CASES]
    return out


#: (printer-state, its reasons, accepting, job-state, job reasons) as CUPS reports them.
_CUPS_CASES: tuple[tuple[int, str, bool, int, str], ...] = (
    (3, "none", True, 5, "job-printing"),
    (5, "media-empty-report,media-jam-error", False, 7, "job-canceled-by-user"),
    (4, "door-open-error", True, 9, "job-completed-successfully"),
)


def _cups_attributes(printer: int, reasons: str, accepting: bool, job: int, why: str) -> bytes:
    """Attributes in ``host.printing.states.fuzz_attributes``'s layout (kind byte, value)."""
    values = [
        b"\x01" + bytes([printer]),  # one byte: the harness splits on 0x00
        b"\x03" + reasons.encode(),
        b"\x02" + bytes([accepting]),
        b"\x01" + bytes([job]),
        b"\x03" + why.encode(),
        b"\x04ipp://127.0.0.1:8631/ipp/print",  # kind 4 % 4 == 0: text
    ]
    return b"\x00".join(values)


def _contactless() -> dict[str, list[bytes]]:
    """The phones' RF answers: their ATS (simulator) and PC/SC ATR (host detection)."""
    ats: list[bytes] = []
    atrs = [get_profile("default").atr]
    for kind, name in (
        (DeviceKind.IPHONE, "iphone-default"),
        (DeviceKind.ANDROID, "android-default"),
    ):
        type_a = phone_contactless(kind, name).type_a
        if type_a is not None:
            ats.append(type_a.ats)
            atrs.append(pcsc_atr(type_a.historical))
    return {
        "sim_contactless_ats": ats,
        "host_credential_atr": atrs,
        "host_libnfc_type_a_ats": [a[1:] for a in ats],  # libnfc's abtAts: TL stripped
    }


def _card_surface() -> list[bytes]:
    """The default card's face as read with 照合番号B (0x00 + file), and its photo (0x01 + JP2)."""
    profile = get_profile("default")
    transport = _RecordingSim("sim://default?persist=0", extended=True)
    with transport.open():
        face = MynaCard(transport).read_card_face(
            CodeKind.B, Secret.from_text(profile.verification_code_b)
        )
    raw = [r[:-2] for c, r in transport.exchanges if c[1] == 0xB0 and len(r) > 100]
    return [b"\x00" + raw[-1], b"\x01" + face.face.photo]


def _documents() -> dict[str, list[bytes]]:
    """Signed and unsigned codes, a small PDF (no 地紋, to keep it small) and a scan."""
    content = sample_content()
    signed = sign_content(content, DOCUMENT_FUZZ_KEY)
    unsigned = encode_code(content, key=key_id(DOCUMENT_FUZZ_KEY.public_key()))
    scan = io.BytesIO()
    code_image(signed, box_px=2).save(scan, format="PNG")
    jpeg = io.BytesIO()
    code_image(signed, box_px=3).convert("L").save(jpeg, format="JPEG", quality=90)
    return {
        "document_code": [signed, unsigned],
        "document_file": [
            render_pdf(content, signed, pattern=False),
            scan.getvalue(),
            jpeg.getvalue(),
        ],
    }


def write_seeds(folder: Path) -> int:
    """Write every seed as ``folder/<target>/seed-<sha1>``; return how many files."""
    written = 0
    for target, inputs in seeds().items():
        (folder / target).mkdir(parents=True, exist_ok=True)
        for data in inputs:
            (folder / target / f"seed-{hashlib.sha1(data).hexdigest()}").write_bytes(data)  # noqa: S324 - a name
            written += 1
    return written


def main(argv: list[str]) -> int:
    """``python -m myna_edge.chaos.fuzz.seeds FOLDER``."""
    print(write_seeds(Path(argv[1])), "seed files written")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
