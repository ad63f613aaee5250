# SPDX-License-Identifier: Apache-2.0
"""What a person at the terminal reads: one table, Japanese first, then English.

Why one table: the demo, the kiosk app (through the gateway) and an ATM
application (through the terminal API) must tell a person the same thing,
in the same words, and say what to do next. So every command that does not
succeed ends with a typed ``ResultCode`` (the API's ``CompletionReason``,
mapped by name) and a ``UserText``: a stable key and the text in Japanese
and English. Prompts carry a ``UserText`` too, and the transfer statement
is rendered here in both languages from the very fields the card signs
(``TransferStatement``; its canonical bytes are language-independent and do
not change). No text here ever carries a secret; the statement carries only
what the user typed into the ATM and agreed to.

Prompts, the statement, the fee and the receipt's words are in
``host.prompt_texts`` (the same rules; split for size, not by meaning).

Reasons come from three places and meet in ``result_code``: the flows'
failure codes (``host.flows.context.error_code``), the verifier's refusal
reasons (``REASON_*`` names without the prefix) and the transfer's own
ending (reversed, because the cash did not move).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Final

from host.card.pin_policy import PinKind

__all__ = [
    "FURIGANA",
    "Language",
    "ResultCode",
    "UserText",
    "language_of",
    "phone_result_text",
    "result_code",
    "result_text",
]


class Language(StrEnum):
    """The languages of the terminal's screens and receipts."""

    JA = "ja"
    EN = "en"


@dataclass(frozen=True)
class UserText:
    """A text for the person at the terminal: a stable key, Japanese and English."""

    key: str
    ja: str
    en: str

    def text(self, language: Language) -> str:
        """The text in ``language``."""
        return self.ja if language is Language.JA else self.en


class ResultCode(StrEnum):
    """Why a command did not succeed: one value per thing a person can act on."""

    NO_SIGNING_CERTIFICATE = "no_signing_certificate"
    SIGNING_PASSWORD_BLOCKED = "signing_password_blocked"  # noqa: S105 - a code name
    AUTH_PIN_BLOCKED = "auth_pin_blocked"
    CARD_INFO_PIN_BLOCKED = "card_info_pin_blocked"
    PIN_BLOCKED = "pin_blocked"  # which secret is not known
    NEW_SECRET_REJECTED = "new_secret_rejected"  # noqa: S105 - a code name
    CARD_REMOVED = "card_removed"
    CARD_REVOKED = "card_revoked"
    CARD_EXPIRED = "card_expired"
    CARD_NOT_ACCEPTED = "card_not_accepted"
    RESET_NOT_BOOKED = "reset_not_booked"
    RESET_BOOKING_EXPIRED = "reset_booking_expired"
    RESET_BOOKING_USED = "reset_booking_used"
    ONE_TIME_PASSWORD_REFUSED = "one_time_password_refused"  # noqa: S105 - a code name
    OUTSIDE_KIOSK_HOURS = "outside_kiosk_hours"
    TRANSFER_REFUSED = "transfer_refused"
    TRANSFER_REVERSED = "transfer_reversed"
    CANCELLED = "cancelled"
    TIMEOUT = "timeout"
    SERVICE_UNAVAILABLE = "service_unavailable"
    DEVICE_ERROR = "device_error"
    STORAGE_ERROR = "storage_error"
    REFUSED = "refused"  # another refusal of the verifier
    INTERNAL_ERROR = "internal_error"
    # The counter check (対面確認): the staff read these.
    CARD_FORGED = "card_forged"
    CARD_DATA_INCONSISTENT = "card_data_inconsistent"
    PHOTO_MISMATCH = "photo_mismatch"
    CARD_FACE_EXPIRED = "card_face_expired"
    VERIFICATION_CODE_BLOCKED = "verification_code_blocked"
    # Certificate issuance at the MFP (コンビニ交付).
    PAYMENT_TIMEOUT = "payment_timeout"
    PRINT_FAILED_REFUNDED = "print_failed_refunded"
    MUNICIPALITY_UNAVAILABLE = "municipality_unavailable"
    OUTSIDE_SERVICE_HOURS = "outside_service_hours"
    NOT_A_RESIDENT = "not_a_resident"
    NO_REGISTERED_SEAL = "no_registered_seal"
    DOCUMENT_NOT_OFFERED = "document_not_offered"
    COUNTER_ONLY = "counter_only"
    # Smartphones carrying JPKI certificates (issue 15); no try is spent for these.
    DECLINED_ON_PHONE = "declined_on_phone"
    PHONE_NO_ANSWER = "phone_no_answer"
    MANAGED_ON_PHONE = "managed_on_phone"
    NOT_ON_CREDENTIAL = "not_on_credential"
    CREDENTIAL_NOT_ALLOWED = "credential_not_allowed"


