# SPDX-License-Identifier: Apache-2.0
"""The JSON schemas of every message the front end reads or sends (``schemas/``).

Why the ``jsonschema`` library (Draft 2020-12, ``referencing`` registry):
the schemas are plain JSON files an integrator (or a test written without
our code) can load into any validator; nothing here is hand-rolled.

Layout: ``header.json`` holds the envelope of each message type
(``$defs/command``, ``acknowledge``, ``event``, ``completion``,
``unsolicited``) and shared types (base64, request id); one file per
interface (``cardreader.json`` for ``CardReader.*``, ``mynaedge.json`` for
the vendor interface, ...) holds the payload of each message as
``$defs/<Message>.<type>``, e.g. ``ChipIO.command``.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any, Final

from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

__all__ = ["SCHEMA_BASE", "SchemaBook", "schema_files"]

#: The ``$id`` prefix of every schema file.
SCHEMA_BASE: Final = "https://schemas.myna-edge.invalid/xfs4iot/2024-3/"


def schema_files() -> dict[str, dict[str, Any]]:
    """Every schema file by name (``header.json`` -> its JSON)."""
    folder = resources.files("host.xfs4iot") / "schemas"
    return {
        entry.name: json.loads(entry.read_text(encoding="utf-8"))
        for entry in folder.iterdir()
        if entry.name.endswith(".json")
    }


def _file_for(name: str) -> str:
    return name.split(".", 1)[0].lower() + ".json"


class SchemaBook:
    """Validators for envelopes and payloads, built once per process (``SchemaBook.load``)."""

    def __init__(self, files: dict[str, dict[str, Any]]) -> None:
        self._files = files
        resources_ = [
            (SCHEMA_BASE + fname, Resource.from_contents(doc, default_specification=DRAFT202012))
            for fname, doc in files.items()
        ]
        self._registry: Registry[Any] = Registry().with_resources(resources_)
        self._cache: dict[str, Draft202012Validator] = {}

    @classmethod
    @cache
    def load(cls) -> SchemaBook:
        """The book of the packaged schema files (cached)."""
        return cls(schema_files())

    def _validator(self, ref: str) -> Draft202012Validator:
        validator = self._cache.get(ref)
        if validator is None:
            validator = Draft202012Validator({"$ref": ref}, registry=self._registry)
            self._cache[ref] = validator
        return validator

    def knows(self, name: str, kind: str) -> bool:
        """Whether a payload schema exists for message ``name`` of type ``kind``."""
        document = self._files.get(_file_for(name))
        key = f"{name.split('.', 1)[1]}.{kind}" if "." in name else ""
        return document is not None and key in document.get("$defs", {})

    def payload_errors(self, name: str, kind: str, payload: object) -> list[str]:
        """Where ``payload`` breaks its schema: JSON paths and rules, never the values.

        Raises:
            KeyError: no schema for this message (``knows`` is False).
        """
        if not self.knows(name, kind):
            raise KeyError(f"no schema for {name} {kind}")
        ref = f"{SCHEMA_BASE}{_file_for(name)}#/$defs/{name.split('.', 1)[1]}.{kind}"
        return [_describe(e) for e in self._validator(ref).iter_errors(payload)]

    def message_errors(self, message: dict[str, Any]) -> list[str]:
        """Where a whole outgoing message breaks its envelope or payload schema."""
        header = message.get("header")
        kind = header.get("type") if isinstance(header, dict) else None
        if kind not in ("command", "acknowledge", "event", "completion", "unsolicited"):
            return ["header.type is not a message type"]
        ref = f"{SCHEMA_BASE}header.json#/$defs/{kind}"
        errors = [_describe(e) for e in self._validator(ref).iter_errors(message)]
        name = header.get("name") if isinstance(header, dict) else None
        if errors or kind == "acknowledge" or not isinstance(name, str):
            return errors
        if not self.knows(name, str(kind)):
            # A command this service does not know completes with no payload.
            if kind == "completion" and "payload" not in message:
                return []
            return [f"no payload schema for {name} {kind}"]
        return self.payload_errors(name, str(kind), message.get("payload", {}))


def _describe(error: Any) -> str:
    # The rule and where, not the offending value (it may be a PIN-pad
    # field or card data): "payload.chipData: pattern".
    path = "/".join(str(p) for p in error.absolute_path) or "(root)"
    return f"{path}: {error.validator}"
