"""Rendering user-editable message templates safely.

Credit managers edit templates in the admin, so a template is untrusted code: it runs in Jinja2's
``ImmutableSandboxedEnvironment`` (no ``_`` attributes, no mutation of lists and dicts, no unsafe
callables) over a context of plain data only (frozen dataclasses, tuples, str, Decimal, date; see
``relance.comms.context``): there is no model to ``.delete()``, no settings, no request. On top of
the sandbox:

* only a whitelist of filters and globals (no ``lipsum``, ``cycler``, ``joiner``, ``namespace``);
* every undefined name is an error (``StrictUndefined``), reported with the template and line;
* budgets against runaway templates: ``range`` is capped, every loop iteration and every call
  counts against an iteration budget and a time budget, string and list repetition and powers
  are bounded, and the output is cut off (with an error) past a size cap.

Money and dates are formatted in the message's language by ``relance.core.formatting`` (the one
formatter of the pages, the portal, PDFs and the CLI), from Decimal (never float).
"""

from __future__ import annotations

import contextvars
import hashlib
import operator
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache
from types import TracebackType
from typing import Any

from jinja2 import (
    DictLoader,
    StrictUndefined,
    Template,
    TemplateSyntaxError,
    nodes,
    pass_eval_context,
)
from jinja2 import (
    TemplateError as JinjaTemplateError,
)
from jinja2.filters import FILTERS
from jinja2.sandbox import ImmutableSandboxedEnvironment, SecurityError
from markupsafe import Markup

from relance.core.formatting import format_day, format_money, format_number

MAX_RANGE = 10_000
"""Largest ``range()`` a template may build."""
MAX_ITERATIONS = 100_000
"""Loop iterations and calls, all loops of one render together."""
MAX_OUTPUT_CHARS = 1_000_000
"""Largest rendered text (and largest string a template may build by ``*`` or ``+``)."""
TIME_BUDGET_SECONDS = 2.0
"""Wall-clock budget of one render, checked at each iteration, call and output chunk."""
MAX_POWER_BITS = 4096

RANGE_TOO_LARGE = "range() of {size} items exceeds the limit of {limit}"
ITERATIONS_EXCEEDED = "the template exceeds {limit} loop iterations and calls"
TIME_EXCEEDED = "the template took longer than {seconds} s to render"
OUTPUT_TOO_LARGE = "the rendered text exceeds {limit} characters"
VALUE_TOO_LARGE = "the expression builds a value larger than {limit} characters"
POWER_TOO_LARGE = "the power is too large"
UNSAFE = "unsafe operation refused: {detail}"
UNDEFINED = "unknown variable or attribute: {detail}"

SAFE_FILTERS = (
    "abs batch capitalize count d default dictsort e escape filesizeformat first float forceescape "
    "groupby int items join last length list lower map max min reject rejectattr replace reverse "
    "round select selectattr sort string striptags sum title tojson trim truncate unique "
    "upper urlencode urlize wordcount"
).split()
"""Jinja's filters a template may use; left out: safe (would bypass autoescaping of data),
format, center, indent, wordwrap, xmlattr, pprint, slice (unbounded widths or counts, raw markup)."""

AMPLIFYING_STR_METHODS = frozenset(
    {"format", "format_map", "ljust", "rjust", "center", "zfill", "expandtabs", "replace", "join"}
)
"""String methods whose output can be far larger than their input (``'x'.ljust(10**9)``); the
``replace`` and ``join`` filters, which check the size first, do the same job."""


class TemplateError(ValueError):
    """A template that cannot be compiled or rendered, with the template's name and line."""

    def __init__(self, message: str, *, template: str, line: int | None = None) -> None:
        self.message = message
        self.template = template
        self.line = line
        where = f"{template}, line {line}" if line else template
        super().__init__(f"{where}: {message}")


class _BudgetExceeded(Exception):
    pass


