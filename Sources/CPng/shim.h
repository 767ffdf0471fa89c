#include <png.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

// libpng reports errors by longjmp, which Swift cannot catch (it has no setjmp): the whole decode
// runs here, inside one C frame that owns the setjmp, and returns an error code and message.

enum { NNTOP_PNG_MESSAGE = 256 };

typedef struct { const unsigned char *data; size_t size, pos; } nntop_png_source;

static void nntop_png_read(png_structp png, png_bytep out, size_t n) {
    nntop_png_source *s = (nntop_png_source *)png_get_io_ptr(png);
    if (n > s->size - s->pos) png_error(png, "file is truncated");
    memcpy(out, s->data + s->pos, n);
    s->pos += n;
}

// The error pointer: the message returned, and the latest warning, which often says why a
// following error happened ("Image width exceeds user limit in IHDR" before "Invalid IHDR data").
typedef struct { char *message; char warning[NNTOP_PNG_MESSAGE]; } nntop_png_messages;

static void nntop_png_error(png_structp png, png_const_charp message) {
    nntop_png_messages *m = (nntop_png_messages *)png_get_error_ptr(png);
    if (m->warning[0]) snprintf(m->message, NNTOP_PNG_MESSAGE, "%s: %s", message, m->warning);
    else snprintf(m->message, NNTOP_PNG_MESSAGE, "%s", message);
    png_longjmp(png, 1);
}

// Warnings (an ancillary chunk with a bad CRC, an unknown sRGB profile) do not stop a decode.
static void nntop_png_warning(png_structp png, png_const_charp message) {
    nntop_png_messages *m = (nntop_png_messages *)png_get_error_ptr(png);
    snprintf(m->warning, NNTOP_PNG_MESSAGE, "%s", message);
}

/// Decodes a PNG held in memory into 8-bit interleaved pixels: palette becomes RGB, grey below 8
/// bits becomes 8, a tRNS chunk becomes alpha, 16 bits are scaled to 8 (rounded). *channels is 1
/// (grey), 2 (grey+alpha), 3 (RGB) or 4 (RGBA). A side above max_side or more than max_pixels
/// pixels is refused from the header, before any pixel buffer is allocated.
/// Returns 0 with a malloc'ed *pixels (the caller frees it), or 1 with a message in error
/// (NNTOP_PNG_MESSAGE bytes).
static inline int nntop_png_decode(const unsigned char *data, size_t size, unsigned max_side,
                                   unsigned long max_pixels, unsigned char **pixels, unsigned *width,
                                   unsigned *height, int *channels, char *error) {
    nntop_png_source source = {data, size, 0};
    nntop_png_messages messages;
    messages.message = error;
    messages.warning[0] = 0;
    error[0] = 0;
    *pixels = NULL;
    if (size < 8 || png_sig_cmp(data, 0, 8) != 0) { snprintf(error, NNTOP_PNG_MESSAGE, "no PNG signature"); return 1; }
    png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &messages, nntop_png_error, nntop_png_warning);
    if (!png) { snprintf(error, NNTOP_PNG_MESSAGE, "libpng could not start (out of memory)"); return 1; }
    png_infop info = png_create_info_struct(png);
    if (!info) {
        png_destroy_read_struct(&png, NULL, NULL);
        snprintf(error, NNTOP_PNG_MESSAGE, "libpng could not start (out of memory)");
        return 1;
    }
    // Changed between setjmp and longjmp, so volatile (else their values after the jump are undefined).
    unsigned char *volatile buffer = NULL;
    png_bytep *volatile rows = NULL;
    if (setjmp(png_jmpbuf(png))) {
        free(buffer);
        free(rows);
        png_destroy_read_struct(&png, &info, NULL);
        return 1;
    }
    png_set_read_fn(png, &source, nntop_png_read);
    png_set_user_limits(png, max_side, max_side);
    png_read_info(png, info);
    png_uint_32 w = png_get_image_width(png, info), h = png_get_image_height(png, info);
    if ((unsigned long)w * h > max_pixels) png_error(png, "image has too many pixels");
    png_set_expand(png);
    png_set_scale_16(png);
    png_set_interlace_handling(png);
    png_read_update_info(png, info);
    int ch = png_get_channels(png, info);
    size_t stride = png_get_rowbytes(png, info);
    if (ch < 1 || ch > 4 || stride != (size_t)w * ch || png_get_bit_depth(png, info) != 8)
        png_error(png, "unexpected layout after expansion");
    buffer = (unsigned char *)malloc(stride * h);
    rows = (png_bytep *)malloc(sizeof(png_bytep) * h);
    if (!buffer || !rows) png_error(png, "out of memory");
    for (png_uint_32 y = 0; y < h; y++) rows[y] = buffer + y * stride;
    png_read_image(png, rows);
    png_read_end(png, NULL);
    free(rows);
    png_destroy_read_struct(&png, &info, NULL);
    *pixels = buffer;
    *width = w;
    *height = h;
    *channels = ch;
    return 0;
}
