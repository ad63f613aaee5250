# SPDX-License-Identifier: Apache-2.0
"""Card facts as constants: AIDs, file IDs, instructions, OIDs.

Every fact has one place, with its section of ``reference/jpki-card.md`` next
to it, so the driver code reads as steps and a reviewer checks facts here.
The host keeps its own copy of the subjectAltName OIDs: ``host/`` must not
import the simulator (STYLE §1).
"""

from __future__ import annotations

from typing import Final

from cryptography import x509

__all__ = [
    "CERT_ABSENT",
    "CLA_ISO",
    "CLA_PROPRIETARY",
    "DIGEST_INFO_SHA256_PREFIX",
    "FID_AUTH_CA_CERT",
    "FID_AUTH_CERT",
    "FID_AUTH_KEY",
    "FID_AUTH_PIN",
    "FID_BASIC_FOUR",
    "FID_CERT_AVAILABILITY",
    "FID_INTEGRITY",
    "FID_MY_NUMBER",
    "FID_SIGN_CA_CERT",
    "FID_SIGN_CERT",
    "FID_SIGN_KEY",
    "FID_SIGN_PIN",
    "FID_TEXT_PIN",
    "FID_TOKEN_INFO",
    "INS_CHANGE_REFERENCE_DATA",
    "INS_COMPUTE_SIGNATURE",
    "INS_READ_BINARY",
    "INS_SELECT",
    "INS_VERIFY",
    "JPKI_AID",
    "MAX_READ_OFFSET",
    "MINIMUM_APDUS_PER_FILE",
    "OID_SAN_ADDRESS",
    "OID_SAN_ADDRESS_SUBSTITUTE",
    "OID_SAN_BIRTH_DATE",
    "OID_SAN_GENDER",
    "OID_SAN_NAME",
    "OID_SAN_NAME_SUBSTITUTE",
    "SELECT_JPKI",
    "SHA256_DIGEST_LENGTH",
    "SURFACE_AID",
    "SURFACE_FID_CODE_A",
    "SURFACE_FID_CODE_B",
    "SURFACE_FID_FACE",
    "TAG_BASIC_FOUR",
    "TAG_BF_ADDRESS",
    "TAG_BF_BIRTH_DATE",
    "TAG_BF_NAME",
    "TAG_BF_OFFSETS",
    "TAG_BF_SEX",
    "TAG_FACE",
    "TAG_FACE_ADDRESS_IMAGE",
    "TAG_FACE_AP_KEY",
    "TAG_FACE_BIRTH_DATE",
    "TAG_FACE_CODE_IMAGE",
    "TAG_FACE_EXPIRY",
    "TAG_FACE_NAME_IMAGE",
    "TAG_FACE_OFFSETS",
    "TAG_FACE_PHOTO",
    "TAG_FACE_SEX",
    "TAG_FACE_SIGNATURE",
    "TAG_INTEGRITY",
    "TAG_INT_BASIC_FOUR_HASH",
    "TAG_INT_MY_NUMBER_HASH",
    "TAG_INT_SIGNATURE",
    "TAG_MY_NUMBER",
    "TEXT_AID",
    "TEXT_FID_CODE_A",
    "TEXT_FID_CODE_B",
    "TOKEN_LABEL_LENGTH",
]

# --- applications (§2) -------------------------------------------------------
#: 公的個人認証AP: certificates, keys, the two JPKI secrets.
JPKI_AID: Final = bytes.fromhex("D392F000260100000001")
#: 券面事項入力補助AP ("card-info AP"): My Number and the basic four items.
TEXT_AID: Final = bytes.fromhex("D3921000310001010408")
#: 券面事項確認AP ("card-surface AP"): the card face, signed, with the photo.
SURFACE_AID: Final = bytes.fromhex("D3921000310001010402")

# --- JPKI-AP files (§3.1) ----------------------------------------------------
FID_SIGN_CERT: Final = 0x0001  # needs the signing password first
FID_SIGN_CA_CERT: Final = 0x0002
FID_TOKEN_INFO: Final = 0x0006
#: Certificate availability, 3 bytes, readable without a PIN: byte 0 the signing
#: certificate, byte 1 the authentication one; ``8F`` present, ``00`` absent
#: (holders under 15 have no signing certificate). Single source (SOL), §3.1.
FID_CERT_AVAILABILITY: Final = 0x0008
CERT_ABSENT: Final = 0x00
FID_AUTH_CERT: Final = 0x000A
FID_AUTH_CA_CERT: Final = 0x000B
FID_AUTH_KEY: Final = 0x0017
FID_AUTH_PIN: Final = 0x0018
FID_SIGN_KEY: Final = 0x001A
FID_SIGN_PIN: Final = 0x001B
#: Readers use only the first 32 bytes of EF 0006: the space-padded label.
TOKEN_LABEL_LENGTH: Final = 32

