"""Chinese first, English on request: a small message catalogue and the language switch.

The UI has a few hundred strings at most; a dict per language keeps them
reviewable side by side without a gettext tool chain on an offline intranet.
"""

from __future__ import annotations

from flask import Flask, g, request

LANGUAGES = ("zh-CN", "en")

MESSAGES: dict[str, dict[str, str]] = {
    "app.title": {"zh-CN": "网格化管理平台", "en": "Grid management"},
    "town.overview": {"zh-CN": "全镇概况", "en": "Township overview"},
    "village": {"zh-CN": "村/社区", "en": "Village"},
    "village.code": {"zh-CN": "代码", "en": "Code"},
    "households": {"zh-CN": "户数", "en": "Households"},
    "people": {"zh-CN": "人口", "en": "People"},
    "grids": {"zh-CN": "网格", "en": "Grids"},
    "incidents.open": {"zh-CN": "在办事件", "en": "Open incidents"},
    "total": {"zh-CN": "合计", "en": "Total"},
    "no.data": {
        "zh-CN": "数据库中还没有数据。请运行 make demo 载入演示乡镇。",
        "en": "The database holds no data yet. Run make demo to load the demo township.",
    },
    "language.switch": {"zh-CN": "English", "en": "中文"},
}


def current_language() -> str:
    """``?lang=`` wins, then the ``lang`` cookie, then the configured default (zh-CN)."""
    if "lang" not in g:
        asked = request.args.get("lang") or request.cookies.get("lang")
        g.lang = asked if asked in LANGUAGES else g.get("default_lang", "zh-CN")
    return g.lang


def translate(key: str) -> str:
    """The message ``key`` in the current language (the key itself if it is missing)."""
    return MESSAGES.get(key, {}).get(current_language(), key)


def init_app(app: Flask) -> None:
    default = app.config.get("LANGUAGE", "zh-CN")

    @app.before_request
    def _default_language() -> None:
        g.default_lang = default

    @app.after_request
    def _remember_language(response):
        if (lang := request.args.get("lang")) in LANGUAGES:
            response.set_cookie("lang", lang, max_age=365 * 86400, samesite="Lax", httponly=True)
        return response

    app.jinja_env.globals.update(_=translate, current_language=current_language)
