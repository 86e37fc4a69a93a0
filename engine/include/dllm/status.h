/* status.h -- status codes shared by every dllm module.
 *
 * Every fallible function returns a dllm_status: 0 is success, negative values are
 * errors. The set is small and stable so that callers (the worker maps them onto
 * reply error codes) can switch on it. Human-readable detail travels separately: in
 * the errbuf a creation call takes, or in the handle's last-error string.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef DLLM_STATUS_H
#define DLLM_STATUS_H

#ifdef __cplusplus
extern "C" {
#endif

typedef enum dllm_status {
    DLLM_OK = 0,
    DLLM_E_NOMEM = -1,       /* an allocation failed */
    DLLM_E_INVALID_ARG = -2, /* a caller-supplied value is out of range or malformed */
    DLLM_E_IO = -3,          /* open/read/mmap of a file failed */
    DLLM_E_FORMAT = -4,      /* a file or message does not follow its format */
    DLLM_E_CONFIG = -5,      /* a configuration is inconsistent (model config, flags) */
    DLLM_E_UNSUPPORTED = -6, /* valid but not supported by this build or backend */
    DLLM_E_DEVICE = -7,      /* a device call failed; the device is still usable */
    DLLM_E_DEVICE_LOST = -8, /* sticky device error: the process must restart */
    DLLM_E_COMM = -9,        /* a collective failed */
    DLLM_E_TIMEOUT = -10,    /* a deadline passed */
    DLLM_E_CANCELLED = -11,  /* the request was cancelled */
    DLLM_E_KAFKA = -12,      /* Kafka client error */
    DLLM_E_REDIS = -13,      /* Redis client error */
    DLLM_E_INTERNAL = -14,   /* a broken invariant; a bug */
    DLLM_E_BUSY = -15,       /* a bounded queue is full: retry later (backpressure) */
} dllm_status;

/* Name of a status ("DLLM_E_FORMAT"); never NULL, "DLLM_E_UNKNOWN" for other values. */
const char *dllm_status_str(dllm_status s);

/* One-line description of a status ("malformed file or message"); never NULL. */
const char *dllm_status_desc(dllm_status s);

#ifdef __cplusplus
}
#endif
#endif
