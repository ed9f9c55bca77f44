"""The render farm: the dispatcher that launches one worker task per job, the worker
that renders a job, and the launchers, storage and local farm they run on."""
