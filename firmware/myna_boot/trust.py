# SPDX-License-Identifier: Apache-2.0
"""The trust anchor: the one key whose images this board runs, and its board type.

Part of the boot platform (never of an update image). The key below is the
public half of ``firmware/keys/test-signing-key.pem``, the *test* key the
simulator and the tests sign with; a production build replaces this file
with the output of ``myna-edge firmware keygen`` for the offline release key
(docs/firmware-updates.md, "Keys").
"""

#: SEC1 uncompressed P-256 point (04 || X || Y) of the release key.
PUBLIC_KEY = bytes.fromhex(
    "04c81ce53801ead3473f4dfadf59777b8afa0a18205a355540a4ac3c1ef41e82"
    "45137383369be9c0585b9e4a6286d573e8cad45050ad3da5ba83e337b3334a48"
    "45"
)

#: Images name the board family they are built for; others are refused.
BOARD_TYPE = "myna-pinpad-1"

#: Security counter of the factory (frozen) firmware: the floor before any update.
FACTORY_COUNTER = 0
