# SPDX-License-Identifier: Apache-2.0
"""Property tests for ``terminal.toml``: any document gives a config or ``AgentConfigError``.

Why: the file is typed by hand on a kiosk; whatever is in it, start-up must
stop with the typed error that names the key, never a ``KeyError`` or a
``TypeError`` from deep inside, and reading it must change nothing on disk.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from host.agent import AgentConfig, load_agent_config
from host.errors import AgentConfigError

_KEYS = [
    "profile", "terminal_id", "reader", "printer", "listen", "journal", "electronic_journal",
    "reset_otp_first", "transfer_threshold_yen", "controller", "controller_key",
    "kiosk_hours", "recovery_answer_seconds",
]  # fmt: skip
_METRICS_KEYS = ["listen", "allow"]
_VERIFIER_KEYS = [
    "target", "targets", "ca", "certificate", "key", "insecure_dev", "timeout", "server_name",
]  # fmt: skip

_GOOD: dict[str, Any] = {
    "profile": "atm",
    "terminal_id": "atm-01",
    "reader": "sim://default",
    "listen": "127.0.0.1:0",
    "journal": "state/journal.sqlite",
    "verifier": {
        "target": "127.0.0.1:50051",
        "ca": "ca.pem",
        "certificate": "cert.pem",
        "key": "key.pem",
    },
}

_FLOATS = st.floats(allow_nan=True, allow_infinity=True)
_SCALARS = st.one_of(
    st.text(max_size=20),
    st.sampled_from(["atm", "kiosk", "ca.pem", "unix:", "127.0.0.1:99999", "06:00-25:61", "\x00"]),
    st.sampled_from(["9465", "0.0.0.0:9465", "[::1]:1", "10.0.0.0/8", "::/0", "host:"]),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    _FLOATS,
    st.booleans(),
)
_VALUES = st.recursive(
    _SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=6,
)


def _key(name: str) -> str:
    return '"' + "".join(_char(c) for c in name) + '"'


def _char(c: str) -> str:
    if " " <= c <= "~" and c not in '"\\':
        return c
    return f"\\U{ord(c):08X}"


def toml_value(value: Any) -> str:
    """Inline TOML for ``value`` (strings always escaped, floats spelled out)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if value != value:
            return "nan"
        if value in (float("inf"), float("-inf")):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, str):
        return _key(value)
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    return "{" + ", ".join(f"{_key(k)} = {toml_value(v)}" for k, v in value.items()) + "}"


def toml_document(data: dict[str, Any]) -> str:
    """A TOML document with every top-level key as ``key = inline value``."""
    return "".join(f"{_key(k)} = {toml_value(v)}\n" for k, v in data.items())


@st.composite
def mutated(draw: st.DrawFn) -> dict[str, Any]:
    """The good document with some keys replaced, removed or added."""
    data = {**_GOOD, "verifier": dict(_GOOD["verifier"])}
    for _ in range(draw(st.integers(1, 4))):
        where = draw(st.sampled_from(["top", "verifier", "metrics", "drop", "extra"]))
        if where == "top":
            data[draw(st.sampled_from(_KEYS))] = draw(_VALUES)
        elif where == "verifier":
            section = data.setdefault("verifier", {})  # it may have been dropped
            section[draw(st.sampled_from(_VERIFIER_KEYS))] = draw(_VALUES)
        elif where == "metrics":
            metrics = data.setdefault("metrics", {})
            if not isinstance(metrics, dict):
                metrics = data["metrics"] = {}
            metrics[draw(st.sampled_from(_METRICS_KEYS))] = draw(_VALUES)
        elif where == "drop":
            data.pop(draw(st.sampled_from([*_KEYS, "verifier"])), None)
        else:
            data[draw(st.text(min_size=1, max_size=10))] = draw(_VALUES)
    return data


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("agentcfg")
    for name in ("ca.pem", "cert.pem", "key.pem"):
        (base / name).write_bytes(b"PEM " + name.encode())
    return base


def _load_only_typed(folder: Path, content: bytes) -> None:
    path = folder / "terminal.toml"
    path.write_bytes(content)
    before = sorted(p.name for p in folder.iterdir())
    try:
        config = load_agent_config(path)
    except AgentConfigError:
        pass
    else:
        assert isinstance(config, AgentConfig)
    assert sorted(p.name for p in folder.iterdir()) == before


_SETTINGS = settings(
    max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def test_good_document_loads(folder: Path) -> None:
    path = folder / "terminal.toml"
    path.write_text(toml_document(_GOOD), encoding="utf-8")
    assert load_agent_config(path).terminal_id == "atm-01"


@_SETTINGS
@given(mutated())
def test_random_values_give_only_agent_config_error(folder: Path, data: dict[str, Any]) -> None:
    _load_only_typed(folder, toml_document(data).encode("utf-8"))


@_SETTINGS
@given(st.one_of(st.binary(max_size=200), st.text(max_size=200).map(str.encode)))
def test_random_documents_give_only_agent_config_error(folder: Path, content: bytes) -> None:
    _load_only_typed(folder, content)


@pytest.mark.parametrize("key", ["ca", "certificate", "key"])
def test_nul_in_a_material_path_is_a_config_error(folder: Path, key: str) -> None:
    data = {**_GOOD, "verifier": {**_GOOD["verifier"], key: "bad\x00name"}}
    path = folder / "terminal.toml"
    path.write_text(toml_document(data), encoding="utf-8")
    with pytest.raises(AgentConfigError, match=rf"verifier\.{key}"):
        load_agent_config(path)
