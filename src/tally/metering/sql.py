"""SQL billable metrics (SPEC §2.6): the accepted subset, its meaning, and the pure reference evaluator.

A metric's `sql` is parsed once with sqlglot and checked against an allow-list of node types and functions;
anything else is refused naming the construct. The checked tree is what the stores translate
(`tally.usage.sql_metrics`) and what `evaluate` interprets here, in Python, as the oracle the tests compare
every store against.

The subset (Metronome's documented one):
- `SELECT <columns> FROM events [WHERE <condition>] [GROUP BY <items>]`; no joins, subqueries, HAVING,
  ORDER BY, LIMIT, DISTINCT, window functions or CTEs.
- Columns `event_type`, `timestamp` and `properties.<name>`; properties are strings (or NULL when absent),
  so numbers come from `CAST(properties.x AS INT|DECIMAL|...)`.
- Aggregations COUNT(*), COUNT(x), COUNT(DISTINCT x), SUM, MIN, MAX, AVG, EARLIEST, LATEST;
  `+ - * /`, `= != < <= > >=`, LEAST, GREATEST, ROUND, CEIL, FLOOR; AND, OR, NOT, CASE WHEN, IS [NOT] NULL,
  [NOT] IN; DATE_TRUNC('hour'|'day', timestamp); CAST to a numeric type.
- The quantity is the column named `value`, else the first column; it must aggregate. Every other column is
  a group key: it must be named (a property's name, `event_type`, or `AS name`) and appear in GROUP BY.

Semantics tally fixes where the documentation is silent (docs/decisions.md), identical on every store:
- Every number is an exact decimal. CAST of a string that is not a plain decimal number (tally's quantity
  grammar) is NULL; CAST to an integer type truncates toward zero.
- `a / b` is exact to 20 decimal places, rounded half away from zero; division by zero is NULL. AVG is
  SUM/COUNT with that division. ROUND(x, n) (0 <= n <= 20) rounds half away from zero.
- `<`, `>`, `<=`, `>=`, MIN, MAX, SUM and AVG take numbers only; strings compare with `=`, `!=` and IN
  (code point equality; ordering strings would depend on a database's collation).
- EARLIEST/LATEST return the value (ignoring NULLs) of the event with the least/greatest
  (timestamp, transaction id), the same tie-break as streaming LATEST.
- LEAST/GREATEST ignore NULLs (PostgreSQL's rule). Comparisons with NULL are unknown (three-valued logic).
- The result rows are grouped by the GROUP BY items within each window; a window without a row has usage 0.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import ROUND_CEILING, ROUND_DOWN, ROUND_FLOOR, ROUND_HALF_UP, Context, Decimal, InvalidOperation
from typing import Any

import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError

from tally.metering.metric import EventLike
from tally.metering.values import CONTEXT, string_form

MAX_SQL_LENGTH = 10_000
DIV_PLACES = 20
_DIV_CONTEXT = Context(prec=200, rounding=ROUND_HALF_UP, Emax=999_999, Emin=-999_999)
_QUANT = Decimal(1).scaleb(-DIV_PLACES)
_NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d{1,3})?$")
NUMBER_PATTERN = _NUMBER.pattern

INT_TYPES = {"INT", "BIGINT", "SMALLINT", "TINYINT", "MEDIUMINT", "UINT", "UBIGINT"}
NUM_TYPES = INT_TYPES | {"DECIMAL", "DOUBLE", "FLOAT", "BIGDECIMAL", "DECIMAL128", "DECIMAL256"}
AGGREGATES = (exp.Count, exp.Sum, exp.Min, exp.Max, exp.Avg)
ORDERED_AGGREGATES = ("EARLIEST", "LATEST")


class SqlMetricError(ValueError):
    """The query is outside the accepted subset; the message names the construct."""


# Kinds of values: "num" (exact decimal), "str", "ts" (instant), "bool", "null" (the NULL literal).
Kind = str


@dataclass(frozen=True, eq=False)
class SqlMetric:
    text: str
    tree: exp.Select
    value: exp.Expression
    columns: tuple[tuple[str, exp.Expression], ...]  # group columns: (name, expression)
    group_by: tuple[exp.Expression, ...]
    where: exp.Expression | None
    properties: tuple[str, ...]  # every property the query reads
    kinds: dict[int, Kind] = field(repr=False)

    @property
    def group_names(self) -> tuple[str, ...]:
        return tuple(n for n, _ in self.columns)

    def kind(self, node: exp.Expression) -> Kind:
        return self.kinds[id(node)]


def _name(node: exp.Expression) -> str:
    text = node.sql()
    return text if len(text) <= 60 else text[:57] + "..."


def _construct(node: exp.Expression) -> str:
    if isinstance(node, exp.Anonymous):
        return f"the function {str(node.this).upper()}"
    if isinstance(node, exp.Func):
        return f"the function {node.sql_name()}"
    return f"{type(node).__name__} ({_name(node)})"


def _unsupported(node: exp.Expression) -> SqlMetricError:
    return SqlMetricError(f"sql: {_construct(node)} is not supported in SQL billable metrics")


def is_aggregate(node: exp.Expression) -> bool:
    return isinstance(node, AGGREGATES) or (
        isinstance(node, exp.Anonymous) and str(node.this).upper() in ORDERED_AGGREGATES
    )


def _contains_aggregate(node: exp.Expression) -> bool:
    return any(isinstance(n, exp.Expression) and is_aggregate(n) for n in node.walk())


class _Checker:
    def __init__(self) -> None:
        self.kinds: dict[int, Kind] = {}
        self.properties: set[str] = set()

    def check(self, node: exp.Expression, in_agg: bool = False) -> Kind:
        kind = self._check(node, in_agg)
        self.kinds[id(node)] = kind
        return kind

    def _same(self, a: exp.Expression, b: exp.Expression, in_agg: bool, allowed: set[str]) -> Kind:
        ka, kb = self.check(a, in_agg), self.check(b, in_agg)
        for k, n in ((ka, a), (kb, b)):
            if k != "null" and k not in allowed:
                raise _wrong_kind(n, k, allowed)
        if "null" not in (ka, kb) and ka != kb:
            raise SqlMetricError(
                f"sql: {_name(a)} and {_name(b)} have different types; CAST(properties.<name> AS DECIMAL) "
                "turns a property into a number"
            )
        return kb if ka == "null" else ka

    def _expect(self, node: exp.Expression, in_agg: bool, allowed: set[str]) -> Kind:
        k = self.check(node, in_agg)
        if k != "null" and k not in allowed:
            raise _wrong_kind(node, k, allowed)
        return k

    def _check(self, node: exp.Expression, in_agg: bool) -> Kind:
        if isinstance(node, exp.Paren):
            return self.check(node.this, in_agg)
        if isinstance(node, exp.Column):
            table = node.table
            if table == "":
                name = node.name.lower()
                if name == "event_type":
                    return "str"
                if name == "timestamp":
                    return "ts"
                raise SqlMetricError(
                    f"sql: unknown column {node.name!r}; use event_type, timestamp or properties.<name>"
                )
            if table.lower() == "properties" and not node.args.get("db"):
                self.properties.add(node.name)
                return "str"
            raise SqlMetricError(
                f"sql: unknown column {_name(node)}; use event_type, timestamp or properties.<name>"
            )
        if isinstance(node, exp.Literal):
            if node.is_string:
                return "str"
            if not _NUMBER.match(node.this):
                raise _unsupported(node)
            return "num"
        if isinstance(node, exp.Null):
            return "null"
        if isinstance(node, exp.Boolean):
            return "bool"
        if isinstance(node, exp.Cast):
            target = node.to.this.name if isinstance(node.to, exp.DataType) else ""
            if target not in NUM_TYPES:
                raise SqlMetricError(
                    f"sql: CAST to {node.to.sql()} is not supported; cast properties to a numeric type "
                    "(INT, BIGINT, DECIMAL, DOUBLE, FLOAT)"
                )
            self._expect(node.this, in_agg, {"str", "num"})
            return "num"
        if isinstance(node, exp.Add | exp.Sub | exp.Mul | exp.Div):
            self._same(node.this, node.expression, in_agg, {"num"})
            return "num"
        if isinstance(node, exp.Neg):
            self._expect(node.this, in_agg, {"num"})
            return "num"
        if isinstance(node, exp.EQ | exp.NEQ):
            self._same(node.this, node.expression, in_agg, {"num", "str"})
            return "bool"
        if isinstance(node, exp.GT | exp.GTE | exp.LT | exp.LTE):
            self._same(node.this, node.expression, in_agg, {"num"})
            return "bool"
        if isinstance(node, exp.In):
            if node.args.get("query") or node.args.get("unnest") or node.args.get("field"):
                raise SqlMetricError("sql: IN takes a list of values, not a subquery")
            k = self._expect(node.this, in_agg, {"num", "str"})
            for item in node.expressions:
                k = self._same(node.this, item, in_agg, {"num", "str"}) if k == "null" else k
                self._same(node.this, item, in_agg, {"num", "str"})
            return "bool"
        if isinstance(node, exp.Is):
            if not isinstance(node.expression, exp.Null):
                raise SqlMetricError(f"sql: {_name(node)}: IS compares with NULL only")
            self.check(node.this, in_agg)
            return "bool"
        if isinstance(node, exp.Not):
            self._expect(node.this, in_agg, {"bool"})
            return "bool"
        if isinstance(node, exp.And | exp.Or):
            self._expect(node.this, in_agg, {"bool"})
            self._expect(node.expression, in_agg, {"bool"})
            return "bool"
        if isinstance(node, exp.Case):
            if node.this is not None:
                raise SqlMetricError(
                    "sql: CASE <expression> WHEN is not supported; write CASE WHEN <condition>"
                )
            kind: Kind = "null"
            branches = [i.args["true"] for i in node.args.get("ifs") or []]
            for i in node.args.get("ifs") or []:
                self._expect(i.this, in_agg, {"bool"})
            if node.args.get("default") is not None:
                branches.append(node.args["default"])
            for b in branches:
                k = self._expect(b, in_agg, {"num", "str"})
                if k != "null":
                    if kind not in ("null", k):
                        raise SqlMetricError(f"sql: the branches of {_name(node)} have different types")
                    kind = k
            return kind
        if isinstance(node, exp.Least | exp.Greatest):
            for arg in [node.this, *node.expressions]:
                self._expect(arg, in_agg, {"num"})
            return "num"
        if isinstance(node, exp.Round):
            self._expect(node.this, in_agg, {"num"})
            places = node.args.get("decimals")
            if places is not None and not (
                isinstance(places, exp.Literal)
                and not places.is_string
                and places.this.isdigit()
                and int(places.this) <= DIV_PLACES
            ):
                raise SqlMetricError(f"sql: ROUND takes a whole number of places from 0 to {DIV_PLACES}")
            if places is not None:
                self.kinds[id(places)] = "num"
            return "num"
        if isinstance(node, exp.Ceil | exp.Floor):
            if node.args.get("decimals") is not None or node.args.get("to") is not None:
                raise SqlMetricError(f"sql: {node.sql_name()} takes one argument")
            self._expect(node.this, in_agg, {"num"})
            return "num"
        if isinstance(node, exp.DateTrunc | exp.TimestampTrunc):
            unit = node.args.get("unit")
            unit_name = (unit.name if unit is not None else "").upper()
            if unit_name not in ("HOUR", "DAY"):
                raise SqlMetricError("sql: DATE_TRUNC truncates to 'hour' or 'day' only")
            if not (isinstance(node.this, exp.Column) and self.check(node.this, in_agg) == "ts"):
                raise SqlMetricError("sql: DATE_TRUNC applies to the timestamp column only")
            return "ts"
        if is_aggregate(node):
            if in_agg:
                raise SqlMetricError(f"sql: {_name(node)}: aggregations cannot be nested")
            return self._aggregate(node)
        if isinstance(node, exp.Func):
            raise _unsupported(node)
        raise _unsupported(node)

    def _aggregate(self, node: exp.Expression) -> Kind:
        if isinstance(node, exp.Anonymous):
            if len(node.expressions) != 1:
                raise SqlMetricError(f"sql: {str(node.this).upper()} takes one argument")
            return self._expect(node.expressions[0], True, {"num", "str"})
        if isinstance(node, exp.Count):
            arg = node.this
            if isinstance(arg, exp.Star):
                return "num"
            if isinstance(arg, exp.Distinct):
                if len(arg.expressions) != 1:
                    raise SqlMetricError("sql: COUNT(DISTINCT ...) takes one expression")
                self._expect(arg.expressions[0], True, {"num", "str", "ts"})
                self.kinds[id(arg)] = "num"
                return "num"
            if arg is None:
                raise SqlMetricError("sql: COUNT needs * or an expression")
            self._expect(arg, True, {"num", "str", "ts", "bool"})
            return "num"
        if node.expressions or isinstance(node.this, exp.Distinct):
            raise SqlMetricError(f"sql: {_name(node)}: DISTINCT is supported inside COUNT only")
        self._expect(node.this, True, {"num"})
        return "num"


_KIND_NAMES = {"num": "number", "str": "string", "ts": "timestamp", "bool": "condition", "null": "NULL"}


def _wrong_kind(node: exp.Expression, kind: Kind, allowed: set[str]) -> SqlMetricError:
    hint = " (properties are strings: CAST(properties.<name> AS DECIMAL))" if kind == "str" else ""
    return SqlMetricError(
        f"sql: {_name(node)} is a {_KIND_NAMES[kind]}; here it must be {_allowed(allowed)}{hint}"
    )


def _allowed(kinds: set[str]) -> str:
    return " or ".join(sorted(_KIND_NAMES[k] for k in kinds))


def _column_name(node: exp.Expression) -> str | None:
    if isinstance(node, exp.Alias):
        return node.alias
    if isinstance(node, exp.Column):
        return node.name
    return None


def parse(text: str) -> SqlMetric:
    """Parse and check a SQL billable metric; SqlMetricError names what is outside the subset."""
    if len(text) > MAX_SQL_LENGTH:
        raise SqlMetricError(f"sql: at most {MAX_SQL_LENGTH} characters")
    try:
        statements = sqlglot.parse(text)
    except (ParseError, sqlglot.errors.TokenError) as e:
        raise SqlMetricError(f"sql: cannot parse the query ({str(e).splitlines()[0][:200]})") from None
    statements = [s for s in statements if s is not None]
    if len(statements) != 1:
        raise SqlMetricError("sql: exactly one SELECT statement is expected")
    tree = statements[0]
    if not isinstance(tree, exp.Select):
        raise SqlMetricError(f"sql: {type(tree).__name__} statements are not supported; write one SELECT")
    for key, arg in tree.args.items():
        if arg in (None, [], False) or key in ("expressions", "from_", "where", "group"):
            continue
        label = {"joins": "JOIN", "order": "ORDER BY", "with_": "WITH", "distinct": "SELECT DISTINCT"}.get(
            key, key.upper()
        )
        raise SqlMetricError(f"sql: {label} is not supported in SQL billable metrics")
    source = tree.args.get("from_")
    table = source.this if source is not None else None
    if not (
        isinstance(table, exp.Table)
        and table.name.lower() == "events"
        and not table.args.get("db")
        and not table.args.get("alias")
        and not table.args.get("joins")
    ):
        raise SqlMetricError("sql: the query must read FROM events (no alias, join or subquery)")
    checker = _Checker()
    items = list(tree.expressions)
    if not items:
        raise SqlMetricError("sql: select at least one column")
    for item in items:
        if isinstance(item, exp.Star):
            raise SqlMetricError("sql: SELECT * is not supported; select the quantity and group columns")
    names = [_column_name(i) for i in items]
    value_at = names.index("value") if "value" in names else 0
    # GROUP BY items: ordinals and aliases resolve to the selected expression.
    aliases = {n: (i.this if isinstance(i, exp.Alias) else i) for n, i in zip(names, items, strict=True) if n}
    group_by: list[exp.Expression] = []
    group = tree.args.get("group")
    for g in group.expressions if group is not None else []:
        if isinstance(g, exp.Literal) and not g.is_string:
            pos = int(g.this) if g.this.isdigit() else 0
            if not 1 <= pos <= len(items):
                raise SqlMetricError(f"sql: GROUP BY {g.this} is not a column position")
            target = items[pos - 1]
            g = target.this if isinstance(target, exp.Alias) else target
        elif (
            isinstance(g, exp.Column)
            and not g.table
            and g.name in aliases
            and g.name.lower() not in ("event_type", "timestamp")
        ):
            g = aliases[g.name]
        if _contains_aggregate(g):
            raise SqlMetricError(f"sql: GROUP BY {_name(g)}: aggregations cannot be grouped by")
        kind = checker.check(g)
        if kind not in ("str", "num", "ts"):
            raise SqlMetricError(f"sql: GROUP BY {_name(g)}: group by a string, number or timestamp")
        group_by.append(g)
    value_item = items[value_at]
    value = value_item.this if isinstance(value_item, exp.Alias) else value_item
    if checker.check(value) not in ("num", "null") or not _contains_aggregate(value):
        raise SqlMetricError(
            f"sql: the quantity column {_name(value)} must aggregate events into a number "
            "(COUNT, SUM, MIN, MAX, AVG, EARLIEST, LATEST or COUNT(DISTINCT ...))"
        )
    _no_bare_columns(value)
    columns: list[tuple[str, exp.Expression]] = []
    for i, (name, item) in enumerate(zip(names, items, strict=True)):
        if i == value_at:
            continue
        expr = item.this if isinstance(item, exp.Alias) else item
        if name is None:
            raise SqlMetricError(f"sql: name the column {_name(expr)} with AS <name>; it is a group key")
        if name == "value" or name in {n for n, _ in columns}:
            raise SqlMetricError(f"sql: the column name {name!r} is used twice")
        if _contains_aggregate(expr):
            raise SqlMetricError(
                f"sql: {_name(expr)}: only the quantity column may aggregate; other columns are group keys"
            )
        kind = checker.check(expr)
        if kind not in ("str", "num", "ts"):
            raise SqlMetricError(f"sql: the group column {name!r} must be a string, number or timestamp")
        if not any(expr == g for g in group_by):
            raise SqlMetricError(f"sql: the column {name!r} must appear in GROUP BY")
        columns.append((name, expr))
    where = tree.args.get("where")
    condition = where.this if where is not None else None
    if condition is not None:
        if _contains_aggregate(condition):
            raise SqlMetricError("sql: WHERE cannot use aggregations")
        checker._expect(condition, False, {"bool"})
    return SqlMetric(
        text=text,
        tree=tree,
        value=value,
        columns=tuple(columns),
        group_by=tuple(group_by),
        where=condition,
        properties=tuple(sorted(checker.properties)),
        kinds=checker.kinds,
    )


def _no_bare_columns(node: exp.Expression) -> None:
    """Outside an aggregation, the quantity may only combine aggregates and constants."""
    if is_aggregate(node):
        return
    if isinstance(node, exp.Column):
        raise SqlMetricError(f"sql: the column {_name(node)} in the quantity must be inside an aggregation")
    for child in node.iter_expressions():
        _no_bare_columns(child)


# --- exact value helpers (shared by the evaluator and SQLite's registered functions) -------------------


def canon(d: Decimal) -> str:
    """The one text of a decimal value: no exponent, no trailing zeros (so equal numbers are equal text)."""
    if d == 0:
        return "0"
    return format(d.normalize(CONTEXT), "f")


def to_number(text: str | None) -> Decimal | None:
    if text is None or len(text) > 200 or not _NUMBER.match(text):
        return None
    try:
        return Decimal(text)
    except InvalidOperation:
        return None


def to_integer(d: Decimal | None) -> Decimal | None:
    return None if d is None else d.to_integral_value(ROUND_DOWN)


def divide(a: Decimal | None, b: Decimal | None) -> Decimal | None:
    if a is None or b is None or b == 0:
        return None
    return _DIV_CONTEXT.divide(a, b).quantize(_QUANT, rounding=ROUND_HALF_UP, context=_DIV_CONTEXT)


def round_to(d: Decimal | None, places: int) -> Decimal | None:
    if d is None:
        return None
    return d.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP, context=_DIV_CONTEXT)


def ceil(d: Decimal | None) -> Decimal | None:
    return None if d is None else d.to_integral_value(ROUND_CEILING)


def floor(d: Decimal | None) -> Decimal | None:
    return None if d is None else d.to_integral_value(ROUND_FLOOR)


def truncate(unit: str, ts: datetime) -> datetime:
    ts = ts.astimezone(UTC)
    if unit.upper() == "DAY":
        return ts.replace(hour=0, minute=0, second=0, microsecond=0)
    return ts.replace(minute=0, second=0, microsecond=0)


def format_instant(ts: datetime) -> str:
    """Group values that are instants: RFC 3339 UTC, microseconds only when present."""
    ts = ts.astimezone(UTC)
    base = ts.strftime("%Y-%m-%dT%H:%M:%S")
    return f"{base}.{ts.microsecond:06d}Z" if ts.microsecond else f"{base}Z"


# --- the reference evaluator --------------------------------------------------------------------------


@dataclass(frozen=True)
class ResultRow:
    group: tuple[str | None, ...]  # values of `SqlMetric.columns`, as strings
    value: Decimal | None


def _row_value(m: SqlMetric, node: exp.Expression, ev: EventLike) -> Any:
    if isinstance(node, exp.Paren):
        return _row_value(m, node.this, ev)
    if isinstance(node, exp.Column):
        if node.table:
            return string_form(ev.properties.get(node.name))
        return ev.event_type if node.name.lower() == "event_type" else ev.timestamp
    if isinstance(node, exp.Literal):
        return node.this if node.is_string else Decimal(node.this)
    if isinstance(node, exp.Null):
        return None
    if isinstance(node, exp.Boolean):
        return bool(node.this)
    if isinstance(node, exp.Cast):
        v = _row_value(m, node.this, ev)
        d = v if isinstance(v, Decimal) or v is None else to_number(v)
        return to_integer(d) if node.to.this.name in INT_TYPES else d
    return _operation(node, lambda n: _row_value(m, n, ev))


def _arith(node: exp.Expression, a: Decimal | None, b: Decimal | None) -> Decimal | None:
    if a is None or b is None:
        return None
    if isinstance(node, exp.Add):
        return CONTEXT.add(a, b)
    if isinstance(node, exp.Sub):
        return CONTEXT.subtract(a, b)
    if isinstance(node, exp.Mul):
        return CONTEXT.multiply(a, b)
    return divide(a, b)


def _compare(node: exp.Expression, a: Any, b: Any) -> bool | None:
    if a is None or b is None:
        return None
    if isinstance(node, exp.EQ):
        return bool(a == b)
    if isinstance(node, exp.NEQ):
        return bool(a != b)
    if isinstance(node, exp.GT):
        return bool(a > b)
    if isinstance(node, exp.GTE):
        return bool(a >= b)
    if isinstance(node, exp.LT):
        return bool(a < b)
    return bool(a <= b)


def _in(v: Any, items: list[Any]) -> bool | None:
    if v is None:
        return None
    if any(x is not None and x == v for x in items):
        return True
    return None if any(x is None for x in items) else False


def _junction(decides: bool, a: bool | None, b: Callable[[], bool | None]) -> bool | None:
    """SQL's three-valued AND (`decides` False) or OR (`decides` True): either side equal to `decides`
    settles it (`b` is not evaluated when `a` does); otherwise NULL if either side is NULL."""
    if a is decides:
        return decides
    bv = b()
    if bv is decides:
        return decides
    return None if a is None or bv is None else not decides


def _operation(node: exp.Expression, value: Callable[[exp.Expression], Any]) -> Any:
    """An arithmetic, comparison, logical, CASE or scalar-function node, its operands valued by `value`
    (one event's values, or a group's aggregates)."""
    if isinstance(node, exp.Add | exp.Sub | exp.Mul | exp.Div):
        return _arith(node, value(node.this), value(node.expression))
    if isinstance(node, exp.Neg):
        v = value(node.this)
        return None if v is None else -v
    if isinstance(node, exp.EQ | exp.NEQ | exp.GT | exp.GTE | exp.LT | exp.LTE):
        return _compare(node, value(node.this), value(node.expression))
    if isinstance(node, exp.In):
        v = value(node.this)
        return _in(v, [value(x) for x in node.expressions])
    if isinstance(node, exp.Is):
        return value(node.this) is None
    if isinstance(node, exp.Not):
        v = value(node.this)
        return None if v is None else not v
    if isinstance(node, exp.And | exp.Or):
        return _junction(isinstance(node, exp.Or), value(node.this), lambda: value(node.expression))
    if isinstance(node, exp.Case):
        for i in node.args.get("ifs") or []:
            if value(i.this) is True:
                return value(i.args["true"])
        default = node.args.get("default")
        return None if default is None else value(default)
    return _scalar_func(node, value)


def _scalar_func(node: exp.Expression, value: Callable[[exp.Expression], Any]) -> Any:
    if isinstance(node, exp.Least | exp.Greatest):
        vals = [v for v in (value(x) for x in [node.this, *node.expressions]) if v is not None]
        if not vals:
            return None
        return min(vals) if isinstance(node, exp.Least) else max(vals)
    if isinstance(node, exp.Round):
        places = node.args.get("decimals")
        return round_to(value(node.this), int(places.this) if places is not None else 0)
    if isinstance(node, exp.Ceil):
        return ceil(value(node.this))
    if isinstance(node, exp.Floor):
        return floor(value(node.this))
    if isinstance(node, exp.DateTrunc | exp.TimestampTrunc):
        return truncate(node.args["unit"].name, value(node.this))
    raise _unsupported(node)


def _group_value(v: Any) -> str | None:
    if v is None:
        return None
    if isinstance(v, Decimal):
        return canon(v)
    if isinstance(v, datetime):
        return format_instant(v)
    return str(v)


def _aggregate_value(m: SqlMetric, node: exp.Expression, rows: Sequence[EventLike]) -> Any:
    """Value of a quantity expression over one group's rows."""
    if is_aggregate(node):
        return _aggregate(m, node, rows)
    if isinstance(node, exp.Paren):
        return _aggregate_value(m, node.this, rows)
    if isinstance(node, exp.Literal | exp.Null | exp.Boolean):
        return _row_value(m, node, rows[0])
    if isinstance(node, exp.Cast):
        v = _aggregate_value(m, node.this, rows)
        return to_integer(v) if node.to.this.name in INT_TYPES else v
    return _operation(node, lambda n: _aggregate_value(m, n, rows))


