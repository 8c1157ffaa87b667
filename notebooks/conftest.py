"""nbval settings for the notebooks: compare plain-text outputs, not their HTML twins or stderr.

pytest reads this file for the notebooks beside it; it is not a notebook, so it has no .ipynb twin.
"""


def pytest_collectstart(collector):
    if collector.fspath and collector.fspath.ext == ".ipynb":
        # DataFrames render as text/plain and text/html; the plain text carries the same numbers.
        collector.skip_compare += ("text/html", "application/javascript", "stderr")
