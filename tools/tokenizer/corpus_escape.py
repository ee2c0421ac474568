"""The one-line escaping of the tokenizer corpus and reference files
(tests/tokenizer/data): make_fixtures.py writes with escape(), the tests,
tools and benchmarks read with unescape(). No dependencies, so anything may
import it."""


def escape(s):
    """One-line, reversible escaping: backslash, newline, CR, tab, NUL and
    other C0 controls become \\xNN-style escapes (\\\\, \\n ...)."""
    out = []
    for ch in s:
        o = ord(ch)
        if ch == "\\":
            out.append("\\\\")
        elif o < 0x20 or o == 0x7F:
            out.append("\\x%02x" % o)
        else:
            out.append(ch)
    return "".join(out)


def unescape(s):
    """The inverse of escape()."""
    out, i = [], 0
    while i < len(s):
        if s[i] == "\\" and s[i + 1] == "\\":
            out.append("\\")
            i += 2
        elif s[i] == "\\" and s[i + 1] == "x":
            out.append(chr(int(s[i + 2:i + 4], 16)))
            i += 4
        else:
            out.append(s[i])
            i += 1
    return "".join(out)
