"""Demo customers across segments, tiers and branches, with well-formed personal data.

``customers`` yields one record at a time, so the same generator feeds the seed (20,000 rows)
and the import benchmark (100,000 rows in a CSV) without holding them all in memory.
"""

import itertools
import random
from collections.abc import Iterator
from dataclasses import dataclass

from servicecharter.demo import identity, names
from servicecharter.demo.institution import ANCHOR_DATE, BIRTHPLACE_AREA_CODES, CITIES, City
from servicecharter.org.choices import Channel, CustomerSegment

# segment: (share of customers, {tier: weight}, (min age, max age) or None for companies)
SEGMENTS = {
    CustomerSegment.RETAIL: (0.55, {"standard": 80, "silver": 17, "gold": 3}, (22, 60)),
    CustomerSegment.AFFLUENT: (0.10, {"silver": 30, "gold": 55, "platinum": 15}, (30, 65)),
    CustomerSegment.PRIVATE: (0.02, {"gold": 20, "platinum": 80}, (35, 75)),
    CustomerSegment.SMALL_BUSINESS: (0.07, {"standard": 50, "silver": 35, "gold": 15}, None),
    CustomerSegment.CORPORATE: (0.03, {"silver": 30, "gold": 45, "platinum": 25}, None),
    CustomerSegment.SENIOR: (0.15, {"standard": 60, "silver": 30, "gold": 10}, (60, 92)),
    CustomerSegment.STUDENT: (0.08, {"standard": 1}, (18, 24)),
}
_VULNERABLE_SHARE = {CustomerSegment.SENIOR: 0.18, CustomerSegment.STUDENT: 0.02}
_VULNERABILITIES = (
    ("听力障碍", "Hearing impairment"),
    ("视力障碍", "Visual impairment"),
    ("高龄独居", "Elderly, lives alone"),
    ("近期丧亲", "Recent bereavement"),
    ("读写能力有限", "Limited literacy"),
    ("重大疾病", "Serious illness"),
    ("经济困难", "Financial difficulty"),
    ("行动不便", "Reduced mobility"),
    ("认知障碍", "Cognitive impairment"),
)
_CHANNELS = {
    "default": {Channel.APP: 35, Channel.PHONE: 30, Channel.BRANCH: 20, Channel.CHAT: 8,
                Channel.EMAIL: 4, Channel.SOCIAL: 3},
    CustomerSegment.SENIOR: {Channel.BRANCH: 50, Channel.PHONE: 40, Channel.APP: 10},
    CustomerSegment.STUDENT: {Channel.APP: 70, Channel.CHAT: 15, Channel.SOCIAL: 15},
    CustomerSegment.CORPORATE: {Channel.EMAIL: 40, Channel.PHONE: 35, Channel.BRANCH: 25},
}  # fmt: skip
_COMPANY_WORDS = [
    "华信",
    "恒通",
    "鼎盛",
    "宏达",
    "锦程",
    "新元",
    "瑞丰",
    "天成",
    "中科",
    "金泰",
    "博远",
    "汇能",
    "嘉禾",
    "正阳",
    "东方",
]
_INDUSTRIES = [
    "科技",
    "贸易",
    "物流",
    "餐饮管理",
    "建筑工程",
    "文化传媒",
    "电子",
    "医药",
    "服装",
    "食品",
    "环保",
    "教育咨询",
]
_SHOPS = [
    "面馆",
    "便利店",
    "水果店",
    "五金店",
    "茶叶店",
    "干洗店",
    "花店",
    "药房",
    "烘焙坊",
    "眼镜店",
]
_EMAIL_DOMAINS = ("example.com", "example.cn", "example.net")


@dataclass
class CustomerSpec:
    customer_number: str
    name: str
    home_branch_code: str
    segment: str
    tier: str
    is_vulnerable: bool
    vulnerability_note: str
    preferred_language: str
    preferred_channel: str
    email: str
    id_number: str
    phone: str
    address: str


