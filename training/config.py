"""The recipe's configuration: a commented YAML (optionally ``include``-ing a base), ``key=value``
overrides, and the start-up checks that reject invalid combinations with a message saying what to change.
"""

from __future__ import annotations

import copy
import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

# The training format is defined once, beside the adapter's prompt_format=train that must match it.
from fakevlm_model.prompts import ConversationTemplate as TemplateConfig

SECTIONS = ("model", "method", "data", "training", "resume")
METHOD_KINDS = ("generative", "class_head", "linear_probe")
ANSWER_MODES = ("explanation", "verdict")
HEAD_FEATURES = ("llm_last_token", "image_mean")
BAD_RECORD_POLICIES = ("skip", "error")
IMAGE_CHECKS = ("open", "exists")
DTYPES = ("auto", "bfloat16", "float16", "float32")

# TrainingArguments fields the recipe sets itself: a config must not set them.
RECIPE_OWNED_TRAINING_KEYS = ("remove_unused_columns", "resume_from_checkpoint", "do_train")


class ConfigError(ValueError):
    """The configuration is invalid; the message says which key and what to change."""


@dataclass
class ModelConfig:
    name_or_path: str
    processor: str | None = None
    dtype: str = "auto"
    attn_implementation: str | None = None
    train_vision_tower: bool = True
    train_projector: bool = True
    train_language_model: bool = True


@dataclass
class LoraConfig:
    r: int = 128
    alpha: int = 256
    dropout: float = 0.05
    target_modules: list[str] = field(
        default_factory=lambda: ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
    )


@dataclass
class MethodConfig:
    kind: str = "generative"
    answer: str = "explanation"
    feature: str = "llm_last_token"
    lora: LoraConfig | None = None


@dataclass
class DataConfig:
    train_json: list[str] = field(default_factory=list)
    image_roots: list[str] = field(default_factory=list)
    max_length: int = 1024
    on_bad_record: str = "skip"
    check_images: str = "exists"
    template: TemplateConfig = field(default_factory=TemplateConfig)


@dataclass
class RecipeConfig:
    model: ModelConfig
    method: MethodConfig
    data: DataConfig
    training: dict[str, Any]
    resume: str | None = "auto"

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def load_config(path: str | Path, overrides: list[str] | tuple[str, ...] = (), *, require_data: bool = True) -> RecipeConfig:
    """Read a recipe YAML (following ``include:``), apply ``dotted.key=value`` overrides, check it
    (``require_data=False``: a config without data paths yet, e.g. to print it)."""
    path = Path(path)
    raw = _read_with_includes(path, seen=())
    for item in overrides:
        _apply_override(raw, item)
    cfg = _build(raw)
    _resolve_relative_paths(cfg, path.parent)
    validate(cfg, require_data=require_data)
    return cfg


def _read_with_includes(path: Path, seen: tuple[Path, ...]) -> dict[str, Any]:
    path = path.resolve()
    if path in seen:
        raise ConfigError(f"{path}: include cycle through {[str(p) for p in seen]}")
    if not path.is_file():
        raise ConfigError(f"config file not found: {path}")
    raw = yaml.safe_load(path.read_text()) or {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: a recipe config is a mapping of sections, got {type(raw).__name__}")
    include = raw.pop("include", None)
    if include is None:
        return raw
    base = _read_with_includes(path.parent / include, seen + (path,))
    return _deep_merge(base, raw)


def _deep_merge(base: dict, update: dict) -> dict:
    out = copy.deepcopy(base)
    for key, value in update.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def _apply_override(raw: dict, item: str) -> None:
    if "=" not in item:
        raise ConfigError(f"override {item!r} is not of the form section.key=value")
    dotted, _, text = item.partition("=")
    keys = dotted.strip().split(".")
    node = raw
    for key in keys[:-1]:
        node = node.setdefault(key, {})
        if not isinstance(node, dict):
            raise ConfigError(f"override {item!r}: {key!r} is not a section")
    node[keys[-1]] = _parse_value(text)


def _parse_value(text: str) -> Any:
    """YAML, except that 1e-5 is a number (YAML 1.1 reads it as a string)."""
    value = yaml.safe_load(text)
    if isinstance(value, str):
        try:
            return float(value) if any(c in value for c in ".eE") else int(value)
        except ValueError:
            pass
    return value


def _build(raw: dict) -> RecipeConfig:
    unknown = sorted(set(raw) - set(SECTIONS))
    if unknown:
        raise ConfigError(f"unknown top-level key(s) {unknown}; the sections are {list(SECTIONS)}")
    if "model" not in raw or "name_or_path" not in (raw["model"] or {}):
        raise ConfigError("model.name_or_path is required (e.g. llava-hf/llava-1.5-7b-hf)")
    method_raw = dict(raw.get("method") or {})
    lora_raw = method_raw.pop("lora", None)
    data_raw = dict(raw.get("data") or {})
    template_raw = data_raw.pop("template", None) or {}
    for key in ("train_json", "image_roots"):
        if isinstance(data_raw.get(key), str):
            data_raw[key] = [data_raw[key]]
    training = raw.get("training") or {}
    if not isinstance(training, dict):
        raise ConfigError("training: must be a mapping of transformers.TrainingArguments fields")
    method = _make(MethodConfig, method_raw, "method")
    if lora_raw is not None:
        method.lora = _make(LoraConfig, lora_raw, "method.lora")
    data = _make(DataConfig, data_raw, "data")
    data.template = _make(TemplateConfig, template_raw, "data.template")
    return RecipeConfig(
        model=_make(ModelConfig, raw["model"], "model"),
        method=method,
        data=data,
        training=dict(training),
        resume=raw.get("resume", "auto"),
    )


def _make(cls, values: dict, section: str):
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(values) - names)
    if unknown:
        raise ConfigError(f"unknown key(s) {unknown} in {section}; valid keys: {sorted(names)}")
    return cls(**values)


