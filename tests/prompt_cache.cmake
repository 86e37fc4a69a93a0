# Prompt-slot key: the independent Python implementation must reproduce the committed
# golden vectors (the C side is checked by test_prefix_key against the same file).
add_test(NAME prefix_key_python
  COMMAND python3 ${PROJECT_SOURCE_DIR}/ops/clients/prefix_key.py --check
          ${CMAKE_CURRENT_SOURCE_DIR}/data/golden/prefix_keys.json)
set_tests_properties(prefix_key_python PROPERTIES LABELS cpu TIMEOUT 60)

# The prompt-slot directory against a real redis-server started by the test.
if(DLLM_WORKER)
  add_executable(test_directory ${CMAKE_CURRENT_SOURCE_DIR}/worker/test_directory.c)
  target_link_libraries(test_directory PRIVATE dllm_testutil dllm_worker_lib dllm_warnings)
  add_test(NAME test_directory COMMAND test_directory)
  set_tests_properties(test_directory PROPERTIES LABELS "cpu;redis" TIMEOUT 120
    SKIP_RETURN_CODE 77)
endif()
