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
    "edit.split.pick_any": {
        "zh-CN": "点击要分割的网格或村/社区",
        "en": "Click the grid or village to split",
    },
    "edit.split.new_village": {"zh-CN": "新村/社区", "en": "new village"},
    "edit.split.recoded": {
        "zh-CN": "随新区域移动并重新编号的网格",
        "en": "Grids that move with the new part and get new codes",
    },
    "edit.split.moves": {"zh-CN": "划入新村/社区", "en": "Moving to the new village"},
    "edit.split.move.grids": {"zh-CN": "网格", "en": "grids"},
    "edit.split.move.households": {"zh-CN": "户", "en": "households"},
    "edit.split.move.captain_areas": {"zh-CN": "整片划入的街长/巷长片区", "en": "captain areas"},
    "edit.split.move.captain_areas_cut": {
        "zh-CN": "被分割线穿过、将重新划分的片区",
        "en": "captain areas cut by the line (re-made by the gridding engine)",
    },
    "edit.split.move.streets": {"zh-CN": "街道", "en": "streets"},
    "edit.split.move.lanes": {"zh-CN": "巷道", "en": "lanes"},
    "edit.split.move.persons": {"zh-CN": "人", "en": "persons"},
    "edit.split.move.incidents": {"zh-CN": "事件", "en": "incidents"},
    "edit.split.crossing": {
        "zh-CN": "这些街巷跨越新边界，归入所占长度较多的一侧，请检查：",
        "en": "These streets and lanes cross the new boundary and go to the side holding"
        " most of them; check them:",
    },
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
    # -- hotspot layers, legends and runs --
    "hotspot.gistar": {"zh-CN": "隐患热点（Gi*）", "en": "Hotspots (Gi*)"},
    "hotspot.hot": {"zh-CN": "热点", "en": "Hotspot"},
    "hotspot.hot_core": {"zh-CN": "热点核心", "en": "Hotspot core"},
    "hotspot.cold": {"zh-CN": "冷点", "en": "Cold spot"},
    "hotspot.cold_note": {
        "zh-CN": "冷点（事件显著偏少）不在此图显示",
        "en": "Cold spots (significantly few incidents) are not drawn here",
    },
    "hotspot.count": {"zh-CN": "事件数", "en": "Incidents"},
    "hotspot.trend_z": {"zh-CN": "趋势 z", "en": "Trend z"},
    "hotspot.cells": {"zh-CN": "格", "en": "cells"},
    "hotspot.none": {
        "zh-CN": "尚未保存热点分析结果",
        "en": "No hotspot run is stored yet",
    },
    "hotspot.period": {"zh-CN": "时段", "en": "Period"},
    "hotspot.category": {"zh-CN": "类别", "en": "Category"},
    "hotspot.category.all": {"zh-CN": "全部类别", "en": "all categories"},
    "hotspot.cell": {"zh-CN": "格网", "en": "Cells"},
    "hotspot.metres": {"zh-CN": "米", "en": "m"},
    "hotspot.step": {"zh-CN": "时间步", "en": "Step"},
    "hotspot.step.month": {"zh-CN": "月", "en": "month"},
    "hotspot.step.week": {"zh-CN": "周", "en": "week"},
    "hotspot.step.quarter": {"zh-CN": "季度", "en": "quarter"},
    "hotspot.emerging": {"zh-CN": "热点趋势", "en": "Hotspot trends"},
    "hotspot.trend.new": {"zh-CN": "新增", "en": "New"},
    "hotspot.trend.consecutive": {"zh-CN": "连续", "en": "Consecutive"},
    "hotspot.trend.intensifying": {"zh-CN": "加剧", "en": "Intensifying"},
    "hotspot.trend.persistent": {"zh-CN": "持续", "en": "Persistent"},
    "hotspot.trend.diminishing": {"zh-CN": "减弱", "en": "Diminishing"},
    "hotspot.trend.sporadic": {"zh-CN": "零星", "en": "Sporadic"},
    "hotspot.trend.oscillating": {"zh-CN": "反复", "en": "Oscillating"},
    "hotspot.trend.historical": {"zh-CN": "历史", "en": "Historical"},
    "hotspot.heat": {"zh-CN": "事件密度（核密度）", "en": "Incident density (kernel)"},
    "hotspot.heat.unit": {"zh-CN": "起/平方公里", "en": "per km²"},
    "hotspot.heat.none": {"zh-CN": "此时段没有事件", "en": "No incidents in this period"},
    "hotspot.show": {"zh-CN": "显示", "en": "Show"},
    # -- patrol tracks and route planning on the web --
    "route.list": {"zh-CN": "巡逻路线", "en": "Patrol routes"},
    "route.title": {"zh-CN": "巡逻路线", "en": "Patrol route"},
    "route.name": {"zh-CN": "名称", "en": "Name"},
    "route.none": {
        "zh-CN": "还没有单独规划的路线（周计划的路线见各周计划）",
        "en": "No routes planned on their own yet (week plans list their own)",
    },
    "route.plan": {"zh-CN": "规划一条路线", "en": "Plan one route"},
    "route.mode": {"zh-CN": "方式", "en": "Kind"},
    "route.mode.cover": {"zh-CN": "走遍街巷", "en": "Every lane"},
    "route.mode.budget": {"zh-CN": "限时巡查热点", "en": "Hotspots in a time budget"},
    "route.mode.manual": {"zh-CN": "手绘路线", "en": "Drawn by hand"},
    "route.minutes": {"zh-CN": "限时（分钟，仅热点路线）", "en": "Minutes (hotspot routes)"},
    "route.grid": {
        "zh-CN": "只走此网格的巷道（网格代码，可不填）",
        "en": "Only this grid's lanes (code, optional)",
    },
    "route.lanes": {
        "zh-CN": "只走这些巷道（编号，可不填）",
        "en": "Only these lanes (ids, optional)",
    },
    "route.submit": {"zh-CN": "规划路线", "en": "Plan the route"},
    "route.help": {
        "zh-CN": "走遍街巷：从村中心出发走完每条街巷并回到起点"
        "（街巷网络不连通时分段走完，页面会说明）；填网格或巷道编号时只走这些巷道。限时巡查：在限定时间内到最重要的热点各停留几分钟。",
        "en": "Every lane: from the village centre along every lane and back (a network in"
        " pieces is walked piece by piece, and the page says so); with a grid or lane ids,"
        " only those lanes. Hotspots: within the minutes, stop at the hotspots that matter most.",
    },
    "route.tracks": {"zh-CN": "已上传轨迹", "en": "Tracks"},
    "route.gpx": {"zh-CN": "下载 GPX（手机导航用）", "en": "Download GPX (for a phone)"},
    "route.parts": {"zh-CN": "分段数", "en": "Parts"},
    "route.lanes_assigned": {"zh-CN": "指定巷道数", "en": "Assigned lanes"},
    "route.planned_start": {"zh-CN": "计划出发", "en": "Planned start"},
    "route.stops": {"zh-CN": "计划停留点", "en": "Planned stops"},
    "route.stop": {"zh-CN": "停留点", "en": "Stop"},
    "route.arrive_min": {"zh-CN": "到达（出发后分钟）", "en": "Arrive (min after start)"},
    "route.leave_min": {"zh-CN": "离开（出发后分钟）", "en": "Leave (min after start)"},
    "route.upload": {"zh-CN": "上传巡逻轨迹", "en": "Upload a walked track"},
    "route.upload.file": {"zh-CN": "GPX 文件（不超过 10 MB）", "en": "GPX file (10 MB at most)"},
    "route.upload.submit": {"zh-CN": "上传并核查", "en": "Upload and check"},
    "route.upload.help": {
        "zh-CN": "用手机记录的 GPX 轨迹；上传后核查到达了哪些停留点、停留多久、走过多少街巷。",
        "en": "A GPX track recorded on a phone; it is checked for the stops reached, how"
        " long each lasted and the share of lanes walked.",
    },
    "route.refused": {"zh-CN": "未能核查", "en": "Not checked"},
    "week.route_page": {"zh-CN": "路线与轨迹", "en": "Route and tracks"},
    "track.none": {"zh-CN": "还没有上传轨迹", "en": "No tracks uploaded yet"},
    "track.title": {"zh-CN": "轨迹", "en": "Track"},
    "track.lane_share": {"zh-CN": "走过的街巷（按长度）", "en": "Lanes walked (by length)"},
    "track.lanes": {"zh-CN": "条", "en": "lanes"},
    "track.checkpoints": {"zh-CN": "到达的停留点", "en": "Stops reached"},
    "track.dwell_ok": {"zh-CN": "停留时间足够", "en": "Stayed long enough"},
    "track.start_delay": {"zh-CN": "出发晚了（分钟）", "en": "Start late by (min)"},
    "track.duration": {"zh-CN": "用时（分钟）", "en": "Duration (min)"},
    "track.distance": {"zh-CN": "距离（米）", "en": "Distance (m)"},
    "track.visited": {"zh-CN": "到达", "en": "Visited"},
    "track.visited.yes": {"zh-CN": "已到达", "en": "visited"},
    "track.visited.no": {"zh-CN": "未到达", "en": "missed"},
    "track.arrived": {"zh-CN": "到达时间", "en": "Arrived"},
    "track.stayed": {"zh-CN": "停留（分钟）", "en": "Stayed (min)"},
    "track.planned": {"zh-CN": "计划到达", "en": "Planned"},
    "track.late": {"zh-CN": "晚到（分钟）", "en": "Late by (min)"},
    "track.note": {
        "zh-CN": "到达：轨迹进入停留点 20 米以内；负数表示提前。计划时间来自路线的出发时间。",
        "en": "Visited: the track came within 20 m; a negative delay is early. Planned"
        " times come from the route's start.",
    },
    "track.no_detail": {
        "zh-CN": "这条轨迹核查时还不记录各停留点的明细。",
        "en": "This track was checked before per-stop figures were kept.",
    },
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
            "（应结案数 − 缓办数）。超时升级的案件不计为按期结案。"
            "早期案件无办理时限记录，按类别时限自上报起以自然时间推算。",
            "en": "Closure rate = closed ÷ (due − deferred); on-time rate = closed on time ÷"
            " (due − deferred). A case escalated on timeout is not closed on time. Early cases"
            " without a stored due time use the category's limit counted in calendar time"
            " from the report.",
        },
        "dashboard.none": {"zh-CN": "所选时段没有事件", "en": "No incidents in this period"},
    }
)


