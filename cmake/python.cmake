# Locates the Python of the project's virtual environments (built by scripts/setup.sh): the first runs
# the test oracles and tells where the torch wheel keeps libtorch; the second (transformers 5.x /
# sentence-transformers 6.x) runs the export and parity tests a second time (tests/CMakeLists.txt).

# limit_eval_find_venv_python(<cache variable> <environment variable naming the venv> <default venv>
#                             <description>): unless already set, the venv's bin/python when it exists.
function(limit_eval_find_venv_python variable venv_variable default_venv description)
  if(${variable})
    return()
  endif()
  if(DEFINED ENV{${venv_variable}})
    set(_venv "$ENV{${venv_variable}}")
  else()
    set(_venv "${default_venv}")
  endif()
  if(EXISTS "${_venv}/bin/python")
    set(${variable} "${_venv}/bin/python" CACHE FILEPATH "${description}" FORCE)
  endif()
endfunction()

limit_eval_find_venv_python(LIMIT_EVAL_PYTHON LIMIT_EVAL_VENV "$ENV{HOME}/.cache/limit-eval/venv"
                            "Python of the scripts/oracle environment")
if(LIMIT_EVAL_PYTHON)
  message(STATUS "limit-eval: Python environment ${LIMIT_EVAL_PYTHON}")
else()
  message(STATUS "limit-eval: no Python environment (run scripts/setup.sh); oracle tests disabled")
endif()

set(LIMIT_EVAL_PYTHON_TF5 "" CACHE FILEPATH
    "Python of the second (transformers 5) environment (default: $LIMIT_EVAL_VENV_TF5/bin/python or ~/.cache/limit-eval/venv-tf5/bin/python)")
limit_eval_find_venv_python(LIMIT_EVAL_PYTHON_TF5 LIMIT_EVAL_VENV_TF5 "$ENV{HOME}/.cache/limit-eval/venv-tf5"
                            "Python of the second (transformers 5) environment")
if(LIMIT_EVAL_PYTHON_TF5)
  message(STATUS "limit-eval: second Python environment ${LIMIT_EVAL_PYTHON_TF5}")
endif()
