"""Answering a question from a space: the pipeline (answering.py) and its steps (route, as-of,
focus, context packing, grounding)."""

from .answering import NOT_IN_MEMORY, STRATEGIES, Answer, Answering, AnswerOptions

__all__ = ["NOT_IN_MEMORY", "STRATEGIES", "Answer", "AnswerOptions", "Answering"]
