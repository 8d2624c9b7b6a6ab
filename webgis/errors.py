"""Every error answered with a clear message: JSON for APIs, a page for people; never a 500
for bad input."""

from __future__ import annotations

from flask import Flask, jsonify, render_template, request
from werkzeug.exceptions import HTTPException

from layers.errors import Invalid, NotFound
from layers.households.queries import NotCleared

MESSAGES = {
    400: "请求有误 / bad request",
    401: "请先登录 / please sign in",
    403: "您没有此操作的权限 / you may not do this",
    404: "未找到，或不在您的管辖范围内 / not found, or outside your areas",
    405: "不支持此操作 / method not allowed",
    409: "数据已被他人修改 / changed by someone else",
    413: "内容太大 / too large",
    415: "内容类型不支持 / unsupported content type",
    422: "无法处理的内容 / unprocessable content",
    429: "请求过于频繁 / too many requests",
}


def _is_api() -> bool:
    return request.path.startswith(("/api/", "/tiles/", "/open311/"))


def answer(status: int, message: str | None = None, **extra):
    message = message or MESSAGES.get(status, "错误 / error")
    if _is_api():
        return jsonify(error=status, message=message, **extra), status
    return render_template("error.html", status=status, message=message), status


def init_app(app: Flask) -> None:
    @app.errorhandler(NotFound)
    def _not_found(_exc):
        return answer(404)

    @app.errorhandler(NotCleared)
    def _not_cleared(_exc):
        return answer(403, "您的角色无权查看完整个人信息 / your role may not unmask personal data")

    @app.errorhandler(Invalid)
    def _invalid(exc: Invalid):
        return answer(400, exc.message, field=exc.field)

    @app.errorhandler(HTTPException)
    def _http(exc: HTTPException):
        # Our own descriptions pass through; werkzeug's English defaults give way to ours.
        own = exc.description if exc.description != type(exc).description else None
        return answer(exc.code or 500, own)
