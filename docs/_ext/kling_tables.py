"""The docs' generated tables, read from the live classes: parameters, hook methods, connection
extras and errors.

No Sphinx here (``kling_docs`` wraps these in directives), so that ``tests/unit/test_docs.py`` can
check the tables against the code without building the site. Every row comes from the code: a
parameter's name and default from the signature, its description from the ``:param name:``
line of the docstring of the class that declares it, "templated" from ``template_fields``.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import pkgutil
import re
import textwrap
from collections.abc import Iterator
from dataclasses import dataclass, field, fields
from typing import Any

PACKAGE = "airflow_provider_kling"
#: The simulator is documented on its own page (its handle's methods, by autodoc), not as a provider class.
SKIPPED_PACKAGES = (f"{PACKAGE}.testing",)


# -- discovery -----------------------------------------------------------------------------------


def public_modules() -> Iterator[str]:
    """Every module of the package a user may import: no ``_private`` part, not the simulator."""
    package = importlib.import_module(PACKAGE)
    yield PACKAGE
    for info in pkgutil.walk_packages(package.__path__, prefix=f"{PACKAGE}."):
        parts = info.name.split(".")
        if any(part.startswith("_") for part in parts) or info.name.startswith(SKIPPED_PACKAGES):
            continue
        yield info.name


def _airflow_bases() -> dict[str, type]:
    from airflow.sdk import BaseHook, BaseOperator
    from airflow.sdk.bases.sensor import BaseSensorOperator
    from airflow.triggers.base import BaseTrigger

    # Most specific first: a sensor is an operator too.
    return {"sensor": BaseSensorOperator, "operator": BaseOperator, "hook": BaseHook, "trigger": BaseTrigger}


def kind_of(cls: type) -> str | None:
    """``operator``, ``sensor``, ``hook`` or ``trigger`` for an Airflow class, else None."""
    for kind, base in _airflow_bases().items():
        if isinstance(cls, type) and issubclass(cls, base) and cls is not base:
            return kind
    return None


def public_classes() -> dict[str, type]:
    """Every public operator, sensor, hook and trigger class of the package, by dotted name."""
    found: dict[str, type] = {}
    for module_name in public_modules():
        module = importlib.import_module(module_name)
        for name, value in vars(module).items():
            if (
                isinstance(value, type)
                and value.__module__ == module_name
                and not name.startswith("_")
                and kind_of(value) is not None
            ):
                found[f"{module_name}.{name}"] = value
    return dict(sorted(found.items()))


def find_class(name: str) -> type:
    """A class by dotted path, or by its bare name among :func:`public_classes`."""
    if "." in name:
        module_name, _, attr = name.rpartition(".")
        return getattr(importlib.import_module(module_name), attr)
    matches = [cls for dotted, cls in public_classes().items() if dotted.rpartition(".")[2] == name]
    if len(matches) != 1:
        raise LookupError(f"{name!r} names {len(matches)} public classes of {PACKAGE}")
    return matches[0]


# -- docstrings ----------------------------------------------------------------------------------


def param_docs(docstring: str | None) -> dict[str, str]:
    """``:param name: text`` entries of a docstring (continuation lines joined)."""
    docs: dict[str, str] = {}
    current: str | None = None
    for line in textwrap.dedent(inspect.cleandoc(docstring or "")).splitlines():
        match = re.match(r"\s*:param\s+(?:[\w\[\], |.]+\s+)?(\w+):\s*(.*)", line)
        if match:
            current = match.group(1)
            docs[current] = match.group(2).strip()
        elif current and line.startswith((" ", "\t")) and line.strip():
            docs[current] += " " + line.strip()
        else:
            current = None
    return docs


def summary(docstring: str | None) -> str:
    """A docstring's first paragraph, on one line."""
    text = inspect.cleandoc(docstring or "")
    return " ".join(text.split("\n\n", 1)[0].split())


def one_line(text: str) -> str:
    """Text for one list-table cell: one line (a pipe needs no escape in a list-table)."""
    return " ".join(text.split())


