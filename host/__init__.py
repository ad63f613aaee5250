# SPDX-License-Identifier: Apache-2.0
"""The host agent that runs on the terminal PC.

Layers, each using only the one below (STYLE §1): ``transport`` (APDU
exchange), ``apdu``/``channel`` (encoding, chaining, status words), ``card``
(the JPKI driver), then flows, agent and api.
"""

__all__: list[str] = []
