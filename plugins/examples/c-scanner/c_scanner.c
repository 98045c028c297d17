/*
 * An example Tessera scanner plugin in C (docs/plugins.md).
 *
 * It "scans" a text file: every line that starts with otpauth:// or
 * tessera:// is a code. Real decoding is beside the point; the example
 * shows the whole ABI: the entry function and version handshake, the
 * static descriptor, the scan function, sending results and a message.
 *
 * Build:
 *   cc -std=c11 -Wall -Wextra -Werror -shared -fPIC \
 *      -I ../../api/include -o libtessera_scanner_c_example.so c_scanner.c
 * and copy the .so into ~/.local/lib/tessera/plugins/ (mode 0644 or 0755).
 */
#include <string.h>

#include "tessera_plugin.h"

#define EXPORT __attribute__((visibility("default")))

static const char message_none[] = "no otpauth:// or tessera:// line found";
static const char message_empty[] = "the file is empty";
static const char message_binary[] = "not a text file";

static int starts_with(const uint8_t *line, size_t len, const char *prefix)
{
    size_t n = strlen(prefix);
    return len >= n && memcmp(line, prefix, n) == 0;
}

static int32_t scan(const TesseraScanRequest *request, const TesseraScanSink *sink)
{
    const uint8_t *p = request->image;
    size_t left = request->image_len;
    int found = 0;

    if (p == NULL || left == 0) {
        sink->message(sink->ctx, (const uint8_t *)message_empty, sizeof message_empty - 1);
        return TESSERA_STATUS_BAD_INPUT;
    }
    if (memchr(p, 0, left) != NULL) {
        sink->message(sink->ctx, (const uint8_t *)message_binary, sizeof message_binary - 1);
        return TESSERA_STATUS_BAD_INPUT;
    }
    while (left > 0) {
        const uint8_t *end = memchr(p, '\n', left);
        size_t len = end ? (size_t)(end - p) : left;
        size_t line_len = len;
        if (line_len > 0 && p[line_len - 1] == '\r')
            line_len--;
        if ((starts_with(p, line_len, "otpauth://") || starts_with(p, line_len, "tessera://"))
            && line_len <= TESSERA_MAX_RESULT_BYTES) {
            found++;
            /* The host copies the bytes; non-zero means "no more, please". */
            if (sink->emit(sink->ctx, p, line_len) != 0 || found == TESSERA_MAX_RESULTS)
                break;
        }
        p += len;
        left -= len;
        if (end) {
            p++;
            left--;
        }
    }
    if (found == 0) {
        sink->message(sink->ctx, (const uint8_t *)message_none, sizeof message_none - 1);
        return TESSERA_STATUS_NOT_FOUND;
    }
    return TESSERA_STATUS_OK;
}

static const TesseraScanner scanner = {
    .input = TESSERA_SCANNER_INPUT_IMAGE,
    .scan = scan,
};

static const TesseraPlugin plugin = {
    .abi_version = TESSERA_PLUGIN_ABI_VERSION,
    .kind = TESSERA_PLUGIN_KIND_SCANNER,
    .name = "c-example",
    .version = "1.0.0",
    .scanner = &scanner,
    .biometric = NULL,
};

EXPORT const TesseraPlugin *tessera_plugin_entry(uint32_t host_abi_version)
{
    /* A plugin may refuse a host it does not know; this one answers with
     * its descriptor and lets the host compare versions. */
    (void)host_abi_version;
    return &plugin;
}
