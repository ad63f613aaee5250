# SPDX-License-Identifier: Apache-2.0
"""The kiosk app's copy of the one message table (``host.messages``), as JSON.

Why serve it: the app must tell a person exactly what the demo and every
ATM application tell them, so it does not keep texts of its own for
results: it loads ``/api/messages`` once and looks up a ``ResultCode``
(``results``), a prompt key (``prompts``) and the readings of hard terms
(``furigana``, shown as ``<ruby>`` on Japanese screens). The table holds
no secret and no personal data, so it is built once per gateway.
"""

from __future__ import annotations

from host.messages import FURIGANA, ResultCode, result_text
from host.prompt_texts import PromptKey, prompt_text

__all__ = ["message_table"]


def message_table() -> dict[str, object]:
    """``{"results": {code: {key, ja, en}}, "prompts": {key: {...}}, "furigana": {...}}``."""
    results = {code.value: vars(result_text(code)) for code in ResultCode}
    prompts = {key.value: vars(prompt_text(key)) for key in PromptKey}
    return {"results": results, "prompts": prompts, "furigana": dict(FURIGANA)}