# -- parameters ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Parameter:
    """One argument of a class or method, as the code has it."""

    name: str
    default: Any = inspect.Parameter.empty
    #: Where Airflow's configuration gives the default, e.g. ``[operators] default_deferrable``.
    config_default: str | None = None
    templated: bool = False
    description: str = ""
    declared_by: str = ""

    @property
    def required(self) -> bool:
        return self.default is inspect.Parameter.empty and self.config_default is None

    @property
    def default_text(self) -> str:
        """The default as the table shows it: the code's ``repr``, or where Airflow's config gives it."""
        if self.config_default is not None:
            return f"Airflow config {self.config_default} ({self.default!r} unless set)"
        return "required" if self.required else repr(self.default)


def _function_node(function: Any) -> ast.FunctionDef | ast.AsyncFunctionDef | None:
    try:
        source = textwrap.dedent(inspect.getsource(function))
    except (OSError, TypeError):
        return None
    node = ast.parse(source).body[0]
    return node if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) else None


def _config_defaults(function: Any) -> dict[str, str]:
    """Defaults read from Airflow's config (``conf.getboolean("operators", "default_deferrable")``)."""
    node = _function_node(function)
    if node is None:
        return {}
    arguments = node.args.posonlyargs + node.args.args
    pairs = list(zip(arguments[len(arguments) - len(node.args.defaults) :], node.args.defaults, strict=True))
    pairs += [
        (arg, default) for arg, default in zip(node.args.kwonlyargs, node.args.kw_defaults, strict=True)
    ]
    named = _module_constants(function)
    found = {}
    for arg, default in pairs:
        if isinstance(default, ast.Name):  # a module constant such as DEFAULT_DEFERRABLE = conf.get...
            default = named.get(default.id, default)
        if (
            isinstance(default, ast.Call)
            and isinstance(default.func, ast.Attribute)
            and isinstance(default.func.value, ast.Name)
            and default.func.value.id == "conf"
            and len(default.args) >= 2
            and all(isinstance(a, ast.Constant) for a in default.args[:2])
        ):
            section, key = (a.value for a in default.args[:2])  # type: ignore[attr-defined]
            found[arg.arg] = f"``[{section}] {key}``"
    return found


def _module_constants(function: Any) -> dict[str, ast.expr]:
    """The module-level ``NAME = <expression>`` assignments of ``function``'s module."""
    module = inspect.getmodule(function)
    try:
        tree = ast.parse(inspect.getsource(module)) if module is not None else None
    except (OSError, TypeError):
        tree = None
    if tree is None:
        return {}
    return {
        target.id: node.value
        for node in tree.body
        if isinstance(node, ast.Assign)
        for target in node.targets
        if isinstance(target, ast.Name)
    }


def _super_keywords(function: Any) -> set[str]:
    """Keywords an ``__init__`` passes to ``super().__init__`` itself: the parent's, not the caller's."""
    node = _function_node(function)
    if node is None:
        return set()
    names = set()
    for call in ast.walk(node):
        if (
            isinstance(call, ast.Call)
            and isinstance(call.func, ast.Attribute)
            and call.func.attr == "__init__"
            and isinstance(call.func.value, ast.Call)
            and isinstance(call.func.value.func, ast.Name)
            and call.func.value.func.id == "super"
        ):
            names.update(keyword.arg for keyword in call.keywords if keyword.arg)
    return names


