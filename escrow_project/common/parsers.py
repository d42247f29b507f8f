"""DRF parsers that refuse, as a 400 `malformed_request`, what would otherwise fail in the database:
NUL characters, lone surrogates, NaN/Infinity and JSON nested deeper than API_MAX_JSON_DEPTH."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.conf import settings
from rest_framework.exceptions import ParseError
from rest_framework.parsers import DataAndFiles, FormParser, JSONParser, MultiPartParser

from escrow_project.common.input_guard import InputRefused, check_strings, json_loads_bounded


class StrictJSONParser(JSONParser):
    def parse(self, stream: Any, media_type: str | None = None, parser_context: Mapping[str, Any] | None = None) -> Any:
        if stream is None:
            return None
        # Bounded by the body-size limit (escrow_project.common.api_guard) before it gets here.
        raw = stream.read(settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 1)
        try:
            return json_loads_bounded(raw)
        except InputRefused as exc:
            raise ParseError(str(exc)) from None


def _check_form(data: Any) -> None:
    try:
        check_strings({key: data.getlist(key) for key in data} if hasattr(data, "getlist") else data)
    except InputRefused as exc:
        raise ParseError(str(exc)) from None


class StrictFormParser(FormParser):
    def parse(self, stream: Any, media_type: str | None = None, parser_context: Mapping[str, Any] | None = None) -> Any:
        data = super().parse(stream, media_type, parser_context)
        _check_form(data)
        return data


class StrictMultiPartParser(MultiPartParser):
    def parse(
        self, stream: Any, media_type: str | None = None, parser_context: Mapping[str, Any] | None = None
    ) -> DataAndFiles[Any, Any]:
        parsed = super().parse(stream, media_type, parser_context)
        _check_form(parsed.data)
        return parsed
