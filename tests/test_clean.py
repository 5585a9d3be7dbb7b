from pathlib import Path

from swsearch.clean import clean_text
from swsearch.documents import load_corpus
from swsearch.split import split_text

REPO = Path(__file__).resolve().parents[1]
ARTICLE = REPO / "corpus" / "00_social_work_system_and_mechanism_2024_en.txt"
FOOTER_PIECES = ["Edit:", "Responsible editor", "Source:", "Special statement", "Return to list",
                 "Recommended Reading", "Links", "mailbox", "Tel:", "ICP", "Copyright", "lwxsd", "020-817896455"]


def test_article_header_becomes_metadata_and_footer_is_gone():
    cleaned = clean_text(ARTICLE.read_text(encoding="utf-8"))
    assert cleaned.title == ("Keeping pace with the times and deepening the research on the system and "
                             "mechanism of social work")
    assert cleaned.date == "2024-11-18"
    assert cleaned.text.startswith("Doing a good job in social work")
    assert cleaned.text.endswith("enable everyone to do their best. (New Society)")
    assert not cleaned.text.rstrip().endswith(">")
    for piece in FOOTER_PIECES:
        assert piece not in cleaned.text, piece
    assert any("ICP" in line for line in cleaned.removed)


def test_no_footer_piece_in_any_chunk_of_the_bundled_article():
    doc = next(d for d in load_corpus() if d.id.startswith("00_"))
    assert doc.date == "2024-11-18" and doc.title.startswith("Keeping pace")
    chunks = split_text(doc.text, doc.id, max_tokens=256)
    assert chunks
    for chunk in chunks:
        for piece in FOOTER_PIECES:
            assert piece not in chunk.text, (piece, chunk.id)
        assert chunk.text.strip() != ">"


def test_rules_clean_a_different_page_of_such_a_site():
    page = """城市社区治理迈出新步伐
2023年5月6日 08:30 来源：人民网

本报讯 近日，某市出台社区治理新举措，推动社区工作者队伍专业化建设。

各区将按照每万城镇常住人口配备社区工作者。

责任编辑：张三
来源：新华网
版权所有 © 2023 某某网 All Rights Reserved
京ICP备12345678号 京公网安备11010502000001号
返回顶部
联系电话：010-12345678
»
"""
    cleaned = clean_text(page)
    assert cleaned.title == "城市社区治理迈出新步伐"
    assert cleaned.date == "2023年5月6日"
    assert cleaned.text.startswith("本报讯") and cleaned.text.endswith("配备社区工作者。")
    for piece in ["责任编辑", "新华网", "版权所有", "ICP", "返回顶部", "010-12345678", "»"]:
        assert piece not in cleaned.text


def test_english_page_with_other_footer_words():
    page = ("Volunteers honoured\nMarch 3, 2023\n\nThe city thanked 300 volunteers on Friday. "
            "They served 12,000 hours.\n\nEditor: John Smith\nBack to top\nContact us\n"
            "E-mail: web@example.org | Phone: +86 10 1234 5678\n"
            "Copyright (c) 2023 example.org. All rights reserved.\n")
    cleaned = clean_text(page)
    assert cleaned.title == "Volunteers honoured" and cleaned.date == "March 3, 2023"
    assert cleaned.text == "The city thanked 300 volunteers on Friday. They served 12,000 hours."


def test_plain_text_without_footer_is_left_alone():
    text = "第一条　本法自公布之日起施行。\n\nThanks\n\nSee you"
    cleaned = clean_text(text)
    assert cleaned.text == text and cleaned.title is None and cleaned.removed == []
