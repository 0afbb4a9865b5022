"""Train a LoRA adapter on question-answer pairs, on the CPU, with the base model frozen.

Reads top to bottom like nanoGPT's loop: build batches, step, log, check the probe, stop.
Four things make it fast on 2 cores: the loss is computed only at answer positions, and the output
projection (Gemma 3 has a 262k-token vocabulary) is applied only there, not to every position;
batches hold rows of one length, so little time goes into padding; the tokens all rows of a batch
start with (an open-book row's instructions and worked examples) run once per batch; and where the
CPU does bf16 fast, the frozen base runs in bf16 (precision.py), the LoRA weights and the optimiser
stay fp32.

Each row's loss: cross-entropy on the gold answer; where the teacher read the answer out of the
memory (distill.py), also the KL to its top-k distribution; replay rows instead match the base
model's own top-k distribution (KL), against forgetting. The base is frozen, so its top-k on the
replay rows is computed once before the first step, not in every batch.
"""

import math
import os
import random
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import torch
from peft import LoraConfig, PeftModel, get_peft_model

from ..progress import Progress
from ..prompt import answer_prompt, qa_prompt, qa_target
from .plan import TrainConfig
from .precision import decoding_in_fp32, train_dtype
from .synth import QA


@dataclass(frozen=True)
class SoftTarget:
    """The teacher's top-k next-token ids and log-probabilities at each answer token of one row."""

    ids: torch.Tensor  # [answer tokens, k]
    logprobs: torch.Tensor  # [answer tokens, k]


@dataclass
class TrainResult:
    model: PeftModel
    losses: list[float] = field(default_factory=list)  # mean per epoch
    step_losses: list[float] = field(default_factory=list)
    probe_history: list[float] = field(default_factory=list)
    epochs_run: int = 0
    seconds: float = 0.0
    examples_per_second: float = 0.0


OPEN_BOOK_LENGTH = 512  # an open-book row's prompt holds memories: it may be longer than max_length


def encode(tokenizer, pairs: list[QA], max_length: int) -> list[tuple[list[int], list[int]]]:
    """(input ids, labels) per pair; labels are -100 on the prompt so only the answer is learned."""
    encoded = []
    for pair in pairs:
        text = answer_prompt(list(pair.context), pair.question) if pair.context else qa_prompt(pair.question)
        prompt = tokenizer(text)["input_ids"]
        answer = tokenizer(qa_target(pair.answer), add_special_tokens=False)["input_ids"]
        limit = max(max_length, OPEN_BOOK_LENGTH) if pair.context else max_length
        ids = (prompt + answer)[:limit]
        labels = ([-100] * len(prompt) + answer)[:limit]
        encoded.append((ids, labels))
    return encoded


def _silent(what: str, done: int, total: int) -> None:
    pass


def _estimate(
    log: Callable[[str], None], taught: int, replayed: int, batches: list[list], config: TrainConfig, first: float
) -> None:
    """What the training will take, said before the wait: the first step's seconds per padded token
    times the epoch's padded tokens (a batch of open-book rows holds 20x the tokens of bare questions)."""
    tokens = [len(batch) * max(len(row[0]) for row in batch) for batch in batches]
    whole = first / tokens[0] * sum(tokens) * config.epochs
    log(
        f"training {taught} rows and {replayed} replayed in {len(batches)} steps of {config.batch_size} an epoch, "
        f"at most {config.epochs} epochs; measured on the first step: at most about {whole / 60:.1f} min, less "
        "when the probe is learned early"
    )


