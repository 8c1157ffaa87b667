"""nbval settings for the notebooks: compare plain-text outputs, not their HTML twins or stderr."""


def pytest_collectstart(collector):
    if collector.fspath and collector.fspath.ext == ".ipynb":
        # DataFrames render as text/plain and text/html; the plain text carries the same numbers.
        collector.skip_compare += ("text/html", "application/javascript", "stderr")
