// Reference image decoding kernel.
// ONNX operator: ImageDecoder (opsets 20-22): decodes one encoded image (a 1-D uint8 tensor) to a
// uint8 [H, W, C] tensor; pixel_format "RGB" (default, C = 3), "BGR" (C = 3) or "Grayscale"
// (C = 1). The format is detected from the magic bytes: BMP and PNM (P1-P6) are parsed here; JPEG
// (libjpeg), PNG (libpng), TIFF (libtiff), WebP (libwebp) and JPEG 2000 (OpenJPEG, JP2 or raw
// codestream) use Debian's libraries. Matches the ONNX reference (Pillow) for 8-bit images:
// alpha is dropped, palettes are expanded, 16-bit samples keep their high byte, and Grayscale of
// a colour image is Pillow's L = (19595 R + 38470 G + 7471 B + 0x8000) >> 16. Malformed or
// truncated data is an error, never a partial image; images over 2^28 pixels are refused.

#include <algorithm>
#include <cmath>
#include <csetjmp>
#include <cstdarg>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <memory>
#include <new>
#include <string>
#include <vector>

// clang-format off
#include <jpeglib.h>  // needs <cstdio> first
#include <jerror.h>
// clang-format on
#include <openjpeg.h>
#include <png.h>
#include <tiffio.h>
#include <webp/decode.h>

#include "kernels/ref/common.h"