def parameters(cls: type) -> list[Parameter]:
    """The arguments a user passes to ``cls(...)``, the ones it hands to a parent of the package included.

    Walks the class's ``__init__`` and, while one takes ``**kwargs``, its parents' in the package,
    leaving out what a child passes to ``super().__init__`` itself or refuses
    (``{"a", "b"} & set(kwargs)``). Airflow's own (``task_id``, ``retries`` ...) are not listed.
    """
    templated = set(getattr(cls, "template_fields", ()) or ())
    docs = own_descriptions(cls)
    found: dict[str, Parameter] = {}
    excluded: set[str] = set()
    for klass in cls.__mro__:
        if "__init__" not in vars(klass):
            continue
        if not klass.__module__.startswith(PACKAGE):
            break
        init = vars(klass)["__init__"]
        signature = inspect.signature(init)
        config = _config_defaults(init)
        for name, param in signature.parameters.items():
            if name == "self" or param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
                continue
            if name in found or name in excluded:
                continue
            found[name] = Parameter(
                name=name,
                default=param.default,
                config_default=config.get(name),
                templated=name in templated,
                description=docs.get(name, ""),
                declared_by=klass.__name__,
            )
        excluded |= _super_keywords(init)
        if not any(p.kind is p.VAR_KEYWORD for p in signature.parameters.values()):
            break
    # Request arguments an ``__init__`` takes from ``**kwargs`` itself (``kwargs.pop(name, None)``).
    required = set(getattr(cls, "required_arguments", ()))  # the request's required fields no __init__ names
    for name in getattr(cls, "request_arguments", ()):
        if name not in found and name not in excluded:
            found[name] = Parameter(
                name=name,
                default=inspect.Parameter.empty if name in required else None,
                templated=name in templated,
                description=docs.get(name, ""),
                declared_by=cls.__name__,
            )
    return list(found.values())


def kinds_of(cls: type) -> tuple[str, ...]:
    """The request kinds an operator builds: its ``request_kinds`` when it picks one per request
    (the video decorator's), else its ``request_kind``; none for a class that builds no request."""
    kinds = getattr(cls, "request_kinds", None)
    if kinds:
        return tuple(kinds)
    kind = getattr(cls, "request_kind", None)
    return (kind,) if isinstance(kind, str) else ()


def kind_operators(kind: str) -> list[type]:
    """The public operators that declare ``kind`` themselves (their own ``request_kind``)."""
    return [cls for cls in public_classes().values() if vars(cls).get("request_kind") == kind]


def field_descriptions(kind: str) -> dict[str, str]:
    """The field descriptions the request model of ``kind`` declares (``models.requests.kind_table``)."""
    from airflow_provider_kling.models.requests import REQUEST_KINDS, kind_table

    if kind not in REQUEST_KINDS:
        return {}
    return {row["name"]: row["description"] for row in kind_table(kind) if row["description"]}


def field_styles(model: type) -> dict[str, str]:
    """Which API styles take each field of a kind whose model speaks both (``kind_table``'s
    ``styles``); empty for a model of one style."""
    from airflow_provider_kling.models.requests import REQUEST_KINDS, kind_table

    kind = getattr(model, "kind", "")
    if REQUEST_KINDS.get(kind) is not model or not getattr(model, "model_path_models", ()):
        return {}
    return {row["name"]: ", ".join(row["styles"]) for row in kind_table(kind)}


def own_descriptions(cls: type) -> dict[str, str]:
    """Each argument's description from its one home, never another kind's: the request model of
    the class's kind(s) for a request field, else a ``:param:`` of the class or its package bases,
    else one of the operator that declares the kind (the video decorator's operator builds two)."""
    docs: dict[str, str] = {}
    kinds = kinds_of(cls)
    for kind in kinds:
        for name, text in field_descriptions(kind).items():
            docs.setdefault(name, text)
    for klass in cls.__mro__:
        if klass.__module__.startswith(PACKAGE):
            for name, text in param_docs(klass.__doc__).items():
                docs.setdefault(name, text)
    for kind in kinds:
        for operator in kind_operators(kind):
            for name, text in param_docs(operator.__doc__).items():
                docs.setdefault(name, text)
    return docs


def parameter_rows(params: list[Parameter], *, templated_column: bool = True) -> list[str]:
    """A reStructuredText list-table of parameters."""
    header = (
        ["parameter", "default", "templated", "meaning"]
        if templated_column
        else ["parameter", "default", "meaning"]
    )
    lines = [
        ".. list-table::",
        "   :header-rows: 1",
        "   :widths: 20 20 8 52" if templated_column else "   :widths: 20 20 60",
        "",
    ]
    lines += ["   * - " + header[0]] + [f"     - {cell}" for cell in header[1:]]
    for param in params:
        default = (
            param.default_text
            if param.config_default
            else ("required" if param.required else f"``{one_line(param.default_text)}``")
        )
        cells = [f"``{param.name}``", default]
        if templated_column:
            cells.append("yes" if param.templated else "")
        cells.append(one_line(param.description) or "")
        lines.append(f"   * - {cells[0]}")
        lines += [f"     - {cell}" if cell else "     -" for cell in cells[1:]]
    return lines


