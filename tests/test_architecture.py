"""The boundary between pure domain code and adapters is checked, and the check can fail.

The import-linter contract lives in pyproject.toml; these tests run the same
``lint-imports`` command CI runs, on the real tree and on a copy with a deliberate
violation. A second check reads the same list of domain modules and refuses any that
reads the clock, the environment or randomness: domain code takes ``now`` instead.
"""

from __future__ import annotations

import ast
import fnmatch
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"
CONTRACT = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
DOMAIN_PATTERNS: list[str] = CONTRACT["contracts"][0]["source_modules"]


def lint_imports(root: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache"],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={"PYTHONPATH": str(root), "PATH": "/usr/bin:/bin"},
    )


def test_boundary_check_passes_on_the_tree() -> None:
    result = lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 kept, 0 broken" in result.stdout


@pytest.mark.parametrize(
    ("module", "line"),
    [
        ("beeldbel/organisation/model.py", "import aiohttp"),
        ("beeldbel/pagination.py", "from sqlalchemy import select"),
        ("beeldbel/identity/model.py", "import jwt"),
        ("beeldbel/scheduling/rules.py", "import aiortc"),  # a new module, not installed library
        ("beeldbel/organisation/model.py", "from beeldbel.db.engine import Database"),
    ],
)
def test_boundary_check_fails_when_domain_code_imports_an_adapter(
    tmp_path: Path, module: str, line: str
) -> None:
    shutil.copytree(
        ROOT / "beeldbel", tmp_path / "beeldbel", ignore=shutil.ignore_patterns("__pycache__")
    )
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    target = tmp_path / module
    existing = target.read_text() if target.exists() else '"""A new domain module."""\n'
    target.write_text(existing + f"\n{line}\n")
    result = lint_imports(tmp_path)
    assert result.returncode != 0, result.stdout
    dotted = module.removesuffix(".py").replace("/", ".")
    assert "BROKEN" in result.stdout
    assert dotted in result.stdout


def domain_files() -> list[Path]:
    found = []
    for path in sorted((ROOT / "beeldbel").rglob("*.py")):
        dotted = ".".join(path.relative_to(ROOT).with_suffix("").parts)
        if dotted == "beeldbel.clock":  # the one module whose job is to read the clock
            continue
        if any(fnmatch.fnmatchcase(dotted, pattern) for pattern in DOMAIN_PATTERNS):
            found.append(path)
    return found


FORBIDDEN_CALLS = {
    ("datetime", "now"),
    ("datetime", "utcnow"),
    ("datetime", "today"),
    ("date", "today"),
    ("time", "time"),
    ("time", "monotonic"),
    ("time", "perf_counter"),
    ("os", "getenv"),
    ("os", "environ"),
    ("random", "random"),
    ("uuid", "uuid4"),
}


def impurities(source: str) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(source)):
        if (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and (node.value.id, node.attr) in FORBIDDEN_CALLS
        ):
            found.append(f"{node.value.id}.{node.attr} (line {node.lineno})")
        if isinstance(node, ast.ImportFrom) and node.module in {"time", "random", "os"}:
            found.append(f"from {node.module} import ... (line {node.lineno})")
    return found


def test_domain_modules_are_found() -> None:
    names = {p.relative_to(ROOT).as_posix() for p in domain_files()}
    assert {
        "beeldbel/organisation/model.py",
        "beeldbel/pagination.py",
        "beeldbel/ratelimit/rules.py",
        "beeldbel/errors.py",
    } <= names


@pytest.mark.parametrize("path", domain_files(), ids=lambda p: p.relative_to(ROOT).as_posix())
def test_domain_code_never_reads_clock_environment_or_randomness(path: Path) -> None:
    assert impurities(path.read_text()) == []


def test_the_purity_check_catches_a_clock_read() -> None:
    source = "from datetime import datetime\n\ndef f():\n    return datetime.now()\n"
    assert impurities(source) == ["datetime.now (line 4)"]
    assert impurities("import os\nx = os.environ['A']\n") == ["os.environ (line 2)"]


async def test_a_route_added_around_register_stops_the_app_from_starting(settings) -> None:  # type: ignore[no-untyped-def]
    from aiohttp import web

    from beeldbel.app import create_app

    async def sneaky(request: web.Request) -> web.Response:
        return web.Response(text="unvalidated, unauthorized, undeclared")

    app = create_app(settings)
    app.router.add_get("/api/v1/sneaky", sneaky)
    runner = web.AppRunner(app)
    try:
        with pytest.raises(RuntimeError, match="/api/v1/sneaky is not declared"):
            await runner.setup()  # runs the start-up hooks
    finally:
        await runner.cleanup()


def test_an_operation_without_a_data_class_is_refused() -> None:
    from aiohttp import web

    from beeldbel.api.routing import Operation, register

    async def handler(call):  # type: ignore[no-untyped-def]
        raise AssertionError

    undeclared = Operation("GET", "/x", handler, "x", "x", "test", None)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="does not declare the data it touches"):
        register(web.Application(), [undeclared])
