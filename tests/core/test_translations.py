"""The Simplified Chinese catalogue: complete, placeholders intact, compiled, and really used —
a user who chose Chinese (or a visitor whose browser asks for it) reads Chinese pages."""

import ast
import gettext
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from django.urls import reverse
from django.utils import translation

import servicecharter
from servicecharter.org.choices import Language

LC_MESSAGES = Path(servicecharter.__file__).parent / "locale" / "zh_Hans" / "LC_MESSAGES"
PO_FILE = LC_MESSAGES / "django.po"
MO_FILE = LC_MESSAGES / "django.mo"

# Python %-format (with or without a name, width, precision) and str.format fields.
PLACEHOLDER = re.compile(
    r"%\([^)]+\)[-#0 +]*\d*(?:\.\d+)?[a-zA-Z]|%[-#0 +]*\d*(?:\.\d+)?[sdifr]|\{[^{}]*\}"
)
HTML_TAG = re.compile(r"</?[a-zA-Z][^>]*>")
LATIN_WORD = re.compile(r"[A-Za-z]{4,}")


def parse_po(path: Path) -> list[dict]:
    """Entries of a .po file as dicts: msgctxt, msgid, msgid_plural, msgstr / msgstr[n], flags.
    Small on purpose, so the test needs nothing beyond the standard library."""
    entries, entry, field = [], {"flags": set()}, None
    for line in [*path.read_text(encoding="utf-8").splitlines(), ""]:
        if not line.strip():
            if "msgid" in entry:
                entries.append(entry)
            entry, field = {"flags": set()}, None
        elif line.startswith("#,"):
            entry["flags"] |= {flag.strip() for flag in line[2:].split(",")}
        elif line.startswith("#"):
            continue
        elif line.startswith('"'):
            entry[field] += ast.literal_eval(line)
        else:
            field, _, value = line.partition(" ")
            entry[field] = ast.literal_eval(value)
    return entries


def translations(entry: dict) -> list[str]:
    return [value for key, value in entry.items() if key.startswith("msgstr")]


@pytest.fixture(scope="module")
def entries() -> list[dict]:
    parsed = parse_po(PO_FILE)
    header, messages = parsed[0], parsed[1:]
    assert header["msgid"] == ""
    assert "Plural-Forms: nplurals=1; plural=0;" in header["msgstr"]
    assert "fuzzy" not in header["flags"]
    return messages


def test_catalogue_is_large_enough_to_be_the_real_one(entries):
    assert len(entries) > 500


def test_no_entry_is_untranslated_or_fuzzy(entries):
    untranslated = [e["msgid"] for e in entries if not all(translations(e))]
    fuzzy = [e["msgid"] for e in entries if "fuzzy" in e["flags"]]
    assert untranslated == []
    assert fuzzy == []


def test_plural_entries_have_the_single_chinese_form(entries):
    plurals = [e for e in entries if "msgid_plural" in e]
    assert plurals, "the catalogue has plural entries"
    for entry in plurals:
        assert set(k for k in entry if k.startswith("msgstr")) == {"msgstr[0]"}, entry["msgid"]


def placeholders(text: str) -> set[str]:
    # "%%" and doubled braces are escapes for a literal % or brace, not placeholders.
    for escape in ("%%", "{{", "}}"):
        text = text.replace(escape, "")
    return set(PLACEHOLDER.findall(text))


def test_placeholders_and_html_tags_are_kept(entries):
    wrong = []
    for entry in entries:
        source = entry["msgid"] + entry.get("msgid_plural", "")
        for text in translations(entry):
            if placeholders(text) != placeholders(source):
                wrong.append(("placeholder", entry["msgid"], text))
            if sorted(HTML_TAG.findall(text)) != sorted(HTML_TAG.findall(entry["msgid"])):
                wrong.append(("html", entry["msgid"], text))
    assert wrong == []


def test_translations_are_chinese_not_copied_english(entries):
    """Every message with English words in it comes back with Chinese characters in it."""
    copied = [
        e["msgid"]
        for e in entries
        if LATIN_WORD.search(e["msgid"])
        and not any(re.search(r"[\u4e00-\u9fff]", text) for text in translations(e))
        and e["msgid"] not in {"CSV", "XLSX"}
    ]
    assert copied == []


