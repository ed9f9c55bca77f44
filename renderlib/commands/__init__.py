"""Subcommands of the ``renderlib`` CLI, in the order ``--help`` lists them."""

from renderlib.commands import api, farm, jobs, render, submit

COMMANDS = [render, submit, jobs, farm, api]
