"""The ground floor: what every other part stands on and that imports nothing of the package above it:
user-facing errors and the divergence bound (``errors``), deterministic seeding (``seeding``) and the config
files on disk (``conf_files``)."""
