/* status.c -- names and descriptions of dllm_status codes.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include "dllm/status.h"

const char *dllm_status_str(dllm_status s)
{
    switch (s) {
    case DLLM_OK: return "DLLM_OK";
    case DLLM_E_NOMEM: return "DLLM_E_NOMEM";
    case DLLM_E_INVALID_ARG: return "DLLM_E_INVALID_ARG";
    case DLLM_E_IO: return "DLLM_E_IO";
    case DLLM_E_FORMAT: return "DLLM_E_FORMAT";
    case DLLM_E_CONFIG: return "DLLM_E_CONFIG";
    case DLLM_E_UNSUPPORTED: return "DLLM_E_UNSUPPORTED";
    case DLLM_E_DEVICE: return "DLLM_E_DEVICE";
    case DLLM_E_DEVICE_LOST: return "DLLM_E_DEVICE_LOST";
    case DLLM_E_COMM: return "DLLM_E_COMM";
    case DLLM_E_TIMEOUT: return "DLLM_E_TIMEOUT";
    case DLLM_E_CANCELLED: return "DLLM_E_CANCELLED";
    case DLLM_E_KAFKA: return "DLLM_E_KAFKA";
    case DLLM_E_REDIS: return "DLLM_E_REDIS";
    case DLLM_E_INTERNAL: return "DLLM_E_INTERNAL";
    case DLLM_E_BUSY: return "DLLM_E_BUSY";
    }
    return "DLLM_E_UNKNOWN";
}

const char *dllm_status_desc(dllm_status s)
{
    switch (s) {
    case DLLM_OK: return "success";
    case DLLM_E_NOMEM: return "out of memory";
    case DLLM_E_INVALID_ARG: return "invalid argument";
    case DLLM_E_IO: return "input/output error";
    case DLLM_E_FORMAT: return "malformed file or message";
    case DLLM_E_CONFIG: return "inconsistent configuration";
    case DLLM_E_UNSUPPORTED: return "not supported";
    case DLLM_E_DEVICE: return "device error";
    case DLLM_E_DEVICE_LOST: return "device lost";
    case DLLM_E_COMM: return "communication error";
    case DLLM_E_TIMEOUT: return "timed out";
    case DLLM_E_CANCELLED: return "cancelled";
    case DLLM_E_KAFKA: return "Kafka error";
    case DLLM_E_REDIS: return "Redis error";
    case DLLM_E_INTERNAL: return "internal error";
    case DLLM_E_BUSY: return "busy: queue full, retry later";
    }
    return "unknown status";
}
