# SPDX-License-Identifier: Apache-2.0
"""The IssuanceService fuzz harnesses (``myna_edge.issuance_fuzz``) hold on their seeds and mutants.

Why here, before the campaign's table lists them: each harness must pass its
own seeds (a seed that fails is a broken harness or a real bug) and a fixed
set of mutants (truncations, flipped bytes, garbage), deterministically.
"""

from __future__ import annotations

import random
from contextlib import ExitStack

import pytest

from myna_edge.issuance_fuzz import ISSUANCE_METHODS, fuzz_seeds, grpc_fuzz_target

METHODS = [m.name for m in ISSUANCE_METHODS]


def _mutants(seed: bytes, rng: random.Random) -> list[bytes]:
    out = [seed[: len(seed) // 2], b"\xff\xff\xff", b""]
    for _ in range(6):
        data = bytearray(seed)
        if data:
            data[rng.randrange(len(data))] ^= 1 << rng.randrange(8)
        out.append(bytes(data))
    return out


@pytest.fixture(scope="module")
def stack() -> ExitStack:
    with ExitStack() as running:
        yield running  # type: ignore[misc]


@pytest.mark.parametrize("method", METHODS)
def test_each_harness_holds_on_its_seeds_and_mutants(
    stack: ExitStack, tmp_path_factory: pytest.TempPathFactory, method: str
) -> None:
    harness = grpc_fuzz_target(method)(stack, tmp_path_factory.mktemp("issuance-fuzz"))
    rng = random.Random(method)
    seeds = fuzz_seeds()[f"issuance_{method}"]
    assert seeds
    for seed in seeds:
        harness(seed)
        for mutant in _mutants(seed, rng):
            harness(mutant)
