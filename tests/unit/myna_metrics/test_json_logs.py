# SPDX-License-Identifier: Apache-2.0
"""``myna_metrics.json_logs``: one JSON object per line, with the ids that are known."""

from __future__ import annotations

import json
import logging

from opentelemetry.sdk.trace import TracerProvider

from myna_metrics.json_logs import JsonLineFormatter
from myna_metrics.tracing import REQUEST_ID


def _record(message: str, *args: object, exc: bool = False) -> logging.LogRecord:
    info = None
    if exc:
        try:
            raise RuntimeError("boom")
        except RuntimeError:
            import sys

            info = sys.exc_info()
    return logging.LogRecord("a.b", logging.WARNING, "f.py", 1, message, args, info)


def test_a_plain_line_has_no_ids() -> None:
    line = JsonLineFormatter().format(_record("two\nlines %s", "x"))
    assert "\n" not in line
    data = json.loads(line)
    assert data["message"] == "two\nlines x"
    assert (data["level"], data["logger"]) == ("WARNING", "a.b")
    assert data["time"].endswith("+00:00")
    assert not {"request_id", "trace_id", "span_id"} & data.keys()


def test_ids_of_the_current_span_and_request() -> None:
    tracer = TracerProvider().get_tracer("t")
    token = REQUEST_ID.set("r-7")
    try:
        with tracer.start_as_current_span("s") as span:
            data = json.loads(JsonLineFormatter().format(_record("hi", exc=True)))
    finally:
        REQUEST_ID.reset(token)
    context = span.get_span_context()
    assert data["request_id"] == "r-7"
    assert data["trace_id"] == format(context.trace_id, "032x")
    assert data["span_id"] == format(context.span_id, "016x")
    assert "RuntimeError: boom" in data["exception"]
