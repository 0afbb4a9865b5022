"""Long work is never silent: counted steps become a line at least every `every` seconds."""

from imprint.progress import ProgressLines


def test_progress_lines_say_the_first_step_then_every_interval_with_the_time_left_then_the_end():
    now = [0.0]
    lines: list[str] = []
    progress = ProgressLines(lines.append, every=15, clock=lambda: now[0])
    for step in range(11):  # 2 s a step
        progress("epoch 1/3", step, 10)
        now[0] += 2
    assert lines[0] == "epoch 1/3: 0/10"
    assert lines[1] == "epoch 1/3: 8/10, about 4 s left"  # 16 s after the first line
    assert lines[-1] == "epoch 1/3: 10/10 in 20 s" and len(lines) == 3


def test_a_new_stage_is_said_at_once_and_long_waits_in_minutes():
    now = [0.0]
    lines: list[str] = []
    progress = ProgressLines(lines.append, every=15, clock=lambda: now[0])
    progress("teacher", 0, 100)
    now[0] = 120
    progress("teacher", 10, 100)
    progress("retention", 0, 50)  # 0 s after the last line, but a stage's first step is always said
    assert lines == ["teacher: 0/100", "teacher: 10/100, about 18.0 min left", "retention: 0/50"]
