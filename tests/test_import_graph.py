"""The import graph points one way: entry points -> domains -> core, and the API never imports the workers.

Every ``import`` of ``src/app`` and ``workers`` is read from the source (type-checking imports included: they are
dependencies a reader follows too), and each rule lists what breaks it.
"""

from __future__ import annotations

import ast
from pathlib import Path

from tests.servers import REPO_ROOT

SOURCES = ((REPO_ROOT / "src", "app"), (REPO_ROOT, "workers"))
# What assembles or serves the app: nothing imports them back. (``app.models``, which maps every table for a process
# that uses the ORM outside the web app, is a registry, not one of them.)
ENTRY_MODULES = frozenset({"app.application", "app.main", "app.wsgi", "app.manage", "app.cli"})

Edge = tuple[str, str]


def _module_name(root: Path, path: Path) -> str:
    parts = path.relative_to(root).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_edges(root: Path, package: str) -> list[Edge]:
    """``(importer, imported)`` for every import in ``package`` under ``root``, relative imports resolved."""
    edges: list[Edge] = []
    for path in sorted((root / package).rglob("*.py")):
        importer = _module_name(root, path)
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.Import):
                edges += [(importer, alias.name) for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                edges.append((importer, _absolute(importer, path, node)))
    return edges


def _absolute(importer: str, path: Path, node: ast.ImportFrom) -> str:
    """The module a ``from`` import names: ``from ..core import x`` in ``app.users.service`` is ``app.core``."""
    if not node.level:
        return node.module or ""
    package = importer.split(".") if path.name == "__init__.py" else importer.split(".")[:-1]
    anchor = package[: len(package) - (node.level - 1)]
    return ".".join([*anchor, *([node.module] if node.module else [])])


def _within(module: str, package: str) -> bool:
    return module == package or module.startswith(f"{package}.")


def _domain(module: str) -> str | None:
    """``app.users.service`` -> ``users``; ``None`` for core, the entry modules, the model registry and anything
    outside ``app``."""
    parts = module.split(".")
    if parts[0] != "app" or len(parts) < 2 or module in ENTRY_MODULES or parts[1] in {"core", "models"}:
        return None
    return parts[1]


# Between domains the arrows point one way too: each domain here may import those listed after it, never the reverse.
# auth signs accounts in and ends their sessions, so it builds on users; users knows accounts, not tokens. Both record
# what they do in the audit log, which knows neither. Idempotency keys know none of the requests they keep.
DOMAIN_ORDER = ("system", "ops", "maintenance", "posts", "auth", "users", "audit", "emails", "idempotency")


def violations(edges: list[Edge]) -> list[str]:
    """Every edge that points back up: core -> a domain or an entry module, a domain -> an entry module, the API ->
    the workers, a domain -> one before it in :data:`DOMAIN_ORDER`."""
    found = []
    for importer, imported in edges:
        importer_domain, imported_domain = _domain(importer), _domain(imported)
        if importer_domain and imported_domain and importer_domain != imported_domain:
            if DOMAIN_ORDER.index(imported_domain) < DOMAIN_ORDER.index(importer_domain):
                found.append(f"{importer} -> {imported}: {importer_domain} builds on nothing of {imported_domain}")
            continue
        if _within(importer, "app") and _within(imported, "workers"):
            found.append(f"{importer} -> {imported}: the API publishes tasks by name, it never imports the workers")
        elif _within(importer, "app.core") and (_domain(imported) or imported in ENTRY_MODULES):
            found.append(f"{importer} -> {imported}: core is plumbing, it knows no domain")
        elif _domain(importer) and imported in ENTRY_MODULES:
            found.append(f"{importer} -> {imported}: a domain never imports what assembles the app")
    return found


def test_no_import_points_back_up() -> None:
    edges = [edge for root, package in SOURCES for edge in import_edges(root, package)]
    # The graph was read: the domains import core, and the workers import the domains.
    assert any(_domain(importer) and _within(imported, "app.core") for importer, imported in edges)
    assert any(_within(importer, "workers") and _domain(imported) for importer, imported in edges)
    assert violations(edges) == []


def test_each_rule_catches_what_breaks_it() -> None:
    backwards = [
        ("app.core.task_queue", "workers.tasks"),
        ("app.core.errors", "app.users.models"),
        ("app.core.edge", "app.application"),
        ("app.posts.service", "app.main"),
        ("app.users.service", "app.auth.sessions"),
        ("app.emails.service", "app.users.models"),
    ]
    allowed = [
        ("app.users.service", "app.core.settings"),
        ("workers.tasks", "app.emails.service"),
        ("app.auth.login", "app.users.repository"),
    ]
    assert len(violations(backwards)) == len(backwards)
    assert violations(allowed) == []


def test_relative_imports_are_resolved(tmp_path: Path) -> None:
    package = tmp_path / "app" / "users"
    package.mkdir(parents=True)
    (tmp_path / "app" / "__init__.py").write_text("")
    (package / "__init__.py").write_text("from .service import UserService\n")
    (package / "service.py").write_text("from ..core import settings\nfrom . import models\n")
    edges = import_edges(tmp_path, "app")
    assert ("app.users", "app.users.service") in edges
    assert ("app.users.service", "app.core") in edges
    assert ("app.users.service", "app.users") in edges