def collate(rows: list[tuple], pad_id: int, top_k: int = 1) -> dict[str, torch.Tensor]:
    """Pad (ids, labels[, is_replay[, SoftTarget | None]]) rows into one batch. The soft targets are
    laid out like `answer_logits`' positions: row by row, one line per answer token."""
    width = max(len(row[0]) for row in rows)
    ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
    labels = torch.full((len(rows), width), -100, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    soft_ids, soft_logprobs, has_soft = [], [], []
    for row, (token_ids, token_labels, *rest) in enumerate(rows):
        ids[row, : len(token_ids)] = torch.tensor(token_ids)
        labels[row, : len(token_labels)] = torch.tensor(token_labels)
        mask[row, : len(token_ids)] = 1
        answered = sum(label != -100 for label in token_labels[1:])
        soft = rest[1] if len(rest) > 1 else None
        taught = min(answered, len(soft.ids)) if soft is not None else 0  # a target may skip the last tokens
        soft_ids.append(torch.zeros((answered, top_k), dtype=torch.long))
        soft_logprobs.append(torch.zeros((answered, top_k)))
        if taught:
            soft_ids[-1][:taught] = soft.ids[:taught]
            soft_logprobs[-1][:taught] = soft.logprobs[:taught].float()
        has_soft += [True] * taught + [False] * (answered - taught)
    replay = torch.tensor([bool(row[2]) if len(row) > 2 else False for row in rows])
    return {
        "input_ids": ids,
        "labels": labels,
        "attention_mask": mask,
        "replay": replay,
        "soft_ids": torch.cat(soft_ids),
        "soft_logprobs": torch.cat(soft_logprobs),
        "soft": torch.tensor(has_soft, dtype=torch.bool),
    }


def bucketed_batches(rows: list, batch_size: int, rng: random.Random) -> list[list]:
    """Shuffled batches of similar length: rows sorted by length (ties in a new random order each
    call), cut into batches, and the batches shuffled. Open-book rows run to 512 tokens where a bare
    question has ~25: sorted only within windows of 8 batches, 200 facts ran 30% more tokens than
    their rows hold."""
    keys = {i: (len(row[0]), rng.random()) for i, row in enumerate(rows)}
    order = sorted(keys, key=keys.__getitem__)
    batches = [[rows[i] for i in order[j : j + batch_size]] for j in range(0, len(order), batch_size)]
    rng.shuffle(batches)
    return batches


def _causal(model):
    """The causal LM under a PEFT wrapper (its decoder and output projection are called directly)."""
    return model.get_base_model() if isinstance(model, PeftModel) else model


def _bf16(causal) -> torch.autocast:
    return torch.autocast("cpu", dtype=torch.bfloat16, enabled=causal.dtype == torch.bfloat16)


def answer_logits(model, batch: dict[str, torch.Tensor], past=None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Logits at the answer positions only, their target tokens, and the row each belongs to.
    `past`: a cache of tokens every row starts with (`batch` then holds what follows them)."""
    causal = _causal(model)
    mask = batch["attention_mask"]
    if past is not None:
        mask = torch.cat([mask.new_ones(mask.shape[0], past.get_seq_length()), mask], 1)
    with _bf16(causal):
        hidden = causal.get_decoder()(
            input_ids=batch["input_ids"], attention_mask=mask, past_key_values=past, use_cache=past is not None
        ).last_hidden_state
        targets = batch["labels"][:, 1:]
        selected = targets != -100
        logits = causal.get_output_embeddings()(hidden[:, :-1][selected]).float()
    cap = getattr(causal.config, "final_logit_softcapping", None)
    if cap:
        logits = torch.tanh(logits / cap) * cap
    rows = torch.arange(targets.shape[0]).unsqueeze(1).expand_as(targets)[selected]
    return logits, targets[selected], rows


def shared_prefix(rows: list[tuple]) -> int:
    """How many leading tokens all (ids, labels, ...) rows have in common, stopping before any row's
    last prompt token: the logit there predicts the first answer token, so each row must run it."""
    last_prompt = min(row[1].count(-100) for row in rows) - 1
    return min(len(os.path.commonprefix([row[0] for row in rows])), max(0, last_prompt))


MIN_SHARED = 32  # fewer shared tokens are not worth a forward pass of their own


def run_shared_prefix(model, rows: list[tuple]) -> tuple[list[tuple], object | None]:
    """Run the tokens all `rows` start with once, as a cache repeated for each row; return the rows
    without them and the cache (None when they share too little). Open-book and teacher rows all
    begin with the reader's instructions and worked examples (~150 tokens); run per row, those were a
    third of the tokens a consolidation ran. The result is the same, gradients included: each row
    attends to the same keys and values, and their gradients sum over the rows as before."""
    shared = shared_prefix(rows) if len(rows) > 1 else 0
    if shared < MIN_SHARED:
        return rows, None
    causal = _causal(model)
    with _bf16(causal):
        past = causal.get_decoder()(input_ids=torch.tensor([rows[0][0][:shared]]), use_cache=True).past_key_values
    past.batch_repeat_interleave(len(rows))
    return [(ids[shared:], labels[shared:], *rest) for ids, labels, *rest in rows], past


def exact_match(model, tokenizer, pairs: list[QA], batch_size: int = 16) -> list[bool]:
    """Would greedy decoding produce each answer? Teacher-forced argmax on every answer token
    (and the closing newline) is the same test as greedy generation, in one forward pass."""
    rows = encode(tokenizer, pairs, max_length=256)
    hits: list[bool] = []
    model.eval()
    with torch.inference_mode():
        for start in range(0, len(rows), batch_size):
            chunk = rows[start : start + batch_size]
            logits, targets, row = answer_logits(model, collate(chunk, tokenizer.pad_token_id or 0))
            wrong = torch.zeros(len(chunk), dtype=torch.long).index_add_(0, row, (logits.argmax(-1) != targets).long())
            hits += (wrong == 0).tolist()
    return hits


def recall_of(model, tokenizer, pairs: list[QA]) -> float:
    """The share of the pairs greedy decoding answers exactly (the probe recall)."""
    return sum(exact_match(model, tokenizer, pairs)) / max(1, len(pairs))


def scale_delta(model: PeftModel, factor: float) -> None:
    """Multiply what the adapter adds to the base by `factor` (its B matrices): 1 keeps the adapter
    as trained, 0 gives the base model; in between moves it toward the base, as WiSE-FT interpolates
    fine-tuned and original weights (less forgotten, less learned)."""
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            if "lora_B" in name:
                parameter.mul_(factor)


def greedy_answers(
    model,
    tokenizer,
    questions: list[str],
    max_new_tokens: int = 16,
    batch_size: int = 16,
    on_batch: Callable[[int, int], None] | None = None,
) -> list[str]:
    """What the model (adapter as currently enabled) answers, greedy, cut at the first newline."""
    return complete(model, tokenizer, [qa_prompt(q) for q in questions], max_new_tokens, batch_size, on_batch)


def complete(
    model,
    tokenizer,
    prompts: list[str],
    max_new_tokens: int = 16,
    batch_size: int = 16,
    on_batch: Callable[[int, int], None] | None = None,
) -> list[str]:
    """Each prompt's greedy continuation up to the first newline, batched with left padding (one
    prompt at a time took ~1 s each) and in fp32 (decoding in bf16 was 3.3x slower).
    `on_batch(done, total)` after each batch."""
    model.eval()
    side, tokenizer.padding_side = tokenizer.padding_side, "left"
    texts = []
    try:
        with decoding_in_fp32(model), torch.inference_mode():
            for start in range(0, len(prompts), batch_size):
                inputs = tokenizer(prompts[start : start + batch_size], return_tensors="pt", padding=True)
                output = model.generate(
                    **inputs,
                    max_new_tokens=max_new_tokens,
                    do_sample=False,
                    pad_token_id=tokenizer.pad_token_id or tokenizer.eos_token_id,
                )
                for row in output[:, inputs["input_ids"].shape[1] :]:
                    texts.append(tokenizer.decode(row, skip_special_tokens=True).split("\n")[0].strip())
                if on_batch:
                    on_batch(len(texts), len(prompts))
    finally:
        tokenizer.padding_side = side
    return texts


def _loss(model: PeftModel, batch: dict[str, torch.Tensor], config: TrainConfig, past=None) -> torch.Tensor:
    """Cross-entropy on the gold answers (weighted by hard_weight where a teacher target exists), plus
    distill_weight x KL to the teacher's top-k there; replay rows, with kl_weight, match the frozen
    base model's top-k instead (self-distillation with soft targets)."""
    logits, targets, rows = answer_logits(model, batch, past)
    logprobs = torch.log_softmax(logits, -1)
    replay = batch["replay"][rows] if config.kl_weight else torch.zeros_like(targets, dtype=torch.bool)
    taught = batch["soft"] & ~replay
    weight = torch.where(taught, config.hard_weight, 1.0) * ~replay
    loss = -(logprobs.gather(1, targets[:, None]).squeeze(1) * weight).sum() / max(1, int((~replay).sum()))
    if taught.any() and config.distill_weight:
        loss = loss + config.distill_weight * _top_k_kl(logprobs, batch, taught)
    if replay.any():
        loss = loss + config.kl_weight * _top_k_kl(logprobs, batch, batch["soft"] & replay)
    return loss


def _top_k_kl(logprobs: torch.Tensor, batch: dict[str, torch.Tensor], positions: torch.Tensor) -> torch.Tensor:
    """KL(target || student) at `positions`, the target renormalised over its top k tokens."""
    target = torch.log_softmax(batch["soft_logprobs"][positions], -1)
    student = logprobs[positions].gather(1, batch["soft_ids"][positions])
    return (target.exp() * (target - student)).sum(-1).mean()


def base_top_k(model: PeftModel, tokenizer, pairs: list[QA], top_k: int) -> tuple[torch.Tensor, ...]:
    """The frozen base model (adapter off) on one batch of pairs, never truncated: at every answer
    token its top-k (log-probabilities, token ids), the gold token, and the row it belongs to."""
    with torch.inference_mode(), model.disable_adapter():
        rows, past = run_shared_prefix(model, encode(tokenizer, pairs, sys.maxsize))
        logits, targets, row_of = answer_logits(model, collate(rows, tokenizer.pad_token_id or 0), past)
    values, ids = torch.log_softmax(logits.float(), -1).topk(top_k, -1)
    return values, ids, targets, row_of


def base_targets(
    model: PeftModel, tokenizer, pairs: list[QA], top_k: int, batch_size: int = 16, progress: Progress = _silent
) -> list[SoftTarget]:
    """The frozen base model's top-k at every answer token of each pair (bare question): what replay
    rows are held to."""
    found: list[SoftTarget] = []
    for start in range(0, len(pairs), batch_size):
        progress("replay targets (the base reads each replayed question)", start, len(pairs))
        chunk = pairs[start : start + batch_size]
        values, ids, _, row_of = base_top_k(model, tokenizer, chunk, top_k)
        found += [
            SoftTarget(ids[row_of == row].to(torch.int32), values[row_of == row].to(torch.float16))
            for row in range(len(chunk))
        ]
    progress("replay targets (the base reads each replayed question)", len(pairs), len(pairs))
    return found


def load_student(base_dir: Path, config: TrainConfig, start: Path | None = None):
    """(base model + a fresh LoRA, or the adapter in `start` to train on, tokenizer): the base in the
    dtype this CPU trains fastest in."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    torch.manual_seed(config.seed)
    tokenizer = AutoTokenizer.from_pretrained(base_dir)
    base = AutoModelForCausalLM.from_pretrained(base_dir, dtype=train_dtype(config.dtype))
    if start is not None:
        return PeftModel.from_pretrained(base, start, is_trainable=True, autocast_adapter_dtype=True), tokenizer
    lora = LoraConfig(
        r=config.r,
        lora_alpha=config.lora_alpha,
        lora_dropout=0.0,
        target_modules=list(config.target_modules),
        task_type="CAUSAL_LM",
    )
    return get_peft_model(base, lora, autocast_adapter_dtype=True), tokenizer


def train_adapter(
    model: PeftModel,
    tokenizer,
    train: list[QA],
    probe: list[QA],
    config: TrainConfig,
    log: Callable[[str], None] = print,
    soft_targets: list[SoftTarget | None] | None = None,
    progress: Progress = _silent,
) -> TrainResult:
    """Train `model`'s LoRA (from `load_student`) on `train`, with the teacher's targets aligned to it;
    `progress` gets each epoch's steps, and `log` an estimate of the whole after the first step."""
    rng = random.Random(config.seed)
    soft_targets = list(soft_targets or [None] * len(train))
    if config.kl_weight:  # replay rows repeat: the base reads each distinct one once
        replayed = {(pair.question, pair.answer): pair for pair in train if pair.kind == "replay"}
        held = dict(
            zip(replayed, base_targets(model, tokenizer, list(replayed.values()), config.top_k, progress=progress))
        )
        soft_targets = [
            held[(pair.question, pair.answer)] if pair.kind == "replay" else soft
            for pair, soft in zip(train, soft_targets)
        ]
    rows = [
        (ids, labels, pair.kind == "replay", soft)
        for (ids, labels), pair, soft in zip(encode(tokenizer, train, config.max_length), train, soft_targets)
    ]
    taught, replay = [row for row in rows if not row[2]], [row for row in rows if row[2]]
    drawn = min(len(replay), math.ceil(config.replay_per_row * len(taught))) if config.replay_per_row else len(replay)
    steps_per_epoch = math.ceil((len(taught) + drawn) / config.batch_size)
    total_steps = steps_per_epoch * config.epochs
    warmup = max(1, int(total_steps * config.warmup_fraction))
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=config.lr, weight_decay=0.0)
    # linear warm-up, then linear decay to zero over the planned steps
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: min((s + 1) / warmup, max(0.0, (total_steps - s) / max(1, total_steps - warmup)))
    )
    result = TrainResult(model=model)
    started = time.perf_counter()
    seen = 0
    for epoch in range(1, config.epochs + 1):
        model.train()
        epoch_loss = []
        # a small space replays a fresh sample of the pool each epoch, not all of it every time
        batches = bucketed_batches(taught + rng.sample(replay, drawn), config.batch_size, rng)
        for step, batch_rows in enumerate(batches):
            progress(f"epoch {epoch}/{config.epochs}", step, steps_per_epoch)
            if epoch == 1 and step == 1:
                _estimate(log, len(taught), drawn, batches, config, time.perf_counter() - started)
            rest, past = run_shared_prefix(model, batch_rows)
            loss = _loss(model, collate(rest, tokenizer.pad_token_id or 0, config.top_k), config, past)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, 1.0)
            optimizer.step()
            schedule.step()
            optimizer.zero_grad(set_to_none=True)
            epoch_loss.append(loss.item())
            seen += len(batch_rows)
        progress(f"epoch {epoch}/{config.epochs}", steps_per_epoch, steps_per_epoch)
        result.losses.append(sum(epoch_loss) / len(epoch_loss))
        result.step_losses.extend(epoch_loss)
        # the probe: phrasings never trained on; stop as soon as they are learned
        recall = recall_of(model, tokenizer, probe)
        result.probe_history.append(recall)
        result.epochs_run = epoch
        log(
            f"epoch {epoch}/{config.epochs}: loss {result.losses[-1]:.3f}, probe recall {recall:.0%}, "
            f"{time.perf_counter() - started:.0f} s"
        )
        if recall >= config.stop_at_probe_recall:
            break
    result.seconds = time.perf_counter() - started
    result.examples_per_second = seen / result.seconds
    model.eval()
    return result
