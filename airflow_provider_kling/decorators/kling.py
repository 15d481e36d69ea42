"""``@task.kling_image``: the TaskFlow form of the Kling operators that make images, made by one factory.

The decorated function returns the request: a prompt string, or a dict of the operator's request
fields (``prompt`` plus any of ``model_name``, ``n``, ``aspect_ratio`` ... for image generation).
The task then does what the operator does: creates the Kling task, waits (on the worker or
deferred), stores the results and returns the operator's result dict. Operator arguments
(``output_path``, ``deferrable`` ...) go to the decorator; what the function returns overrides the
decorator's request fields.

``kind=`` picks another request kind of the same media (``@task.kling_image(kind="expand")``):
the task runs the operator that declares that kind (its ``request_kind``), found among the
provider's operator modules, so a new kind needs no change here.

:func:`make_kling_task_decorator` builds the decorator of any
:class:`~airflow_provider_kling.operators.base.KlingTaskOperator`: the function's fields flow
through the base's one request-building method (``request_fields``); :func:`make_kind_task_decorator`
adds the ``kind=`` choice.
"""

from __future__ import annotations

import importlib
import inspect
import types
from collections.abc import Callable, Collection, Mapping
from typing import TYPE_CHECKING, Any, ClassVar

from airflow.providers.common.compat.sdk import (
    DecoratedOperator,
    context_merge,
    determine_kwargs,
    task_decorator_factory,
)
from airflow.sdk.definitions._internal.types import SET_DURING_EXECUTION

from airflow_provider_kling.errors import KlingRequestValidationError
from airflow_provider_kling.get_provider_info import get_provider_info
from airflow_provider_kling.kinds import RequestKind
from airflow_provider_kling.operators.base import (
    FromRequest,
    KlingTaskOperator,
    fail_fast,
)
from airflow_provider_kling.operators.kling import KlingImageGenerationOperator
from airflow_provider_kling.operators.lazy import request_models

if TYPE_CHECKING:
    from airflow.providers.common.compat.sdk import TaskDecorator
    from airflow.sdk import Context

#: The ``defer()`` keyword that carries the function's request to the resumed task.
_DEFER_KWARG = "kling_request"


def required_fields(operator_class: type[KlingTaskOperator]) -> tuple[str, ...]:
    """The operator's request arguments without a default: the function must return them (those its
    own ``__init__`` names without a default, and the fields its request requires)."""
    parameters = inspect.signature(operator_class.__init__).parameters
    named = tuple(
        name
        for name in operator_class.request_arguments
        if name in parameters and parameters[name].default is inspect.Parameter.empty
    )
    return (*named, *operator_class.required_arguments)


def returned_fields(returned: Any, where: str, operator_class: type[KlingTaskOperator]) -> dict[str, Any]:
    """The request fields of what the function returned; a clear error for anything else."""
    allowed = (*operator_class.request_arguments, "callback_url", "external_task_id")
    if isinstance(returned, str) and "prompt" in allowed:
        returned = {"prompt": returned}
    if not isinstance(returned, Mapping):
        what = "a prompt (str) or a dict" if "prompt" in allowed else "a dict"
        raise KlingRequestValidationError(
            f"{where} must return {what} of request fields, got {type(returned).__name__}"
        )
    unknown = sorted(str(key) for key in returned if key not in allowed)
    if unknown:
        raise KlingRequestValidationError(
            f"{where} returned unknown request fields {unknown}: allowed are {', '.join(allowed)}"
            " (operator arguments such as output_path go to the decorator)"
        )
    for name in required_fields(operator_class):
        if name not in returned:
            raise KlingRequestValidationError(f"{where} returned a dict without {name!r}: {name} is required")
    return dict(returned)


