# SPDX-License-Identifier: Apache-2.0
"""The central verification service (grpc.aio server).

Empty until the verifier issue lands: the package exists now so that the
folder layout shows the architecture of DESIGN.md, and so that the
dependency rule (``verifier`` never imports ``hw_sim``) is checked by ruff
from the first commit.
"""

__all__: list[str] = []
