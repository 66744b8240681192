#include "ImageCodecs.h"

#include <png.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <turbojpeg.h>

static void say(char *err, size_t errlen, const char *msg) { snprintf(err, errlen, "%s", msg); }

// MARK: - JPEG

static int decode_jpeg(const unsigned char *data, size_t size, long max_pixels, lesion_image *out, char *err, size_t errlen) {
    tjhandle tj = tjInitDecompress();
    if (!tj) { say(err, errlen, "cannot start the JPEG decoder"); return -1; }
    int w = 0, h = 0, subsamp = 0, colorspace = 0;
    if (tjDecompressHeader3(tj, data, (unsigned long)size, &w, &h, &subsamp, &colorspace) != 0) {
        snprintf(err, errlen, "not a readable JPEG (%s)", tjGetErrorStr2(tj));
        tjDestroy(tj);
        return -1;
    }
    if (colorspace == TJCS_CMYK || colorspace == TJCS_YCCK) {
        say(err, errlen, "CMYK JPEGs are not supported (convert the file to RGB)");
        tjDestroy(tj);
        return -1;
    }
    if (w <= 0 || h <= 0 || (long)w * (long)h > max_pixels) {
        snprintf(err, errlen, "the JPEG says it is %dx%d pixels, more than the %ld allowed", w, h, max_pixels);
        tjDestroy(tj);
        return -1;
    }
    int gray = colorspace == TJCS_GRAY;
    int channels = gray ? 1 : 3;
    unsigned char *pixels = malloc((size_t)w * (size_t)h * (size_t)channels);
    if (!pixels) { say(err, errlen, "out of memory"); tjDestroy(tj); return -1; }
    // Flags 0: the accurate integer DCT and smooth chroma upsampling, as libjpeg's defaults (PIL's).
    if (tjDecompress2(tj, data, (unsigned long)size, pixels, w, 0, h, gray ? TJPF_GRAY : TJPF_RGB, 0) != 0) {
        // A warning (a truncated file, say) still fails: half an image is not the image.
        snprintf(err, errlen, "the JPEG data is damaged (%s)", tjGetErrorStr2(tj));
        free(pixels);
        tjDestroy(tj);
        return -1;
    }
    tjDestroy(tj);
    out->width = w; out->height = h; out->channels = channels; out->pixels = pixels;
    return 0;
}

// MARK: - PNG

typedef struct {
    const unsigned char *data;
    size_t size, at;
    char message[200];
} png_source;

static void png_read_mem(png_structp png, png_bytep dst, png_size_t n) {
    png_source *s = png_get_io_ptr(png);
    if (s->at + n > s->size) png_error(png, "the file ends early (truncated)");
    memcpy(dst, s->data + s->at, n);
    s->at += n;
}

static void png_fail(png_structp png, png_const_charp msg) {
    png_source *s = png_get_error_ptr(png);
    snprintf(s->message, sizeof s->message, "%s", msg);
    png_longjmp(png, 1);
}

static void png_quiet(png_structp png, png_const_charp msg) { (void)png; (void)msg; }

static int decode_png(const unsigned char *data, size_t size, long max_pixels, lesion_image *out, char *err, size_t errlen) {
    png_source src = {data, size, 0, ""};
    png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &src, png_fail, png_quiet);
    if (!png) { say(err, errlen, "cannot start the PNG decoder"); return -1; }
    png_infop info = png_create_info_struct(png);
    unsigned char *volatile pixels = NULL;
    png_bytep *volatile rows = NULL;
    if (!info) { png_destroy_read_struct(&png, NULL, NULL); say(err, errlen, "out of memory"); return -1; }
    if (setjmp(png_jmpbuf(png))) {
        snprintf(err, errlen, "not a readable PNG (%s)", src.message[0] ? src.message : "damaged data");
        free(pixels);
        free(rows);
        png_destroy_read_struct(&png, &info, NULL);
        return -1;
    }
    png_set_read_fn(png, &src, png_read_mem);
    png_set_user_limits(png, 1 << 20, 1 << 20);
    png_read_info(png, info);
    png_uint_32 w = png_get_image_width(png, info), h = png_get_image_height(png, info);
    if ((long)w * (long)h > max_pixels) {
        snprintf(src.message, sizeof src.message, "it says it is %ux%u pixels, more than the %ld allowed", w, h, max_pixels);
        png_longjmp(png, 1);
    }
    int type = png_get_color_type(png, info), depth = png_get_bit_depth(png, info);
    if (type == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(png);
    if (type == PNG_COLOR_TYPE_GRAY && depth < 8) png_set_expand_gray_1_2_4_to_8(png);
    if (png_get_valid(png, info, PNG_INFO_tRNS)) png_set_tRNS_to_alpha(png);
    if (depth == 16) png_set_strip_16(png);
    png_set_interlace_handling(png);
    png_read_update_info(png, info);
    int channels = png_get_channels(png, info);
    size_t stride = png_get_rowbytes(png, info);
    if (channels < 1 || channels > 4 || stride != (size_t)w * (size_t)channels) {
        snprintf(src.message, sizeof src.message, "an unexpected layout (%d channels, %zu bytes a row)", channels, stride);
        png_longjmp(png, 1);
    }
    pixels = malloc(stride * h);
    rows = malloc(sizeof(png_bytep) * h);
    if (!pixels || !rows) {
        snprintf(src.message, sizeof src.message, "out of memory");
        png_longjmp(png, 1);
    }
    for (png_uint_32 y = 0; y < h; y++) rows[y] = pixels + y * stride;
    png_read_image(png, rows);
    png_read_end(png, NULL);
    free(rows);
    png_destroy_read_struct(&png, &info, NULL);
    out->width = (int)w; out->height = (int)h; out->channels = channels; out->pixels = pixels;
    return 0;
}

