# SPDX-License-Identifier: Apache-2.0
"""``host.gateway.texts``: the app reads the one message table, complete and as it is."""

from __future__ import annotations

import json

from host.gateway.texts import message_table
from host.messages import FURIGANA, ResultCode, result_text
from host.prompt_texts import PromptKey, prompt_text


def test_every_result_and_prompt_is_there_in_both_languages() -> None:
    table = message_table()
    results = table["results"]
    prompts = table["prompts"]
    assert isinstance(results, dict)
    assert isinstance(prompts, dict)
    assert set(results) == {code.value for code in ResultCode}
    assert set(prompts) == {key.value for key in PromptKey}
    timeout = results["timeout"]
    assert timeout == {
        "key": "result.timeout",
        "ja": result_text(ResultCode.TIMEOUT).ja,
        "en": result_text(ResultCode.TIMEOUT).en,
    }
    assert prompts["prompt.auth_pin"]["ja"] == prompt_text(PromptKey.AUTH_PIN).ja
    json.dumps(table, ensure_ascii=False)  # what the gateway serves


def test_furigana_cover_the_hard_terms_of_the_table() -> None:
    table = message_table()
    assert table["furigana"] == FURIGANA
    texts = [result_text(code).ja for code in ResultCode] + [
        prompt_text(key).ja for key in PromptKey
    ]
    for term in ("券面事項入力補助用", "利用者証明用電子証明書", "署名用電子証明書"):
        assert any(term in text for text in texts), term
        assert FURIGANA[term]
    # Readings are hiragana only (what <rt> shows above the term).
    for reading in FURIGANA.values():
        assert all("\u3041" <= char <= "\u309f" for char in reading), reading
