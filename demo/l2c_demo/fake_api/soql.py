"""A small SOQL parser and evaluator for the fake Salesforce API.

Supported (what the dlt source issues, and a little more):

    SELECT field, Rel.field, (SELECT field FROM ChildRelationship [WHERE ...]
           [ORDER BY ...] [LIMIT n]) FROM Object
    [WHERE predicate [AND predicate ...]] [ORDER BY field [ASC|DESC] [NULLS FIRST|LAST], ...]
    [LIMIT n]

predicate: `field op literal` (op = != <> < <= > >=) or `field [NOT] IN (literal, ...)`;
literals: 'text', numbers, TRUE/FALSE/NULL, dates (2025-01-31) and datetimes
(2025-01-31T10:00:00Z, offsets and fractions allowed). Anything else (OR, functions, GROUP BY,
semi-joins ...) is rejected with MALFORMED_QUERY, as Salesforce rejects what it cannot parse.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from functools import lru_cache
from typing import Any


class SoqlError(Exception):
    """A query Salesforce would refuse: (errorCode, message), answered with HTTP 400."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


_TOKEN = re.compile(
    r"""\s*(?:
        (?P<datetime>\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:?\d{2}))
      | (?P<date>\d{4}-\d{2}-\d{2})(?![\dT])
      | (?P<number>-?\d+(?:\.\d+)?)
      | (?P<string>'(?:[^'\\]|\\.)*')
      | (?P<op><=|>=|!=|<>|=|<|>)
      | (?P<punct>[(),])
      | (?P<ident>[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)
    )""",
    re.VERBOSE,
)
KEYWORDS = {
    "SELECT",
    "FROM",
    "WHERE",
    "AND",
    "OR",
    "NOT",
    "IN",
    "ORDER",
    "BY",
    "ASC",
    "DESC",
    "NULLS",
    "FIRST",
    "LAST",
    "LIMIT",
    "OFFSET",
    "GROUP",
    "HAVING",
    "TRUE",
    "FALSE",
    "NULL",
}


@dataclass(frozen=True)
class Token:
    kind: str  # datetime | date | number | string | op | punct | ident | keyword
    text: str


def tokenize(text: str) -> list[Token]:
    tokens: list[Token] = []
    pos = 0
    text = text.rstrip()
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if match is None or match.end() == pos:
            snippet = text[pos : pos + 20].strip()
            raise SoqlError("MALFORMED_QUERY", f"unexpected token: '{snippet}'")
        kind = match.lastgroup or ""
        value = match.group(kind)
        if kind == "ident" and value.upper() in KEYWORDS:
            tokens.append(Token("keyword", value.upper()))
        else:
            tokens.append(Token(kind, value))
        pos = match.end()
    return tokens


@dataclass(frozen=True)
class Literal:
    kind: str  # datetime | date | number | string | bool | null
    value: Any


@dataclass(frozen=True)
class Predicate:
    field: str
    op: str  # = != < <= > >= IN NOT IN
    values: tuple[Literal, ...]


@dataclass(frozen=True)
class OrderItem:
    field: str
    descending: bool = False
    nulls_last: bool | None = None


@dataclass
class Query:
    sobject: str
    fields: list[str] = field(default_factory=list)
    subqueries: list[Query] = field(default_factory=list)
    where: list[Predicate] = field(default_factory=list)
    order_by: list[OrderItem] = field(default_factory=list)
    limit: int | None = None


