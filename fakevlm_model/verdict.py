"""The verdict score: P("real") vs P("fake") where a generated answer states its verdict.

FakeVLM's answers open with "This is a real/fake image."; the authors read the
probabilities of the tokens "real" and "fake" at that position to get an AUC score.
:class:`VerdictRecorder` is a logits processor that keeps, at every generation step,
only the probabilities of those few tokens (never the whole vocabulary), so the score
comes out of the generation pass itself.
"""

from __future__ import annotations

import torch
from transformers import LogitsProcessor

from fakevlm_tasks.glue.sample import VerdictScore
from fakevlm_tasks.scoring.parsing import answer_start

VERDICT_WORDS = ("real", "fake")


def verdict_token_ids(tokenizer) -> tuple[list[int], list[int]]:
    """Token ids that spell "real" and "fake" on their own: with or without a leading space, either case.

    A spelling that takes several tokens is left out (its first token would also start
    other words). The two lists never share an id.
    """
    found = []
    for word in VERDICT_WORDS:
        ids = set()
        for variant in (word, " " + word, word.capitalize(), " " + word.capitalize()):
            pieces = tokenizer.encode(variant, add_special_tokens=False)
            # Llama-style tokenizers may emit a bare "▁" piece before the word.
            pieces = [p for p in pieces if tokenizer.decode([p]).strip()]
            if len(pieces) == 1 and tokenizer.decode(pieces).strip().lower() == word:
                ids.add(pieces[0])
        found.append(ids)
    real, fake = found
    return sorted(real - fake), sorted(fake - real)


class VerdictRecorder(LogitsProcessor):
    """Records P(real) and P(fake) at every step of a ``generate`` call; leaves the logits unchanged.

    It runs before any sampling warper (temperature, top-p), so under greedy decoding
    the probabilities are the model's own softmax.
    """

    def __init__(self, real_ids: list[int], fake_ids: list[int]):
        self.real_ids = real_ids
        self.fake_ids = fake_ids
        self.steps: list[torch.Tensor] = []  # each (batch, 2): P(real), P(fake)

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        probs = torch.softmax(scores.float(), dim=-1)
        self.steps.append(torch.stack([probs[:, self.real_ids].sum(-1), probs[:, self.fake_ids].sum(-1)], dim=-1))
        return scores

    def scores_for(self, generated: torch.LongTensor, starts: list[int] | None = None) -> list[VerdictScore | None]:
        """One score per row of ``generated`` (the new tokens only): at the first verdict token.

        ``starts``: per row, the first step that may hold it (a reasoning model's answer after its
        ``</think>``: a "real" in its musings is not its verdict); 0 for every row by default. A row
        that never generated a verdict token from there is scored at the step where the two words had
        the most probability (``found=False``); ``None`` when nothing was recorded.
        """
        if not self.steps:
            return [None] * generated.shape[0]
        table = torch.stack(self.steps, dim=1).cpu()  # (batch, steps, 2); one device sync
        generated = generated.cpu()
        verdict_ids = torch.tensor(self.real_ids + self.fake_ids, dtype=generated.dtype)
        hits = torch.isin(generated[:, : table.shape[1]], verdict_ids)
        out = []
        for row in range(generated.shape[0]):
            positions = hits[row].nonzero()
            if starts is not None:
                positions = positions[positions >= starts[row]]
            if len(positions):
                step, found = int(positions[0]), True
            else:
                step, found = int(table[row].sum(-1).argmax()), False
            p_real, p_fake = table[row, step].tolist()
            out.append(VerdictScore(p_real=p_real, p_fake=p_fake, step=step if found else None, found=found))
        return out


def answer_token_start(tokenizer, tokens, text: str) -> int:
    """The first of ``tokens`` (one generated row) that lies in ``text``'s answer part
    (:func:`~fakevlm_tasks.scoring.parsing.answer_start`; ``text`` is the row decoded with special tokens skipped,
    not stripped): the token that crosses where the answer begins. 0 when the answer has no reasoning block."""
    at = answer_start(text)
    if at == 0:
        return 0
    tokens = list(tokens)
    low, high = 0, len(tokens)
    while low < high:  # a prefix's decoded length grows with it
        middle = (low + high) // 2
        if len(tokenizer.decode(tokens[:middle], skip_special_tokens=True)) < at:
            low = middle + 1
        else:
            high = middle
    return max(0, low - 1)
