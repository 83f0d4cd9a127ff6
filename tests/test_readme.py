"""The README names only what exists: CLI commands and flags, and the app's pages."""

from __future__ import annotations

import argparse
import ast
import re

import pytest

from bench.__main__ import build_parser as bench_parser
from pipeline import settings
from pipeline.cli import build_parser

README = (settings.ROOT / "README.md").read_text(encoding="utf-8")


def _options(parser: argparse.ArgumentParser) -> tuple[set[str], set[str]]:
    """Every option string and sub-command of a parser, its sub-parsers included."""
    flags: set[str] = set()
    commands: set[str] = set()
    for action in parser._actions:
        flags.update(s for s in action.option_strings if s.startswith("--"))
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                commands.add(name)
                sub_flags, _ = _options(sub)
                flags |= sub_flags
    return flags, commands


CLI_FLAGS, COMMANDS = _options(build_parser())
BENCH_FLAGS, _ = _options(bench_parser())


@pytest.mark.parametrize("flag", sorted(set(re.findall(r"(?<![\w-])--[a-z][a-z-]*", README))))
def test_every_flag_the_readme_names_exists(flag: str) -> None:
    assert flag in CLI_FLAGS | BENCH_FLAGS, f"README names {flag}, which no command has"


@pytest.mark.parametrize("command", sorted(set(re.findall(r"python -m pipeline (\w+)", README))))
def test_every_command_the_readme_names_exists(command: str) -> None:
    assert command in COMMANDS


def _page_titles() -> list[str]:
    """The titles ``app.py``'s navigation gives its pages (read from its ``st.Page`` calls)."""
    tree = ast.parse((settings.ROOT / "app.py").read_text())
    pages = [
        node
        for node in ast.walk(tree)
        if isinstance(node, ast.Call) and getattr(node.func, "attr", None) == "Page"
    ]
    scripts = {str(p.relative_to(settings.ROOT)) for p in (settings.ROOT / "pages").glob("*.py")}
    assert {ast.literal_eval(p.args[0]) for p in pages} == scripts  # every page is navigable
    return [next(ast.literal_eval(k.value) for k in p.keywords if k.arg == "title") for p in pages]


@pytest.mark.parametrize("title", _page_titles())
def test_every_page_is_described_in_the_readme(title: str) -> None:
    app = README.split("## The app", 1)[1].split("\n## ", 1)[0]
    assert f"- **{title}**" in app


def test_the_readme_pages_are_the_app_s_pages() -> None:
    app = README.split("## The app", 1)[1].split("\n## ", 1)[0]
    named = re.findall(r"^- \*\*([^*]+)\*\* —", app, flags=re.MULTILINE)
    pages = set(_page_titles())
    features = {"The map's timeline", "Permalinks"}  # parts of the map page, not pages
    assert set(named) - features == pages
