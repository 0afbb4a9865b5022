import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from imprint.encode.parse import parse_file, parse_paths
from imprint.errors import ParseError

LIMIT = 1_000_000


def write(path, data):
    path.write_bytes(data if isinstance(data, bytes) else data.encode())
    return path


def test_text_and_markdown_are_kept_exactly(tmp_path):
    text = "# Notes\n\nMira moved to Tallinn.  Ünïcode stays.\n"
    for name in ("a.txt", "b.md"):
        item = parse_file(write(tmp_path / name, text), LIMIT)
        assert item.content == text and item.kind == "document"
        assert item.segments[0].text == text


def test_utf8_bom_and_utf16_are_decoded(tmp_path):
    assert parse_file(write(tmp_path / "a.txt", "hello".encode("utf-8-sig")), LIMIT).content == "hello"
    assert parse_file(write(tmp_path / "b.txt", "héllo".encode("utf-16")), LIMIT).content == "héllo"


def test_html_drops_scripts_and_keeps_text(tmp_path):
    html = (
        "<html><head><script>var x=1;</script><style>p{}</style></head>"
        "<body><p>Mira lives in <b>Tallinn</b>.</p></body></html>"
    )
    item = parse_file(write(tmp_path / "p.html", html), LIMIT)
    assert "Tallinn" in item.content and "var x" not in item.content and "p{}" not in item.content
    assert item.original == html.encode()


def test_pdf_text_is_extracted(tmp_path):
    from reportlab.pdfgen import canvas

    path = tmp_path / "doc.pdf"
    pdf = canvas.Canvas(str(path))
    pdf.drawString(72, 720, "Jonas Berg bakes bread in Riga.")
    pdf.save()
    item = parse_file(path, LIMIT)
    assert "Jonas Berg bakes bread in Riga." in item.content
    assert item.original == path.read_bytes()


def test_json_and_jsonl_conversations(tmp_path):
    turns = [
        {"speaker": "Ana", "text": "I got a cat.", "time": "2023-05-01"},
        {"role": "assistant", "content": "What is its name?"},
    ]
    item = parse_file(write(tmp_path / "chat.json", json.dumps(turns)), LIMIT)
    assert item.kind == "conversation"
    assert [(s.speaker, s.text, s.time) for s in item.segments] == [
        ("Ana", "I got a cat.", "2023-05-01"),
        ("assistant", "What is its name?", None),
    ]
    lines = "\n".join(json.dumps(t) for t in turns)
    assert len(parse_file(write(tmp_path / "chat.jsonl", lines), LIMIT).segments) == 2
    wrapped = json.dumps({"messages": turns})
    assert len(parse_file(write(tmp_path / "w.json", wrapped), LIMIT).segments) == 2


def test_locomo_layout(tmp_path):
    sample = [
        {
            "sample_id": "c1",
            "conversation": {
                "speaker_a": "A",
                "speaker_b": "B",
                "session_2_date_time": "2 June 2023",
                "session_2": [{"speaker": "B", "dia_id": "D2:1", "text": "Later."}],
                "session_1_date_time": "1 May 2023",
                "session_1": [{"speaker": "A", "dia_id": "D1:1", "text": "Look!", "blip_caption": "a photo of a dog"}],
            },
        }
    ]
    item = parse_file(write(tmp_path / "locomo.json", json.dumps(sample)), LIMIT)
    first, second = item.segments
    assert first.text == "Look! [shares a photo of a dog]" and first.time == "1 May 2023"
    assert first.metadata["dia_id"] == "D1:1" and second.metadata["session"] == "session_2"


@pytest.mark.parametrize(
    "name,data,reason",
    [
        ("bad.pdf", b"%PDF-1.4 this is not really a pdf", "not a readable PDF"),
        ("latin.txt", "café".encode("latin-1"), "not valid UTF-8"),
        ("blob.txt", b"\x00\x01\x02binary", "binary"),
        ("empty.md", b"  \n", "empty"),
        ("broken.json", b'[{"speaker": "a", "text": ', "malformed JSON"),
        ("notturns.json", b'{"hello": 1}', "expected a non-empty list"),
        ("noturntext.json", b'[{"speaker": "a"}]', "turn 0 has no text"),
        ("image.png", b"\x89PNG....", "unsupported file type .png"),
    ],
)
def test_bad_files_get_a_clear_error_naming_them(tmp_path, name, data, reason):
    path = write(tmp_path / name, data)
    with pytest.raises(ParseError) as raised:
        parse_file(path, LIMIT)
    assert reason in str(raised.value) and name in str(raised.value)


def test_files_over_the_limit_are_refused(tmp_path):
    path = write(tmp_path / "huge.txt", "x" * 2000)
    with pytest.raises(ParseError, match="over the limit"):
        parse_file(path, 1000)


def test_a_folder_is_read_recursively_and_bad_files_do_not_stop_the_rest(tmp_path):
    write(tmp_path / "a.txt", "first")
    (tmp_path / "sub" / "deeper").mkdir(parents=True)
    write(tmp_path / "sub" / "deeper" / "b.md", "second")
    write(tmp_path / "sub" / "bad.json", "{oops")
    write(tmp_path / ".hidden.txt", "secret")
    outcome = parse_paths([tmp_path, tmp_path / "missing.txt"], LIMIT)
    assert sorted(i.content for i in outcome.items) == ["first", "second"]
    assert sorted(e.path.name for e in outcome.errors) == ["bad.json", "missing.txt"]


@settings(max_examples=150, deadline=None)
@given(data=st.binary(max_size=400), suffix=st.sampled_from([".txt", ".json", ".jsonl", ".html", ".pdf"]))
def test_any_bytes_either_parse_or_raise_parse_error(tmp_path_factory, data, suffix):
    path = tmp_path_factory.mktemp("fuzz") / f"f{suffix}"
    path.write_bytes(data)
    try:
        item = parse_file(path, LIMIT)
    except ParseError:
        return
    assert item.segments and all(s.text.strip() for s in item.segments)


def test_a_pdf_over_its_time_or_page_budget_is_refused_not_waited_for(tmp_path):
    from pypdf import PdfWriter

    from imprint.encode.pdf import PdfError, pdf_text

    writer = PdfWriter()
    for _ in range(3):
        writer.add_blank_page(612, 792)
    path = tmp_path / "three.pdf"
    writer.write(path)
    data = path.read_bytes()
    assert pdf_text(data) == "\n\n\n\n"  # three empty pages
    with pytest.raises(PdfError, match="3 pages; at most 2"):
        pdf_text(data, max_pages=2)
    with pytest.raises(PdfError, match="took over 0 s"):  # the child is killed at its deadline
        pdf_text(data, max_seconds=0.001)


def test_a_pdf_whose_text_runs_past_the_limit_is_refused_at_that_page(tmp_path):
    from reportlab.pdfgen import canvas

    from imprint.encode.pdf import PdfError, pdf_text

    path = tmp_path / "long.pdf"
    pdf = canvas.Canvas(str(path))
    for page in range(3):
        pdf.drawString(72, 720, f"Page {page}: Jonas Berg bakes bread in Riga.")
        pdf.showPage()
    pdf.save()
    assert "Page 2" in pdf_text(path.read_bytes())
    with pytest.raises(PdfError, match="past 60 characters by page 2 of 3"):
        pdf_text(path.read_bytes(), max_chars=60)
