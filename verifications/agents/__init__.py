"""Verification providers: one interface, one implementation per type (title, inspection, appraisal, lending)."""
