"""A Keras-like layer table with output shapes and parameter counts."""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from zspace.models.autoencoder import Autoencoder, build_model
from zspace.models.config import ModelConfig


@dataclass
class LayerRow:
    """One leaf layer: dotted name, type, output shape (without batch), parameters."""

    name: str
    kind: str
    output_shape: tuple[int, ...]
    params: int


@dataclass
class ModelSummary:
    """Parameter counts of a model: rows per part ('encoder', 'decoder') and totals."""

    rows: dict[str, list[LayerRow]]

    def params(self, part: str) -> int:
        return sum(r.params for r in self.rows[part])

    @property
    def total_params(self) -> int:
        return sum(self.params(p) for p in self.rows)

    def to_dict(self) -> dict:
        return {"encoder_params": self.params("encoder"), "decoder_params": self.params("decoder"),
                "total_params": self.total_params}

    def format(self) -> str:
        """The printable table (one block per part, totals at the end)."""
        lines = []
        width = 78
        for part, rows in self.rows.items():
            lines += ["=" * width, f"{part}", "-" * width,
                      f"{'Layer (type)':<38}{'Output shape':<26}{'Param #':>14}", "-" * width]
            for r in rows:
                shape = "(None, " + ", ".join(str(s) for s in r.output_shape) + ")"
                lines.append(f"{(r.name + ' (' + r.kind + ')'):<38}{shape:<26}{r.params:>14,}")
            lines += ["-" * width, f"{part} params: {self.params(part):,}"]
        lines += ["=" * width, f"Total params: {self.total_params:,}"]
        return "\n".join(lines)


def _trace(module: nn.Module, prefix: str | None, run) -> list[LayerRow]:
    rows: list[LayerRow] = []
    hooks = []
    for name, sub in module.named_modules():
        if list(sub.children()):
            continue

        def hook(mod, _inp, out, name=name):
            out = out[0] if isinstance(out, tuple) else out
            rows.append(LayerRow(f"{prefix}.{name}" if prefix else name, type(mod).__name__, tuple(out.shape[1:]),
                                 sum(p.numel() for p in mod.parameters())))
        hooks.append(sub.register_forward_hook(hook))
    try:
        run()
    finally:
        for h in hooks:
            h.remove()
    return rows


@torch.no_grad()
def summarize(model: Autoencoder) -> ModelSummary:
    """Run one dummy image through ``model`` and tabulate every leaf layer."""
    was_training = model.training
    model.eval()
    h, w, c = model.config.input_shape
    device = next(model.parameters()).device
    x = torch.zeros(1, c, h, w, device=device)
    encoder_modules = nn.ModuleDict({k: v for k, v in model.named_children() if k != "decoder"})
    enc_rows = _trace(encoder_modules, None, lambda: model.encode(x))
    z = torch.zeros(1, model.config.z_dim, device=device)
    dec_rows = _trace(model.decoder, "decoder", lambda: model.decode_logits(z))
    model.train(was_training)
    return ModelSummary({"encoder": enc_rows, "decoder": dec_rows})


@functools.lru_cache(maxsize=64)
def _forward_flops(config_json: str) -> int:
    config = ModelConfig.from_dict(json.loads(config_json))
    with torch.device("meta"):  # shapes only: no memory, no arithmetic
        model = build_model(config)
        x = torch.empty(1, config.input_shape[2], *config.input_shape[:2])
    with FlopCounterMode(display=False) as counter:
        model(x)
    return int(counter.get_total_flops())


def forward_flops(config: ModelConfig) -> int:
    """FLOP of one image's forward pass (encode + decode), counted by torch's FlopCounterMode on meta tensors."""
    return _forward_flops(json.dumps(config.to_dict(), sort_keys=True))