_STAFF_JA: Final = "係員をお呼びください。"
_STAFF_EN: Final = "Please call staff."
_KIOSK_JA: Final = (
    "コンビニエンスストアのマルチコピー機（暗証番号リセット）またはお住まいの市区町村の窓口で"
)
_KIOSK_EN: Final = "at a convenience-store kiosk (PIN reset) or at your municipal office"

#: ResultCode -> (Japanese, English). Each names the next step.
_RESULTS: Final[dict[ResultCode, tuple[str, str]]] = {
    ResultCode.NO_SIGNING_CERTIFICATE: (
        "このカードには署名用電子証明書がありません（15歳未満の方には発行されません）。"
        "本人確認は窓口で、身分証明書をお持ちのうえお手続きください。"
        "証明書の発行はお住まいの市区町村の窓口で申請できます。",
        "This card has no signing certificate (it is not issued to holders under 15). "
        "Please have your identity checked at a staffed counter with an identity document; "
        "your municipal office can issue the certificate.",
    ),
    ResultCode.SIGNING_PASSWORD_BLOCKED: (
        f"署名用電子証明書の暗証番号がロックされています。{_KIOSK_JA}再設定してください。",
        f"Your signing password is blocked. Reset it {_KIOSK_EN}.",
    ),
    ResultCode.AUTH_PIN_BLOCKED: (
        f"利用者証明用電子証明書の暗証番号がロックされています。{_KIOSK_JA}再設定してください。",
        f"Your user-authentication PIN is blocked. Reset it {_KIOSK_EN}.",
    ),
    ResultCode.CARD_INFO_PIN_BLOCKED: (
        "券面事項入力補助用の暗証番号がロックされています。"
        "お住まいの市区町村の窓口で再設定してください。",
        "Your card-info PIN is blocked. Have it reset at your municipal office.",
    ),
    ResultCode.PIN_BLOCKED: (
        "暗証番号がロックされています。お住まいの市区町村の窓口で再設定してください。",
        "This PIN is blocked. Have it reset at your municipal office.",
    ),
    ResultCode.NEW_SECRET_REJECTED: (
        "新しい暗証番号を設定できませんでした。決まりに合う暗証番号で、最初からやり直してください。",
        "The new PIN could not be set. Start again with a PIN that follows the rules.",
    ),
    ResultCode.CARD_REMOVED: (
        "カードが取り外されました。最初からやり直してください。",
        "The card was removed. Please start again.",
    ),
    ResultCode.CARD_REVOKED: (
        "このカードの電子証明書は失効しています。お住まいの市区町村の窓口で再発行してください。",
        "This card's certificate is revoked. Have it reissued at your municipal office.",
    ),
    ResultCode.CARD_EXPIRED: (
        "このカードの電子証明書は有効期限が切れています。"
        "お住まいの市区町村の窓口で更新してください。",
        "This card's certificate has expired. Have it renewed at your municipal office.",
    ),
    ResultCode.CARD_NOT_ACCEPTED: (
        f"このカードを確認できませんでした。{_STAFF_JA}",
        f"The card could not be verified. {_STAFF_EN}",
    ),
    ResultCode.RESET_NOT_BOOKED: (
        "再設定の予約が見つかりません。スマートフォンのアプリで予約してから、もう一度お試しください。",
        "No reset booking was found. Book the reset in the smartphone app, then try again.",
    ),
    ResultCode.RESET_BOOKING_EXPIRED: (
        "再設定の予約の有効期限（24時間）が過ぎています。アプリでもう一度予約してください。",
        "The reset booking has expired (24 hours). Book again in the smartphone app.",
    ),
    ResultCode.RESET_BOOKING_USED: (
        "この予約はすでに使われています。再設定が必要なら、アプリでもう一度予約してください。",
        "This booking was already used. To reset again, book again in the smartphone app.",
    ),
    ResultCode.ONE_TIME_PASSWORD_REFUSED: (
        "ワンタイムパスワードを確認できませんでした。アプリでもう一度予約してください。",
        "The one-time password was not accepted. Book again in the smartphone app.",
    ),
    ResultCode.OUTSIDE_KIOSK_HOURS: (
        "ただいまの時間は再設定できません（6:30〜23:00）。時間内にもう一度お越しください。",
        "Resets are not available now (06:30-23:00). Please come back within those hours.",
    ),
    ResultCode.TRANSFER_REFUSED: (
        "この振込は受け付けられませんでした。窓口でご相談ください。",
        "This transfer was not accepted. Please ask at a staffed counter.",
    ),
    ResultCode.TRANSFER_REVERSED: (
        "振込を取り消しました。お金は動いていません。",
        "The transfer was reversed: no money moved.",
    ),
    ResultCode.CANCELLED: (
        "手続きを取り消しました。必要なら最初からやり直してください。",
        "The procedure was cancelled. Start again if you wish.",
    ),
    ResultCode.TIMEOUT: (
        "時間切れになりました。最初からやり直してください。",
        "Time ran out. Please start again.",
    ),
    ResultCode.SERVICE_UNAVAILABLE: (
        "センターのサービスに接続できません。しばらくしてからもう一度お試しください。",
        "The central service cannot be reached. Please try again later.",
    ),
    ResultCode.DEVICE_ERROR: (
        f"機器の故障です。{_STAFF_JA}",
        f"A device failed. {_STAFF_EN}",
    ),
    ResultCode.STORAGE_ERROR: (
        f"端末の記録装置に問題があります。{_STAFF_JA}",
        f"The terminal's storage failed. {_STAFF_EN}",
    ),
    ResultCode.REFUSED: (
        f"センターで手続きが受け付けられませんでした。{_STAFF_JA}",
        f"The central service did not accept the procedure. {_STAFF_EN}",
    ),
    ResultCode.INTERNAL_ERROR: (
        f"手続きを完了できませんでした。{_STAFF_JA}",
        f"The procedure could not be completed. {_STAFF_EN}",
    ),
    ResultCode.CARD_FORGED: (
        "ICチップの券面情報の署名を確認できませんでした。偽造の疑いがあります。"
        "このカードでは本人確認をしないでください。",
        "The chip's card-face signature does not verify: the card may be forged. "
        "Do not accept it for the identity check.",
    ),
    ResultCode.CARD_DATA_INCONSISTENT: (
        "ICチップ内の券面情報と券面事項入力補助用の記録が一致しません。"
        "このカードでは本人確認をしないでください。",
        "The chip's card face and its text items disagree. "
        "Do not accept the card for the identity check.",
    ),
    ResultCode.PHOTO_MISMATCH: (
        "顔写真と本人が一致しないため、本人確認を完了しませんでした。"
        "他の本人確認書類でご確認ください。",
        "The person did not match the photo, so the check was not completed. "
        "Use another identity document.",
    ),
    ResultCode.CARD_FACE_EXPIRED: (
        "このカードは有効期限が切れています。お住まいの市区町村の窓口で更新してください。",
        "This card has expired. The holder can renew it at their municipal office.",
    ),
    ResultCode.VERIFICATION_CODE_BLOCKED: (
        "照合番号Bがロックされています。カードの持ち主がお住まいの市区町村の窓口で"
        "解除してください。",
        "Verification code B (shogo bango B) is blocked. "
        "The holder can have it unlocked at their municipal office.",
    ),
}

