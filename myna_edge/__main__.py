# SPDX-License-Identifier: Apache-2.0
"""``python -m myna_edge`` runs the ``myna-edge`` command."""

from myna_edge.cli import main

raise SystemExit(main())
