# SPDX-License-Identifier: Apache-2.0
"""The reference municipality issuing service (証明発行サーバ) of issue 14.

Today it holds the issued document (``municipal.document``): the A4 PDF, its
signed 2D code and the offline check of a paper copy. The gRPC service, the
resident registry and the fee table come next (docs/issuance.md). This
package initialiser stays empty on purpose: ``myna-edge document verify``
imports the document format without loading a server.
"""
