"""Set-up files agree with each other, and the notebook pairs are in sync."""
import re
import subprocess

import pytest
import tomllib
import yaml

from tests.conftest import REPO

NOTEBOOKS = ("01_explore", "02_train", "03_error_analysis")


def pins(lines):
    return {m.group(1).lower(): m.group(2) for m in (re.match(r"\s*([A-Za-z0-9_.-]+)==([^\s;]+)", l) for l in lines) if m}


def test_environment_yml_pins_match_pyproject():
    project = tomllib.loads((REPO / "pyproject.toml").read_text())
    env = yaml.safe_load((REPO / "environment.yml").read_text())
    pip_section = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict) and "pip" in d)
    assert pins(project["project"]["dependencies"]) == pins(pip_section) == {"torch": "2.14.1", "torchvision": "0.29.1"}
    assert any("-e .[dev]" in line for line in pip_section)


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
        code = lambda nb: [c.source.strip() for c in nb.cells
                           if c.cell_type == "code" and "parameters" not in c.metadata.get("tags", [])
                           and "injected-parameters" not in c.metadata.get("tags", [])]
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
        known = subprocess.run(["git", "-C", str(REPO), "cat-file", "-e", f"{commit}^{{commit}}"],
                               capture_output=True)
        if known.returncode != 0 and subprocess.run(["git", "-C", str(REPO), "rev-parse", "--is-shallow-repository"],
                                                    capture_output=True, text=True).stdout.strip() == "true":
            pytest.skip("shallow clone: older commits are not here")
        assert known.returncode == 0, f"{f} names commit {commit}, which is not in this history"
