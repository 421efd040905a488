# The Snowball English stemmer that BM25 uses, at the version the LIMIT paper's bm25s run had
# (PyStemmer 3.x, Snowball 3.x: DESIGN.md §2). Debian 12's libstemmer is Snowball 2.2, which stems
# some words differently and moves LIMIT-small's Recall@2. PyStemmer's source distribution carries
# no C sources (its setup.py downloads them from snowballstem.org at build time, a host outside the
# package registries), and Debian's source package of Snowball 3 is not served by the mirrors we
# reach, so the library comes from Debian's binary package of Snowball 3.1.1 (testing/unstable): the
# libstemmer-dev .deb, whose libstemmer.a is position-independent and needs nothing beyond libc.
# Its English stemmer gives PyStemmer 3.1.0's stems (tests/oracle/test_bm25_oracle.py).
# It is downloaded at configure time into the build tree, checked against a pinned SHA-256 and
# linked statically: nothing of it is in the repository, and the binary does not depend on the
# system's libstemmer.
#
# LIMIT_EVAL_SNOWBALL_DEB overrides where the .deb comes from (a local path or a URL, same checksum):
# Debian's pool drops a package version some time after a newer one replaces it.
set(LIMIT_EVAL_SNOWBALL_VERSION "3.1.1")
set(_snowball_deb_name "libstemmer-dev_${LIMIT_EVAL_SNOWBALL_VERSION}-1_amd64.deb")
set(_snowball_deb_sha256 "0e9c1bfc0eabde212738211d6e331ab84757cb258da01033ec0ea0a67a352e54")
set(LIMIT_EVAL_SNOWBALL_DEB "http://deb.debian.org/debian/pool/main/s/snowball/${_snowball_deb_name}"
    CACHE STRING "Debian's libstemmer-dev ${LIMIT_EVAL_SNOWBALL_VERSION} package: a path or a URL")

if(NOT CMAKE_SYSTEM_PROCESSOR MATCHES "^(x86_64|AMD64|amd64)$")
  message(FATAL_ERROR "limit-eval: the pinned Snowball package is for amd64; this is ${CMAKE_SYSTEM_PROCESSOR}")
endif()

set(_snowball_dir "${PROJECT_BINARY_DIR}/_deps/snowball-${LIMIT_EVAL_SNOWBALL_VERSION}")
set(_snowball_library "${_snowball_dir}/usr/lib/x86_64-linux-gnu/libstemmer.a")
set(_snowball_include "${_snowball_dir}/usr/include")
if(NOT EXISTS "${_snowball_library}" OR NOT EXISTS "${_snowball_include}/libstemmer.h")
  set(_snowball_deb "${PROJECT_BINARY_DIR}/_deps/${_snowball_deb_name}")
  if(LIMIT_EVAL_SNOWBALL_DEB MATCHES "^[a-z]+://")
    message(STATUS "limit-eval: downloading Snowball ${LIMIT_EVAL_SNOWBALL_VERSION} (${LIMIT_EVAL_SNOWBALL_DEB})")
    file(DOWNLOAD "${LIMIT_EVAL_SNOWBALL_DEB}" "${_snowball_deb}" STATUS _status)
    list(GET _status 0 _code)
    if(NOT _code EQUAL 0)
      list(GET _status 1 _message)
      file(REMOVE "${_snowball_deb}")
      message(FATAL_ERROR "limit-eval: could not download ${LIMIT_EVAL_SNOWBALL_DEB}: ${_message}. Point "
                          "-DLIMIT_EVAL_SNOWBALL_DEB at a copy of ${_snowball_deb_name} (SHA-256 ${_snowball_deb_sha256}).")
    endif()
  else()
    configure_file("${LIMIT_EVAL_SNOWBALL_DEB}" "${_snowball_deb}" COPYONLY)
  endif()
  file(SHA256 "${_snowball_deb}" _sha256)
  if(NOT _sha256 STREQUAL _snowball_deb_sha256)
    file(REMOVE "${_snowball_deb}")
    message(FATAL_ERROR "limit-eval: ${LIMIT_EVAL_SNOWBALL_DEB} has SHA-256 ${_sha256}, expected ${_snowball_deb_sha256}")
  endif()
  # A .deb is an ar archive holding data.tar.xz; CMake's tar (libarchive) reads both.
  file(REMOVE_RECURSE "${_snowball_dir}")
  file(MAKE_DIRECTORY "${_snowball_dir}/deb")
  execute_process(COMMAND "${CMAKE_COMMAND}" -E tar xf "${_snowball_deb}" WORKING_DIRECTORY "${_snowball_dir}/deb"
                  RESULT_VARIABLE _rc)
  file(GLOB _data_tar "${_snowball_dir}/deb/data.tar.*")
  if(NOT _rc EQUAL 0 OR NOT _data_tar)
    message(FATAL_ERROR "limit-eval: could not unpack ${_snowball_deb}")
  endif()
  execute_process(COMMAND "${CMAKE_COMMAND}" -E tar xf "${_data_tar}" WORKING_DIRECTORY "${_snowball_dir}"
                  RESULT_VARIABLE _rc)
  file(REMOVE_RECURSE "${_snowball_dir}/deb")
  if(NOT _rc EQUAL 0 OR NOT EXISTS "${_snowball_library}")
    message(FATAL_ERROR "limit-eval: ${_snowball_deb} holds no libstemmer.a")
  endif()
endif()

add_library(snowball::stemmer STATIC IMPORTED)
set_target_properties(snowball::stemmer PROPERTIES IMPORTED_LOCATION "${_snowball_library}"
                                                   INTERFACE_INCLUDE_DIRECTORIES "${_snowball_include}")
message(STATUS "limit-eval: Snowball ${LIMIT_EVAL_SNOWBALL_VERSION} (libstemmer.a from ${_snowball_deb_name})")
