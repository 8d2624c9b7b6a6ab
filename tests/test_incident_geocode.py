"""The offline geocoder: written addresses matched to our households, lanes and streets
(pure matching on a small gazetteer; the demo township through Open311 in test_open311)."""

from __future__ import annotations

import pytest

from layers.incidents.geocode import (
    AddressNotFound,
    Gazetteer,
    Village,
    Way,
    normalise,
    parse,
)

GAZ = Gazetteer(
    villages=(
        Village(1, "后潘庄村", "演示镇"),
        Village(2, "南万洼村", "演示镇"),
        Village(3, "西阎庄社区", "演示镇"),
        Village(4, "潘庄村", "别的镇"),
    ),
    ways=(
        Way("lane", 10, 1, "程家胡同"),
        Way("lane", 11, 1, "太平胡同"),
        Way("lane", 12, 2, "程家胡同"),
        Way("lane", 13, 3, "幸福巷"),
        Way("lane", 14, 2, "大程家胡同"),
        Way("street", 20, 1, "西大街"),
    ),
)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("后潘庄村程家胡同5号", "后潘庄村程家巷5号"),
        ("后潘庄村 程家巷 ５號", "后潘庄村程家巷5号"),  # full-width digit, spaces, 號
        ("后潘庄村程家弄十二号", "后潘庄村程家巷12号"),  # 弄 for 胡同, a Chinese numeral
        ("后潘庄村程家衖#7", "后潘庄村程家巷7号"),  # 衖 for 胡同, "#7" for 7号
        ("西阎庄社区，幸福巷（一百零五号）", "西阎庄社区幸福巷105号"),
        ("ＡＢＣ村　二十号", "abc村20号"),
    ],
)
def test_normalise_reads_the_usual_variants(raw, expected):
    assert normalise(raw) == expected


@pytest.mark.parametrize(
    "address",
    [
        "后潘庄村程家胡同5号",  # exactly as stored
        "河北省沧州市献县演示镇后潘庄村程家胡同5号",  # with province, county and town
        "后潘庄程家巷５號",  # without 村, 巷 for 胡同, full-width, traditional 號
        "后潘庄村 程家胡同 五号",
        "后潘庄村程家胡同5",  # no 号
    ],
)
def test_a_house_on_a_lane_in_its_variants(address):
    m = parse(GAZ, address)
    assert (m.village.id, m.way.id, m.number) == (1, 10, 5)


def test_a_lane_without_a_number_and_a_street():
    m = parse(GAZ, "后潘庄村太平胡同")
    assert (m.way.id, m.number) == (11, None)
    m = parse(GAZ, "后潘庄村西大街12号")
    assert (m.way.kind, m.way.id, m.number) == ("street", 20, 12)


def test_the_longest_name_wins():
    assert parse(GAZ, "南万洼村大程家胡同3号").way.id == 14
    assert parse(GAZ, "南万洼村程家胡同3号").way.id == 12
    # 潘庄村 (another town) lies inside 后潘庄村: the longer name is the one meant.
    assert parse(GAZ, "后潘庄村1号").village.id == 1
    assert parse(GAZ, "别的镇潘庄村1号").village.id == 4


def test_a_unique_lane_finds_its_village():
    m = parse(GAZ, "幸福巷8号")
    assert (m.village.id, m.way.id, m.number) == (3, 13, 8)


def test_a_house_off_the_lanes():
    m = parse(GAZ, "南万洼村17号")
    assert (m.village.id, m.way, m.number) == (2, None, 17)


@pytest.mark.parametrize(
    ("address", "said"),
    [
        ("火星村幸福路99号", ["未能识别地址", "没有找到村/社区名", "not found"]),
        ("后潘庄村东头", ["在后潘庄村没有找到“东头”", "no lane, street or house number"]),
        (
            "程家胡同5号",
            ["“程家胡同”在多个村/社区都有", "后潘庄村", "南万洼村", "name the village"],
        ),
        ("后潘庄村和南万洼村之间", ["含有多个村/社区", "several villages"]),
        ("  ，。 ", ["地址为空", "empty"]),
    ],
)
def test_unknown_and_ambiguous_addresses_say_what_was_not_found(address, said):
    with pytest.raises(AddressNotFound) as refused:
        parse(GAZ, address)
    message = refused.value.message
    assert refused.value.field == "address_string"
    for part in said:
        assert part in message
    # Chinese first, then English.
    assert " / " in message
    assert message.index(" / ") > 0