# -- hook methods --------------------------------------------------------------------------------


def hook_methods(cls: type) -> dict[str, Any]:
    """A hook's public methods declared by the package's hook classes, in source order. Methods of
    a non-hook base (the sans-I/O core the senders run) are left to the API reference."""
    from airflow.sdk import BaseHook

    methods: dict[str, Any] = {}
    seen: set[Any] = set()
    for klass in reversed(cls.__mro__):
        if not (klass.__module__.startswith(PACKAGE) and issubclass(klass, BaseHook)):
            continue
        for name, value in vars(klass).items():
            function = value.__func__ if isinstance(value, classmethod | staticmethod) else value
            if name.startswith("_") or not inspect.isfunction(function) or function in seen:
                continue
            seen.add(function)
            methods[name] = getattr(cls, name)
    return methods


def method_parameters(method: Any) -> list[Parameter]:
    docs = param_docs(method.__doc__)
    return [
        Parameter(name=name, default=param.default, description=docs.get(name, ""))
        for name, param in inspect.signature(method).parameters.items()
        if name not in ("self", "cls")
    ]


def signature_text(method: Any) -> str:
    """``name(a, b=1, *, c=None, **fields)`` without annotations."""
    parts = []
    star_done = False
    for name, param in inspect.signature(method).parameters.items():
        if name in ("self", "cls"):
            continue
        if param.kind is param.VAR_POSITIONAL:
            parts.append(f"*{name}")
            star_done = True
        elif param.kind is param.VAR_KEYWORD:
            parts.append(f"**{name}")
        else:
            if param.kind is param.KEYWORD_ONLY and not star_done:
                parts.append("*")
                star_done = True
            parts.append(name if param.default is param.empty else f"{name}={param.default!r}")
    prefix = "async " if inspect.iscoroutinefunction(method) else ""
    return f"{prefix}{method.__name__}({', '.join(parts)})"


# -- connection extras ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Extra:
    """One key of a ``kling`` connection's Extra, as ``KlingConnectionSettings.from_connection`` reads it."""

    name: str
    default: Any
    description: str
    also_read_as: tuple[str, ...] = field(default=())


def _string_constants(node: ast.AST) -> list[str]:
    """Extra names read inside an expression: ``extras.get("x")``, ``some_extra(extras, "x", ...)``,
    ``some_extra(extras, conn_id, "x")``, and a reader's default name (``some_extra(extras, conn_id)``
    with ``def some_extra(extras, conn_id, name="x")``)."""
    names = []
    for call in ast.walk(node):
        if not isinstance(call, ast.Call):
            continue
        args = call.args
        if (
            isinstance(call.func, ast.Attribute)
            and call.func.attr == "get"
            and isinstance(call.func.value, ast.Name)
            and call.func.value.id == "extras"
            and args
            and isinstance(args[0], ast.Constant)
        ):
            names.append(args[0].value)
        elif args and isinstance(args[0], ast.Name) and args[0].id == "extras":
            given = [a.value for a in args[1:] + [k.value for k in call.keywords] if _is_text(a)]
            if given:
                names.append(given[0])
            elif isinstance(call.func, ast.Name):
                names += _default_extra_name(call.func.id)
    return names


def _is_text(node: ast.AST) -> bool:
    return isinstance(node, ast.Constant) and isinstance(node.value, str)


def _default_extra_name(function_name: str) -> list[str]:
    """The default of a ``name`` parameter of ``hooks.connection.<function_name>``, if it has one."""
    from airflow_provider_kling.hooks import connection

    function = getattr(connection, function_name, None)
    if not inspect.isfunction(function):
        return []
    default = inspect.signature(function).parameters.get("name")
    return [default.default] if default is not None and isinstance(default.default, str) else []


