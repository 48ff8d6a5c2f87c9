"""Every command has help text, and the README's command table names every top-level command.
How errors reach the user: test_cli_errors.py."""

from pathlib import Path

import click
from click.testing import CliRunner

from mi_warehouse.cli import main

README = (Path(__file__).resolve().parents[2] / "README.md").read_text()


def walk(group: click.Group, prefix=()):
    for name, cmd in group.commands.items():
        yield prefix + (name,), cmd
        if isinstance(cmd, click.Group):
            yield from walk(cmd, prefix + (name,))


def test_every_command_has_help_and_is_documented():
    runner = CliRunner()
    for path, cmd in walk(main):
        assert (cmd.help or "").strip(), f"mi-warehouse {' '.join(path)} has no help text"
        r = runner.invoke(main, [*path, "--help"])
        assert r.exit_code == 0 and "Usage:" in r.output
        if len(path) == 1:
            assert f"mi-warehouse {path[0]}" in README, f"README does not mention mi-warehouse {path[0]}"
