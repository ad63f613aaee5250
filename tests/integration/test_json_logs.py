# SPDX-License-Identifier: Apache-2.0
"""``myna-edge verifier --log-format json --otlp URL``: JSON lines with ids, spans over OTLP.

A real verifier process (two workers, development mode) logs to stderr as
JSON lines and exports its spans to a tiny OTLP/HTTP receiver this test runs
on 127.0.0.1 (``http.server`` decoding the request with opentelemetry-proto).
A call carrying a ``traceparent`` and an ``x-request-id`` must give an access
log line with that request id and trace id, and a server span of that trace
at the receiver: the cross-process half of the trace the in-process test
(``test_tracing``) checks in full.
"""

from __future__ import annotations

import json
import queue
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from tests.integration.test_verifier_cli_server import ROOT, _free_port, _wait_for

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT = "00f067aa0ba902b7"


class _Receiver(BaseHTTPRequestHandler):
    spans: queue.Queue[tuple[str, str, str]]

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        request = ExportTraceServiceRequest.FromString(body)
        for resource in request.resource_spans:
            service = next(
                a.value.string_value
                for a in resource.resource.attributes
                if a.key == "service.name"
            )
            for scope in resource.scope_spans:
                for span in scope.spans:
                    self.spans.put((service, span.trace_id.hex(), span.parent_span_id.hex()))
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        return


@pytest.fixture
def receiver() -> Iterator[tuple[int, queue.Queue[tuple[str, str, str]]]]:
    spans: queue.Queue[tuple[str, str, str]] = queue.Queue()
    handler = type("Receiver", (_Receiver,), {"spans": spans})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1], spans
    server.shutdown()
    server.server_close()
    thread.join(timeout=10)


def test_json_lines_carry_trace_and_request_ids(
    tmp_path: Path, receiver: tuple[int, queue.Queue[tuple[str, str, str]]]
) -> None:
    from host.transport.sim import sim_trust_dir

    sim_trust_dir("sim://")  # the development trust the insecure verifier uses
    otlp_port, spans = receiver
    port = _free_port()
    args = ["-vv", "verifier", "--insecure-dev", "--workers", "2", "--log-format", "json"]
    args += ["--listen", f"127.0.0.1:{port}", "--db", f"sqlite:///{tmp_path / 'v.sqlite'}"]
    args += ["--otlp", f"http://127.0.0.1:{otlp_port}/v1/traces"]
    process = subprocess.Popen(
        [sys.executable, "-m", "myna_edge", *args],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        _wait_for(process, "listening on port")
        metadata = (("traceparent", f"00-{TRACE_ID}-{PARENT}-01"), ("x-request-id", "json-1"))
        with grpc.insecure_channel(f"127.0.0.1:{port}") as chan:
            stub = health_pb2_grpc.HealthStub(chan)
            answer = stub.Check(health_pb2.HealthCheckRequest(), timeout=10, metadata=metadata)
        assert answer.status == health_pb2.HealthCheckResponse.SERVING
        seen = _wait_for(process, "json-1")
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=60) == 0
        assert process.stderr is not None
        rest = process.stderr.read()
        process.stderr.close()

    lines = [line for line in (seen + rest).splitlines() if line.startswith("{")]
    records = [json.loads(line) for line in lines]
    assert records
    assert all({"time", "level", "logger", "message"} <= r.keys() for r in records)
    (access,) = [r for r in records if r.get("request_id") == "json-1"]
    assert access["logger"] == "myna_metrics.access_log"
    assert access["trace_id"] == TRACE_ID
    # the worker that served the call exported its span (flushed at SIGTERM)
    exported = []
    while not spans.empty():
        exported.append(spans.get_nowait())
    assert ("myna-verifier", TRACE_ID, PARENT) in exported
