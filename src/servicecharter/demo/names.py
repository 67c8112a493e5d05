"""Realistic personal names: Chinese names with their pinyin, and English names.

Surnames are weighted roughly by how common they are in mainland China, so a staff list looks
like a real one (many Wang, Li, Zhang; a few Ouyang).
"""

import itertools
import random

# (surname, pinyin, weight)
SURNAMES = [
    ("王", "Wang", 72), ("李", "Li", 70), ("张", "Zhang", 67), ("刘", "Liu", 54),
    ("陈", "Chen", 46), ("杨", "Yang", 34), ("黄", "Huang", 25), ("赵", "Zhao", 21),
    ("吴", "Wu", 20), ("周", "Zhou", 19), ("徐", "Xu", 15), ("孙", "Sun", 14),
    ("马", "Ma", 13), ("朱", "Zhu", 12), ("胡", "Hu", 12), ("郭", "Guo", 11),
    ("何", "He", 10), ("林", "Lin", 10), ("高", "Gao", 10), ("罗", "Luo", 9),
    ("郑", "Zheng", 9), ("梁", "Liang", 8), ("谢", "Xie", 7), ("宋", "Song", 7),
    ("唐", "Tang", 7), ("许", "Xu", 6), ("邓", "Deng", 6), ("韩", "Han", 6),
    ("冯", "Feng", 6), ("曹", "Cao", 6), ("彭", "Peng", 5), ("曾", "Zeng", 5),
    ("肖", "Xiao", 5), ("田", "Tian", 5), ("董", "Dong", 5), ("潘", "Pan", 4),
    ("袁", "Yuan", 4), ("蔡", "Cai", 4), ("蒋", "Jiang", 4), ("余", "Yu", 4),
    ("于", "Yu", 4), ("杜", "Du", 4), ("叶", "Ye", 4), ("程", "Cheng", 4),
    ("魏", "Wei", 4), ("苏", "Su", 3), ("吕", "Lyu", 3), ("丁", "Ding", 3),
    ("任", "Ren", 3), ("卢", "Lu", 3), ("沈", "Shen", 3), ("姚", "Yao", 3),
    ("钟", "Zhong", 3), ("姜", "Jiang", 3), ("崔", "Cui", 2), ("谭", "Tan", 2),
    ("陆", "Lu", 2), ("范", "Fan", 2), ("汪", "Wang", 2), ("廖", "Liao", 2),
    ("石", "Shi", 2), ("金", "Jin", 2), ("韦", "Wei", 2), ("贾", "Jia", 2),
    ("夏", "Xia", 2), ("付", "Fu", 2), ("方", "Fang", 2), ("邹", "Zou", 2),
    ("熊", "Xiong", 2), ("白", "Bai", 2), ("孟", "Meng", 2), ("秦", "Qin", 2),
    ("邱", "Qiu", 2), ("侯", "Hou", 2), ("江", "Jiang", 2), ("尹", "Yin", 2),
    ("欧阳", "Ouyang", 1), ("司马", "Sima", 1), ("上官", "Shangguan", 1), ("诸葛", "Zhuge", 1),
]  # fmt: skip

