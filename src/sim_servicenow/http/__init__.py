"""The HTTP core both clients share: session, timeouts, retries, error mapping, paging, logging."""

from ._core import (
    HttpCore,
    Timeout,
    check_base_url,
    decode_json,
    error_from_response,
    parse_error_body,
    redact_url,
)
from ._paging import Page, iter_offset_pages
from ._retry import IDEMPOTENT_METHODS, RetryPolicy, parse_retry_after

__all__ = [
    "IDEMPOTENT_METHODS",
    "HttpCore",
    "Page",
    "RetryPolicy",
    "Timeout",
    "check_base_url",
    "decode_json",
    "error_from_response",
    "iter_offset_pages",
    "parse_error_body",
    "parse_retry_after",
    "redact_url",
]
