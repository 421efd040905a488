# LIMIT_EVAL_SANITIZE: every target built with AddressSanitizer + UndefinedBehaviorSanitizer, any
# report fatal. LIMIT_EVAL_FUZZ adds libFuzzer's coverage instrumentation (clang only) and the fuzz
# targets. libtorch is not built with the sanitizers, so these builds leave the neural plugin out
# unless LIMIT_EVAL_SANITIZE_NEURAL asks for it (the plugin instrumented, libtorch not).
if(LIMIT_EVAL_FUZZ)
  if(NOT CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
    message(FATAL_ERROR "LIMIT_EVAL_FUZZ needs clang (libFuzzer): configure with -DCMAKE_CXX_COMPILER=clang++ "
                        "(scripts/fuzz.sh does)")
  endif()
  set(LIMIT_EVAL_SANITIZE ON)
endif()
if(LIMIT_EVAL_SANITIZE)
  if(LIMIT_EVAL_WITH_TORCH AND NOT LIMIT_EVAL_SANITIZE_NEURAL)
    message(STATUS "limit-eval: sanitizer build: the libtorch plugin is left out (LIMIT_EVAL_SANITIZE_NEURAL=ON builds it)")
    set(LIMIT_EVAL_WITH_TORCH OFF)
  endif()
  set(_sanitize_flags -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer)
  add_compile_options(${_sanitize_flags})
  add_link_options(${_sanitize_flags})
  message(STATUS "limit-eval: AddressSanitizer + UndefinedBehaviorSanitizer build")
endif()
if(LIMIT_EVAL_FUZZ)
  add_compile_options(-fsanitize=fuzzer-no-link)
endif()
if(LIMIT_EVAL_SANITIZE)
  # Internal invariants are checked too, whatever the build type.
  add_compile_options(-UNDEBUG)
endif()
