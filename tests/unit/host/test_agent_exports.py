# SPDX-License-Identifier: Apache-2.0
"""Curated ``__all__``, docstrings and licence lines of the agent packages (STYLE §9).

Covers ``host.client``, ``host.journal`` and ``host.flows``; the older host
modules are checked in ``tests/unit/hw_sim/test_module_exports.py``.
"""

from __future__ import annotations

import importlib
import inspect
from pathlib import Path

import pytest

MODULES = [
    "host.client",
    "host.client.canonical",
    "host.client.channel",
    "host.client.models",
    "host.client.translate",
    "host.client.verifier",
    "host.client.wire",
    "host.journal",
    "host.journal.ejournal",
    "host.journal.records",
    "host.journal.store",
    "host.flows",
    "host.flows.aml_record",
    "host.flows.codes",
    "host.flows.context",
    "host.flows.events",
    "host.flows.machine",
    "host.flows.pin_entry",
    "host.flows.ports",
    "host.flows.printer_port",
    "host.flows.reading",
    "host.flows.reconcile",
    "host.flows.reset",
    "host.flows.secure_entry",
    "host.card.issuer_reset",
    "host.api",
    "host.agent",
    "host.agent.cli",
    "host.agent.config",
    "host.agent.metrics",
    "host.agent.monitor",
    "host.agent.runner",
    "host.api.prompts",
    "host.api.server",
    "host.api.translate",
    "host.flows.settle",
    "host.flows.authorize_record",
    "host.flows.transfer",
    "host.flows.transfer_request",
    "host.flows.cash",
    "host.flows.receipt",
    "host.flows.issue",
    "host.flows.issue_effects",
    "host.flows.issue_paid",
    "host.flows.issue_request",
    "host.flows.issue_settle",
    "host.api.runtime",
    "host.api.status",
    "host.api.listener",
    "host.api.commands",
    "host.api.execute",
    "host.api.recovery",
    "myna_metrics",
    "myna_metrics.interceptors",
    "myna_metrics.listener",
]


@pytest.mark.parametrize("name", MODULES)
def test_all_is_in_sync(name: str) -> None:
    module = importlib.import_module(name)
    exported = list(module.__all__)
    assert len(set(exported)) == len(exported)
    assert exported == sorted(exported, key=lambda s: (not s.isupper(), s))
    for item in exported:
        assert hasattr(module, item), f"{name}.__all__ names missing {item}"
    defined = {
        attr
        for attr, value in vars(module).items()
        if not attr.startswith("_")
        and (inspect.isclass(value) or inspect.isfunction(value))
        and value.__module__ == name
    }
    assert defined <= set(exported), f"{name} does not export {defined - set(exported)}"


@pytest.mark.parametrize("name", MODULES)
def test_docstring_licence_and_size(name: str) -> None:
    module = importlib.import_module(name)
    assert module.__doc__
    assert len(module.__doc__) > 40
    source = Path(inspect.getfile(module)).read_text(encoding="utf-8")
    assert source.startswith("# SPDX-License-Identifier: Apache-2.0\n")
    assert source.count("\n") < 420
