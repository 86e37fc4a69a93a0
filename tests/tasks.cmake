# The task suite of the shipped model: the committed evaluation files are what the
# generator writes, every answer is right by its task's rule, training never sees them.
add_test(NAME test_tasks COMMAND python3 ${CMAKE_CURRENT_SOURCE_DIR}/test_tasks.py)
set_tests_properties(test_tasks PROPERTIES LABELS cpu TIMEOUT 120)
