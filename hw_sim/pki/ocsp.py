# SPDX-License-Identifier: Apache-2.0
"""An OCSP responder for the test PKI, over HTTP on 127.0.0.1.

Why: real JPKI verifiers prefer OCSP for same-day status (jpki-card.md §8.2),
so the verifier's OCSP path, its response checks and its fallback to the
CRL need a real responder on a real socket. Requests are RFC 6960 DER over
HTTP POST (any path); the responder answers for both CAs, signing with the
issuing CA's key, status taken from the PKI folder's revocation records at
request time. ``down()``/``up()`` are not offered on purpose: tests stop the
responder to simulate an outage, which is what a verifier sees.

Example::

    with OcspResponder(pki) as responder:
        url = responder.url   # http://127.0.0.1:PORT/
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Final

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509 import ocsp

from hw_sim.pki.authority import TestPki
from hw_sim.pki.profile import CertKind

__all__ = ["OcspResponder"]

_log = logging.getLogger(__name__)
_MAX_REQUEST: Final = 16 * 1024


def _sha1(data: bytes) -> bytes:
    digest = hashes.Hash(hashes.SHA1())  # noqa: S303 - RFC 6960 CertID hash
    digest.update(data)
    return digest.finalize()


class OcspResponder:
    """A running responder; a context manager, and ``close`` twice is harmless.

    Args:
        pki: the test PKI whose CAs and revocations it serves.
        validity: how long a response is good for (nextUpdate - thisUpdate).
        host: the address to bind; tests use 127.0.0.1 only.
    """

    def __init__(
        self,
        pki: TestPki,
        *,
        validity: dt.timedelta = dt.timedelta(hours=1),
        host: str = "127.0.0.1",
    ) -> None:
        self._pki = pki
        self._validity = validity
        self.requests = 0
        responder = self

        class Handler(BaseHTTPRequestHandler):
            server_version = "myna-edge-ocsp/1"

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0") or "0")
                body = self.rfile.read(min(length, _MAX_REQUEST + 1))
                answer = responder.respond(body)
                self.send_response(200)
                self.send_header("Content-Type", "application/ocsp-response")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, format: str, *args: object) -> None:  # noqa: A002
                _log.debug("ocsp: " + format, *args)

        self._server = ThreadingHTTPServer((host, 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        self._closed = False

    @property
    def url(self) -> str:
        """The responder's URL."""
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}/"

    def respond(self, request_der: bytes) -> bytes:
        """The DER OCSP response for ``request_der`` (also used by unit tests)."""
        self.requests += 1
        try:
            request = ocsp.load_der_ocsp_request(request_der)
        except ValueError:
            return _unsuccessful(ocsp.OCSPResponseStatus.MALFORMED_REQUEST)
        for kind in CertKind:
            ca, key = self._pki.ocsp_signer(kind)
            name_hash = _sha1(ca.subject.public_bytes())
            key_hash = _sha1(
                ca.public_key().public_bytes(
                    serialization.Encoding.DER, serialization.PublicFormat.PKCS1
                )
            )
            if (request.issuer_name_hash, request.issuer_key_hash) != (name_hash, key_hash):
                continue
            now = dt.datetime.now(dt.UTC)
            entry = self._pki.crl(kind).get_revoked_certificate_by_serial_number(
                request.serial_number
            )
            status = ocsp.OCSPCertStatus.GOOD if entry is None else ocsp.OCSPCertStatus.REVOKED
            builder = ocsp.OCSPResponseBuilder().add_response_by_hash(
                name_hash,
                key_hash,
                request.serial_number,
                hashes.SHA1(),  # noqa: S303
                status,
                now,
                now + self._validity,
                None if entry is None else entry.revocation_date_utc,
                None,
            )
            builder = builder.responder_id(ocsp.OCSPResponderEncoding.HASH, ca)
            return builder.sign(key, hashes.SHA256()).public_bytes(serialization.Encoding.DER)
        return _unsuccessful(ocsp.OCSPResponseStatus.UNAUTHORIZED)

    def close(self) -> None:
        """Stop serving and release the port."""
        if self._closed:
            return
        self._closed = True
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)

    def __enter__(self) -> OcspResponder:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _unsuccessful(status: ocsp.OCSPResponseStatus) -> bytes:
    response = ocsp.OCSPResponseBuilder.build_unsuccessful(status)
    return response.public_bytes(serialization.Encoding.DER)
