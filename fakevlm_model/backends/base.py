"""The interface between the ``fakevlm`` request loop and a backend."""

from __future__ import annotations

from fakevlm_model.prompts import Prompt, render_prompt
from fakevlm_model.rows import Batch, Generated, Likelihood


class Backend:
    """What the request loop asks of a backend.

    ``render`` turns a task context into the model's prompt; ``prepare_generation`` /
    ``prepare_loglikelihood`` turn a batch of rows into model inputs (they may run in the
    prefetch thread, and move a row that cannot be prepared to ``batch.failed``);
    ``generate`` / ``loglikelihood`` return one answer per row of ``batch.rows``, in order.
    """

    #: The torch model, for lmms-eval's ``model`` attribute (``None`` where there is none).
    model = None
    #: Why loglikelihood requests are refused; ``None`` where they are supported.
    no_loglikelihood: str | None = None

    def __init__(self, processor, prompt_format: str):
        self.processor = processor
        self.prompt_format = prompt_format

    def render(self, context: str, n_images: int) -> Prompt:
        return render_prompt(context, n_images, self.prompt_format, self.processor)

    def prepare_generation(self, batch: Batch) -> None:
        """Nothing to prepare by default: the rows' prompts and images are the inputs."""

    def prepare_loglikelihood(self, batch: Batch) -> None:
        """Nothing to prepare by default."""

    def generate(self, batch: Batch, settings: dict) -> list[Generated]:
        raise NotImplementedError

    def loglikelihood(self, batch: Batch) -> list[Likelihood]:
        raise NotImplementedError(self.no_loglikelihood)
