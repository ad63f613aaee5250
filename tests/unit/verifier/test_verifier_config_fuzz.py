# SPDX-License-Identifier: Apache-2.0
"""Property tests for ``verifier.toml``: any document gives a config or ``ConfigError``.

Why: an operator's typo must stop the verifier with the typed error naming
the key, never a ``KeyError``/``TypeError`` from inside the loader, and
loading must not touch the disk.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.unit.host.test_agent_config_fuzz import toml_document
from verifier.config import VerifierConfig, load_config
from verifier.errors import ConfigError

_SECTIONS: dict[str, list[str]] = {
    "": ["listen", "database", "insecure_dev", "trust_dir", "issuer_master_key",
         "face_provider_key"],
    "tls": ["directory", "server_cert", "server_key", "terminal_ca", "terminal_ca_key",
            "revoked_terminals"],
    "revocation": ["crl_sources", "ocsp_urls", "crl_refresh_seconds", "ocsp_timeout_seconds"],
    "policy": ["transfer_threshold_yen", "nonce_ttl_seconds", "authorization_ttl_seconds",
               "reservation_ttl_seconds", "reset_policy", "otp_max_attempts",
               "idempotency_ttl_seconds"],
    "metrics": ["listen", "allow"],
}  # fmt: skip

_SCALARS = st.one_of(
    st.text(max_size=20),
    st.sampled_from(["otp", "reservation_only", "", "trust", "\x00", "http://127.0.0.1:1/"]),
    st.sampled_from(["9464", "0.0.0.0:9464", "[::1]:1", "10.0.0.0/8", "::/0", "host:"]),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(),
    st.booleans(),
)
_VALUES = st.recursive(
    _SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.dictionaries(st.sampled_from(["auth", "sign", "x"]) | st.text(max_size=5), inner,
                        max_size=3),
    ),
    max_leaves=6,
)  # fmt: skip


@st.composite
def documents(draw: st.DrawFn) -> dict[str, Any]:
    """A document made of known keys (and a few unknown ones) with random values."""
    data: dict[str, Any] = {}
    for _ in range(draw(st.integers(1, 6))):
        section = draw(st.sampled_from(list(_SECTIONS)))
        key = draw(st.sampled_from(_SECTIONS[section]) | st.text(min_size=1, max_size=8))
        value = draw(_VALUES)
        if section == "":
            data[key] = value
        elif draw(st.integers(0, 9)) == 0:
            data[section] = value  # a section that is not a table
        elif isinstance(data.get(section), dict):
            data[section][key] = value
        else:
            data[section] = {key: value}
    return data


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("verifiercfg")


def _load_only_typed(folder: Path, content: bytes) -> None:
    path = folder / "verifier.toml"
    path.write_bytes(content)
    before = sorted(p.name for p in folder.iterdir())
    try:
        config = load_config(path)
    except ConfigError:
        pass
    else:
        assert isinstance(config, VerifierConfig)
    assert sorted(p.name for p in folder.iterdir()) == before


_SETTINGS = settings(
    max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@_SETTINGS
@given(documents())
def test_random_values_give_only_config_error(folder: Path, data: dict[str, Any]) -> None:
    _load_only_typed(folder, toml_document(data).encode("utf-8"))


@_SETTINGS
@given(st.one_of(st.binary(max_size=200), st.text(max_size=200).map(str.encode)))
def test_random_documents_give_only_config_error(folder: Path, content: bytes) -> None:
    _load_only_typed(folder, content)


def test_a_wrong_type_is_refused_by_name(folder: Path) -> None:
    path = folder / "verifier.toml"
    path.write_text(toml_document({"policy": {"otp_max_attempts": "three"}}), encoding="utf-8")
    with pytest.raises(ConfigError, match=r"policy\.otp_max_attempts"):
        load_config(path)