class _Budget:
    __slots__ = ("deadline", "remaining")

    def __init__(self, iterations: int, seconds: float) -> None:
        self.remaining = iterations
        self.deadline = time.monotonic() + seconds

    def tick(self) -> None:
        self.remaining -= 1
        if self.remaining < 0:
            raise _BudgetExceeded(ITERATIONS_EXCEEDED.format(limit=MAX_ITERATIONS))
        if not self.remaining & 255:
            self.check_time()

    def check_time(self) -> None:
        if time.monotonic() > self.deadline:
            raise _BudgetExceeded(TIME_EXCEEDED.format(seconds=TIME_BUDGET_SECONDS))


_budget: contextvars.ContextVar[_Budget | None] = contextvars.ContextVar(
    "relance_render_budget", default=None
)


def _tick() -> None:
    budget = _budget.get()
    if budget is not None:
        budget.tick()


def _budgeted(iterable: Iterable[Any]) -> Iterator[Any]:
    """Wraps the iterable of every ``{% for %}`` (inserted by the environment's parser)."""
    for item in iterable:
        _tick()
        yield item


def _safe_range(*args: int) -> range:
    numbers = range(*args)
    if len(numbers) > MAX_RANGE:
        raise _BudgetExceeded(RANGE_TOO_LARGE.format(size=len(numbers), limit=MAX_RANGE))
    return numbers


def _size(value: Any) -> int:
    return len(value) if isinstance(value, str | list | tuple) else 0


def _mul(left: Any, right: Any) -> Any:
    sized, count = (left, right) if _size(left) or isinstance(left, str) else (right, left)
    if isinstance(count, int) and isinstance(sized, str | list | tuple):
        if max(count, 0) * len(sized) > MAX_OUTPUT_CHARS:
            raise _BudgetExceeded(VALUE_TOO_LARGE.format(limit=MAX_OUTPUT_CHARS))
    return operator.mul(left, right)


def _add(left: Any, right: Any) -> Any:
    if _size(left) + _size(right) > MAX_OUTPUT_CHARS:
        raise _BudgetExceeded(VALUE_TOO_LARGE.format(limit=MAX_OUTPUT_CHARS))
    return operator.add(left, right)


def _pow(left: Any, right: Any) -> Any:
    if isinstance(left, int) and isinstance(right, int):
        if right > MAX_POWER_BITS or abs(left).bit_length() * max(right, 0) > MAX_POWER_BITS:
            raise _BudgetExceeded(POWER_TOO_LARGE)
    elif isinstance(right, int | float | Decimal) and abs(right) > MAX_POWER_BITS:  # type: ignore[operator]
        raise _BudgetExceeded(POWER_TOO_LARGE)
    return operator.pow(left, right)


def _replace(eval_ctx: Any, value: Any, old: str, new: str, count: int | None = None) -> Any:
    text = str(value)
    occurrences = (len(text) + 1) if old == "" else text.count(old)
    if count is not None:
        occurrences = min(occurrences, max(count, 0))
    if len(text) + occurrences * len(str(new)) > MAX_OUTPUT_CHARS:
        raise _BudgetExceeded(VALUE_TOO_LARGE.format(limit=MAX_OUTPUT_CHARS))
    return FILTERS["replace"](eval_ctx, value, old, new, count)


def _join(eval_ctx: Any, value: Any, d: str = "", attribute: Any = None) -> Any:
    items = list(value)
    if len(str(d)) * len(items) > MAX_OUTPUT_CHARS:
        raise _BudgetExceeded(VALUE_TOO_LARGE.format(limit=MAX_OUTPUT_CHARS))
    return FILTERS["join"](eval_ctx, items, d, attribute)


def _mod(left: Any, right: Any) -> Any:
    if isinstance(left, str):
        raise SecurityError("'%' string formatting is not available in templates; use the filters")
    return operator.mod(left, right)


# --- locale-aware formatting ---------------------------------------------------------------


def _language(context: Any) -> str:
    value = context.get("language") if hasattr(context, "get") else None
    return value if isinstance(value, str) and value else "en"


