"""The blind index finds exact matches (after normalisation) and nothing else."""

from __future__ import annotations

import os

from django.test import override_settings

from escrow_project.common.crypto.blind_index import blind_index
from escrow_project.common.crypto.keys import encode_key


def test_equal_values_match_across_case_width_and_spacing():
    reference = blind_index("AB 123 456", purpose="national_id")
    assert blind_index("ab  123 456 ", purpose="national_id") == reference
    assert blind_index("\uff21\uff22 123 456", purpose="national_id") == reference  # full-width letters


def test_different_values_and_purposes_do_not_match():
    reference = blind_index("AB 123 456", purpose="national_id")
    assert blind_index("AB 123 457", purpose="national_id") != reference
    assert blind_index("AB123456", purpose="national_id") != reference
    assert blind_index("AB 123 456", purpose="iban") != reference


def test_index_depends_on_the_key_and_hides_the_value():
    value = "AB 123 456"
    default = blind_index(value, purpose="national_id")
    assert "123" not in default
    with override_settings(BLIND_INDEX_KEY=encode_key(os.urandom(32))):
        assert blind_index(value, purpose="national_id") != default
