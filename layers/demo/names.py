"""Names and obviously fake personal data for the demo township.

Everything here is synthetic on purpose: person names carry "某某" and a serial,
phones use the unallocated-looking "199" block with a serial, and ID numbers use
the made-up region code 130999, so no row can be mistaken for a real person.
"""

from __future__ import annotations

import numpy as np

#: Common single-character surnames of the North China plain, most frequent first.
SURNAMES: tuple[str, ...] = tuple(
    "王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗梁宋郑谢韩唐冯于董萧程曹袁邓许傅沈曾彭吕"
    "苏卢蒋蔡贾丁魏薛叶阎余潘杜戴夏钟汪田任姜范方石姚谭廖邹熊金陆郝孔白崔康毛邱秦江史"
    "顾侯邵孟龙万段雷钱汤尹黎易常武乔贺赖龚文"
)

#: Suffixes of village names (庄, 屯, 营 ... are typical for Hebei).
_VILLAGE_SUFFIXES: tuple[str, ...] = (
    "庄",
    "家庄",
    "村",
    "屯",
    "营",
    "店",
    "集",
    "寨",
    "堡",
    "官",
    "口",
    "桥",
    "洼",
    "坊",
)
_VILLAGE_PREFIXES: tuple[str, ...] = ("", "东", "西", "南", "北", "前", "后", "大", "小", "新")
#: Lane names that do not use a clan surname.
_LANE_WORDS: tuple[str, ...] = (
    "和平",
    "幸福",
    "光明",
    "团结",
    "胜利",
    "建设",
    "友谊",
    "育才",
    "兴华",
    "振兴",
    "富强",
    "民主",
    "文化",
    "永安",
    "太平",
    "长寿",
    "丰收",
    "新华",
    "安乐",
    "顺心",
)
_DIGITS_ZH: tuple[str, ...] = ("", "一", "二", "三", "四", "五", "六", "七", "八", "九")

#: GB 11643-1999 weights and check characters.
_ID_WEIGHTS = np.array([7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2], dtype=np.int64)
_ID_CHECK = np.array(list("10X98765432"))

#: Region code of every fake ID: 13 = Hebei, 09 = Cangzhou, 99 = no such county.
FAKE_REGION = "130999"


def zh_number(n: int) -> str:
    """Write 1..99 in Chinese numerals (一, 十二, 三十五)."""
    if n < 10:
        return _DIGITS_ZH[n]
    tens, ones = divmod(n, 10)
    return ("" if tens == 1 else _DIGITS_ZH[tens]) + "十" + _DIGITS_ZH[ones]


def village_names(rng: np.random.Generator, n: int) -> list[str]:
    """Draw ``n`` distinct village names such as "东辛庄" (without the "村" suffix).

    Parameters
    ----------
    rng : numpy.random.Generator
        Source of randomness.
    n : int
        How many names; at most about 14,000 distinct ones exist.

    Returns
    -------
    list of str
        Names, unique, without the trailing "村".
    """
    # "辛庄" and a few other cores are the classic plain-village names; mix them in.
    cores = [*SURNAMES, "辛", "高", "杨", "柳", "槐", "杏", "榆", "桑"]
    names: list[str] = []
    seen: set[str] = set()
    while len(names) < n:
        pre = _VILLAGE_PREFIXES[rng.integers(len(_VILLAGE_PREFIXES))]
        core = cores[rng.integers(len(cores))]
        suf = _VILLAGE_SUFFIXES[rng.integers(len(_VILLAGE_SUFFIXES))]
        name = pre + core + suf
        # "家村" reads oddly and "村" is appended later, so avoid a doubled 村.
        if name in seen or name.endswith("村") or len(name) < 2:
            continue
        seen.add(name)
        names.append(name)
    return names


