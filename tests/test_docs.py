"""The docs say what the code does: the README's CLI reference lists exactly the flags of `sentiscore
--help`, no page names a flag that does not exist, links lead to files, docs/performance.md is what
bench.performance makes of bench/results/, and the README stays a page a newcomer reads."""

import argparse
import re

import pytest

from bench import performance
from sentiscore.cli import build_parser
from tests.conftest import REPO

PAGES = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md")), REPO / "deploy" / "README.md"]
FLAG = re.compile(r"(?<![\w-])--[a-z][a-z0-9-]*")
# flags of other tools that the pages show (pip, pytest, make bench's modules are checked below)
OTHER_TOOLS = {"--help", "--now", "--no-deps", "--durations", "--address", "--head", "--opt_out", "--man"}


def subcommands() -> dict[str, argparse.ArgumentParser]:
    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return {"": parser, **sub.choices}


def options(parser: argparse.ArgumentParser) -> set[str]:
    return {o for a in parser._actions for o in a.option_strings if o not in ("-h", "--help")}


def cli_reference() -> dict[str, set[str]]:
    """The flags each subcommand has in the README's command-line reference ("" for the global line)."""
    text = (REPO / "README.md").read_text()
    section = text[text.index("## Command-line reference"):]
    block = section[section.index("```") + 3:]
    block = block[:block.index("```")]
    flags: dict[str, set[str]] = {}
    command = None
    for line in block.splitlines():
        if line.startswith("sentiscore "):
            word = line.split()[1]
            command = "" if word.startswith("[") else word
            flags.setdefault(command, set())
        if command is not None:
            flags[command] |= set(FLAG.findall(line)) | ({"-o"} if re.search(r"\[-o ", line) else set())
    return flags


def bench_flags() -> set[str]:
    found = set()
    for path in (REPO / "bench").glob("*.py"):
        found |= set(re.findall(r'add_argument\(\s*"(--[a-z0-9-]+)"', path.read_text()))
    return found


def test_the_cli_reference_lists_every_flag_of_every_subcommand_and_no_other():
    reference, parsers = cli_reference(), subcommands()
    assert set(reference) == set(parsers)
    global_flags = options(parsers[""])
    for name, parser in parsers.items():
        listed = reference[name]
        for action in parser._actions:  # listed under one of its names (-o for -o/--output)
            names = set(action.option_strings) - {"-h", "--help"}
            if names and not (name and names <= global_flags):  # the global line covers those
                assert names & listed, (name, action.option_strings)
        assert listed <= options(parser), (name, listed - options(parser))


def test_every_flag_the_pages_name_exists():
    known = set().union(*map(options, subcommands().values())) | bench_flags() | OTHER_TOOLS
    for page in PAGES:
        unknown = set(FLAG.findall(page.read_text())) - known
        assert not unknown, (str(page.relative_to(REPO)), unknown)


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_links_lead_to_files(page):
    for target in re.findall(r"\]\(([^)#]+)\)", page.read_text()):
        if "://" not in target:
            assert (page.parent / target).exists(), (page.name, target)


def test_the_performance_page_is_generated_from_the_results():
    assert (REPO / "docs" / "performance.md").read_text() == performance.page(), \
        "docs/performance.md differs from bench/results/: run python -m bench.performance"


def test_the_readme_is_short_and_starts_with_the_two_commands():
    lines = (REPO / "README.md").read_text().splitlines()
    assert len(lines) < 250
    head = "\n".join(lines[:60])
    for must in ("make demo", "make test", "sentiscore score", "| output column |"):
        assert must in head, must
