"""An operator's request arguments, read from its ``__init__`` so they are written once."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any


def request_arguments_of(init: Callable[..., Any]) -> tuple[str, ...]:
    """The keyword-only arguments an operator's own ``__init__`` declares (its request fields, in the
    order they are sent); ``**kwargs`` goes on to :class:`KlingTaskOperator`."""
    parameters = inspect.signature(init).parameters.values()
    return tuple(parameter.name for parameter in parameters if parameter.kind is parameter.KEYWORD_ONLY)
