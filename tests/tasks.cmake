# The task suite of the shipped model: the committed evaluation files are what the
# generator writes, every answer is right by its task's rule, training never sees them.
add_test(NAME test_tasks COMMAND python3 ${CMAKE_CURRENT_SOURCE_DIR}/test_tasks.py)
set_tests_properties(test_tasks PROPERTIES LABELS cpu TIMEOUT 120)

# The documented training command (ops/train/cpu_train.sh): seven chained train.py runs
# with options train.py declares, inside the 2-hour budget; run with a recorder in place of
# Python (no torch, nothing trained).
add_test(NAME test_cpu_train COMMAND python3 ${CMAKE_CURRENT_SOURCE_DIR}/test_cpu_train.py)
set_tests_properties(test_cpu_train PROPERTIES LABELS cpu TIMEOUT 120)
