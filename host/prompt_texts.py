# SPDX-License-Identifier: Apache-2.0
"""What a person is asked and shown during a flow: prompts, the statement, the fee, receipts.

The second half of ``host.messages`` (same rules: Japanese first, then
English, a stable key per text, never a secret), kept apart so each module
stays a readable size: ``host.messages`` holds the languages, ``UserText`` and
the results; this module the prompts a flow shows on its way there. The
transfer statement is rendered from the very fields the card signs
(``TransferStatement``; its canonical bytes are language-independent).
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from enum import StrEnum
from typing import Final

from host.card.pin_policy import PinKind
from host.client import AccountType, TransferStatement
from host.messages import Language, UserText

__all__ = [
    "PHONE_PROMPT_KEYS",
    "PROMPT_KEYS",
    "PromptKey",
    "ReceiptWords",
    "fee_message",
    "new_secret_texts",
    "payment_message",
    "prompt_text",
    "receipt_words",
    "statement_message",
]


class PromptKey(StrEnum):
    """The prompts a person sees; the values are the API's message keys."""

    INSERT_CARD = "prompt.insert_card"
    CONFIRM_STATEMENT = "prompt.confirm_statement"
    SIGNING_PASSWORD = "prompt.signing_password"  # noqa: S105 - a key name
    AUTH_PIN = "prompt.auth_pin"
    CARD_INFO_PIN = "prompt.card_info_pin"
    ONE_TIME_PASSWORD = "prompt.one_time_password"  # noqa: S105 - a key name
    NEW_SIGNING_PASSWORD = "prompt.new_signing_password"  # noqa: S105 - a key name
    NEW_SIGNING_PASSWORD_AGAIN = "prompt.new_signing_password_again"  # noqa: S105
    NEW_AUTH_PIN = "prompt.new_auth_pin"
    NEW_AUTH_PIN_AGAIN = "prompt.new_auth_pin_again"
    NEW_SECRET = "prompt.new_secret"  # noqa: S105 - which secret is not known
    CONFIRM_MONEY_MOVED = "prompt.confirm_money_moved"
    VERIFICATION_CODE = "prompt.verification_code"
    CONFIRM_PHOTO = "prompt.confirm_photo"
    CONFIRM_FEE = "prompt.confirm_fee"
    INSERT_PAYMENT = "prompt.insert_payment"
    TAKE_DOCUMENT = "prompt.take_document"
    CHOOSE_DOCUMENT = "prompt.choose_document"
    APPROVE_ON_PHONE = "prompt.approve_on_phone"
    # A phone's own secrets (Android: set on the phone, apart from the card's).
    PHONE_AUTH_PIN = "prompt.phone_auth_pin"
    PHONE_SIGNING_PASSWORD = "prompt.phone_signing_password"  # noqa: S105 - a key name


