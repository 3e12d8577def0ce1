# SignetVersion.cmake: the version every binary, package and image carries.
#
# SIGNET_VERSION is project(... VERSION ...); SIGNET_GIT_COMMIT is the short
# commit of the source tree at configure time ("unknown" outside a git work
# tree, e.g. a Docker build context without .git; pass -DSIGNET_GIT_COMMIT=...
# to set it). SIGNET_VERSION_STRING ("0.1.0-1a2b3c4") is what `--version`
# prints, what the startup log line carries and what the image tag uses.
#
# Target signet_version: one generated translation unit defining
# signet::VersionString(), so that a new commit recompiles one file.

set(SIGNET_VERSION ${PROJECT_VERSION})
set(SIGNET_GIT_COMMIT "" CACHE STRING "Commit recorded in --version (empty: git rev-parse at configure time)")
set(_signet_commit "${SIGNET_GIT_COMMIT}")
if(_signet_commit STREQUAL "")
  set(_signet_commit unknown)
  find_package(Git QUIET)
  if(GIT_FOUND)
    execute_process(COMMAND ${GIT_EXECUTABLE} rev-parse --short HEAD
      WORKING_DIRECTORY ${PROJECT_SOURCE_DIR}
      OUTPUT_VARIABLE _out RESULT_VARIABLE _rc ERROR_QUIET OUTPUT_STRIP_TRAILING_WHITESPACE)
    if(_rc EQUAL 0 AND _out MATCHES "^[0-9a-f]+$")
      set(_signet_commit ${_out})
      # Re-run the configure step when HEAD moves (a commit, a checkout), so
      # the recorded commit is never stale.
      execute_process(COMMAND ${GIT_EXECUTABLE} rev-parse --git-path HEAD
        WORKING_DIRECTORY ${PROJECT_SOURCE_DIR}
        OUTPUT_VARIABLE _head OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET)
      execute_process(COMMAND ${GIT_EXECUTABLE} symbolic-ref -q HEAD
        WORKING_DIRECTORY ${PROJECT_SOURCE_DIR}
        OUTPUT_VARIABLE _ref OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET)
      set(_watch ${_head})
      if(_ref)
        execute_process(COMMAND ${GIT_EXECUTABLE} rev-parse --git-path ${_ref}
          WORKING_DIRECTORY ${PROJECT_SOURCE_DIR}
          OUTPUT_VARIABLE _reffile OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET)
        list(APPEND _watch ${_reffile})
      endif()
      foreach(f IN LISTS _watch)
        if(NOT IS_ABSOLUTE "${f}")
          set(f "${PROJECT_SOURCE_DIR}/${f}")
        endif()
        if(EXISTS "${f}")
          set_property(DIRECTORY ${PROJECT_SOURCE_DIR} APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS "${f}")
        endif()
      endforeach()
    endif()
  endif()
endif()
set(SIGNET_COMMIT "${_signet_commit}")
set(SIGNET_VERSION_STRING "${SIGNET_VERSION}-${SIGNET_COMMIT}")
message(STATUS "Signet version ${SIGNET_VERSION_STRING}")

configure_file(${PROJECT_SOURCE_DIR}/common/version.cc.in
  ${PROJECT_BINARY_DIR}/generated/version.cc @ONLY)
add_library(signet_version STATIC ${PROJECT_BINARY_DIR}/generated/version.cc)
signet_warnings(signet_version)
target_include_directories(signet_version PUBLIC ${PROJECT_SOURCE_DIR})
