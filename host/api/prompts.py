# SPDX-License-Identifier: Apache-2.0
"""The user port of an API command: prompts go out as events, answers come back by id.

A flow awaits ``confirm``/``secret``; this port sends a ``PromptEvent`` with
a fresh prompt id on the command's stream and waits for AnswerPrompt. Under
the ATM profile a secret may not come from the touchscreen (PCI PIN: only
the secure PIN pad's encrypted entry): ``secret`` then asks the injected
``secure_entry`` source, and a touch entry for it is refused. Under the
kiosk profile a secret prompt carries a fresh X25519 key and the touch
entry arrives sealed to it (``touch_entry``): no PIN in clear on the API.
A certificate chosen on the kiosk screen (``choose_document``) comes back
as ``document_choice``; ``confirmed = false`` declines it.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Awaitable, Callable

from host.api.touch_entry import EntryKey
from host.api.translate import issue_choice, prompt_message
from host.errors import FlowCancelledError
from host.flows import Prompt
from host.flows.issue_request import IssueChoice
from host.secret import Secret
from myna.edge.v1 import terminal_pb2 as tpb

__all__ = ["ApiUser", "SecureEntry"]

#: Collects a secret on the secure PIN pad for a prompt (ATM profile).
SecureEntry = Callable[[Prompt], Awaitable[Secret]]
#: What a prompt's answer becomes: a yes/no, an opened secret, a choice.
_Answer = bool | Secret | IssueChoice


class ApiUser:
    """Answers flow prompts through the API.

    Args:
        send: puts one ``FlowEvent`` on the command's stream.
        touch_secrets: the kiosk profile: secrets may come from the touchscreen.
        secure_entry: where secrets come from otherwise (the PIN pad).
        request_id: the command's id (sealed touch entries are bound to it).
    """

    def __init__(
        self,
        send: Callable[[tpb.FlowEvent], None],
        *,
        touch_secrets: bool,
        secure_entry: SecureEntry | None = None,
        request_id: str = "",
    ) -> None:
        self._send = send
        self._touch = touch_secrets
        self._secure = secure_entry
        self._rid = request_id
        self._ids = itertools.count(1)
        self._waiting: dict[str, tuple[asyncio.Future[_Answer], EntryKey | None]] = {}
        self._choosing: set[str] = set()  # prompt ids that take a document_choice

    def answer(self, prompt_id: str, answer: tpb.AnswerPromptRequest) -> bool:
        """Deliver an answer; False when no such prompt waits or the answer does not fit.

        Raises:
            TouchEntryError: a sealed touch entry does not open with this
                prompt's key; the prompt keeps waiting.
        """
        entry = self._waiting.get(prompt_id)
        if entry is None or entry[0].done():
            return False
        future, key = entry
        which = answer.WhichOneof("answer")
        if prompt_id in self._choosing:
            return _choice(future, answer)
        if key is not None and which == "touch_entry":
            future.set_result(key.open(answer.touch_entry))
            return True
        if key is None and which == "confirmed":
            future.set_result(answer.confirmed)
            return True
        return False

    async def _ask(self, prompt: Prompt, wants_secret: bool) -> _Answer:
        return await self._ask_with(prompt_message(prompt), wants_secret)

    async def _ask_with(self, message: tpb.PromptEvent, wants_secret: bool) -> _Answer:
        """Send ``message`` with a fresh id (and entry key for a secret); await the answer."""
        prompt_id = f"p{next(self._ids)}"
        future: asyncio.Future[_Answer] = asyncio.get_running_loop().create_future()
        key = EntryKey(self._rid, prompt_id) if wants_secret else None
        self._waiting[prompt_id] = (future, key)
        message.prompt_id = prompt_id
        if key is not None:
            message.entry_public_key = key.public_bytes
        self._send(tpb.FlowEvent(prompt=message))
        if message.type == tpb.PROMPT_TYPE_CHOOSE_DOCUMENT:
            self._choosing.add(prompt_id)
        try:
            return await future
        finally:
            del self._waiting[prompt_id]
            self._choosing.discard(prompt_id)

    async def choose_document(self, message: tpb.PromptEvent) -> IssueChoice | None:
        """Send a CHOOSE_DOCUMENT prompt (``message`` carries the offers); None: declined."""
        value = await self._ask_with(message, False)
        if isinstance(value, bool):
            return None  # only False reaches here (_choice refuses True)
        if not isinstance(value, IssueChoice):  # pragma: no cover - answer() keeps kinds apart
            raise TypeError("a document choice must be an IssueChoice")
        return value

    async def confirm(self, prompt: Prompt) -> bool:
        """Ask a yes/no question on the stream."""
        value = await self._ask(prompt, False)
        if not isinstance(value, bool):  # pragma: no cover - answer() keeps kinds apart
            raise TypeError("a confirmation must be a bool")
        return value

    async def secret(self, prompt: Prompt) -> Secret:
        """A secret from the touchscreen (kiosk) or the secure PIN pad (ATM).

        Raises:
            FlowCancelledError: the ATM profile has no secure entry configured.
        """
        if not self._touch:
            if self._secure is None:
                raise FlowCancelledError("no secure PIN entry is configured")
            self._send(tpb.FlowEvent(prompt=prompt_message(prompt)))
            return await self._secure(prompt)
        value = await self._ask(prompt, True)
        if not isinstance(value, Secret):  # pragma: no cover
            raise TypeError("a secret must be a Secret")
        return value


def _choice(future: asyncio.Future[_Answer], answer: tpb.AnswerPromptRequest) -> bool:
    """A CHOOSE_DOCUMENT answer: a well-formed choice, or ``confirmed = false`` (declined).

    A malformed choice is not taken (False) and the prompt keeps waiting;
    whether it is among the offers is the flow's check (``FixedChoice``).
    """
    which = answer.WhichOneof("answer")
    if which == "confirmed" and not answer.confirmed:
        future.set_result(False)
        return True
    if which != "document_choice":
        return False
    try:
        future.set_result(issue_choice(answer.document_choice))
    except ValueError:
        return False
    return True
