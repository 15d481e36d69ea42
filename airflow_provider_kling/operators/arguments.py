"""An operator's request arguments, read from its ``__init__`` so they are written once."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from typing import Any


def request_arguments_of(init: Callable[..., Any]) -> tuple[str, ...]:
    """The keyword-only arguments an operator's own ``__init__`` declares (its request fields, in the
    order they are sent); ``**kwargs`` goes on to :class:`KlingTaskOperator`."""
    parameters = inspect.signature(init).parameters.values()
    return tuple(parameter.name for parameter in parameters if parameter.kind is parameter.KEYWORD_ONLY)


def keep_request_arguments(operator: Any, arguments: Mapping[str, Any]) -> None:
    """Set each request argument of ``operator`` from its ``__init__``'s ``locals()`` as an attribute of
    the same name (where :meth:`KlingTaskOperator.request_fields` reads it, rendered)."""
    for name in type(operator).request_arguments:
        setattr(operator, name, arguments[name])
