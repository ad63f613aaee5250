# SPDX-License-Identifier: Apache-2.0
"""Channel configuration: mTLS by default, retry policy only for listed idempotent methods."""

from __future__ import annotations

import json

import pytest

from host.client import RETRYABLE_METHODS, ClientConfig
from host.client.channel import SERVICE_NAME, service_config
from myna.edge.v1 import verifier_pb2 as pb


def test_plaintext_needs_the_explicit_dev_flag() -> None:
    with pytest.raises(ValueError, match="insecure_dev"):
        ClientConfig("127.0.0.1:1", "atm-01")
    assert ClientConfig("127.0.0.1:1", "atm-01", insecure_dev=True).insecure_dev


def test_key_material_is_not_in_the_repr() -> None:
    config = ClientConfig(
        "127.0.0.1:1", "atm-01", ca_pem=b"CA", certificate_pem=b"CERT", key_pem=b"PRIVATE-KEY-X"
    )
    assert "PRIVATE-KEY-X" not in repr(config)


@pytest.mark.parametrize("kwargs", [{"timeout": 0}, {"max_attempts": 6}, {"max_attempts": 0}])
def test_bad_options_are_refused(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError, match=r"timeout|max_attempts"):
        ClientConfig("127.0.0.1:1", "atm-01", insecure_dev=True, **kwargs)  # type: ignore[arg-type]


def test_service_config_retries_only_unavailable_for_listed_methods() -> None:
    config = ClientConfig("x:1", "atm-01", insecure_dev=True, max_attempts=3)
    parsed = json.loads(service_config(config))
    (method_config,) = parsed["methodConfig"]
    assert method_config["retryPolicy"]["retryableStatusCodes"] == ["UNAVAILABLE"]
    assert method_config["retryPolicy"]["maxAttempts"] == 3
    names = {n["method"] for n in method_config["name"]}
    assert names == set(RETRYABLE_METHODS)
    assert {n["service"] for n in method_config["name"]} == {SERVICE_NAME}


def test_every_retryable_method_is_idempotent() -> None:
    service = pb.DESCRIPTOR.services_by_name["VerifierService"]
    for name in RETRYABLE_METHODS:
        fields = service.methods_by_name[name].input_type.fields_by_name
        # state-changing calls carry a key; CheckRevocation only reads
        assert "idempotency_key" in fields or name == "CheckRevocation", name
