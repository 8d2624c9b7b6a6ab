"""Reading JSON request bodies with limits on size and nesting.

Python's json module recurses per nesting level: a body of 10,000 ``[`` raises
RecursionError deep in the parser (a 500). We measure the depth first, in one
pass over the bytes, and refuse with a 4xx before parsing.
"""

from __future__ import annotations

import json

from flask import request
from werkzeug.exceptions import BadRequest, RequestEntityTooLarge, UnsupportedMediaType

MAX_BYTES = 1024 * 1024
MAX_DEPTH = 64


def _depth(raw: bytes) -> int:
    depth = deepest = 0
    in_string = escaped = False
    for byte in raw:
        if in_string:
            if escaped:
                escaped = False
            elif byte == 0x5C:  # backslash
                escaped = True
            elif byte == 0x22:  # quote
                in_string = False
        elif byte == 0x22:
            in_string = True
        elif byte in (0x5B, 0x7B):  # [ {
            depth += 1
            deepest = max(deepest, depth)
        elif byte in (0x5D, 0x7D):
            depth -= 1
    return deepest


def json_body(*, max_bytes: int = MAX_BYTES, max_depth: int = MAX_DEPTH):
    """The request's JSON body; 415, 413 or 400 with a message for anything else."""
    if not request.is_json:
        raise UnsupportedMediaType("请以 application/json 提交 / send application/json")
    length = request.content_length
    if length is not None and length > max_bytes:
        raise RequestEntityTooLarge(f"请求体超过 {max_bytes // 1024} KB / body over the limit")
    raw = request.get_data(cache=True)
    if len(raw) > max_bytes:
        raise RequestEntityTooLarge(f"请求体超过 {max_bytes // 1024} KB / body over the limit")
    if _depth(raw) > max_depth:
        raise BadRequest(f"JSON 嵌套超过 {max_depth} 层 / JSON nested deeper than {max_depth}")
    try:
        return json.loads(raw)
    except (ValueError, RecursionError) as exc:
        raise BadRequest("JSON 格式错误 / malformed JSON") from exc