def _extra_names_of(function: Any) -> list[str]:
    """Extra names a reader function reads (``support_extra`` reads its one name inside)."""
    node = _function_node(function)
    return _string_constants(node) if node is not None else []


def connection_extras() -> list[Extra]:
    """Every extra the connection reads, with the settings field's default and ``#:`` description."""
    from sphinx.pycode import ModuleAnalyzer

    from airflow_provider_kling.hooks import connection

    settings = connection.KlingConnectionSettings
    attribute_docs = {
        name: " ".join(" ".join(lines).split())
        for (_, name), lines in ModuleAnalyzer.for_module(connection.__name__).find_attr_docs().items()
    }
    defaults = {f.name: f.default for f in fields(settings)}
    node = _function_node(settings.from_connection)
    assert node is not None
    extras: list[Extra] = []
    for call in ast.walk(node):
        if not (isinstance(call, ast.Call) and isinstance(call.func, ast.Name) and call.func.id == "cls"):
            continue
        for keyword in call.keywords:
            if keyword.arg is None:
                continue
            names = _string_constants(keyword.value)
            if not names and isinstance(keyword.value, ast.Call) and isinstance(keyword.value.func, ast.Name):
                reader = getattr(connection, keyword.value.func.id, None)
                names = _extra_names_of(reader) if reader else []
            if not names:
                continue
            primary = keyword.arg if keyword.arg in names else names[0]
            extras.append(
                Extra(
                    name=primary,
                    default=defaults.get(keyword.arg),
                    description=attribute_docs.get(keyword.arg, ""),
                    also_read_as=tuple(name for name in names if name != primary),
                )
            )
    # Extras read by a reader of their own that the settings do not hold (``webhook_keys_extra``):
    # no default (unset), the reader's docstring as the meaning.
    # And extras that a function anywhere in the package reads from the connection's extras itself.
    listed = {name for extra in extras for name in (extra.name, *extra.also_read_as)}
    modules = [connection.__name__, *(name for name in public_modules() if name != connection.__name__)]
    for module_name in modules:
        module = importlib.import_module(module_name)
        source = open(module.__file__ or "", encoding="utf-8").read() if module.__file__ else ""
        if "extras" not in source:
            continue
        for function in ast.walk(ast.parse(source)):
            if not isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            for extra_name in _string_constants(function):
                if extra_name not in listed:
                    listed.add(extra_name)
                    doc = summary(ast.get_docstring(function))
                    extras.append(Extra(name=extra_name, default=None, description=doc))
    return extras


def extra_rows(extras: list[Extra]) -> list[str]:
    lines = [".. list-table::", "   :header-rows: 1", "   :widths: 25 20 55", ""]
    lines += ["   * - extra", "     - default", "     - meaning"]
    for extra in extras:
        name = f"``{extra.name}``" + "".join(f" (or ``{alias}``)" for alias in extra.also_read_as)
        meaning = one_line(extra.description)
        lines += [
            f"   * - {name}",
            f"     - ``{extra.default!r}``",
            f"     - {meaning}" if meaning else "     -",
        ]
    return lines


# -- errors --------------------------------------------------------------------------------------


def error_classes() -> list[type]:
    """Every exception class of ``errors.py``, in source order."""
    from airflow_provider_kling import errors

    return [
        value
        for value in vars(errors).values()
        if isinstance(value, type)
        and issubclass(value, BaseException)
        and value.__module__ == errors.__name__
    ]


def error_rows(cls: type) -> list[str]:
    """What a user needs about one error: its parents, its meaning, what retries do, what to do."""
    from airflow_provider_kling.errors import KlingError

    parents = [base.__name__ for base in cls.__bases__ if base is not object]
    lines = [f".. _error-{cls.__name__}:", "", f".. rubric:: {cls.__name__}", ""]
    if parents:
        lines += [f"*A* {', '.join(f'``{parent}``' for parent in parents)}.", ""]
    lines += [one_line(inspect.cleandoc(cls.__doc__ or "")), ""]
    if issubclass(cls, KlingError):
        retried = "yes" if cls.retryable else "no"
        airflow = (
            "yes, within the task's ``retries``"
            if cls.airflow_retryable
            else "no: the task fails at once, whatever its ``retries``"
        )
        lines += [f"- Retried by the hook: {retried}.", f"- Retried by Airflow: {airflow}."]
        advice = getattr(cls, "advice", "")
        if advice:
            lines.append(f"- What to do: {one_line(advice)}")
        lines.append("")
    return lines


