"""Run sslyze's certificate-info scan over a target file; print the number of results as JSON.

Executed by ``bench/scan_bench.py`` with the Python of a separate virtualenv that holds
``sslyze>=6`` (sslyze pins an older ``cryptography`` than Mamori uses, so they cannot share
one environment). Targets use sslyze's own notation, ``host:port{ip}``.

Usage: python sslyze_driver.py TARGETS CA_FILE CONCURRENCY
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from sslyze import (
    CertificateInfoExtraArgument,
    ScanCommand,
    ScanCommandAttemptStatusEnum,
    Scanner,
    ServerNetworkLocation,
    ServerScanRequest,
    ServerScanStatusEnum,
)
from sslyze.scanner.models import ScanCommandsExtraArguments


def main() -> int:
    targets_file, ca_file, concurrency = sys.argv[1], Path(sys.argv[2]), int(sys.argv[3])
    requests = []
    for line in Path(targets_file).read_text().splitlines():
        host_port, _, rest = line.strip().partition("{")
        host, _, port = host_port.rpartition(":")
        requests.append(
            ServerScanRequest(
                server_location=ServerNetworkLocation(
                    hostname=host, port=int(port), ip_address=rest.rstrip("}")
                ),
                scan_commands={ScanCommand.CERTIFICATE_INFO},
                scan_commands_extra_arguments=ScanCommandsExtraArguments(
                    certificate_info=CertificateInfoExtraArgument(custom_ca_file=ca_file)
                ),
            )
        )
    started = time.perf_counter()
    scanner = Scanner(
        concurrent_server_scans_limit=concurrency, per_server_concurrent_connections_limit=5
    )
    scanner.queue_scans(requests)
    completed = trusted = 0
    for result in scanner.get_results():
        if result.scan_status != ServerScanStatusEnum.COMPLETED:
            continue
        attempt = result.scan_result.certificate_info
        if attempt.status != ScanCommandAttemptStatusEnum.COMPLETED:
            continue
        completed += 1
        deployment = attempt.result.certificate_deployments[0]
        custom = [
            r
            for r in deployment.path_validation_results
            if r.trust_store.name == "Supplied CA file"
        ]
        if custom and custom[0].was_validation_successful:
            trusted += 1
    elapsed = time.perf_counter() - started
    print(json.dumps({"completed": completed, "trusted": trusted, "seconds": elapsed}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
