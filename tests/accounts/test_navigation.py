"""The menu: grouped into sections, each person seeing only what their roles may use."""

from django.urls import reverse

from servicecharter.accounts.navigation import (
    ACCOUNTABILITY,
    ADMINISTRATION,
    QUALITY,
    menu_sections_for,
)


def _labels(sections):
    return [str(section.label) for section in sections if section.label is not None]


def test_an_agent_sees_their_own_work_and_complaints_but_no_administration(bj_agent):
    sections = menu_sections_for(bj_agent)
    assert str(ADMINISTRATION) not in _labels(sections)
    assert str(ACCOUNTABILITY) not in _labels(sections)
    urls = {item.url_name for section in sections for item in section.items}
    assert {"discipline:my_decisions", "assessment:mine", "cases:my_cases"} <= urls
    assert "discipline:violation_queue" not in urls


def test_an_administrator_sees_the_administration_section(admin_user):
    sections = menu_sections_for(admin_user)
    admin = next(section for section in sections if section.label == ADMINISTRATION)
    assert "accounts:user_list" in {item.url_name for item in admin.items}


def test_the_section_of_the_page_shown_is_marked(compliance_officer):
    path = reverse("discipline:violation_queue")
    sections = menu_sections_for(compliance_officer, path)
    current = [section.label for section in sections if section.current]
    assert current == [ACCOUNTABILITY]
    assert QUALITY in [section.label for section in sections]


def test_the_page_renders_sections_as_drop_downs(client, compliance_officer):
    client.force_login(compliance_officer)
    html = client.get(reverse("discipline:violation_queue")).content.decode()
    assert '<details class="navgroup"><summary class="current">Accountability</summary>' in html
    assert f'href="{reverse("discipline:fairness")}"' in html