def lane_names(rng: np.random.Generator, n: int, lane_word: str) -> tuple[list[str], list[int]]:
    """Draw ``n`` lane names unique within one village.

    Parameters
    ----------
    rng : numpy.random.Generator
        Source of randomness.
    n : int
        Number of lanes.
    lane_word : str
        "胡同" or "巷", the village's habit.

    Returns
    -------
    names : list of str
        Lane names, e.g. "刘家胡同", "幸福巷", "北三巷".
    clan : list of int
        Index into :data:`SURNAMES` of the lane's clan, or -1 when the name has none.
    """
    surn = rng.permutation(len(SURNAMES))
    words = rng.permutation(len(_LANE_WORDS))
    pool: list[tuple[str, int]] = []
    # Mostly clan lanes (X家胡同), as in the sources' villages; some named by a word.
    n_word = min(len(words), max(0, round(n * 0.2)))
    pool += [(_LANE_WORDS[w] + lane_word, -1) for w in words[:n_word]]
    pool += [(SURNAMES[s] + "家" + lane_word, int(s)) for s in surn[: max(0, n - n_word)]]
    order = rng.permutation(len(pool))
    pool = [pool[i] for i in order]
    k = 1
    while len(pool) < n:  # very large villages run out of names: fall back to ordinals
        pool.append((f"{'东西南北'[k % 4]}{zh_number(k // 4 + 1)}{lane_word}", -1))
        k += 1
    return [p[0] for p in pool[:n]], [p[1] for p in pool[:n]]


def fake_names(surname_idx: np.ndarray, serial: np.ndarray) -> list[str]:
    """Person names: surname + "某某" + zero-padded serial (e.g. "王某某0173").

    Parameters
    ----------
    surname_idx : numpy.ndarray of int
        Index into :data:`SURNAMES` per person.
    serial : numpy.ndarray of int
        A serial unique per person.

    Returns
    -------
    list of str
    """
    width = max(4, len(str(int(serial.max(initial=0)))))
    return [f"{SURNAMES[s]}某某{n:0{width}d}" for s, n in zip(surname_idx, serial, strict=True)]


def fake_phones(serial: np.ndarray) -> list[str]:
    """Phones "199" + 8-digit serial (e.g. "19900012345")."""
    return [f"199{n:08d}" for n in serial]


def id_check_char(first17: str) -> str:
    """The GB 11643 check character of the first 17 digits of an ID number."""
    total = sum(int(c) * int(w) for c, w in zip(first17, _ID_WEIGHTS, strict=True))
    return str(_ID_CHECK[total % 11])


def fake_id_numbers(birth: np.ndarray, male: np.ndarray) -> list[str]:
    """18-character ID numbers with region 130999 and a valid check character.

    The 3-digit sequence is odd for men and even for women (as in GB 11643) and is
    numbered per birth date, so numbers are unique while fewer than 500 people of
    one sex share a birth date.

    Parameters
    ----------
    birth : numpy.ndarray of datetime64[D]
        Birth dates.
    male : numpy.ndarray of bool
        Sex per person.

    Returns
    -------
    list of str
    """
    n = len(birth)
    days = birth.astype("datetime64[D]").astype(np.int64)
    key = days * 2 + male.astype(np.int64)
    order = np.argsort(key, kind="stable")
    ks = key[order]
    start = np.r_[0, np.flatnonzero(np.diff(ks)) + 1]
    run = np.repeat(start, np.diff(np.r_[start, n]))
    rank = np.empty(n, dtype=np.int64)
    rank[order] = np.arange(n) - run
    if n and rank.max() >= 500:
        raise ValueError("more than 500 people of one sex share a birth date")
    seq = rank * 2 + male.astype(np.int64)  # odd = male
    ymd = np.char.replace(birth.astype("datetime64[D]").astype(str), "-", "")
    body = np.char.add(np.char.add(FAKE_REGION, ymd), np.char.zfill(seq.astype(str), 3))
    digits = np.frombuffer("".join(body.tolist()).encode("ascii"), dtype=np.uint8)
    digits = (digits.reshape(n, 17).astype(np.int64) - 48) if n else np.zeros((0, 17), np.int64)
    check = _ID_CHECK[(digits @ _ID_WEIGHTS) % 11]
    return np.char.add(body, check).tolist()
