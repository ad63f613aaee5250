# SPDX-License-Identifier: Apache-2.0
"""The benchmark report's table: one row per ratio, each naming its baseline.

Why a row type: a figure without its baseline cannot be read (is 1.8 good?),
so a row cannot be made without one. Rows are built from the suites' JSON
figures (``myna_edge.bench.SUITES``); a suite or path that did not run gives
a row that says why instead of a number. Ratios are ours ÷ baseline: below
1 is faster (or fewer commands) for times and counts, and for throughput
1 would mean as fast as the bare ceiling.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from host.card.constants import MINIMUM_APDUS_PER_FILE
from myna_edge.bench.issuance_rows import issuance_rows
from myna_edge.bench.row import Row

__all__ = ["Row", "build_rows", "flow_split_rows"]

_MINIMUM_FILE_APDUS = 3  # SELECT AP, SELECT EF, one extended READ BINARY


def _unavailable(area: str, figure: str, baseline: str, why: object) -> Row:
    return Row(area, figure, None, baseline, str(why))


def _card(f: Mapping[str, Any]) -> Iterator[Row]:
    area, apdu, cert = "card layer (sim://)", f["per_apdu"], f["auth_certificate"]
    raw = f"virtual card engine called directly ({apdu['baseline_raw_card_us']} µs/APDU)"
    yield Row(area, "per-APDU time: sim:// transport", apdu["transport_over_raw"], raw, "median")
    yield Row(area, "per-APDU time: host APDU stack", apdu["host_stack_over_raw"], raw, "median")
    ext = cert["extended"]
    yield Row(
        area,
        "auth certificate read: APDUs (extended length)",
        cert["extended_apdus_over_minimum"],
        f"protocol minimum ({MINIMUM_APDUS_PER_FILE} APDUs)",
        f"{ext['apdus']} APDUs, {ext['command_bytes'] + ext['response_bytes']} B",
    )
    yield Row(
        area,
        "auth certificate read: time, 256-byte chunks",
        cert["chunked_time_over_extended"],
        "the extended-length read, same run",
        f"{cert['chunked_256']['apdus']} APDUs",
    )
    yield Row(
        area,
        "auth certificate read: modelled card time, 256-byte chunks",
        cert["chunked_card_time_over_extended_106k"],
        f"the extended read modelled at 106 kbit/s ({ext['card_ms_106k']} ms)",
        f"{cert['chunked_256']['card_ms_106k']} ms (UNCONFIRMED model)",
    )


def _readers(f: Mapping[str, Any]) -> Iterator[Row]:
    pcsc, libnfc = f.get("pcsc"), f.get("libnfc")
    area = "reader path pcsc:// (pcscd + vpcd)"
    if isinstance(pcsc, dict):
        bare = f"bare pyscard SCardTransmit loop ({pcsc['baseline_bare_pyscard_us']} µs)"
        yield Row(
            area,
            "per-APDU time: pcsc:// transport",
            pcsc["transport_over_bare_pyscard"],
            bare,
            "median, interleaved rounds",
        )
        yield Row(
            area,
            "auth certificate read: APDUs",
            pcsc["auth_certificate_apdus_over_minimum"],
            f"protocol minimum ({MINIMUM_APDUS_PER_FILE} APDUs)",
            f"{pcsc['auth_certificate']['apdus']} APDUs",
        )
        opensc = pcsc.get("opensc_auth_certificate")
        if isinstance(opensc, dict) and "our_apdus_over_opensc" in pcsc:
            yield Row(
                area,
                "auth certificate read: APDUs vs OpenSC",
                pcsc["our_apdus_over_opensc"],
                f"OpenSC pkcs15-tool, after its probing ({opensc['apdus_after_probing']} APDUs)",
                f"OpenSC in all: {opensc['apdus_total']} APDUs",
            )
    else:
        yield _unavailable(area, "per-APDU time: pcsc:// transport", "bare pyscard loop", pcsc)
    area = "reader path libnfc:// (PN532 on a pty)"
    if isinstance(libnfc, dict):
        bare = f"bare libnfc transceive loop ({libnfc['baseline_bare_libnfc_us']} µs)"
        yield Row(
            area,
            "per-APDU time: libnfc:// transport",
            libnfc["transport_over_bare_libnfc"],
            bare,
            "median, interleaved rounds",
        )
        apdus = libnfc["auth_certificate"]["apdus"]
        yield Row(
            area,
            "auth certificate read: APDUs (frames carry 256 B: chunked)",
            round(apdus / _MINIMUM_FILE_APDUS, 2),
            f"protocol minimum ({MINIMUM_APDUS_PER_FILE} APDUs)",
            f"{apdus} APDUs",
        )
    else:
        yield _unavailable(area, "per-APDU time: libnfc:// transport", "bare libnfc loop", libnfc)


def _latency(f: Mapping[str, Any]) -> Iterator[Row]:
    for path, found in f.items():
        area = f"latency distribution: {path}"
        if not isinstance(found, dict):
            yield _unavailable(area, "per-call p50/p99", "the path's bare baseline", found)
            continue
        baseline = found["baseline"]
        for label, figures in found.items():
            if not isinstance(figures, dict):
                continue
            for q in ("p50", "p99"):
                yield Row(
                    area,
                    f"{label}: {q} per call",
                    figures[f"{q}_over_baseline"],
                    f"{baseline} ({found[f'baseline_{q}_us']} µs)",
                    f"{figures[f'{q}_us']} µs, {found['samples_per_series']} calls",
                )


def _link(f: Mapping[str, Any]) -> Iterator[Row]:
    area, rt, bulk = "serial link (controller firmware, pty)", f["round_trip"], f["bulk"]
    yield Row(
        area,
        "ECHO round trip: time",
        rt["firmware_over_pty_echo"],
        f"bare pty echo of the same {rt['bytes_both_ways']} B ({rt['baseline_pty_echo_us']} µs)",
        f"{rt['firmware_us']} µs",
    )
    yield Row(
        area,
        "ECHO round trip: time vs a real UART",
        rt["firmware_over_wire"],
        f"wire time of the same bytes at 115200 baud, 8N1 ({rt['wire_at_115200_us']} µs)",
        "computed floor: a pty has none",
    )
    yield Row(
        area,
        f"bulk, {bulk['frames']} × {bulk['payload_bytes']} B frames: time",
        bulk["firmware_over_pty_echo"],
        f"bare pty echo of the same {bulk['bytes_both_ways']} B",
        f"{bulk['firmware_frames_per_s']} frames/s",
    )
    yield Row(
        area,
        "bulk: time vs a real UART",
        bulk["firmware_over_wire"],
        f"wire time at 115200 baud ({bulk['wire_at_115200_frames_per_s']} frames/s)",
        "computed floor",
    )
    update = f.get("firmware_update")
    if update is not None:
        yield Row(
            area,
            f"signed firmware update ({update['image_bytes']} B): transfer vs a real UART",
            update["transfer_over_wire"],
            f"wire time of the same frames at 115200 baud ({update['wire_at_115200_s']} s)",
            f"{update['transfer_s']} s transfer, {update['update_total_s']} s begin to confirmed;"
            f" board signature check {update['board_signature_check_ms']} ms"
            " (MicroPython unix port)",
        )


def _verifier_runs(area: str, runs: Mapping[str, Any]) -> Iterator[Row]:
    """Throughput, p99 and server CPU of one database's runs, each against the same run's echo."""
    levels = sorted({int(name.rsplit("_", 1)[1]) for name in runs})
    for n in (levels[0], levels[-1]):
        echo = runs[f"echo_{n}"]
        for key, label in (
            ("verify_card", "VerifyCard"),
            ("authorize_transfer", "AuthorizeTransfer"),
        ):
            run = runs[f"{key}_{n}"]
            yield Row(
                area,
                f"{label} throughput, {n} in flight",
                round(run["per_second"] / echo["per_second"], 3),
                f"bare gRPC echo server, same channel ({echo['per_second']} calls/s)",
                f"{run['per_second']} calls/s, p50 {run['p50_ms']} ms",
            )
    top = levels[-1]
    echo, verify = runs[f"echo_{top}"], runs[f"verify_card_{top}"]
    yield Row(
        area,
        f"VerifyCard p99 latency, {top} in flight",
        round(verify["p99_ms"] / echo["p99_ms"], 3),
        f"bare gRPC echo p99 ({echo['p99_ms']} ms)",
        f"{verify['p99_ms']} ms",
    )
    yield Row(
        area,
        f"VerifyCard server CPU per call, {top} in flight",
        round(verify["server_cpu_us_per_call"] / echo["server_cpu_us_per_call"], 3),
        f"bare echo's server CPU ({echo['server_cpu_us_per_call']} µs/call)",
        f"{verify['server_cpu_us_per_call']} µs/call",
    )


def _verifier(f: Mapping[str, Any]) -> Iterator[Row]:
    area, runs = "verifier (grpc.aio, mTLS, SQLite)", f["runs"]
    yield from _verifier_runs(area, runs)
    top = max(int(name.rsplit("_", 1)[1]) for name in runs)
    crypto = f["crypto_check_ms"]
    raw = f"raw cryptography: parse the certificate, check issuer and card signatures ({crypto} ms)"
    yield Row(
        area,
        "proof check (Core.check_proof, cached certificate)",
        round(f["service_check_proof_ms"] / crypto, 3),
        raw,
        f"{f['service_check_proof_ms']} ms",
    )
    yield Row(
        area,
        "VerifyCard p50 latency, 1 in flight",
        round(runs["verify_card_1"]["p50_ms"] / crypto, 1),
        raw,
        f"{runs['verify_card_1']['p50_ms']} ms",
    )
    if "postgresql_runs" in f:
        yield from _verifier_runs("verifier (grpc.aio, mTLS, PostgreSQL)", f["postgresql_runs"])
    if "postgresql_vs_sqlite_verify_at_32" in f:
        yield Row(
            area,
            f"VerifyCard throughput on PostgreSQL, {top} in flight",
            f["postgresql_vs_sqlite_verify_at_32"],
            "the same on SQLite, same run",
            "",
        )
    workers = f.get("workers")
    if isinstance(workers, dict) and len(workers) > 1:
        counts = sorted(workers, key=int)
        first = workers[counts[0]]
        for count in counts[1:]:
            run = workers[count]
            for key, label in (
                ("verify_card", "VerifyCard"),
                ("authorize_transfer", "AuthorizeTransfer"),
            ):
                base, mine = first[f"{key}_{top}"], run[f"{key}_{top}"]
                yield Row(
                    f"verifier --workers (SQLite, {count} vs {counts[0]})",
                    f"{label} throughput, {top} in flight, {count} workers",
                    round(mine["per_second"] / base["per_second"], 3),
                    f"{counts[0]} worker ({base['per_second']} calls/s,"
                    f" {base['server_cpu_us_per_call']} µs server CPU/call)",
                    f"{mine['per_second']} calls/s, {mine['server_cpu_us_per_call']} µs server"
                    f" + {mine['client_cpu_us_per_call']} µs client CPU/call",
                )
    for name, label, goal in (
        ("metrics", "metrics on", 0.97),
        ("tracing", "tracing 1-in-100", 0.95),
    ):
        cost = f.get(name)
        if isinstance(cost, dict):
            yield Row(
                area,
                f"VerifyCard throughput, {top} in flight, {label} (goal ≥ {goal}×)",
                cost[f"verify_{name}_on_vs_off_at_32_vs_echo"],
                f"the same with {name} off, each run over its own echo, same run",
                f"raw on ÷ off {cost[f'verify_{name}_on_vs_off_at_32']}",
            )


def _capacity(f: Mapping[str, Any]) -> Iterator[Row]:
    test = f["load_test"]
    area = f"capacity model (national peak, {test['store']})"
    slo = f["slo_p99_ms"]
    scale = f["scale_of_national_peak"]
    for rpc, run in test["rpcs"].items():
        yield Row(
            area,
            f"{rpc} p99 at {scale:.0%} of the national peak (one server process)",
            round(run["p99_ms"] / slo, 3),
            f"SLO: p99 ≤ {slo:g} ms",
            f"{run['per_second']} calls/s, p50 {run['p50_ms']} ms, p99 {run['p99_ms']} ms",
        )
    yield Row(
        area,
        "cores for the national peak at 50% utilisation",
        f["cores_needed"],
        "one server core of this machine",
        f"{f['national_peak_calls_per_s']} calls/s × {test['server_cpu_us_per_call']} µs/call",
    )


def _flows(f: Mapping[str, Any]) -> Iterator[Row]:
    area = "terminal flows (agent software, sim card)"
    for kind in (
        "transfer",
        "transfer_android",
        "transfer_iphone",
        "reading",
        "counter",
        "counter_with_pin",
    ):
        figures = f.get(kind)
        if not isinstance(figures, dict):
            continue
        yield Row(
            area,
            f"{kind}: card commands",
            figures["commands_vs_minimum"],
            # the run's own minimum: a stored report's rows rebuild as they were measured
            f"protocol minimum ({figures['minimum_commands']} commands)",
            f"{figures['card_commands']} commands",
        )
        yield Row(
            area,
            f"{kind}: software share of the total (target ≤ 0.05)",
            figures["software_share_of_total"],
            f"software + card time modelled at 106 kbit/s ({figures['modelled_card_ms']} ms)",
            f"software {figures['software_ms']} ms (median)",
        )
    agent = f.get("agent_process")
    if isinstance(agent, dict):
        targets = agent["targets"]
        for key, label, unit, shown in (
            ("ready", "ready (spawn to first GetStatus)", "ms", "ms"),
            ("rss", "resident memory", "mb", "MB"),
            ("idle_cpu", "idle CPU", "percent", "%"),
        ):
            value, target = agent[f"{key}_{unit}"], targets[f"{key}_{unit}"]
            yield Row(
                "agent process (myna-edge agent)",
                label,
                agent[f"{key}_over_target"],
                f"target (issue 6): {target} {shown}",
                f"{value} {shown}",
            )


def _issuance(f: Mapping[str, Any]) -> Iterator[Row]:

    yield from issuance_rows(f)


_BUILDERS = {
    "card": _card,
    "readers": _readers,
    "latency": _latency,
    "link": _link,
    "verifier": _verifier,
    "capacity": _capacity,
    "flows": _flows,
    "issuance": _issuance,
}


def build_rows(figures: Mapping[str, object]) -> list[Row]:
    """The table's rows for every suite in ``figures`` (a suite that failed says why)."""
    rows: list[Row] = []
    for name, found in figures.items():
        builder = _BUILDERS.get(name)
        if builder is None:
            continue
        if isinstance(found, dict):
            rows.extend(builder(found))
        else:
            rows.append(_unavailable(name, "the whole suite", "its own baselines", found))
    return rows


def flow_split_rows(flows: object) -> list[tuple[str, float, dict[str, float]]]:
    """(flow, mean wall ms, share of wall per part) for each flow that was split."""
    if not isinstance(flows, dict):
        return []
    return [
        (kind, value["mean_wall_ms"], value["time_split_share_of_wall"])
        for kind, value in flows.items()
        if isinstance(value, dict) and "time_split_share_of_wall" in value
    ]
