"""The layout the architecture promises: no import circle in metanmt/, no import tucked into a
function body, a core that never imports a task family, families that do not import each other,
task families below the engine, a trainer that names no family concept, and a run folder's
layout spelled in one module."""

import ast
import re
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "metanmt"
FAMILIES = {
    "metanmt.translation": "translation",
    "metanmt.tasks.sine": "sine",
    "metanmt.tasks.omniglot": "omniglot",
    "metanmt.tasks.omniglot_data": "omniglot",
}
APPLICATION = ("metanmt.cli", "metanmt.builtins")  # the top layer: may use everything


def in_application(module: str) -> bool:
    return any(module == name or module.startswith(name + ".") for name in APPLICATION)


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def is_module(name: str) -> bool:
    path = PACKAGE.parent.joinpath(*name.split("."))
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def is_lazy_import(node: ast.AST) -> bool:
    return (
        isinstance(node, ast.Call)
        and getattr(node.func, "id", "") == "lazy"
        and len(node.args) == 1
        and isinstance(node.args[0], ast.Constant)
        and str(node.args[0].value).startswith("metanmt")
    )


def imports(tree: ast.AST):
    """(imported metanmt module, whether inside a function) for every import statement, leaving
    out ``if TYPE_CHECKING:`` blocks (they never run)."""
    found = []

    def visit(node, in_function):
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and "TYPE_CHECKING" in ast.unparse(child.test):
                continue
            inside = in_function or isinstance(
                child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)
            )
            if isinstance(child, ast.Import):
                found.extend((a.name, inside) for a in child.names if a.name.startswith("metanmt"))
            elif is_lazy_import(child):  # cli/: lazy("metanmt.x"), imported on first use
                found.append((child.args[0].value, inside))
            elif isinstance(child, ast.ImportFrom) and (child.module or "").startswith("metanmt"):
                for alias in child.names:
                    full = f"{child.module}.{alias.name}"
                    found.append((full if is_module(full) else child.module, inside))
            visit(child, inside)

    visit(tree, False)
    return found


def graph():
    edges, tucked = {}, []
    for path in PACKAGE.rglob("*.py"):
        name = module_name(path)
        found = imports(ast.parse(path.read_text(), str(path)))
        edges[name] = {target for target, _ in found if target != name}
        tucked += [
            f"{name} imports {target} inside a function" for target, inside in found if inside
        ]
    return edges, tucked


def family_of(module: str) -> str | None:
    return next(
        (
            family
            for prefix, family in FAMILIES.items()
            if module == prefix or module.startswith(prefix + ".")
        ),
        None,
    )


def test_no_metanmt_import_inside_a_function_body():
    assert graph()[1] == []


def test_no_import_circle():
    edges, _ = graph()
    state, stack = {}, []

    def visit(node):
        state[node] = "open"
        stack.append(node)
        for target in sorted(edges.get(node, ())):
            if state.get(target) == "open":
                cycle = stack[stack.index(target) :] + [target]
                raise AssertionError("import circle: " + " -> ".join(cycle))
            if target not in state:
                visit(target)
        stack.pop()
        state[node] = "done"

    for node in sorted(edges):
        if node not in state:
            visit(node)


def test_the_core_never_imports_a_family_and_families_not_each_other():
    edges, _ = graph()
    for module, targets in edges.items():
        if in_application(module):
            continue
        own = family_of(module)
        for target in targets:
            other = family_of(target)
            assert other is None or other == own, f"{module} imports the {other} family ({target})"


