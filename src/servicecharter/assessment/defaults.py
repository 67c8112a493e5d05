"""The default scheme every installation starts with (a data migration writes it; HR edits it
into new versions in the scheme editor)."""

DEFAULT_SCHEME_CODE = "default"
DEFAULT_SCHEME_NAMES = ("Service assessment", "服务考核")
# (kpi, weight, minimum sample)
DEFAULT_KPIS = (
    ("csat", 20, 10),
    ("nps", 10, 10),
    ("complaints_per_1000", 10, 100),
    ("complaint_timeliness", 15, 3),
    ("upheld_complaints", 10, 100),
    ("qa_score", 15, 3),
    ("attitude", 10, 3),
    ("standard_adherence", 10, 50),
    ("training", 5, 1),
)
DEFAULT_THRESHOLDS = {
    "excellent_from": 85,
    "good_from": 65,
    "meets_from": 35,
    "needs_improvement_from": 15,
}
DEFAULT_MIN_KPIS = 3
DEFAULT_MIN_PEERS = 5
