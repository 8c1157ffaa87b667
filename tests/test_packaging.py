"""Set-up files agree with each other, and the notebook pairs are in sync."""

import re
import subprocess

import pytest
import tomllib
import yaml
from packaging.requirements import Requirement

from tests.conftest import REPO

NOTEBOOKS = ("01_explore", "02_train", "03_error_analysis")


def pins(lines) -> dict[str, str]:
    """name -> version of each `name==version` line (comments and other lines ignored)."""
    found = (re.match(r"\s*([A-Za-z0-9_.-]+)==([^\s;#]+)", line) for line in lines)
    return {m.group(1).lower(): m.group(2) for m in found if m}


def declared(requirements) -> dict[str, Requirement]:
    return {Requirement(r).name.lower(): Requirement(r) for r in requirements}


def test_pyproject_declares_ranges_that_admit_the_pinned_versions():
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    runtime = declared(project["dependencies"])
    extras = {
        name: r
        for deps in project["optional-dependencies"].values()
        for name, r in declared(d for d in deps if not d.startswith("plateocr")).items()
    }
    exact = [str(r) for r in runtime.values() if any(s.operator == "==" for s in r.specifier)]
    assert exact == [], "a library's runtime dependencies are ranges, not exact pins"
    constraints = pins((REPO / "constraints.txt").read_text().splitlines())
    assert {"torch", "jiwer", "rapidfuzz", "onnxruntime"} <= set(constraints)
    for name, version in constraints.items():
        requirement = runtime.get(name) or extras.get(name)
        assert requirement is not None, f"constraints.txt pins {name}, which pyproject does not declare"
        assert requirement.specifier.contains(version), f"pyproject's {requirement} refuses the pinned {version}"


def test_environment_yml_pins_equal_the_constraints_and_setup_uses_them():
    env = yaml.safe_load((REPO / "environment.yml").read_text())
    pip_section = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict) and "pip" in d)
    constraints = pins((REPO / "constraints.txt").read_text().splitlines())
    assert pins(pip_section) and all(constraints.get(k) == v for k, v in pins(pip_section).items())
    assert any("-e .[dev]" in line for line in pip_section)
    setup = re.search(r"^setup:.*?(?=^\S)", (REPO / "Makefile").read_text(), re.M | re.S).group(0)
    assert "-c constraints.txt" in setup


def test_every_imported_third_party_module_is_declared():
    """What the package imports is a declared dependency, not one that arrives through another."""
    import ast
    import sys

    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    names = set(declared(project["dependencies"]))
    names |= {n for deps in project["optional-dependencies"].values() for n in declared(deps)}
    module_of = {"pillow": "PIL", "pyyaml": "yaml"}
    provided = {module_of.get(n, n.replace("-", "_")) for n in names}
    imported = set()
    for file in (REPO / "plateocr").rglob("*.py"):
        for node in ast.walk(ast.parse(file.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                imported |= {a.name.split(".")[0] for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                imported.add(node.module.split(".")[0])
    third_party = {m for m in imported if m not in sys.stdlib_module_names and m != "plateocr"}
    assert third_party - provided == set()


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebook_pairs_are_in_sync(name):
    """The .ipynb's code and markdown equal its .py percent script (jupytext pairs)."""
    import jupytext

    script = jupytext.read(REPO / "notebooks" / f"{name}.py")
    notebook = jupytext.read(REPO / "notebooks" / f"{name}.ipynb")
    cells = lambda nb: [(c.cell_type, c.source.strip(), sorted(c.metadata.get("tags", []))) for c in nb.cells]
    assert cells(script) == cells(notebook), f"run `make sync` (jupytext --sync notebooks/{name}.py)"


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_each_notebook_has_one_parameters_cell(name):
    import jupytext

    nb = jupytext.read(REPO / "notebooks" / f"{name}.py")
    tagged = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1
    for shared in ("output_dir", "seed"):
        assert re.search(rf"^{shared} = ", tagged[0].source, re.M)


def test_committed_reports_come_from_committed_notebooks():
    """reports/ holds the executed notebooks of a full run whose code equals notebooks/ today."""
    import jupytext

    for name in NOTEBOOKS:
        executed = REPO / "reports" / f"{name}.ipynb"
        if not executed.exists():
            pytest.skip("no committed reports yet")
        ran = jupytext.read(executed)
        source = jupytext.read(REPO / "notebooks" / f"{name}.py")
        code = lambda nb: [
            c.source.strip()
            for c in nb.cells
            if c.cell_type == "code"
            and "parameters" not in c.metadata.get("tags", [])
            and "injected-parameters" not in c.metadata.get("tags", [])
        ]
        assert code(ran) == code(source), f"reports/{name}.ipynb is stale: run `make reports`"


def test_committed_metrics_name_a_commit_of_this_history():
    import json

    files = sorted((REPO / "reports").glob("*/metrics.json"))
    if not files:
        pytest.skip("no committed reports yet")
    for f in files:
        prov = json.loads(f.read_text())["provenance"]
        assert prov["parameters"] and prov["data"] and prov["torch"] and prov["plateocr"]
        commit = prov["git_commit"]
        known = subprocess.run(["git", "-C", str(REPO), "cat-file", "-e", f"{commit}^{{commit}}"], capture_output=True)
        if (
            known.returncode != 0
            and subprocess.run(
                ["git", "-C", str(REPO), "rev-parse", "--is-shallow-repository"], capture_output=True, text=True
            ).stdout.strip()
            == "true"
        ):
            pytest.skip("shallow clone: older commits are not here")
        assert known.returncode == 0, f"{f} names commit {commit}, which is not in this history"
