"""Subcommands of the ``renderlib`` CLI, in the order ``--help`` lists them."""

from renderlib.commands import api, estimate, farm, jobs, render, submit

COMMANDS = [render, estimate, submit, jobs, farm, api]
