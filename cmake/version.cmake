execute_process(COMMAND git rev-parse --short=12 HEAD WORKING_DIRECTORY "${PROJECT_SOURCE_DIR}"
                OUTPUT_VARIABLE LIMIT_EVAL_GIT_COMMIT OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET)
execute_process(COMMAND git status --porcelain --untracked-files=no WORKING_DIRECTORY "${PROJECT_SOURCE_DIR}"
                OUTPUT_VARIABLE _git_dirty OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET)
if(NOT LIMIT_EVAL_GIT_COMMIT)
  set(LIMIT_EVAL_GIT_COMMIT "unknown")
elseif(_git_dirty)
  string(APPEND LIMIT_EVAL_GIT_COMMIT "-dirty")
endif()
configure_file("${PROJECT_SOURCE_DIR}/cmake/version.hpp.in"
               "${PROJECT_BINARY_DIR}/generated/limit_eval/core/version.hpp" @ONLY)
