"""Network probes that know nothing of Django: plain targets in, plain results out.

The TLS probe (CERT-02 installation check, CERT-01 certificate facts)::

    from mamori.probe import TrustStore, parse_target, probe_many

    trust = TrustStore.system()                  # build once, share everywhere
    results = asyncio.run(probe_many([parse_target("www.example.jp")], trust=trust))

Problem codes and their exact rules: :mod:`mamori.probe.problems`.
"""

from mamori.probe.problems import CONNECTION_PROBLEMS, Problem
from mamori.probe.targets import Target, TargetError, parse_target
from mamori.probe.tls import TLSResult, probe_many, probe_tls
from mamori.probe.trust import AIAFetcher, TrustStore
from mamori.probe.x509info import CertInfo, hostname_matches

__all__ = [
    "CONNECTION_PROBLEMS",
    "AIAFetcher",
    "CertInfo",
    "Problem",
    "TLSResult",
    "Target",
    "TargetError",
    "TrustStore",
    "hostname_matches",
    "parse_target",
    "probe_many",
    "probe_tls",
]
