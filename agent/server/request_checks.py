"""What every request is checked for before it reaches the results: the method, the path as sent
(encoded slashes, dot segments), the query's parameters. Errors are JSON `Status` documents, in
the shape of the agent's `report.Status` (a unit test holds the two together)."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qs

MAX_QUERY_BYTES = 2048
API_VERSION = "nsinspect/v1"
REASONS = {
    200: "OK",
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    413: "Content Too Large",
    414: "URI Too Long",
    431: "Request Header Fields Too Large",
    500: "Internal Server Error",
    501: "Not Implemented",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}


class ApiError(Exception):
    """A request answered with a `Status` document and this code."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def status_document(code: int, message: str) -> dict[str, Any]:
    return {
        "apiVersion": API_VERSION,
        "kind": "Status",
        "code": code,
        "reason": REASONS.get(code, ""),
        "message": message,
    }


def status_bytes(code: int, message: str) -> bytes:
    return json_bytes(status_document(code, message))


def json_bytes(document: object) -> bytes:
    """One serialisation, one write: never a stream of small tokens."""
    return json.dumps(document, separators=(",", ":")).encode()


def query(environ: dict[str, Any], allowed: frozenset[str] = frozenset()) -> dict[str, str]:
    """The query's parameters: only `allowed` ones, each at most once."""
    raw = environ.get("QUERY_STRING", "")
    if len(raw) > MAX_QUERY_BYTES:
        raise ApiError(414, f"query string longer than {MAX_QUERY_BYTES} bytes")
    try:
        parsed = parse_qs(
            raw,
            keep_blank_values=True,
            strict_parsing=bool(raw),
            max_num_fields=16,
            errors="surrogateescape",  # names hold any bytes: keep them as the scanner does
        )
    except ValueError as exc:
        raise ApiError(400, f"malformed query string: {exc}") from exc
    unknown = set(parsed) - allowed
    if unknown:
        raise ApiError(400, f"unknown parameters: {', '.join(sorted(unknown))}")
    if any(len(values) > 1 for values in parsed.values()):
        raise ApiError(400, "each parameter may be given once")
    return {key: values[0] for key, values in parsed.items()}


def segments(environ: dict[str, Any]) -> list[str]:
    """The path's segments (percent-decoded), after checking the path as sent for tricks."""
    raw = environ.get("REQUEST_URI") or environ.get("PATH_INFO", "")
    raw_path = raw.split("?", 1)[0]
    lowered = raw_path.lower()
    if "%2f" in lowered or "%5c" in lowered or "\\" in raw_path:
        raise ApiError(400, "encoded slashes are not allowed in the path")
    path = _as_sent(environ.get("PATH_INFO", ""))
    parts = path.strip("/").split("/") if path.strip("/") else []
    if any(s in (".", "..") for s in parts) or "//" in path:
        raise ApiError(400, "the path must not contain '.', '..' or empty segments")
    return parts


def _as_sent(path_info: str) -> str:
    """WSGI hands the path over as latin-1 code points of its bytes; names are UTF-8."""
    try:
        return path_info.encode("latin-1").decode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        return path_info
