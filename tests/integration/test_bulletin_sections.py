"""The weekly 通报's sections on constructed data, on SQLite and PostgreSQL: 总体情况, 散乱污 by
town, the utilities' and co-units' timeliness, the overdue list naming the owing unit, the
office's 下一步工作要求 (stored per week with who and when), each member unit's own part first in
delivery, and the same figures in the .xlsx and the .docx as in the data; migration 0012 up and
down.

Week 2026-W45 (Monday 11-02 … Sunday 11-08), read on Monday 11-09 09:00 (Asia/Shanghai). On
Monday 11-02 10:00 three sites are registered in 孔城镇: S1 classified for ban (取缔), S2 for
rectification (整顿), S3 left as reported. On Tuesday the power company cuts S1's power and the
town clears its materials, products and equipment; the water company never cuts the water: 断水
was due in 3 working days (Thursday 11-05) and is overdue from Friday 00:00. S3's 启动核查 (2
working days, due 11-04) is overdue too. An enterprise problem (simple: 5 working days) goes to
the power company with 市生态环境分局 as co-unit, which never feeds back (due 11-05).
"""

import io
from datetime import date, datetime, time

import pytest
from alembic import command
from docx import Document
from helpers import new_enterprise_case, new_site_case, photo, walk_site_to
from openpyxl import load_workbook
from sqlalchemy import inspect, select

from cases import migrate
from cases.bulletin_store import MAX_CHARS
from cases.models import Notification
from notifications.bulletin_docx import bulletin_docx, town_table_rows
from notifications.documents import bulletin_xlsx
from workflow.clock import SHANGHAI
from workflow.errors import InvalidInput, PermissionDenied

WEEK = "2026-W45"
N = Notification.__table__


def at(day: str, hh: int = 0, mm: int = 0) -> datetime:
    return datetime.combine(date.fromisoformat(day), time(hh, mm), SHANGHAI)


@pytest.fixture
def week(app, actors, clock):
    a = actors
    clock.set(at("2026-11-02", 10))
    s1 = new_site_case(app, site_name="甲塑料加工点")["number"]
    s2 = new_site_case(app, site_name="乙废旧物资回收点", address="孔城镇桐梓村五组")["number"]
    s3 = new_site_case(app, site_name="丙小作坊", address="孔城镇老街")["number"]
    walk_site_to(app, s1, "clearing", "ban")
    walk_site_to(app, s2, "rectifying", "rectify")
    qy = new_enterprise_case(app)["number"]
    app.cases.advance(qy, "assign", a.dispatcher, {"lead_unit": "power", "co_units": ["ecology"], "class": "simple"})
    clock.set(at("2026-11-03", 10))
    app.cases.complete_item(s1, "cut_power", a.power, {"meter_reading": "2048.5"}, evidence=[photo(1)])
    for key in ("clear_materials", "clear_products", "clear_equipment"):
        app.cases.complete_item(s1, key, a.kongcheng, {}, evidence=[photo(2)])
    for day in ("2026-11-04", "2026-11-05", "2026-11-06", "2026-11-07", "2026-11-08", "2026-11-09"):
        clock.set(at(day))
        app.sweeper.sweep()
    clock.set(at("2026-11-09", 9))
    return {"S1": s1, "S2": s2, "S3": s3, "QY": qy}


