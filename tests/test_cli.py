import json

from typer.testing import CliRunner

from imprint.cli import app

runner = CliRunner(env={"COLUMNS": "200"})


def test_add_search_list_forget_from_the_command_line(tmp_path):
    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "mira.md").write_text("Mira Quenton moved to Tallinn in 2021.")
    (notes / "chat.json").write_text(json.dumps([{"speaker": "Ana", "text": "I adopted a cat named Pixel."}]))
    (notes / "broken.pdf").write_bytes(b"%PDF-garbage")
    data = ["--data", str(tmp_path / "store")]

    added = runner.invoke(app, ["add", str(notes), "--space", "alice", *data])
    assert added.exit_code == 0, added.output
    assert "2 items added" in added.output and "broken.pdf" in added.output

    found = runner.invoke(app, ["search", "where did Mira move", "--space", "alice", "-k", "1", *data])
    assert found.exit_code == 0 and "Tallinn" in found.output and "Pixel" not in found.output

    listed = runner.invoke(app, ["list", "--space", "alice", *data])
    assert "2 memories" in listed.output

    assert runner.invoke(app, ["forget", "1", "--space", "alice", *data]).exit_code == 0
    assert "1 memories" in runner.invoke(app, ["list", "--space", "alice", *data]).output
    assert runner.invoke(app, ["forget", "--all", "--space", "alice", *data]).exit_code == 0
    assert "alice" not in runner.invoke(app, ["spaces", *data]).output
    assert runner.invoke(app, ["forget", "--all", "--source", "x", *data]).exit_code == 2


def test_errors_are_one_clear_line_and_exit_code_one(tmp_path):
    result = runner.invoke(app, ["search", "x", "--space", "nobody", "--data", str(tmp_path)])
    assert result.exit_code == 1 and "no space 'nobody'" in result.output
    result = runner.invoke(app, ["add", str(tmp_path / "missing.txt"), "--data", str(tmp_path)])
    assert result.exit_code == 1 and "no such file" in result.output
