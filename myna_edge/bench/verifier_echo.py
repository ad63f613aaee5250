# SPDX-License-Identifier: Apache-2.0
"""The echo ceiling of ``myna-edge bench verifier``, served from a process of its own.

Why its own process: served beside the verifier (one process, one GIL, one
garbage collector), the echo took its share of every verifier pause (a
sweep, a collection, a slow fsync's wake-up), so "p99 vs the echo's p99"
compared the verifier with a ceiling that its own stalls had lowered. Here
the echo shares only the machine's cores with it, like any other process,
and is set up as the verifier is (the same mTLS settings, the start-up heap
frozen with ``gc.freeze`` after start). The process is spawned, never forked
(gRPC does not survive a fork), and stops when its pipe says so or closes.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import multiprocessing
import time
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess

import grpc

__all__ = ["EchoProcess"]

#: The service and method the load process calls (``verifier_load.ECHO_METHOD``).
_SERVICE, _METHOD = "myna.bench.Echo", "Echo"


async def _serve(key_pem: bytes, cert_pem: bytes, ca_pem: bytes, conn: Connection) -> None:
    async def echo(request: bytes, context: object) -> bytes:
        return request

    server = grpc.aio.server()
    server.add_generic_rpc_handlers(
        (
            grpc.method_handlers_generic_handler(
                _SERVICE, {_METHOD: grpc.unary_unary_rpc_method_handler(echo)}
            ),
        )
    )
    credentials = grpc.ssl_server_credentials(
        [(key_pem, cert_pem)], root_certificates=ca_pem, require_client_auth=True
    )
    port = server.add_secure_port("127.0.0.1:0", credentials)
    await server.start()
    gc.collect()  # as VerifierServer.start does: collections walk only what comes after
    gc.freeze()
    conn.send(port)
    loop = asyncio.get_running_loop()
    # "cpu" asks for this process's CPU clock; anything else, or the pipe's close, means
    # stop. The pipe is served off the loop, so the echo's calls never wait for it.
    await loop.run_in_executor(None, _wait_for_stop, conn)
    await server.stop(1.0)


def _wait_for_stop(conn: Connection) -> None:
    """Answer CPU-clock requests until told to stop (or the pipe closes)."""
    try:
        while conn.recv() == "cpu":
            conn.send(time.process_time())
    except EOFError:
        pass


def _echo_process(key_pem: bytes, cert_pem: bytes, ca_pem: bytes, conn: Connection) -> None:
    """Entry point of the echo process."""
    try:
        asyncio.run(_serve(key_pem, cert_pem, ca_pem, conn))
    except Exception as exc:  # noqa: BLE001 - reported to the parent, which raises
        conn.send(repr(exc))
    finally:
        conn.close()


class EchoProcess:
    """A bare grpc.aio echo server (mTLS, 127.0.0.1) in a spawned process.

    Raises (on construction):
        RuntimeError: the process did not start serving (its error is in the message).
    """

    def __init__(self, *, key_pem: bytes, cert_pem: bytes, ca_pem: bytes) -> None:
        context = multiprocessing.get_context("spawn")  # never fork a process running gRPC
        self._conn, child = context.Pipe()
        self._process: BaseProcess = context.Process(
            target=_echo_process, args=(key_pem, cert_pem, ca_pem, child), daemon=True
        )
        self._process.start()
        child.close()
        if not self._conn.poll(60):
            self.close()
            raise RuntimeError("the echo process did not start in time")
        answer = self._conn.recv()
        if not isinstance(answer, int):
            self.close()
            raise RuntimeError(f"the echo process failed: {answer}")
        self.port: int = answer

    def cpu_seconds(self) -> float:
        """The echo process's CPU time so far (its own ``time.process_time``)."""
        self._conn.send("cpu")
        return float(self._conn.recv())

    def close(self) -> None:
        """Stop the server and the process; closing twice is harmless."""
        if self._process.is_alive():
            with contextlib.suppress(OSError):
                self._conn.send("stop")
            self._process.join(timeout=10)
            if self._process.is_alive():
                self._process.kill()  # by its own handle: only the process we started
                self._process.join(timeout=10)
        self._conn.close()

    def __enter__(self) -> EchoProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
