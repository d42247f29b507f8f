"""The operator console's dashboard and navigation: reads from every app, so it sits at the top of
the ladder with the project's wiring; no app imports it (import-linter contract in pyproject.toml)."""