# Patrol week plans and the monthly patrol coverage (issue 7).
MESSAGES.update(
    {
        "week.list": {"zh-CN": "巡逻周计划", "en": "Patrol week plans"},
        "week.title": {"zh-CN": "巡逻周计划", "en": "Patrol week plan"},
        "week.start": {"zh-CN": "开始日期", "en": "First day"},
        "week.minutes": {"zh-CN": "每次巡逻（分钟）", "en": "Minutes per patrol"},
        "week.stop": {"zh-CN": "每个热点停留（分钟）", "en": "Minutes per stop"},
        "week.team": {"zh-CN": "巡逻队", "en": "Patrol team"},
        "week.team.default": {"zh-CN": "默认：村名 + 巡逻队", "en": "default: village + 巡逻队"},
        "week.seed": {"zh-CN": "变化序号", "en": "Variant"},
        "week.submit": {"zh-CN": "生成一周计划", "en": "Plan the week"},
        "week.help": {
            "zh-CN": "每天上午、下午各一次，路线和出发时间每天不同，同时让每个热点"
            "得到应有的巡查次数。规划需要几秒钟。",
            "en": "A morning and an afternoon patrol each day, with routes and start times that"
            " change from day to day while each hotspot gets its share of visits."
            " Planning takes a few seconds.",
        },
        "week.none": {"zh-CN": "还没有周计划", "en": "No week plans yet"},
        "week.patrols": {"zh-CN": "巡逻次数", "en": "Patrols"},
        "week.created": {"zh-CN": "生成时间", "en": "Made"},
        "week.day": {"zh-CN": "日期", "en": "Day"},
        "week.weekday": {"zh-CN": "星期", "en": "Weekday"},
        "week.slot": {"zh-CN": "时段", "en": "Round"},
        "week.slot.0": {"zh-CN": "上午", "en": "Morning"},
        "week.slot.1": {"zh-CN": "下午", "en": "Afternoon"},
        "week.time": {"zh-CN": "出发时间", "en": "Start"},
        "week.stops": {"zh-CN": "途经热点（按顺序）", "en": "Stops in order"},
        "week.total_min": {"zh-CN": "用时（分钟）", "en": "Minutes"},
        "week.walk_m": {"zh-CN": "步行（米）", "en": "Walk (m)"},
        "week.on_map": {"zh-CN": "在地图上查看", "en": "Show on the map"},
        "week.hotspot": {"zh-CN": "热点", "en": "Hotspot"},
        "week.hotspots": {"zh-CN": "各热点巡查次数", "en": "Visits per hotspot"},
        "week.priority": {"zh-CN": "优先级", "en": "Priority"},
        "week.visits": {"zh-CN": "本周巡查次数", "en": "Visits this week"},
        "week.target": {"zh-CN": "目标次数", "en": "Target"},
        "week.overlap": {"zh-CN": "不同日巡逻的热点重合度", "en": "Stop overlap between days"},
        "week.prize_share": {"zh-CN": "相对最优路线的收益", "en": "Prize against the best route"},
        "week.shortfalls": {"zh-CN": "未达到的要求", "en": "Requirements not met"},
        "week.shortfalls.help": {
            "zh-CN": "要求：不同日重合度不超过 0.5，收益不低于最优路线的 95%，各热点巡查次数"
            "在目标的 ±10% 以内。注明“已证明”的项目在这些条件下任何计划都做不到。",
            "en": "Required: overlap between days at most 0.5, at least 95 % of the best"
            " route's prize, each hotspot's visits within ±10 % of its target. Items marked"
            " 'proved' cannot be met by any plan under these conditions.",
        },
        "week.note": {
            "zh-CN": "热点按近一年事件计算；目标次数按风险分配，使风险最高的热点巡查最多。",
            "en": "Hotspots come from the last year's incidents; targets share the visits by"
            " risk, so the riskiest hotspots are visited most.",
        },
        "weekday.0": {"zh-CN": "星期一", "en": "Monday"},
        "weekday.1": {"zh-CN": "星期二", "en": "Tuesday"},
        "weekday.2": {"zh-CN": "星期三", "en": "Wednesday"},
        "weekday.3": {"zh-CN": "星期四", "en": "Thursday"},
        "weekday.4": {"zh-CN": "星期五", "en": "Friday"},
        "weekday.5": {"zh-CN": "星期六", "en": "Saturday"},
        "weekday.6": {"zh-CN": "星期日", "en": "Sunday"},
        "coverage.title": {"zh-CN": "巡逻月度考核", "en": "Monthly patrol coverage"},
        "coverage.by.team": {"zh-CN": "巡逻队及村", "en": "Patrol team and village"},
        "coverage.by.village": {"zh-CN": "村/社区", "en": "Village"},
        "coverage.since": {"zh-CN": "起始月份", "en": "From month"},
        "coverage.until": {"zh-CN": "截止月份", "en": "To month"},
        "coverage.team": {"zh-CN": "巡逻队", "en": "Patrol team"},
        "coverage.no_plan": {"zh-CN": "（计划外路线）", "en": "(routes outside a plan)"},
        "coverage.planned": {"zh-CN": "计划巡逻", "en": "Planned"},
        "coverage.planned_walked": {"zh-CN": "已巡", "en": "Walked of planned"},
        "coverage.walked_share": {"zh-CN": "计划完成率", "en": "Share walked"},
        "coverage.walked": {"zh-CN": "上传轨迹", "en": "Tracks checked"},
        "coverage.checkpoints": {"zh-CN": "打卡点到达/应到", "en": "Checkpoints visited"},
        "coverage.checkpoint_share": {"zh-CN": "打卡率", "en": "Checkpoint share"},
        "coverage.dwell_ok": {"zh-CN": "停留达标", "en": "Stops long enough"},
        "coverage.lane_share": {"zh-CN": "巷道走到率", "en": "Lanes walked"},
        "coverage.none": {
            "zh-CN": "所选月份没有巡逻计划或轨迹",
            "en": "No planned or walked patrols in these months",
        },
        "coverage.formula": {
            "zh-CN": "计划完成率 = 有轨迹的计划巡逻数 ÷ 计划巡逻数；打卡率 = 到达的打卡点 ÷"
            " 应到打卡点；巷道走到率 = 走到的巷道长度 ÷ 全巷巡逻应走的巷道长度"
            "（巷道 60% 以上在轨迹 15 米内算走到）。按北京时间的月份统计。",
            "en": "Share walked = planned patrols with a track ÷ planned patrols; checkpoint"
            " share = checkpoints reached ÷ checkpoints; lanes walked = length of lanes walked ÷"
            " length assigned to full-cover walks (a lane counts when 60 % of it lies within"
            " 15 m of the track). Months are Beijing months.",
        },
    }
)
