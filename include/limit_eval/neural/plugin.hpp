#pragma once

#include "limit_eval/encode/encoder.hpp"
#include "limit_eval/neural/document_model.hpp"
#include "limit_eval/neural/finetune.hpp"

// The one symbol limit-eval looks up in the neural encoder plugin. It throws the usual
// limit_eval::Error subclasses (ModelError, UsageError) on failure.
extern "C" {
using LimitEvalCreateNeuralEncoder = limit_eval::encode::SparseEncoder* (*)(const char* folder,
                                                                             const limit_eval::neural::DeviceOptions*);
limit_eval::encode::SparseEncoder* limit_eval_create_neural_encoder(const char* folder,
                                                                     const limit_eval::neural::DeviceOptions* options);
}

inline constexpr const char* kNeuralPluginSymbol = "limit_eval_create_neural_encoder";

// `limit-eval finetune`: trains and writes options->output; throws like the encoder's factory.
extern "C" {
using LimitEvalFinetune = void (*)(const limit_eval::neural::FinetuneOptions*);
void limit_eval_finetune(const limit_eval::neural::FinetuneOptions* options);
}

inline constexpr const char* kFinetuneSymbol = "limit_eval_finetune";
