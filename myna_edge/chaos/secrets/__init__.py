# SPDX-License-Identifier: Apache-2.0
"""The secrets scenario: no test secret anywhere the stack wrote.

* ``scenario``: ``run_scenario`` (listed in ``myna_edge.chaos.SCENARIOS``) and
  the card's distinctive secrets;
* ``stack``: the verifier, the municipality and four agents as
  TRACE-logging processes behind recording relays, and every flow driven
  through the terminal API;
* ``mfp``: the MFP's certificate issuance (issue 14): the municipality's
  files, the print engine and the ccTalk bus, the check that it issued;
* ``scan``: every encoding of every secret, searched in every file; also used
  by the unit tests that prove a secret is absent from logs and reprs.

Nothing is imported here, so ``scan`` stays cheap to import on its own.
"""

__all__: list[str] = []
