"""Write the packaged base model's replay pool into the package (imprint/weights/data/): its answers
to the control questions and the general questions it writes and answers itself, from all
MAX_OWN_QUESTIONS prompts. Both are greedy, so a function of the base model alone: shipped, no
user's first consolidation spends ~10 minutes computing them (tests/test_weights.py recomputes the
first prompts and compares).

    .venv/bin/python scripts/replay_pool.py
"""

import sys
import tempfile
import time
from importlib.resources import files
from pathlib import Path

from imprint.config import Settings
from imprint.llm.local import LocalModel, resolve_model_dir
from imprint.weights.control import MAX_OWN_QUESTIONS, PACKAGED_ANSWERS, PACKAGED_POOL, base_answers, own_questions
from imprint.weights.plan import TrainConfig
from imprint.weights.train import complete, load_student


def main() -> None:
    settings = Settings()
    model = LocalModel(settings.model, settings.cache_dir, settings.threads)
    data = Path(str(files("imprint.weights").joinpath("data")))
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as scratch:
        answers = Path(scratch) / "answers.json"
        base_answers(model, answers)
        (data / Path(PACKAGED_ANSWERS).name).write_text(answers.read_text())
        print(f"control answers: {time.perf_counter() - started:.0f} s", file=sys.stderr)
        student, tokenizer = load_student(resolve_model_dir(settings.model, settings.cache_dir), TrainConfig())
        pool = Path(scratch) / "own.json"
        with student.disable_adapter():
            rows = own_questions(
                lambda prompts, tokens: complete(student, tokenizer, prompts, tokens), pool, MAX_OWN_QUESTIONS
            )
        (data / Path(PACKAGED_POOL).name).write_text(pool.read_text())
    print(
        f"{len(rows)} replay rows from {MAX_OWN_QUESTIONS} prompts: {time.perf_counter() - started:.0f} s",
        file=sys.stderr,
    )


if __name__ == "__main__":
    main()
