"""The incident loop end to end on the demo township: filing, every transition and
exception, role guards, escalation on timeout with a manual clock, bad input."""

from __future__ import annotations

import io
import json
from datetime import datetime

import pytest
from PIL import Image
from sqlalchemy import text
from werkzeug.datastructures import FileStorage
from werkzeug.test import encode_multipart

from layers.incidents.sla import BEIJING


def png(size=(8, 8), colour=(200, 30, 30)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, colour).save(out, "PNG")
    return out.getvalue()


# -- filing ----------------------------------------------------------------------------------


def test_catalogue_has_two_levels_with_limits(signed_in):
    body = signed_in("resident").get("/api/incident-categories").get_json()
    tops = {c["code"]: c for c in body["categories"]}
    assert sorted(tops) == [f"0{i}" for i in range(1, 9)]
    assert all(c["children"] for c in tops.values())
    rubbish = next(c for c in tops["01"]["children"] if c["code"] == "0101")
    assert (rubbish["time_limit"], rubbish["time_unit"], rubbish["handler_level"]) == (
        4,
        "hour",
        "lane",
    )
    assert all(c["sensitive"] for c in tops["06"]["children"])
    assert all(c["police"] for c in tops["06"]["children"])


def test_only_the_town_admin_edits_the_catalogue(signed_in, post):
    admin, worker = signed_in("admin"), signed_in("worker_a")
    change = {"time_limit": 6, "time_unit": "hour"}
    headers = {"X-CSRF-Token": worker.csrf}
    assert (
        worker.put("/api/incident-categories/0101", json=change, headers=headers).status_code == 403
    )
    r = admin.put(
        "/api/incident-categories/0101", json=change, headers={"X-CSRF-Token": admin.csrf}
    )
    assert r.status_code == 200
    assert r.get_json()["time_limit"] == 6
    new = {
        "code": "0199",
        "name_zh": "其他",
        "name_en": "Other",
        "time_limit": 2,
        "time_unit": "day",
    }
    r = post(admin, "/api/incident-categories", new)
    assert r.status_code == 201
    assert r.get_json()["parent"] == "01"
    bad = admin.put(
        "/api/incident-categories/0101",
        json={"time_unit": "week"},
        headers={"X-CSRF-Token": admin.csrf},
    )
    assert bad.status_code == 400


def test_a_resident_files_and_reads_back_his_report(
    signed_in, places, clock, report, demo_app_connection
):
    resident = signed_in("resident")
    r = report(resident, places["a"])
    assert r.status_code == 201, r.get_json()
    body = r.get_json()
    assert body["status"] == "reported"
    assert body["level"] == "lane"
    # 4 working hours from Monday 09:00: 3 h to noon, 1 h after the lunch break.
    assert datetime.fromisoformat(body["due_at"]) == datetime(2026, 11, 2, 15, 0, tzinfo=BEIJING)
    assert set(body["team"]) <= {"community_police", "village_cadre", "grid_worker"}
    assert body["code"] == f"SJ20261102{body['id']:07d}"
    audited = demo_app_connection.execute(
        text(
            "SELECT actor_name, detail->>'status' FROM audit_log WHERE action = 'incident.report'"
            " AND object_id = :i"
        ),
        {"i": str(body["id"])},
    ).all()
    assert [tuple(a) for a in audited] == [("resident", "reported")]
    mine = resident.get("/api/incidents/mine").get_json()["reports"]
    assert [m["id"] for m in mine] == [body["id"]]
    one = resident.get(r.headers["Location"]).get_json()
    assert one["history"][0]["action"] == "report"
    # The map API stays scoped: a resident sees no incidents there, not even his own.
    assert resident.get(f"/api/incidents/{body['id']}").status_code == 404


def test_a_patrol_member_and_a_lane_captain_file_in_their_areas(signed_in, places, clock, report):
    assert report(signed_in("patrol"), places["a"]).status_code == 201
    assert report(signed_in("lane_captain"), places["lane"]).status_code == 201


def test_a_report_outside_the_reporters_area_is_refused(signed_in, places, clock, report):
    r = report(signed_in("resident"), places["b"])
    assert r.status_code == 422
    assert "片区" in r.get_json()["message"]


