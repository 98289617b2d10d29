"""The task families that ship with metanmt (the built-in algorithms are core): importing this
module registers them. The ``metanmt.plugins`` entry point names it, so an installed metanmt
finds them by itself; the CLI imports it too, so a source checkout on PYTHONPATH works as well."""

import metanmt.tasks.omniglot  # noqa: F401
import metanmt.tasks.sine  # noqa: F401
import metanmt.translation  # noqa: F401
