"""What a consolidation trains and what it must pass: the training settings, the gate, and the
stability policy. Kept apart from training so reading them imports neither torch nor peft.
"""

from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from ..errors import InputError

DTYPES = ("auto", "fp32", "bf16")  # the frozen base's dtype in training (precision.py decides "auto")
MLP_MODULES = ("gate_proj", "up_proj", "down_proj")


def _help(text: str):
    return {"help": text}


@dataclass
class TrainConfig:
    """How an adapter is trained (LoRA names as in peft)."""

    r: int = field(default=16, metadata=_help("LoRA rank"))
    lora_alpha: int = field(default=32, metadata=_help("LoRA scaling numerator (scale = lora_alpha / r)"))
    target_modules: tuple[str, ...] = field(default=MLP_MODULES, metadata=_help("modules that get a LoRA"))
    epochs: int = field(default=6, metadata=_help("most epochs; training stops early once the probe is learned"))
    lr: float = field(
        default=5e-4,
        metadata=_help(
            "AdamW learning rate; with kl_weight 1: 95% retention on 20 facts, vs 58% at 1e-3 without (docs)"
        ),
    )
    batch_size: int = field(default=8, metadata=_help("examples per step"))
    max_length: int = field(default=128, metadata=_help("tokens per example, question and answer"))
    warmup_fraction: float = field(default=0.05, metadata=_help("share of steps with a rising learning rate"))
    stop_at_probe_recall: float = field(default=0.95, metadata=_help("early stop once the probe reaches this"))
    kl_weight: float = field(
        default=2.0,
        metadata=_help(
            "> 0: replay rows are fitted to the base model's top-k distribution (KL), against forgetting; "
            "200 facts: 2 kept 91% of the base's answers, 1 kept 89% and learned 2 points more (docs)"
        ),
    )
    distill_weight: float = field(
        default=1.0,
        metadata=_help("weight of the KL to the teacher (the base model reading the memory); 0: no distillation"),
    )
    hard_weight: float = field(
        default=1.0,
        metadata=_help(
            "weight of the gold answer's cross-entropy on rows that have a teacher target (others: always 1)"
        ),
    )
    top_k: int = field(
        default=256,
        metadata=_help(
            "teacher (and, on replay rows, base) tokens kept per answer position; 32 kept less of what the base knew"
        ),
    )
    open_book: float = field(
        default=0.5,
        metadata=_help("share of questions also trained with memories and distractors in the prompt (RAFT)"),
    )
    replay_per_row: float = field(
        default=1.0,
        metadata=_help(
            "replay rows drawn afresh each epoch per training row, where the pool is larger (a small space); "
            "0: the whole pool every epoch"
        ),
    )
    dtype: str = field(
        default="auto",
        metadata=_help(
            "the frozen base's dtype in training: fp32, bf16, or auto (bf16 where a matmul probe finds it faster)"
        ),
    )
    seed: int = field(default=0, metadata=_help("seed of the shuffles and the LoRA initialisation"))

    def __post_init__(self) -> None:
        if self.r < 1 or self.epochs < 1 or self.batch_size < 1 or not self.lr > 0 or self.max_length < 8:
            raise InputError(f"r, epochs, batch_size and lr must be positive, max_length at least 8: {self}")
        if self.stop_at_probe_recall < 0 or not 0 <= self.warmup_fraction < 1 or self.kl_weight < 0:
            raise InputError(
                f"stop_at_probe_recall >= 0 (over 1: never early), warmup_fraction in [0, 1), kl_weight >= 0: {self}"
            )
        if self.replay_per_row < 0:
            raise InputError(f"replay_per_row >= 0: {self}")
        if self.distill_weight < 0 or self.hard_weight < 0 or self.top_k < 1 or not 0 <= self.open_book <= 1:
            raise InputError(f"distill_weight and hard_weight >= 0, top_k >= 1, open_book in [0, 1]: {self}")
        if self.dtype not in DTYPES:
            raise InputError(f"dtype must be one of {', '.join(DTYPES)}: {self}")


# How often the replay set is seen per epoch. On 20 made-up facts (benchmarks/weights.py):
# none: retention 18%, natural-question recall 63%; once: 58%, 90%; three times: 66%, 67%.
REPLAY_REPEATS = 1

# An adapter short of the retention gate is tried at these shares of its trained delta, in turn,
# until it passes or its probe recall falls below the gate (train.scale_delta).
SHRINK_SCALES = (0.9, 0.8, 0.7)


@dataclass
class Gate:
    """Thresholds a new adapter must pass to replace the current one."""

    min_probe_recall: float = field(default=0.8, metadata={"help": "share of held-out probe questions answered"})
    min_retention: float = field(
        default=0.9,
        metadata={
            "help": "share of general control answers the base model got right that the adapter still gets right "
            "(an adapter short of it is shrunk toward the base while its probe passes)"
        },
    )

    min_kept: float = field(
        default=0.95,
        metadata={
            "help": "incremental update: share of the earlier probe questions the adapter answered before "
            "that it must still answer"
        },
    )

    def __post_init__(self) -> None:
        if self.min_probe_recall < 0 or self.min_retention < 0 or self.min_kept < 0:
            raise InputError(f"gate thresholds are shares, 0 or more (over 1: nothing passes): {self}")


@dataclass
class ConsolidateOptions:
    """A consolidation as the CLI, REST and the job queue ask for one (their defaults are these)."""

    epochs: int = TrainConfig.epochs
    replay: int = REPLAY_REPEATS
    min_recall: float = Gate.min_probe_recall
    min_retention: float = Gate.min_retention
    teacher: str | None = None
    stable_days: float | None = None
    min_uses: int | None = None
    full: bool = False  # train every memory from the base, not only the new ones on the current adapter

    def arguments(self) -> dict:
        """Keyword arguments of `Memory.consolidate`."""
        return {
            "config": TrainConfig(epochs=self.epochs),
            "gate": Gate(self.min_recall, self.min_retention),
            "replay_repeats": self.replay,
            "teacher": self.teacher,
            "stable_days": self.stable_days,
            "min_uses": self.min_uses,
            "full": self.full,
        }


def stable_since(stable_days: float) -> str:
    """The policy's cutoff: memories added, and last changed, before this time are stable."""
    return (datetime.now(timezone.utc) - timedelta(days=stable_days)).isoformat(timespec="seconds")
