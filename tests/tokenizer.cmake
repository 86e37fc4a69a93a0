# Tokenizer tests beyond tests/test_tokenizer.c (which the glob registers):
#   tokenize_dump                 the C tokenizer as a command-line tool (not a test itself)
#   tokenizer_parity_<fixture>    tests/parity/check.js: same ids and decode as the HF
#                                 `tokenizers` library (npm, pinned in tests/parity), per
#                                 fixture, plus mutated variants of it; exits 77 (skipped)
#                                 when the library is not installed:
#                                 `npm ci --prefix tests/parity` installs it.
#   tokenizer_parity_unicode      the same over a sweep of code points of every script
# Fuzz targets (tests/fuzz/fuzz_tokenizer*.c) are built by tests/fuzz.cmake; here they only
# get the path of the fixture they load.

add_executable(tokenize_dump ${CMAKE_CURRENT_SOURCE_DIR}/tokenize_dump.c)
target_link_libraries(tokenize_dump PRIVATE dllm_engine dllm_warnings)

set(DLLM_TOK_FIXTURES llama3 gpt2)
find_program(DLLM_NODE node)
foreach(fx ${DLLM_TOK_FIXTURES})
  if(DLLM_NODE)
    add_test(NAME tokenizer_parity_${fx}
      COMMAND ${DLLM_NODE} ${CMAKE_CURRENT_SOURCE_DIR}/parity/check.js
        --dump $<TARGET_FILE:tokenize_dump>
        --tokenizer ${CMAKE_CURRENT_SOURCE_DIR}/data/tokenizer/${fx}/tokenizer.json
        --corpus ${CMAKE_CURRENT_SOURCE_DIR}/parity/corpus.jsonl --variants)
  else()
    add_test(NAME tokenizer_parity_${fx}
      COMMAND sh -c "echo 'node not found: tokenizer parity skipped'; exit 77")
  endif()
  set_tests_properties(tokenizer_parity_${fx} PROPERTIES LABELS cpu SKIP_RETURN_CODE 77
    TIMEOUT 600)
endforeach()
# Regex character classes on every script (sampled code points), with all the variants.
if(DLLM_NODE)
  add_test(NAME tokenizer_parity_unicode
    COMMAND ${DLLM_NODE} ${CMAKE_CURRENT_SOURCE_DIR}/parity/check.js --variants --random 0
      --dump $<TARGET_FILE:tokenize_dump>
      --tokenizer ${CMAKE_CURRENT_SOURCE_DIR}/data/tokenizer/llama3/tokenizer.json
      --corpus ${CMAKE_CURRENT_SOURCE_DIR}/parity/unicode_sweep.jsonl)
else()
  add_test(NAME tokenizer_parity_unicode
    COMMAND sh -c "echo 'node not found: tokenizer parity skipped'; exit 77")
endif()
set_tests_properties(tokenizer_parity_unicode PROPERTIES LABELS cpu SKIP_RETURN_CODE 77
  TIMEOUT 600)

foreach(tgt fuzz_tokenizer fuzz_tokenizer_json)
  if(TARGET ${tgt})
    target_compile_definitions(${tgt} PRIVATE
      DLLM_TOK_FIXTURE="${CMAKE_CURRENT_SOURCE_DIR}/data/tokenizer/llama3/tokenizer.json")
  endif()
endforeach()

# The tokenizers of the checkpoints we ship and test with (real learned vocabularies).
set(DLLM_TOK_MODELS "tiny_random=${PROJECT_SOURCE_DIR}/tests/data/tiny-llada/tokenizer.json"
                    "llada_tiny=${PROJECT_SOURCE_DIR}/models/llada-tiny/tokenizer.json")
foreach(entry ${DLLM_TOK_MODELS})
  string(REPLACE "=" ";" kv "${entry}")
  list(GET kv 0 tname)
  list(GET kv 1 tpath)
  if(DLLM_NODE AND EXISTS "${tpath}")
    add_test(NAME tokenizer_parity_model_${tname}
      COMMAND ${DLLM_NODE} ${CMAKE_CURRENT_SOURCE_DIR}/parity/check.js
        --dump $<TARGET_FILE:tokenize_dump> --tokenizer ${tpath}
        --corpus ${CMAKE_CURRENT_SOURCE_DIR}/parity/corpus.jsonl)
    set_tests_properties(tokenizer_parity_model_${tname} PROPERTIES LABELS cpu
      SKIP_RETURN_CODE 77 TIMEOUT 600)
  endif()
endforeach()
