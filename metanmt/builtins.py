"""The task families that ship with metanmt (the built-in algorithms are core): importing this
module registers them. The ``metanmt.plugins`` entry point names it, so an installed metanmt
finds them by itself; the command bodies import it too, so a source checkout works as well."""

import metanmt.tasks.omniglot  # noqa: F401
import metanmt.tasks.sine  # noqa: F401
import metanmt.translation.family  # noqa: F401
