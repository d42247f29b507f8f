"""Page-number pagination that also advertises next/prev/first/last in an RFC 8288 Link header."""

from __future__ import annotations

from typing import Any

from rest_framework.pagination import PageNumberPagination
from rest_framework.response import Response
from rest_framework.utils.urls import remove_query_param, replace_query_param


class LinkHeaderPagination(PageNumberPagination):
    page_size_query_param = "page_size"
    max_page_size = 500

    def get_paginated_response(self, data: Any) -> Response:
        assert self.page is not None
        assert self.request is not None
        url = self.request.build_absolute_uri()
        links: list[str] = []
        paginator = self.page.paginator
        if self.page.has_next():
            links.append(f'<{self.get_next_link()}>; rel="next"')
        if self.page.has_previous():
            links.append(f'<{self.get_previous_link()}>; rel="prev"')
        links.append(f'<{remove_query_param(url, self.page_query_param)}>; rel="first"')
        links.append(f'<{replace_query_param(url, self.page_query_param, paginator.num_pages)}>; rel="last"')
        response = super().get_paginated_response(data)
        response["Link"] = ", ".join(links)
        return response