# The MFP's results, apart so the table above stays the other flows' (one dict).
_RESULTS.update(
    {
        ResultCode.PAYMENT_TIMEOUT: (
            "料金のお支払いが確認できませんでした。投入されたお金はお返ししました。"
            "もう一度最初からお手続きください。",
            "The fee was not paid in time. Any money inserted has been returned. "
            "Please start again.",
        ),
        ResultCode.PRINT_FAILED_REFUNDED: (
            "証明書を印刷できませんでした。料金はお返ししました（手数料はかかりません）。"
            f"{_STAFF_JA}",
            "The certificate could not be printed. Your fee has been returned (no charge). "
            f"{_STAFF_EN}",
        ),
        ResultCode.MUNICIPALITY_UNAVAILABLE: (
            "市区町村の証明書発行サービスに接続できません。料金はかかっていません。"
            "しばらくしてからもう一度お試しください。",
            "The municipality's certificate service cannot be reached. Nothing was charged. "
            "Please try again later.",
        ),
        ResultCode.OUTSIDE_SERVICE_HOURS: (
            "証明書のコンビニ交付は6時30分から23時まで（12月29日〜1月3日を除く）ご利用いただけます。",
            "Certificates can be issued from 6:30 to 23:00 (except 29 December to 3 January).",
        ),
        ResultCode.NOT_A_RESIDENT: (
            "この市区町村では、このカードの方の証明書を発行できません。"
            "住民登録のある市区町村の窓口でお尋ねください。",
            "This municipality cannot issue certificates for this card. "
            "Please ask at the municipal office where you are registered.",
        ),
        ResultCode.NO_REGISTERED_SEAL: (
            "印鑑登録がないため、印鑑登録証明書は発行できません。市区町村の窓口でお尋ねください。",
            "No seal is registered, so a seal-registration certificate cannot be issued. "
            "Please ask at your municipal office.",
        ),
        ResultCode.DOCUMENT_NOT_OFFERED: (
            "この証明書はコンビニ交付では発行できません。市区町村の窓口で請求してください。",
            "This certificate is not issued at stores. Please request it at your municipal office.",
        ),
        ResultCode.COUNTER_ONLY: (
            "この証明書は市区町村の窓口でのみ発行できます。",
            "This certificate can be issued only at the municipal office's counter.",
        ),
    }
)

