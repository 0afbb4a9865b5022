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
    assert "1 memory" in runner.invoke(app, ["list", "--space", "alice", *data]).output
    kept = runner.invoke(app, ["forget", "--all", "--space", "alice", *data], input="n\n")
    assert kept.exit_code == 1 and "Delete space" in kept.output  # asked first; "n" keeps it
    assert "1 memory" in runner.invoke(app, ["list", "--space", "alice", *data]).output
    assert runner.invoke(app, ["forget", "--all", "--yes", "--space", "alice", *data]).exit_code == 0
    assert "alice" not in runner.invoke(app, ["spaces", *data]).output
    assert runner.invoke(app, ["forget", "--all", "--source", "x", *data]).exit_code == 2


def test_errors_are_one_clear_line_and_exit_code_one(tmp_path):
    result = runner.invoke(app, ["search", "x", "--space", "nobody", "--data", str(tmp_path)])
    assert result.exit_code == 1 and "no space 'nobody'" in result.output
    result = runner.invoke(app, ["add", str(tmp_path / "missing.txt"), "--data", str(tmp_path)])
    assert result.exit_code == 1 and "no such file" in result.output


def test_show_lists_each_sentence_with_what_replaced_it(tmp_path):
    data = ["--data", str(tmp_path / "store")]
    (tmp_path / "old.md").write_text("Kalo Rabri bakes bread at Tensu Labs. Kalo Rabri lives in Vosuville.")
    (tmp_path / "new.md").write_text("In 2021, Kalo Rabri moved from Vosuville to Tenstad.")
    for name in ("old.md", "new.md"):
        assert runner.invoke(app, ["add", str(tmp_path / name), "--space", "k", *data]).exit_code == 0
    shown = runner.invoke(app, ["show", "1", "--space", "k", *data])
    assert shown.exit_code == 0, shown.output
    replaced = next(line for line in shown.output.splitlines() if "lives in Vosuville" in line)
    assert "Kalo Rabri lives in Tenstad." in replaced and " 2 " in replaced  # replaced by memory 2
    kept = next(line for line in shown.output.splitlines() if "bakes bread" in line)
    assert "Tenstad" not in kept and "old.md" in shown.output
    assert runner.invoke(app, ["show", "9", "--space", "k", *data]).exit_code == 1


def test_version_and_adding_from_stdin(tmp_path):
    from imprint.config import VERSION

    assert runner.invoke(app, ["--version"]).output.strip() == f"imprint {VERSION}"
    data = ["--data", str(tmp_path)]
    added = runner.invoke(app, ["add", "-", "--space", "s", *data], input="Ilse Varga keeps bees in Szeged.\n")
    assert added.exit_code == 0 and "1 new memory" in added.output, added.output
    assert "bees" in runner.invoke(app, ["list", "--space", "s", *data]).output
    empty = runner.invoke(app, ["add", "-", "--space", "s", *data], input="  \n")
    assert empty.exit_code == 1 and "stdin was empty" in empty.output


def test_the_model_libraries_progress_bars_stay_quiet_unless_verbose(tmp_path):
    import os
    import subprocess
    import sys

    command = [sys.executable, "-m", "imprint.cli", "add", "-", "--space", "s", "--data", str(tmp_path)]
    env = {k: v for k, v in os.environ.items() if k not in ("TQDM_DISABLE", "HF_HUB_DISABLE_PROGRESS_BARS")}
    # a fresh cache: the first add exports the embedder, which loads its weights with a progress bar
    quiet = subprocess.run(
        command,
        input="Mira keeps bees.",
        capture_output=True,
        text=True,
        env={**env, "IMPRINT_CACHE_DIR": str(tmp_path / "quiet")},
    )
    loud = subprocess.run(
        command[:3] + ["-v"] + command[3:],
        input="Jonas bakes bread.",
        capture_output=True,
        text=True,
        env={**env, "IMPRINT_CACHE_DIR": str(tmp_path / "loud")},
    )
    assert quiet.returncode == loud.returncode == 0, quiet.stderr
    assert "it/s]" in loud.stderr and "it/s]" not in quiet.stderr


def test_bench_names_a_dataset_it_does_not_know(tmp_path):
    result = runner.invoke(app, ["bench", "--dataset", "nope", "--out", str(tmp_path)])
    assert result.exit_code == 1 and "unknown dataset 'nope'" in result.output
    result = runner.invoke(app, ["bench", "--dataset", "squad", "--out", str(tmp_path)])
    assert result.exit_code == 1 and "needs --path" in result.output


def test_text_is_printed_literally_and_every_reading_command_speaks_json(tmp_path):
    data = ["--data", str(tmp_path)]
    text = "TODO [urgent] ask [red]Ilse[/red] before [b]Friday[/b], next week [the week after 1 July 2024]."
    added = runner.invoke(app, ["add", "-", "--space", "s", "--meta", "user_id=u1", "--json", *data], input=text)
    assert added.exit_code == 0, added.output
    [memory_id] = json.loads(added.output)["memories"]
    runner.invoke(app, ["add", "-", "--space", "s", "--meta", "user_id=u2", *data], input="Ilse Varga keeps bees.")
    for command in (["list"], ["show", str(memory_id)], ["search", "urgent Friday"]):
        shown = runner.invoke(app, [*command, "--space", "s", *data])
        flat = " ".join(shown.output.split())
        assert all(part in flat for part in ("[urgent]", "[red]Ilse[/red]", "[b]Friday[/b]")), (command, shown.output)
    listed = json.loads(runner.invoke(app, ["list", "--space", "s", "--json", "-f", "user_id=u1", *data]).output)
    assert [m["text"] for m in listed] == [text] and listed[0]["metadata"] == {"user_id": "u1"}
    hits = json.loads(
        runner.invoke(app, ["search", "bees", "--space", "s", "--json", "-f", "user_id=u2", *data]).output
    )
    assert [h["memory"]["metadata"]["user_id"] for h in hits] == ["u2"]
    updated = json.loads(
        runner.invoke(
            app, ["update", str(memory_id), "Ilse Varga sells honey.", "--space", "s", "--json", *data]
        ).output
    )
    history = json.loads(runner.invoke(app, ["history", str(memory_id), "--space", "s", "--json", *data]).output)
    assert [v["id"] for v in history] == [memory_id, *updated["memory_ids"]] and history[0]["replaced_by"]
    assert json.loads(runner.invoke(app, ["spaces", "--json", *data]).output) == ["s"]
    bad = runner.invoke(app, ["list", "--space", "s", "-f", "user_id", *data])
    assert bad.exit_code == 1 and "KEY=VALUE" in bad.output
