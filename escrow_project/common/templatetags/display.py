"""`{% load display %}`: `{{ amount|money:currency }}`, `{{ cents|minor_money:currency }}`,
`{{ moment|when }}`, `{{ day|day }}` (escrow_project.common.display)."""

from __future__ import annotations

from django import template

from escrow_project.common import display

register = template.Library()


@register.filter
def money(amount, currency: str) -> str:
    return display.format_money(amount, currency)


@register.filter
def minor_money(minor, currency: str) -> str:
    return display.format_minor(minor, currency)


@register.filter
def when(moment) -> str:
    return display.format_when(moment)


@register.filter
def day(value) -> str:
    return display.format_day(value)
