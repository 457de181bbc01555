"""The commands README.md and docs/ show exist as shown: every `python -m lakehouse ...` line of a
shell block parses with the CLI's own parser (command, subcommand, options), every inline
`lakehouse ...` names a command and options it has, and every `make <target>` is a Makefile
target. Nothing is run: these need no services."""

from __future__ import annotations

import argparse
import contextlib
import io
import re
import shlex
from pathlib import Path

import pytest

from lakehouse import cli

REPO = Path(__file__).resolve().parents[2]
DOCS = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
_FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.MULTILINE | re.DOTALL)
_INLINE = re.compile(r"`((?:python -m )?lakehouse [^`]+)`")
_MAKE = re.compile(r"(?:`|^)make ([a-z][a-z-]*)", re.MULTILINE)
_ENV = re.compile(r"^(?:[A-Z_][A-Z0-9_]*=\S*\s+)+")


def shell_commands(text: str) -> list[str]:
    """The `python -m lakehouse` invocations of a document's shell blocks, one per line."""
    found = []
    for language, body in _FENCE.findall(text):
        if language not in ("bash", "sh", ""):
            continue
        for line in body.splitlines():
            line = line.split(" #", 1)[0].replace("[", "").replace("]", "").strip()  # [optional] args
            line = line.removeprefix("scripts/with-env.sh ").strip()
            line = _ENV.sub("", line)
            line = line.removeprefix("scripts/with-env.sh ").strip()
            if line.startswith("python -m lakehouse "):
                found.append(line)
    return found


def _subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def _options(parser: argparse.ArgumentParser) -> set[str]:
    return {option for action in parser._actions for option in action.option_strings}


def _parse(argv: list[str]) -> str | None:
    """None when the CLI's parser accepts ``argv``, else its complaint."""
    err = io.StringIO()
    try:
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
            cli.build_parser().parse_args(argv)
    except SystemExit as stop:
        return None if stop.code == 0 else err.getvalue().strip().splitlines()[-1]
    return None


def _documents():
    return [pytest.param(path, id=str(path.relative_to(REPO))) for path in DOCS]


@pytest.mark.parametrize("path", _documents())
def test_every_lakehouse_command_of_a_shell_block_parses(path):
    problems = []
    for line in shell_commands(path.read_text()):
        argv = shlex.split(line)[3:]
        complaint = _parse(argv)
        if complaint:
            problems.append(f"{line}: {complaint}")
    assert problems == []


@pytest.mark.parametrize("path", _documents())
def test_every_inline_lakehouse_command_names_a_command_and_its_options(path):
    problems = []
    commands = _subparsers(cli.build_parser())
    for span in _INLINE.findall(path.read_text()):
        words = span.removeprefix("python -m ").split()[1:]
        if not words or words[0].startswith(("-", "<", "...")):
            continue
        parser = commands.get(words[0])
        if parser is None:
            problems.append(f"`{span}`: no command {words[0]!r}")
            continue
        actions = _subparsers(parser)
        if actions and len(words) > 1 and not words[1].startswith("-"):
            if words[1] not in actions:
                problems.append(f"`{span}`: {words[0]} has no {words[1]!r}")
                continue
            parser = actions[words[1]]
        if "-" not in parser.prefix_chars:
            continue  # every argument goes to another program (`trino shell`)
        for word in words:
            option = word.split("=", 1)[0]
            if option.startswith("--") and option not in _options(parser):
                problems.append(f"`{span}`: no option {option}")
    assert problems == []


@pytest.mark.parametrize("path", _documents())
def test_every_make_target_named_exists(path):
    makefile = (REPO / "Makefile").read_text()
    targets = set(re.findall(r"^([a-z][a-z-]*):", makefile, re.MULTILINE))
    named = set(_MAKE.findall(path.read_text()))
    assert named - targets == set()


def test_the_commands_a_refusal_prints_exist():
    from lakehouse import config
    from lakehouse.pipeline import fingerprint

    check = fingerprint.RestoreCheck(False, ["1_x: its state layout changed"], None, None)
    message = fingerprint.refusal_message(check, "s3://b/savepoint-1", config.load("embedded"))
    lines = [line.strip() for line in message.splitlines() if "python -m lakehouse" in line]
    assert lines
    for line in lines:
        command = _ENV.sub("", line.split("  #", 1)[0].strip())
        assert _parse(shlex.split(command)[3:]) is None, line


def test_the_extractor_reads_shell_blocks_only():
    text = "```bash\nLAKEHOUSE_X=1 scripts/with-env.sh python -m lakehouse run --rate 2  # c\n```\n"
    text += "```python\npython -m lakehouse nothing\n```\n"
    assert shell_commands(text) == ["python -m lakehouse run --rate 2"]
    assert _parse(["run", "--rate", "2"]) is None
    assert "invalid choice" in _parse(["no-such-command"])
