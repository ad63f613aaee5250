# SPDX-License-Identifier: Apache-2.0
"""The central verification service (grpc.aio server).

Decides what terminals may not decide alone: is this card genuine and not
revoked, may this PIN be reset, may this transfer go ahead. Layers:
``service`` (gRPC glue: identity, validation, idempotency) over
``translate``/``wire`` (protos <-> domain, enums mapped once) over the
domain, ``sessions``, ``readings``, ``resets`` and ``transfers`` (the rules,
on ``core`` and ``storage`` only), over ``pki``, ``revocation`` and
``storage``. The rules are written down in ``verifier/README.md``. The
package never imports ``hw_sim`` (ruff TID251).
"""

__all__: list[str] = []
