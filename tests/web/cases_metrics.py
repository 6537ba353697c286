"""The Prometheus endpoint: not a page of a client's data; its own tests prove who may read it
(tests/monitoring/test_metrics.py)."""

CASES: dict = {}

EXEMPT = {
    "metrics": "provider-wide aggregates for administrators and operators only "
    "(401 without a token, 403 for anyone else), tested in tests/monitoring/test_metrics.py",
}