def test_a_retried_report_is_stored_once(signed_in, places, clock, report):
    resident = signed_in("resident")
    first = report(resident, places["a"], client_key="retry-key-0001")
    again = report(resident, places["a"], client_key="retry-key-0001")
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.get_json()["id"] == again.get_json()["id"]


def test_photos_are_stored_under_their_hash(signed_in, places, clock, demo_app):
    resident = signed_in("resident")
    photos = [(io.BytesIO(png()), "a.png"), (io.BytesIO(png(colour=(0, 0, 200))), "b.png")]
    data = {
        "category": "0101",
        "lon": str(places["a"][0]),
        "lat": str(places["a"][1]),
        "description": "垃圾",
        "photos": photos,
    }
    r = resident.post(
        "/api/incidents",
        data=data,
        content_type="multipart/form-data",
        headers={"X-CSRF-Token": resident.csrf},
    )
    assert r.status_code == 201, r.get_json()
    incident_id = r.get_json()["id"]
    uploads = demo_app.extensions["wangge.settings"].var / "uploads"
    stored = sorted(p.name for p in uploads.rglob("*.png"))
    assert len(stored) == 2
    sha = stored[0].removesuffix(".png")
    with resident.get(f"/api/incidents/{incident_id}/photos/{sha}") as got:
        assert got.status_code == 200
        assert got.data[:8] == b"\x89PNG\r\n\x1a\n"


# -- bad input -------------------------------------------------------------------------------


def test_a_place_outside_every_grid_names_the_nearest(signed_in, clock, report):
    r = report(signed_in("admin"), (120.0, 30.0))
    assert r.status_code == 422
    body = r.get_json()
    assert body["nearest_grid"]["code"]
    assert body["nearest_grid"]["code"] in body["message"]


@pytest.mark.parametrize(
    ("change", "status"),
    [
        ({"category": "0999"}, 422),
        ({"category": None}, 400),
        ({"description": "  "}, 400),
        ({"description": None}, 400),
        ({"lat": "north"}, 400),
        ({"lon": None}, 400),
        ({"lat": 91}, 400),
    ],
)
def test_bad_reports_are_clear_4xx(signed_in, places, clock, change, status, post):
    body = {"category": "0101", "lon": places["a"][0], "lat": places["a"][1], "description": "x"}
    body = {k: v for k, v in (body | change).items() if v is not None}
    r = post(signed_in("resident"), "/api/incidents", body)
    assert r.status_code == status
    assert r.get_json()["message"]


def _multipart(client, places, photo: bytes, name="p.jpg"):
    # Encoded in memory: the test client would spool a large body to an unclosed temp file.
    boundary, body = encode_multipart(
        {
            "category": "0101",
            "lon": str(places["a"][0]),
            "lat": str(places["a"][1]),
            "description": "x",
            "photos": FileStorage(io.BytesIO(photo), name),
        }
    )
    return client.post(
        "/api/incidents",
        data=body,
        content_type=f"multipart/form-data; boundary={boundary}",
        headers={"X-CSRF-Token": client.csrf},
    )


def test_a_20_mb_photo_is_413(signed_in, places, clock):
    r = _multipart(signed_in("resident"), places, b"\xff\xd8\xff" + b"\0" * (20 * 1024 * 1024))
    assert r.status_code == 413


def test_a_file_that_is_not_an_image_is_415(signed_in, places, clock):
    r = _multipart(signed_in("resident"), places, b"%PDF-1.4 not an image", "x.jpg")
    assert r.status_code == 415
    fake = _multipart(signed_in("resident"), places, b"\x89PNG\r\n\x1a\n" + b"junk" * 10, "y.png")
    assert fake.status_code == 415


def test_four_photos_are_refused(signed_in, places, clock):
    client = signed_in("resident")
    data = {
        "category": "0101",
        "lon": str(places["a"][0]),
        "lat": str(places["a"][1]),
        "description": "x",
        "photos": [(io.BytesIO(png(colour=(i, 0, 0))), f"{i}.png") for i in range(4)],
    }
    r = client.post(
        "/api/incidents",
        data=data,
        content_type="multipart/form-data",
        headers={"X-CSRF-Token": client.csrf},
    )
    assert r.status_code == 400


