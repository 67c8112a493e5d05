"""Well-formed, fake identity data: resident identity numbers (GB 11643), unified social credit
codes (GB 32100), mainland mobile numbers and street addresses.

The numbers pass the check-digit rules that real systems apply, so imports, searches and masks
behave as they would with real data — but they are generated, not anybody's.
"""

import random
from datetime import date, timedelta

# GB 11643-1999: weights of the first 17 digits, and the check character for sum mod 11.
_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"

# GB 32100-2015: the 31 characters allowed and the weights of the first 17.
_USCC_CHARS = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_USCC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)


def id_check_digit(first17: str) -> str:
    total = sum(int(digit) * weight for digit, weight in zip(first17, _ID_WEIGHTS, strict=True))
    return _ID_CHECK[total % 11]


def is_valid_id_number(value: str) -> bool:
    """True when ``value`` is 18 characters, a real calendar birth date, and the right check."""
    if len(value) != 18 or not value[:17].isdigit():
        return False
    try:
        date(int(value[6:10]), int(value[10:12]), int(value[12:14]))
    except ValueError:
        return False
    return id_check_digit(value[:17]) == value[17].upper()


def id_number(rng: random.Random, *, area_code: str, birth: date, female: bool) -> str:
    """An 18-character resident identity number; the sequence is odd for men, even for women."""
    sequence = rng.randrange(0, 999)
    if (sequence % 2 == 0) != female:
        sequence += 1
    first17 = f"{area_code}{birth:%Y%m%d}{sequence:03d}"
    return first17 + id_check_digit(first17)


def uscc_check_char(first17: str) -> str:
    total = sum(
        _USCC_CHARS.index(char) * weight
        for char, weight in zip(first17, _USCC_WEIGHTS, strict=True)
    )
    return _USCC_CHARS[(31 - total % 31) % 31]


def is_valid_uscc(value: str) -> bool:
    if len(value) != 18 or any(char not in _USCC_CHARS for char in value):
        return False
    return uscc_check_char(value[:17]) == value[17]


def uscc(rng: random.Random, *, area_code: str) -> str:
    """A unified social credit code of an enterprise ('91': industry and commerce, company)."""
    organisation = "".join(rng.choice(_USCC_CHARS) for _ in range(9))
    first17 = f"91{area_code}{organisation}"
    return first17 + uscc_check_char(first17)


# Prefixes of the three mainland carriers.
_MOBILE_PREFIXES = [
    "134",
    "135",
    "136",
    "137",
    "138",
    "139",
    "147",
    "150",
    "151",
    "152",
    "157",
    "158",
    "159",
    "178",
    "182",
    "183",
    "187",
    "188",
    "198",
    "130",
    "131",
    "132",
    "155",
    "156",
    "166",
    "175",
    "176",
    "185",
    "186",
    "133",
    "149",
    "153",
    "173",
    "177",
    "180",
    "181",
    "189",
    "191",
    "199",
]


def mobile_number(rng: random.Random) -> str:
    return rng.choice(_MOBILE_PREFIXES) + f"{rng.randrange(10**8):08d}"


def birth_date(rng: random.Random, *, on: date, min_age: int, max_age: int) -> date:
    """A birth date of somebody aged ``min_age``..``max_age`` on the date ``on``."""
    youngest = on.replace(year=on.year - min_age)
    oldest = on.replace(year=on.year - max_age - 1) + timedelta(days=1)
    return oldest + timedelta(days=rng.randrange((youngest - oldest).days + 1))


_ROADS = [
    "人民路",
    "中山路",
    "解放路",
    "建设路",
    "和平路",
    "长江路",
    "新华路",
    "复兴路",
    "光明路",
    "胜利路",
    "青年路",
    "朝阳路",
    "滨江路",
    "文化路",
    "学府路",
    "东风路",
    "民生路",
    "江南大道",
    "科技园路",
    "金融街",
]


def street_address(rng: random.Random, *, city_zh: str, district_zh: str) -> str:
    """'北京市朝阳区建设路128号5栋2单元1203室'."""
    road = rng.choice(_ROADS)
    number = rng.randrange(1, 600)
    building = rng.randrange(1, 30)
    unit = rng.randrange(1, 6)
    room = f"{rng.randrange(1, 33)}{rng.randrange(1, 5):02d}"
    return f"{city_zh}{district_zh}{road}{number}号{building}栋{unit}单元{room}室"
