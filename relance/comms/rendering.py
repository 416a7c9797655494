"""Rendering user-editable message templates safely.

Credit managers edit templates in the admin, so a template is untrusted code: it runs in Jinja2's
``ImmutableSandboxedEnvironment`` (no ``_`` attributes, no mutation of lists and dicts, no unsafe
callables) over a context of plain data only (frozen dataclasses, tuples, str, Decimal, date; see
``relance.comms.context``): there is no model to ``.delete()``, no settings, no request. On top of
the sandbox:

* only a whitelist of filters and globals (no ``lipsum``, ``cycler``, ``joiner``, ``namespace``);
* every undefined name is an error (``StrictUndefined``), reported with the template and line;
* budgets against runaway templates that cannot be escaped (see "budgets" below, ADR 0007 and
  docs/security.md): every operation counts and checks the clock, every value built is weighed
  against a per-value and a per-render cap, integers are capped before they are multiplied,
  ``range`` is capped, and sources are bounded in length and nesting.

Money and dates are formatted in the message's language by ``relance.core.formatting`` (the one
formatter of the pages, the portal, PDFs and the CLI), from Decimal (never float).
"""

from __future__ import annotations

import contextvars
import functools
import hashlib
import operator
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, fields, is_dataclass
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
    pass_environment,
    pass_eval_context,
)
from jinja2 import (
    TemplateError as JinjaTemplateError,
)
from jinja2.filters import FILTERS
from jinja2.runtime import markup_join, str_join
from jinja2.sandbox import ImmutableSandboxedEnvironment, SecurityError
from jinja2.visitor import NodeTransformer
from markupsafe import Markup

from relance.core.formatting import format_day, format_money, format_number

MAX_RANGE = 10_000
"""Largest ``range()`` a template may build."""
MAX_ITERATIONS = 100_000
"""Loop iterations and calls, all loops of one render together."""
MAX_OPERATIONS = 1_000_000
"""Operations of one render (iterations, calls, filters, operators, concatenations, subscripts)."""
MAX_OUTPUT_CHARS = 1_000_000
"""Largest rendered text, and largest value (as text) a template may build."""
MAX_BUILT_CHARS = 16 * MAX_OUTPUT_CHARS
"""All the values one render builds, together (a value shared n times counts n times)."""
TIME_BUDGET_SECONDS = 2.0
"""Wall-clock budget of one render, checked at every operation."""
MAX_INT_BITS = 4096
"""Largest integer a template may compute (1,233 digits): bounds the cost of one multiplication."""
MAX_SOURCE_CHARS = 200_000
"""Largest template source."""
MAX_NESTING = 32
"""Deepest nesting of brackets in an expression."""
MAX_TREE_DEPTH = 96
"""Deepest syntax tree (blocks in blocks, operators on operators)."""

RANGE_TOO_LARGE = "range() of {size} items exceeds the limit of {limit}"
ITERATIONS_EXCEEDED = "the template exceeds {limit} loop iterations and calls"
OPERATIONS_EXCEEDED = "the template exceeds {limit} operations"
TIME_EXCEEDED = "the template took more than {seconds} s of CPU to render"
OUTPUT_TOO_LARGE = "the rendered text exceeds {limit} characters"
VALUE_TOO_LARGE = "the expression builds a value larger than {limit} characters"
BUILT_TOO_MUCH = "the template builds more than {limit} characters of values in all"
POWER_TOO_LARGE = "the power is too large"
INT_TOO_LARGE = "the number is too large (more than {bits} bits)"
NUMBER_OUT_OF_RANGE = "the number {value!r} is out of range"
SOURCE_TOO_LARGE = "the template is longer than {limit} characters"
NESTED_TOO_DEEPLY = "the template nests too deeply (more than {limit} levels)"
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
    {
        "format",
        "format_map",
        "ljust",
        "rjust",
        "center",
        "zfill",
        "expandtabs",
        "replace",
        "join",
        "translate",
    }
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


