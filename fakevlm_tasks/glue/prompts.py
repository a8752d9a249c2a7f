"""The question each model is asked: the detection question's suffix per model family, and the ``doc_to_text`` hook."""

from __future__ import annotations

from collections.abc import Mapping

#: The detection question's prompt suffix per model family (``family`` in the template's
#: ``lmms_eval_specific_kwargs``). FakeVLM is asked exactly what it was trained on; a
#: general model gets the answer form the parser reads best: the verdict sentence first,
#: then the evidence that ROUGE-L and CSS compare with the reference explanation; an API
#: model, which hedges or refuses more, is also told to choose.
DETECTION_PROMPTS = {
    "fakevlm": "",
    "general": " Start your answer with \"This is a real image.\" or \"This is a fake image.\", then explain the visual evidence for your verdict.",
    "api": " Start your answer with \"This is a real image.\" or \"This is a fake image.\", then explain the visual evidence for your verdict. You must choose one of the two; if you are unsure, give your best guess.",
}



def prompted(prompts: Mapping[str, str]):
    """A ``doc_to_text`` hook: the doc's question plus the suffix of the model's family.

    The family comes from the template's ``lmms_eval_specific_kwargs`` (``family:`` per
    lmms-eval model name, ``general`` for a model it does not list); ``pre_prompt`` and
    ``post_prompt`` given there are kept around it, as lmms-eval's own tasks do.
    """

    def doc_to_text(doc, lmms_eval_specific_kwargs=None):
        kw = lmms_eval_specific_kwargs or {}
        family = kw.get("family") or "general"
        suffix = prompts.get(family, prompts.get("general", ""))
        return f"{kw.get('pre_prompt', '')}{doc['question']}{suffix}{kw.get('post_prompt', '')}"

    return doc_to_text
