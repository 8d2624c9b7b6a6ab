"""Open311 GeoReport v2: public reads show what any resident may see; keys post and,
with an area grant, read their areas in full; errors in the standard's format."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

from layers.db import make_engine
from layers.incidents.apikeys import create_api_key, find_api_key

WANGGE = Path(sys.executable).parent / "wangge"


@pytest.fixture
def make_key(demo_url):
    """``make_key(name, area)`` → a committed key, deleted after the test.

    Tests list it first, so that it is set up first and torn down last: a report
    filed with the key locks the key's row until the app's connection rolls back.
    """
    engine = make_engine(demo_url)
    names = []

    def make(name: str, area: str | None = None) -> str:
        with Session(engine) as s:
            token = create_api_key(s, name, area)
            s.commit()
        names.append(name)
        return token

    yield make
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM api_key WHERE name = ANY(:n)"), {"n": names})
    engine.dispose()


@pytest.fixture
def village_a(demo_app_connection) -> str:
    return demo_app_connection.execute(
        text(
            "SELECT v.code FROM user_account u JOIN user_grant g ON g.user_id = u.id"
            " JOIN village v ON v.id = g.village_id WHERE u.username = 'resident'"
        )
    ).scalar_one()


def test_services_in_json_and_xml(demo_app):
    client = demo_app.test_client()
    services = client.get("/open311/v2/services.json").get_json()
    codes = {s["service_code"] for s in services}
    assert {"0101", "0601"} <= codes
    assert all(s["type"] == "realtime" for s in services)
    xml = ET.fromstring(client.get("/open311/v2/services.xml").data)
    assert xml.tag == "services"
    assert len(xml.findall("service")) == len(services)
    one = client.get("/open311/v2/services/0101.json").get_json()
    assert one == {"service_code": "0101", "attributes": []}
    missing = client.get("/open311/v2/services/9999.json")
    assert missing.status_code == 404
    assert missing.get_json()[0]["code"] == 404


def test_public_requests_hide_police_disputes_and_exact_places(demo_app, clock):
    client = demo_app.test_client()
    rows = client.get(
        "/open311/v2/requests.json?start_date=2026-09-01T00:00:00Z&end_date=2026-10-31T00:00:00Z"
    ).get_json()
    assert rows
    assert not {r["service_code"][:2] for r in rows} & {"03", "04", "06"}
    assert all(round(r["lat"], 3) == r["lat"] and round(r["long"], 3) == r["long"] for r in rows)
    assert {r["status"] for r in rows} <= {"open", "closed"}
    assert all("reporter" not in r and "phone" not in r for r in rows)
    closed = client.get(
        "/open311/v2/requests.xml?status=closed&start_date=2026-09-01&end_date=2026-10-31"
    )
    statuses = {e.text for e in ET.fromstring(closed.data).iter("status")}
    assert statuses == {"closed"}
    too_long = client.get("/open311/v2/requests.json?start_date=2026-01-01&end_date=2026-10-31")
    assert too_long.status_code == 400
    assert too_long.get_json()[0]["code"] == 400


def test_posting_needs_a_key_and_reads_back(make_key, demo_app, places, clock):
    client = demo_app.test_client()
    form = {
        "service_code": "0101",
        "lat": str(places["a"][1]),
        "long": str(places["a"][0]),
        "description": "桥头垃圾，联系人电话13800138000",
        "phone": "13800138000",
    }
    refused = client.post("/open311/v2/requests.json", data=form)
    assert refused.status_code == 403
    assert refused.get_json()[0]["code"] == 403
    bad = client.post("/open311/v2/requests.json", data=form | {"api_key": "nope"})
    assert bad.status_code == 403
    key = make_key("o311-post")
    made = client.post("/open311/v2/requests.json", data=form | {"api_key": key})
    assert made.status_code == 201, made.get_json()
    code = made.get_json()[0]["service_request_id"]
    got = client.get(f"/open311/v2/requests/{code}.json").get_json()[0]
    assert got["status"] == "open"
    assert got["expected_datetime"]
    assert "13800138000" not in got["description"]
    assert "138****8000" in got["description"]
    assert "网格铁三角" in got["agency_responsible"]
    xml = ET.fromstring(client.get(f"/open311/v2/requests/{code}.xml").data)
    assert xml.find("request/service_request_id").text == code


@pytest.mark.parametrize(
    ("change", "status"),
    [
        ({"service_code": None}, 400),
        ({"service_code": "0999"}, 422),
        ({"description": None}, 400),
        ({"lat": "30.0", "long": "120.0"}, 422),
        ({"lat": None, "long": None, "address_string": "桥头村东"}, 400),  # not found
    ],
)
def test_bad_posts_answer_in_the_standards_format(
    make_key,
    demo_app,
    places,
    clock,
    change,
    status,
):
    key = make_key("o311-bad")
    form = {
        "api_key": key,
        "service_code": "0101",
        "lat": str(places["a"][1]),
        "long": str(places["a"][0]),
        "description": "x",
    }
    form = {k: v for k, v in (form | change).items() if v is not None}
    r = demo_app.test_client().post("/open311/v2/requests.xml", data=form)
    assert r.status_code == status
    error = ET.fromstring(r.data).find("error")
    assert error.find("code").text == str(status)
    assert error.find("description").text


@pytest.fixture
def addressed(demo_connection, village_a):
    """A household on a lane in village A, its lane and another village with that lane name."""
    return demo_connection.execute(
        text(
            """
            SELECT h.address, ST_X(h.geom) AS lon, ST_Y(h.geom) AS lat, v.name AS village,
                   l.name AS lane, l.id AS lane_id,
                   (SELECT o.name FROM lane ol JOIN village o ON o.id = ol.village_id
                    WHERE ol.name = l.name AND o.id <> v.id ORDER BY o.code LIMIT 1) AS other
            FROM household h JOIN village v ON v.id = h.village_id JOIN lane l ON l.id = h.lane_id
            WHERE v.code = :v AND EXISTS (SELECT 1 FROM lane x WHERE x.name = l.name
                                          AND x.village_id <> v.id)
            ORDER BY h.id LIMIT 1
            """
        ),
        {"v": village_a},
    ).one()


def _post_address(client, key: str, address: str, fmt: str = "json"):
    form = {"api_key": key, "service_code": "0101", "description": "垃圾堆放",
            "address_string": address}  # fmt: skip
    return client.post(f"/open311/v2/requests.{fmt}", data=form)


def test_an_address_alone_places_the_report(
    make_key, demo_app, demo_connection, village_a, addressed, clock
):
    client = demo_app.test_client()
    key = make_key("o311-address", village_a)  # an area key reads its reports in full
    number = addressed.address.removeprefix(addressed.village + addressed.lane)
    variants = [
        addressed.address,  # as stored
        # Province and town before it, 巷 for 胡同, full-width digits, spaces.
        "河北省演示镇" + addressed.village + " " + addressed.lane.replace("胡同", "巷") + " "
        + number.translate(str.maketrans("0123456789", "０１２３４５６７８９")),
    ]  # fmt: skip
    for address in variants:
        made = _post_address(client, key, address)
        assert made.status_code == 201, made.get_json()
        assert "按地址定位" in made.get_json()[0]["service_notice"]
        code = made.get_json()[0]["service_request_id"]
        got = client.get(f"/open311/v2/requests/{code}.json?api_key={key}").get_json()[0]
        assert (got["long"], got["lat"]) == (round(addressed.lon, 6), round(addressed.lat, 6))
        assert got["address"] == address.strip()
    # The lane without a number: a point on the lane.
    made = _post_address(client, key, addressed.village + addressed.lane)
    assert made.status_code == 201, made.get_json()
    code = made.get_json()[0]["service_request_id"]
    got = client.get(f"/open311/v2/requests/{code}.json?api_key={key}").get_json()[0]
    off = (
        demo_app.extensions["wangge.sessions"]()
        .execute(  # lanes are not under RLS
            text(
                "SELECT ST_Distance(geom::geography,"
                " ST_SetSRID(ST_MakePoint(:x, :y), 4490)::geography) FROM lane WHERE id = :id"
            ),
            {"x": got["long"], "y": got["lat"], "id": addressed.lane_id},
        )
        .scalar_one()
    )
    assert off < 1.0


def test_unknown_and_ambiguous_addresses_are_400_saying_what(make_key, demo_app, addressed, clock):
    client = demo_app.test_client()
    key = make_key("o311-address-bad")
    unknown = _post_address(client, key, "火星村幸福路99号")
    assert unknown.status_code == 400
    said = unknown.get_json()[0]
    assert said["code"] == 400
    assert said["description"].startswith("未能识别地址“火星村幸福路99号”")
    assert "not found" in said["description"]
    # The lane's name alone is found in two villages: name the village.
    ambiguous = _post_address(client, key, addressed.lane + "5号", fmt="xml")
    assert ambiguous.status_code == 400
    description = ET.fromstring(ambiguous.data).find("error/description").text
    assert f"“{addressed.lane}”在多个村/社区都有" in description
    assert addressed.village in description
    assert addressed.other in description
    no_house = _post_address(client, key, addressed.village + "东头")
    assert no_house.status_code == 400
    assert "东头" in no_house.get_json()[0]["description"]


def test_an_area_key_reads_its_areas_in_full(make_key, demo_app, village_a, clock):
    client = demo_app.test_client()
    key = make_key("o311-area", village_a)
    window = "start_date=2026-08-15T00:00:00Z&end_date=2026-10-31T00:00:00Z"
    keyed = client.get(f"/open311/v2/requests.json?api_key={key}&{window}").get_json()
    public = client.get(f"/open311/v2/requests.json?{window}").get_json()
    assert {r["service_code"] for r in keyed} & {"04", "06"}
    assert not {r["service_code"] for r in public} & {"04", "06"}
    assert any(round(r["lat"], 3) != r["lat"] for r in keyed)


def test_the_cli_creates_a_key_and_prints_it_last(demo_url, app_url_of, village_a, tmp_path):
    env = {
        **os.environ,
        "DATABASE_URL": demo_url,
        "WANGGE_APP_DATABASE_URL": app_url_of(demo_url),
        "WANGGE_VAR": str(tmp_path / "var"),
    }
    done = subprocess.run(
        [str(WANGGE), "apikey", "create", "o311-cli", "--area", village_a],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    engine = make_engine(demo_url)
    try:
        assert done.returncode == 0, done.stderr
        token = done.stdout.strip().splitlines()[-1]
        with Session(engine) as s:
            key = find_api_key(s, token)
        assert key is not None
        assert key.area[0] == "village"
        again = subprocess.run(
            [str(WANGGE), "apikey", "create", "o311-cli"],
            capture_output=True,
            text=True,
            env=env,
            timeout=120,
            check=False,
        )
        assert again.returncode != 0
        assert "exists" in again.stderr
    finally:
        with engine.begin() as conn:
            conn.execute(text("DELETE FROM api_key WHERE name = 'o311-cli'"))
        engine.dispose()
