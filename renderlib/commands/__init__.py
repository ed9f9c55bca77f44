"""Subcommands of the ``renderlib`` CLI, in the order ``--help`` lists them."""

from renderlib.commands import api, jobs, render, submit

COMMANDS = [render, submit, jobs, api]
