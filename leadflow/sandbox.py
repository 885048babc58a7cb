"""A Jinja2 sandbox with a bounded amount of work per render.

Templates come from marketers, so a template must not be able to hold the process: Python
threads cannot be stopped from outside, and one big-integer power (``9**(9**8)``) holds the
interpreter lock for minutes, freezing the API beside it. So the expensive operations are
refused *before* they run, and everything else is counted:

* ``**``, ``*``, ``+``, ``%`` and ``~`` are checked before they are computed: no integer beyond
  :data:`MAX_INT_BITS` bits, no string or list beyond :data:`MAX_SIZE` items, no format width
  beyond :data:`MAX_WIDTH`; the same for string methods (``ljust``, ``center``, ``replace``,
  ``format``...) and the filters that pad, repeat or slice.
* ``range`` gives at most :data:`MAX_RANGE` numbers.
* Every call, operator, loop pass and macro body is charged to the render's :class:`Budget`:
  at most :data:`MAX_OPERATIONS` of them, at most :data:`MAX_OUTPUT` characters produced, and
  at most :data:`DEADLINE_SECONDS` of time (checked as the work goes, so a render that runs
  long stops itself with a clean error instead of being abandoned in a thread).

Constant folding cannot bypass this: intercepted operators and budgeted filters are never
evaluated at compile time. A refusal raises :class:`jinja2.sandbox.SecurityError` with a
sentence a marketer can act on.
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from jinja2 import nodes
from jinja2.runtime import Macro, markup_join, str_join
from jinja2.sandbox import ImmutableSandboxedEnvironment, SecurityError
from jinja2.utils import _PassArg, pass_context, pass_eval_context
from jinja2.visitor import NodeTransformer

__all__ = [
    "DEADLINE_SECONDS",
    "MAX_INT_BITS",
    "MAX_OPERATIONS",
    "MAX_OUTPUT",
    "MAX_RANGE",
    "MAX_SIZE",
    "MAX_WIDTH",
    "BoundedSandbox",
    "Budget",
    "budget",
]

MAX_INT_BITS = 4096  # about 1,200 digits
MAX_SIZE = 200_000  # characters of one string, items of one list
MAX_WIDTH = 10_000  # a padding or format width
MAX_RANGE = 10_000
MAX_OPERATIONS = 100_000
MAX_OUTPUT = 2_000_000  # characters a render may produce, in all
DEADLINE_SECONDS = 5.0


@dataclass
class Budget:
    """What one render may still do; charged by the sandbox as the template runs."""

    operations: int = MAX_OPERATIONS
    output: int = MAX_OUTPUT
    deadline: float = field(default_factory=lambda: time.monotonic() + DEADLINE_SECONDS)
    _unchecked: int = 0  # operations since the clock was last read

    def charge(self, operations: int = 1, output: int = 0) -> None:
        self.operations -= operations
        self._unchecked += operations
        self.output -= output
        if self.operations < 0:
            raise SecurityError(f"the template does too much work (more than "
                                f"{MAX_OPERATIONS:,} steps); loop over less.")
        if self.output < 0:
            raise SecurityError(f"the template produces more than {MAX_OUTPUT:,} characters.")
        if self._unchecked >= 512:
            self._unchecked = 0
            if time.monotonic() > self.deadline:
                raise SecurityError("the template takes too long to render (over "
                                    f"{DEADLINE_SECONDS:g} s).")


_current: ContextVar[Budget | None] = ContextVar("leadflow_render_budget", default=None)


@contextmanager
def budget(deadline: float | None = None) -> Iterator[Budget]:
    """Renders inside this block share one fresh :class:`Budget` (``deadline`` seconds from
    now; default :data:`DEADLINE_SECONDS`)."""
    seconds = DEADLINE_SECONDS if deadline is None else deadline
    b = Budget(deadline=time.monotonic() + seconds)
    token = _current.set(b)
    try:
        yield b
    finally:
        _current.reset(token)


def _charge(operations: int = 1, output: int = 0) -> None:
    b = _current.get()
    if b is not None:
        b.charge(operations, output)


def _size(value: Any) -> int | None:
    return len(value) if isinstance(value, (str, bytes, list, tuple)) else None


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _check_int(value: Any) -> None:
    if _is_int(value) and value.bit_length() > MAX_INT_BITS:
        raise SecurityError(f"a number in the template is too large (over {MAX_INT_BITS} bits).")


def _check_size(size: int) -> None:
    if size > MAX_SIZE:
        raise SecurityError(f"the template builds a text or list of {size:,} items; the limit "
                            f"is {MAX_SIZE:,}.")


def _check_width(width: Any) -> None:
    if _is_int(width) and width > MAX_WIDTH:
        raise SecurityError(f"a width or count of {width:,} is too large (limit {MAX_WIDTH:,}).")


# %-format and str.format specs: the numbers that are widths or precisions
_PERCENT_SPEC = re.compile(r"%(?:\([^)]*\))?[#0 +-]*(\*|\d+)?(?:\.(\*|\d+))?")
_BRACE_SPEC = re.compile(r"\{[^{}]*?:[^{}]*?(\d+)[^{}]*\}")


_NESTED_SPEC = re.compile(r"\{[^{}]*:[^{}]*\{")


def _check_format(fmt: str) -> None:
    if _NESTED_SPEC.search(fmt):
        raise SecurityError("format fields inside a format spec ('{:{}}') are not allowed in "
                            "templates.")
    for match in _PERCENT_SPEC.finditer(fmt):
        for part in match.groups():
            if part == "*":
                raise SecurityError("'*' widths are not allowed in templates.")
            if part:
                _check_width(int(part))
    for match in _BRACE_SPEC.finditer(fmt):
        for number in re.findall(r"\d+", match.group(0).split(":", 1)[1]):
            _check_width(int(number))


def _check_binop(op: str, left: Any, right: Any) -> None:
    if op == "**":
        if _is_int(left) and _is_int(right) and right > 0 and abs(left) > 1:
            bits = right * math.log2(abs(left))
            if bits > MAX_INT_BITS:
                raise SecurityError(f"{left} ** {right} is too large a number to compute.")
        return
    if op == "*":
        if _is_int(left) and _is_int(right):
            if left.bit_length() + right.bit_length() > MAX_INT_BITS:
                raise SecurityError("the template multiplies numbers that are too large.")
            return
        for seq, times in ((left, right), (right, left)):
            if _size(seq) is not None and _is_int(times):
                _check_size(len(seq) * max(times, 0))
        return
    if op == "+":
        if _size(left) is not None and _size(right) is not None:
            _check_size(len(left) + len(right))
        return
    if op == "%" and isinstance(left, str):
        _check_format(left)


def _guard(fn: Callable[..., Any], check: Callable[..., None]) -> Callable[..., Any]:
    """Filter ``fn`` with ``check(*args, **kwargs)`` run first (never folded at compile time:
    the check must see run-time values and charge the render)."""
    passes = _PassArg.from_obj(fn)

    @pass_context
    def guarded(context: Any, *args: Any, **kwargs: Any) -> Any:
        check(*args, **kwargs)
        _charge()
        if passes is _PassArg.context:
            return fn(context, *args, **kwargs)
        if passes is _PassArg.eval_context:
            return fn(context.eval_ctx, *args, **kwargs)
        if passes is _PassArg.environment:
            return fn(context.environment, *args, **kwargs)
        return fn(*args, **kwargs)

    guarded.__name__ = getattr(fn, "__name__", "filter")
    return guarded


def _widths(*args: Any, **kwargs: Any) -> None:
    for value in (*args[1:], *kwargs.values()):
        _check_width(value)


def _format_filter_check(value: Any, *args: Any, **kwargs: Any) -> None:
    if isinstance(value, str):
        _check_format(value)


def _replace_check(value: Any, old: Any = "", new: Any = "", count: Any = None) -> None:
    text, old_s, new_s = str(value), str(old), str(new)
    hits = (len(text) + 1) if not old_s else text.count(old_s)
    if _is_int(count) and count >= 0:
        hits = min(hits, count)
    _check_size(len(text) + hits * max(len(new_s) - len(old_s), 0))


# str methods whose result grows with an argument: checked before they run
_STR_METHODS = {
    "ljust": "width", "rjust": "width", "center": "width", "zfill": "width",
    "expandtabs": "width", "format": "format", "format_map": "format", "replace": "replace",
    "join": "join",
}


def _check_str_method(name: str, text: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    kind = _STR_METHODS.get(name)
    if kind == "width":
        for value in (*args, *kwargs.values()):
            _check_width(value)
    elif kind == "format":
        _check_format(text)
    elif kind == "replace":
        _replace_check(text, *args, **kwargs)
    elif kind == "join" and args and isinstance(args[0], (list, tuple)):
        _check_size(sum(len(str(x)) for x in args[0]) + len(text) * len(args[0]))


def _safe_range(*args: Any) -> range:
    for value in args:
        _check_int(value)
    numbers = range(*args)
    if len(numbers) > MAX_RANGE:
        raise SecurityError(f"range() of {len(numbers):,} numbers is too long (limit "
                            f"{MAX_RANGE:,}).")
    _charge()
    return numbers


@pass_context
def _charge_filter(_context: Any, value: Any, operations: int, output: int) -> str:
    _charge(operations, output)
    return ""


@pass_eval_context
def _concat_filter(eval_ctx: Any, items: list[Any]) -> str:
    parts = [x if isinstance(x, str) else str(x) for x in items]
    size = sum(len(p) for p in parts)
    _check_size(size)
    _charge(1, size)
    return markup_join(items) if eval_ctx.autoescape else str_join(items)


def _literal_size(body: list[nodes.Node]) -> int:
    return sum(len(n.data) for stmt in body for n in stmt.find_all(nodes.TemplateData))


class _ChargeBodies(NodeTransformer):
    """Make loop passes, macro bodies and ``~`` joins pay into the render's budget."""

    def _charged(self, body: list[nodes.Node], lineno: int) -> list[nodes.Node]:
        weight = _literal_size(body)
        charge = nodes.Filter(nodes.Const(""), "_lf_charge",
                              [nodes.Const(1 + weight // 64), nodes.Const(weight)], [],
                              None, None, lineno=lineno)
        return [nodes.Output([charge], lineno=lineno), *body]

    def _visit_body(self, node: Any) -> nodes.Node:
        self.generic_visit(node)
        node.body = self._charged(node.body, node.lineno)
        return node  # type: ignore[no-any-return]

    # each pass of a loop body, each call of a macro or {% call %} block pays
    visit_For = visit_Macro = visit_CallBlock = _visit_body

    def visit_Concat(self, node: nodes.Concat) -> nodes.Node:
        self.generic_visit(node)
        return nodes.Filter(nodes.List(node.nodes, lineno=node.lineno), "_lf_concat", [], [],
                            None, None, lineno=node.lineno)


class BoundedSandbox(ImmutableSandboxedEnvironment):
    """The immutable sandbox, with every costly operation checked or charged (module doc)."""

    intercepted_binops = frozenset({"**", "*", "+", "%", "//", "/", "-"})

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.globals["range"] = _safe_range
        self.globals.pop("lipsum", None)  # lipsum(n=10**9): nothing a mail needs
        self.filters["_lf_charge"] = _charge_filter
        self.filters["_lf_concat"] = _concat_filter
        for name in ("center", "indent", "wordwrap", "truncate", "batch", "slice", "tojson",
                     "urlize"):
            self.filters[name] = _guard(self.filters[name], _widths)
        self.filters["format"] = _guard(self.filters["format"], _format_filter_check)
        self.filters["replace"] = _guard(self.filters["replace"], _replace_check)

    def _parse(self, source: str, name: str | None, filename: str | None) -> nodes.Template:
        tree = super()._parse(source, name, filename)
        return _ChargeBodies().visit(tree)  # type: ignore[no-any-return]

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        _check_binop(operator, left, right)
        result = super().call_binop(context, operator, left, right)
        _check_int(result)
        _charge(1, _size(result) or 0)
        return result

    def call(self, context: Any, obj: Any, /, *args: Any, **kwargs: Any) -> Any:
        # str.format comes wrapped by the sandbox; the bound method is behind __wrapped__
        target = getattr(obj, "__wrapped__", obj)
        owner = getattr(target, "__self__", None)
        if isinstance(owner, str):
            _check_str_method(getattr(target, "__name__", ""), owner, args, kwargs)
        for value in (*args, *kwargs.values()):
            _check_int(value)
        weight = 1
        if isinstance(obj, Macro):
            weight = 2  # its body pays for itself; the call is what recursion multiplies
        _charge(weight)
        result = super().call(context, obj, *args, **kwargs)
        _charge(0, _size(result) or 0)
        return result
