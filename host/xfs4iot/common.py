# SPDX-License-Identifier: Apache-2.0
"""The Common interface every service offers: Status, Capabilities, Cancel.

``Common.Status`` answers the agent's live device state (``GetStatus``)
as ``common.device`` plus the service's own sections;
``Common.Capabilities`` lists the interfaces with the commands and events
this front end really implements (and their versions); ``Common.Cancel``
runs at once and cancels this client's commands (an unknown id is
``noMatchingRequestIDs`` only when nothing at all matched).
"""

from __future__ import annotations

from typing import Any, Final

from host.xfs4iot.agent import AgentUnavailableError
from host.xfs4iot.messages import RELEASE, CompletionCode
from host.xfs4iot.service import (
    COMMAND_VERSIONS,
    DEVICE_STATES,
    VERSIONS,
    CommandContext,
    CommandSpec,
    Outcome,
)

__all__ = ["COMMANDS", "COMMON_EVENTS", "SOFTWARE_NAME"]

SOFTWARE_NAME: Final = "myna-edge xfs4iot"
COMMON_EVENTS: Final = ("Common.StatusChangedEvent",)


async def _states(context: CommandContext) -> dict[str, int]:
    try:
        return dict(await context.session.service.agent.status())
    except AgentUnavailableError:
        return {}


async def _status(context: CommandContext) -> Outcome:
    service = context.session.service
    states = await _states(context)
    state = states.get(service.device)
    device = DEVICE_STATES.get(state, "offline") if state is not None else "noDevice"
    if not states:
        device = "offline"  # the agent itself is unreachable
    return Outcome(payload={"common": {"device": device}} | service.status_section(states))


def _versions(names: list[str], kind: str) -> dict[str, Any]:
    table = COMMAND_VERSIONS if kind == "command" else {}
    return {n: {"versions": [table.get(n) or VERSIONS.get((n, kind), "2.0")]} for n in names}


async def _capabilities(context: CommandContext) -> Outcome:
    service = context.session.service
    interfaces = [
        {
            "name": "Common",
            "commands": _versions(sorted(COMMANDS), "command"),
            "events": _versions(list(COMMON_EVENTS), "unsolicited"),
            "maximumRequests": 16,
        }
    ]
    for interface in service.interfaces:
        commands = sorted(n for n in service.commands if n.startswith(interface + "."))
        events = [n for n in service.events if n.startswith(interface + ".")]
        entry: dict[str, Any] = {"name": interface, "commands": _versions(commands, "command")}
        if events:
            entry["events"] = {n: {"versions": ["2.0"]} for n in events}
        interfaces.append(entry)
    common = {
        "serviceVersion": f"XFS4IoT {RELEASE}",
        "deviceInformation": [
            {
                "modelName": f"myna-edge {service.name}",
                "modelDescription": "My Number card terminal agent (docs/xfs4iot.md)",
                "software": [{"softwareName": SOFTWARE_NAME, "softwareVersion": "0.1.0"}],
            }
        ],
    }
    sections = await service.capability_sections()
    return Outcome(payload={"interfaces": interfaces, "common": common} | sections)


async def _cancel(context: CommandContext) -> Outcome:
    ids = context.command.payload.get("requestIds")
    wanted = None if not ids else [int(i) for i in ids]
    stopped = context.session.cancel(wanted, keep=context.command.request_id)
    if wanted is not None and not stopped:
        return Outcome(CompletionCode.COMMAND_ERROR_CODE, {"errorCode": "noMatchingRequestIDs"})
    return Outcome(payload={})


COMMANDS: Final = {
    "Common.Status": CommandSpec(_status, immediate=True),
    "Common.Capabilities": CommandSpec(_capabilities, immediate=True),
    "Common.Cancel": CommandSpec(_cancel, immediate=True),
}