# --- budgets -------------------------------------------------------------------------------
#
# The bound cannot be escaped because every way a template has to spend CPU or memory goes
# through one of these checks (docs/security.md, "Templates"):
#   * every operation ticks: loop iterations, calls, filters, operators, "~", subscripts, literals
#     of lists and dicts; each tick checks the operation count and the wall clock;
#   * every value an operation builds is weighed (its size as text, shared parts counted each
#     time) and charged: no value over MAX_OUTPUT_CHARS, no more than MAX_BUILT_CHARS in all;
#   * operations that copy data (repetition, concatenation, join, replace) are weighed before they
#     run, integers are capped at MAX_INT_BITS before a multiplication, so that no single operation
#     does much work between two ticks;
#   * buffered output (macro bodies, {% set %} and {% filter %} blocks) is measured before it is
#     joined, and the rendered text is cut off past MAX_OUTPUT_CHARS;
#   * the parser and compiler see bounded sources: length, bracket nesting and tree depth.


class _Budget:
    __slots__ = ("built", "deadline", "operations", "remaining")

    def __init__(self, iterations: int, seconds: float) -> None:
        self.remaining = iterations
        self.operations = MAX_OPERATIONS
        self.built = MAX_BUILT_CHARS
        self.deadline = time.thread_time() + seconds  # CPU of this thread: a loaded machine does not trip it

    def tick(self) -> None:
        """A loop iteration or a call (these have their own, smaller, count)."""
        self.remaining -= 1
        if self.remaining < 0:
            raise _BudgetExceeded(ITERATIONS_EXCEEDED.format(limit=MAX_ITERATIONS))
        self.step()

    def step(self) -> None:
        """Any operation."""
        self.operations -= 1
        if self.operations < 0:
            raise _BudgetExceeded(OPERATIONS_EXCEEDED.format(limit=MAX_OPERATIONS))
        self.check_time()

    def check_time(self) -> None:
        if time.thread_time() > self.deadline:
            raise _BudgetExceeded(TIME_EXCEEDED.format(seconds=TIME_BUDGET_SECONDS))

    def charge(self, value: Any) -> Any:
        """Count a value just built against the per-value cap and the render's total."""
        weight = _weight(value, min(self.built, MAX_OUTPUT_CHARS))
        if weight > MAX_OUTPUT_CHARS:
            raise _BudgetExceeded(VALUE_TOO_LARGE.format(limit=MAX_OUTPUT_CHARS))
        self.built -= weight
        if self.built < 0:
            raise _BudgetExceeded(BUILT_TOO_MUCH.format(limit=MAX_BUILT_CHARS))
        return value


_budget: contextvars.ContextVar[_Budget | None] = contextvars.ContextVar(
    "relance_render_budget", default=None
)


def _current() -> _Budget:
    """The budget of the render (or compilation) under way; a fresh one for a filter called outside."""
    budget = _budget.get()
    return budget if budget is not None else _Budget(MAX_ITERATIONS, TIME_BUDGET_SECONDS)


def _tick() -> None:
    _current().tick()


def _weight(value: Any, limit: int) -> int:
    """The size of ``value`` as text, roughly (a shared part counts each time it appears), computed
    only up to just past ``limit`` so that weighing costs no more than the cap."""
    total = 0
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, str | bytes):
            total += len(item)
        elif isinstance(item, bool) or item is None:
            total += 1
        elif isinstance(item, int):
            total += 1 + item.bit_length() // 3
        elif isinstance(item, list | tuple | set | frozenset):
            total += 2 + len(item)
            if total <= limit:
                pending.extend(item)
        elif isinstance(item, Mapping):
            total += 2 + 2 * len(item)
            if total <= limit:
                pending.extend(item.keys())
                pending.extend(item.values())
        elif is_dataclass(item) and not isinstance(item, type):
            total += 2
            pending.extend(getattr(item, field.name) for field in fields(item))
        else:
            total += 8  # float, Decimal, date, a generator (weighed when it is consumed)
        if total > limit:
            return total
    return total


def _refuse_above(weight: int) -> None:
    if weight > MAX_OUTPUT_CHARS:
        raise _BudgetExceeded(VALUE_TOO_LARGE.format(limit=MAX_OUTPUT_CHARS))


def _budgeted(iterable: Iterable[Any]) -> Iterator[Any]:
    """Wraps the iterable of every ``{% for %}`` (inserted by the environment's parser)."""
    budget = _current()
    for item in iterable:
        budget.tick()
        yield item


def _safe_range(*args: int) -> range:
    numbers = range(*args)
    if len(numbers) > MAX_RANGE:
        raise _BudgetExceeded(RANGE_TOO_LARGE.format(size=len(numbers), limit=MAX_RANGE))
    return numbers


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _int_bits(*values: Any) -> int:
    return max((abs(value).bit_length() for value in values if _is_int(value)), default=0)


