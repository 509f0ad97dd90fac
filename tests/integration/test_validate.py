"""`portcullis validate -c FILE` on the mistakes a school admin made (issue
#13): an allow rule moved above the blocklist, a size without a unit or
without quotes, a method in lower case. Each must come out as
`file:line:col: warning|error: ...` naming the fix; the shipped configs stay
silent.
"""
import os
import re
import shutil
import subprocess

import pytest

from harness import BIN, SOURCE_DIR

EXAMPLES = os.path.join(SOURCE_DIR, "etc", "examples")


def validate(path, *extra):
    proc = subprocess.run([BIN, "validate", "-c", str(path)] + list(extra),
                          capture_output=True, timeout=30)
    return proc.returncode, proc.stdout.decode() + proc.stderr.decode()


def line_of(text, needle):
    """1-based line of the first line containing `needle`."""
    return next(i + 1 for i, l in enumerate(text.split("\n")) if needle in l)


def school_copy(tmp_path, edit):
    shutil.copy(os.path.join(EXAMPLES, "blocklist.txt"), tmp_path / "blocklist.txt")
    text = edit(open(os.path.join(EXAMPLES, "school.toml")).read())
    path = tmp_path / "school.toml"
    path.write_text(text)
    return path, text


BLOCKLIST_RULE = '[[rule]]\nname = "blocklist"\ndeny = { to = "blocked" }\n\n'


def blocklist_last(text):
    assert BLOCKLIST_RULE in text
    return text.replace(BLOCKLIST_RULE, "") + "\n" + BLOCKLIST_RULE


def test_blocklist_below_an_allow_is_warned_with_both_lines(tmp_path):
    path, text = school_copy(tmp_path, blocklist_last)
    rc, out = validate(path)
    assert rc == 0, out  # a warning, not an error: the file is valid TOML and ACL
    deny = line_of(text, 'name = "blocklist"') - 1      # the [[rule]] header
    allow = line_of(text, 'name = "classrooms-web"') - 1
    expected = ("%s:%d:1: warning: rule 'blocklist' (%s:%d) denies requests that rule "
                "'classrooms-web' (%s:%d) comes first and allows (from 'classrooms' to "
                "'blocked')" % (path, deny, path, deny, path, allow))
    assert expected in out, out
    assert "move 'blocklist' above 'classrooms-web'" in out, out
    rc, out = validate(path, "--strict")
    assert rc == 1, out


def test_the_shipped_school_order_gives_no_warning(tmp_path):
    path, _ = school_copy(tmp_path, lambda t: t)
    rc, out = validate(path)
    assert rc == 0, out
    assert "warning" not in out, out


@pytest.mark.parametrize("path", [os.path.join(SOURCE_DIR, "etc", "portcullis.toml")]
                         + sorted(os.path.join(EXAMPLES, f) for f in os.listdir(EXAMPLES)
                                  if f.endswith(".toml")), ids=os.path.basename)
def test_shipped_configs_validate_without_warnings(path):
    rc, out = validate(path, "--strict")
    assert rc == 0, out
    assert "warning" not in out and "error" not in out, out


@pytest.mark.parametrize("old, new, severity, message", [
    ('max_size = "200 GiB"', "max_size = 200", "error",
     "'max_size' = 200: size needs a unit: write \"200 GiB\" (or \"200 B\" for bytes)"),
    ('max_size = "200 GiB"', "max_size = 200 GiB", "error",
     "invalid TOML while parsing key-value pair: expected a comment or whitespace, saw 'G'; "
     "sizes and durations are strings: max_size = \"200 GiB\""),
    ('header_timeout = "10s"', "header_timeout = 10s", "error",
     "sizes and durations are strings: header_timeout = \"10s\""),
    ('ports = [80, 443] }', 'ports = [80, 443], methods = ["get"] }', "warning",
     "method 'get' can never match: methods are case-sensitive and clients send them in "
     "capitals; write \"GET\""),
])
def test_validate_names_the_fix_at_the_value(tmp_path, old, new, severity, message):
    path, text = school_copy(tmp_path, lambda t: t.replace(old, new, 1))
    assert new in text
    rc, out = validate(path)
    assert rc == (1 if severity == "error" else 0), out
    line = line_of(text, new)
    m = re.search(re.escape(str(path)) + r":(\d+):(\d+): " + severity + ": .*" + re.escape(message), out)
    assert m, out
    assert int(m.group(1)) == line, out
    assert int(m.group(2)) > 1, out  # at the value, not at the [section] header