# Smartphones (issue 15): what happened on the phone and where to go next.
_RESULTS.update(
    {
        ResultCode.DECLINED_ON_PHONE: (
            "スマートフォンで認証が取り消されました。暗証番号の試行回数は減っていません。"
            "もう一度最初からお手続きください。",
            "Authentication was declined on your phone. No PIN try was used. Please start again.",
        ),
        ResultCode.PHONE_NO_ANSWER: (
            "スマートフォンでの認証が確認できませんでした。暗証番号の試行回数は減っていません。"
            "スマートフォンで認証してから、もう一度お手続きください。",
            "Your phone did not confirm in time. No PIN try was used. "
            "Authenticate on your phone, then start again.",
        ),
        ResultCode.MANAGED_ON_PHONE: (
            "スマートフォン用電子証明書の暗証番号の変更・再設定は、この端末ではできません。"
            "スマートフォンのマイナポータルアプリで行ってください。試行回数は減っていません。",
            "The PINs of a smartphone certificate cannot be reset at this terminal. "
            "Please reset them on your phone, in the Mynaportal app. No try was used.",
        ),
        ResultCode.NOT_ON_CREDENTIAL: (
            "スマートフォンからは券面事項（氏名・住所・生年月日・性別）を読み取れません。"
            "マイナンバーカードをかざしてください。",
            "The card's text items (name, address, birth date, sex) cannot be read from a "
            "smartphone. Please use your My Number card.",
        ),
        ResultCode.CREDENTIAL_NOT_ALLOWED: (
            "この手続きにはスマートフォンは使えません。マイナンバーカードをかざしてください。",
            "A smartphone cannot be used for this service. Please use your My Number card.",
        ),
    }
)

