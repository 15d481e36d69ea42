"""``@task.kling_image``: the TaskFlow form of :class:`KlingImageGenerationOperator`.

The decorated function returns the request: a prompt string, or a dict of request fields
(``prompt`` plus any of ``model_name``, ``n``, ``aspect_ratio`` ...). The task then does what the
operator does: creates the Kling task, waits (on the worker or deferred), stores the images and
returns the operator's result dict. Operator arguments (``output_path``, ``deferrable`` ...) go to
the decorator; what the function returns overrides the decorator's request fields.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar, NoReturn

from airflow.providers.common.compat.sdk import (
    DecoratedOperator,
    context_merge,
    determine_kwargs,
    task_decorator_factory,
)
from airflow.sdk.definitions._internal.types import SET_DURING_EXECUTION

from airflow_provider_kling.operators.kling import KlingImageGenerationOperator

if TYPE_CHECKING:
    from airflow.providers.common.compat.sdk import TaskDecorator
    from airflow.sdk import Context

#: What the decorated function may return, as keys of a dict. ``prompt`` is required.
REQUEST_FIELDS: tuple[str, ...] = (
    "prompt",
    "model_name",
    "n",
    "negative_prompt",
    "image",
    "image_reference",
    "image_fidelity",
    "human_fidelity",
    "resolution",
    "aspect_ratio",
    "callback_url",
    "external_task_id",
)
#: The ``defer()`` keyword that carries the function's request to ``execute_complete``.
_DEFER_KWARG = "kling_request"


def request_fields(returned: Any, function_name: str) -> dict[str, Any]:
    """The request fields of what the function returned; a clear error for anything else."""
    from airflow_provider_kling.errors import KlingRequestValidationError

    where = f"@task.kling_image function {function_name!r}"
    if isinstance(returned, str):
        return {"prompt": returned}
    if not isinstance(returned, Mapping):
        raise KlingRequestValidationError(
            f"{where} must return a prompt (str) or a dict of request fields, got {type(returned).__name__}"
        )
    unknown = sorted(str(key) for key in returned if key not in REQUEST_FIELDS)
    if unknown:
        raise KlingRequestValidationError(
            f"{where} returned unknown request fields {unknown}: allowed are {', '.join(REQUEST_FIELDS)}"
            " (operator arguments such as output_path go to the decorator)"
        )
    if "prompt" not in returned:
        raise KlingRequestValidationError(f"{where} returned a dict without 'prompt': prompt is required")
    return dict(returned)


class _KlingImageDecoratedOperator(DecoratedOperator, KlingImageGenerationOperator):
    """
    Calls the function for the request, then runs :class:`KlingImageGenerationOperator`.

    The returned prompt is used as returned (not rendered as Jinja again): build it in Python,
    with context values such as ``ds`` taken as function arguments. When the task defers, the
    request travels with the deferral, so the function runs once per try.

    :param python_callable: Returns a prompt string or a dict of request fields.
    :param op_args: Positional arguments for the function. (templated)
    :param op_kwargs: Keyword arguments for the function. (templated)
    """

    template_fields: Sequence[str] = (
        *DecoratedOperator.template_fields,
        *KlingImageGenerationOperator.template_fields,
    )
    template_fields_renderers: ClassVar[dict[str, str]] = {
        **DecoratedOperator.template_fields_renderers,
        **KlingImageGenerationOperator.template_fields_renderers,
    }
    custom_operator_name: str = "@task.kling_image"
    # The prompt exists only once the function ran: show it in the rendered-template view then.
    overwrite_rtif_after_execution: bool = True

    def __init__(
        self,
        *,
        python_callable: Callable[..., Any],
        op_args: Collection[Any] | None = None,
        op_kwargs: Mapping[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        if "prompt" in kwargs:
            raise TypeError(
                "@task.kling_image takes the prompt from the function's return value, not a prompt= argument"
            )
        super().__init__(
            python_callable=python_callable,
            op_args=op_args,
            op_kwargs=op_kwargs,
            prompt=SET_DURING_EXECUTION,
            **kwargs,
        )
        self._kling_request: dict[str, Any] | None = None

    def execute(self, context: Context) -> Any:
        self._apply_request(self._call_function(context))
        return super().execute(context)

    def _call_function(self, context: Context) -> dict[str, Any]:
        context_merge(context, self.op_kwargs)
        kwargs = determine_kwargs(self.python_callable, self.op_args, context)
        returned = self.python_callable(*self.op_args, **kwargs)
        name = getattr(self.python_callable, "__name__", "callable")
        from airflow_provider_kling.errors import KlingRequestValidationError
        from airflow_provider_kling.failures import fail_fast

        try:
            return request_fields(returned, name)
        except KlingRequestValidationError as exc:
            raise fail_fast(exc) from None

    def _apply_request(self, fields: dict[str, Any]) -> None:
        """The function's fields override the decorator's; the operator validates them all."""
        for name, value in fields.items():
            setattr(self, name, value)
        self._kling_request = fields

    def defer(
        self, *, trigger: Any, method_name: str, kwargs: dict[str, Any] | None = None, **rest: Any
    ) -> NoReturn:
        """Defer as the operator does, carrying the function's request to the resumed task."""
        kwargs = {**(kwargs or {}), _DEFER_KWARG: self._kling_request}
        super().defer(trigger=trigger, method_name=method_name, kwargs=kwargs, **rest)

    def execute_complete(
        self, context: Context, event: dict[str, Any], kling_request: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """Resume with the request the function returned before the deferral (it is not called again)."""
        self._apply_request(kling_request if kling_request is not None else self._call_function(context))
        return super().execute_complete(context, event)

    def execute_after_slot_wait(
        self,
        context: Context,
        event: Any = None,
        first_try_at: float | None = None,
        kling_request: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Resume after waiting for a Kling slot, with the function's request (not called again)."""
        self._apply_request(kling_request if kling_request is not None else self._call_function(context))
        return super().execute_after_slot_wait(context, event, first_try_at=first_try_at)


def kling_image_task(python_callable: Callable[..., Any] | None = None, **kwargs: Any) -> TaskDecorator:
    """
    Wrap a function returning a prompt (or a dict of request fields) into a Kling image task.

    Registered as ``@task.kling_image``; takes :class:`KlingImageGenerationOperator`'s arguments
    except ``prompt``. Works with ``.expand()``, ``.expand_kwargs()``, ``.partial()`` and
    ``.override()`` like any TaskFlow task. ``multiple_outputs`` defaults to False: the result
    dict is one XCom, whatever the function's return annotation says.

    :param python_callable: The function (when used as ``@task.kling_image`` without parentheses).
    """
    kwargs.setdefault("multiple_outputs", False)
    return task_decorator_factory(
        python_callable=python_callable,
        decorated_operator_class=_KlingImageDecoratedOperator,
        **kwargs,
    )
