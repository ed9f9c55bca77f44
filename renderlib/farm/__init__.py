"""The render farm's logic: storage, the worker (and the dispatcher)."""