namespace hone::ref {
namespace {

constexpr int64_t kMaxPixels = int64_t{1} << 28;

// A decoded image: 1 (gray) or 3 (RGB) interleaved 8-bit channels, rows top to bottom.
struct Image {
  int64_t width = 0;
  int64_t height = 0;
  int channels = 3;
  std::vector<uint8_t> pixels;
};

// Checks the dimensions: false (with `err`) when empty or over the limit.
bool CheckSize(int64_t width, int64_t height, std::string& err) {
  if (width <= 0 || height <= 0) {
    err = "invalid image size " + std::to_string(width) + "x" + std::to_string(height);
    return false;
  }
  if (width > kMaxPixels || height > kMaxPixels || width * height > kMaxPixels) {
    err = "image of " + std::to_string(width) + "x" + std::to_string(height) +
          " pixels exceeds the limit of 2^28 pixels";
    return false;
  }
  return true;
}

// Checks the dimensions and allocates the pixels; false (with `err`) when too large.
bool Allocate(Image& img, int64_t width, int64_t height, int channels, std::string& err) {
  if (!CheckSize(width, height, err)) return false;
  img.width = width;
  img.height = height;
  img.channels = channels;
  try {
    img.pixels.assign(static_cast<size_t>(width * height * channels), 0);
  } catch (const std::bad_alloc&) {
    err = "out of memory for a " + std::to_string(width) + "x" + std::to_string(height) + " image";
    return false;
  }
  return true;
}

// Pillow's MULDIV255 and CMYK -> RGB conversion.
inline uint8_t MulDiv255(int a, int b) {
  const int t = a * b + 128;
  return static_cast<uint8_t>(((t >> 8) + t) >> 8);
}
inline void CmykToRgb(const uint8_t* cmyk, uint8_t* rgb) {
  const int nk = 255 - cmyk[3];
  for (int c = 0; c < 3; ++c) rgb[c] = static_cast<uint8_t>(nk - MulDiv255(cmyk[c], nk));
}

// Pillow's RGB -> L ("L24").
inline uint8_t Luma(uint32_t r, uint32_t g, uint32_t b) {
  return static_cast<uint8_t>((r * 19595 + g * 38470 + b * 7471 + 0x8000) >> 16);
}

inline uint8_t Clamp8(int64_t v) { return static_cast<uint8_t>(v < 0 ? 0 : (v > 255 ? 255 : v)); }

// ---- JPEG (libjpeg) ---------------------------------------------------------------------------

struct JpegError {
  jpeg_error_mgr pub;
  jmp_buf jump;
  char message[JMSG_LENGTH_MAX];
  bool truncated;
};

void JpegErrorExit(j_common_ptr cinfo) {
  JpegError* e = reinterpret_cast<JpegError*>(cinfo->err);
  (*cinfo->err->format_message)(cinfo, e->message);
  longjmp(e->jump, 1);
}

// Warnings are not printed; a premature end of data makes the decode fail afterwards.
void JpegEmitMessage(j_common_ptr cinfo, int level) {
  JpegError* e = reinterpret_cast<JpegError*>(cinfo->err);
  if (level < 0 && cinfo->err->msg_code == JWRN_JPEG_EOF) e->truncated = true;
}

void JpegOutputMessage(j_common_ptr) {}

bool DecodeJpeg(const uint8_t* data, size_t size, Image& img, std::string& err) {
  jpeg_decompress_struct cinfo;
  JpegError jerr;
  std::memset(&jerr, 0, sizeof(jerr));
  std::vector<uint8_t> row;  // CMYK scanline
  cinfo.err = jpeg_std_error(&jerr.pub);
  jerr.pub.error_exit = JpegErrorExit;
  jerr.pub.emit_message = JpegEmitMessage;
  jerr.pub.output_message = JpegOutputMessage;
  if (setjmp(jerr.jump)) {
    jpeg_destroy_decompress(&cinfo);
    err = std::string("JPEG: ") + jerr.message;
    return false;
  }
  jpeg_create_decompress(&cinfo);
  jpeg_mem_src(&cinfo, data, static_cast<unsigned long>(size));
  jpeg_read_header(&cinfo, TRUE);
  int channels = 3;
  bool cmyk = false;
  if (cinfo.num_components == 1) {
    cinfo.out_color_space = JCS_GRAYSCALE;
    channels = 1;
  } else if (cinfo.num_components == 4) {
    cinfo.out_color_space = JCS_CMYK;
    cmyk = true;
  } else {
    cinfo.out_color_space = JCS_RGB;
  }
  if (!Allocate(img, cinfo.image_width, cinfo.image_height, channels, err)) {
    jpeg_destroy_decompress(&cinfo);
    err = "JPEG: " + err;
    return false;
  }
  jpeg_start_decompress(&cinfo);
  if (cinfo.output_components != (cmyk ? 4 : channels)) {
    jpeg_destroy_decompress(&cinfo);
    err = "JPEG: unexpected number of output components";
    return false;
  }
  if (cmyk) row.resize(static_cast<size_t>(img.width) * 4);
  const bool adobe_inverted = cmyk && cinfo.saw_Adobe_marker;
  while (cinfo.output_scanline < cinfo.output_height) {
    uint8_t* dst = img.pixels.data() + static_cast<size_t>(cinfo.output_scanline) *
                                           static_cast<size_t>(img.width) * channels;
    JSAMPROW rows[1] = {cmyk ? row.data() : dst};
    if (jpeg_read_scanlines(&cinfo, rows, 1) != 1) break;
    if (cmyk) {
      for (int64_t x = 0; x < img.width; ++x) {
        uint8_t* p = row.data() + x * 4;
        if (adobe_inverted)
          for (int c = 0; c < 4; ++c) p[c] = static_cast<uint8_t>(255 - p[c]);
        CmykToRgb(p, dst + x * 3);
      }
    }
  }
  const bool complete = cinfo.output_scanline == cinfo.output_height;
  jpeg_finish_decompress(&cinfo);
  jpeg_destroy_decompress(&cinfo);
  if (jerr.truncated || !complete) {
    err = "JPEG: truncated data (premature end of file)";
    return false;
  }
  return true;
}

// ---- PNG (libpng) -----------------------------------------------------------------------------

struct PngState {
  const uint8_t* data;
  size_t size;
  size_t pos;
  char message[256];
};

void PngRead(png_structp png, png_bytep out, size_t n) {
  PngState* s = static_cast<PngState*>(png_get_io_ptr(png));
  if (n > s->size - s->pos) png_error(png, "truncated data");
  std::memcpy(out, s->data + s->pos, n);
  s->pos += n;
}

void PngError(png_structp png, png_const_charp msg) {
  PngState* s = static_cast<PngState*>(png_get_error_ptr(png));
  std::snprintf(s->message, sizeof(s->message), "%s", msg);
  png_longjmp(png, 1);
}

void PngWarning(png_structp, png_const_charp) {}

bool DecodePng(const uint8_t* data, size_t size, Image& img, std::string& err) {
  PngState state{data, size, 0, {}};
  std::vector<uint8_t> buffer;  // rows as libpng delivers them (1-4 channels)
  std::vector<png_bytep> rows;
  png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &state, PngError, PngWarning);
  if (png == nullptr) {
    err = "PNG: cannot create the decoder";
    return false;
  }
  png_infop info = png_create_info_struct(png);
  if (info == nullptr) {
    png_destroy_read_struct(&png, nullptr, nullptr);
    err = "PNG: cannot create the decoder";
    return false;
  }
  if (setjmp(png_jmpbuf(png))) {
    png_destroy_read_struct(&png, &info, nullptr);
    err = std::string("PNG: ") + state.message;
    return false;
  }
  png_set_read_fn(png, &state, PngRead);
  png_read_info(png, info);
  const int64_t width = png_get_image_width(png, info);
  const int64_t height = png_get_image_height(png, info);
  const int color_type = png_get_color_type(png, info);
  const int bit_depth = png_get_bit_depth(png, info);
  if (bit_depth == 16) png_set_strip_16(png);
  if (color_type == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(png);
  if ((color_type & PNG_COLOR_MASK_COLOR) == 0 && bit_depth < 8)
    png_set_expand_gray_1_2_4_to_8(png);
  png_set_interlace_handling(png);
  png_read_update_info(png, info);
  const int in_channels = png_get_channels(png, info);
  const int channels = in_channels <= 2 ? 1 : 3;
  if (!Allocate(img, width, height, channels, err)) {
    png_destroy_read_struct(&png, &info, nullptr);
    err = "PNG: " + err;
    return false;
  }
  if (png_get_bit_depth(png, info) != 8 ||
      png_get_rowbytes(png, info) != static_cast<size_t>(width) * in_channels) {
    png_destroy_read_struct(&png, &info, nullptr);
    err = "PNG: unexpected row layout after conversion";
    return false;
  }
  const bool direct = in_channels == channels;
  if (!direct) buffer.resize(static_cast<size_t>(width * height * in_channels));
  uint8_t* base = direct ? img.pixels.data() : buffer.data();
  rows.resize(static_cast<size_t>(height));
  for (int64_t y = 0; y < height; ++y) rows[y] = base + y * width * in_channels;
  png_read_image(png, rows.data());
  png_destroy_read_struct(&png, &info, nullptr);
  if (!direct) {  // drop the alpha channel
    const int64_t n = width * height;
    for (int64_t i = 0; i < n; ++i)
      for (int c = 0; c < channels; ++c) img.pixels[i * channels + c] = buffer[i * in_channels + c];
  }
  return true;
}

// ---- TIFF (libtiff) ---------------------------------------------------------------------------

struct TiffState {
  const uint8_t* data;
  size_t size;
  size_t pos;
  std::string message;
};

tmsize_t TiffRead(thandle_t h, void* buf, tmsize_t n) {
  TiffState* s = static_cast<TiffState*>(h);
  if (n < 0) return -1;
  const size_t count = std::min(static_cast<size_t>(n), s->size - s->pos);
  std::memcpy(buf, s->data + s->pos, count);
  s->pos += count;
  return static_cast<tmsize_t>(count);
}
tmsize_t TiffWrite(thandle_t, void*, tmsize_t) { return -1; }
toff_t TiffSeek(thandle_t h, toff_t off, int whence) {
  TiffState* s = static_cast<TiffState*>(h);
  uint64_t base = 0;
  if (whence == SEEK_CUR) base = s->pos;
  if (whence == SEEK_END) base = s->size;
  const uint64_t target = base + off;  // a "negative" offset wraps around
  if (target > s->size) return static_cast<toff_t>(-1);
  s->pos = static_cast<size_t>(target);
  return target;
}
int TiffClose(thandle_t) { return 0; }
toff_t TiffSize(thandle_t h) { return static_cast<TiffState*>(h)->size; }
int TiffMap(thandle_t, void**, toff_t*) { return 0; }
void TiffUnmap(thandle_t, void*, toff_t) {}

int TiffError(TIFF*, void* user, const char* module, const char* fmt, va_list ap) {
  TiffState* s = static_cast<TiffState*>(user);
  if (s->message.empty()) {
    char buf[512];
    std::vsnprintf(buf, sizeof(buf), fmt, ap);
    s->message = buf;
  }
  return 1;  // handled: nothing goes to stderr
}
int TiffWarning(TIFF*, void*, const char*, const char*, va_list) { return 1; }

bool DecodeTiff(const uint8_t* data, size_t size, Image& img, std::string& err) {
  TiffState state{data, size, 0, {}};
  TIFFOpenOptions* opts = TIFFOpenOptionsAlloc();
  if (opts == nullptr) {
    err = "TIFF: cannot create the decoder";
    return false;
  }
  TIFFOpenOptionsSetMaxSingleMemAlloc(opts, tmsize_t{1} << 31);
  TIFFOpenOptionsSetErrorHandlerExtR(opts, TiffError, &state);
  TIFFOpenOptionsSetWarningHandlerExtR(opts, TiffWarning, &state);
  TIFF* tif = TIFFClientOpenExt("memory", "rm", &state, TiffRead, TiffWrite, TiffSeek, TiffClose,
                                TiffSize, TiffMap, TiffUnmap, opts);
  TIFFOpenOptionsFree(opts);
  auto fail = [&](const std::string& what) {
    err = "TIFF: " + what + (state.message.empty() ? "" : ": " + state.message);
    if (tif != nullptr) TIFFClose(tif);
    return false;
  };
  if (tif == nullptr) return fail("cannot read the header");
  uint32_t width = 0, height = 0;
  uint16_t photometric = 0, samples = 1;
  if (!TIFFGetField(tif, TIFFTAG_IMAGEWIDTH, &width) ||
      !TIFFGetField(tif, TIFFTAG_IMAGELENGTH, &height))
    return fail("missing image size");
  TIFFGetFieldDefaulted(tif, TIFFTAG_SAMPLESPERPIXEL, &samples);
  const bool gray =
      TIFFGetField(tif, TIFFTAG_PHOTOMETRIC, &photometric) &&
      (photometric == PHOTOMETRIC_MINISBLACK || photometric == PHOTOMETRIC_MINISWHITE) &&
      samples <= 2;
  std::string size_err;
  if (!Allocate(img, width, height, gray ? 1 : 3, size_err)) return fail(size_err);
  std::vector<uint32_t> raster;
  try {
    raster.resize(static_cast<size_t>(width) * height);
  } catch (const std::bad_alloc&) {
    return fail("out of memory");
  }
  char why[1024] = {0};
  if (!TIFFRGBAImageOK(tif, why)) return fail(std::string("unsupported image: ") + why);
  if (!TIFFReadRGBAImageOriented(tif, width, height, raster.data(), ORIENTATION_TOPLEFT, 1))
    return fail("cannot decode the image data");
  TIFFClose(tif);
  const size_t n = raster.size();
  for (size_t i = 0; i < n; ++i) {
    const uint32_t p = raster[i];
    if (gray) {
      img.pixels[i] = static_cast<uint8_t>(TIFFGetR(p));
    } else {
      img.pixels[i * 3 + 0] = static_cast<uint8_t>(TIFFGetR(p));
      img.pixels[i * 3 + 1] = static_cast<uint8_t>(TIFFGetG(p));
      img.pixels[i * 3 + 2] = static_cast<uint8_t>(TIFFGetB(p));
    }
  }
  return true;
}

// ---- WebP (libwebp) ---------------------------------------------------------------------------

bool DecodeWebp(const uint8_t* data, size_t size, Image& img, std::string& err) {
  WebPBitstreamFeatures features;
  if (WebPGetFeatures(data, size, &features) != VP8_STATUS_OK) {
    err = "WebP: invalid or truncated header";
    return false;
  }
  if (features.has_animation) {
    err = "WebP: animated images are not supported";
    return false;
  }
  if (!Allocate(img, features.width, features.height, 3, err)) {
    err = "WebP: " + err;
    return false;
  }
  if (WebPDecodeRGBInto(data, size, img.pixels.data(), img.pixels.size(),
                        static_cast<int>(img.width * 3)) == nullptr) {
    err = "WebP: invalid or truncated image data";
    return false;
  }
  return true;
}

// ---- JPEG 2000 (OpenJPEG) ---------------------------------------------------------------------

struct OpjState {
  const uint8_t* data;
  size_t size;
  size_t pos;
  std::string message;
};

OPJ_SIZE_T OpjRead(void* buf, OPJ_SIZE_T n, void* user) {
  OpjState* s = static_cast<OpjState*>(user);
  if (s->pos >= s->size) return static_cast<OPJ_SIZE_T>(-1);
  const size_t count = std::min(static_cast<size_t>(n), s->size - s->pos);
  std::memcpy(buf, s->data + s->pos, count);
  s->pos += count;
  return count;
}
OPJ_OFF_T OpjSkip(OPJ_OFF_T n, void* user) {
  OpjState* s = static_cast<OpjState*>(user);
  if (n < 0) {
    if (static_cast<uint64_t>(-n) > s->pos) return -1;
    s->pos -= static_cast<size_t>(-n);
    return n;
  }
  const size_t count = std::min(static_cast<size_t>(n), s->size - s->pos);
  s->pos += count;
  return static_cast<OPJ_OFF_T>(count);
}
OPJ_BOOL OpjSeek(OPJ_OFF_T off, void* user) {
  OpjState* s = static_cast<OpjState*>(user);
  if (off < 0 || static_cast<uint64_t>(off) > s->size) return OPJ_FALSE;
  s->pos = static_cast<size_t>(off);
  return OPJ_TRUE;
}
void OpjError(const char* msg, void* user) {
  OpjState* s = static_cast<OpjState*>(user);
  if (s->message.empty()) {
    s->message = msg;
    while (!s->message.empty() && (s->message.back() == '\n' || s->message.back() == ' '))
      s->message.pop_back();
  }
}
void OpjQuiet(const char*, void*) {}

// Component sample -> 8 bits, as Pillow does: add the signed offset, shift to 8 bits of precision.
inline int64_t OpjSample(const opj_image_comp_t& c, int64_t x, int64_t y, int64_t w, int64_t h) {
  const int64_t cx = c.w == static_cast<OPJ_UINT32>(w) ? x : x * c.w / w;
  const int64_t cy = c.h == static_cast<OPJ_UINT32>(h) ? y : y * c.h / h;
  int64_t v = c.data[cy * c.w + cx];
  if (c.sgnd) v += int64_t{1} << (c.prec - 1);
  if (c.prec > 8) v >>= (c.prec - 8);
  if (c.prec < 8) v <<= (8 - c.prec);
  return v;
}

bool DecodeJpeg2000(const uint8_t* data, size_t size, bool codestream, Image& img,
                    std::string& err) {
  OpjState state{data, size, 0, {}};
  opj_stream_t* stream = opj_stream_create(OPJ_J2K_STREAM_CHUNK_SIZE, OPJ_TRUE);
  opj_codec_t* codec = opj_create_decompress(codestream ? OPJ_CODEC_J2K : OPJ_CODEC_JP2);
  opj_image_t* image = nullptr;
  auto fail = [&](const std::string& what) {
    err = "JPEG 2000: " + what + (state.message.empty() ? "" : ": " + state.message);
    if (image != nullptr) opj_image_destroy(image);
    if (codec != nullptr) opj_destroy_codec(codec);
    if (stream != nullptr) opj_stream_destroy(stream);
    return false;
  };
  if (stream == nullptr || codec == nullptr) return fail("cannot create the decoder");
  opj_stream_set_user_data(stream, &state, nullptr);
  opj_stream_set_user_data_length(stream, size);
  opj_stream_set_read_function(stream, OpjRead);
  opj_stream_set_skip_function(stream, OpjSkip);
  opj_stream_set_seek_function(stream, OpjSeek);
  opj_set_error_handler(codec, OpjError, &state);
  opj_set_warning_handler(codec, OpjQuiet, &state);
  opj_set_info_handler(codec, OpjQuiet, &state);
  opj_dparameters_t params;
  opj_set_default_decoder_parameters(&params);
  if (!opj_setup_decoder(codec, &params)) return fail("cannot set up the decoder");
  if (!opj_read_header(stream, codec, &image) || image == nullptr)
    return fail("cannot read the header");
  const int64_t width = static_cast<int64_t>(image->x1) - image->x0;
  const int64_t height = static_cast<int64_t>(image->y1) - image->y0;
  const uint32_t ncomps = image->numcomps;
  if (ncomps < 1 || ncomps > 4) return fail(fmt::format("unsupported {} components", ncomps));
  std::string size_err;
  if (!CheckSize(width, height, size_err)) return fail(size_err);
  if (!opj_decode(codec, stream, image) || !opj_end_decompress(codec, stream))
    return fail("cannot decode the image data");
  const opj_image_comp_t* comps = image->comps;
  const int64_t w = comps[0].w, h = comps[0].h;
  for (uint32_t i = 0; i < ncomps; ++i) {
    const opj_image_comp_t& c = comps[i];
    if (c.data == nullptr || c.w == 0 || c.h == 0 || c.prec < 1 || c.prec > 31)
      return fail(fmt::format("component {} is empty or has an invalid precision", i));
  }
  const bool gray = ncomps <= 2;
  if (!Allocate(img, w, h, gray ? 1 : 3, size_err)) return fail(size_err);
  const bool sycc = ncomps >= 3 && image->color_space == OPJ_CLRSPC_SYCC;
  const bool cmyk = ncomps == 4 && image->color_space == OPJ_CLRSPC_CMYK;
  uint8_t* out = img.pixels.data();
  for (int64_t y = 0; y < h; ++y) {
    for (int64_t x = 0; x < w; ++x) {
      if (gray) {
        *out++ = Clamp8(OpjSample(comps[0], x, y, w, h));
        continue;
      }
      int64_t v[4] = {0, 0, 0, 0};
      for (uint32_t i = 0; i < std::min<uint32_t>(ncomps, 4); ++i)
        v[i] = OpjSample(comps[i], x, y, w, h);
      if (sycc) {
        const double yy = static_cast<double>(v[0]);
        const double cb = static_cast<double>(v[1]) - 128.0;
        const double cr = static_cast<double>(v[2]) - 128.0;
        v[0] = std::lround(yy + 1.402 * cr);
        v[1] = std::lround(yy - 0.344136 * cb - 0.714136 * cr);
        v[2] = std::lround(yy + 1.772 * cb);
      }
      if (cmyk) {
        const uint8_t k[4] = {Clamp8(v[0]), Clamp8(v[1]), Clamp8(v[2]), Clamp8(v[3])};
        CmykToRgb(k, out);
        out += 3;
      } else {
        for (int c = 0; c < 3; ++c) *out++ = Clamp8(v[c]);
      }
    }
  }
  opj_image_destroy(image);
  opj_destroy_codec(codec);
  opj_stream_destroy(stream);
  return true;
}

// ---- BMP (parsed here) ------------------------------------------------------------------------

uint32_t Le16(const uint8_t* p) { return static_cast<uint32_t>(p[0]) | (uint32_t{p[1]} << 8); }
uint32_t Le32(const uint8_t* p) {
  return static_cast<uint32_t>(p[0]) | (uint32_t{p[1]} << 8) | (uint32_t{p[2]} << 16) |
         (uint32_t{p[3]} << 24);
}

// One channel of a bit-field pixel, scaled to 8 bits like Pillow (v * 255 / max).
struct BitField {
  uint32_t mask = 0;
  int shift = 0;
  uint32_t max = 0;
  explicit BitField(uint32_t m) : mask(m) {
    if (m == 0) return;
    while (((m >> shift) & 1) == 0) ++shift;
    max = m >> shift;
  }
  uint8_t Get(uint32_t p) const {
    if (max == 0) return 0;
    const uint64_t v = (p & mask) >> shift;
    return static_cast<uint8_t>(max == 255 ? v : std::min<uint64_t>(255, v * 255 / max));
  }
};

bool DecodeBmp(const uint8_t* data, size_t size, Image& img, std::string& err) {
  auto fail = [&](const std::string& what) {
    err = "BMP: " + what;
    return false;
  };
  if (size < 26) return fail("truncated header");
  const uint32_t offset = Le32(data + 10);
  const uint32_t header = Le32(data + 14);
  if (header != 12 && (header < 40 || header > 124)) return fail("unsupported header size");
  if (14 + static_cast<size_t>(header) > size) return fail("truncated header");
  const uint8_t* h = data + 14;
  int64_t width, height;
  uint32_t bpp, compression = 0, colors_used = 0;
  size_t palette_entry = 4;
  if (header == 12) {
    width = Le16(h + 4);
    height = Le16(h + 6);
    bpp = Le16(h + 10);
    palette_entry = 3;
  } else {
    width = static_cast<int32_t>(Le32(h + 4));
    height = static_cast<int32_t>(Le32(h + 8));
    bpp = Le16(h + 14);
    compression = Le32(h + 16);
    colors_used = Le32(h + 32);
  }
  const bool top_down = height < 0;
  if (top_down) height = -height;
  // Bit-field masks: inside V2+ headers, else right after a 40-byte header.
  size_t palette_at = 14 + static_cast<size_t>(header);
  uint32_t masks[3] = {0, 0, 0};
  if (compression == 3 || compression == 6) {
    if (bpp != 16 && bpp != 32) return fail("bit fields need 16 or 32 bits per pixel");
    const size_t at = header >= 52 ? 14 + 40 : palette_at;
    if (at + 12 > size) return fail("truncated bit-field masks");
    for (int i = 0; i < 3; ++i) masks[i] = Le32(data + at + 4 * static_cast<size_t>(i));
    if (header < 52) palette_at += compression == 6 ? 16 : 12;
  } else if (compression != 0) {
    return fail("unsupported compression " + std::to_string(compression) +
                " (only uncompressed and bit-field images)");
  } else if (bpp == 16) {
    masks[0] = 0x7C00;
    masks[1] = 0x03E0;
    masks[2] = 0x001F;
  } else if (bpp == 32) {
    masks[0] = 0x00FF0000;
    masks[1] = 0x0000FF00;
    masks[2] = 0x000000FF;
  }
  if (bpp != 1 && bpp != 2 && bpp != 4 && bpp != 8 && bpp != 16 && bpp != 24 && bpp != 32)
    return fail("unsupported bit depth " + std::to_string(bpp));
  // Palette.
  std::vector<uint8_t> palette;  // RGB triples
  if (bpp <= 8) {
    size_t count = colors_used == 0 ? (size_t{1} << bpp) : colors_used;
    if (count > 256) return fail("palette of more than 256 colours");
    if (palette_at + count * palette_entry > size) return fail("truncated palette");
    palette.assign(256 * 3, 0);
    for (size_t i = 0; i < count; ++i) {
      const uint8_t* e = data + palette_at + i * palette_entry;
      palette[i * 3 + 0] = e[2];
      palette[i * 3 + 1] = e[1];
      palette[i * 3 + 2] = e[0];
    }
  }
  if (!CheckSize(width, height, err)) return fail(err);
  const uint64_t stride = (static_cast<uint64_t>(width) * bpp + 31) / 32 * 4;
  if (offset > size || stride * static_cast<uint64_t>(height) > size - offset)
    return fail("truncated pixel data");
  if (!Allocate(img, width, height, 3, err)) return fail(err);
  const BitField fields[3] = {BitField(masks[0]), BitField(masks[1]), BitField(masks[2])};
  for (int64_t y = 0; y < height; ++y) {
    const uint8_t* row =
        data + offset + stride * static_cast<uint64_t>(top_down ? y : height - 1 - y);
    uint8_t* out = img.pixels.data() + y * width * 3;
    for (int64_t x = 0; x < width; ++x, out += 3) {
      if (bpp <= 8) {
        const uint64_t bit = static_cast<uint64_t>(x) * bpp;
        const uint32_t idx = (row[bit / 8] >> (8 - bpp - bit % 8)) & ((1u << bpp) - 1);
        std::memcpy(out, &palette[idx * 3], 3);
      } else if (bpp == 24) {
        out[0] = row[x * 3 + 2];
        out[1] = row[x * 3 + 1];
        out[2] = row[x * 3 + 0];
      } else {
        const uint32_t p = bpp == 16 ? Le16(row + x * 2) : Le32(row + x * 4);
        for (int c = 0; c < 3; ++c) out[c] = fields[c].Get(p);
      }
    }
  }
  return true;
}

// ---- PNM (parsed here) ------------------------------------------------------------------------

struct PnmReader {
  const uint8_t* data;
  size_t size;
  size_t pos = 0;

