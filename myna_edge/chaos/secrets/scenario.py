# SPDX-License-Identifier: Apache-2.0
"""Secrets: every flow with distinctive test secrets, then a scan of everything the stack wrote.

Why: "the PIN never leaves memory" is only believable when someone looked
everywhere it could have gone. The scenario gives the virtual card
distinctive secrets (PINs and a password no other data contains), runs the
verifier and three agents (a kiosk, an ATM with its controller board on the
MicroPython unix port, a staffed counter desk) as real processes logging at
TRACE (``-vvv``) to files, and drives every flow through the terminal API: a
card reading with a wrong card-info PIN first (so an error path runs), an
identity-verified transfer (password on the board's keypad), counter checks
(issue 21: 照合番号B with a wrong code first, then with the holder's 4-digit PIN
as well), certificate issuance at a convenience-store MFP (issue 14: an
agent on the kiosk profile with an ``[issuance]`` desk, a wrong auth PIN
first, one 住民票の写し from the reference municipality process, paid in
through the ccTalk emulator and printed through CUPS to ``ippeveprinter``;
``mfp``), and a PIN reset in each direction under the OTP policy (booked by
the simulated phone, OTPs entered at the kiosk). Then the holder's Android
phone (issue 15) takes the card's place on the kiosk's and the ATM's
readers: a reading with proof (its own PIN, a wrong one first) and a
transfer (its own signing password on the keypad). Its PIN and password are
the phone profile's own (a phone's secrets are set on the phone, so the run
cannot choose them; the simulator's profile holds them). Besides the PINs
and passwords the scan looks for 照合番号B (right and wrong) and the card's My
Number, which no flow may write unmasked (the counter check cannot even read
it). Recording relays on 127.0.0.1 capture the gRPC traffic between the API
client and the agents and between the agents and the verifier; the verifier
runs ``insecure_dev`` (plaintext) for this run only, so the capture holds
bytes a scan can read. Then every file under the stack folder is scanned
(logs = the processes' stderr, the agents' journals and their WAL, the
electronic journals, the desk's AML file, the verifier database (the
centre's audit), the municipality's log and ledger, cupsd's and
ippeveprinter's logs, captures (also centre to municipality),
the client's record of every answer and exception text) for every secret in
every encoding of ``scan``.

One exemption, by protocol: an OTP travels from the phone's booking to the
kiosk user and then to the verifier in ``RedeemResetRequest.one_time_password``
(it is the verifier's own one-time secret, checked there). Its hits in the
agent-to-verifier request capture are counted as ``protocol_otp_hits``
and must equal the number of redemptions; anywhere else an OTP is a leak.
"""

from __future__ import annotations

import logging
import os
from contextlib import ExitStack
from pathlib import Path
from typing import Final

from hw_sim.card.profiles import get_profile
from myna_edge.chaos import ChaosInvariantError
from myna_edge.chaos.secrets.scan import scan, variants
from myna_edge.chaos.secrets.stack import ANDROID, SecretsStack

__all__ = ["SECRETS", "run_scenario"]

_log = logging.getLogger(__name__)
_CARD: Final = get_profile("default")  # 照合番号B and the My Number are the card's own data
_PHONE: Final = get_profile(ANDROID)  # set on the phone: the profile's own PIN and password

#: The card's secrets for the run (labels -> values); chosen to occur nowhere else.
SECRETS: Final[dict[str, str]] = {
    "auth_pin": "7294",
    "wrong_auth_pin": "4682",
    "card_info_pin": "8163",
    "wrong_card_info_pin": "6057",
    "signing_password": "QZ7XW3KV9J",
    "new_signing_password": "VJ4KQ8ZXW2",
    "new_auth_pin": "3916",
    "code_b": _CARD.verification_code_b,
    "wrong_code_b": _CARD.verification_code_b[:10] + "0000",
    "my_number": _CARD.person.my_number,
    "android_pin": _PHONE.auth_pin,
    "wrong_android_pin": "5038",
    "android_password": _PHONE.sign_password,
}
_REDEEM_CAPTURE: Final = "captures/verifier/client-to-server.bin"


def run_scenario(seed: int, count: int, workdir: Path) -> dict[str, object]:
    """Run every flow ``count`` times (card, then Android phone), scan, and raise on any hit."""
    previous = os.environ.get("MYNA_EDGE_SIM_HOME")
    card_home = workdir / "card"  # the card keeps its PINs: the card is not scanned
    os.environ["MYNA_EDGE_SIM_HOME"] = str(card_home)
    try:
        with ExitStack() as stack:
            world = stack.enter_context(SecretsStack(workdir / "stack", card_home, SECRETS))
            flows = world.run_flows(count, seed)
            otps = world.otps
            issued = world.issued
        hits, files, scanned = scan(workdir / "stack", {**SECRETS, **otps})
    finally:
        if previous is None:
            os.environ.pop("MYNA_EDGE_SIM_HOME", None)
        else:
            os.environ["MYNA_EDGE_SIM_HOME"] = previous
    protocol = [h for h in hits if h.label in otps and h.path == _REDEEM_CAPTURE]
    leaks = [h for h in hits if h not in protocol]
    figures: dict[str, object] = {
        "seed": seed,
        "flows": flows,
        "issued_serials": issued,
        "secrets": len(SECRETS) + len(otps),
        "encodings_per_secret": len(variants(SECRETS["auth_pin"])),
        "files_scanned": files,
        "bytes_scanned": scanned,
        "captured_grpc_bytes": world.captured,
        "protocol_otp_hits": len(protocol),
        "hits": len(leaks),
    }
    if leaks:
        where = sorted({f"{h.label} as {h.encoding} in {h.path}" for h in leaks})
        raise ChaosInvariantError(f"{len(leaks)} secret hit(s): {where[:20]}")
    ascii_protocol = {h.label for h in protocol if h.encoding == "ascii"}
    if ascii_protocol != set(otps):
        raise ChaosInvariantError(
            "the OTPs were not seen in the verifier capture: the capture or the scan is blind"
        )
    return figures