# -- request models and Markdown tables from the code --------------------------------------------


def _markdown_cell(cell: str) -> str:
    # Markdown's `code` to reStructuredText's ``code``; ``literals`` and :role:`targets` stay as they are.
    return re.sub(r"(?<![`:\w])`([^`]+)`(?!`)", r"``\1``", cell.strip()) or ""


def markdown_table_rows(markdown: str) -> list[str]:
    """A Markdown pipe table (as ``render_model_table()`` makes) as a reStructuredText list-table."""
    rows = [line.strip().strip("|").split(" | ") for line in markdown.strip().splitlines()]
    rows = [row for row in rows if not all(set(cell.strip()) <= set("-|: ") for cell in row)]
    lines = [".. list-table::", "   :header-rows: 1", ""]
    for row in rows:
        cells = [_markdown_cell(cell.replace("|", "")) for cell in row]
        lines.append(f"   * - {cells[0]}" if cells[0] else "   * -")
        lines += [f"     - {cell}" if cell else "     -" for cell in cells[1:]]
    return lines


def _type_text(annotation: Any) -> str:
    text = getattr(annotation, "__name__", None) if isinstance(annotation, type) else None
    text = text or str(annotation).replace("typing.", "")
    text = re.sub(r"airflow_provider_kling\.[\w.]+\.", "", text)
    text = re.sub(r"Annotated\[(\w+), [^\]]*\]", r"\1", text)
    return text.replace("NoneType", "None")


def request_fields(model: type) -> list[tuple[str, str, str, str]]:
    """A request model's fields: name, type, required or default, and the constraints pydantic checks."""
    rows = []
    for name, info in model.model_fields.items():  # type: ignore[attr-defined]
        rules = []
        for constraint in info.metadata:
            for attr, label in (
                ("ge", ">="),
                ("gt", ">"),
                ("le", "<="),
                ("lt", "<"),
                ("min_length", "length >="),
                ("max_length", "length <="),
            ):
                value = getattr(constraint, attr, None)
                if value is not None:
                    rules.append(f"{label} {value}")
        default = "required" if info.is_required() else repr(info.default)
        rows.append((name, _type_text(info.annotation), default, ", ".join(rules)))
    return rows


def request_field_rows(model: type) -> list[str]:
    """A request model's fields; a ``meaning`` column once the model describes its fields, and an
    ``API styles`` column for a kind whose models speak both styles."""
    fields_of = model.model_fields  # type: ignore[attr-defined]
    described = {name: info.description for name, info in fields_of.items() if info.description}
    styles = field_styles(model)
    header = ["field", "type", "default", "checked here"]
    header += ["API styles"] if styles else []
    header += ["meaning"] if described else []
    widths = {4: "20 40 15 25", 5: "15 25 10 15 35", 6: "14 22 10 14 12 28"}[len(header)]
    lines = [".. list-table::", "   :header-rows: 1", f"   :widths: {widths}", ""]
    lines += [f"   * - {header[0]}", *(f"     - {cell}" for cell in header[1:])]
    for name, type_text, default, rules in request_fields(model):
        cells = [f"``{one_line(type_text)}``", f"``{default}``", rules]
        cells += [styles.get(name, "")] if styles else []
        cells += [one_line(described.get(name, ""))] if described else []
        lines.append(f"   * - ``{name}``")
        lines += [f"     - {cell}" if cell else "     -" for cell in cells]
    return lines


