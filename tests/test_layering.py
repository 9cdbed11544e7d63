"""Layering: the core imports only torch; shared glue imports no app; apps never import each other.

Read from the source (AST), so a lazy import inside a function counts too, and checked once at run time.
"""

import ast
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
APPS = sorted(p.name for p in (ROOT / "apps").iterdir() if (p / "pyproject.toml").exists())
APP_PACKAGES = {f"ffn_{app}": app for app in APPS}
STDLIB = set(sys.stdlib_module_names)


def imported_top_levels(source_dir: Path) -> dict[str, set[Path]]:
    """Top-level module name → files that import it, for every .py file under ``source_dir``."""
    found: dict[str, set[Path]] = {}
    for path in source_dir.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                found.setdefault(name.split(".")[0], set()).add(path.relative_to(ROOT))
    return found


def test_core_imports_only_torch_and_the_standard_library():
    imports = imported_top_levels(ROOT / "packages/ffn-blocks/src")
    foreign = {name: files for name, files in imports.items() if name not in STDLIB | {"torch", "ffn_blocks"}}
    assert not foreign, f"ffn_blocks must depend on torch only: {foreign}"


def test_shared_glue_imports_no_app():
    imports = imported_top_levels(ROOT / "packages/ffn-lightning/src")
    assert not set(imports) & set(APP_PACKAGES), imports.keys() & APP_PACKAGES.keys()


@pytest.mark.parametrize("app", APPS)
def test_apps_never_import_each_other(app):
    imports = imported_top_levels(ROOT / "apps" / app)
    others = {
        name: files for name, files in imports.items() if name in APP_PACKAGES and APP_PACKAGES[name] != app
    }
    assert not others, f"{app} imports another app: {others}"


def test_nerfstudio_stays_inside_the_fields_app_and_pytorch_lightning_nowhere():
    for source in [ROOT / "packages", *(ROOT / "apps" / a for a in APPS)]:
        imports = imported_top_levels(source)
        assert "pytorch_lightning" not in imports, f"use lightning.pytorch: {imports['pytorch_lightning']}"
        if source.name != "fields":
            assert "nerfstudio" not in imports, f"nerfstudio outside apps/fields: {imports['nerfstudio']}"


def test_importing_the_core_loads_no_lightning():
    code = (
        "import sys, ffn_blocks, ffn_blocks.testing\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in {'lightning', 'pytorch_lightning', 'timm'})\n"
        "assert not bad, bad\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_nothing_under_packages_or_apps_points_outside_the_repository():
    """Data comes through the data layer (`ffn_data.fetch`), never from a folder beside the checkout."""
    forbidden = re.compile(r"shared/data|parents\[5\]|\.\./shared")
    offenders = [
        f"{path.relative_to(ROOT)}:{number}"
        for source in (ROOT / "packages", ROOT / "apps")
        for path in sorted(source.rglob("*"))
        if path.is_file() and path.suffix in {".py", ".yaml", ".yml", ".toml", ".json", ".txt", ".md", ".cfg"}
        for number, line in enumerate(path.read_text(errors="replace").splitlines(), start=1)
        if forbidden.search(line)
    ]
    assert not offenders, offenders


def _ffn_blocks_imports(source_dir: Path) -> list[tuple[Path, str, str]]:
    """``(file, module, name)`` for every ``from ffn_blocks[.sub] import name`` under ``source_dir``."""
    found = []
    for path in source_dir.rglob("*.py"):
        if "tests" in path.parts:
            continue
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if (
                isinstance(node, ast.ImportFrom)
                and node.level == 0
                and (node.module or "").startswith("ffn_blocks")
            ):
                found += [(path.relative_to(ROOT), node.module, alias.name) for alias in node.names]
    return found


@pytest.mark.parametrize("source", ["packages/ffn-lightning", *(f"apps/{app}" for app in APPS)])
def test_apps_use_only_the_public_api_of_ffn_blocks(source):
    """A name imported from ``ffn_blocks`` is in its ``__all__``; one from a submodule is in that public
    submodule's ``__all__`` (``ffn_blocks.PUBLIC_SUBMODULES``), so the core can change its internals."""
    import importlib

    import ffn_blocks

    private = []
    for path, module, name in _ffn_blocks_imports(ROOT / source):
        sub = module.removeprefix("ffn_blocks").removeprefix(".")
        if sub and sub.split(".")[0] not in ffn_blocks.PUBLIC_SUBMODULES:
            private.append(f"{path}: {module} is not a public submodule")
        elif name not in importlib.import_module(module).__all__:
            private.append(f"{path}: {module}.{name} is not in {module}.__all__")
    assert not private, "\n".join(private)


def test_no_benchmark_or_demo_entry_point_sits_in_a_library_package_directory():
    """Experiments live in each package's ``bench/`` subpackage; library modules import nothing there."""
    pattern = re.compile(r"^(benchmark|.*_benchmark|demo.*|.*baselines.*)\.py$")
    libraries = [p for p in (ROOT / "packages").glob("*/src/*") if p.is_dir()]
    libraries += [p for p in (ROOT / "apps").glob("*/src/*") if p.is_dir()]
    misplaced = [
        str(path.relative_to(ROOT))
        for library in libraries
        for path in library.rglob("*.py")
        if pattern.match(path.name) and "bench" not in path.relative_to(library).parts
    ]
    assert not misplaced, misplaced
    importers = []
    for library in libraries:
        for path in library.rglob("*.py"):
            if "bench" in path.relative_to(library).parts:
                continue
            for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
                module = node.module if isinstance(node, ast.ImportFrom) else None
                if module and (
                    module.startswith(f"{library.name}.bench") or (node.level and module.startswith("bench"))
                ):
                    importers.append(str(path.relative_to(ROOT)))
    assert not importers, f"library modules import experiments: {importers}"


def test_no_function_outside_the_tests_is_over_60_lines():
    long = []
    for path in sorted(ROOT.glob("*/*/src/**/*.py")):
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                lines = node.end_lineno - node.lineno + 1
                if lines > 60:
                    long.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.name} ({lines} lines)")
    assert not long, "split these functions: " + "; ".join(long)
