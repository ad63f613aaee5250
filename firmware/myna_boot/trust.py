# SPDX-License-Identifier: Apache-2.0
"""The trust anchors: the signing authorities whose images this board runs, and its board type.

Part of the boot platform (never of an update image). An image names its
signer by key id (first 8 bytes of SHA-256 of the point) and must verify
under that key. The board's PIN keys belong to one authority: an image by
another listed authority (a key rollover, or a change of owner) runs only
after the boot selector has erased them (``myna_boot/boot.py``), so code
vouched for by a new authority never sees keys injected under the old one.

The keys below are the public halves of ``firmware/keys/test-signing-key.pem``
and ``test-signing-key-2.pem``, TEST keys that the simulator and the tests
sign with. A production build replaces this file with the output of
``myna-edge firmware keygen`` for the offline release key(s)
(docs/firmware-updates.md, "Keys").
"""

#: SEC1 uncompressed P-256 points (04 || X || Y); the first signed the factory firmware.
PUBLIC_KEYS = (
    # TEST ONLY: firmware/keys/test-signing-key.pem
    bytes.fromhex(
        "04c81ce53801ead3473f4dfadf59777b8afa0a18205a355540a4ac3c1ef41e82"
        "45137383369be9c0585b9e4a6286d573e8cad45050ad3da5ba83e337b3334a48"
        "45"
    ),
    # TEST ONLY: firmware/keys/test-signing-key-2.pem (a second authority)
    bytes.fromhex(
        "04135603ce53b180f9bd723d35897cecda050763a1d2ada7d1f022949aaabd21"
        "afb16b712a75dbc55f45f63d2988fad69aabaa44cf72caa1f527fa5ed45489c3"
        "eb"
    ),
)

#: Images name the board family they are built for; others are refused.
BOARD_TYPE = "myna-pinpad-1"

#: Security counter of the factory (frozen) firmware: the floor before any update.
FACTORY_COUNTER = 0
