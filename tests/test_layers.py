"""The structure of the house, drawn from the imports (docs/architecture.md, "Layers").

Every ``import`` and ``from … import`` in src/mamori counts, at module level and inside
functions (an AST walk sees both). A module belongs to the layer of the longest prefix that
names it; it may import its own layer and the layers below, never one above. Apps listed in one
``independent`` group may not import each other at all.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"

#: From the top of the house to the ground. Within a layer, imports go either way.
LAYERS: list[tuple[str, list[str]]] = [
    ("entry points", ["mamori.urls", "mamori.cli", "mamori.__main__"]),
    # The processes: periodic jobs, runner, dashboard, serve/scheduler/worker, the WSGI app.
    ("runtime", ["mamori.operations", "mamori.wsgi", "mamori.asgi"]),
    ("interfaces", ["mamori.api", "mamori.demo"]),
    # Money and the monthly report read every feature (CA fees, SLA credits, the month's figures).
    ("business", ["mamori.billing", "mamori.reports"]),
    (
        "features",
        [
            "mamori.lifecycle",
            "mamori.monitoring",
            # The work desk: client requests, support hours, personal-data incidents.
            "mamori.desk",
            # The software on managed servers, collected over the lifecycle's SSH code.
            "mamori.software",
            # Backups: restic runs over the lifecycle's SSH; failures open monitoring's incidents.
            "mamori.backups",
            # Vulnerability data, findings and the record of updates (MNT-02); runs updates
            # over the lifecycle's SSH sessions.
            "mamori.advisories",
            # Records kept after the contract ends and purged when the period is over (END-02).
            "mamori.retention",
            # Provider-wide announcements (NOT-04) to the clients of contracts and servers.
            "mamori.announcements",
            "mamori.weblogs",
            # The inventory's import and export carry the lifecycle's settings (targets, ACME);
            # its pages and forms offer them.
            "mamori.inventory.transfer",
            # The one write path of inventory and client records (API and import): it applies the
            # import's reading of values and the deployment targets' rules.
            "mamori.inventory.services",
            "mamori.clients.services",
            # The pages of a client's records write through those services.
            "mamori.clients.record_views",
            # The contract page shows the terms and records notices through the services.
            "mamori.clients.contract_views",
            "mamori.clients.forms",
            "mamori.inventory.management",
            "mamori.inventory.views",
            "mamori.inventory.forms",
            # The clients list shows each client's worst state over endpoints, uptime checks and
            # open incidents (a client whose check is down is down).
            "mamori.clients.views",
        ],
    ),
    (
        "domain",
        [
            "mamori.certificates",
            "mamori.inventory",
            "mamori.vault",
            "mamori.notices",
            "mamori.access",
            "mamori.clients",
        ],
    ),
    # A user belongs to a client: scoping and permissions are defined over clients.Client.
    # The billing models are records of clients and contracts (fees, invoices): the inventory's
    # import and export carry contracts' fees; the invoice run (mamori.billing) stays above.
    ("ground floor", ["mamori.core", "mamori.clients.models", "mamori.billing.models"]),
    ("libraries", ["mamori.probe", "mamori.conf", "mamori.settings", "mamori.celery"]),
]

#: Groups of one layer that must not import each other.
INDEPENDENT = [["mamori.lifecycle", "mamori.monitoring"], ["mamori.api", "mamori.demo"]]

#: Known imports against the layers, each with its reason. Keep this list short.
EXCEPTIONS = {
    # Input the database cannot store is refused before any view runs; on /api/ the answer has
    # the API's one error shape (mamori.api.errors), imported when that happens.
    ("mamori.core.middleware", "mamori.api.errors"),
}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def is_module(name: str) -> bool:
    base = SRC / Path(*name.split("."))
    return base.with_suffix(".py").exists() or (base / "__init__.py").exists()


def imports(path: Path) -> list[tuple[str, int]]:
    """Every mamori module ``path`` imports, with the line; ``from a import b`` names ``a.b``
    when that is a module."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [(alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            for alias in node.names:
                full = f"{node.module}.{alias.name}"
                found.append((full if is_module(full) else node.module, node.lineno))
    return [(name, line) for name, line in found if name.split(".")[0] == "mamori"]


def place(module: str) -> tuple[int, str] | None:
    """(layer index, the prefix that placed it), by the longest matching prefix."""
    best = None
    for index, (_, prefixes) in enumerate(LAYERS):
        for prefix in prefixes:
            inside = module == prefix or module.startswith(prefix + ".")
            if inside and (best is None or len(prefix) > len(best[1])):
                best = (index, prefix)
    return best


def modules() -> list[tuple[str, Path]]:
    return sorted(
        (module_name(p), p) for p in (SRC / "mamori").rglob("*.py") if "migrations" not in p.parts
    )


def edges():
    for source, path in modules():
        for target, line in imports(path):
            yield source, target, f"{path.relative_to(SRC)}:{line}"


def test_every_module_has_a_layer():
    unplaced = [name for name, _ in modules() if name != "mamori" and place(name) is None]
    assert unplaced == []


def test_nothing_imports_a_layer_above_its_own():
    wrong = []
    for source, target, where in edges():
        here, there = place(source), place(target)
        if here is None or there is None or (source, target) in EXCEPTIONS:
            continue
        if there[0] < here[0]:
            wrong.append(
                f"{where}: {source} ({LAYERS[here[0]][0]}) imports {target} ({LAYERS[there[0]][0]})"
            )
    assert wrong == []


@pytest.mark.parametrize("group", INDEPENDENT, ids=lambda g: " | ".join(g))
def test_independent_apps_do_not_import_each_other(group):
    wrong = []
    for source, target, where in edges():
        mine = [p for p in group if source == p or source.startswith(p + ".")]
        theirs = [p for p in group if target == p or target.startswith(p + ".")]
        if mine and theirs and mine != theirs:
            wrong.append(f"{where}: {source} imports {target}")
    assert wrong == []


def test_the_certificates_app_does_not_import_the_lifecycle():
    wrong = [
        where
        for source, target, where in edges()
        if source.startswith("mamori.certificates") and target.startswith("mamori.lifecycle")
    ]
    assert wrong == []


def test_the_exceptions_are_still_needed():
    assert {(s, t) for s, t, _ in edges()} >= EXCEPTIONS
