# SPDX-License-Identifier: Apache-2.0
"""Where the simulator keeps what it generates: keys, certificates, card state.

RSA-2048 key generation costs tenths of a second a key, so keys and
certificates are generated on first use and cached here; card state (PIN
counters, changed PINs) lives here too, so a virtual card remembers between
runs as a real one does. Everything under this folder is test material.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["ENV_VAR", "sim_home"]

#: Environment variable that moves the simulator's folder (tests point it at a
#: temporary folder so that runs never share state by accident).
ENV_VAR = "MYNA_EDGE_SIM_HOME"


def sim_home(override: Path | str | None = None) -> Path:
    """Return the simulator's folder, creating it if needed.

    Args:
        override: a folder to use instead of the default.

    The default is ``$MYNA_EDGE_SIM_HOME``, else ``$XDG_CACHE_HOME/myna-edge/sim``,
    else ``~/.cache/myna-edge/sim``.
    """
    if override is not None:
        path = Path(override)
    elif os.environ.get(ENV_VAR):
        path = Path(os.environ[ENV_VAR])
    else:
        cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
        path = Path(cache) / "myna-edge" / "sim"
    path.mkdir(parents=True, exist_ok=True)
    return path
