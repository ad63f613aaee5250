# SPDX-License-Identifier: Apache-2.0
"""ECDSA P-256 signature verification (FIPS 186-5) in plain MicroPython.

Why here and why this curve: neither MicroPython port (unix, rp2) has an
asymmetric primitive, but both have ``hashlib.sha256`` (in C, and in
hardware on newer RP2 parts) and arbitrary-precision integers with a
three-argument ``pow``. ECDSA P-256 needs exactly those; Ed25519 would also
need SHA-512, which MicroPython lacks and would have to be written in Python
too. Verification handles only public data (key, digest, signature), so the
variable-time integer arithmetic leaks nothing secret. Points are kept in
Jacobian coordinates so the whole check costs one field inversion and one
inversion mod n; u1*G + u2*Q is one double-and-add pass (Shamir's trick).
"""

try:
    from micropython import const
except ImportError:  # pragma: no cover - CPython tooling
    def const(value):  # type: ignore[misc]
        return value

_P = const(0xFFFFFFFF00000001000000000000000000000000FFFFFFFFFFFFFFFFFFFFFFFF)
_N = const(0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551)
_B = const(0x5AC635D8AA3A93E7B3EBBD55769886BC651D06B0CC53B0F63BCE3C3E27D2604B)
_GX = const(0x6B17D1F2E12C4247F8BCE6E563A440F277037D812DEB33A0F4A13945D898C296)
_GY = const(0x4FE342E2FE1A7F9B8EE7EB4A7C0F9E162BCE33576B315ECECBB6406837BF51F5)


def _double(pt):
    # dbl-2001-b (a = -3); None is the point at infinity.
    if pt is None:
        return None
    x, y, z = pt
    if y == 0:
        return None
    p = _P
    delta = z * z % p
    gamma = y * y % p
    beta = x * gamma % p
    alpha = 3 * (x - delta) * (x + delta) % p
    x3 = (alpha * alpha - 8 * beta) % p
    z3 = ((y + z) * (y + z) - gamma - delta) % p
    y3 = (alpha * (4 * beta - x3) - 8 * gamma * gamma) % p
    return (x3, y3, z3)


def _add(a, b):
    # add-2007-bl, falling back to doubling for equal points.
    if a is None:
        return b
    if b is None:
        return a
    p = _P
    x1, y1, z1 = a
    x2, y2, z2 = b
    z1z1 = z1 * z1 % p
    z2z2 = z2 * z2 % p
    u1 = x1 * z2z2 % p
    u2 = x2 * z1z1 % p
    s1 = y1 * z2 * z2z2 % p
    s2 = y2 * z1 * z1z1 % p
    h = (u2 - u1) % p
    r = 2 * (s2 - s1) % p
    if h == 0:
        return _double(a) if r == 0 else None
    i = 4 * h * h % p
    j = h * i % p
    v = u1 * i % p
    x3 = (r * r - j - 2 * v) % p
    y3 = (r * (v - x3) - 2 * s1 * j) % p
    z3 = ((z1 + z2) * (z1 + z2) - z1z1 - z2z2) * h % p
    return (x3, y3, z3)


def _on_curve(x, y):
    p = _P
    return 0 <= x < p and 0 <= y < p and (y * y - (x * x * x - 3 * x + _B)) % p == 0


def public_key_valid(point):
    """True for a 65-byte uncompressed SEC1 point (04 X Y) on the curve."""
    if len(point) != 65 or point[0] != 4:
        return False
    return _on_curve(int.from_bytes(point[1:33], "big"), int.from_bytes(point[33:65], "big"))


def verify(point, digest, signature):
    """True when ``signature`` (r || s, 64 bytes) signs the 32-byte ``digest`` under ``point``.

    ``point`` is the 65-byte uncompressed public key. Never raises on bad
    input: anything malformed simply does not verify.
    """
    if len(signature) != 64 or len(digest) != 32 or not public_key_valid(point):
        return False
    n = _N
    r = int.from_bytes(signature[:32], "big")
    s = int.from_bytes(signature[32:], "big")
    if not (0 < r < n and 0 < s < n):
        return False
    e = int.from_bytes(digest, "big") % n
    w = pow(s, n - 2, n)
    u1 = e * w % n
    u2 = r * w % n
    g = (_GX, _GY, 1)
    q = (int.from_bytes(point[1:33], "big"), int.from_bytes(point[33:65], "big"), 1)
    gq = _add(g, q)
    acc = None
    for bit in range(255, -1, -1):
        acc = _double(acc)
        pick = ((u1 >> bit) & 1) | (((u2 >> bit) & 1) << 1)
        if pick == 1:
            acc = _add(acc, g)
        elif pick == 2:
            acc = _add(acc, q)
        elif pick == 3:
            acc = _add(acc, gq)
    if acc is None:
        return False
    x, _y, z = acc
    zinv = pow(z, _P - 2, _P)
    return (x * zinv * zinv % _P) % n == r
