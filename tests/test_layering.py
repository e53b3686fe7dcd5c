"""Imports flow downward only: every module of bayesgmm imports only modules of a lower layer.

Each module's ``import`` / ``from ... import`` statements of ``bayesgmm.*`` are read with
``ast``, at module level and inside functions alike (a deferred import is still a
dependency). The package ``__init__`` files are façades that re-export the layers: nothing
inside the package may import one (importing ``bayesgmm.bayes`` runs the whole Bayesian
package, estimator included), so they rank above everything.
"""

import ast
import pathlib

PACKAGE = pathlib.Path(__file__).resolve().parent.parent / "bayesgmm"

#: Layers from the bottom up; a module may import only modules of an earlier layer.
LAYERS = [
    ("exceptions", "config", "linalg"),
    ("validation", "base"),
    ("mclust_models", "hc"),
    ("covariance", "datasets"),
    ("params",),
    ("density", "stats", "rows"),
    ("init", "relabel"),
    ("em",),
    ("online", "outofcore", "resampling", "bayes.model"),
    ("bayes.sampler",),
    ("bayes.inference",),
    ("bayes.posterior", "bayes.kplus", "bayes.diagnostics"),
    ("bayes.arviz", "bayes.telescope"),
    ("plots",),
    ("selection", "report"),
    ("compare",),
    ("estimator",),
    ("estimator_ic", "bayes.estimator"),
    ("io",),
    ("cli",),
    ("__main__",),  # python -m bayesgmm: runs the command line
]
RANKS = {name: rank for rank, layer in enumerate(LAYERS) for name in layer}
#: Packages whose ``__init__`` only re-exports (ranked above every layer).
FACADES = {"", "bayes"}
FACADE_RANK = len(LAYERS)


def _module_name(path):
    """``bayes/model.py`` -> ``"bayes.model"``; a package's ``__init__.py`` -> the package."""
    parts = list(path.relative_to(PACKAGE).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES = {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _resolve(name):
    """The module a dotted name inside bayesgmm refers to (the longest existing prefix)."""
    parts = name.split(".")
    while parts and ".".join(parts) not in MODULES:
        parts.pop()
    return ".".join(parts)


def _imports(module, path):
    """``(line, imported module)`` for every import of a bayesgmm module in ``path``."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: resolve against this module's package
                base = ["bayesgmm"] + (package.split(".") if package else [])
                base = base[:len(base) - (node.level - 1)]
                source = ".".join(base + ([node.module] if node.module else []))
            else:
                source = node.module or ""
            # ``from bayesgmm.bayes import inference`` imports a submodule when one exists.
            names = [f"{source}.{alias.name}" for alias in node.names]
        else:
            continue
        for name in names:
            if name == "bayesgmm" or name.startswith("bayesgmm."):
                found.append((node.lineno, _resolve(name.removeprefix("bayesgmm").lstrip("."))))
    return found


def _rank(module):
    return FACADE_RANK if module in FACADES else RANKS[module]


def test_every_module_has_a_layer():
    unranked = sorted(set(MODULES) - set(RANKS) - FACADES)
    assert not unranked, f"modules without a layer (add them to LAYERS): {unranked}"


def test_imports_flow_downward_only():
    violations = []
    for module, path in MODULES.items():
        if module in FACADES or module not in RANKS:
            continue
        for line, target in _imports(module, path):
            if target == module:
                continue
            if _rank(target) >= RANKS[module]:
                violations.append(f"bayesgmm/{path.relative_to(PACKAGE)}:{line}: {module} "
                                  f"imports {target or 'bayesgmm'}")
    assert not violations, "imports that do not go to a lower layer:\n" + "\n".join(violations)

