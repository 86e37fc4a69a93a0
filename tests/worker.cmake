# Worker tests (DLLM_WORKER=ON only): the Check suites (codec; config, dedupe LRU and
# metrics) and the Kafka integration
# scripts in tests/worker/ (label kafka), each starting its own dllm-devbroker (and
# redis-server where needed) on loopback.
if(DLLM_FUZZ AND TARGET fuzz_request)
  if(DLLM_WORKER)
    target_link_libraries(fuzz_request PRIVATE dllm_worker_codec)
    target_compile_definitions(fuzz_request PRIVATE DLLM_HAVE_WORKER=1)
  endif()
endif()

if(DLLM_WORKER)
  add_executable(test_codec ${CMAKE_CURRENT_SOURCE_DIR}/worker/test_codec.c)
  target_link_libraries(test_codec PRIVATE dllm_testutil dllm_worker_codec dllm_warnings)
  add_test(NAME test_codec COMMAND test_codec)
  set_tests_properties(test_codec PROPERTIES LABELS "cpu;kafka" TIMEOUT 120)

  add_executable(test_redis_url ${CMAKE_CURRENT_SOURCE_DIR}/worker/test_redis_url.c)
  target_link_libraries(test_redis_url PRIVATE dllm_testutil dllm_worker_lib dllm_warnings)
  target_include_directories(test_redis_url PRIVATE ${PROJECT_SOURCE_DIR}/worker)
  add_test(NAME test_redis_url COMMAND test_redis_url)
  set_tests_properties(test_redis_url PROPERTIES LABELS "cpu;redis" TIMEOUT 60)

  add_executable(test_worker_units ${CMAKE_CURRENT_SOURCE_DIR}/worker/test_worker_units.c)
  target_link_libraries(test_worker_units PRIVATE dllm_testutil dllm_worker_lib dllm_warnings)
  add_test(NAME test_worker_units COMMAND test_worker_units)
  set_tests_properties(test_worker_units PROPERTIES LABELS "cpu;kafka" TIMEOUT 120)

  file(GLOB DLLM_WORKER_SCRIPTS CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/worker/test_*.sh)
  foreach(script ${DLLM_WORKER_SCRIPTS})
    get_filename_component(name ${script} NAME_WE)
    add_test(NAME worker_${name} COMMAND bash ${script})
    set_tests_properties(worker_${name} PROPERTIES LABELS kafka TIMEOUT 300
      SKIP_RETURN_CODE 77
      ENVIRONMENT "DLLM_BIN_DIR=${CMAKE_RUNTIME_OUTPUT_DIRECTORY};DLLM_SOURCE_DIR=${PROJECT_SOURCE_DIR};DLLM_BUILD_DIR=${CMAKE_BINARY_DIR}")
  endforeach()
endif()