def _money_filter(context: Any, amount: Any, currency: str | None = None) -> str:
    if isinstance(amount, Mapping) or hasattr(amount, "currency") and hasattr(amount, "amount"):
        currency = currency or _field(amount, "currency")
        amount = _field(amount, "amount")
    if not currency:
        currency = str(context.get("currency") or "EUR")
    return format_money(amount, currency, _language(context))


def _field(value: Any, name: str) -> Any:
    return value[name] if isinstance(value, Mapping) else getattr(value, name)


def _date_filter(context: Any, value: Any, style: str = "long") -> str:
    return format_day(value, _language(context), style)


def _number_filter(context: Any, value: Any) -> str:
    return format_number(value, _language(context))


def _pass_context(function: Callable[..., Any]) -> Callable[..., Any]:
    from jinja2 import pass_context

    return pass_context(function)


# --- the environment ---------------------------------------------------------------------


class RelanceSandbox(ImmutableSandboxedEnvironment):
    """The sandbox with Relance's whitelist and budgets."""

    intercepted_binops = frozenset({"*", "**", "+", "%"})

    def __init__(self, *, autoescape: bool, layouts: Mapping[str, str]) -> None:
        super().__init__(
            autoescape=autoescape,
            undefined=StrictUndefined,
            loader=DictLoader(dict(layouts)),
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=False,
            auto_reload=False,
            cache_size=64,
        )
        self.filters = {name: FILTERS[name] for name in SAFE_FILTERS}
        self.filters.update(
            {
                "replace": pass_eval_context(_replace),
                "join": pass_eval_context(_join),
                "money": _pass_context(_money_filter),
                "date": _pass_context(_date_filter),
                "number": _pass_context(_number_filter),
                "relance_budget": _budgeted,
            }
        )
        self.globals = {"range": _safe_range}
        self.binop_table = {**self.binop_table, "*": _mul, "**": _pow, "+": _add, "%": _mod}

    def _parse(self, source: str, name: str | None, filename: str | None) -> nodes.Template:
        """Wrap the iterable of every for-loop in the budget filter."""
        tree = super()._parse(source, name, filename)
        for loop in tree.find_all(nodes.For):
            loop.iter = nodes.Filter(loop.iter, "relance_budget", [], [], None, None, lineno=loop.lineno)
        return tree

    def is_safe_attribute(self, obj: Any, attr: str, value: Any) -> bool:
        if not super().is_safe_attribute(obj, attr, value):
            return False
        return not getattr(value, "alters_data", False)

    def is_safe_callable(self, obj: Any) -> bool:
        if not super().is_safe_callable(obj):
            return False
        owner = getattr(obj, "__self__", None)
        if isinstance(owner, str) and getattr(obj, "__name__", "") in AMPLIFYING_STR_METHODS:
            return False
        module = type(owner).__module__ if owner is not None else getattr(obj, "__module__", "") or ""
        # Never a Django object (model, manager, queryset), even if one slipped into the context.
        return not module.startswith("django.")

    def call(__self, __context: Any, __obj: Any, *args: Any, **kwargs: Any) -> Any:
        _tick()
        method = getattr(__obj, "__wrapped__", __obj)  # the sandbox wraps str.format
        if isinstance(getattr(method, "__self__", None), str) and method.__name__ in AMPLIFYING_STR_METHODS:
            raise SecurityError(f"str.{method.__name__}() is not available in templates; use the filters")
        for argument in (*args, *kwargs.values()):
            if isinstance(argument, str) and len(argument) > MAX_OUTPUT_CHARS:
                raise _BudgetExceeded(VALUE_TOO_LARGE.format(limit=MAX_OUTPUT_CHARS))
            if (
                __obj is not _safe_range
                and isinstance(argument, int)
                and not isinstance(argument, bool)
                and abs(argument) > MAX_OUTPUT_CHARS
            ):
                raise _BudgetExceeded(VALUE_TOO_LARGE.format(limit=MAX_OUTPUT_CHARS))
        return super().call(__context, __obj, *args, **kwargs)