# Floors, lowest first: a module imports only from its own floor or below (the longest prefix
# names a module's floor). Translation's own floors: its settings and data, then the model, then
# fine-tuning, then what uses them all (the family, compare, export).
FLOORS = [
    (
        "metanmt",
        "metanmt.types",
        "metanmt.values",
        "metanmt.schema",
        "metanmt.files",
        "metanmt.folder_lock",
        "metanmt.progress",
        "metanmt.threads",
        "metanmt.plotting",
        "metanmt.run_folder",
        "metanmt.registry",
    ),
    (
        "metanmt.checkpoint",
        "metanmt.config_train",
        "metanmt.tasks",
        "metanmt.translation.settings",
        "metanmt.translation.data",
    ),
    ("metanmt.algorithms",),
    ("metanmt.config_layers", "metanmt.config", "metanmt.run"),
    ("metanmt.evaluation",),
    ("metanmt.trainer",),
    ("metanmt.translation.model",),
    ("metanmt.translation.finetuning",),
    ("metanmt.translation",),
    APPLICATION,
]


def floor_of(module: str) -> int:
    matches = [
        (len(prefix), floor)
        for floor, prefixes in enumerate(FLOORS)
        for prefix in prefixes
        if module == prefix or module.startswith(prefix + ".")
    ]
    assert matches, f"{module} is on no floor: add it to FLOORS"
    return max(matches)[1]


def test_no_import_from_a_lower_floor_to_a_higher_one():
    edges, _ = graph()
    up = [
        f"{module} (floor {floor_of(module)}) imports {target} (floor {floor_of(target)})"
        for module, targets in sorted(edges.items())
        for target in sorted(targets)
        if floor_of(target) > floor_of(module)
    ]
    assert not up, "; ".join(up)
    assert floor_of("metanmt.translation.finetuning.budgets") == 7


def test_the_task_families_below_the_engine():
    """A task family draws its tasks and figures with the core's help only: nothing under
    metanmt.tasks imports the evaluation, the trainer or the algorithms (which use the tasks);
    its figures take matplotlib from metanmt.plotting."""
    edges, _ = graph()
    above = ("metanmt.evaluation", "metanmt.trainer", "metanmt.algorithms")
    found = [
        f"{module} imports {target}"
        for module, targets in sorted(edges.items())
        if module == "metanmt.tasks" or module.startswith("metanmt.tasks.")
        for target in sorted(targets)
        if any(target == name or target.startswith(name + ".") for name in above)
    ]
    assert {"metanmt.tasks.sine", "metanmt.tasks.omniglot", "metanmt.tasks.base"} <= set(edges)
    assert not found, ", ".join(found)


def code_without_docs(path: Path) -> str:
    """The code of a module, without comments and docstrings (examples in prose are fine)."""
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if (
            isinstance(body, list)
            and body
            and isinstance(body[0], ast.Expr)
            and isinstance(body[0].value, ast.Constant)
            and isinstance(body[0].value.value, str)
        ):
            node.body = body[1:] or [ast.Pass()]
    return ast.unparse(tree).lower()


def test_the_trainer_and_evaluation_name_no_family_concept():
    words = ("translation", "target_tokens", "language", "sine", "omniglot", "bleu", "marian")
    for folder in ("trainer", "evaluation", "algorithms"):
        for path in (PACKAGE / folder).glob("*.py"):
            code = code_without_docs(path).replace("cosine", "")  # a schedule, not the family
            found = [w for w in words if w in code]
            assert not found, f"{path.relative_to(PACKAGE)} names {found}"
    core_cli = ("cli/__init__.py", "cli/train.py", "cli/evaluate.py", "cli/runs.py", "cli/flags.py")
    for name in (*core_cli, "cli/common.py", "run.py", "registry.py", "schema.py", "tasks/base.py"):
        found = [w for w in words if w in code_without_docs(PACKAGE / name)]
        assert not found, f"{name} names {found}"


def code_strings(tree: ast.AST):
    """(string constant, its parent node) for every string in a module's code: docstrings left
    out, the literal parts of f-strings in."""
    docstrings = set()
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if isinstance(body, list) and body and isinstance(body[0], ast.Expr):
            docstrings.add(id(body[0].value))
    for parent in ast.walk(tree):
        for child in ast.iter_child_nodes(parent):
            if (
                isinstance(child, ast.Constant)
                and isinstance(child.value, str)
                and id(child) not in docstrings
            ):
                yield child, parent


