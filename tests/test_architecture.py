"""The package's import graph: one-way layers, adapters apart, no cycles.

Every ``import`` in ``src/img2img`` counts, the lazy ones inside functions
included, since a lazy import is still a dependency.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import img2img

PACKAGE = Path(img2img.__file__).parent

#: Lower ranks never import higher ones. A module's rank is that of the longest
#: prefix listed; ``testing`` is a toolbox built on everything but the command.
RANKS = {
    "img2img._version": 0,
    "img2img.errors": 0,
    "img2img.closing": 0,
    "img2img.arguments": 0,
    "img2img.cores": 0,
    "img2img.models": 1,
    "img2img.options": 1,
    "img2img.registry": 1,
    "img2img.protocols": 2,
    "img2img.filters": 2,
    "img2img.images": 2,
    "img2img.hashes": 2,
    "img2img.provenance": 2,
    "img2img.net": 3,
    "img2img.loading": 4,
    "img2img.sources": 4,
    "img2img.stores": 4,
    "img2img.embedders": 4,
    "img2img.pipeline": 5,
    "img2img.reverse": 5,
    "img2img.stats": 5,
    "img2img.sync": 5,
    "img2img.postings": 5,
    "img2img.locate": 5,
    "img2img.adding": 5,
    "img2img.nearest": 5,
    "img2img.watch": 5,
    "img2img.client_parts": 5,
    "img2img.client": 6,
    "img2img.report": 6,
    "img2img.testing": 7,
    "img2img.cli": 8,
    "img2img.__main__": 9,
    "img2img": 9,
}
#: Folders whose modules and sub-folders are adapters of one seam; their other
#: modules (listed here) are shared by the seam's adapters.
SEAMS = {
    "img2img.sources": {"fields", "paging", "parts", "reverse_parts", "settings", "sites"},
    "img2img.stores": {"columns", "paging", "search", "space", "validation"},
    "img2img.embedders": {
        "batching",
        "built",
        "checkpoint",
        "clip_options",
        "cpu_features",
        "export",
        "runtime",
        "stack",
    },
}


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path) -> set[str]:
    """The img2img modules ``path`` imports, anywhere in the file."""
    found: set[str] = set()
    package = module_name(path).rsplit(".", 1)[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(
                    [*package.split(".")[: len(package.split(".")) - node.level + 1], base]
                )
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return {name for name in found if name.startswith("img2img")}


def graph() -> dict[str, set[str]]:
    modules = {module_name(path): path for path in PACKAGE.rglob("*.py")}
    return {
        name: {target for target in imports_of(path) if target in modules and target != name}
        for name, path in modules.items()
    }


def rank(module: str) -> int:
    prefix = max((p for p in RANKS if module == p or module.startswith(p + ".")), key=len)
    return RANKS[prefix]


def adapter_of(module: str) -> str | None:
    """``img2img.stores.pinecone`` for any module of that adapter; ``None`` for shared code."""
    for seam, shared in SEAMS.items():
        if module.startswith(seam + "."):
            first = module[len(seam) + 1 :].split(".")[0]
            # An adapter's second module is named after it: efficientnet_graph, clip_onnx.
            return None if first in shared else f"{seam}.{first.split('_')[0]}"
    return None


GRAPH = graph()
EDGES = sorted((source, target) for source, targets in GRAPH.items() for target in targets)


def test_the_graph_is_read() -> None:
    # Guards the checks below against passing on an empty graph.
    assert ("img2img.client", "img2img.client_parts") in EDGES
    assert ("img2img.stores.local.store", "img2img.stores.local.schema") in EDGES


@pytest.mark.parametrize(("source", "target"), EDGES)
def test_imports_point_down(source: str, target: str) -> None:
    assert rank(source) >= rank(target), f"{source} (layer {rank(source)}) imports {target}"


def test_adapters_do_not_import_each_other() -> None:
    crossings = [
        (source, target)
        for source, target in EDGES
        if adapter_of(source) and adapter_of(target) and adapter_of(source) != adapter_of(target)
    ]
    assert crossings == []


def test_no_module_imports_in_a_cycle() -> None:
    state: dict[str, int] = {}  # 1 on the path, 2 done
    cycles: list[list[str]] = []

    def visit(module: str, path: list[str]) -> None:
        state[module] = 1
        for target in sorted(GRAPH[module]):
            if state.get(target) == 1:
                cycles.append([*path[path.index(target) :], target])
            elif target not in state:
                visit(target, [*path, target])
        state[module] = 2

    for module in sorted(GRAPH):
        if module not in state:
            visit(module, [module])
    assert cycles == []


def test_top_level_modules_are_not_an_adapters_helpers() -> None:
    # A top-level module imported by exactly one adapter belongs in that adapter's folder.
    for module in (m for m in GRAPH if m.count(".") == 1):
        users = {adapter_of(source) for source in GRAPH if module in GRAPH[source]}
        users.discard(None)
        importers = {source for source in GRAPH if module in GRAPH[source]}
        only_adapter = len(users) == 1 and all(adapter_of(s) for s in importers)
        assert not only_adapter, f"{module} is used only by {users}"


#: The verifier (local features and a geometric fit) and the one service that calls it.
VERIFIER = "img2img.postings.verify"
JUDGE = "img2img.postings.judge"
#: What other modules may take from the verifier: its settings and answer types,
#: and the BLAS limit a caller puts around its own pool. Nothing that compares pictures.
VERIFIER_VOCABULARY = {"DEFAULT_THRESHOLDS", "Thresholds", "Verification", "one_blas_thread"}
#: Names a module re-exports for users without calling them: ``img2img.verify_copy``
#: is the verifier on its own, for two pictures and no store.
RE_EXPORTS = {"img2img": {"verify_copy"}}


def taken_from_verifier(source: str, module: str) -> set[str]:
    """What ``module`` (whose code is ``source``) uses of the verifier beyond what it may:
    names imported from it, the module itself imported, re-exported names called."""
    allowed = VERIFIER_VOCABULARY | RE_EXPORTS.get(module, set())
    parent, leaf = VERIFIER.rsplit(".", 1)
    package = module.rsplit(".", 1)[0]
    taken: set[str] = set()
    tree = ast.parse(source)
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            taken.update(VERIFIER for alias in node.names if alias.name == VERIFIER)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(
                    [*package.split(".")[: len(package.split(".")) - node.level + 1], base]
                )
            if base == VERIFIER:
                taken.update(alias.name for alias in node.names if alias.name not in allowed)
            elif base == parent:
                taken.update(VERIFIER for alias in node.names if alias.name == leaf)
    re_exported = RE_EXPORTS.get(module, set())
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            taken.update({node.func.id} & re_exported)
    return taken


def test_only_the_judging_service_calls_the_verifier() -> None:
    # "Is this the same picture?" is decided in one place (postings/judge.py); a new
    # fit or relation added there reaches find_postings, duplicates and locate alike.
    assert VERIFIER in GRAPH[JUDGE]
    offenders = {
        module: taken
        for path in PACKAGE.rglob("*.py")
        if (module := module_name(path)) not in (JUDGE, VERIFIER)
        and (taken := taken_from_verifier(path.read_text(encoding="utf-8"), module))
    }
    assert offenders == {}


def test_the_judging_rule_sees_each_way_round_it() -> None:
    # Guards the rule above against passing because it cannot see an offender.
    assert (
        taken_from_verifier("from img2img.postings.verify import Thresholds", "img2img.x") == set()
    )
    cases = {
        "from img2img.postings.verify import verify_features": {"verify_features"},
        "from .verify import QueryFeatures": {"QueryFeatures"},
        "import img2img.postings.verify": {VERIFIER},
        "from img2img.postings import verify": {VERIFIER},
    }
    for source, taken in cases.items():
        assert taken_from_verifier(source, "img2img.postings.finder") == taken, source
    called = "from img2img.postings.verify import verify_copy\nverify_copy(a, b)"
    assert taken_from_verifier(called, "img2img") == {"verify_copy"}


def test_the_pipelines_stages_do_not_import_its_runner() -> None:
    # The stages share their types through pipeline.items, so none needs the
    # runner that joins them (or the package, which re-exports the runner).
    runner = {"img2img.pipeline", "img2img.pipeline.runner"}
    stages = [m for m in GRAPH if m.startswith("img2img.pipeline.") and m not in runner]
    assert {"img2img.pipeline.download", "img2img.pipeline.write"} <= set(stages)
    assert [(m, sorted(GRAPH[m] & runner)) for m in stages if GRAPH[m] & runner] == []


def test_the_pipelines_modules_stay_small() -> None:
    sizes = {
        path.name: len(path.read_text(encoding="utf-8").splitlines())
        for path in (PACKAGE / "pipeline").glob("*.py")
    }
    assert len(sizes) > 5
    assert {name: lines for name, lines in sizes.items() if lines > 300} == {}
