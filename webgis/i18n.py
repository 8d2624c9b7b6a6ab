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
    "map.township": {"zh-CN": "全镇地图", "en": "Township map"},
    "map.incidents": {"zh-CN": "事件地图", "en": "Incident map"},
    "map.patrol": {"zh-CN": "巡逻地图", "en": "Patrol map"},
    "map.edit": {"zh-CN": "边界编辑", "en": "Edit boundaries"},
    "map.water": {"zh-CN": "水系", "en": "Water"},
    "map.villages": {"zh-CN": "村/社区", "en": "Villages"},
    "map.streets": {"zh-CN": "街道", "en": "Streets"},
    "map.lanes": {"zh-CN": "巷道", "en": "Lanes"},
    "map.grids": {"zh-CN": "网格", "en": "Grids"},
    "map.captain_areas": {"zh-CN": "街长/巷长片区", "en": "Captain areas"},
    "map.info.title": {
        "zh-CN": "点击区域查看负责人",
        "en": "Click an area to see who answers for it",
    },
    "map.info.households": {"zh-CN": "户数", "en": "Households"},
    "map.info.none": {"zh-CN": "暂无负责人信息", "en": "No one on record"},
    "map.loading": {"zh-CN": "正在加载…", "en": "Loading…"},
    "map.error": {"zh-CN": "加载失败", "en": "Could not load"},
    "edit.kind": {"zh-CN": "编辑对象", "en": "Editing"},
    "edit.level": {"zh-CN": "级网格", "en": "-level grids"},
    "edit.help": {
        "zh-CN": "用左侧工具栏绘制、修改或删除边界；保存前服务器会检查边界是否有效、"
        "是否在上级区域内、是否与相邻区域重叠。",
        "en": "Draw, reshape or delete boundaries with the toolbar. The server checks"
        " each shape is valid, inside its parent and clear of its neighbours.",
    },
    "edit.saved": {"zh-CN": "已保存", "en": "Saved"},
    "edit.refused": {"zh-CN": "未保存", "en": "Not saved"},
    "edit.conflict": {"zh-CN": "版本冲突", "en": "Conflict"},
    "edit.households": {"zh-CN": "户数", "en": "Households"},
    "edit.rule": {"zh-CN": "规模要求", "en": "Size rule"},
    "edit.within": {"zh-CN": "符合", "en": "within the rule"},
    "edit.outside": {"zh-CN": "不符合", "en": "outside the rule"},
    "edit.deleted": {"zh-CN": "已删除", "en": "Deleted"},
    "edit.draft": {"zh-CN": "未保存的草稿", "en": "Unsaved drafts"},
    "edit.resave": {
        "zh-CN": "在最新版本上保存我的草稿",
        "en": "Save my draft over the latest version",
    },
    "edit.discard": {"zh-CN": "放弃草稿", "en": "Discard the draft"},
    "edit.theirs": {"zh-CN": "他人保存的版本（虚线）", "en": "The other edit (dashed)"},
    "edit.split": {"zh-CN": "分割", "en": "Split"},
    "edit.split.pick": {
        "zh-CN": "点击要分割的网格",
        "en": "Click the grid to split",
    },
    "edit.split.draw": {
        "zh-CN": "画一条穿过整个网格的分割线（双击或再点最后一点结束）：",
        "en": "Draw a line right across it (double-click or click the last point to finish):",
    },
    "edit.split.keeps": {"zh-CN": "保留原编号", "en": "keeps the code"},
    "edit.split.new": {"zh-CN": "新网格", "en": "new grid"},
    "edit.split.confirm": {"zh-CN": "确认分割", "en": "Split it"},
    "edit.split.cancel": {"zh-CN": "取消", "en": "Cancel"},
    "edit.split.done": {"zh-CN": "已分割为", "en": "Split into"},
    "edit.name": {
        "zh-CN": "新建对象的名称（可不填）",
        "en": "Name for a new shape (optional)",
    },
    "incidents.filter": {"zh-CN": "筛选", "en": "Filter"},
    "incidents.all": {"zh-CN": "全部", "en": "All"},
    "incidents.since": {"zh-CN": "起始日期", "en": "From"},
    "incidents.until": {"zh-CN": "截止日期", "en": "To"},
    "incidents.heat": {"zh-CN": "热力图", "en": "Heat map"},
    "incidents.count": {"zh-CN": "条事件", "en": "incidents"},
    "incidents.overdue": {"zh-CN": "超期", "en": "overdue"},
    "incidents.truncated": {
        "zh-CN": "只显示最近的 5000 条，请缩小范围",
        "en": "Showing the latest 5,000 only: narrow the filters",
    },
    "patrol.routes": {"zh-CN": "巡逻路线", "en": "Routes"},
    "patrol.checkpoints": {"zh-CN": "打卡点", "en": "Checkpoints"},
    "patrol.hotspots": {"zh-CN": "隐患热点", "en": "Hotspots"},
    "patrol.tracks": {"zh-CN": "巡逻轨迹", "en": "Tracks walked"},
    "grid.title": {"zh-CN": "网格公示", "en": "Grid notice board"},
    "grid.team": {"zh-CN": "铁三角", "en": "Grid team"},
    "grid.captains": {"zh-CN": "街长、巷长及其片区", "en": "Captains and their areas"},
    "grid.street_captains": {"zh-CN": "街长", "en": "Street captains"},
    "grid.children": {"zh-CN": "下级网格", "en": "Sub-grids"},
    "grid.outline": {"zh-CN": "网格边界", "en": "Grid outline"},
    "grid.level": {"zh-CN": "级别", "en": "Level"},
    "grid.area": {"zh-CN": "片区", "en": "Area"},
    "role": {"zh-CN": "职责", "en": "Duty"},
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