  static bool IsSpace(uint8_t c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
  }
  // Skips whitespace and comments.
  void Skip() {
    while (pos < size) {
      if (IsSpace(data[pos])) {
        ++pos;
      } else if (data[pos] == '#') {
        while (pos < size && data[pos] != '\n' && data[pos] != '\r') ++pos;
      } else {
        break;
      }
    }
  }
  // An unsigned decimal number; false when absent or over `limit`.
  bool Number(uint64_t limit, uint64_t& v) {
    Skip();
    if (pos >= size || data[pos] < '0' || data[pos] > '9') return false;
    v = 0;
    while (pos < size && data[pos] >= '0' && data[pos] <= '9') {
      v = v * 10 + (data[pos] - '0');
      if (v > limit) return false;
      ++pos;
    }
    return true;
  }
};

bool DecodePnm(const uint8_t* data, size_t size, Image& img, std::string& err) {
  auto fail = [&](const std::string& what) {
    err = "PNM: " + what;
    return false;
  };
  const int kind = data[1] - '0';  // 1..6, checked by the caller
  PnmReader r{data, size, 2};
  uint64_t width = 0, height = 0, maxval = 1;
  if (!r.Number(uint64_t{1} << 31, width) || !r.Number(uint64_t{1} << 31, height))
    return fail("invalid or missing width/height");
  const bool bitmap = kind == 1 || kind == 4;
  if (!bitmap && (!r.Number(65535, maxval) || maxval == 0))
    return fail("invalid or missing maxval (1..65535)");
  const bool color = kind == 3 || kind == 6;
  if (!CheckSize(static_cast<int64_t>(width), static_cast<int64_t>(height), err)) return fail(err);
  if (kind >= 4) {  // raw: the data must all be there before anything is allocated
    const uint64_t need = kind == 4 ? (width + 7) / 8 * height
                                    : width * height * (color ? 3 : 1) * (maxval > 255 ? 2 : 1);
    if (r.pos >= size || need > size - r.pos - 1) return fail("truncated sample data");
  }
  if (!Allocate(img, static_cast<int64_t>(width), static_cast<int64_t>(height), color ? 3 : 1, err))
    return fail(err);
  const size_t samples = img.pixels.size();
  auto scale = [maxval](uint64_t v) -> uint8_t {
    if (v >= maxval) return 255;
    if (maxval == 255) return static_cast<uint8_t>(v);
    return static_cast<uint8_t>((v * 255 + maxval / 2) / maxval);
  };
  if (kind <= 3) {  // plain (ASCII)
    for (size_t i = 0; i < samples; ++i) {
      if (kind == 1) {
        r.Skip();
        if (r.pos >= size || (data[r.pos] != '0' && data[r.pos] != '1'))
          return fail("truncated or invalid bitmap data");
        img.pixels[i] = data[r.pos++] == '1' ? 0 : 255;
      } else {
        uint64_t v = 0;
        if (!r.Number(65535, v)) return fail("truncated or invalid sample data");
        img.pixels[i] = scale(v);
      }
    }
    return true;
  }
  // Raw: exactly one whitespace byte after the header.
  if (r.pos >= size || !PnmReader::IsSpace(data[r.pos])) return fail("truncated header");
  ++r.pos;
  const uint8_t* p = data + r.pos;
  const size_t avail = size - r.pos;
  if (kind == 4) {
    const size_t row_bytes = (width + 7) / 8;
    if (row_bytes * height > avail) return fail("truncated bitmap data");
    for (uint64_t y = 0; y < height; ++y)
      for (uint64_t x = 0; x < width; ++x)
        img.pixels[y * width + x] = (p[y * row_bytes + x / 8] >> (7 - x % 8)) & 1 ? 0 : 255;
    return true;
  }
  const size_t bytes = maxval > 255 ? 2 : 1;
  if (samples > avail / bytes) return fail("truncated sample data");
  for (size_t i = 0; i < samples; ++i) {
    const uint64_t v = bytes == 2 ? (uint64_t{p[2 * i]} << 8) | p[2 * i + 1] : p[i];
    img.pixels[i] = scale(v);
  }
  return true;
}

// ---- Format detection and the kernel ----------------------------------------------------------

enum class PixelFormat { kRgb, kBgr, kGray };

bool StartsWith(const uint8_t* data, size_t size, const char* magic, size_t n) {
  return size >= n && std::memcmp(data, magic, n) == 0;
}

bool Decode(const uint8_t* data, size_t size, Image& img, std::string& err) {
  if (StartsWith(data, size, "\xFF\xD8\xFF", 3)) return DecodeJpeg(data, size, img, err);
  if (StartsWith(data, size, "\x89PNG\r\n\x1A\n", 8)) return DecodePng(data, size, img, err);
  if (StartsWith(data, size, "II*\0", 4) || StartsWith(data, size, "MM\0*", 4) ||
      StartsWith(data, size, "II+\0", 4) || StartsWith(data, size, "MM\0+", 4))
    return DecodeTiff(data, size, img, err);
  if (size >= 12 && std::memcmp(data, "RIFF", 4) == 0 && std::memcmp(data + 8, "WEBP", 4) == 0)
    return DecodeWebp(data, size, img, err);
  if (StartsWith(data, size, "\0\0\0\x0CjP  \r\n\x87\n", 12))
    return DecodeJpeg2000(data, size, false, img, err);
  if (StartsWith(data, size, "\xFF\x4F\xFF\x51", 4))
    return DecodeJpeg2000(data, size, true, img, err);
  if (StartsWith(data, size, "BM", 2)) return DecodeBmp(data, size, img, err);
  if (size >= 3 && data[0] == 'P' && data[1] >= '1' && data[1] <= '6' &&
      (PnmReader::IsSpace(data[2]) || data[2] == '#'))
    return DecodePnm(data, size, img, err);
  err =
      "unrecognised image format (expected BMP, JPEG, JPEG 2000, PNG, PNM, TIFF or WebP magic "
      "bytes)";
  return false;
}

class ImageDecoder final : public Kernel {
 public:
  Status Init(const InitContext& ctx) override {
    const std::string f = ctx.attr_string("pixel_format", "RGB");
    if (f == "RGB") {
      format_ = PixelFormat::kRgb;
    } else if (f == "BGR") {
      format_ = PixelFormat::kBgr;
    } else if (f == "Grayscale") {
      format_ = PixelFormat::kGray;
    } else {
      return ctx.Invalid("attribute pixel_format: expected RGB, BGR or Grayscale, got '{}'", f);
    }
    return Status::Ok();
  }

