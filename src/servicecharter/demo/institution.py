"""The demo institution: head office, six branches, their teams, and about 300 staff.

Everything here is plain data and pure functions of a ``random.Random``: the same seed gives the
same institution, whatever database it is written to.
"""

import random
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal

from servicecharter.accounts.choices import Role
from servicecharter.demo import names
from servicecharter.org.choices import DepartmentKind, StaffStatus

# Dates are counted back from a fixed day, not from today, so the data never drifts.
ANCHOR_DATE = date(2025, 12, 31)
EMAIL_DOMAIN = "bank.example"


@dataclass(frozen=True)
class City:
    code: str
    name_en: str
    name_zh: str
    city_zh: str  # as written in an address
    wage_factor: float  # local pay level relative to the national scale
    districts: tuple[tuple[str, str], ...]  # (GB/T 2260 area code, district name)
    customer_share: float  # share of the institution's customers whose home branch this is
    teams: tuple[str, ...]  # team kinds (keys of TEAM_KINDS)


CITIES = (
    City("BJ", "Beijing", "北京", "北京市", 1.25,
         (("110101", "东城区"), ("110102", "西城区"), ("110105", "朝阳区"),
          ("110106", "丰台区"), ("110108", "海淀区")),
         0.22, ("RET", "TEL", "WLT", "CRD", "LN", "PB")),
    City("SH", "Shanghai", "上海", "上海市", 1.28,
         (("310101", "黄浦区"), ("310104", "徐汇区"), ("310105", "长宁区"),
          ("310112", "闵行区"), ("310115", "浦东新区")),
         0.22, ("RET", "TEL", "WLT", "CRD", "LN", "SME")),
    City("GZ", "Guangzhou", "广州", "广州市", 1.10,
         (("440103", "荔湾区"), ("440104", "越秀区"), ("440105", "海珠区"),
          ("440106", "天河区"), ("440111", "白云区")),
         0.15, ("RET", "TEL", "WLT", "CRD", "SME")),
    City("SZ", "Shenzhen", "深圳", "深圳市", 1.20,
         (("440303", "罗湖区"), ("440304", "福田区"), ("440305", "南山区"),
          ("440306", "宝安区"), ("440307", "龙岗区")),
         0.15, ("RET", "TEL", "WLT", "CRD", "SME")),
    City("CD", "Chengdu", "成都", "成都市", 0.92,
         (("510104", "锦江区"), ("510105", "青羊区"), ("510106", "金牛区"),
          ("510107", "武侯区"), ("510108", "成华区")),
         0.13, ("RET", "TEL", "CRD", "LN")),
    City("HZ", "Hangzhou", "杭州", "杭州市", 1.12,
         (("330102", "上城区"), ("330105", "拱墅区"), ("330106", "西湖区"),
          ("330108", "滨江区"), ("330109", "萧山区")),
         0.13, ("RET", "WLT", "CRD", "LN")),
)  # fmt: skip

# Where people were born who now live elsewhere (first six digits of their identity number).
BIRTHPLACE_AREA_CODES = (
    "410102", "420102", "430102", "360102", "370102", "500103", "610102", "220102", "340102",
    "130102",
)  # fmt: skip


@dataclass(frozen=True)
class TeamKind:
    name_en: str
    name_zh: str
    size: int  # members besides the team leader
    positions: tuple[tuple[str, int, int], ...]  # (position, lowest grade, highest grade)
    female_share: float = 0.5


TEAM_KINDS = {
    "RET": TeamKind("Retail Counter", "零售柜台组", 9,
                    (("Teller", 1, 3), ("Senior Teller", 3, 4), ("Lobby Manager", 3, 5)), 0.62),
    "TEL": TeamKind("Phone Service Centre", "电话服务中心", 10,
                    (("Phone Service Agent", 1, 3), ("Senior Phone Agent", 3, 4),
                     ("Complaint Handler", 3, 5)), 0.65),
    "WLT": TeamKind("Wealth Management", "财富管理部", 6,
                    (("Wealth Adviser", 4, 6), ("Relationship Manager", 4, 7),
                     ("Product Specialist", 3, 5))),
    "CRD": TeamKind("Credit Cards", "信用卡部", 7,
                    (("Card Service Officer", 2, 4), ("Collections Officer", 2, 4),
                     ("Card Risk Analyst", 3, 6))),
    "LN": TeamKind("Personal Loans", "个人贷款部", 6,
                   (("Loan Officer", 3, 5), ("Credit Analyst", 3, 6), ("Loan Processor", 2, 4)),
                   0.45),
    "PB": TeamKind("Private Banking", "私人银行部", 5,
                   (("Private Banker", 6, 8), ("Investment Specialist", 5, 7))),
    "SME": TeamKind("Small Business Banking", "小微企业金融部", 6,
                    (("Business Relationship Manager", 4, 6), ("Credit Analyst", 3, 6)), 0.45),
}  # fmt: skip