def test_deep_and_huge_json_bodies_are_refused(signed_in, clock):
    client = signed_in("resident")
    headers = {"X-CSRF-Token": client.csrf, "Content-Type": "application/json"}
    deep = client.post("/api/incidents", data="[" * 10_000 + "]" * 10_000, headers=headers)
    assert deep.status_code == 400
    big = json.dumps({"category": "0101", "description": "x" * (1024 * 1024 + 10)})
    assert client.post("/api/incidents", data=big, headers=headers).status_code == 413


# -- the loop --------------------------------------------------------------------------------


def test_an_incident_walks_through_every_status(
    signed_in, places, clock, demo_app_connection, report, act
):
    resident, worker, cadre, police = (
        signed_in(u) for u in ("resident", "worker_a", "cadre_a", "police_a")
    )
    r = report(resident, places["a"], draft=True)
    incident_id = r.get_json()["id"]
    assert r.get_json()["status"] == "draft"
    steps = [
        (resident, "submit", None, {}, "reported"),
        (worker, "accept", None, {}, "accepted"),
        (cadre, "dispatch", None, {}, "dispatched"),
        (worker, "return", "派错了 / wrong team", {}, "accepted"),
        (cadre, "dispatch", None, {}, "dispatched"),
        (worker, "start", None, {}, "in_progress"),
        (cadre, "park", "等待雨季过后 / after the rains", {}, "parked"),
        (worker, "resume", None, {}, "in_progress"),
        (cadre, "extend", "需要调车 / needs a truck", {"hours": 8}, "in_progress"),
        (worker, "handle", None, {}, "handled"),
        (cadre, "rework", "没清干净 / not clean", {}, "rework"),
        (worker, "start", None, {}, "in_progress"),
        (police, "handle", None, {}, "handled"),
        (cadre, "verify", None, {}, "verified"),
        (cadre, "close", None, {}, "closed"),
        (resident, "feedback", None, {"satisfaction": 4}, "feedback_done"),
    ]
    for client, action, note, params, expected in steps:
        clock.advance(minutes=30)
        r = act(client, incident_id, action, note, **params)
        assert r.status_code == 200, (action, r.get_json())
        assert r.get_json()["status"] == expected
    history = demo_app_connection.execute(
        text(
            "SELECT action, from_status, to_status, actor_user_id IS NOT NULL, at"
            " FROM incident_event WHERE incident_id = :i ORDER BY seq"
        ),
        {"i": incident_id},
    ).all()
    assert [h.action for h in history] == ["report"] + [s[1] for s in steps]
    assert all(h[3] for h in history)
    assert [h.at for h in history] == sorted(h.at for h in history)
    audited = demo_app_connection.execute(
        text("SELECT count(*) FROM audit_log WHERE object_type = 'incident' AND object_id = :i"),
        {"i": str(incident_id)},
    ).scalar_one()
    assert audited == len(steps) + 1
    mine = resident.get(f"/api/incidents/mine/{incident_id}").get_json()
    assert mine["satisfaction"] == 4
    assert mine["closed_at"]


def test_a_refused_transition_lists_the_allowed_ones(signed_in, places, clock, report, act):
    resident, worker = signed_in("resident"), signed_in("worker_a")
    incident_id = report(resident, places["a"]).get_json()["id"]
    r = act(worker, incident_id, "close")
    assert r.status_code == 409
    assert r.get_json()["allowed"] == ["accept", "reject", "merge", "escalate"]
    r = act(resident, incident_id, "accept")
    assert r.status_code == 403
    assert r.get_json()["allowed"] == ["merge"]
    assert act(worker, incident_id, "fly").status_code == 409
    # A note is required for a rejection.
    assert act(worker, incident_id, "reject").status_code == 400
    assert act(worker, incident_id, "reject", "不属于本网格 / not ours").status_code == 200
    assert act(worker, incident_id, "accept").status_code == 409
    # Another grid's team does not even see the case.
    assert act(signed_in("worker_b"), incident_id, "accept").status_code == 404


def test_the_handler_may_not_verify_his_own_work(signed_in, places, clock, report, act):
    cadre = signed_in("cadre_a")
    incident_id = report(signed_in("resident"), places["a"]).get_json()["id"]
    for action in ("accept", "dispatch", "start", "handle"):
        assert act(cadre, incident_id, action).status_code == 200
    r = act(cadre, incident_id, "verify")
    assert r.status_code == 403
    assert "rework" in r.get_json()["allowed"]


