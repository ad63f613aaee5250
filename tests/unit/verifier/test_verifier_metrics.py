# SPDX-License-Identifier: Apache-2.0
"""``verifier.metrics``: a real server with ``[metrics]`` counts verdicts, calls, revocation.

Counters are process-wide (other tests' servers count too), so each check
is a difference before/after; the scrape reads the text exposition over
HTTP from the server's own listener.
"""

from __future__ import annotations

import dataclasses
import os
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, utils
from prometheus_client import REGISTRY

from hw_sim.home import sim_home
from hw_sim.pki import TestPki
from myna.edge.v1 import verifier_pb2 as pb
from myna_metrics import MetricsConfig
from tests.verifier_support import ServerThread, VerifierEnv, make_env
from verifier.canonical import card_challenge_digest
from verifier.config import load_config, with_metrics
from verifier.errors import ConfigError
from verifier.metrics import MeteredRevocation, supervisor_metrics

TERMINAL = "atm-07"


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> VerifierEnv:
    return make_env(tmp_path_factory.mktemp("verifier-metrics"))


@pytest.fixture
def server(env: VerifierEnv) -> Iterator[ServerThread]:
    config = dataclasses.replace(env.config(), metrics=MetricsConfig("127.0.0.1:0"))
    thread = ServerThread(config).start()
    yield thread
    thread.stop()


def _value(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_verdicts_calls_and_revocation_are_counted(env: VerifierEnv, server: ServerThread) -> None:
    accepted = {"method": "VerifyCard", "verdict": "ACCEPTED", "reason": "OK"}
    calls = {
        "grpc_type": "unary",
        "grpc_service": "myna.edge.v1.VerifierService",
        "grpc_method": "VerifyCard",
        "grpc_code": "OK",
    }
    good = {"kind": "auth", "source": "CRL", "status": "GOOD"}
    before = (
        _value("myna_verifier_verdicts_total", **accepted),
        _value("grpc_server_handled_total", **calls),
        _value("myna_verifier_revocation_checks_total", **good),
    )
    assert isinstance(server.core.revocation, MeteredRevocation)
    key = TestPki.open(sim_home() / "pki").holder_key("default-auth")
    der = (sim_home() / "cards" / "default" / "auth-cert.der").read_bytes()
    answers = []
    with server.stub(env.credentials(TERMINAL)) as stub:
        for index in range(4):  # three good cards, then a forged signature
            session = stub.OpenSession(
                pb.OpenSessionRequest(
                    purpose=pb.SESSION_PURPOSE_CARD_VERIFICATION, idempotency_key=f"m-o{index}"
                ),
                timeout=10,
            )
            digest = card_challenge_digest(
                "SESSION_PURPOSE_CARD_VERIFICATION", TERMINAL, session.nonce
            )
            signature = key.sign(digest, padding.PKCS1v15(), utils.Prehashed(hashes.SHA256()))
            if index == 3:
                signature = bytes(len(signature))
            request = pb.VerifyCardRequest(
                session_id=session.session_id,
                terminal_id=TERMINAL,
                proof=pb.CardProof(certificate_der=der, signature=signature),
                idempotency_key=f"m-v{index}",
            )
            answers.append(stub.VerifyCard(request, timeout=10))
    assert [a.verdict for a in answers] == [pb.VERDICT_ACCEPTED] * 3 + [pb.VERDICT_REJECTED]
    assert _value("myna_verifier_verdicts_total", **accepted) - before[0] == 3
    reason = pb.Reason.Name(answers[3].reason).removeprefix("REASON_")
    rejected = {"method": "VerifyCard", "verdict": "REJECTED", "reason": reason}
    assert _value("myna_verifier_verdicts_total", **rejected) >= 1
    assert _value("grpc_server_handled_total", **calls) - before[1] == 4
    assert _value("myna_verifier_revocation_checks_total", **good) - before[2] >= 1
    assert server.server.metrics is not None
    listener = server.server.metrics.listener
    assert listener is not None
    url = f"http://127.0.0.1:{listener.port}/metrics"
    with urllib.request.urlopen(url, timeout=5) as answer:
        text = answer.read().decode()
    line = 'myna_verifier_verdicts_total{method="VerifyCard",reason="OK",verdict="ACCEPTED"}'
    assert line in text
    assert TERMINAL not in text  # no terminal id, serial or name in any label
    assert answers[0].certificate_serial not in text


def test_metrics_key_and_flag(tmp_path: Path) -> None:
    path = tmp_path / "verifier.toml"
    path.write_text('[metrics]\nlisten = "9464"\n', encoding="utf-8")
    config = load_config(path)
    assert config.metrics == MetricsConfig("9464")
    assert with_metrics(config, "127.0.0.1:9999").metrics == MetricsConfig("127.0.0.1:9999")
    with pytest.raises(ConfigError, match=r"--metrics: .*metrics\.allow"):
        with_metrics(config, "0.0.0.0:9464")
    path.write_text('[metrics]\nlisten = "0.0.0.0:9464"\nallow = ["10.0.0.0/8"]\n')
    allowed = with_metrics(load_config(path), "192.0.2.1:1")
    assert allowed.metrics == MetricsConfig("192.0.2.1:1", ("10.0.0.0/8",))
    assert load_config(None).metrics is None


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ('[metrics]\nlisten = "0.0.0.0:9464"\n', r"metrics: .*metrics\.allow"),
        ('[metrics]\nlisten = "x:99999"\n', r"metrics: .*port"),
        ("[metrics]\nlisten = 9464\n", r"metrics\.listen"),
        ("[metrics]\nallow = []\n", r"listen"),
        ('[metrics]\nlisten = "1"\nallow = ["nope"]\n', r"metrics: .*IP networks"),
        ('[metrics]\nlisten = "1"\nport = 3\n', r"metrics\.port: unknown key"),
    ],
)
def test_bad_metrics_sections(tmp_path: Path, text: str, match: str) -> None:
    path = tmp_path / "verifier.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError, match=match):
        load_config(path)


def test_supervisor_sets_and_clears_the_multiprocess_folder() -> None:
    config = load_config(None, metrics=MetricsConfig("127.0.0.1:0"))
    assert "PROMETHEUS_MULTIPROC_DIR" not in os.environ
    with supervisor_metrics(config, lambda: 3):
        folder = Path(os.environ["PROMETHEUS_MULTIPROC_DIR"])
        assert folder.is_dir()
    assert "PROMETHEUS_MULTIPROC_DIR" not in os.environ
    assert not folder.exists()