def _checked(operation: Callable[[Any, Any], Any]) -> Callable[[Any, Any], Any]:
    """An operator of the template language: a step, and its result charged."""

    @functools.wraps(operation)
    def checked(left: Any, right: Any) -> Any:
        budget = _current()
        budget.step()
        return budget.charge(operation(left, right))

    return checked


def _mul(left: Any, right: Any) -> Any:
    if _is_int(left) and _is_int(right):
        if abs(left).bit_length() + abs(right).bit_length() > MAX_INT_BITS:
            raise _BudgetExceeded(INT_TOO_LARGE.format(bits=MAX_INT_BITS))
        return left * right
    sized, count = (left, right) if _is_int(right) else (right, left)
    if _is_int(count) and isinstance(sized, str | list | tuple):
        unit = _weight(sized, MAX_OUTPUT_CHARS)
        _refuse_above(max(count, 0) * max(unit, 1))
    return operator.mul(left, right)


def _add(left: Any, right: Any) -> Any:
    if _int_bits(left, right) >= MAX_INT_BITS:
        raise _BudgetExceeded(INT_TOO_LARGE.format(bits=MAX_INT_BITS))
    if isinstance(left, str | list | tuple) and isinstance(right, str | list | tuple):
        _refuse_above(_weight(left, MAX_OUTPUT_CHARS) + _weight(right, MAX_OUTPUT_CHARS))
    return operator.add(left, right)


def _sub(left: Any, right: Any) -> Any:
    if _int_bits(left, right) >= MAX_INT_BITS:
        raise _BudgetExceeded(INT_TOO_LARGE.format(bits=MAX_INT_BITS))
    return operator.sub(left, right)


def _pow(left: Any, right: Any) -> Any:
    if isinstance(left, int) and isinstance(right, int):
        if right > MAX_INT_BITS or abs(left).bit_length() * max(right, 0) > MAX_INT_BITS:
            raise _BudgetExceeded(POWER_TOO_LARGE)
    elif isinstance(right, int | float | Decimal) and abs(right) > MAX_INT_BITS:  # type: ignore[operator]
        raise _BudgetExceeded(POWER_TOO_LARGE)
    return operator.pow(left, right)


def _mod(left: Any, right: Any) -> Any:
    if isinstance(left, str):
        raise SecurityError("'%' string formatting is not available in templates; use the filters")
    return operator.mod(left, right)


BINOPS: dict[str, Callable[[Any, Any], Any]] = {
    "+": _checked(_add),
    "-": _checked(_sub),
    "*": _checked(_mul),
    "/": _checked(operator.truediv),
    "//": _checked(operator.floordiv),
    "%": _checked(_mod),
    "**": _checked(_pow),
}
"""Every binary operator of the template language, checked (the sandbox calls these)."""


@pass_eval_context
def _concat(eval_ctx: Any, operands: list[Any]) -> Any:
    """``a ~ b ~ c`` (the parser turns each ``~`` chain into a call of this filter)."""
    budget = _current()
    budget.step()
    _refuse_above(sum(_weight(operand, MAX_OUTPUT_CHARS) for operand in operands))
    joined = markup_join(operands) if eval_ctx.autoescape else str_join(operands)
    return budget.charge(joined)


def _literal(value: Any) -> Any:
    """A list, tuple or dict written in the template (``[s, s, s]`` shares ``s`` three times), a
    slice (a copy), or a value written out by ``{{ }}`` (escaped, buffered: a copy)."""
    budget = _current()
    budget.step()
    return budget.charge(value)


def _buffer_concat(chunks: Iterable[str]) -> str:
    """Jinja's join of buffered output (macro bodies, {% set %} and {% filter %} blocks)."""
    parts = chunks if isinstance(chunks, list) else list(chunks)
    _current().step()
    size = 0
    for part in parts:
        size += len(part)
        if size > MAX_OUTPUT_CHARS:
            raise _BudgetExceeded(OUTPUT_TOO_LARGE.format(limit=MAX_OUTPUT_CHARS))
    return "".join(parts)


def _replace(eval_ctx: Any, value: Any, old: str, new: str, count: int | None = None) -> Any:
    text = str(value)
    occurrences = (len(text) + 1) if old == "" else text.count(old)
    if count is not None:
        occurrences = min(occurrences, max(count, 0))
    _refuse_above(len(text) + occurrences * len(str(new)))
    return FILTERS["replace"](eval_ctx, value, old, new, count)