# The incident loop's pages (report page, my reports, dashboard).
MESSAGES.update(
    {
        "report.title": {"zh-CN": "随手拍上报", "en": "Report a problem"},
        "report.map": {"zh-CN": "地图：点选位置", "en": "Map: tap the place"},
        "report.tap": {
            "zh-CN": "在地图上点选位置，或使用手机定位。",
            "en": "Tap the place on the map, or use the phone's position.",
        },
        "report.locate": {"zh-CN": "使用我的位置", "en": "Use my position"},
        "report.choose": {"zh-CN": "请选择类别", "en": "Choose a category"},
        "report.photos": {
            "zh-CN": "照片（最多 3 张，每张 ≤10 MB）",
            "en": "Photos (up to 3, ≤10 MB each)",
        },
        "report.submit": {"zh-CN": "上报", "en": "Send report"},
        "report.mine": {"zh-CN": "我的上报", "en": "My reports"},
        "dashboard.title": {"zh-CN": "事件统计", "en": "Incident statistics"},
        "dashboard.area": {"zh-CN": "区域", "en": "Area"},
        "dashboard.month": {"zh-CN": "月份", "en": "Month"},
        "dashboard.reported": {"zh-CN": "上报数", "en": "Reported"},
        "dashboard.closed": {"zh-CN": "结案数", "en": "Closed"},
        "dashboard.on_time": {"zh-CN": "按期结案数", "en": "Closed on time"},
        "dashboard.due": {"zh-CN": "应结案数", "en": "Due"},
        "dashboard.deferred": {"zh-CN": "缓办数", "en": "Deferred"},
        "dashboard.rework": {"zh-CN": "返工数", "en": "Rework"},
        "dashboard.median": {"zh-CN": "结案时长中位数（小时）", "en": "Median hours to close"},
        "dashboard.satisfaction": {"zh-CN": "满意度", "en": "Satisfaction"},
        "dashboard.closure_rate": {"zh-CN": "结案率", "en": "Closure rate"},
        "dashboard.on_time_rate": {"zh-CN": "按期结案率", "en": "On-time closure rate"},
        "dashboard.by": {"zh-CN": "统计单位", "en": "Per"},
        "dashboard.by.grid": {"zh-CN": "网格", "en": "Grid"},
        "dashboard.by.village": {"zh-CN": "村/社区", "en": "Village"},
        "dashboard.by.town": {"zh-CN": "镇", "en": "Town"},
        "dashboard.show": {"zh-CN": "统计", "en": "Show"},
        "dashboard.csv": {
            "zh-CN": "下载 CSV（Excel 可打开）",
            "en": "Download CSV (opens in Excel)",
        },
        "dashboard.formula": {
            "zh-CN": "结案率 = 结案数 ÷（应结案数 − 缓办数）；按期结案率 = 按期结案数 ÷"
            "（应结案数 − 缓办数）。早期案件无办理时限记录，按类别时限自上报起以自然时间推算。",
            "en": "Closure rate = closed ÷ (due − deferred); on-time rate = closed on time ÷"
            " (due − deferred). Early cases without a stored due time use the category's"
            " limit counted in calendar time from the report.",
        },
        "dashboard.none": {"zh-CN": "所选时段没有事件", "en": "No incidents in this period"},
    }
)