@dataclass(frozen=True, slots=True)
class TemplateSource:
    """A template's source as stored (or shipped): subject, plain text and HTML, all Jinja."""

    subject: str
    text: str
    html: str = ""


_environments: dict[tuple[bool, int], RelanceSandbox] = {}


def environment(*, html: bool) -> RelanceSandbox:
    """The shared sandbox for HTML (autoescaped) or text, with the shipped layouts."""
    from relance.comms.defaults import layouts

    shipped = layouts()
    key = (html, id(shipped))
    env = _environments.get(key)
    if env is None:
        env = RelanceSandbox(autoescape=html, layouts=shipped)
        _environments[key] = env
    return env


@lru_cache(maxsize=4096)
def _compiled(source: str, name: str, html: bool, digest: str) -> Template:
    env = environment(html=html)
    try:
        code = env.compile(source, name=name, filename=name)
    except TemplateSyntaxError as exc:
        raise TemplateError(exc.message or "syntax error", template=name, line=exc.lineno) from None
    except SecurityError as exc:
        raise TemplateError(UNSAFE.format(detail=exc), template=name) from None
    return env.template_class.from_code(env, code, env.make_globals(None), None)


def compile_template(source: str, *, name: str, html: bool) -> Template:
    """Compile (cached by source) or raise ``TemplateError`` with the line of the syntax error."""
    digest = hashlib.blake2b(source.encode("utf-8"), digest_size=16).hexdigest()
    return _compiled(source, name, html, digest)


def _line_of(tb: TracebackType | None, names: set[str]) -> tuple[str | None, int | None]:
    found: tuple[str | None, int | None] = (None, None)
    while tb is not None:
        filename = tb.tb_frame.f_code.co_filename
        if filename in names:
            found = (filename, tb.tb_lineno)
        tb = tb.tb_next
    return found


def render_template(source: str, context: Mapping[str, Any], *, name: str, html: bool) -> str:
    """Render ``source`` in the sandbox; any failure becomes ``TemplateError(name, line)``."""
    template = compile_template(source, name=name, html=html)
    env = environment(html=html)
    budget = _Budget(MAX_ITERATIONS, TIME_BUDGET_SECONDS)
    token = _budget.set(budget)
    parts: list[str] = []
    size = 0
    try:
        for chunk in template.generate(dict(context)):
            size += len(chunk)
            if size > MAX_OUTPUT_CHARS:
                raise _BudgetExceeded(OUTPUT_TOO_LARGE.format(limit=MAX_OUTPUT_CHARS))
            parts.append(chunk)
            budget.check_time()
    except TemplateError:
        raise
    except Exception as exc:  # every failure of untrusted code is the template's error
        names = {name, *(env.loader.list_templates() if env.loader else [])}
        where, line = _line_of(exc.__traceback__, names)
        label = name if where in (None, name) else f"{name} (layout {where})"
        raise TemplateError(_describe(exc), template=label, line=line) from None
    finally:
        _budget.reset(token)
    return "".join(parts)


def _describe(exc: BaseException) -> str:
    from jinja2.exceptions import UndefinedError

    if isinstance(exc, SecurityError):
        return UNSAFE.format(detail=exc)
    if isinstance(exc, UndefinedError):
        return UNDEFINED.format(detail=exc.message)
    if isinstance(exc, _BudgetExceeded):
        return str(exc)
    if isinstance(exc, RecursionError):
        return "the template recurses too deeply"
    if isinstance(exc, JinjaTemplateError):
        return exc.message or type(exc).__name__
    return f"{type(exc).__name__}: {exc}"


def check_template(source: str, *, name: str, html: bool) -> None:
    """Compile only (for the admin): raises ``TemplateError`` with the line of a syntax error."""
    compile_template(source, name=name, html=html)


__all__ = [
    "MAX_ITERATIONS",
    "MAX_OUTPUT_CHARS",
    "MAX_RANGE",
    "Markup",
    "TemplateError",
    "TemplateSource",
    "check_template",
    "compile_template",
    "environment",
    "format_day",
    "format_money",
    "render_template",
]