def _aggregate(m: SqlMetric, node: exp.Expression, rows: Sequence[EventLike]) -> Any:
    if isinstance(node, exp.Count):
        arg = node.this
        if isinstance(arg, exp.Star):
            return Decimal(len(rows))
        if isinstance(arg, exp.Distinct):
            inner = arg.expressions[0]
            seen = {v for r in rows if (v := _row_value(m, inner, r)) is not None}
            return Decimal(len(seen))
        return Decimal(sum(1 for r in rows if _row_value(m, arg, r) is not None))
    if isinstance(node, exp.Anonymous):
        inner = node.expressions[0]
        points = [
            ((r.timestamp, r.transaction_id), v) for r in rows if (v := _row_value(m, inner, r)) is not None
        ]
        if not points:
            return None
        pick = min if str(node.this).upper() == "EARLIEST" else max
        return pick(points, key=lambda p: p[0])[1]
    values = [v for r in rows if (v := _row_value(m, node.this, r)) is not None]
    if not values:
        return None
    if isinstance(node, exp.Min):
        return min(values)
    if isinstance(node, exp.Max):
        return max(values)
    total = Decimal(0)
    for v in values:
        total = CONTEXT.add(total, v)
    if isinstance(node, exp.Sum):
        return total
    return divide(total, Decimal(len(values)))


def evaluate(m: SqlMetric, events: Iterable[EventLike]) -> list[ResultRow]:
    """The query's rows over `events` (already scoped to one customer and window by the caller).

    No events pass WHERE: no rows (a window without a row has usage 0). Rows are in group order."""
    groups: dict[tuple[Any, ...], list[EventLike]] = {}
    for ev in events:
        if m.where is not None and _row_value(m, m.where, ev) is not True:
            continue
        key = tuple(_row_value(m, g, ev) for g in m.group_by)
        groups.setdefault(key, []).append(ev)
    out = []
    for rows in groups.values():
        value = _aggregate_value(m, m.value, rows)
        out.append(ResultRow(tuple(_group_value(_row_value(m, e, rows[0])) for _, e in m.columns), value))
    out.sort(key=lambda r: tuple((0, "") if v is None else (1, v) for v in r.group))
    return out