def _join(eval_ctx: Any, value: Any, d: str = "", attribute: Any = None) -> Any:
    items = list(value)
    separator = len(str(d)) * len(items)
    _refuse_above(separator + sum(_weight(item, MAX_OUTPUT_CHARS) for item in items))
    return FILTERS["join"](eval_ctx, items, d, attribute)


def _sum(environment: Any, iterable: Any, attribute: Any = None, start: Any = 0) -> Any:
    """Numbers only: ``sum`` of lists copies the running total at each step (quadratic)."""
    if not isinstance(start, int | float | Decimal):
        raise SecurityError("sum adds numbers")
    return FILTERS["sum"](environment, iterable, attribute, start)


def _guard_filter(function: Callable[..., Any]) -> Callable[..., Any]:
    """Every filter: a step, no huge count argument (``batch(10**9, 'x')``), its result charged."""

    @functools.wraps(function)  # keeps Jinja's pass_context / pass_eval_context marker
    def guarded(*args: Any, **kwargs: Any) -> Any:
        budget = _current()
        budget.step()
        for argument in (*args, *kwargs.values()):
            if _is_int(argument) and abs(argument) > MAX_OUTPUT_CHARS:
                raise _BudgetExceeded(VALUE_TOO_LARGE.format(limit=MAX_OUTPUT_CHARS))
        return budget.charge(function(*args, **kwargs))

    return guarded


class _BudgetTransformer(NodeTransformer):
    """Rewrites the parsed template so that loops, ``~`` and literals go through the budget."""

    def visit_For(self, node: nodes.For) -> nodes.Node:
        self.generic_visit(node)
        node.iter = nodes.Filter(node.iter, "relance_budget", [], [], None, None, lineno=node.lineno)
        return node

    def visit_Output(self, node: nodes.Output) -> nodes.Node:
        """``{{ x }}``: charged, as output buffered in a macro or block is only measured when joined."""
        self.generic_visit(node)
        node.nodes = [
            child
            if isinstance(child, nodes.TemplateData)
            else nodes.Filter(child, "relance_literal", [], [], None, None, lineno=child.lineno)
            for child in node.nodes
        ]
        return node

    def visit_Concat(self, node: nodes.Concat) -> nodes.Node:
        self.generic_visit(node)
        operands = nodes.List(node.nodes, lineno=node.lineno)
        return nodes.Filter(operands, "relance_concat", [], [], None, None, lineno=node.lineno)

    def _literal(self, node: nodes.Expr) -> nodes.Node:
        self.generic_visit(node)
        if getattr(node, "ctx", "load") != "load":
            return node  # an assignment target ({% set a, b = … %})
        return nodes.Filter(node, "relance_literal", [], [], None, None, lineno=node.lineno)

    visit_List = visit_Tuple = visit_Dict = _literal

    def visit_Getitem(self, node: nodes.Getitem) -> nodes.Node:
        """``s[a:b]`` copies (Jinja compiles a slice to Python's own subscript): charged."""
        self.generic_visit(node)
        if isinstance(node.arg, nodes.Slice) and node.ctx == "load":
            return nodes.Filter(node, "relance_literal", [], [], None, None, lineno=node.lineno)
        return node


def _tree_depth(tree: nodes.Node) -> int:
    deepest = 0
    pending = [(tree, 1)]
    while pending:
        node, depth = pending.pop()
        deepest = max(deepest, depth)
        pending.extend((child, depth + 1) for child in node.iter_child_nodes())
    return deepest


def _bracket_depth(env: Any, source: str, name: str | None) -> int:
    deepest = depth = 0
    for _, kind, value in env.lex(source, name):
        if kind == "operator" and value in ("(", "[", "{"):
            depth += 1
            deepest = max(deepest, depth)
        elif kind == "operator" and value in (")", "]", "}"):
            depth -= 1
    return deepest


# --- locale-aware formatting ---------------------------------------------------------------


def _language(context: Any) -> str:
    value = context.get("language") if hasattr(context, "get") else None
    return value if isinstance(value, str) and value else "en"


MAX_DECIMAL_EXPONENT = 100
"""Amounts and numbers beyond 10**100 are refused: formatting writes every digit out."""


