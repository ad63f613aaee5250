# SPDX-License-Identifier: Apache-2.0
"""The fuzz campaign: hostile input at every boundary, one harness table.

Why a package: the campaign is four jobs that change for different reasons,
and each is a module here. ``targets`` is the table of parser harnesses
(one entry per boundary parser, with the typed errors it may raise);
``grpc_targets`` adds one harness per RPC of every gRPC service (they need
servers); ``seeds`` records seed inputs from the real stack into the
committed corpora; ``worker`` is the atheris process that forks a child per
target; ``campaign`` runs them and judges crashes. This file imports
nothing: the worker runs as ``python -m myna_edge.chaos.fuzz.worker``, and
the package is imported before the worker can turn instrumentation on, so
anything imported here would be fuzzed blind.

A new parser is added to ``targets`` (or a new service's RPCs to
``grpc_targets``), its seeds to ``seeds``, and its corpus folder committed
under ``tests/chaos/corpus/``; ``tests/chaos/test_chaos_fuzz.py`` refuses a
target without one.
"""
