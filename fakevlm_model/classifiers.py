"""Image classifiers that output P(fake): one transformers model class for CNNs, NPR and CLIP/SigLIP probes.

:class:`FakeImageDetector` is an ``AutoModelForImageClassification`` (registered on import)
whose one output logit is log-odds of *fake* (the convention of NPR, UnivFD and CNNDetection:
``sigmoid(logit) = P(fake)``). Its backbone is a torchvision or timm network, optionally fed
the NPR residual, or a frozen CLIP/SigLIP image encoder with a linear head. Its config also
carries the preprocessing, so a checkpoint folder is all an evaluation needs.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn
from torch.nn import functional as F
from transformers import AutoConfig, AutoModelForImageClassification, PretrainedConfig, PreTrainedModel
from transformers.modeling_outputs import ImageClassifierOutput

MODEL_TYPE = "fakevlm_detector"
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
RESIDUALS = (None, "npr")
#: Backbones named ``<library>:<architecture>``; ``probe`` is a frozen encoder + linear head.
CNN_LIBRARIES = ("torchvision", "timm")
PROBE = "probe"


def npr_residual(x: torch.Tensor) -> torch.Tensor:
    """NPR's input: ``x - up(down(x))``, nearest-neighbour resampling by a factor of 2.

    Nearest down-sampling keeps the top-left pixel of every 2x2 block and nearest
    up-sampling copies it back over the block, so each pixel ends up minus its block's
    top-left pixel: zero wherever an up-sampling layer copied pixels. ``x`` is
    ``(..., H, W)`` with even H and W.
    """
    height, width = x.shape[-2:]
    if height % 2 or width % 2:
        raise ValueError(f"the NPR residual needs even image sides, got {height}x{width}")
    flat = x.reshape(-1, *x.shape[-3:]) if x.dim() >= 3 else x[None, None]
    down = F.interpolate(flat, scale_factor=0.5, mode="nearest")
    up = F.interpolate(down, size=(height, width), mode="nearest")
    return (flat - up).reshape(x.shape)


class FakeDetectorConfig(PretrainedConfig):
    """What :class:`FakeImageDetector` is built from, and how its input images are prepared.

    * ``backbone``: ``torchvision:<name>`` or ``timm:<name>`` (built with one output), or
      ``probe`` (``encoder`` then holds a CLIP or SigLIP vision config as a dict).
    * ``residual``: ``npr`` feeds the backbone :func:`npr_residual` of the normalised image.
    * ``train_encoder``: probes only; False (UnivFD) runs the encoder without gradients.
    * preprocessing: shorter side resized to ``resize`` (bicubic; None keeps the pixels, as
      NPR must), centre crop of ``image_size`` (padded with zeros when smaller),
      normalised with ``image_mean`` / ``image_std``.
    """

    model_type = MODEL_TYPE

    def __init__(
        self,
        backbone: str = "torchvision:resnet50",
        residual: str | None = None,
        encoder: dict | None = None,
        train_encoder: bool = False,
        image_size: int = 224,
        resize: int | None = None,
        image_mean: tuple[float, ...] = IMAGENET_MEAN,
        image_std: tuple[float, ...] = IMAGENET_STD,
        **kwargs,
    ):
        kwargs.setdefault("num_labels", 1)
        kwargs.setdefault("id2label", {0: "fake"})
        super().__init__(**kwargs)
        self.backbone = backbone
        self.residual = residual
        self.encoder = encoder
        self.train_encoder = train_encoder
        self.image_size = image_size
        self.resize = resize
        self.image_mean = list(image_mean)
        self.image_std = list(image_std)


def check_spec(config: FakeDetectorConfig) -> None:
    """Reject a config that cannot be built, saying which field to change."""
    if config.residual not in RESIDUALS:
        raise ValueError(f"residual={config.residual!r}: choose npr or none")
    if config.backbone == PROBE:
        if not config.encoder:
            raise ValueError("backbone=probe needs an encoder (a CLIP or SigLIP vision checkpoint)")
        if config.residual:
            raise ValueError("the NPR residual is for CNN backbones; a probe reads the image itself")
    else:
        library, _, name = config.backbone.partition(":")
        if library not in CNN_LIBRARIES or not name:
            raise ValueError(f"backbone={config.backbone!r}: use torchvision:<name>, timm:<name> or probe")
    if config.residual == "npr" and config.image_size % 2:
        raise ValueError(f"image_size={config.image_size}: the NPR residual needs an even size")


def _encoder_classes(model_type: str):
    """(config class, model class, output field) of a supported image encoder."""
    from transformers import CLIPVisionConfig, CLIPVisionModelWithProjection, SiglipVisionConfig, SiglipVisionModel

    if model_type.startswith("clip"):
        return CLIPVisionConfig, CLIPVisionModelWithProjection, "image_embeds"
    if model_type.startswith("siglip"):
        return SiglipVisionConfig, SiglipVisionModel, "pooler_output"
    raise ValueError(f"image encoder of type {model_type!r}: CLIP and SigLIP are supported")


def load_encoder(name_or_path: str, revision: str | None = None):
    """A CLIP (projected image embedding, UnivFD's feature) or SigLIP (pooled) vision encoder and its image processor."""
    from transformers import AutoImageProcessor

    model_type = AutoConfig.from_pretrained(name_or_path, revision=revision).model_type
    _, model_class, _ = _encoder_classes(model_type)
    encoder = model_class.from_pretrained(name_or_path, revision=revision)
    return encoder, AutoImageProcessor.from_pretrained(name_or_path, revision=revision)


def _build_cnn(backbone: str) -> nn.Module:
    library, _, name = backbone.partition(":")
    if library == "torchvision":
        import torchvision

        return torchvision.models.get_model(name, weights=None, num_classes=1)
    import timm

    return timm.create_model(name, pretrained=False, num_classes=1)


class FakeImageDetector(PreTrainedModel):
    """A real/fake image classifier: ``logits`` (B, 1) are the log-odds of fake."""

    config_class = FakeDetectorConfig
    main_input_name = "pixel_values"
    base_model_prefix = "detector"
    # A single-logit loss is a per-batch mean: the Trainer must scale it for accumulation.
    accepts_loss_kwargs = False

    def __init__(self, config: FakeDetectorConfig):
        super().__init__(config)
        check_spec(config)
        if config.backbone == PROBE:
            encoder_config_class, encoder_class, self._feature = _encoder_classes(config.encoder["model_type"])
            self.encoder = encoder_class(encoder_config_class.from_dict(config.encoder))
            width = getattr(self.encoder.config, "projection_dim", None) if self._feature == "image_embeds" else None
            self.head = nn.Linear(width or self.encoder.config.hidden_size, 1)
            self.encoder.requires_grad_(config.train_encoder)
        else:
            self.backbone = _build_cnn(config.backbone)
        self.post_init()

    def _init_weights(self, module):
        # torchvision, timm and the encoders initialise their own layers when built.
        pass

    def logits_of(self, pixel_values: torch.Tensor) -> torch.Tensor:
        if self.config.backbone != PROBE:
            x = npr_residual(pixel_values) if self.config.residual == "npr" else pixel_values
            return self.backbone(x)
        with torch.set_grad_enabled(torch.is_grad_enabled() and self.config.train_encoder):
            features = getattr(self.encoder(pixel_values=pixel_values), self._feature)
        return self.head(features)

    def forward(self, pixel_values=None, class_labels=None, **kwargs):
        """``class_labels``: FakeClue labels (1 real, 0 fake); the loss is binary cross-entropy on fake."""
        logits = self.logits_of(pixel_values)
        loss = None
        if class_labels is not None:
            target = (1 - class_labels).to(logits.dtype)
            loss = F.binary_cross_entropy_with_logits(logits.float().squeeze(-1), target.float())
        return ImageClassifierOutput(loss=loss, logits=logits)


AutoConfig.register(MODEL_TYPE, FakeDetectorConfig, exist_ok=True)
AutoModelForImageClassification.register(FakeDetectorConfig, FakeImageDetector, exist_ok=True)


def image_transform(config: FakeDetectorConfig, augment: bool = False):
    """PIL image -> normalised (3, S, S) tensor as ``config`` says; ``augment``: random crop and flip (training)."""
    from torchvision import transforms as T

    steps = []
    if config.resize:
        steps.append(T.Resize(config.resize, interpolation=T.InterpolationMode.BICUBIC))
    if augment:
        steps += [T.RandomCrop(config.image_size, pad_if_needed=True), T.RandomHorizontalFlip()]
    else:
        steps.append(T.CenterCrop(config.image_size))
    steps += [T.ToTensor(), T.Normalize(config.image_mean, config.image_std)]
    return T.Compose(steps)


def probe_config(encoder, image_processor, **fields) -> FakeDetectorConfig:
    """The config of a linear probe on ``encoder``, preprocessing as its own image processor does."""
    size = image_processor.crop_size if getattr(image_processor, "do_center_crop", False) else image_processor.size
    side = size.get("height") or size.get("shortest_edge")
    resize = image_processor.size.get("shortest_edge") or image_processor.size.get("height")
    return FakeDetectorConfig(
        backbone=PROBE,
        encoder=encoder.config.to_dict(),
        image_size=side,
        resize=resize,
        image_mean=image_processor.image_mean,
        image_std=image_processor.image_std,
        **fields,
    )


def probe_with_encoder(encoder, image_processor, **fields) -> FakeImageDetector:
    """A linear probe whose encoder carries ``encoder``'s weights (the head is freshly initialised)."""
    model = FakeImageDetector(probe_config(encoder, image_processor, **fields))
    model.encoder.load_state_dict(encoder.state_dict())
    return model


def read_state_dict(path: str | Path) -> dict[str, torch.Tensor]:
    """A checkpoint file's weights: safetensors or a torch pickle, unwrapped from the usual
    ``model`` / ``state_dict`` keys and DataParallel's ``module.`` prefix."""
    path = Path(path)
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        state = load_file(str(path))
    else:
        state = torch.load(path, map_location="cpu", weights_only=True)
    for key in ("state_dict", "model", "net"):
        if isinstance(state.get(key), dict):
            state = state[key]
    return {k.removeprefix("module."): v for k, v in state.items()}


def load_external_weights(model: FakeImageDetector, path: str | Path) -> None:
    """Copy a checkpoint trained elsewhere into ``model``, strictly: a CNN's whole state
    (e.g. CNNDetection's ResNet-50 with one output) or a probe's linear head (e.g.
    UnivFD's ``fc_weights.pth``, with or without an ``fc.`` prefix)."""
    state = read_state_dict(path)
    if model.config.backbone == PROBE:
        state = {k.removeprefix("fc."): v for k, v in state.items()}
        model.head.load_state_dict(state, strict=True)
    else:
        model.backbone.load_state_dict(state, strict=True)