def request_kind_rows() -> list[str]:
    """Every request kind (``models.requests.REQUEST_KINDS``): its path, model and operator."""
    from airflow_provider_kling.models.requests import REQUEST_KINDS

    operators: dict[str, list[str]] = {}
    for cls in public_classes().values():
        kind = vars(cls).get("request_kind") or getattr(cls, "request_kind", None)
        if kind_of(cls) == "operator" and isinstance(kind, str):
            operators.setdefault(kind, []).append(f"``{cls.__name__}``")
    lines = [
        ".. list-table::",
        "   :header-rows: 1",
        "",
        "   * - kind",
        "     - path",
        "     - request model",
    ]
    lines.append("     - operator")
    for kind, model in REQUEST_KINDS.items():
        lines += [f"   * - ``{kind}``", f"     - ``{model.path}``", f"     - ``{model.__name__}``"]
        lines.append(f"     - {', '.join(operators.get(kind, [])) or '-'}")
    return lines


# -- TaskFlow decorators -------------------------------------------------------------------------


@dataclass(frozen=True)
class TaskDecorator:
    """One ``@task.<name>`` the provider registers, and the Kling operator it runs."""

    name: str
    factory: Any
    decorated: type
    operator: type

    @property
    def returned(self) -> list[str]:
        """What the function may return (a dict of these; a string is the prompt)."""
        return [*getattr(self.operator, "request_arguments", ()), "callback_url", "external_task_id"]

    @property
    def required(self) -> list[str]:
        """The request arguments without a default: the function must return them."""
        names = self.returned
        return [param.name for param in parameters(self.operator) if param.required and param.name in names]

    @property
    def arguments(self) -> list[Parameter]:
        """The decorator's own arguments: the operator's, but those the function must return."""
        return [param for param in parameters(self.operator) if param.name not in self.required]

    @property
    def other_kinds(self) -> dict[str, type]:
        """The kinds ``kind=`` may choose (those making the same media), each with its operator."""
        from airflow_provider_kling.decorators.kling import operator_for_kind
        from airflow_provider_kling.models.requests import REQUEST_KINDS, media_of

        media = media_of(self.operator.request_kind)
        return {
            kind: operator_for_kind(kind)
            for kind in REQUEST_KINDS
            if media_of(kind) == media and kind not in kinds_of(self.operator)
        }


def task_decorators() -> list[TaskDecorator]:
    """Every decorator of provider info's ``task-decorators``, with its decorated-operator class."""
    from airflow.providers.common.compat.sdk import DecoratedOperator

    from airflow_provider_kling.get_provider_info import get_provider_info

    found = []
    for entry in get_provider_info().get("task-decorators", []):
        module_name, _, attr = entry["class-name"].rpartition(".")
        module = importlib.import_module(module_name)
        decorated = next(
            value
            for value in vars(module).values()
            if isinstance(value, type)
            and issubclass(value, DecoratedOperator)
            and getattr(value, "custom_operator_name", None) == f"@task.{entry['name']}"
        )
        operator = next(
            klass
            for klass in decorated.__mro__
            if klass.__module__.startswith(PACKAGE)
            and not issubclass(klass, DecoratedOperator)
            and kind_of(klass) == "operator"
        )
        found.append(TaskDecorator(entry["name"], getattr(module, attr), decorated, operator))
    return found


def decorated_operator_classes() -> list[type]:
    """The package's ``DecoratedOperator`` classes: documented by the decorators' page, not as operators."""
    from airflow.providers.common.compat.sdk import DecoratedOperator

    return [cls for cls in public_classes().values() if issubclass(cls, DecoratedOperator)]


def markdown_tables_to_rst(lines: list[str]) -> list[str]:
    """Docstring lines with each Markdown pipe table (a ``|---|`` row second) made a list-table."""
    out: list[str] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        if (
            line.lstrip().startswith("|")
            and i + 1 < len(lines)
            and re.fullmatch(r"\s*\|[\s:|-]*-[\s:|-]*\|\s*", lines[i + 1])
        ):
            indent = " " * (len(line) - len(line.lstrip()))
            end = i
            while end < len(lines) and lines[end].lstrip().startswith("|"):
                end += 1
            table = markdown_table_rows("\n".join(lines[i:end]))
            out += ["", *(indent + row if row else row for row in table), ""]
            i = end
        else:
            out.append(line)
            i += 1
    return out


