#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <setjmp.h>
#include <jpeglib.h>

// libjpeg's default error_exit calls exit(): replaced by a longjmp back into the one C frame
// below that owns the setjmp (Swift has none), which returns an error code and message.

enum { NNTOP_JPEG_MESSAGE = JMSG_LENGTH_MAX };

struct nntop_jpeg_error {
    struct jpeg_error_mgr manager;
    jmp_buf jump;
    char message[JMSG_LENGTH_MAX];
    int warnings;
};

static void nntop_jpeg_error_exit(j_common_ptr cinfo) {
    struct nntop_jpeg_error *e = (struct nntop_jpeg_error *)cinfo->err;
    (*cinfo->err->format_message)(cinfo, e->message);
    longjmp(e->jump, 1);
}

// A warning (level -1) means corrupt data that libjpeg papered over, e.g. a truncated file it
// padded with grey: kept (the first one) so the caller can refuse the file. Trace messages are dropped.
static void nntop_jpeg_emit(j_common_ptr cinfo, int level) {
    struct nntop_jpeg_error *e = (struct nntop_jpeg_error *)cinfo->err;
    if (level >= 0) return;
    if (e->warnings++ == 0) (*cinfo->err->format_message)(cinfo, e->message);
}

/// Decodes a JPEG held in memory into 8-bit interleaved pixels (width × height; the file's own size,
/// before any scaled decode, in file_width × file_height): *channels is 1 (greyscale) or 3
/// (RGB). min_side > 0 lets libjpeg's scaled IDCT decode at 1/2, 1/4 or 1/8 of the size, the smallest
/// that keeps both sides at least min_side (much cheaper when the image is shrunk afterwards anyway). A side above max_side or more than
/// max_pixels pixels is refused from the header, before any pixel buffer is allocated; so is CMYK.
/// Any libjpeg warning (truncated or corrupt data) makes the decode fail.
/// Returns 0 with a malloc'ed *pixels (the caller frees it), or non-zero with a message in error
/// (NNTOP_JPEG_MESSAGE bytes).
static inline int nntop_jpeg_decode(const unsigned char *data, unsigned long size, unsigned min_side,
                                    unsigned max_side, unsigned long max_pixels, unsigned char **pixels,
                                    unsigned *width, unsigned *height, unsigned *file_width,
                                    unsigned *file_height, int *channels, char *error) {
    struct jpeg_decompress_struct cinfo;
    struct nntop_jpeg_error jerr;
    // Changed between setjmp and longjmp, so volatile (else its value after the jump is undefined).
    unsigned char *volatile buffer = NULL;
    *pixels = NULL;
    error[0] = 0;
    cinfo.err = jpeg_std_error(&jerr.manager);
    jerr.manager.error_exit = nntop_jpeg_error_exit;
    jerr.manager.emit_message = nntop_jpeg_emit;
    jerr.warnings = 0;
    jerr.message[0] = 0;
    if (setjmp(jerr.jump)) {
        jpeg_destroy_decompress(&cinfo);
        free(buffer);
        snprintf(error, NNTOP_JPEG_MESSAGE, "%s", jerr.message);
        return 1;
    }
    jpeg_create_decompress(&cinfo);
    jpeg_mem_src(&cinfo, data, size);
    jpeg_read_header(&cinfo, TRUE);
    *file_width = cinfo.image_width;
    *file_height = cinfo.image_height;
    if (cinfo.image_width == 0 || cinfo.image_height == 0 || cinfo.image_width > max_side ||
        cinfo.image_height > max_side || (unsigned long)cinfo.image_width * cinfo.image_height > max_pixels) {
        snprintf(error, NNTOP_JPEG_MESSAGE, "image size %u×%u in the header is out of range (at most %u a side, %lu pixels)",
                 cinfo.image_width, cinfo.image_height, max_side, max_pixels);
        jpeg_destroy_decompress(&cinfo);
        return 2;
    }
    if (cinfo.jpeg_color_space == JCS_CMYK || cinfo.jpeg_color_space == JCS_YCCK) {
        snprintf(error, NNTOP_JPEG_MESSAGE, "CMYK JPEGs are not supported (convert it to RGB)");
        jpeg_destroy_decompress(&cinfo);
        return 2;
    }
    cinfo.out_color_space = cinfo.num_components == 1 ? JCS_GRAYSCALE : JCS_RGB;
    cinfo.scale_num = 1;
    cinfo.scale_denom = 1;
    for (unsigned d = 8; d > 1 && min_side > 0; d /= 2)
        if ((cinfo.image_width + d - 1) / d >= min_side && (cinfo.image_height + d - 1) / d >= min_side) {
            cinfo.scale_denom = d;
            break;
        }
    jpeg_start_decompress(&cinfo);
    size_t stride = (size_t)cinfo.output_width * cinfo.output_components;
    buffer = (unsigned char *)malloc(stride * cinfo.output_height);
    if (!buffer) {
        snprintf(jerr.message, JMSG_LENGTH_MAX, "out of memory");
        longjmp(jerr.jump, 1);
    }
    while (cinfo.output_scanline < cinfo.output_height) {
        JSAMPROW row = buffer + (size_t)cinfo.output_scanline * stride;
        jpeg_read_scanlines(&cinfo, &row, 1);
    }
    jpeg_finish_decompress(&cinfo);
    *width = cinfo.output_width;
    *height = cinfo.output_height;
    *channels = cinfo.output_components;
    jpeg_destroy_decompress(&cinfo);
    if (jerr.warnings > 0) {
        free(buffer);
        snprintf(error, NNTOP_JPEG_MESSAGE, "%s", jerr.message);
        return 3;
    }
    *pixels = buffer;
    return 0;
}