  Status Compute(ComputeContext& ctx) const override {
    const Tensor* x = ctx.input(0);
    if (x == nullptr) return ctx.Error("expected input encoded_stream");
    if (x->dtype() != DataType::kUInt8)
      return ctx.Error("input encoded_stream must be uint8, got {}", DataTypeName(x->dtype()));
    if (x->rank() != 1)
      return ctx.Error("input encoded_stream must be 1-D, got shape {}", ShapeToString(x->shape()));
    if (x->numel() == 0) return ctx.Error("input encoded_stream is empty");
    Image img;
    std::string err;
    if (!Decode(x->data<uint8_t>(), static_cast<size_t>(x->numel()), img, err))
      return ctx.Error("cannot decode the image: {}", err);
    const int out_c = format_ == PixelFormat::kGray ? 1 : 3;
    Tensor& y = ctx.Output(0, DataType::kUInt8, {img.height, img.width, out_c});
    uint8_t* dst = y.data<uint8_t>();
    const uint8_t* src = img.pixels.data();
    const int64_t n = img.width * img.height;
    if (img.channels == 1) {
      for (int64_t i = 0; i < n; ++i)
        for (int c = 0; c < out_c; ++c) dst[i * out_c + c] = src[i];
    } else if (format_ == PixelFormat::kGray) {
      for (int64_t i = 0; i < n; ++i) dst[i] = Luma(src[3 * i], src[3 * i + 1], src[3 * i + 2]);
    } else if (format_ == PixelFormat::kBgr) {
      for (int64_t i = 0; i < n; ++i) {
        dst[3 * i + 0] = src[3 * i + 2];
        dst[3 * i + 1] = src[3 * i + 1];
        dst[3 * i + 2] = src[3 * i + 0];
      }
    } else {
      std::memcpy(dst, src, static_cast<size_t>(n) * 3);
    }
    return Status::Ok();
  }

 private:
  PixelFormat format_ = PixelFormat::kRgb;
};

}  // namespace

std::unique_ptr<Kernel> CreateRefImageDecoder() { return std::make_unique<ImageDecoder>(); }

}  // namespace hone::ref
