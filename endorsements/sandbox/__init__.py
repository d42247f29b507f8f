"""A sandbox insurer: a separate small web service that behaves like a REST insurer.

Standard library only (http.server), so it starts in a fraction of a second and imports no Django.
Run: `python -m endorsements.sandbox --port 8107 --api-key KEY --secret SECRET`.
"""
