# SPDX-License-Identifier: Apache-2.0
"""The centre's issuance metrics: answers by state and refusal, the outbox backlog and its lag.

Why the domain test's fixtures: the backlog is read from the real storage
after the real outbox delivered (or failed to); the counters are
process-wide, so each assertion is a delta.
"""

from __future__ import annotations

import asyncio

from prometheus_client import REGISTRY

from myna.edge.v1 import issuance_pb2 as ipb
from tests.unit.verifier import test_issuance as domain
from tests.verifier_support import MutableClock
from verifier import issuance_metrics, issuance_outbox, issuance_requests, metrics
from verifier.core import Core
from verifier.issuance_codes import PrintFailure

_SERVICE = "/myna.edge.v1.IssuanceService/"
# The domain tests' fixtures (a core with [issuance] and outbox_max_attempts=3).
env, hours, core = domain.env, domain.hours, domain.core


def _value(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_answers_are_counted_by_method_state_and_refusal() -> None:
    hooks = metrics.observers()  # the verifier's interceptor carries the issuance hooks
    requests = "myna_verifier_issuance_requests_total"
    refusals = "myna_verifier_issuance_refusals_total"
    issued = _value(requests, method="RequestDocument", state="ISSUED")
    charged = _value(requests, method="ConfirmPrinted", state="CHARGED")
    lost_race = _value(requests, method="ReportPrintFailure", state="CHARGED")
    down = _value(refusals, method="RequestDocument", reason="MUNICIPALITY_UNAVAILABLE")
    listing = _value(refusals, method="ListDocuments", reason="MUNICIPALITY_UNAVAILABLE")

    request = hooks[_SERVICE + "RequestDocument"]
    request("", None, ipb.RequestDocumentResponse(state=ipb.ISSUANCE_STATE_ISSUED))
    unavailable = ipb.ISSUANCE_REFUSAL_MUNICIPALITY_UNAVAILABLE
    request("", None, ipb.RequestDocumentResponse(refusal=unavailable))
    hooks[_SERVICE + "ListDocuments"]("", None, ipb.ListDocumentsResponse(refusal=unavailable))
    hooks[_SERVICE + "ListDocuments"]("", None, ipb.ListDocumentsResponse())  # no refusal
    hooks[_SERVICE + "ConfirmPrinted"](
        "", None, ipb.ConfirmPrintedResponse(state=ipb.ISSUANCE_STATE_CHARGED)
    )
    hooks[_SERVICE + "ReportPrintFailure"](
        "", None, ipb.ReportPrintFailureResponse(state=ipb.ISSUANCE_STATE_CHARGED)
    )

    assert _value(requests, method="RequestDocument", state="ISSUED") == issued + 1
    assert _value(requests, method="ConfirmPrinted", state="CHARGED") == charged + 1
    assert _value(requests, method="ReportPrintFailure", state="CHARGED") == lost_race + 1
    assert _value(refusals, method="RequestDocument", reason="MUNICIPALITY_UNAVAILABLE") == down + 1
    assert (
        _value(refusals, method="ListDocuments", reason="MUNICIPALITY_UNAVAILABLE") == listing + 1
    )


def test_the_outbox_backlog_its_age_and_the_give_up(core: Core) -> None:
    port = domain.FakeMunicipality()
    outcome = domain._request(core, port, domain._order(domain._proven(core)))
    assert outcome.request is not None
    issuance_metrics.sample_outbox(core)
    assert _value("myna_verifier_issuance_outbox_oldest_seconds") == 0  # nothing owed yet
    with core.storage.transaction() as tx:
        issuance_requests.report_failure(
            core,
            tx,
            terminal_id=outcome.request.terminal_id,
            request_id=outcome.request.request_id,
            failure=PrintFailure.PAPER_OUT,
        )
    gave_up = _value("myna_verifier_issuance_outbox_gave_up_total")
    port.down = True
    clock = core.clock
    assert isinstance(clock, MutableClock)
    for _ in range(3):  # outbox_max_attempts
        asyncio.run(issuance_outbox.deliver_due(core, port))
        issuance_metrics.sample_outbox(core)
        clock.advance(400)
        waiting = _value("myna_verifier_issuance_outbox_pending", state="retrying")
        assert waiting + _value("myna_verifier_issuance_outbox_pending", state="gave_up") == 1
    assert _value("myna_verifier_issuance_outbox_gave_up_total") == gave_up + 1
    issuance_metrics.sample_outbox(core)
    assert _value("myna_verifier_issuance_outbox_pending", state="gave_up") == 1
    assert _value("myna_verifier_issuance_outbox_pending", state="retrying") == 0
    assert _value("myna_verifier_issuance_outbox_oldest_seconds") >= 1200  # 3 x 400 s
