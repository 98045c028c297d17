/*
 * A biometric plugin in C for the host's tests: one source, one behaviour
 * per -D flag (see plugins/host/tests/biometric.rs). Without a flag it is a
 * well-behaved plugin: a device with one finger enrolled, a verify that
 * reports a retry and matches, an enroll of three stages.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdatomic.h>
#include <string.h>
#include <time.h>

#include "tessera_plugin.h"

#define EXPORT __attribute__((visibility("default")))

static _Atomic uint64_t cancelled;

static void say(const TesseraBiometricEvents *events, const char *text)
{
    events->message(events->ctx, (const uint8_t *)text, strlen(text));
}

__attribute__((unused)) static void nap_ms(long ms)
{
    struct timespec t = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&t, NULL);
}

static int32_t availability(const TesseraBiometricRequest *request,
                            const TesseraBiometricEvents *events, TesseraBiometricInfo *info)
{
    (void)request;
    info->device_present = 1;
    info->enrolled = 1;
    say(events, "C reader");
    return TESSERA_STATUS_OK;
}

static int32_t enroll(const TesseraBiometricRequest *request, const TesseraBiometricEvents *events)
{
    (void)request;
    for (uint32_t stage = 1; stage <= 3; stage++) {
        static const char again[] = "again";
        events->progress(events->ctx, TESSERA_BIOMETRIC_PROGRESS_STAGE, stage, 3,
                         (const uint8_t *)again, sizeof again - 1);
    }
    return TESSERA_STATUS_OK;
}

static int32_t verify(const TesseraBiometricRequest *request, const TesseraBiometricEvents *events)
{
#if defined(WAITS_FOR_CANCEL)
    /* Waits for the finger that never comes, watching for cancel. */
    for (;;) {
        if (atomic_load(&cancelled) == request->call_id) {
            say(events, "stopped");
            return TESSERA_STATUS_CANCELLED;
        }
        nap_ms(10);
    }
#elif defined(BAD_IGNORES_CANCEL)
    (void)request;
    (void)events;
    nap_ms(3600 * 1000L);
    return TESSERA_STATUS_OK;
#elif defined(BAD_PROGRESS)
    (void)request;
    events->progress(events->ctx, 9, 0, 0, NULL, 0);
    return TESSERA_STATUS_OK;
#elif defined(BAD_STATUS)
    (void)request;
    (void)events;
    return 42;
#elif defined(NO_MATCH)
    (void)request;
    say(events, "not your finger");
    return TESSERA_STATUS_NO_MATCH;
#else
    (void)request;
    static const char retry[] = "too short";
    events->progress(events->ctx, TESSERA_BIOMETRIC_PROGRESS_RETRY, 0, 0,
                     (const uint8_t *)retry, sizeof retry - 1);
    return TESSERA_STATUS_OK;
#endif
}

static void cancel(uint64_t call_id)
{
    atomic_store(&cancelled, call_id);
}

static const TesseraBiometric table = {
    .availability = availability,
    .enroll = enroll,
    .verify = verify,
    .cancel = cancel,
};

static const TesseraPlugin plugin = {
    .abi_version = TESSERA_PLUGIN_ABI_VERSION,
    .kind = TESSERA_PLUGIN_KIND_BIOMETRIC,
    .name = PLUGIN_NAME,
    .version = "0.0.1",
    .scanner = NULL,
    .biometric = &table,
};

EXPORT const TesseraPlugin *tessera_plugin_entry(uint32_t host_abi_version)
{
    (void)host_abi_version;
    return &plugin;
}
