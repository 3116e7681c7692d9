# Target helpers shared by every module. Each target lists its sources and
# dependencies explicitly; nothing is added to global flags.

add_library(halfmq_warnings INTERFACE)
target_compile_options(halfmq_warnings INTERFACE
  -Wall -Wextra -Wshadow -Wnon-virtual-dtor -Woverloaded-virtual
  -Wno-unused-parameter
  $<$<CXX_COMPILER_ID:Clang>:-Wthread-safety>
  $<$<BOOL:${HALFMQ_WERROR}>:-Werror>)

add_library(halfmq_build_flags INTERFACE)
if(HALFMQ_SANITIZE)
  # -fno-sanitize=function: clang <= 14 cannot emit its prologue data for
  # coroutines ("Cannot represent a difference across sections").
  target_compile_options(halfmq_build_flags INTERFACE
    -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
    $<$<CXX_COMPILER_ID:Clang>:-fno-sanitize=function>)
  target_link_options(halfmq_build_flags INTERFACE -fsanitize=address,undefined)
endif()
if(HALFMQ_FUZZ)
  # Coverage instrumentation everywhere; only the fuzz targets link
  # libFuzzer's main (fuzz/CMakeLists.txt).
  target_compile_options(halfmq_build_flags INTERFACE -fsanitize=fuzzer-no-link)
endif()
if(HALFMQ_TSAN)
  target_compile_options(halfmq_build_flags INTERFACE -fsanitize=thread -fno-omit-frame-pointer)
  target_link_options(halfmq_build_flags INTERFACE -fsanitize=thread)
endif()

# halfmq_cc_library(NAME SRCS a.cc b.cc DEPS x y [PRIVATE_DEPS z])
# DEPS are dependencies visible in the library's headers; PRIVATE_DEPS are not.
function(halfmq_cc_library NAME)
  cmake_parse_arguments(ARG "" "" "SRCS;DEPS;PRIVATE_DEPS" ${ARGN})
  add_library(${NAME} STATIC ${ARG_SRCS})
  target_include_directories(${NAME} PUBLIC ${PROJECT_SOURCE_DIR})
  target_link_libraries(${NAME}
    PUBLIC ${ARG_DEPS} halfmq_build_flags
    PRIVATE ${ARG_PRIVATE_DEPS} halfmq_warnings)
endfunction()

# halfmq_cc_binary(NAME SRCS main.cc DEPS lib)
function(halfmq_cc_binary NAME)
  cmake_parse_arguments(ARG "" "" "SRCS;DEPS" ${ARGN})
  add_executable(${NAME} ${ARG_SRCS})
  target_link_libraries(${NAME} PRIVATE ${ARG_DEPS} halfmq_warnings halfmq_build_flags)
endfunction()

# halfmq_cc_test(NAME SRCS x_test.cc DEPS lib [LABELS unit|integration] [TIMEOUT s])
function(halfmq_cc_test NAME)
  cmake_parse_arguments(ARG "" "TIMEOUT" "SRCS;DEPS;LABELS" ${ARGN})
  add_executable(${NAME} ${ARG_SRCS})
  target_link_libraries(${NAME} PRIVATE ${ARG_DEPS} GTest::gtest GTest::gtest_main
    halfmq_warnings halfmq_build_flags)
  add_test(NAME ${NAME} COMMAND ${NAME})
  if(NOT ARG_TIMEOUT)
    set(ARG_TIMEOUT 300)
  endif()
  if(NOT ARG_LABELS)
    set(ARG_LABELS unit)
  endif()
  set_tests_properties(${NAME} PROPERTIES TIMEOUT ${ARG_TIMEOUT} LABELS "${ARG_LABELS}"
    ENVIRONMENT "HALFMQ_BIN_DIR=${PROJECT_BINARY_DIR}/bin")
endfunction()
