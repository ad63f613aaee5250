# SPDX-License-Identifier: Apache-2.0
"""The reference municipality issuing service (証明発行サーバ) of issue 14.

It holds the issued document (``municipal.document``: the A4 PDF, its
signed 2D code and the offline check of a paper copy), the issuing
office's domain logic with no gRPC (``registry``, ``fees``, ``issuing``,
``errors``), its ledger (``ledger``: SQLite) and the grpc.aio
``MunicipalService`` (``service``, ``server``, ``config``, ``wire``,
``registry_file``, ``cli``; docs/issuance.md). This package initialiser
stays empty on purpose:
``myna-edge document verify`` imports the document format without loading a
server.
"""