class KlingDecoratedOperator(DecoratedOperator):
    """
    Calls the function for the request, then runs the Kling operator it is made with (see
    :func:`make_kling_task_decorator`).

    The returned prompt is used as returned (not rendered as Jinja again): build it in Python,
    with context values such as ``ds`` taken as function arguments. When the task defers, the
    request travels with the deferral, so the function runs once per try.

    :param python_callable: Returns a prompt string or a dict of request fields.
    :param op_args: Positional arguments for the function. (templated)
    :param op_kwargs: Keyword arguments for the function. (templated)
    """

    custom_operator_name: str = "@task.kling"
    # The request exists only once the function ran: show it in the rendered-template view then.
    overwrite_rtif_after_execution: bool = True
    kling_operator: ClassVar[type[KlingTaskOperator]]
    #: The decorator's own operator when ``kind=`` chose another: the kind must make the same media.
    kling_media_of: ClassVar[type[KlingTaskOperator] | None] = None

    def __init__(
        self,
        *,
        python_callable: Callable[..., Any],
        op_args: Collection[Any] | None = None,
        op_kwargs: Mapping[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        required = required_fields(self.kling_operator)
        for name in required:
            if name in kwargs:
                raise TypeError(
                    f"{self.custom_operator_name} takes the {name} from the function's return value, "
                    f"not a {name}= argument"
                )
        super().__init__(
            python_callable=python_callable,
            op_args=op_args,
            op_kwargs=op_kwargs,
            **{**kwargs, **dict.fromkeys(required, SET_DURING_EXECUTION)},
        )
        self._kling_request: dict[str, Any] | None = None

    def request_fields(self, context: Context) -> dict[str, Any]:
        """The function's fields (called once per try, or carried by a deferral) over the decorator's."""
        if self._kling_request is None:
            self._check_media()
            carried = getattr(self, "_carried", {}).get(_DEFER_KWARG)
            self._kling_request = carried if carried is not None else self._call_function(context)
        for name, value in self._kling_request.items():
            setattr(self, name, value)  # also shown in the rendered-template view
        return super().request_fields(context)  # type: ignore[misc]

    def deferral_kwargs(self) -> dict[str, Any]:
        return {**super().deferral_kwargs(), _DEFER_KWARG: self._kling_request}  # type: ignore[misc]

    def _check_media(self) -> None:
        """A ``kind=`` that makes other media than the decorator's fails before the function runs."""
        if self.kling_media_of is None:
            return
        operator: Any = self  # a KlingTaskOperator too (the factory's class derives from both)
        made, expected = operator.media, request_models().media_of(self.kling_media_of.request_kind)
        if made != expected:
            raise fail_fast(
                KlingRequestValidationError(
                    f"{self.custom_operator_name} makes {expected.plural}, but kind "
                    f"'{operator.request_kind}' makes {made.plural}: use the decorator of {made.plural}"
                )
            )

    def _call_function(self, context: Context) -> dict[str, Any]:
        context_merge(context, self.op_kwargs)
        kwargs = determine_kwargs(self.python_callable, self.op_args, context)
        returned = self.python_callable(*self.op_args, **kwargs)
        name = getattr(self.python_callable, "__name__", "callable")
        try:
            where = f"{self.custom_operator_name} function {name!r}"
            return returned_fields(returned, where, self.kling_operator)
        except KlingRequestValidationError as exc:
            raise fail_fast(exc) from None


def _operator_modules() -> tuple[str, ...]:
    """The provider's operator modules, as its provider info lists them."""
    return tuple(module for entry in get_provider_info()["operators"] for module in entry["python-modules"])


def _declared_kinds(modules: Collection[str]) -> dict[str, list[type[KlingTaskOperator]]]:
    """The operators of ``modules`` already imported, by the request kind each declares itself."""
    found: dict[str, list[type[KlingTaskOperator]]] = {}
    seen: set[type[KlingTaskOperator]] = set()
    stack: list[type[KlingTaskOperator]] = [KlingTaskOperator]
    while stack:
        for sub in stack.pop().__subclasses__():
            if sub in seen:
                continue
            seen.add(sub)
            stack.append(sub)
            kind = vars(sub).get("request_kind")
            if sub.__module__ in modules and isinstance(kind, str):
                found.setdefault(kind, []).append(sub)
    return found


def operator_for_kind(kind: str) -> type[KlingTaskOperator]:
    """
    The operator of request kind ``kind`` (a :class:`~airflow_provider_kling.kinds.RequestKind`):
    the class of the provider's operator modules that declares it (``request_kind``). Those modules
    are imported one by one, only until one declares the kind (what a DAG parse pays for ``kind=``).
    """
    if kind not in set(RequestKind):
        raise ValueError(f"unknown Kling request kind {kind!r}: one of {', '.join(RequestKind)}")
    modules = _operator_modules()
    found = _declared_kinds(modules).get(kind)
    for module in modules:
        if found:
            break
        importlib.import_module(module)
        found = _declared_kinds(modules).get(kind)
    if not found:
        raise ValueError(f"no operator of the provider declares the Kling request kind {kind!r}")
    if len(found) > 1:
        names = ", ".join(sorted(cls.__name__ for cls in found))
        raise ValueError(f"Kling request kind {kind!r} is declared by several operators: {names}")
    return found[0]


def make_kling_task_decorator(
    operator_class: type[KlingTaskOperator], name: str, *, media_of: type[KlingTaskOperator] | None = None
) -> tuple[type[KlingDecoratedOperator], Callable[..., TaskDecorator]]:
    """
    The decorated-operator class and the ``@task.<name>`` decorator of a Kling operator class.

    The decorator takes the operator's arguments except the request arguments the function must
    return; works with ``.expand()``, ``.expand_kwargs()``, ``.partial()`` and ``.override()``
    like any TaskFlow task; ``multiple_outputs`` defaults to False (the result dict is one XCom).
    ``media_of``: an operator whose media the task must make (see :func:`make_kind_task_decorator`).
    """
    namespace = {
        "__module__": __name__,
        "__doc__": KlingDecoratedOperator.__doc__,
        "kling_operator": operator_class,
        "kling_media_of": media_of,
        "custom_operator_name": f"@task.{name}",
        "template_fields": FromRequest(
            lambda cls: (*DecoratedOperator.template_fields, *operator_class.template_fields)
        ),
        "template_fields_renderers": {
            **DecoratedOperator.template_fields_renderers,
            **operator_class.template_fields_renderers,
        },
    }
    decorated = types.new_class(
        f"_{operator_class.__name__}Decorated",
        (KlingDecoratedOperator, operator_class),
        exec_body=lambda body: body.update(namespace),
    )

    def decorator(python_callable: Callable[..., Any] | None = None, **kwargs: Any) -> TaskDecorator:
        kwargs.setdefault("multiple_outputs", False)
        return task_decorator_factory(
            python_callable=python_callable, decorated_operator_class=decorated, **kwargs
        )

    decorator.__doc__ = f"``@task.{name}``: a function returning {operator_class.__name__}'s request."
    return decorated, decorator


def make_kind_task_decorator(
    default_operator: type[KlingTaskOperator], name: str
) -> tuple[type[KlingDecoratedOperator], Callable[..., TaskDecorator]]:
    """
    :func:`make_kling_task_decorator` of ``default_operator``, whose decorator also takes ``kind=``:
    then the task runs that kind's operator (:func:`operator_for_kind`), which must make the same
    media as ``default_operator`` (checked when the task runs, so a DAG parse does not load the
    kind declarations).
    """
    default_class, default_decorator = make_kling_task_decorator(default_operator, name)
    by_operator: dict[type[KlingTaskOperator], Callable[..., TaskDecorator]] = {}

    def decorator(
        python_callable: Callable[..., Any] | None = None, *, kind: str | None = None, **kwargs: Any
    ) -> TaskDecorator:
        if kind is None:
            return default_decorator(python_callable, **kwargs)
        operator_class = operator_for_kind(kind)
        if operator_class is default_operator:
            return default_decorator(python_callable, **kwargs)
        if operator_class not in by_operator:
            _, by_operator[operator_class] = make_kling_task_decorator(
                operator_class, name, media_of=default_operator
            )
        return by_operator[operator_class](python_callable, **kwargs)

    decorator.__doc__ = (
        f"``@task.{name}``: a function returning {default_operator.__name__}'s request, or with "
        "``kind=`` the request of that kind's operator."
    )
    return default_class, decorator


_KlingImageDecoratedOperator, kling_image_task = make_kind_task_decorator(
    KlingImageGenerationOperator, "kling_image"
)
