# Prompt-slot key: the independent Python implementation must reproduce the committed
# golden vectors (the C side is checked by test_prefix_key against the same file).
add_test(NAME prefix_key_python
  COMMAND python3 ${PROJECT_SOURCE_DIR}/ops/clients/prefix_key.py --check
          ${CMAKE_CURRENT_SOURCE_DIR}/data/golden/prefix_keys.json)
set_tests_properties(prefix_key_python PROPERTIES LABELS cpu TIMEOUT 60)
