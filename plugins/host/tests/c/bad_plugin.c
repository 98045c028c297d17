/*
 * Misbehaving C plugins for the host's tests: one source, one behaviour per
 * -D flag (see plugins/host/tests/host.rs).
 */
#define _POSIX_C_SOURCE 200809L
#include <string.h>
#include <time.h>

#include "tessera_plugin.h"

#define EXPORT __attribute__((visibility("default")))

static int32_t scan(const TesseraScanRequest *request, const TesseraScanSink *sink)
{
    (void)request;
#if defined(BAD_HANG)
    struct timespec hour = {3600, 0};
    nanosleep(&hour, NULL);
    (void)sink;
    return TESSERA_STATUS_OK;
#elif defined(BAD_NOT_UTF8)
    static const uint8_t bad[] = {'o', 'k', 0xff, 0xfe};
    sink->emit(sink->ctx, bad, sizeof bad);
    return TESSERA_STATUS_OK;
#elif defined(BAD_TOO_LONG)
    static uint8_t big[TESSERA_MAX_RESULT_BYTES + 1];
    memset(big, 'a', sizeof big);
    sink->emit(sink->ctx, big, sizeof big);
    return TESSERA_STATUS_OK;
#elif defined(BAD_TOO_MANY)
    for (int i = 0; i < 100; i++)
        sink->emit(sink->ctx, (const uint8_t *)"code", 4);
    return TESSERA_STATUS_OK;
#elif defined(BAD_STATUS)
    (void)sink;
    return 42;
#else
    sink->emit(sink->ctx, (const uint8_t *)"fine", 4);
    return TESSERA_STATUS_OK;
#endif
}

static const TesseraScanner scanner = {
    .input = TESSERA_SCANNER_INPUT_IMAGE,
    .scan = scan,
};

static const TesseraPlugin plugin = {
#if defined(BAD_ABI)
    .abi_version = TESSERA_PLUGIN_ABI_VERSION + 1,
#else
    .abi_version = TESSERA_PLUGIN_ABI_VERSION,
#endif
    .kind = TESSERA_PLUGIN_KIND_SCANNER,
    .name = PLUGIN_NAME,
    .version = "0.0.1",
    .scanner = &scanner,
    .biometric = NULL,
};

#if !defined(BAD_NO_ENTRY)
EXPORT const TesseraPlugin *tessera_plugin_entry(uint32_t host_abi_version)
{
    (void)host_abi_version;
#if defined(BAD_NULL_ENTRY)
    (void)&plugin;
    return NULL;
#else
    return &plugin;
#endif
}
#else
EXPORT int not_the_entry(void) { return plugin.kind; }
#endif