def _resolve_relative_paths(cfg: RecipeConfig, config_dir: Path) -> None:
    """A relative ``training.deepspeed`` names a JSON beside the config file (the shipped zero2.json)."""
    ds = cfg.training.get("deepspeed")
    if isinstance(ds, str) and not Path(ds).is_absolute() and not Path(ds).exists():
        cfg.training["deepspeed"] = str((config_dir / ds).resolve())


def validate(cfg: RecipeConfig, *, require_data: bool = True) -> None:
    """Reject combinations that cannot work, before any model is loaded."""
    m, meth, d, t = cfg.model, cfg.method, cfg.data, cfg.training
    _choice(meth.kind, METHOD_KINDS, "method.kind")
    _choice(meth.answer, ANSWER_MODES, "method.answer")
    _choice(meth.feature, HEAD_FEATURES, "method.feature")
    _choice(d.on_bad_record, BAD_RECORD_POLICIES, "data.on_bad_record")
    _choice(d.check_images, IMAGE_CHECKS, "data.check_images")
    _choice(m.dtype, DTYPES, "model.dtype")
    if require_data and not d.train_json:
        raise ConfigError("data.train_json is empty: give FakeClue's data_json/train.json (data.train_json=PATH)")
    if require_data and not d.image_roots:
        raise ConfigError("data.image_roots is empty: give the folder(s) the records' image paths are relative to")
    if d.max_length < 1:
        raise ConfigError(f"data.max_length must be positive, got {d.max_length}")
    for name in ("user", "assistant"):
        if "{text}" not in getattr(d.template, name):
            raise ConfigError(f"data.template.{name} must contain {{text}}")
    if "{eos}" not in d.template.assistant:
        raise ConfigError("data.template.assistant must contain {eos}: the final EOS carries loss")
    if "{system}" not in d.template.system:
        raise ConfigError("data.template.system must contain {system}")

    owned = sorted(set(t) & set(RECIPE_OWNED_TRAINING_KEYS))
    if owned:
        raise ConfigError(f"training.{owned[0]} is set by the recipe; use the top-level 'resume' key to resume")
    if not t.get("output_dir"):
        raise ConfigError("training.output_dir is required")

    trains_any = m.train_vision_tower or m.train_projector or m.train_language_model
    if meth.kind == "generative":
        if meth.feature != "llm_last_token":
            raise ConfigError("method.feature applies to the head variants only; remove it or set method.kind")
        if not trains_any:
            raise ConfigError("nothing to train: set one of model.train_vision_tower/train_projector/train_language_model")
    else:
        if meth.answer != "explanation":
            raise ConfigError(f"method.answer applies to generative training only; method.kind={meth.kind} learns the label")
        if meth.lora is not None:
            raise ConfigError(f"method.lora is for generative training; method.kind={meth.kind} does not take it")
        if meth.feature == "image_mean" and m.train_language_model:
            raise ConfigError("method.feature=image_mean never runs the language model: set model.train_language_model=false")
    if meth.kind == "linear_probe":
        if trains_any:
            raise ConfigError(
                "method.kind=linear_probe freezes the backbone: set model.train_vision_tower, "
                "model.train_projector and model.train_language_model to false (or use method.kind=class_head)"
            )
        if t.get("activation_checkpointing") or t.get("gradient_checkpointing"):
            raise ConfigError("a linear probe has no backbone gradients: set training.activation_checkpointing=false")
    if meth.lora is not None:
        if m.train_vision_tower:
            raise ConfigError("method.lora adapts the language model only: set model.train_vision_tower=false")
        if not m.train_language_model:
            raise ConfigError("method.lora puts adapters on the language model: set model.train_language_model=true")
    if t.get("bf16") and t.get("fp16"):
        raise ConfigError("training.bf16 and training.fp16 are exclusive")
    if m.dtype in ("bfloat16", "float16") and not t.get("deepspeed") and meth.lora is None:
        # Without DeepSpeed's fp32 master weights, AdamW would update 16-bit weights directly.
        raise ConfigError(
            f"model.dtype={m.dtype} without training.deepspeed trains 16-bit weights with no fp32 master copy: "
            "use model.dtype=float32 (with training.bf16=true for autocast) or a DeepSpeed config"
        )
    if cfg.resume not in (None, "auto") and not isinstance(cfg.resume, str):
        raise ConfigError("resume must be 'auto', null or a checkpoint folder")


def _choice(value: Any, allowed: tuple[str, ...], key: str) -> None:
    if value not in allowed:
        raise ConfigError(f"{key}={value!r} is not one of {list(allowed)}")


def dump(cfg: RecipeConfig) -> str:
    """The resolved configuration as YAML: logged first, and saved with every checkpoint."""
    return yaml.safe_dump(cfg.to_dict(), sort_keys=False)


def differences(saved: dict, current: dict, prefix: str = "") -> list[str]:
    """Dotted keys whose values differ between two resolved configs (for the resume warning)."""
    out = []
    for key in sorted(set(saved) | set(current)):
        a, b = saved.get(key), current.get(key)
        if isinstance(a, dict) and isinstance(b, dict):
            out += differences(a, b, f"{prefix}{key}.")
        elif a != b:
            out.append(f"{prefix}{key}: checkpoint {a!r} -> now {b!r}")
    return out
