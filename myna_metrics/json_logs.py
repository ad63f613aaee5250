# SPDX-License-Identifier: Apache-2.0
"""JSON-lines logs (``--log-format json``): one object per line, with trace and request ids.

Why: a log shipper (journald to Loki, Fluent Bit) parses a JSON line without a
grammar, and the ``trace_id`` joins a log line to its trace. Each line has
``time`` (UTC, RFC 3339), ``level``, ``logger``, ``message``, and when known
``request_id`` (``myna_metrics.tracing.REQUEST_ID``), ``trace_id`` and
``span_id`` (the current OpenTelemetry span), and ``exception``.

Only what the message already says is written: the formatter adds ids, never
record arguments of its own, so the redaction the loggers do (STYLE §7)
holds unchanged. Packages never configure logging; the two CLIs call
``use_json_logs`` when asked.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any, Final

from opentelemetry import trace

from myna_metrics.tracing import REQUEST_ID

__all__ = ["LOG_FORMATS", "JsonLineFormatter", "use_json_logs"]

#: The values ``--log-format`` and ``log_format`` accept.
LOG_FORMATS: Final = ("text", "json")


class JsonLineFormatter(logging.Formatter):
    """Formats a record as one JSON object on one line."""

    def format(self, record: logging.LogRecord) -> str:
        """The record as a JSON line (no newline inside: ``json.dumps`` escapes them)."""
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        request_id = REQUEST_ID.get()
        if request_id is not None:
            line["request_id"] = request_id
        span = trace.get_current_span().get_span_context()
        if span.is_valid:
            line["trace_id"] = format(span.trace_id, "032x")
            line["span_id"] = format(span.span_id, "016x")
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False)


def use_json_logs() -> None:
    """Give every handler of the root logger the JSON formatter (one add if it has none)."""
    root = logging.getLogger()
    if not root.handlers:
        root.addHandler(logging.StreamHandler())
    for handler in root.handlers:
        handler.setFormatter(JsonLineFormatter())
