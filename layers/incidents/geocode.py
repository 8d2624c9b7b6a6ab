"""Offline geocoding of written addresses from our own data: households, lanes, streets.

There is no geocoding service on an offline intranet, but the database knows every
household's address (``后潘庄村程家胡同5号``), every lane and street by name and the
villages they lie in. An Open311 ``address_string`` is matched against them:

1. the text is normalised: full-width → half-width (NFKC), spaces and punctuation
   dropped, traditional forms (號, 衖) and ``#`` read as 号/弄, Chinese numerals
   before 号 read as digits (十二号 → 12号, #7 → 7号), and the lane words 胡同/巷/弄/条 read
   as one, so that 程家巷5号 finds 程家胡同5号;
2. the village is the longest village name found in it (with or without 村/社区),
   anything before it (province, county, town) is ignored;
3. the rest is a household's address in that village (→ its point), or names a lane
   or street (→ the household with that number on it, else a point on the lane).

Without a village name a lane name must be unique in the town; an address naming
several villages or a lane found in several is *ambiguous*, and one whose village
or lane is not found is *unknown*: both raise :class:`AddressNotFound` (400) with a
Chinese-then-English description of what was not found.

:func:`parse` is pure (a :class:`Gazetteer` in, a :class:`Match` out);
:func:`geocode` reads the gazetteer and the household points. Households are under
row-level security: the caller decides in which scope they are read.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field

from sqlalchemy import text
from sqlalchemy.orm import Session

from layers.errors import Invalid

#: Words for a lane, read as one (the first is the canonical one).
LANE_WORDS = ("巷", "胡同", "弄", "条")
_LANE_WORD = re.compile("|".join(sorted(LANE_WORDS, key=len, reverse=True)))
#: Endings of a village's name that people often leave out.
_VILLAGE_ENDINGS = ("社区", "居委会", "村委会", "村")
_DROP = re.compile(r"[\s,，。.、;；:：()（）\[\]【】<>《》'\"“”‘’/\\|]+")
_CN_DIGITS = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5,
              "六": 6, "七": 7, "八": 8, "九": 9}  # fmt: skip
_CN_NUMBER = re.compile(r"([零〇一二两三四五六七八九十百]+)号")
_NUMBER = re.compile(r"^(\d{1,5})号?")
MAX_ADDRESS = 300


class AddressNotFound(Invalid):
    """The address is unknown or ambiguous (400); the message says what was not found."""


@dataclass(frozen=True)
class Village:
    id: int
    name: str
    town: str


@dataclass(frozen=True)
class Way:
    """A lane or a street: ``kind`` is ``lane`` or ``street``."""

    kind: str
    id: int
    village_id: int
    name: str


@dataclass(frozen=True)
class Gazetteer:
    """The names an address is matched against (one or several towns)."""

    villages: tuple[Village, ...]
    ways: tuple[Way, ...]
    _village_by_id: dict[int, Village] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_village_by_id", {v.id: v for v in self.villages})

    def village(self, village_id: int) -> Village:
        return self._village_by_id[village_id]


@dataclass(frozen=True)
class Match:
    """What an address names: a village, maybe a lane or street, maybe a house number.

    ``rest`` is the canonical text after the village name (for exact household matches).
    """

    village: Village
    way: Way | None
    number: int | None
    rest: str


@dataclass(frozen=True)
class Place:
    """Where an address lies: ``precision`` is ``household`` or ``lane`` (a lane or street)."""

    lon: float
    lat: float
    precision: str
    label: str


def _cn_number(s: str) -> int | None:
    """A Chinese numeral up to 999 (十二 → 12, 一百零五 → 105), or None if malformed."""
    total, digit = 0, None
    for ch in s:
        if ch in _CN_DIGITS:
            digit = _CN_DIGITS[ch]
        elif ch in "十百":
            unit = 10 if ch == "十" else 100
            total += (1 if digit is None else digit) * unit
            digit = None
        else:
            return None
    return total + (digit or 0)


def normalise(address: str) -> str:
    """The address in the form the matching compares (see the module docstring, step 1).

    Examples
    --------
    >>> normalise("后潘庄村 程家巷 １２號")
    '后潘庄村程家巷12号'
    >>> normalise("后潘庄村程家胡同十二号")
    '后潘庄村程家巷12号'
    """
    s = unicodedata.normalize("NFKC", address).translate({ord("號"): "号", ord("衖"): "弄"})
    s = _DROP.sub("", s).replace("门牌", "")
    s = re.sub(r"#(\d+)", r"\1号", s).replace("#", "")  # "#7": number 7
    s = _CN_NUMBER.sub(lambda m: f"{n}号" if (n := _cn_number(m[1])) else m[0], s)
    return _LANE_WORD.sub(LANE_WORDS[0], s).lower()


def _village_forms(v: Village) -> list[str]:
    full = normalise(v.name)
    forms = [full]
    for ending in _VILLAGE_ENDINGS:
        if full.endswith(ending) and len(full) - len(ending) >= 2:
            forms.append(full[: -len(ending)])
            break
    return forms


def _names(items: list[Village]) -> str:
    return "、".join(sorted({v.name for v in items}))


def parse(gazetteer: Gazetteer, address: str) -> Match:
    """Find the village, lane or street and house number an address names.

    Raises
    ------
    AddressNotFound
        Nothing known is named, the village has no such lane or house, or the
        address is ambiguous (several villages, or a lane in several villages
        and no village named). The message lists what was not found.
    """
    n = normalise(address)
    if not n:
        raise AddressNotFound("地址为空 / the address is empty", "address_string")
    towns = {normalise(v.town) for v in gazetteer.villages if normalise(v.town) in n}
    villages = [v for v in gazetteer.villages if not towns or normalise(v.town) in towns]
    # Every mention of a village, longest first; shorter ones inside a longer one drop out.
    mentions = sorted(
        ((n.find(f), len(f), v) for v in villages for f in _village_forms(v) if f in n),
        key=lambda m: (-m[1], m[0]),
    )
    chosen: list[tuple[int, int, Village]] = []
    for start, length, v in mentions:
        if all(start + length <= s or start >= s + ln for s, ln, _ in chosen):
            chosen.append((start, length, v))
    if len({v.id for *_, v in chosen}) > 1:
        raise AddressNotFound(
            f"地址“{address}”含有多个村/社区：{_names([v for *_, v in chosen])}"
            " / the address names several villages",
            "address_string",
        )
    village = chosen[0][2] if chosen else None
    rest = n[chosen[0][0] + chosen[0][1] :] if chosen else n

    ways = [w for w in gazetteer.ways if village is None or w.village_id == village.id]
    if village is None:
        ways = [w for w in ways if gazetteer.village(w.village_id) in villages]
    found = [(rest.find(c), len(c), w) for w in ways if (c := normalise(w.name)) and c in rest]
    if found:
        longest = max(length for _, length, _ in found)
        best = [(s, w) for s, length, w in found if length == longest]
        places = {w.village_id for _, w in best}
        if len(places) > 1:
            named = [gazetteer.village(i) for i in places]
            raise AddressNotFound(
                f"“{best[0][1].name}”在多个村/社区都有：{_names(named)}，请写明村名"
                f" / “{best[0][1].name}” exists in several villages ({_names(named)}):"
                " name the village",
                "address_string",
            )
        start, way = min(best, key=lambda b: (b[1].kind != "lane", b[0]))
        village = gazetteer.village(way.village_id)
        after = rest[start + longest :]
        number = _NUMBER.match(after)
        return Match(village, way, int(number[1]) if number else None, rest)
    if village is None:
        raise AddressNotFound(
            f"未能识别地址“{address}”：没有找到村/社区名，也没有找到胡同、巷或街名"
            " / address not found: neither a village nor a lane or street name was recognised",
            "address_string",
        )
    number = _NUMBER.match(rest)
    if number is None or number.end() < len(rest):
        what = rest or "（未写）"
        raise AddressNotFound(
            f"在{village.name}没有找到“{what}”对应的胡同、巷、街或门牌"
            f" / no lane, street or house number “{what}” found in {village.name}",
            "address_string",
        )
    return Match(village, None, int(number[1]), rest)


def load_gazetteer(session: Session) -> Gazetteer:
    """Villages (with their town's name), lanes and streets; none of them is personal data."""
    villages = tuple(
        Village(r.id, r.name, r.town)
        for r in session.execute(
            text(
                "SELECT v.id, v.name, t.name AS town FROM village v JOIN town t ON t.id = v.town_id"
            )
        )
    )
    ways = tuple(
        Way(r.kind, r.id, r.village_id, r.name)
        for r in session.execute(
            text(
                "SELECT 'lane' AS kind, id, village_id, name FROM lane"
                " UNION ALL SELECT 'street', id, village_id, name FROM street ORDER BY 1, 2"
            )
        )
    )
    return Gazetteer(villages, ways)


def _house_number(address: str) -> int | None:
    m = re.search(r"(\d{1,5})号$", normalise(address))
    return int(m[1]) if m else None


def geocode(session: Session, address: str, gazetteer: Gazetteer | None = None) -> Place:
    """The point of a written address: a household's, else one on the named lane or street.

    ``session`` must be able to read the households of the town (they are under
    row-level security): the caller chooses that scope. Only the point and the
    matched address come back, never anything about the household's people.

    Raises
    ------
    AddressNotFound
        Unknown or ambiguous (see :func:`parse`).
    """
    if len(address) > MAX_ADDRESS:
        raise AddressNotFound(
            f"地址超过 {MAX_ADDRESS} 字 / the address is over {MAX_ADDRESS} characters",
            "address_string",
        )
    match = parse(gazetteer or load_gazetteer(session), address)
    houses = session.execute(
        text(
            "SELECT address, lane_id, ST_X(geom) AS lon, ST_Y(geom) AS lat FROM household"
            " WHERE village_id = :v ORDER BY id"
        ),
        {"v": match.village.id},
    ).all()
    wanted = normalise(match.village.name) + match.rest
    if match.number is not None and not wanted.endswith("号"):
        wanted += "号"
    for h in houses:
        if normalise(h.address) == wanted:
            return Place(h.lon, h.lat, "household", h.address)
    if match.way is None:
        raise AddressNotFound(
            f"在{match.village.name}没有找到门牌“{match.number}号”"
            f" / no house number {match.number} in {match.village.name}",
            "address_string",
        )
    if match.number is not None and match.way.kind == "lane":
        for h in houses:
            if h.lane_id == match.way.id and _house_number(h.address) == match.number:
                return Place(h.lon, h.lat, "household", h.address)
    # The middle of the lane's (or street's) first line; a lane drawn only as a block: inside it.
    table = "lane" if match.way.kind == "lane" else "street"
    shape = "coalesce(geom, area)" if table == "lane" else "geom"
    lon, lat = session.execute(
        text(
            f"SELECT ST_X(p), ST_Y(p) FROM (SELECT CASE WHEN geom IS NOT NULL"
            f" THEN ST_LineInterpolatePoint(ST_GeometryN(geom, 1), 0.5)"
            f" ELSE ST_PointOnSurface({shape}) END AS p FROM {table} WHERE id = :id) s"
        ),
        {"id": match.way.id},
    ).one()
    return Place(lon, lat, "lane", f"{match.village.name}{match.way.name}")
