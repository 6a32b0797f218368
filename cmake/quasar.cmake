# quasar_unit_test(NAME src...): a GoogleTest binary labelled `unit` (no root, no kernel).
function(quasar_unit_test name)
  add_executable(${name} ${ARGN})
  target_link_libraries(${name} PRIVATE GTest::gtest_main GTest::gmock)
  add_test(NAME ${name} COMMAND ${name})
  set_tests_properties(${name} PROPERTIES LABELS unit)
endfunction()

# quasar_netns_test(NAME TIMEOUT SECONDS SOURCES src... [LIBS lib...] [LABELS label...]): a
# GoogleTest binary that tests/in-netns.sh runs in a network namespace of its own (root), with
# label `netns` (and LABELS, e.g. tsan).
function(quasar_netns_test name)
  cmake_parse_arguments(T "" "TIMEOUT" "SOURCES;LIBS;LABELS" ${ARGN})
  add_executable(${name} ${T_SOURCES})
  target_link_libraries(${name} PRIVATE ${T_LIBS} GTest::gtest_main)
  add_test(NAME ${name} COMMAND ${PROJECT_SOURCE_DIR}/tests/in-netns.sh $<TARGET_FILE:${name}>)
  set(labels netns ${T_LABELS})
  set_tests_properties(${name} PROPERTIES LABELS "${labels}" TIMEOUT ${T_TIMEOUT})
endfunction()
