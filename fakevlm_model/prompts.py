"""The three prompt formats of the ``fakevlm`` adapter, as pure functions of the question.

* ``raw`` (default): the official evaluation's input, ``"<image>" + question``; the
  tokenizer adds BOS; no template, no system prompt. Reproduces the paper.
* ``train``: the training template, ``USER: <image>\\n{question} ASSISTANT:``
  (:data:`TRAIN_TEMPLATE`, the one definition the training recipe's defaults and
  ``fakevlm-convert``'s chat template :data:`TRAIN_CHAT_TEMPLATE` also use).
* ``chat``: the checkpoint's own processor chat template.

A context may carry the beginning of the answer after :data:`ANSWER_PREFIX_MARKER`
(``question + ANSWER_PREFIX_MARKER + " This is a"``): the prefix is placed where the
model's answer starts (right after the question in ``raw``, after ``ASSISTANT:`` in
the templates). Loglikelihood tasks use it to score " real" / " fake" at the verdict
position in whichever format is selected.
"""

from __future__ import annotations

from dataclasses import dataclass

PROMPT_FORMATS = ("raw", "train", "chat")
IMAGE_TOKEN = "<image>"
ANSWER_PREFIX_MARKER = "<|answer|>"


@dataclass(frozen=True)
class ConversationTemplate:
    """A conversation format in pieces, as the training recipe renders a record.

    ``{text}``: a turn's text; ``{image}``: the image token(s), put before the first
    question; ``{eos}``: the tokenizer's EOS, which ends each answer (its loss runs
    through it); ``{system}``: a record's system prompt (the piece is left out without one).
    """

    system: str = "{system} "
    user: str = "USER: {text} "
    assistant: str = "ASSISTANT: {text} {eos}"
    image: str = "{image}\n"

    @property
    def answer_start(self) -> str:
        """What opens an answer, before its text: ``ASSISTANT:`` (the generation prompt ends with it)."""
        return self.assistant.partition("{text}")[0].rstrip()

    def generation_prompt(self, question: str, images: str = "", system: str | None = None) -> str:
        """The text before the first answer, for a question (``images``: the image tokens, if any)."""
        head = self.system.replace("{system}", system) if system else ""
        image = self.image.replace("{image}", images) if images else ""
        return head + self.user.replace("{text}", image + question) + self.answer_start


#: FakeVLM's training format, LLaVA-1.5's conversation without a system prompt:
#: ``<s>USER: <image>\n{question} ASSISTANT: {answer} </s>``.
TRAIN_TEMPLATE = ConversationTemplate()


def _chat_template(template: ConversationTemplate) -> str:
    """``template`` as a Jinja chat template; a message's content is a string or a list of
    ``{"type": "image"}`` / ``{"type": "text", "text": ...}`` parts."""

    def by_role(side: int) -> str:
        """The text before (``side`` 0) or after (2) a message's content, by the message's role."""
        system, user, assistant = (
            piece.partition(field)[side].replace("{eos}", "{{ eos_token }}")
            for piece, field in ((template.system, "{system}"), (template.user, "{text}"), (template.assistant, "{text}"))
        )
        return "{% if message['role'] == 'system' %}" + system + "{% elif message['role'] == 'user' %}" + user + "{% else %}" + assistant + "{% endif %}"

    content = (
        "{% if message['content'] is string %}{{ message['content'] }}{% else %}{% for part in message['content'] %}"
        "{% if part['type'] == 'image' %}" + template.image.replace("{image}", IMAGE_TOKEN) + "{% else %}{{ part['text'] }}{% endif %}"
        "{% endfor %}{% endif %}"
    )
    return "{% for message in messages %}" + by_role(0) + content + by_role(2) + "{% endfor %}{% if add_generation_prompt %}" + template.answer_start + "{% endif %}"


#: :data:`TRAIN_TEMPLATE` as a processor's chat template (what ``fakevlm-convert`` writes).
TRAIN_CHAT_TEMPLATE = _chat_template(TRAIN_TEMPLATE)


@dataclass(frozen=True)
class Prompt:
    """A rendered prompt and whether the tokenizer must still add its special tokens (BOS)."""

    text: str
    add_special_tokens: bool = True


def split_context(context: str) -> tuple[str, str]:
    """``(question, answer_prefix)`` of a task context; the prefix is ``""`` without the marker."""
    question, _, prefix = context.partition(ANSWER_PREFIX_MARKER)
    return question, prefix


def render_prompt(context: str, n_images: int, prompt_format: str, processor=None, image_token: str = IMAGE_TOKEN) -> Prompt:
    """Render a task context (the bare question, optionally with an answer prefix) for the model.

    ``n_images`` image tokens are placed before the question unless the question already
    contains them. ``processor`` is needed only by the ``chat`` format (its chat template).
    Raises ``ValueError`` for an empty question or an unknown format.
    """
    question, prefix = split_context(context)
    if not question.strip():
        raise ValueError("empty prompt: the task gave no question text")
    images = "" if image_token in question else image_token * n_images
    if prompt_format == "raw":
        return Prompt(images + question + prefix)
    if prompt_format == "train":
        return Prompt(TRAIN_TEMPLATE.generation_prompt(question, images) + prefix)
    if prompt_format == "chat":
        if processor is None or not getattr(processor, "chat_template", None):
            raise ValueError("prompt_format=chat needs a processor with a chat template; this checkpoint's processor has none (use raw or train)")
        content = [{"type": "image"}] * (n_images if images else 0) + [{"type": "text", "text": question}]
        text = processor.apply_chat_template([{"role": "user", "content": content}], add_generation_prompt=True, tokenize=False)
        bos = getattr(processor.tokenizer, "bos_token", None)
        # A template that writes BOS itself must not get a second one from the tokenizer.
        return Prompt(text + prefix, add_special_tokens=not (bos and text.startswith(bos)))
    raise ValueError(f"unknown prompt_format {prompt_format!r}; choose one of {', '.join(PROMPT_FORMATS)}")


def render_head_prompt(context: str, template: str) -> Prompt:
    """The prompt a class-head checkpoint was trained with (its config's ``fakevlm_head.prompt``), filled with the question."""
    question, _ = split_context(context)
    if not question.strip():
        raise ValueError("empty prompt: the task gave no question text")
    return Prompt(template.format(question=question.replace(IMAGE_TOKEN, "").strip()))
