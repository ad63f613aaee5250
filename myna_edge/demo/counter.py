# SPDX-License-Identifier: Apache-2.0
"""``myna-edge demo --flow counter``: the counter check (対面確認) on the embedded default.

A staffed desk (bank branch, phone shop, clinic reception) checks a My Number
card from its chip, as the AML rules require from 2027-04-01: staff type
照合番号B from the card face, the card-surface AP's signed face and photo are
read and checked against the test PKI's issuer key, the result screen is
shown (here: printed, the photo written as PNG), staff confirm they compared
the person with the photo, and one record goes to the business's AML file.
The demo's "staff" know the test card's 照合番号B because it is a test card;
it is never printed.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
from pathlib import Path

from host.card import FaceVerdict
from host.cli import load_issuer_key
from host.flows import Event, FlowFailed, Prompt, StepTimeouts, Working
from host.flows.aml_record import JsonLinesAmlFile
from host.flows.counter import CounterCheckFlow, CounterOutcome, CounterScreen, ThreadedCounterCard
from host.journal import Journal
from host.private_files import write_private
from host.secret import Secret
from host.transport.sim import sim_trust_dir
from hw_sim.card.profiles import get_profile

__all__ = ["DemoStaff", "run_counter_demo"]

TERMINAL_ID = "desk-01"
STAFF_ID = "staff-001"
_SEX = {"0": "不明 (unknown)", "1": "男 (male)", "2": "女 (female)", "9": "適用不能 (n/a)"}
_VERDICT = {
    FaceVerdict.GENUINE: "真正なカード (genuine)",
    FaceVerdict.EXPIRED: "有効期限切れ (expired)",
    FaceVerdict.NOT_CHECKED: "署名未確認 (not checked)",
    FaceVerdict.FORGED: "偽造の疑い (forged)",
    FaceVerdict.REVOKED: "証明書失効 (revoked)",
    FaceVerdict.INCONSISTENT: "記録の不一致 (inconsistent)",
}


class DemoStaff:
    """The desk's screen, printed: types the test card's code, shows the result, confirms."""

    def __init__(self, code: str, photo_path: Path) -> None:
        self._code = code
        self._photo_path = photo_path

    async def verification_code(self, *, tries_left: int, last_try: bool) -> Secret:
        print(f"  staff: 照合番号B を入力 (verification code B; {tries_left} tries left)")
        return Secret.from_text(self._code)

    async def compare(self, screen: CounterScreen) -> bool:
        write_private(self._photo_path, screen.photo_png)
        print("  ┌─ 確認結果 / result ─────────────────────────────")
        print(f"  │ 判定 verdict:      {_VERDICT[screen.verdict]}")
        print(f"  │ 氏名 name:         {screen.name}")
        print(f"  │ 住所 address:      {screen.address}")
        print(f"  │ 生年月日 born:     {screen.birth_date.isoformat()}")
        print(f"  │ 性別 sex:          {_SEX.get(screen.sex, screen.sex)}")
        print(f"  │ 有効期限 expiry:   {screen.expiry.isoformat()}")
        print(f"  │ 顔写真 photo:      {self._photo_path}")
        print("  └────────────────────────────────────────────────")
        print("  staff: 顔写真と本人を照合しました (compared the person with the photo): yes")
        return True

    async def confirm(self, prompt: Prompt) -> bool:
        return True

    async def secret(self, prompt: Prompt) -> Secret:
        raise ValueError("the counter demo asks for 照合番号B only")


def _show(event: Event) -> None:
    if isinstance(event, Working):
        print(f"  … {event.step}")
    elif isinstance(event, FlowFailed):
        print(f"  ! {event.code}: {event.message}")


async def _check(card_url: str, code: str, out: Path, root: Path) -> CounterOutcome:
    issuer_key = load_issuer_key(sim_trust_dir(card_url))
    card = ThreadedCounterCard(card_url, issuer_key=issuer_key)
    try:
        with Journal(root / "journal.sqlite") as journal:
            flow = CounterCheckFlow(
                card=card,
                staff=DemoStaff(code, out / "counter-photo.png"),
                aml_file=JsonLinesAmlFile(out / "aml-checks.jsonl"),
                terminal_id=TERMINAL_ID,
                staff_id=STAFF_ID,
                journal=journal,
                emit=_show,
                timeouts=StepTimeouts(),
            )
            return await flow.run()
    finally:
        await card.aclose()


def run_counter_demo(args: argparse.Namespace) -> int:
    """Run the counter check on ``args.card``; 0 when it ran (whatever the verdict)."""
    profile = get_profile(args.card)
    out: Path = args.out or Path(tempfile.mkdtemp(prefix="myna-edge-counter-"))
    out.mkdir(parents=True, exist_ok=True)
    print(f"myna-edge demo: counter check (対面確認) with virtual card {args.card!r}")
    with tempfile.TemporaryDirectory(prefix="myna-edge-demo-") as tmp:
        card_url = f"sim://{profile.name}?persist=0"
        outcome = asyncio.run(_check(card_url, profile.verification_code_b, out, Path(tmp)))
    verdict = outcome.verdict.value if outcome.verdict else "-"
    reason = f", {outcome.reason}" if outcome.reason else ""
    print(f"  => {outcome.outcome.value} (verdict {verdict}{reason})")
    print(f"AML check record (My Number never stored) in {out / 'aml-checks.jsonl'}")
    return 0