def request_models() -> list[type]:
    """Every request model of ``airflow_provider_kling.models``: a pydantic model named ``*Request``."""
    from pydantic import BaseModel

    found: dict[str, type] = {}
    for module_name in public_modules():
        if not module_name.startswith(f"{PACKAGE}.models"):
            continue
        for name, value in vars(importlib.import_module(module_name)).items():
            if (
                isinstance(value, type)
                and issubclass(value, BaseModel)
                and value.__module__ == module_name
                and name.endswith("Request")
                and not name.startswith("_")
            ):
                found[f"{module_name}.{name}"] = value
    return list(found.values())


# -- Markdown files (CHANGELOG.md) ---------------------------------------------------------------

#: reStructuredText section underlines for Markdown heading levels 1, 2, 3 and deeper.
_UNDERLINES = "=-~^"


def _rst_text(text: str) -> str:
    """Plain text with reStructuredText's markup characters escaped."""
    return re.sub(r"([\\`*_|])", r"\\\1", text)


def _rst_inline(children: list[Any]) -> str:
    """Markdown inline tokens as reStructuredText: code, strong, emphasis, links, text. Markup does
    not nest in reStructuredText: strong text holding code shows the code alone."""
    parts: list[str] = []
    strong: list[str] | None = None
    link: str | None = None
    label: list[str] = []
    for token in children:
        kind = token.type
        if link is not None and kind != "link_close":
            label.append(token.content)
            continue
        piece = ""
        if kind == "text":
            piece = _rst_text(token.content)
        elif kind == "code_inline":
            piece = f"\\ ``{token.content}``\\ "
        elif kind == "strong_open":
            strong = []
        elif kind == "strong_close" and strong is not None:
            inner = "".join(strong)
            piece = inner if "``" in inner else f"\\ **{inner}**\\ "
            strong = None
        elif kind in ("em_open", "em_close"):
            piece = "\\ *" if kind == "em_open" else "*\\ "
        elif kind == "link_open":
            link, label = str(token.attrs.get("href", "")), []
        elif kind == "link_close":
            piece = f"\\ `{_rst_text(''.join(label))} <{link}>`__\\ "
            link = None
        elif kind in ("softbreak", "hardbreak"):
            piece = " "
        (strong if strong is not None and kind != "strong_close" else parts).append(piece)
    text = "".join(parts)
    # An escaped space is needed only between markup and a word character: drop the others.
    text = re.sub(r"^(\\ )+|(\\ )+$", "", text)
    text = re.sub(r"(\\ )+", r"\\ ", text)
    return re.sub(r"(?<=[\s(\[])\\ |\\ (?=[\s.,;:)\]])", "", text)


def markdown_to_rst(markdown: str) -> list[str]:
    """A Markdown document of headings, paragraphs and (nested) bullet lists, as reStructuredText
    lines (what ``CHANGELOG.md`` uses; Sphinx reads no Markdown without an extension)."""
    from markdown_it import MarkdownIt

    lines: list[str] = []
    depth = 0
    item_start = False
    heading: int | None = None
    for token in MarkdownIt("commonmark").parse(markdown):
        indent = "  " * max(depth - 1, 0)
        if token.type == "heading_open":
            heading = int(token.tag[1:])
        elif token.type == "inline" and heading is not None:
            title = _rst_inline(token.children or [])
            lines += [title, _UNDERLINES[min(heading, len(_UNDERLINES)) - 1] * len(title), ""]
            heading = None
        elif token.type == "bullet_list_open":
            depth += 1
        elif token.type == "bullet_list_close":
            depth -= 1
            lines.append("")
        elif token.type == "list_item_open":
            item_start = True
        elif token.type == "inline":
            text = _rst_inline(token.children or [])
            if depth and item_start:
                lines.append(f"{indent}- {text}")
                item_start = False
            elif depth:
                lines += ["", f"{indent}  {text}"]
            else:
                lines += [text, ""]
    return lines