#: Failure codes of the flows and refusal reasons of the verifier -> ResultCode.
_REASONS: Final[dict[str, ResultCode]] = {
    "no_signing_certificate": ResultCode.NO_SIGNING_CERTIFICATE,
    "card_removed": ResultCode.CARD_REMOVED,
    "cancelled": ResultCode.CANCELLED,
    "timeout": ResultCode.TIMEOUT,
    "service_unavailable": ResultCode.SERVICE_UNAVAILABLE,
    "device_error": ResultCode.DEVICE_ERROR,
    "storage_error": ResultCode.STORAGE_ERROR,
    "pin_policy": ResultCode.NEW_SECRET_REJECTED,
    "reversed": ResultCode.TRANSFER_REVERSED,
    "REVERSED": ResultCode.TRANSFER_REVERSED,
    "CERTIFICATE_REVOKED": ResultCode.CARD_REVOKED,
    "CERTIFICATE_EXPIRED": ResultCode.CARD_EXPIRED,
    "CERTIFICATE_NOT_YET_VALID": ResultCode.CARD_NOT_ACCEPTED,
    "CERTIFICATE_MALFORMED": ResultCode.CARD_NOT_ACCEPTED,
    "CERTIFICATE_UNTRUSTED": ResultCode.CARD_NOT_ACCEPTED,
    "SIGNATURE_INVALID": ResultCode.CARD_NOT_ACCEPTED,
    "ATTESTATION_INVALID": ResultCode.CARD_NOT_ACCEPTED,
    "REVOCATION_UNKNOWN": ResultCode.SERVICE_UNAVAILABLE,
    "RESERVATION_NOT_FOUND": ResultCode.RESET_NOT_BOOKED,
    "RESERVATION_OTHER_CARD": ResultCode.RESET_NOT_BOOKED,
    "RESERVATION_EXPIRED": ResultCode.RESET_BOOKING_EXPIRED,
    "RESERVATION_USED": ResultCode.RESET_BOOKING_USED,
    "OTP_WRONG": ResultCode.ONE_TIME_PASSWORD_REFUSED,
    "OTP_REQUIRED": ResultCode.ONE_TIME_PASSWORD_REFUSED,
    "TOO_MANY_ATTEMPTS": ResultCode.ONE_TIME_PASSWORD_REFUSED,
    "OUTSIDE_KIOSK_HOURS": ResultCode.OUTSIDE_KIOSK_HOURS,
    "IDENTITY_PROOF_REQUIRED": ResultCode.TRANSFER_REFUSED,
    "NONCE_EXPIRED": ResultCode.TIMEOUT,  # the person took too long: start again
    # A terminal's bug or a replay, nothing the person did: call staff.
    "NONCE_UNKNOWN": ResultCode.REFUSED,
    "NONCE_REPLAYED": ResultCode.REFUSED,
    "NONCE_OTHER_TERMINAL": ResultCode.REFUSED,
    "NONCE_WRONG_PURPOSE": ResultCode.REFUSED,
    # The counter check's reasons (host.flows.counter.CounterReason values).
    "card_face_forged": ResultCode.CARD_FORGED,
    "card_expired": ResultCode.CARD_FACE_EXPIRED,
    "card_data_inconsistent": ResultCode.CARD_DATA_INCONSISTENT,
    "photo_mismatch": ResultCode.PHOTO_MISMATCH,
    "certificate_refused": ResultCode.CARD_REVOKED,
    # Certificate issuance (host.flows.codes FailureCode / IssueRefusal values).
    "payment_timeout": ResultCode.PAYMENT_TIMEOUT,
    "print_failed": ResultCode.PRINT_FAILED_REFUNDED,
    "MUNICIPALITY_UNAVAILABLE": ResultCode.MUNICIPALITY_UNAVAILABLE,
    "OUTSIDE_SERVICE_HOURS": ResultCode.OUTSIDE_SERVICE_HOURS,
    "NOT_A_RESIDENT": ResultCode.NOT_A_RESIDENT,
    "NO_REGISTERED_SEAL": ResultCode.NO_REGISTERED_SEAL,
    "DOCUMENT_NOT_OFFERED": ResultCode.DOCUMENT_NOT_OFFERED,
    "COUNTER_ONLY": ResultCode.COUNTER_ONLY,
    "FEE_CHANGED": ResultCode.TIMEOUT,  # the fee changed while shown: start again
    # Smartphones (host.flows.codes FailureCode values).
    "declined_on_phone": ResultCode.DECLINED_ON_PHONE,
    "phone_no_answer": ResultCode.PHONE_NO_ANSWER,
    "managed_on_phone": ResultCode.MANAGED_ON_PHONE,
    "not_on_credential": ResultCode.NOT_ON_CREDENTIAL,
    "CREDENTIAL_NOT_ALLOWED": ResultCode.CREDENTIAL_NOT_ALLOWED,
}
_BLOCKED: Final = {
    PinKind.SIGN: ResultCode.SIGNING_PASSWORD_BLOCKED,
    PinKind.AUTH: ResultCode.AUTH_PIN_BLOCKED,
    PinKind.TEXT: ResultCode.CARD_INFO_PIN_BLOCKED,
}
#: ``Outcome`` values (host.flows.events; strings here so this table sits below the flows).
_CANCELLED: Final = "cancelled"
_REFUSED: Final = "refused"
_COMPLETED: Final = "completed"