// MARK: - entry points

int lesion_image_decode(const unsigned char *data, size_t size, long max_pixels, lesion_image *out, char *err, size_t errlen) {
    memset(out, 0, sizeof *out);
    if (size >= 3 && data[0] == 0xFF && data[1] == 0xD8 && data[2] == 0xFF) return decode_jpeg(data, size, max_pixels, out, err, errlen);
    if (size >= 8 && png_sig_cmp(data, 0, 8) == 0) return decode_png(data, size, max_pixels, out, err, errlen);
    say(err, errlen, "not a JPEG or PNG file");
    return -1;
}

void lesion_image_free(lesion_image *img) {
    free(img->pixels);
    img->pixels = NULL;
}

typedef struct {
    unsigned char *data;
    size_t size, capacity;
} png_sink;

static void png_write_mem(png_structp png, png_bytep src, png_size_t n) {
    png_sink *s = png_get_io_ptr(png);
    if (s->size + n > s->capacity) {
        size_t cap = s->capacity ? s->capacity : 4096;
        while (cap < s->size + n) cap *= 2;
        unsigned char *d = realloc(s->data, cap);
        if (!d) png_error(png, "out of memory");
        s->data = d;
        s->capacity = cap;
    }
    memcpy(s->data + s->size, src, n);
    s->size += n;
}

static void png_flush_mem(png_structp png) { (void)png; }

int lesion_png_encode(const unsigned char *pixels, int width, int height, int channels, unsigned char **out, size_t *size,
                      char *err, size_t errlen) {
    static const int types[] = {0, PNG_COLOR_TYPE_GRAY, PNG_COLOR_TYPE_GRAY_ALPHA, PNG_COLOR_TYPE_RGB, PNG_COLOR_TYPE_RGB_ALPHA};
    *out = NULL;
    *size = 0;
    if (channels < 1 || channels > 4 || width <= 0 || height <= 0) { say(err, errlen, "bad image size or channels"); return -1; }
    png_source src = {NULL, 0, 0, ""};
    png_sink sink = {NULL, 0, 0};
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, &src, png_fail, png_quiet);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    if (!png || !info) { png_destroy_write_struct(&png, NULL); say(err, errlen, "out of memory"); return -1; }
    if (setjmp(png_jmpbuf(png))) {
        snprintf(err, errlen, "cannot write the PNG (%s)", src.message);
        png_destroy_write_struct(&png, &info);
        free(sink.data);
        return -1;
    }
    png_set_write_fn(png, &sink, png_write_mem, png_flush_mem);
    png_set_IHDR(png, info, (png_uint_32)width, (png_uint_32)height, 8, types[channels], PNG_INTERLACE_NONE,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_write_info(png, info);
    for (int y = 0; y < height; y++) png_write_row(png, pixels + (size_t)y * (size_t)width * (size_t)channels);
    png_write_end(png, NULL);
    png_destroy_write_struct(&png, &info);
    *out = sink.data;
    *size = sink.size;
    return 0;
}

void lesion_free(void *p) { free(p); }

int lesion_png_write(const char *path, const unsigned char *pixels, int width, int height, int channels, char *err, size_t errlen) {
    unsigned char *png = NULL;
    size_t size = 0;
    if (lesion_png_encode(pixels, width, height, channels, &png, &size, err, errlen) != 0) return -1;
    FILE *f = fopen(path, "wb");
    if (!f) { free(png); snprintf(err, errlen, "cannot open '%s' for writing", path); return -1; }
    size_t written = fwrite(png, 1, size, f);
    free(png);
    if (fclose(f) != 0 || written != size) { snprintf(err, errlen, "cannot finish writing '%s'", path); return -1; }
    return 0;
}
