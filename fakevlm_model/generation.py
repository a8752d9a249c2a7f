"""lmms-eval's generation kwargs as the ``fakevlm`` adapter applies them: the decoding settings and the stop strings."""

from __future__ import annotations

DEFAULT_MAX_NEW_TOKENS = 256


def token_budget(value, where: str) -> int | None:
    """``value`` as a number of new tokens (None: not set); ValueError naming ``where`` unless it is a
    whole number >= 1 (a 0 must not read as "not set" and generate the default silently)."""
    if value is None:
        return None
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value)
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{where} max_new_tokens={value!r}: expected a whole number of tokens, at least 1")
    return value


def generation_settings(gen_kwargs, max_new_tokens: int | None = None) -> dict:
    """Decoding settings for ``generate``: greedy unless the task samples; ``max_new_tokens`` (the model arg) wins over the task's."""
    gen_kwargs = dict(gen_kwargs or {})
    max_new = max_new_tokens
    if max_new is None:
        max_new = token_budget(gen_kwargs.get("max_new_tokens"), "the task's generation_kwargs:")
    if max_new is None:
        max_new = DEFAULT_MAX_NEW_TOKENS
    temperature = float(gen_kwargs.get("temperature") or 0.0)
    do_sample = bool(gen_kwargs.get("do_sample", False)) or temperature > 0
    settings = {"max_new_tokens": int(max_new), "do_sample": do_sample, "num_beams": int(gen_kwargs.get("num_beams") or 1)}
    if do_sample:
        settings["temperature"] = temperature or 1.0
        if gen_kwargs.get("top_p") is not None:
            settings["top_p"] = float(gen_kwargs["top_p"])
    else:  # plain greedy, whatever the checkpoint's generation_config suggests
        settings.update(temperature=None, top_p=None, top_k=None)
    return settings


def stop_strings(gen_kwargs, eos_token: str | None) -> list[str]:
    """The task's ``until`` strings, less the EOS token (generation stops at EOS by itself)."""
    until = (gen_kwargs or {}).get("until") or []
    until = [until] if isinstance(until, str) else list(until)
    return [s for s in until if s and s != eos_token]


def truncate(text: str, stops: list[str]) -> str:
    """Cut at the first stop string, as lmms-eval's ``until`` asks."""
    for stop in stops:
        text = text.split(stop, 1)[0]
    return text
