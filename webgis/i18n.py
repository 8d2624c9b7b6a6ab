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
    "login.title": {"zh-CN": "登录", "en": "Sign in"},
    "login.username": {"zh-CN": "用户名", "en": "User name"},
    "login.password": {"zh-CN": "密码", "en": "Password"},
    "login.submit": {"zh-CN": "登录", "en": "Sign in"},
    "logout": {"zh-CN": "退出", "en": "Sign out"},
    "error.title": {"zh-CN": "出错了", "en": "Something went wrong"},
    "back": {"zh-CN": "返回首页", "en": "Back to the start page"},
    "person.title": {"zh-CN": "人员信息", "en": "Person"},
    "person.name": {"zh-CN": "姓名", "en": "Name"},
    "person.phone": {"zh-CN": "电话", "en": "Phone"},
    "person.id_number": {"zh-CN": "身份证号", "en": "ID number"},
    "person.masked_note": {
        "zh-CN": "个人信息已脱敏显示。查看完整信息须填写原因，并记入审计日志。",
        "en": "Personal data is masked. Viewing it in full needs a reason and is audited.",
    },
    "person.unmasked_note": {
        "zh-CN": "完整信息仅本次显示，已记入审计日志。",
        "en": "Shown in full this once; the view is in the audit log.",
    },
    "unmask.reason": {"zh-CN": "查看原因", "en": "Reason"},
    "unmask.submit": {"zh-CN": "查看完整信息", "en": "Show in full"},
    "incident.title": {"zh-CN": "事件详情", "en": "Incident"},
    "incident.category": {"zh-CN": "类别", "en": "Category"},
    "incident.status": {"zh-CN": "状态", "en": "Status"},
    "incident.reported_at": {"zh-CN": "上报时间", "en": "Reported"},
    "incident.description": {"zh-CN": "描述", "en": "Description"},
    "incident.history": {"zh-CN": "办理经过", "en": "History"},
    "incident.grid": {"zh-CN": "网格", "en": "Grid"},
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
