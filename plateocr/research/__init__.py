"""Research tooling the runtime never imports: the shipped model's recipe, `make reports`,
the notebooks' tables and figures."""
