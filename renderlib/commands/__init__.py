"""Subcommands of the ``renderlib`` CLI, in the order ``--help`` lists them."""

from renderlib.commands import render

COMMANDS = [render]
