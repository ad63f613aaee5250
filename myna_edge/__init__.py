# SPDX-License-Identifier: Apache-2.0
"""The ``myna-edge`` command: one entry point that composes the components.

It sits above ``host``, ``hw_sim`` and ``verifier`` so that none of them has
to import another to offer its subcommands: the host never imports the
simulator (except in its ``sim://`` backend), yet ``myna-edge sim cards`` and
``myna-edge read`` live under one command.
"""

__all__ = ["__version__"]

__version__ = "0.1.0"
