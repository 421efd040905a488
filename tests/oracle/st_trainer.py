"""The reference of `limit-eval finetune`: sentence-transformers 5.1's SparseEncoderTrainer run with
the seed's recipe (DESIGN.md §5) on given samples, recording every loss part of every step.

    records, model = train_reference(source_folder, loading_options, samples, **hyper_parameters)

`samples` is a list of {"query": ..., "document": ...} in the order the trainer's dataset holds
them (limit-eval writes that order to the trained folder's train_samples.jsonl); the
NO_DUPLICATES batch sampler then draws batches from it exactly as in the seed's run.
"""

from __future__ import annotations

import logging
import tempfile
import time


def train_reference(source, load: dict, samples: list[dict], *, batch_size: int, epochs: int, lr: float = 5e-5,
                    warmup_ratio: float = 0.1, max_grad_norm: float = 1.0, seed: int = 42,
                    document_regularizer_weight: float = 3e-5, query_regularizer_weight: float = 5e-5,
                    document_regularizer_threshold=None, query_regularizer_threshold=None, scale: float = 1.0,
                    step_seconds: list | None = None):
    """Trains a SparseEncoder loaded from `source` and returns (per-step loss parts, model)."""
    import torch
    from datasets import Dataset
    from sentence_transformers.sparse_encoder import (SparseEncoder, SparseEncoderTrainer,
                                                      SparseEncoderTrainingArguments, losses)
    from sentence_transformers.sparse_encoder.models import SparseStaticEmbedding
    from sentence_transformers.training_args import BatchSamplers
    from transformers import TrainerCallback

    logging.getLogger("sentence_transformers").setLevel(logging.ERROR)
    model = SparseEncoder(str(source), device="cpu", **load)
    for module in model.modules():
        if isinstance(module, SparseStaticEmbedding):  # the seed trains the query weights too
            module.frozen = False
            module.weight.requires_grad_(True)
    loss = losses.SpladeLoss(model, losses.SparseMultipleNegativesRankingLoss(model, scale=scale),
                             document_regularizer_weight=document_regularizer_weight,
                             query_regularizer_weight=query_regularizer_weight,
                             document_regularizer_threshold=document_regularizer_threshold,
                             query_regularizer_threshold=query_regularizer_threshold)
    records: list[dict] = []
    forward = loss.forward

    def recording_forward(*args, **kwargs):
        parts = forward(*args, **kwargs)
        records.append({"ranking_loss": float(parts["base_loss"].detach()),
                        "document_regularizer_loss": float(parts["document_regularizer_loss"].detach()),
                        "query_regularizer_loss": float(parts["query_regularizer_loss"].detach())})
        return parts

    loss.forward = recording_forward

    class StepTimer(TrainerCallback):
        def on_step_begin(self, args, state, control, **kwargs):
            self.started = time.perf_counter()

        def on_step_end(self, args, state, control, **kwargs):
            if step_seconds is not None:
                step_seconds.append(time.perf_counter() - self.started)

    dataset = Dataset.from_dict({"query": [s["query"] for s in samples], "document": [s["document"] for s in samples]})
    with tempfile.TemporaryDirectory(prefix="st-trainer-") as output:
        args = SparseEncoderTrainingArguments(
            output_dir=output, per_device_train_batch_size=batch_size, num_train_epochs=epochs, learning_rate=lr,
            warmup_ratio=warmup_ratio, max_grad_norm=max_grad_norm, seed=seed,
            batch_sampler=BatchSamplers.NO_DUPLICATES, router_mapping={"query": "query", "document": "document"},
            save_strategy="no", report_to=[], logging_strategy="no", use_cpu=True, disable_tqdm=True)
        trainer = SparseEncoderTrainer(model=model, args=args, train_dataset=dataset, loss=loss,
                                       callbacks=[StepTimer()])
        trainer.train()
    model.eval()
    torch.set_grad_enabled(True)
    return records, model
