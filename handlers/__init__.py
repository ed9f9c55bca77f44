"""Thin entry points that adapt AWS events and process environments to renderlib calls."""
