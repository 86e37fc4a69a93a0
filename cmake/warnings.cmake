# Warning flags and sanitizers as INTERFACE targets (no global flag edits).
add_library(dllm_warnings INTERFACE)
target_compile_options(dllm_warnings INTERFACE
  $<$<COMPILE_LANGUAGE:C>:-Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes
    -Wpointer-arith -Wformat=2 -Wvla>)
if(DLLM_WERROR)
  target_compile_options(dllm_warnings INTERFACE $<$<COMPILE_LANGUAGE:C>:-Werror>)
endif()
target_compile_definitions(dllm_warnings INTERFACE _POSIX_C_SOURCE=200809L)

add_library(dllm_sanitize INTERFACE)
if(DLLM_SANITIZE)
  target_compile_options(dllm_sanitize INTERFACE
    -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer)
  target_link_options(dllm_sanitize INTERFACE -fsanitize=address,undefined)
endif()
if(DLLM_FUZZ)
  # Coverage instrumentation for everything the fuzz targets link (libFuzzer needs it).
  target_compile_options(dllm_sanitize INTERFACE -fsanitize=fuzzer-no-link,address,undefined
    -fno-omit-frame-pointer)
  target_link_options(dllm_sanitize INTERFACE -fsanitize=address,undefined)
endif()