_PROMPTS: Final[dict[PromptKey, tuple[str, str]]] = {
    PromptKey.INSERT_CARD: (
        "カードまたはスマートフォンをかざしてください",
        "Hold your My Number card or smartphone over the reader",
    ),
    PromptKey.CONFIRM_STATEMENT: ("振込内容をご確認ください", "Check the transfer"),
    PromptKey.SIGNING_PASSWORD: (
        "署名用電子証明書の暗証番号（英数字6〜16文字）を入力してください",
        "Enter your signing password",
    ),
    PromptKey.AUTH_PIN: (
        "利用者証明用電子証明書の暗証番号（数字4桁）を入力してください",
        "Enter your 4-digit user-authentication PIN",
    ),
    PromptKey.CARD_INFO_PIN: (
        "券面事項入力補助用の暗証番号（数字4桁）を入力してください",
        "Enter the 4-digit PIN for the card's text items",
    ),
    PromptKey.ONE_TIME_PASSWORD: (
        "アプリに表示されたワンタイムパスワードを入力してください",
        "Enter the one-time password from the app",
    ),
    PromptKey.NEW_SIGNING_PASSWORD: (
        "新しい署名用電子証明書の暗証番号（英大文字と数字6〜16文字）を入力してください",
        "Enter your new signing password (6-16 A-Z, 0-9)",
    ),
    PromptKey.NEW_SIGNING_PASSWORD_AGAIN: (
        "確認のため、新しい署名用電子証明書の暗証番号をもう一度入力してください",
        "Enter your new signing password (6-16 A-Z, 0-9) again",
    ),
    PromptKey.NEW_AUTH_PIN: (
        "新しい利用者証明用電子証明書の暗証番号（数字4桁）を入力してください",
        "Enter your new 4-digit PIN",
    ),
    PromptKey.NEW_AUTH_PIN_AGAIN: (
        "確認のため、新しい利用者証明用電子証明書の暗証番号をもう一度入力してください",
        "Enter your new 4-digit PIN again",
    ),
    PromptKey.NEW_SECRET: ("新しい暗証番号を入力してください", "Enter your new PIN"),
    PromptKey.CONFIRM_MONEY_MOVED: (
        "振込金額の現金は入金されましたか",
        "Did the cash move?",
    ),
    PromptKey.VERIFICATION_CODE: (
        "カード表面の照合番号B（生年月日6桁・有効期限の西暦4桁・セキュリティコード4桁）を"
        "入力してください",
        "Enter verification code B from the card face "
        "(birth date 6, expiry year 4, security code 4 digits)",
    ),
    PromptKey.CONFIRM_PHOTO: (
        "ICチップの顔写真とご本人が同じ方か確認してください",
        "Compare the person with the chip's photo: is it the same person?",
    ),
    PromptKey.CONFIRM_FEE: ("証明書と手数料をご確認ください", "Check the certificate and its fee"),
    PromptKey.INSERT_PAYMENT: ("手数料を投入してください", "Insert the fee"),
    PromptKey.TAKE_DOCUMENT: (
        "証明書をお取りください。お取り忘れにご注意ください",
        "Take your certificate. Do not leave it behind",
    ),
    PromptKey.CHOOSE_DOCUMENT: (
        "市区町村と証明書を選んでください",
        "Choose the municipality and the certificate",
    ),
    PromptKey.APPROVE_ON_PHONE: (
        "スマートフォンで認証してください（サイドボタンを2回押して顔認証）。"
        "認証が終わるまでスマートフォンをかざしたままにしてください",
        "Authenticate on your phone (double-click the side button, then Face ID). "
        "Keep the phone on the reader until it is done",
    ),
    # Not the card's: the holder chose these on the phone when registering it
    # (UNCONFIRMED rules, docs/smartphones.md; our model keeps the card's lengths).
    PromptKey.PHONE_AUTH_PIN: (
        "スマートフォンに設定した利用者証明用の暗証番号（数字4桁）を入力してください",
        "Enter the 4-digit PIN you set on your phone for JPKI user authentication",
    ),
    PromptKey.PHONE_SIGNING_PASSWORD: (
        "スマートフォンに設定した署名用の暗証番号（英数字6〜16文字）を入力してください",
        "Enter the signing password (6-16 letters and digits) you set on your phone for JPKI",
    ),
}

#: The default prompt of each ``PromptKind`` value (a flow may say more precisely).
PROMPT_KEYS: Final[dict[str, PromptKey]] = {
    "insert_card": PromptKey.INSERT_CARD,
    "confirm_statement": PromptKey.CONFIRM_STATEMENT,
    "signing_password": PromptKey.SIGNING_PASSWORD,
    "auth_pin": PromptKey.AUTH_PIN,
    "card_info_pin": PromptKey.CARD_INFO_PIN,
    "one_time_password": PromptKey.ONE_TIME_PASSWORD,
    "new_secret": PromptKey.NEW_SECRET,
    "confirm_money_moved": PromptKey.CONFIRM_MONEY_MOVED,
    "confirm_fee": PromptKey.CONFIRM_FEE,
    "insert_payment": PromptKey.INSERT_PAYMENT,
    "take_document": PromptKey.TAKE_DOCUMENT,
    "approve_on_phone": PromptKey.APPROVE_ON_PHONE,
}


#: The prompt of each secret ``PromptKind`` value when a phone holds the secret:
#: the card's wording would send an Android holder to the card's PIN.
PHONE_PROMPT_KEYS: Final[dict[str, PromptKey]] = {
    "auth_pin": PromptKey.PHONE_AUTH_PIN,
    "signing_password": PromptKey.PHONE_SIGNING_PASSWORD,
}


