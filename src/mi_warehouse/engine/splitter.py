"""Split a HiveQL script into statements.

A semicolon ends a statement only outside quotes and comments. HiveQL strings take single or
double quotes with backslash escapes; identifiers take backticks (a doubled backtick is a literal
one); comments are `-- ...` to the end of the line and `/* ... */`. Comments are dropped from the
statements (HiveServer2 versions differ in what they accept) and each statement keeps the line on
which it starts, so that errors can point at it.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import SqlSplitError


@dataclass(frozen=True)
class Statement:
    number: int  # 1-based position in the script
    line: int  # 1-based line where the statement's first token stands
    sql: str


def split_statements(script: str, source: str = "<script>") -> list[Statement]:
    statements: list[Statement] = []
    buf: list[str] = []
    start_line: int | None = None
    line = 1
    i, n = 0, len(script)

    def flush() -> None:
        nonlocal buf, start_line
        text = "".join(buf).strip()
        if text:
            statements.append(Statement(len(statements) + 1, start_line or line, text))
        buf, start_line = [], None

    while i < n:
        c = script[i]
        if c == "-" and script.startswith("--", i):
            end = script.find("\n", i)
            i = n if end < 0 else end  # keep the newline itself
            continue
        if c == "/" and script.startswith("/*", i):
            end = script.find("*/", i + 2)
            if end < 0:
                raise SqlSplitError(f"{source}: line {line}: unterminated /* comment")
            comment = script[i : end + 2]
            newlines = comment.count("\n")
            line += newlines
            buf.append("\n" * newlines if newlines else " ")
            i = end + 2
            continue
        if c in "'\"`":
            j = _end_of_quoted(script, i, c)
            if j < 0:
                what = "identifier" if c == "`" else "string"
                raise SqlSplitError(f"{source}: line {line}: unterminated {what} starting with {c}")
            if start_line is None:
                start_line = line
            token = script[i:j]
            buf.append(token)
            line += token.count("\n")
            i = j
            continue
        if c == ";":
            flush()
            i += 1
            continue
        if c == "\n":
            line += 1
        elif start_line is None and not c.isspace():
            start_line = line
        buf.append(c)
        i += 1
    flush()
    return statements


def _end_of_quoted(s: str, i: int, quote: str) -> int:
    """Index just past the closing quote of the token opening at s[i], or -1."""
    j, n = i + 1, len(s)
    while j < n:
        c = s[j]
        if quote != "`" and c == "\\":
            j += 2
            continue
        if c == quote:
            if quote == "`" and j + 1 < n and s[j + 1] == "`":
                j += 2
                continue
            return j + 1
        j += 1
    return -1


def single_statement(sql: str, origin: str, what: str = "a model") -> str:
    """The one statement of `sql`, without comments or a trailing semicolon.

    Raises SqlSplitError when `sql` does not split, or when it holds another number of statements
    ("<origin>: <what> renders to one SELECT statement, found N"); callers re-raise it as their own.
    """
    stmts = split_statements(sql, origin)
    if len(stmts) != 1:
        raise SqlSplitError(f"{origin}: {what} renders to one SELECT statement, found {len(stmts)}")
    return stmts[0].sql
