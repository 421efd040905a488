// Entry point of the neural encoder plugin (liblimit_eval_neural.so). limit-eval loads it only
// when a neural model is asked for, so BM25 runs and every other command start without libtorch.
#include "limit_eval/neural/plugin.hpp"

#include "limit_eval/neural/neural_encoder.hpp"

limit_eval::encode::SparseEncoder* limit_eval_create_neural_encoder(const char* folder, const limit_eval::neural::DeviceOptions* options) {
  return new limit_eval::neural::NeuralSparseEncoder(folder, *options);
}