def test_a_stale_version_is_409(signed_in, places, clock, report, act):
    worker = signed_in("worker_a")
    incident_id = report(signed_in("resident"), places["a"]).get_json()["id"]
    assert act(worker, incident_id, "accept", version=1).status_code == 200
    assert act(worker, incident_id, "escalate", "太难 / too hard", version=1).status_code == 409


def test_a_second_extension_needs_the_town(signed_in, places, clock, report, act):
    cadre, admin = signed_in("cadre_a"), signed_in("admin")
    incident_id = report(signed_in("resident"), places["a"]).get_json()["id"]
    for action in ("accept", "dispatch", "start"):
        act(cadre, incident_id, action)
    first = act(cadre, incident_id, "extend", "等材料 / materials", hours=4)
    assert first.status_code == 200
    assert act(cadre, incident_id, "extend", "再等 / again", hours=4).status_code == 403
    assert act(admin, incident_id, "extend", "批准 / approved", hours=4).status_code == 200


# -- escalation and supervision ---------------------------------------------------------------


def test_overdue_cases_climb_one_level_per_timeout(
    signed_in, places, clock, demo_app_connection, post, report
):
    admin = signed_in("admin")
    incident_id = report(signed_in("resident"), places["a"]).get_json()["id"]
    assert post(admin, "/api/incidents/escalate-overdue").get_json()["escalated"] == []
    overdue = admin.get("/api/incidents/overdue").get_json()["features"]
    assert incident_id not in [f["id"] for f in overdue]
    levels = []
    for _ in range(4):
        clock.advance(days=2)
        escalated = post(admin, "/api/incidents/escalate-overdue").get_json()["escalated"]
        assert incident_id in escalated or levels[-1:] == ["county"]
        levels.append(
            demo_app_connection.execute(
                text("SELECT level FROM incident WHERE id = :i"), {"i": incident_id}
            ).scalar_one()
        )
    assert levels == ["village", "town", "county", "county"]
    reasons = demo_app_connection.execute(
        text(
            "SELECT detail->>'reason', actor_role FROM incident_event"
            " WHERE incident_id = :i AND action = 'escalate' ORDER BY seq"
        ),
        {"i": incident_id},
    ).all()
    assert reasons == [("timeout", "system")] * 3
    clock.advance(days=2)
    overdue = admin.get("/api/incidents/overdue").get_json()["features"]
    assert incident_id in [f["id"] for f in overdue]


def test_handlers_escalate_by_choice_within_their_level(signed_in, places, clock, report, act):
    captain, cadre, admin = signed_in("lane_captain"), signed_in("cadre_a"), signed_in("admin")
    incident_id = report(captain, places["lane"]).get_json()["id"]
    assert act(captain, incident_id, "escalate").status_code == 400  # the reason is required
    r = act(captain, incident_id, "escalate", "需要村里协调 / needs the village")
    assert r.status_code == 200
    assert r.get_json()["level"] == "village"
    # 小事不出村: a lane captain cannot lift a case out of the village.
    assert act(captain, incident_id, "escalate", "再升 / again").status_code == 403
    assert act(admin, incident_id, "escalate", "镇里处理 / town").get_json()["level"] == "town"
    assert act(cadre, incident_id, "escalate", "县里 / county").status_code in (403, 404)


def test_the_town_supervises(signed_in, places, clock, report, act):
    admin, worker = signed_in("admin"), signed_in("worker_a")
    incident_id = report(signed_in("resident"), places["a"]).get_json()["id"]
    assert act(worker, incident_id, "supervise", "快办 / hurry").status_code == 403
    r = act(admin, incident_id, "supervise", "限期办结 / close it this week")
    assert r.status_code == 200
    assert r.get_json()["status"] == "reported"


def test_the_report_pages_render(signed_in):
    client = signed_in("resident")
    page = client.get("/report")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert 'id="report-form"' in html
    assert "0101 暴露垃圾" in html
    assert "http://" not in html.replace("http://www.w3.org", "")
    assert client.get("/report/mine").status_code == 200
    grids = client.get("/report/grids.json").get_json()
    assert grids["features"]
