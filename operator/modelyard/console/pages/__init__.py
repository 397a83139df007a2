"""Page families of the console: each module builds its pages' view-models (pure functions of
a Snapshot of the objects, and of the store for reports and curves)."""