PATH_CALLS = {"Path", "PurePath", "joinpath", "with_name", "open", "join"}


def builds_a_path(node: ast.Constant, parent: ast.AST) -> bool:
    """``folder / "name"``, ``Path("name")``, ``p.with_name("name")``, ``open("name")``..."""
    if isinstance(parent, ast.BinOp) and isinstance(parent.op, ast.Div):
        return True
    if isinstance(parent, ast.Call) and node in parent.args:
        func = parent.func
        return (func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")) in (
            PATH_CALLS
        )
    return False


def layout_spellings(tree: ast.AST, names, at: str) -> list[ast.Constant]:
    """The strings of a module's code that spell one of a folder layout's ``names``: joined into
    a path (``run / "checkpoints"``, ``best.with_name("best.old")``), a file name (one with an
    extension: it means nothing else) anywhere in a string, or the ``at`` prefix."""
    files = [re.compile(rf"(?<!\w){re.escape(name)}(?!\w)") for name in names if "." in name]
    found = []
    for node, parent in code_strings(tree):
        text = node.value
        parts = set(text.split("/")) | {part.split(".")[0] for part in text.split("/")}
        if (
            any(name.search(text) for name in files)
            or text.startswith(at)
            or (builds_a_path(node, parent) and parts & set(names))
        ):
            found.append(node)
    return found


def test_the_run_folder_layout_is_spelled_only_by_its_owner():
    """Every name of a run's layout is spelled in metanmt/run_folder.py; everything else asks
    RunFolder (or uses the names it exports)."""
    from metanmt import run_folder

    owner = PACKAGE / "run_folder.py"
    found = [
        f"{path.relative_to(PACKAGE)}:{node.lineno} {node.value!r}"
        for path in sorted(PACKAGE.rglob("*.py"))
        if path != owner
        for node in layout_spellings(
            ast.parse(path.read_text(), str(path)), run_folder.NAMES, run_folder.AT
        )
    ]
    assert not found, "run-folder names spelled outside run_folder.py: " + ", ".join(found)


def test_the_layout_check_finds_each_way_of_spelling_it():
    code = (
        '"""A docstring may name metrics.csv."""\n'
        'a = run / "checkpoints" / "last"\n'
        'b = best.with_name("best.old")\n'
        'c = f"no {run}/metrics.csv here"\n'
        'd = f"at-{cost}"\n'
        'e = Path("checkpoints/best")\n'
        'f = {"best": 1}["best"], "train.log_every", "model"  # keys and words: not paths\n'
    )
    names = ("checkpoints", "best", "last", "metrics.csv", "model", "train.log")
    spelled = [node.value for node in layout_spellings(ast.parse(code), names, "at-")]
    assert sorted(spelled) == [
        "/metrics.csv here",
        "at-",
        "best.old",
        "checkpoints",
        "checkpoints/best",
        "last",
    ]


MAX_MODULE_LINES, MAX_FUNCTION_LINES = 400, 60  # ARCHITECTURE.md names any module allowed more


def test_modules_and_functions_stay_small():
    """No module over 400 lines, no function over 60 (from ``def`` to its last line): past
    those a reader loses the thread, and a split by concern is due."""
    long = []
    for path in sorted(PACKAGE.rglob("*.py")):
        text = path.read_text()
        where = path.relative_to(PACKAGE)
        if text.count("\n") > MAX_MODULE_LINES:
            long.append(f"{where}: {text.count(chr(10))} lines")
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                lines = node.end_lineno - node.lineno + 1
                if lines > MAX_FUNCTION_LINES:
                    long.append(f"{where}:{node.lineno} {node.name}: {lines} lines")
    assert not long, "; ".join(long)
