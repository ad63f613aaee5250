# SPDX-License-Identifier: Apache-2.0
"""Owner-only files shared by the agent and the verifier (``private``).

Why a package of its own: like ``myna_metrics``, it is code both sides need
while neither may import the other; it imports nothing of the project.
"""

from myna_files.private import PrivateFiles

__all__ = ["PrivateFiles"]
