// ImageCodecs: JPEG (libjpeg-turbo) and PNG (libpng) to and from 8-bit pixels, in C, because
// libpng reports errors by longjmp, which must never cross a Swift frame: every libpng call
// and its setjmp stay in this file's functions. Nothing here allocates past `max_pixels`.
#ifndef LESION_IMAGE_CODECS_H
#define LESION_IMAGE_CODECS_H
#include <stddef.h>

typedef struct {
    int width, height;
    /// 1 (gray), 2 (gray, alpha), 3 (RGB) or 4 (RGBA); 8 bits each, rows packed.
    int channels;
    unsigned char *pixels;
} lesion_image;

/// Decodes a JPEG or PNG held in memory. Palette and low-bit-depth PNGs are expanded, 16-bit
/// samples keep their high byte, a tRNS chunk becomes alpha. Returns 0, or -1 with a message in
/// `err` (the file is not an image, truncated, too large, or of a kind not supported).
int lesion_image_decode(const unsigned char *data, size_t size, long max_pixels, lesion_image *out, char *err, size_t errlen);

void lesion_image_free(lesion_image *img);

/// Encodes 8-bit pixels (1, 2, 3 or 4 channels) as PNG bytes in memory: *out (free it with
/// lesion_free) holding *size bytes. Returns 0, or -1 with a message.
int lesion_png_encode(const unsigned char *pixels, int width, int height, int channels, unsigned char **out, size_t *size,
                      char *err, size_t errlen);

void lesion_free(void *p);

/// Writes 8-bit pixels (1, 2, 3 or 4 channels) as a PNG file. Returns 0, or -1 with a message.
int lesion_png_write(const char *path, const unsigned char *pixels, int width, int height, int channels, char *err, size_t errlen);

#endif