# Head-office functions: (code suffix, English, Chinese, members, positions).
HEAD_OFFICE_FUNCTIONS = (
    ("CP", "Consumer Protection", "消费者权益保护部", 8,
     (("Complaints Officer", 4, 6), ("Consumer Protection Specialist", 4, 7))),
    ("CMP", "Compliance", "合规部", 6, (("Compliance Officer", 5, 7), ("Compliance Analyst", 3, 5))),
    ("HR", "Human Resources", "人力资源部", 6,
     (("HR Business Partner", 4, 6), ("Compensation Specialist", 4, 6), ("Training Manager", 4, 6))),
    ("QA", "Service Quality", "服务质量管理部", 7,
     (("Quality Auditor", 4, 6), ("Mystery Shopper Coordinator", 3, 5))),
    ("AUD", "Audit and Discipline Inspection", "审计与纪检监察部", 5,
     (("Investigator", 5, 7), ("Internal Auditor", 4, 7))),
    ("EXE", "Executive Office", "行长办公室", 4, (("Executive Assistant", 3, 5), ("Strategy Analyst", 4, 6))),
    ("IT", "Information Technology", "信息科技部", 8,
     (("Systems Administrator", 4, 6), ("Software Engineer", 4, 7), ("Data Analyst", 4, 6))),
)  # fmt: skip

# The demo accounts: username, role, the department whose staff member they are, the
# position to pick there (None: the first member), and the department of their role grant.
DEMO_ACCOUNTS = (
    ("agent", Role.AGENT, "BJ-RET", "Teller", "BJ-RET"),
    ("supervisor", Role.SUPERVISOR, "BJ", "Branch Service Manager", "BJ"),
    ("complaints", Role.COMPLAINTS_OFFICER, "HO-CP", "Complaints Officer", "HO"),
    ("quality", Role.QUALITY_AUDITOR, "HO-QA", "Quality Auditor", "HO"),
    ("compliance", Role.COMPLIANCE, "HO-CMP", "Compliance Officer", "HO"),
    ("hr", Role.HR, "HO-HR", "HR Business Partner", "HO"),
    ("investigator", Role.INVESTIGATOR, "HO-AUD", "Investigator", "HO"),
    ("executive", Role.EXECUTIVE, "HO", "Vice President", "HO"),
    ("admin", Role.ADMIN, "HO-IT", "Systems Administrator", "HO"),
)


@dataclass
class DepartmentSpec:
    code: str
    name_en: str
    name_zh: str
    kind: str
    parent_code: str | None
    city: City


@dataclass
class StaffSpec:
    employee_number: str
    name: str
    name_latin: str
    email: str
    department_code: str
    position: str
    grade: int
    base_wage: Decimal
    hire_date: date
    status: str
    extra: dict = field(default_factory=dict)


def departments() -> list[DepartmentSpec]:
    """The tree, parents before children."""
    beijing = CITIES[0]
    specs = [DepartmentSpec("HO", "Head Office", "总行", DepartmentKind.HEAD_OFFICE, None, beijing)]
    for suffix, name_en, name_zh, *_ in HEAD_OFFICE_FUNCTIONS:
        specs.append(
            DepartmentSpec(
                f"HO-{suffix}", name_en, f"总行{name_zh}", DepartmentKind.FUNCTION, "HO", beijing
            )
        )
    for city in CITIES:
        specs.append(
            DepartmentSpec(
                city.code,
                f"{city.name_en} Branch",
                f"{city.name_zh}分行",
                DepartmentKind.BRANCH,
                "HO",
                city,
            )
        )
        for team in city.teams:
            kind = TEAM_KINDS[team]
            specs.append(
                DepartmentSpec(
                    f"{city.code}-{team}",
                    f"{city.name_en} {kind.name_en}",
                    f"{city.name_zh}分行{kind.name_zh}",
                    DepartmentKind.TEAM,
                    city.code,
                    city,
                )
            )
    return specs


def monthly_wage(rng: random.Random, *, grade: int, city: City) -> Decimal:
    """Grade 1 earns about 5,200 CNY a month on the national scale; each grade about 22% more;
    the city's pay level and a ±8% personal spread on top. Rounded to 10 CNY."""
    amount = 5200 * 1.22 ** (grade - 1) * city.wage_factor * rng.uniform(0.92, 1.08)
    return (Decimal(amount) / 10).quantize(Decimal("1"), rounding=ROUND_HALF_UP) * 10


