"""Notebook parameters: papermill runs them as users expect, and wrong ones fail clearly."""

import pytest

from tests.conftest import REPO

papermill = pytest.importorskip("papermill")
pytestmark = pytest.mark.slow  # each runs a notebook kernel


@pytest.mark.parametrize(
    "parameters, message",
    [
        ({"arch": "vgg"}, "unknown arch 'vgg'"),
        ({"epochs": -3}, "epochs must be a positive integer"),
        ({"data_dir": "/no/such/data"}, "does not exist"),
    ],
)
def test_wrong_parameters_fail_with_a_clear_message(tmp_path, parameters, message):
    with pytest.raises(papermill.PapermillExecutionError) as info:
        papermill.execute_notebook(
            str(REPO / "notebooks" / "02_train.ipynb"),
            str(tmp_path / "out.ipynb"),
            parameters={"output_dir": str(tmp_path / "run"), **parameters},
            cwd=str(REPO / "notebooks"),
            progress_bar=False,
            kernel_name="python3",
        )
    assert info.value.ename == "PlateOCRError" and message in info.value.evalue