def test_msgfmt_counts_only_translated_messages(entries):
    assert shutil.which("msgfmt"), "gettext (msgfmt) is needed to compile the catalogue"
    result = subprocess.run(
        ["msgfmt", "--check", "--statistics", "-o", "/dev/null", str(PO_FILE)],
        capture_output=True,
        text=True,
        check=True,
    )
    statistics = result.stderr.strip().splitlines()[-1]
    assert statistics == f"{len(entries)} translated messages."


def test_compiled_catalogue_matches_the_po_file(entries):
    """The committed .mo is what Django reads: it must hold every current translation."""
    with MO_FILE.open("rb") as handle:
        compiled = gettext.GNUTranslations(handle)
    stale = []
    for entry in entries:
        context, msgid = entry.get("msgctxt"), entry["msgid"]
        if "msgid_plural" in entry:
            want = entry["msgstr[0]"]
            got = (
                compiled.npgettext(context, msgid, entry["msgid_plural"], 2)
                if context
                else compiled.ngettext(msgid, entry["msgid_plural"], 2)
            )
        else:
            want = entry["msgstr"]
            got = compiled.pgettext(context, msgid) if context else compiled.gettext(msgid)
        if got != want:
            stale.append(msgid)
    assert stale == []


def test_django_uses_the_catalogue_for_zh_hans():
    with translation.override("zh-hans"):
        assert translation.gettext("Sign out") == "退出登录"
        assert translation.gettext("Complaints officer") == "投诉专员"
        assert (
            translation.ngettext("%(counter)s row imported.", "%(counter)s rows imported.", 5)
            % {"counter": 5}
            == "已导入 5 行。"
        )
    with translation.override("en"):
        assert translation.gettext("Sign out") == "Sign out"


def test_django_messages_missing_from_djangos_own_catalogue_are_translated_by_ours():
    """Django 6.1 added the empty choice of select boxes after its zh_Hans catalogue was made.
    Ours carries it; `makemessages --no-obsolete` drops it, so re-add it after running that."""
    with translation.override("zh-hans"):
        assert translation.gettext("- Select an option -") == "- 请选择 -"


def _chinese_user(user):
    user.language = Language.ZH_HANS
    user.save(update_fields=["language"])
    return user


def test_home_page_in_chinese(client, bj_supervisor):
    client.force_login(_chinese_user(bj_supervisor))
    page = client.get(reverse("home")).content.decode()
    assert '<html lang="zh-hans">' in page
    for text in ("首页", "员工", "客户", "我的账户", "退出登录", "欢迎您", "服务章程"):
        assert text in page, text
    assert "Sign out" not in page
    assert "My account" not in page


def test_staff_list_in_chinese(client, bj_supervisor):
    client.force_login(_chinese_user(bj_supervisor))
    page = client.get(reverse("org:staff_list")).content.decode()
    for text in ("<h1>员工</h1>", "工号", "职级", "月基本工资", "部门", "导出当前筛选结果"):
        assert text in page, text
    assert "Employee number" not in page


def test_create_form_in_chinese(client, admin_user):
    client.force_login(_chinese_user(admin_user))
    page = client.get(reverse("org:staff_create")).content.decode()
    for text in ("工号", "入职日期", "- 请选择 -"):
        assert text in page, text
    assert "Select an option" not in page


def test_the_same_supervisor_in_english_sees_english(client, bj_supervisor):
    client.force_login(bj_supervisor)
    page = client.get(reverse("org:staff_list")).content.decode()
    assert "<h1>Staff</h1>" in page
    assert "工号" not in page


def test_sign_in_page_follows_the_browser_language(client, db):
    page = client.get(reverse("accounts:login"), HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    for text in ("<h1>登录</h1>", "用户名", "密码", "跳至正文"):
        assert text in page, text
    english = client.get(reverse("accounts:login"), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "<h1>Sign in</h1>" in english


def test_failed_sign_in_message_in_chinese(client, bj_supervisor):
    response = client.post(
        reverse("accounts:login"),
        {"username": "bj.supervisor", "password": "wrong"},
        HTTP_ACCEPT_LANGUAGE="zh-hans",
    )
    assert "登录失败，请检查用户名和密码" in response.content.decode()