def hire_date(rng: random.Random, *, grade: int) -> date:
    """Higher grades have served longer, on the whole."""
    low_years = max(0.1, (grade - 2) * 1.2)
    high_years = min(30.0, grade * 2.6 + 1)
    return ANCHOR_DATE - timedelta(days=int(rng.uniform(low_years, high_years) * 365.25))


class _StaffFactory:
    def __init__(self, rng: random.Random):
        self.rng = rng
        self.next_number = 10001
        self.emails: set[str] = set()
        self.staff: list[StaffSpec] = []

    def add(self, dept: DepartmentSpec, position: str, grade: int, *, female_share=0.5,
            leader=False, may_be_foreign=False) -> StaffSpec:  # fmt: skip
        rng = self.rng
        female = rng.random() < female_share
        if may_be_foreign and rng.random() < 0.06:
            name = names.expatriate_name(rng, female=female)
            latin = email_name = name
        else:
            name, pinyin = names.chinese_name(rng, female=female)
            email_name = pinyin
            roll = rng.random()
            if roll < 0.25:
                latin = f"{names.english_given_name(rng, female=female)} {pinyin.split()[-1]}"
            elif roll < 0.9:
                latin = pinyin
            else:
                latin = ""
        status = StaffStatus.ACTIVE
        if not leader:
            roll = rng.random()
            status = (
                StaffStatus.SUSPENDED
                if roll < 0.02
                else StaffStatus.LEFT
                if roll < 0.05
                else StaffStatus.ACTIVE
            )
        spec = StaffSpec(
            employee_number=f"E{self.next_number:05d}",
            name=name,
            name_latin=latin,
            email=self._email(email_name),
            department_code=dept.code,
            position=position,
            grade=grade,
            base_wage=monthly_wage(rng, grade=grade, city=dept.city),
            hire_date=hire_date(rng, grade=grade),
            status=status,
        )
        self.next_number += 1
        self.staff.append(spec)
        return spec

    def _email(self, latin_name: str) -> str:
        local = names.email_local_part(latin_name) or f"staff{self.next_number}"
        candidate, suffix = local, 2
        while candidate in self.emails:
            candidate, suffix = f"{local}{suffix}", suffix + 1
        self.emails.add(candidate)
        return f"{candidate}@{EMAIL_DOMAIN}"

    def members(self, dept, positions, count, *, female_share=0.5, may_be_foreign=False):
        for _ in range(count):
            position, low, high = self.rng.choice(positions)
            self.add(dept, position, self.rng.randint(low, high), female_share=female_share,
                     may_be_foreign=may_be_foreign)  # fmt: skip


def staff(rng: random.Random, depts: list[DepartmentSpec]) -> list[StaffSpec]:
    """About 300 staff: leaders first in each department, then members."""
    factory = _StaffFactory(rng)
    by_code = {dept.code: dept for dept in depts}
    head = by_code["HO"]
    factory.add(head, "President", 12, leader=True)
    for _ in range(2):
        factory.add(head, "Vice President", 11, leader=True)
    factory.add(head, "Chief Risk Officer", 11, leader=True)
    for suffix, _en, _zh, size, positions in HEAD_OFFICE_FUNCTIONS:
        dept = by_code[f"HO-{suffix}"]
        factory.add(dept, "Head of Department", rng.randint(9, 10), leader=True)
        # Every position at least once, so each demo account finds its staff member.
        for position, low, high in positions:
            factory.add(dept, position, rng.randint(low, high), leader=True)
        factory.members(dept, positions, size - len(positions), may_be_foreign=True)
    for city in CITIES:
        branch = by_code[city.code]
        factory.add(branch, "Branch President", 10, leader=True)
        factory.add(branch, "Branch Vice President", 9, leader=True)
        factory.add(branch, "Branch Service Manager", 7, leader=True)
        for team in city.teams:
            kind = TEAM_KINDS[team]
            dept = by_code[f"{city.code}-{team}"]
            factory.add(dept, "Team Leader", rng.randint(6, 7), leader=True)
            first_position, low, high = kind.positions[0]
            factory.add(dept, first_position, rng.randint(low, high), leader=True)
            size = kind.size + rng.randint(-1, 1)
            factory.members(dept, kind.positions, size - 1, female_share=kind.female_share,
                            may_be_foreign=city.code in {"SH", "SZ"})  # fmt: skip
    return factory.staff


def demo_staff(staff_specs: list[StaffSpec]) -> dict[str, StaffSpec]:
    """username → the active staff member each demo account belongs to."""
    chosen = {}
    for username, _role, dept_code, position, _scope in DEMO_ACCOUNTS:
        chosen[username] = next(
            spec
            for spec in staff_specs
            if spec.department_code == dept_code
            and spec.position == position
            and spec.status == StaffStatus.ACTIVE
        )
    return chosen