def _as_decimal(value: Any) -> Decimal:
    if isinstance(value, Decimal):
        number = value
    elif (isinstance(value, int) and not isinstance(value, bool)) or isinstance(value, str):
        number = Decimal(value)
    else:
        raise TypeError(f"money expects a Decimal amount, got {type(value).__name__}")
    if number.is_finite() and abs(number.adjusted()) > MAX_DECIMAL_EXPONENT or not number.is_finite():
        raise _BudgetExceeded(NUMBER_OUT_OF_RANGE.format(value=str(value)[:40]))
    return number


def _money_filter(context: Any, amount: Any, currency: str | None = None) -> str:
    if isinstance(amount, Mapping) or hasattr(amount, "currency") and hasattr(amount, "amount"):
        currency = currency or _field(amount, "currency")
        amount = _field(amount, "amount")
    if not currency:
        currency = str(context.get("currency") or "EUR")
    return format_money(_as_decimal(amount), currency, _language(context))


def _field(value: Any, name: str) -> Any:
    return value[name] if isinstance(value, Mapping) else getattr(value, name)


def _date_filter(context: Any, value: Any, style: str = "long") -> str:
    return format_day(value, _language(context), style)


def _number_filter(context: Any, value: Any) -> str:
    return format_number(_as_decimal(value) if not isinstance(value, float) else value, _language(context))


def _pass_context(function: Callable[..., Any]) -> Callable[..., Any]:
    from jinja2 import pass_context

    return pass_context(function)


# --- the environment ---------------------------------------------------------------------


class RelanceSandbox(ImmutableSandboxedEnvironment):
    """The sandbox with Relance's whitelist and budgets."""

    intercepted_binops = frozenset(BINOPS)

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
        filters: dict[str, Callable[..., Any]] = {name: FILTERS[name] for name in SAFE_FILTERS}
        filters.update(
            {
                "replace": pass_eval_context(_replace),
                "join": pass_eval_context(_join),
                "sum": pass_environment(_sum),
                "money": _pass_context(_money_filter),
                "date": _pass_context(_date_filter),
                "number": _pass_context(_number_filter),
            }
        )
        self.filters = {name: _guard_filter(function) for name, function in filters.items()}
        self.filters.update(
            {"relance_budget": _budgeted, "relance_concat": _concat, "relance_literal": _literal}
        )
        self.globals = {"range": _safe_range}
        self.binop_table = {**self.binop_table, **BINOPS}
        self.concat = _buffer_concat  # type: ignore[method-assign,assignment]

    def _parse(self, source: str, name: str | None, filename: str | None) -> nodes.Template:
        """Bounded input for the parser and compiler; loops, ``~`` and literals go through the budget."""
        if len(source) > MAX_SOURCE_CHARS:
            raise _BudgetExceeded(SOURCE_TOO_LARGE.format(limit=MAX_SOURCE_CHARS))
        if _bracket_depth(self, source, name) > MAX_NESTING:
            raise _BudgetExceeded(NESTED_TOO_DEEPLY.format(limit=MAX_NESTING))
        tree = super()._parse(source, name, filename)
        if _tree_depth(tree) > MAX_TREE_DEPTH:
            raise _BudgetExceeded(NESTED_TOO_DEEPLY.format(limit=MAX_TREE_DEPTH))
        transformed: nodes.Template = _BudgetTransformer().visit(tree)
        return transformed

    def getitem(self, obj: Any, argument: Any) -> Any:
        """``x[i]``, ``x[a:b]``: a step; a slice is a new value, charged."""
        budget = _current()
        budget.step()
        value = super().getitem(obj, argument)
        return budget.charge(value) if isinstance(argument, slice) else value

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
        return _current().charge(super().call(__context, __obj, *args, **kwargs))


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
    token = _budget.set(_Budget(MAX_ITERATIONS, TIME_BUDGET_SECONDS))  # Jinja folds constants
    try:
        code = env.compile(source, name=name, filename=name)
    except TemplateSyntaxError as exc:
        raise TemplateError(exc.message or "syntax error", template=name, line=exc.lineno) from None
    except SecurityError as exc:
        raise TemplateError(UNSAFE.format(detail=exc), template=name) from None
    except _BudgetExceeded as exc:
        raise TemplateError(str(exc), template=name) from None
    except (RecursionError, SyntaxError, MemoryError):  # Python's own limits on nesting
        raise TemplateError(NESTED_TOO_DEEPLY.format(limit=MAX_NESTING), template=name) from None
    finally:
        _budget.reset(token)
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