# --- card-info AP files (§3.2) -----------------------------------------------
FID_MY_NUMBER: Final = 0x0001
FID_BASIC_FOUR: Final = 0x0002
FID_INTEGRITY: Final = 0x0003
FID_TEXT_PIN: Final = 0x0011
#: 照合番号A (the My Number) and B (14 digits) in the card-info AP: A opens
#: EF 0001 and 0003, B opens EF 0002 and 0003 (§3.2).
TEXT_FID_CODE_A: Final = 0x0014
TEXT_FID_CODE_B: Final = 0x0015

# --- card-surface AP files (§3.3) --------------------------------------------
#: The card face ``FF 20``, opened by 照合番号A or B.
SURFACE_FID_FACE: Final = 0x0002
SURFACE_FID_CODE_B: Final = 0x0012
SURFACE_FID_CODE_A: Final = 0x0013

# --- instructions (§4.1) -------------------------------------------------------
CLA_ISO: Final = 0x00
CLA_PROPRIETARY: Final = 0x80  # COMPUTE DIGITAL SIGNATURE is 80 2A
INS_SELECT: Final = 0xA4
INS_VERIFY: Final = 0x20
INS_CHANGE_REFERENCE_DATA: Final = 0x24
INS_READ_BINARY: Final = 0xB0
INS_COMPUTE_SIGNATURE: Final = 0x2A
#: READ BINARY offsets are 15 bits: P1 bit 8 set would mean a short EF ID.
MAX_READ_OFFSET: Final = 0x7FFF
#: SELECT the JPKI-AP by DF name, no response data (P2 0C). The cheapest real
#: command, so benchmarks time the host's own overhead with it.
SELECT_JPKI: Final = bytes([CLA_ISO, INS_SELECT, 0x04, 0x0C, len(JPKI_AID)]) + JPKI_AID
#: The protocol minimum of APDUs to read one EF: SELECT the application,
#: SELECT the file, one extended-length READ BINARY (the benchmarks' yardstick).
MINIMUM_APDUS_PER_FILE: Final = 3

# --- TLV tags of the card-info AP (§3.2) -----------------------------------
TAG_MY_NUMBER: Final = 0xFF10
TAG_BASIC_FOUR: Final = 0xFF20
TAG_BF_OFFSETS: Final = 0xDF21
TAG_BF_NAME: Final = 0xDF22
TAG_BF_ADDRESS: Final = 0xDF23
TAG_BF_BIRTH_DATE: Final = 0xDF24
TAG_BF_SEX: Final = 0xDF25
TAG_INTEGRITY: Final = 0xFF30
TAG_INT_MY_NUMBER_HASH: Final = 0xDF31
TAG_INT_BASIC_FOUR_HASH: Final = 0xDF32
TAG_INT_SIGNATURE: Final = 0xDF33

# --- TLV tags of the card-surface AP's card face (§3.3) ----------------------
TAG_FACE: Final = 0xFF20
TAG_FACE_OFFSETS: Final = 0xDF21
TAG_FACE_BIRTH_DATE: Final = 0xDF22  # YYYYMMDD
TAG_FACE_SEX: Final = 0xDF23  # one ISO/IEC 5218 digit
TAG_FACE_AP_KEY: Final = 0xDF24  # the AP's public key (90/91)
TAG_FACE_NAME_IMAGE: Final = 0xDF25  # 1-bit PNG
TAG_FACE_ADDRESS_IMAGE: Final = 0xDF26  # 1-bit PNG
TAG_FACE_PHOTO: Final = 0xDF27  # greyscale JPEG 2000
TAG_FACE_SIGNATURE: Final = 0xDF28  # covers DF22-DF27 only
TAG_FACE_EXPIRY: Final = 0xDF29  # YYYYMMDD, not signed
TAG_FACE_CODE_IMAGE: Final = 0xDF2A  # security code as a PNG, not signed

# --- signing (§4.1) -----------------------------------------------------------
#: DER DigestInfo header for SHA-256; the card adds PKCS#1 v1.5 type-1 padding.
DIGEST_INFO_SHA256_PREFIX: Final = bytes.fromhex("3031300D060960864801650304020105000420")
SHA256_DIGEST_LENGTH: Final = 32

# --- signing-certificate subjectAltName otherName type ids (§6) -------------
OID_SAN_NAME: Final = x509.ObjectIdentifier("1.2.392.200149.8.5.5.1")
OID_SAN_NAME_SUBSTITUTE: Final = x509.ObjectIdentifier("1.2.392.200149.8.5.5.2")
OID_SAN_GENDER: Final = x509.ObjectIdentifier("1.2.392.200149.8.5.5.3")
OID_SAN_BIRTH_DATE: Final = x509.ObjectIdentifier("1.2.392.200149.8.5.5.4")
OID_SAN_ADDRESS: Final = x509.ObjectIdentifier("1.2.392.200149.8.5.5.5")
OID_SAN_ADDRESS_SUBSTITUTE: Final = x509.ObjectIdentifier("1.2.392.200149.8.5.5.6")
