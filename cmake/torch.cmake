# libtorch comes from the torch wheel of the Python environment (Debian's libtorch is too old to
# load modern TorchScript exports). LIMIT_EVAL_TORCH_FOUND tells the encoder modules whether to build.
set(LIMIT_EVAL_TORCH_FOUND OFF)
set(LIMIT_EVAL_CUDA_ARCH_LIST "8.0;9.0" CACHE STRING "CUDA architectures handed to torch's CMake package")
if(LIMIT_EVAL_WITH_TORCH AND LIMIT_EVAL_PYTHON)
  execute_process(
    COMMAND "${LIMIT_EVAL_PYTHON}" -c "import torch; print(torch.utils.cmake_prefix_path); print(torch.__version__)"
    OUTPUT_VARIABLE _torch_out OUTPUT_STRIP_TRAILING_WHITESPACE RESULT_VARIABLE _torch_rc ERROR_QUIET)
  if(_torch_rc EQUAL 0)
    string(REPLACE "\n" ";" _torch_lines "${_torch_out}")
    list(GET _torch_lines 0 _torch_prefix)
    list(GET _torch_lines 1 LIMIT_EVAL_TORCH_VERSION)
    list(APPEND CMAKE_PREFIX_PATH "${_torch_prefix}")
    # Without an explicit architecture list, torch's CMake package try_runs a GPU probe, which fails
    # on machines without a GPU. We compile no kernels of our own; the list only shapes nvcc flags.
    if(NOT DEFINED ENV{TORCH_CUDA_ARCH_LIST})
      set(ENV{TORCH_CUDA_ARCH_LIST} "${LIMIT_EVAL_CUDA_ARCH_LIST}")
    endif()
    find_package(Torch QUIET)
    if(Torch_FOUND)
      set(LIMIT_EVAL_TORCH_FOUND ON)
      message(STATUS "limit-eval: libtorch ${LIMIT_EVAL_TORCH_VERSION} from ${_torch_prefix}")
    else()
      message(WARNING "limit-eval: torch ${LIMIT_EVAL_TORCH_VERSION} is installed but its CMake package did not load")
    endif()
  else()
    message(STATUS "limit-eval: torch not importable from ${LIMIT_EVAL_PYTHON}; neural encoders disabled")
  endif()
endif()