class _Parser:
    def __init__(self, tokens: list[Token]) -> None:
        self.tokens = tokens
        self.pos = 0

    def peek(self) -> Token | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def take(self) -> Token:
        token = self.peek()
        if token is None:
            raise SoqlError("MALFORMED_QUERY", "unexpected end of query")
        self.pos += 1
        return token

    def keyword(self, word: str) -> bool:
        token = self.peek()
        if token is not None and token.kind == "keyword" and token.text == word:
            self.pos += 1
            return True
        return False

    def expect_keyword(self, word: str) -> None:
        if not self.keyword(word):
            found = self.peek()
            raise SoqlError(
                "MALFORMED_QUERY",
                f"expecting '{word}', found '{found.text if found else 'end of query'}'",
            )

    def punct(self, char: str) -> bool:
        token = self.peek()
        if token is not None and token.kind == "punct" and token.text == char:
            self.pos += 1
            return True
        return False

    def ident(self, object_name: bool = False) -> str:
        token = self.take()
        if object_name and token.kind == "keyword" and token.text in ("ORDER", "GROUP"):
            return token.text.title()  # FROM Order / FROM Group name objects, not clauses
        if token.kind != "ident":
            raise SoqlError("MALFORMED_QUERY", f"unexpected token: '{token.text}'")
        return token.text

    def query(self, nested: bool = False) -> Query:
        self.expect_keyword("SELECT")
        fields: list[str] = []
        subqueries: list[Query] = []
        while True:
            if self.punct("("):
                if nested:
                    raise SoqlError("MALFORMED_QUERY", "nested subqueries are not supported")
                subqueries.append(self.query(nested=True))
                if not self.punct(")"):
                    raise SoqlError("MALFORMED_QUERY", "expecting ')' after the subquery")
            else:
                fields.append(self.ident())
            if not self.punct(","):
                break
        self.expect_keyword("FROM")
        query = Query(self.ident(object_name=True), fields, subqueries)
        if self.keyword("WHERE"):
            query.where.append(self.predicate())
            while self.keyword("AND"):
                query.where.append(self.predicate())
            if self.keyword("OR"):
                raise SoqlError("MALFORMED_QUERY", "OR is not supported by this server")
        if self.keyword("ORDER"):
            self.expect_keyword("BY")
            query.order_by.append(self.order_item())
            while self.punct(","):
                query.order_by.append(self.order_item())
        if self.keyword("LIMIT"):
            token = self.take()
            if token.kind != "number" or not token.text.isdigit():
                raise SoqlError("MALFORMED_QUERY", f"LIMIT expects an integer: '{token.text}'")
            query.limit = int(token.text)
        token = self.peek()
        if token is not None and not (nested and token.kind == "punct" and token.text == ")"):
            raise SoqlError("MALFORMED_QUERY", f"unexpected token: '{token.text}'")
        return query

    def predicate(self) -> Predicate:
        name = self.ident()
        negate = self.keyword("NOT")
        if self.keyword("IN"):
            if not self.punct("("):
                raise SoqlError("MALFORMED_QUERY", "expecting '(' after IN")
            values = [self.literal()]
            while self.punct(","):
                values.append(self.literal())
            if not self.punct(")"):
                raise SoqlError("MALFORMED_QUERY", "expecting ')' to close IN")
            return Predicate(name, "NOT IN" if negate else "IN", tuple(values))
        if negate:
            raise SoqlError("MALFORMED_QUERY", "expecting IN after NOT")
        token = self.take()
        if token.kind != "op":
            raise SoqlError("MALFORMED_QUERY", f"expecting an operator, found '{token.text}'")
        op = "!=" if token.text == "<>" else token.text
        return Predicate(name, op, (self.literal(),))

    def literal(self) -> Literal:
        token = self.take()
        if token.kind == "string":
            return Literal("string", re.sub(r"\\(.)", r"\1", token.text[1:-1]))
        if token.kind == "number":
            return Literal("number", float(token.text))
        if token.kind == "datetime":
            return Literal("datetime", parse_datetime(token.text))
        if token.kind == "date":
            return Literal("date", token.text)
        if token.kind == "keyword" and token.text in ("TRUE", "FALSE"):
            return Literal("bool", token.text == "TRUE")
        if token.kind == "keyword" and token.text == "NULL":
            return Literal("null", None)
        raise SoqlError("MALFORMED_QUERY", f"unexpected token: '{token.text}'")

    def order_item(self) -> OrderItem:
        name = self.ident()
        descending = False
        if self.keyword("DESC"):
            descending = True
        else:
            self.keyword("ASC")
        nulls_last: bool | None = None
        if self.keyword("NULLS"):
            if self.keyword("LAST"):
                nulls_last = True
            else:
                self.expect_keyword("FIRST")
                nulls_last = False
        return OrderItem(name, descending, nulls_last)


def parse(text: str) -> Query:
    if not text or not text.strip():
        raise SoqlError("MALFORMED_QUERY", "query is empty")
    return _Parser(tokenize(text)).query()


@lru_cache(maxsize=200_000)
def parse_datetime(text: str) -> float:
    """Salesforce dateTime text (record value or SOQL literal) -> unix seconds."""
    cleaned = text.replace("Z", "+00:00")
    cleaned = re.sub(r"([+-]\d{2})(\d{2})$", r"\1:\2", cleaned)
    moment = datetime.fromisoformat(cleaned)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.timestamp()


def _comparable(value: Any, literal: Literal) -> Any:
    """The record value in the literal's domain, or raise INVALID_FIELD on a type mismatch."""
    if value is None:
        return None
    if literal.kind == "datetime":
        if not isinstance(value, str):
            raise SoqlError("INVALID_FIELD", "value of filter criterion must be of type dateTime")
        try:
            return parse_datetime(value)
        except ValueError as exc:
            raise SoqlError("INVALID_FIELD", f"not a dateTime field value: {value!r}") from exc
    if literal.kind == "number" and isinstance(value, bool):
        raise SoqlError("INVALID_FIELD", "value of filter criterion must be of type boolean")
    return value


def matches(value: Any, predicate: Predicate) -> bool:
    """Whether a record value satisfies the predicate (SQL-like: null matches only = null)."""
    if predicate.op in ("IN", "NOT IN"):
        values = {lit.value for lit in predicate.values}
        found = value in values
        return found if predicate.op == "IN" else (value is not None and not found)
    literal = predicate.values[0]
    if literal.kind == "null":
        if predicate.op not in ("=", "!="):
            raise SoqlError("MALFORMED_QUERY", "null can only be compared with = or !=")
        return (value is None) == (predicate.op == "=")
    left = _comparable(value, literal)
    right = literal.value
    if predicate.op == "=":
        return left == right
    if predicate.op == "!=":
        return left != right
    if left is None:
        return False
    try:
        if predicate.op == "<":
            return bool(left < right)
        if predicate.op == "<=":
            return bool(left <= right)
        if predicate.op == ">":
            return bool(left > right)
        return bool(left >= right)
    except TypeError as exc:
        raise SoqlError("INVALID_FIELD", f"cannot compare {value!r} with {right!r}") from exc