# Given-name characters with pinyin, by the gender they are more often given to.
GIVEN_MALE = [
    ("伟", "wei"), ("强", "qiang"), ("磊", "lei"), ("军", "jun"), ("洋", "yang"),
    ("勇", "yong"), ("杰", "jie"), ("涛", "tao"), ("明", "ming"), ("超", "chao"),
    ("鹏", "peng"), ("辉", "hui"), ("浩", "hao"), ("宇", "yu"), ("俊", "jun"),
    ("峰", "feng"), ("建", "jian"), ("国", "guo"), ("华", "hua"), ("志", "zhi"),
    ("文", "wen"), ("博", "bo"), ("子", "zi"), ("天", "tian"), ("晨", "chen"),
    ("轩", "xuan"), ("昊", "hao"), ("嘉", "jia"), ("睿", "rui"), ("鑫", "xin"),
    ("斌", "bin"), ("凯", "kai"), ("毅", "yi"), ("刚", "gang"), ("亮", "liang"),
    ("海", "hai"), ("东", "dong"), ("平", "ping"), ("振", "zhen"), ("泽", "ze"),
]  # fmt: skip
GIVEN_FEMALE = [
    ("芳", "fang"), ("娜", "na"), ("敏", "min"), ("静", "jing"), ("丽", "li"),
    ("艳", "yan"), ("娟", "juan"), ("霞", "xia"), ("婷", "ting"), ("雪", "xue"),
    ("慧", "hui"), ("玲", "ling"), ("欣", "xin"), ("怡", "yi"), ("琳", "lin"),
    ("颖", "ying"), ("倩", "qian"), ("佳", "jia"), ("梦", "meng"), ("雨", "yu"),
    ("诗", "shi"), ("晓", "xiao"), ("思", "si"), ("悦", "yue"), ("萱", "xuan"),
    ("婧", "jing"), ("蕾", "lei"), ("瑶", "yao"), ("薇", "wei"), ("丹", "dan"),
    ("红", "hong"), ("燕", "yan"), ("秀", "xiu"), ("英", "ying"), ("桂", "gui"),
    ("兰", "lan"), ("萍", "ping"), ("琪", "qi"), ("月", "yue"), ("珊", "shan"),
]  # fmt: skip

# English given names that Chinese staff often use at work, and names of expatriate staff.
ENGLISH_MALE = [
    "David", "Michael", "Kevin", "Jason", "Eric", "Tony", "Leo", "Daniel", "Frank", "Peter",
    "Andy", "Jack", "Vincent", "Henry", "Ryan", "Steven", "Alex", "Simon", "Oliver", "James",
]  # fmt: skip
ENGLISH_FEMALE = [
    "Emily", "Grace", "Linda", "Amy", "Cindy", "Helen", "Vivian", "Jessica", "Sophie", "Iris",
    "Cathy", "Joyce", "Sarah", "Rachel", "Anna", "Fiona", "Lily", "Claire", "Nancy", "Tina",
]  # fmt: skip
ENGLISH_SURNAMES = [
    "Smith", "Johnson", "Brown", "Taylor", "Wilson", "Clarke", "Walker", "Wright", "Green",
    "Hall", "Wood", "Evans", "Murphy", "Martin", "Müller", "Dubois", "Rossi", "Tanaka", "Kim",
    "Nguyen",
]  # fmt: skip


_SURNAME_CUM_WEIGHTS = list(itertools.accumulate(weight for *_, weight in SURNAMES))


def _weighted_surname(rng: random.Random) -> tuple[str, str]:
    surname, pinyin, _ = rng.choices(SURNAMES, cum_weights=_SURNAME_CUM_WEIGHTS)[0]
    return surname, pinyin


def chinese_name(rng: random.Random, *, female: bool) -> tuple[str, str]:
    """A Chinese full name and its pinyin in Western order, e.g. ('王晓明', 'Xiaoming Wang').
    About a third of given names have one character, the rest two."""
    surname, surname_pinyin = _weighted_surname(rng)
    pool = GIVEN_FEMALE if female else GIVEN_MALE
    count = 1 if rng.random() < 0.33 else 2
    chars = rng.sample(pool, count)
    given = "".join(c for c, _ in chars)
    given_pinyin = "".join(p for _, p in chars).capitalize()
    return surname + given, f"{given_pinyin} {surname_pinyin}"


def english_given_name(rng: random.Random, *, female: bool) -> str:
    return rng.choice(ENGLISH_FEMALE if female else ENGLISH_MALE)


def expatriate_name(rng: random.Random, *, female: bool) -> str:
    return f"{english_given_name(rng, female=female)} {rng.choice(ENGLISH_SURNAMES)}"


def email_local_part(latin_name: str) -> str:
    """'Xiaoming Wang' → 'xiaoming.wang' (ASCII only, for well-formed addresses)."""
    ascii_only = latin_name.replace("ü", "u").replace("Ü", "U").encode("ascii", "ignore").decode()
    return ".".join(part.lower() for part in ascii_only.split())
