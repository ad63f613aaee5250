# SPDX-License-Identifier: Apache-2.0
"""``python -m myna_edge.chaos.secrets.open_hours ARGS``: ``myna-edge ARGS`` inside service hours.

Why: the secrets campaign runs the centre (``myna-edge verifier``) and the
municipality (``myna-edge municipal``) as real processes, and both refuse
certificate issuance outside 06:30-23:00 JST (and from 29 December to 3
January). The hours clock is injectable in process
(``IssuanceConfig.hours_clock``, ``build_office(clock=...)``) but no
command-line flag or config key gives it to a process, so a campaign run at
night would see every issuance refused. This launcher is the unchanged
command line with one difference: the two service-hours checks read a clock
moved to noon JST of the next service day when now is outside the hours
(unmoved inside them). Certificates, CRLs, nonces and the audit keep the
real time. The centre must run with ``--workers 1``: spawned workers would
not inherit the moved clock.
"""

from __future__ import annotations

import datetime as dt
import sys
from collections.abc import Sequence

__all__ = ["hours_offset", "main"]


_MARGIN = dt.timedelta(minutes=15)  # a run near closing time is moved too


def hours_offset(now: dt.datetime) -> dt.timedelta:
    """How far to move ``now`` (aware) into the service hours: zero well inside them."""
    from verifier.issuance_port import JST, in_service_hours

    if in_service_hours(now) and in_service_hours(now + _MARGIN):
        return dt.timedelta()
    local = now.astimezone(JST).replace(hour=12, minute=0, second=0, microsecond=0)
    while local <= now or not in_service_hours(local):
        local += dt.timedelta(days=1)
    return local - now


def _move_the_hours(command: str, offset: dt.timedelta) -> None:
    """Make ``command``'s service-hours check read ``offset`` ahead (the only change)."""
    if command == "verifier":
        import verifier.issuance as centre
        from verifier.issuance_port import in_service_hours

        centre.in_service_hours = lambda now: in_service_hours(now + offset)  # type: ignore[attr-defined]
    elif command == "municipal":
        import municipal.issuing as office
        from municipal.fees import check_service_hours

        office.check_service_hours = lambda now: check_service_hours(now + offset)  # type: ignore[attr-defined]


def main(argv: Sequence[str]) -> int:
    """Run ``myna-edge argv`` with the service hours open."""
    from myna_edge.cli import main as myna_edge

    command = next((word for word in argv if not word.startswith("-")), "")
    _move_the_hours(command, hours_offset(dt.datetime.now(dt.UTC)))
    return myna_edge(list(argv))


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
