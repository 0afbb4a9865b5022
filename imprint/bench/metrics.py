"""Answer scoring, SQuAD style: normalise (lower case, no punctuation, no articles), then compare."""

import re
import string
from collections import Counter

_ARTICLES = re.compile(r"\b(a|an|the)\b")
_PUNCTUATION = str.maketrans("", "", string.punctuation)


def normalise(text: str) -> str:
    return " ".join(_ARTICLES.sub(" ", str(text).lower().translate(_PUNCTUATION)).split())


def exact_match(prediction: str, gold: str) -> bool:
    return normalise(prediction) == normalise(gold)


def token_f1(prediction: str, gold: str) -> float:
    said, want = normalise(prediction).split(), normalise(gold).split()
    common = sum((Counter(said) & Counter(want)).values())
    if not common:
        return 0.0
    precision, recall = common / len(said), common / len(want)
    return 2 * precision * recall / (precision + recall)


def contains(prediction: str, gold: str) -> bool:
    """The gold answer appears, as whole words, in the prediction (for answers that run on)."""
    want = normalise(gold)
    return bool(want) and f" {want} " in f" {normalise(prediction)} "


def multi_answer_f1(prediction: str, gold: str) -> float:
    """LoCoMo's rule for multi-hop answers: gold and prediction are comma-separated lists; each gold
    part takes its best F1 against any predicted part, and the parts are averaged."""
    said = [part for part in prediction.split(",") if part.strip()] or [prediction]
    wanted = [part for part in gold.split(",") if part.strip()] or [gold]
    return sum(max(token_f1(p, g) for p in said) for g in wanted) / len(wanted)
