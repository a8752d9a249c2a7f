"""FakeVLM's training recipe (installed as ``fakevlm_training``): fine-tune LLaVA on FakeClue-format data.

Entry point: ``fakevlm-train --config training/configs/fakevlm_7b.yaml``; see training/README.md.
"""
