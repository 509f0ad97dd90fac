"""The README and the man pages cannot drift from the config schema or the CLI."""
import os
import re
import subprocess

from harness import BIN, SOURCE_DIR


def run(*args):
    r = subprocess.run([BIN] + list(args), capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    return r.stdout


def schema_keys(markdown, row_says=None):
    """Every `key` of every [section] table in the generated reference, as section.key
    (only the rows containing `row_says`, when given)."""
    keys = []
    section = None
    for line in markdown.splitlines():
        m = re.match(r"^### \[\[?([a-z_.<>]+)\]?\]", line)
        if m:
            section = m.group(1)
            continue
        m = re.match(r"^\| `([^`]+)` \|", line)
        if m and section and (row_says is None or row_says in line):
            keys.append(section + "." + m.group(1))
    return keys


def test_readme_reference_is_the_generated_one():
    with open(os.path.join(SOURCE_DIR, "README.md")) as f:
        readme = f.read()
    begin = readme.index("<!-- config-reference:begin -->\n") + len("<!-- config-reference:begin -->\n")
    end = readme.index("<!-- config-reference:end -->")
    assert readme[begin:end] == run("config-reference", "--format=markdown"), \
        "README reference is stale: paste `portcullis config-reference` between the markers"


def test_man_page_source_names_every_key():
    markdown = run("config-reference", "--format=markdown")
    roff = run("config-reference", "--format=roff")
    keys = schema_keys(markdown)
    assert len(keys) > 50
    for key in keys:
        leaf = key.rsplit(".", 1)[1]
        assert leaf.replace("-", "\\-") in roff or leaf in roff, key


def test_portcullis_8_lists_every_subcommand():
    with open(os.path.join(SOURCE_DIR, "packaging", "man", "portcullis.8")) as f:
        page = f.read()
    for sub in ("run", "validate", "explain", "status", "unblock", "audit", "cache"):
        assert re.search(r"\b%s\b" % sub, page), sub
        r = subprocess.run([BIN, sub, "--help"], capture_output=True, text=True, timeout=30)
        assert r.returncode == 0 and "Usage" in r.stdout + r.stderr, sub


def test_version_names_the_release():
    out = run("--version")
    assert out.startswith("portcullis ")


def test_readme_reload_section_lists_exactly_the_restart_only_keys():
    """The list in "What a reload applies" is the schema's: every key whose
    generated reference row says *Restart only.*, and no other."""
    marked = schema_keys(run("config-reference", "--format=markdown"), "*Restart only.*")
    with open(os.path.join(SOURCE_DIR, "README.md")) as f:
        readme = f.read()
    begin = readme.index("<!-- restart-only:begin -->") + len("<!-- restart-only:begin -->")
    listed = re.findall(r"`([a-z_.]+)`", readme[begin:readme.index("<!-- restart-only:end -->")])
    assert len(marked) > 10
    assert listed == marked, "README reload section: list exactly %s" % ", ".join(marked)
