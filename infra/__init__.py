"""Pulumi ComponentResources of the render farm, one module per concern."""