def test_towns_utilities_and_co_units_from_the_obligations(app, week):
    data = app.periodic.bulletin_data(WEEK)
    towns = {t["unit"]: t for t in data["towns"]}
    assert set(towns) == set(app.org.codes(("town", "street", "park"))) | {""}
    kongcheng = towns["kongcheng"]
    assert {k: kongcheng[k] for k in ("found_week", "found_year", "banned", "rectified", "clearing_done", "clearing_owed",
                                      "passed", "failed", "revisited", "relapsed", "open", "overdue")} == {
        "found_week": 3, "found_year": 3, "banned": 1, "rectified": 1, "clearing_done": 4, "clearing_owed": 5,
        "passed": 0, "failed": 0, "revisited": 0, "relapsed": 0, "open": 3, "overdue": 2,
    }  # fmt: skip
    assert kongcheng["clearing"] == "4/5"
    assert towns[""]["unit_name"] == "合计" and towns[""]["found_year"] == 3 and towns[""]["overdue"] == 2
    assert all(t["found_year"] == 0 for u, t in towns.items() if u not in ("kongcheng", ""))

    utilities = {t["unit"]: t for t in data["timeliness"]["utilities"]}
    assert [t["item"] for t in data["timeliness"]["utilities"]] == ["断水", "断电", "断气"]
    fields = ("owed", "done", "done_week", "on_time", "on_time_rate", "overdue_now", "avg_days")
    assert {k: utilities["water"][k] for k in fields} == dict(zip(fields, (1, 0, 0, 0, "—", 1, "—"), strict=True))
    assert {k: utilities["power"][k] for k in fields} == dict(zip(fields, (1, 1, 1, 1, "100.0%", 0, 1.0), strict=True))
    assert {k: utilities["gas"][k] for k in fields} == dict(zip(fields, (0, 0, 0, 0, "—", 0, "—"), strict=True))
    [co] = data["timeliness"]["co_units"]
    assert (co["unit"], co["item"], co["owed"], co["done"], co["overdue_now"]) == ("ecology", "协办反馈", 1, 0, 1)

    # the overdue list names the unit that owes each late obligation: 断水 is the water company's
    late = {(c["number"], c["obligation"]): c for c in data["overdue_cases"]}
    assert late[(week["S1"], "cut_water")]["unit_name"] == "市供水集团公司"
    assert late[(week["S3"], "start_verification")]["unit"] == "kongcheng"
    assert not any(c["unit"] == "power" and c["number"] == week["S1"] for c in data["overdue_cases"])

    overall = {line["key"]: line for line in data["overall"]}
    assert (overall["sites_found"]["week"], overall["sites_found"]["year"]) == (3, 3)
    assert (overall["registered"]["week"], overall["assigned"]["week"]) == (1, 1)
    assert overall["overdue_open"]["week"] == data["total"]["overdue_open"] >= 3
    assert overall["assigned"]["year"] == data["year_total"]["assigned"]


def test_the_workbook_and_the_document_agree_with_the_data(app, week):
    data = app.periodic.bulletin_data(WEEK)
    workbook = load_workbook(io.BytesIO(bulletin_xlsx(data, issue_no=45, doc_number="桐联办通〔2026〕45号")))
    assert workbook.sheetnames == ["总体情况", "通报", "散乱污分镇街", "办理时效", "超期案件", "红黑榜", "工作要求"]
    sheet = workbook["散乱污分镇街"]
    header = [c.value for c in sheet[2]]
    row = next(dict(zip(header, (c.value for c in r), strict=True)) for r in sheet.iter_rows(min_row=3) if r[0].value == "孔城镇")
    assert (row["本周发现"], row["取缔"], row["整顿"], row["两断三清已完成"], row["两断三清应完成"], row["超期"]) == (3, 1, 1, 4, 5, 2)
    timely = workbook["办理时效"]
    water = next([c.value for c in r] for r in timely.iter_rows() if r[0].value == "市供水集团公司")
    assert water[:3] == ["市供水集团公司", "断水", 1] and water[7] == 1
    overall = {r[0].value: (r[1].value, r[2].value) for r in workbook["总体情况"].iter_rows(min_row=3)}
    assert overall["新发现“散乱污”场所（处）"] == (3, 3)
    assert [c.value for c in workbook["工作要求"]["A"][1:]] == data["requirements"]["paragraphs"]

    document = Document(io.BytesIO(bulletin_docx(data, office_name="联席办", issue_no=45, doc_number="桐联办通〔2026〕45号",
                                                 issued_on=date(2026, 11, 9))))  # fmt: skip
    towns = next(t for t in document.tables if t.rows[0].cells[0].text == "镇（街道、园区）")
    rows = [[c.text for c in r.cells] for r in towns.rows[1:]]
    assert rows == town_table_rows(data)
    assert rows[0][:6] == ["孔城镇", "3", "3", "1", "1", "4/5"] and rows[-1][0] == "合计"
    utilities = next(t for t in document.tables if [c.text for c in t.rows[0].cells][:2] == ["单位", "事项"])
    water_line = next([c.text for c in r.cells] for r in utilities.rows if r.cells[0].text == "市供水集团公司")
    assert water_line[:4] == ["市供水集团公司", "断水", "1", "0"] and water_line[7] == "1"
    lines = [p.text for p in document.paragraphs]
    assert "当前超期：市供水集团公司断水1项。" in lines
    assert any(week["S1"] in line and "市供水集团公司，断水" in line for line in lines)