def prompt_text(key: PromptKey) -> UserText:
    """The prompt ``key`` in both languages."""
    ja, en = _PROMPTS[key]
    return UserText(key.value, ja, en)


def new_secret_texts(kind: PinKind) -> tuple[UserText, UserText]:
    """The two prompts for a new ``kind`` secret: the entry, then once more to confirm."""
    if kind is PinKind.SIGN:
        keys = (PromptKey.NEW_SIGNING_PASSWORD, PromptKey.NEW_SIGNING_PASSWORD_AGAIN)
    else:
        keys = (PromptKey.NEW_AUTH_PIN, PromptKey.NEW_AUTH_PIN_AGAIN)
    return prompt_text(keys[0]), prompt_text(keys[1])


_ACCOUNT_JA: Final = {
    AccountType.ORDINARY: "普通",
    AccountType.CURRENT: "当座",
    AccountType.SAVINGS: "貯蓄",
}


def statement_message(s: TransferStatement) -> UserText:
    """The statement the card signs, as the user reads it, in both languages.

    Built from the same fields as ``TransferStatement.to_bytes``; the bytes
    the card signs stay the canonical, language-independent encoding. Names
    are shown NFC-normalised, exactly as they are signed (issue 22: "カ" +
    U+3099 and "ガ" sign the same bytes, so the screen shows "ガ").
    """
    payee = unicodedata.normalize("NFC", s.payee_name)
    remitter = unicodedata.normalize("NFC", s.remitter_name)
    ja = "\n".join(
        [
            f"金額: {s.amount_yen:,}円",
            f"振込先: {payee}",
            f"金融機関・支店: {s.payee_bank_code} / {s.payee_branch_code}",
            f"口座: {_ACCOUNT_JA[s.payee_account_type]} {s.payee_account_number}",
            f"依頼人: {remitter}（電話 {s.remitter_phone}）",
        ]
    )
    en = (
        f"Transfer JPY {s.amount_yen:,} to {payee} "
        f"(bank {s.payee_bank_code}, branch {s.payee_branch_code}, "
        f"{s.payee_account_type.value.lower()} {s.payee_account_number}) "
        f"from {remitter}, tel {s.remitter_phone}"
    )
    return UserText(PromptKey.CONFIRM_STATEMENT.value, ja, en)


def fee_message(*, title: str, municipality_name: str, copies: int, fee_yen: int) -> UserText:
    """The certificate chosen and its fee, as the resident confirms it before paying.

    No personal data: the title and the municipality come from the offer
    list, not from the resident's record.
    """
    ja = f"{municipality_name} {title} {copies}通\n手数料: {fee_yen:,}円"
    copies_en = f"{copies} cop{'y' if copies == 1 else 'ies'}"
    en = f"{title} from {municipality_name}, {copies_en}: JPY {fee_yen:,}"
    return UserText(PromptKey.CONFIRM_FEE.value, ja, en)


def payment_message(fee_yen: int) -> UserText:
    """Ask for the fee (the payment device takes coins and notes)."""
    return UserText(
        PromptKey.INSERT_PAYMENT.value,
        f"手数料 {fee_yen:,}円 を投入してください",
        f"Insert the fee: JPY {fee_yen:,}",
    )


@dataclass(frozen=True)
class ReceiptWords:
    """The receipt's labels in one language (58 mm paper: 32 half-width cells a line)."""

    title: str
    terminal: str
    amount: str  # a format with {amount}
    payee: str
    state: str


_RECEIPT: Final = {
    Language.JA: ReceiptWords(
        "マイナンバー本人確認 振込", "端末", "振込金額 {amount:,}円", "振込先", "状態"
    ),
    Language.EN: ReceiptWords(
        "MYNA-EDGE TRANSFER", "TERMINAL", "AMOUNT JPY {amount:,}", "PAYEE", "STATE"
    ),
}


def receipt_words(language: Language) -> ReceiptWords:
    """The transfer receipt's labels in the customer's ``language``.

    The reference line (``REF …``) is not translated: the campaign's checks
    and an operator's tools find it by that prefix in every language.
    """
    return _RECEIPT[language]