class _Weighted:
    """A weighted choice whose cumulative weights are computed once, not per draw."""

    def __init__(self, weights: dict):
        self.keys = [str(key) for key in weights]
        self.cum_weights = list(itertools.accumulate(weights.values()))

    def draw(self, rng: random.Random) -> str:
        return rng.choices(self.keys, cum_weights=self.cum_weights)[0]


_SEGMENT_DRAW = _Weighted({segment: share for segment, (share, _, _) in SEGMENTS.items()})
_TIER_DRAW = {str(segment): _Weighted(tiers) for segment, (_, tiers, _) in SEGMENTS.items()}
_AGES = {str(segment): ages for segment, (_, _, ages) in SEGMENTS.items()}
_CHANNEL_DRAW = {str(key): _Weighted(weights) for key, weights in _CHANNELS.items()}
_CITY_DRAW = _Weighted({index: city.customer_share for index, city in enumerate(CITIES)})
_VULNERABLE = {str(segment): share for segment, share in _VULNERABLE_SHARE.items()}


def _company_name(rng: random.Random, city: City, district: str, segment: str) -> str:
    if segment == CustomerSegment.SMALL_BUSINESS and rng.random() < 0.5:
        surname, _ = names.chinese_name(rng, female=False)
        return f"{city.name_zh}{district}{surname[0]}记{rng.choice(_SHOPS)}"
    return f"{city.name_zh}{rng.choice(_COMPANY_WORDS)}{rng.choice(_INDUSTRIES)}有限公司"


def customer(rng: random.Random, number: int) -> CustomerSpec:
    city = CITIES[int(_CITY_DRAW.draw(rng))]
    segment = _SEGMENT_DRAW.draw(rng)
    ages = _AGES[segment]
    area_code, district = rng.choice(city.districts)
    language = "en" if rng.random() < 0.05 else "zh-hans"
    if ages is None:
        name = _company_name(rng, city, district, segment)
        id_number = identity.uscc(rng, area_code=area_code)
        email_local, vulnerable_share = f"finance{rng.randrange(100, 999)}", 0.0
    else:
        female = rng.random() < 0.5
        name, pinyin = names.chinese_name(rng, female=female)
        # About one in four was born somewhere other than the city they bank in.
        born_in = rng.choice(BIRTHPLACE_AREA_CODES) if rng.random() < 0.25 else area_code
        birth = identity.birth_date(rng, on=ANCHOR_DATE, min_age=ages[0], max_age=ages[1])
        id_number = identity.id_number(rng, area_code=born_in, birth=birth, female=female)
        email_local = f"{names.email_local_part(pinyin).replace('.', '')}{rng.randrange(1, 999)}"
        vulnerable_share = _VULNERABLE.get(segment, 0.03)
    vulnerable = rng.random() < vulnerable_share
    note = ""
    if vulnerable:
        note_zh, note_en = rng.choice(_VULNERABILITIES)
        note = note_en if language == "en" else note_zh
    has_email = rng.random() < (0.9 if ages is None else 0.35)
    return CustomerSpec(
        customer_number=f"C{number:09d}",
        name=name,
        home_branch_code=city.code,
        segment=segment,
        tier=_TIER_DRAW[segment].draw(rng),
        is_vulnerable=vulnerable,
        vulnerability_note=note,
        preferred_language=language,
        preferred_channel=(_CHANNEL_DRAW.get(segment) or _CHANNEL_DRAW["default"]).draw(rng),
        email=f"{email_local}@{rng.choice(_EMAIL_DOMAINS)}" if has_email else "",
        id_number=id_number,
        phone=identity.mobile_number(rng),
        address=identity.street_address(rng, city_zh=city.city_zh, district_zh=district),
    )


def customers(rng: random.Random, count: int, *, first_number: int = 1) -> Iterator[CustomerSpec]:
    for number in range(first_number, first_number + count):
        yield customer(rng, number)