def result_code(outcome: str, reason: str, *, pin: PinKind | None = None) -> ResultCode | None:
    """The typed code of a flow's ending; None when it succeeded.

    Args:
        outcome: the flow's ``Outcome`` (completed, refused, cancelled, failed).
        reason: its failure code or the verifier's reason.
        pin: the secret a ``pin_blocked`` failure concerns, when known.
    """
    if outcome == _COMPLETED:
        return None
    if reason == "pin_blocked":
        return _BLOCKED.get(pin, ResultCode.PIN_BLOCKED) if pin else ResultCode.PIN_BLOCKED
    if reason in _REASONS:
        return _REASONS[reason]
    if outcome == _CANCELLED:
        return ResultCode.CANCELLED
    return ResultCode.REFUSED if outcome == _REFUSED else ResultCode.INTERNAL_ERROR


def result_text(code: ResultCode) -> UserText:
    """The message for ``code``: what happened and what to do next."""
    ja, en = _RESULTS[code]
    return UserText(f"result.{code.value}", ja, en)


#: Where a smartphone's holder goes instead (issue 15): the phone's certificates are
#: renewed and registered again on the phone, not at the municipal office's counter.
_PHONE_RESULTS: Final[dict[ResultCode, tuple[str, str]]] = {
    ResultCode.CARD_REVOKED: (
        "このスマートフォンの電子証明書は失効しています。紛失や機種変更の届出をされた場合は、"
        "お手元のスマートフォンのマイナポータルアプリから改めて登録してください。",
        "This smartphone's certificate is revoked. If you reported the phone lost or changed "
        "phones, register again on your phone in the Mynaportal app.",
    ),
    ResultCode.CARD_EXPIRED: (
        "このスマートフォンの電子証明書は有効期限が切れています。"
        "スマートフォンのマイナポータルアプリから更新してください。",
        "This smartphone's certificate has expired. Renew it on your phone in the Mynaportal app.",
    ),
    # An Android phone's PIN and password are its own, reset on the phone, never at a kiosk.
    ResultCode.SIGNING_PASSWORD_BLOCKED: (
        "スマートフォンに設定した署名用の暗証番号がロックされています。"
        "スマートフォンのマイナポータルアプリで再設定してください。",
        "The signing password you set on your phone is blocked. "
        "Reset it on your phone, in the Mynaportal app.",
    ),
    ResultCode.AUTH_PIN_BLOCKED: (
        "スマートフォンに設定した利用者証明用の暗証番号がロックされています。"
        "スマートフォンのマイナポータルアプリで再設定してください。",
        "The PIN you set on your phone for user authentication is blocked. "
        "Reset it on your phone, in the Mynaportal app.",
    ),
}


def phone_result_text(code: ResultCode) -> UserText | None:
    """The message for ``code`` when a smartphone was presented, where it differs; else None."""
    texts = _PHONE_RESULTS.get(code)
    if texts is None:
        return None
    return UserText(f"result.{code.value}.phone", *texts)


#: Readings (furigana) of the hard terms in these texts and the kiosk app's, for
#: screens that show ``<ruby>`` (JIS X 8341-3 / WCAG 3.1.3, 3.1.5: many users are
#: elderly). The app marks the first occurrence of each term in a text, longest first.
FURIGANA: Final[dict[str, str]] = {
    "券面事項入力補助用": "けんめんじこうにゅうりょくほじょよう",
    "利用者証明用電子証明書": "りようしゃしょうめいようでんししょうめいしょ",
    "利用者証明用": "りようしゃしょうめいよう",
    "署名用電子証明書": "しょめいようでんししょうめいしょ",
    "暗証番号": "あんしょうばんごう",
    "市区町村": "しくちょうそん",
    "失効": "しっこう",
    "有効期限": "ゆうこうきげん",
    "依頼人": "いらいにん",
    "入金口": "にゅうきんぐち",
    "窓口": "まどぐち",
    "照合番号": "しょうごうばんごう",
}


def language_of(value: object) -> Language:
    """The language a journaled or requested value names; English for anything else.

    English is the fallback because receipts printed before languages were
    recorded were English: a recovery print of such a transfer matches them.
    """
    try:
        return Language(str(value))
    except ValueError:
        return Language.EN
