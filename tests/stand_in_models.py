"""Stand-in model folders that the CLI tests build in a second, without sentence-transformers, shared
by every test file that needs one (torch-free stand-ins are tests/stand_ins.py's):

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from stand_in_models import make_model

`make_model(folder)` writes a limit-eval model folder (docs/model-format.md): a scripted TorchScript
stand-in for the MLM (logits = a fixed projection of one-hot token ids: dense vectors), the real
bert-base-uncased vocabulary, and static query weights from a seeded generator; `module` swaps in
another TorchScript module (SparseStandInMlm gives sparse vectors), and stand_ins.write_manifest
rewrites the manifest with changes.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import torch

from stand_ins import VOCAB, VOCAB_SIZE, write_manifest


class StandInMlm(torch.nn.Module):
    """(input_ids, attention_mask) -> [B, L, V] logits: each token lights up itself and a few others."""

    def __init__(self) -> None:
        super().__init__()
        generator = torch.Generator().manual_seed(7)
        self.table = torch.nn.Parameter(torch.randn(VOCAB_SIZE, 8, generator=generator))
        self.head = torch.nn.Parameter(torch.randn(8, VOCAB_SIZE, generator=generator) - 2.5)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        hidden = self.table[input_ids] * attention_mask.unsqueeze(-1).to(torch.float32)
        return hidden @ self.head


class StandInHidden(torch.nn.Module):
    """StandInMlm split as export_model.py splits an MLM: hidden states [B, L, 8] out, the decoder
    (head transposed, plus a bias) carried as buffers for limit-eval to apply. Its manifest needs
    format_version 2 and document_encoder.output "hidden_states"."""

    def __init__(self, decoder_shape: tuple[int, int] = (VOCAB_SIZE, 8)) -> None:
        super().__init__()
        mlm = StandInMlm()
        self.table = mlm.table
        bias = torch.linspace(-0.5, 0.5, VOCAB_SIZE)
        self.register_buffer("decoder_weight", (mlm.head.detach().t().contiguous() if decoder_shape == (VOCAB_SIZE, 8)
                                                else torch.zeros(decoder_shape)))
        self.register_buffer("decoder_bias", bias)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        return self.table[input_ids] * attention_mask.unsqueeze(-1).to(torch.float32)


class SparseStandInMlm(torch.nn.Module):
    """(input_ids, attention_mask) -> [B, L, V] logits that light up each token's own id only, by a
    seeded weight per id: a document's vector has one non-zero per distinct token, where StandInMlm's
    are dense (for tests that write many documents' vectors)."""

    def __init__(self) -> None:
        super().__init__()
        generator = torch.Generator().manual_seed(11)
        self.weight = torch.nn.Parameter(torch.rand(VOCAB_SIZE, generator=generator) + 0.5)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        logits = torch.zeros(input_ids.size(0), input_ids.size(1), self.weight.size(0))
        lit = (self.weight[input_ids] * attention_mask.to(torch.float32)).unsqueeze(-1)
        return logits.scatter_(2, input_ids.unsqueeze(-1), lit)


def make_model(folder: Path, module: torch.nn.Module | None = None, weights: int = VOCAB_SIZE) -> Path:
    (folder / "tokenizer").mkdir(parents=True)
    shutil.copy(VOCAB, folder / "tokenizer" / "vocab.txt")
    torch.jit.script(module if module is not None else StandInMlm()).save(str(folder / "document_encoder.pt"))
    rng = np.random.default_rng(3)
    rng.uniform(0.5, 5.0, size=weights).astype("<f4").tofile(folder / "query_weights.f32")
    write_manifest(folder)
    return folder
