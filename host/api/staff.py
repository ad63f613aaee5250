# SPDX-License-Identifier: Apache-2.0
"""The staff's screen at a counter desk, through the API (the counter flow's ``StaffPort``).

Why a port of its own: the counter check asks two things no ``PromptKind``
has, 照合番号B and the photo comparison, so ``ApiStaff`` builds their
``PromptEvent``s here. 照合番号B is answered like a kiosk PIN: the prompt
carries a fresh entry key and the staff screen seals the code to it
(``touch_entry``); the code never crosses the API in clear and no event,
log line or repr holds it. The comparison prompt carries the card face
(``PromptEvent.card_face``) for the staff's screen only, and
``forget_card_faces`` takes the face out of a command once it was delivered.
"""

from __future__ import annotations

from collections.abc import Iterable

from host.api.prompts import ApiUser
from host.api.translate import card_face_message
from host.api.user_text import user_message
from host.flows.counter import CounterScreen
from host.prompt_texts import PromptKey, prompt_text
from host.secret import Secret
from myna.edge.v1 import terminal_pb2 as tpb

__all__ = ["ApiStaff", "forget_card_faces"]


class ApiStaff(ApiUser):
    """``ApiUser`` plus the counter check's two staff prompts (touch secrets only)."""

    async def verification_code(self, *, tries_left: int, last_try: bool) -> Secret:
        """照合番号B, sealed to this prompt's key; a warning precedes the last try."""
        kind = tpb.PROMPT_TYPE_VERIFICATION_CODE
        if last_try:
            self._send(tpb.FlowEvent(last_try_warning=tpb.LastTryWarningEvent(type=kind)))
        text = prompt_text(PromptKey.VERIFICATION_CODE)
        message = tpb.PromptEvent(
            type=kind,
            text=text.en,
            tries_left=tries_left,
            last_try=last_try,
            message=user_message(text),
        )
        value = await self._ask_with(message, True)
        if not isinstance(value, Secret):  # pragma: no cover - answer() keeps kinds apart
            raise TypeError("a verification code must be a Secret")
        return value

    async def compare(self, screen: CounterScreen) -> bool:
        """Show the face; True when staff confirm the person matches the photo."""
        text = prompt_text(PromptKey.CONFIRM_PHOTO)
        message = tpb.PromptEvent(
            type=tpb.PROMPT_TYPE_CONFIRM_PHOTO,
            text=text.en,
            message=user_message(text),
            card_face=card_face_message(screen),
        )
        value = await self._ask_with(message, False)
        if not isinstance(value, bool):  # pragma: no cover
            raise TypeError("a confirmation must be a bool")
        return value


def forget_card_faces(messages: Iterable[tpb.ExecuteResponse], completion: tpb.Completion) -> None:
    """Clear the card face from a delivered command's messages and completion.

    Why: finished commands stay in memory (``CommandBook``) so a client can
    re-attach or ask for the outcome; the face (photo, name, address, birth
    date) is personal data meant for the staff's screen once, not for the
    agent's memory. What stays answers "what was decided": the verdict, the
    comparison and the check id (the AML file is the record).
    """
    if completion.HasField("counter_check"):
        completion.counter_check.ClearField("card_face")
    for message in messages:
        if message.HasField("completion") and message.completion.HasField("counter_check"):
            message.completion.counter_check.ClearField("card_face")
        elif message.HasField("event") and message.event.prompt.HasField("card_face"):
            message.event.prompt.ClearField("card_face")