def test_requirements_default_edit_history_and_limits(app, actors, week, clock):
    default = app.periodic.requirements
    assert app.periodic.bulletin_data(WEEK)["requirements"]["text"] == default and "一把手" in default
    store = app.bulletin_requirements
    with pytest.raises(PermissionDenied):
        store.save(WEEK, "由经办人改写", actors.power)
    with pytest.raises(InvalidInput) as refused:
        store.save(WEEK, "字" * (MAX_CHARS + 1), actors.dispatcher)
    assert "不能超过5000字" in refused.value.reason
    with pytest.raises(InvalidInput):
        store.save("2026-W60", "x", actors.dispatcher)
    saved = store.save(WEEK, "  一、抓紧断水。\r\n\r\n二、按期回头看。  ", actors.dispatcher)
    assert saved["custom"] and saved["paragraphs"] == ["一、抓紧断水。", "二、按期回头看。"]
    assert saved["edited_by"] == actors.dispatcher.username and saved["edited_at"].startswith("2026-11-09T01:00")
    data = app.periodic.bulletin_data(WEEK)
    assert data["requirements"]["paragraphs"] == ["一、抓紧断水。", "二、按期回头看。"]
    assert app.periodic.bulletin_data("2026-W44")["requirements"]["text"] == default  # per week
    clock.set(at("2026-11-09", 10))
    back = store.save(WEEK, "", actors.dispatcher)  # empty: the default again, the history kept
    assert not back["custom"] and back["text"] == default
    assert [h["text"] for h in store.get(WEEK)["history"]] == ["", "一、抓紧断水。\n\n二、按期回头看。"]


def test_each_member_unit_reads_its_own_part_first(app, actors, week):
    app.users.add("mayor", "gov_office", ["convenor"])
    app.periodic.bulletin(WEEK)
    with app.db.read() as conn:
        rows = {r.recipient: r for r in conn.execute(select(N).where(N.c.event == "bulletin", N.c.channel == "inapp"))}
    water = rows[actors.water.username]
    assert water.body_html.index("本单位情况：市供水集团公司") < water.body_html.index("一、总体情况")
    own = water.body_html[: water.body_html.index("一、总体情况")]
    assert week["S1"] in own and "断水：本年应办1项" in own
    assert water.body_text.startswith("本单位（市供水集团公司）")
    town = rows[actors.kongcheng.username].body_html
    assert "“散乱污”整治：本周新发现3处" in town[: town.index("一、总体情况")]
    ecology = rows[actors.ecology.username].body_html
    assert "协办反馈：本年应办1项" in ecology[: ecology.index("一、总体情况")]
    for reader in (actors.dispatcher.username, "mayor"):
        assert "本单位情况" not in rows[reader].body_html and "七、下一步工作要求" in rows[reader].body_html


def test_migration_0012_upgrades_and_downgrades(app):
    config = migrate._config()
    with app.db.engine.connect() as conn:
        config.attributes["connection"] = conn
        command.downgrade(config, "0011")
        conn.commit()
        assert "bulletin_requirement" not in inspect(conn).get_table_names()
        command.upgrade(config, "0012")
        conn.commit()
        assert "bulletin_requirement" in inspect(conn).get_table_names()
    assert migrate.is_current(app.db) or migrate.head_revision() != "0012"
