#include "camerad/synthetic_scene.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <vector>

namespace camerad {

namespace {

constexpr int kTexSize = 256;        // level 0 is kTexSize x kTexSize texels
constexpr int kTexLevels = 8;        // 256, 128, ... 2
constexpr double kTexel = 0.04;      // meters per level-0 texel
constexpr int kCloudRows = 128, kCloudCols = 1024;
constexpr double kCameraHeight = 1.25;
constexpr double kSpeed = 15.0;      // m/s
constexpr int kStampBits = 40;
constexpr int kStampPerWidth = 64;  // block width = image width / 64

// Periodic smooth value noise in [-1, 1]: random values on a lattice of `cell`
// texels, smoothstep-interpolated, wrapping at w x h (multiples of cell).
std::vector<float> value_noise(int w, int h, int cell_x, int cell_y, uint32_t seed) {
  int gw = w / cell_x, gh = h / cell_y;
  std::vector<float> lattice(size_t(gw) * gh);
  uint32_t s = seed * 2654435761u + 0x9e3779b9u;
  for (float &v : lattice) {
    s ^= s << 13;
    s ^= s >> 17;
    s ^= s << 5;
    v = float(s & 0xffff) / 32767.5f - 1.0f;
  }
  auto smooth = [](float f) { return f * f * (3 - 2 * f); };
  std::vector<float> out(size_t(w) * h);
  for (int y = 0; y < h; y++) {
    int gy = y / cell_y;
    float fy = smooth(float(y % cell_y) / cell_y);
    const float *r0 = &lattice[size_t(gy % gh) * gw], *r1 = &lattice[size_t((gy + 1) % gh) * gw];
    for (int x = 0; x < w; x++) {
      int gx = x / cell_x, gx1 = (gx + 1) % gw;
      float fx = smooth(float(x % cell_x) / cell_x);
      float top = r0[gx] + (r0[gx1] - r0[gx]) * fx, bottom = r1[gx] + (r1[gx1] - r1[gx]) * fx;
      out[size_t(y) * w + x] = top + (bottom - top) * fy;
    }
  }
  return out;
}

struct Textures {
  std::vector<int8_t> level[kTexLevels];  // ground texture, (kTexSize >> l)^2 each
  std::vector<int8_t> clouds;             // kCloudRows x kCloudCols
};

Textures make_textures(uint32_t seed) {
  Textures t;
  std::vector<float> sum(size_t(kTexSize) * kTexSize, 0.0f);
  const int cells[] = {32, 16, 8, 4, 2};
  const float amps[] = {1.0f, 0.7f, 0.5f, 0.35f, 0.25f};
  for (int o = 0; o < 5; o++) {
    std::vector<float> n = value_noise(kTexSize, kTexSize, cells[o], cells[o], seed * 31 + o);
    for (size_t i = 0; i < sum.size(); i++) sum[i] += amps[o] * n[i];
  }
  t.level[0].resize(sum.size());
  for (size_t i = 0; i < sum.size(); i++) t.level[0][i] = int8_t(std::clamp(sum[i] * 9.0f, -24.0f, 24.0f));
  for (int l = 1; l < kTexLevels; l++) {
    int n = kTexSize >> l, p = n * 2;
    const std::vector<int8_t> &src = t.level[l - 1];
    t.level[l].resize(size_t(n) * n);
    for (int y = 0; y < n; y++) {
      for (int x = 0; x < n; x++) {
        int a = src[(2 * y) * p + 2 * x] + src[(2 * y) * p + 2 * x + 1] + src[(2 * y + 1) * p + 2 * x] +
                src[(2 * y + 1) * p + 2 * x + 1];
        t.level[l][y * n + x] = int8_t(a / 4);
      }
    }
  }
  std::vector<float> c0 = value_noise(kCloudCols, kCloudRows, 256, 32, seed + 7);
  std::vector<float> c1 = value_noise(kCloudCols, kCloudRows, 64, 8, seed + 8);
  t.clouds.resize(c0.size());
  for (size_t i = 0; i < c0.size(); i++) t.clouds[i] = int8_t(std::clamp(14.0f * c0[i] + 6.0f * c1[i], -18.0f, 18.0f));
  return t;
}

const Textures &textures(CameraStream s) {
  static const Textures all[kCameraStreamCount] = {make_textures(1), make_textures(2), make_textures(3)};
  return all[int(s)];
}

struct CameraModel {
  double focal_per_width;  // focal length in pixels / image width
  double horizon;          // horizon row / image height
  double direction;        // +1 looks forward, -1 looks backward
};

const CameraModel kModels[kCameraStreamCount] = {
    {2648.0 / 1928.0, 0.45, 1.0},
    {700.0 / 1928.0, 0.48, 1.0},
    {1000.0 / 1928.0, 0.50, -1.0},
};

struct Uv {
  uint8_t u, v;
};
constexpr Uv kSkyUv{148, 116}, kGrassUv{100, 118}, kRoadUv{127, 129}, kWhiteUv{128, 128},
    kYellowUv{92, 148}, kCarUv{128, 128}, kTailUv{106, 196};

// One chroma row of the destination, whatever its layout.
struct ChromaRow {
  uint8_t *u, *v;
  int step;
};

// Chroma of luma columns [x0, x1) (even bounds).
void fill_uv(const ChromaRow *row, int x0, int x1, Uv c) {
  for (int x = x0 / 2; x < x1 / 2; x++) {
    row->u[x * row->step] = c.u;
    row->v[x * row->step] = c.v;
  }
}

// Everything about one frame that does not depend on the row.
struct FrameState {
  int w, h;
  double focal, cx, horizon;
  double odo;        // meters travelled, signed by camera direction
  double sway, curv; // lateral offset (m) and curvature (1/m) of the road
  // lead car in pixels: columns [car_x0, car_x1), rows [car_y0, car_y1)
  int car_x0, car_x1, car_y0, car_y1;
  int cloud_drift;
};

FrameState frame_state(CameraStream stream, uint32_t frame_id, int w, int h) {
  const CameraModel &m = kModels[int(stream)];
  FrameState f;
  f.w = w;
  f.h = h;
  f.focal = m.focal_per_width * w;
  f.cx = w * 0.5;
  f.horizon = m.horizon * h;
  double t = double(frame_id) / kSceneFps;
  f.odo = m.direction * kSpeed * t;
  f.sway = 0.35 * std::sin(0.31 * t);
  f.curv = 0.0012 * std::sin(0.043 * t + int(stream));
  f.cloud_drift = int(std::fmod(t * 12.0, double(kCloudCols)));
  double car_z = (m.direction > 0 ? 24.0 : 16.0) + 8.0 * std::sin(0.17 * t);
  double car_c = f.sway + 0.5 * f.curv * car_z * car_z;
  double s = f.focal / car_z;  // pixels per meter at the car
  f.car_x0 = std::clamp(int(std::lround(f.cx + (car_c - 0.9) * s)), 0, w);
  f.car_x1 = std::clamp(int(std::lround(f.cx + (car_c + 0.9) * s)), 0, w);
  f.car_y1 = std::clamp(int(std::lround(f.horizon + kCameraHeight * s)), 0, h);
  f.car_y0 = std::clamp(int(std::lround(f.horizon - (1.45 - kCameraHeight) * s)), 0, h);
  return f;
}

// Textured span: row[x] = base + tex[u(x)] for x in [x0, x1), u in 16.16 fixed point.
void texture_span(uint8_t *row, int x0, int x1, int base, const int8_t *tex, uint32_t mask, uint32_t u0,
                  uint32_t du, int shift) {
  uint32_t u = u0 + du * uint32_t(x0);
  for (int x = x0; x < x1; x++, u += du) row[x] = uint8_t(base + (tex[(u >> 16) & mask] >> shift));
}

void sky_row(const FrameState &f, const Textures &tx, int y, uint8_t *row, const ChromaRow *uv_row) {
  int base = 195 + int(40.0 * y / std::max(f.horizon, 1.0));
  const int8_t *clouds = &tx.clouds[size_t(y * kCloudRows / std::max(int(f.horizon), 1) % kCloudRows) * kCloudCols];
  for (int x = 0; x < f.w; x++) row[x] = uint8_t(base + clouds[(x + f.cloud_drift) & (kCloudCols - 1)]);
  if (uv_row) fill_uv(uv_row, 0, f.w, kSkyUv);
}

void ground_row(const FrameState &f, const Textures &tx, double dy, uint8_t *row, const ChromaRow *uv_row) {
  double z = f.focal * kCameraHeight / dy;
  double scale = z / f.focal;  // meters per pixel across the row
  double c = f.sway + 0.5 * f.curv * z * z;
  // Mip level: the texel must cover the pixel's footprint across and along the road.
  double foot = std::max(scale, z / dy) / kTexel;
  int l = 0;
  while (l < kTexLevels - 1 && double(1 << l) < foot) l++;
  double texel = kTexel * (1 << l);
  int size = kTexSize >> l;
  uint32_t mask = uint32_t(size - 1);
  double along = z + f.odo;
  int64_t tv = int64_t(std::floor(along / texel));
  const int8_t *road_tex = &tx.level[l][size_t(tv & mask) * size];
  const int8_t *grass_tex = &tx.level[l][size_t((tv + size / 2 + 5) & mask) * size];
  double period = size * texel;
  double x_left = (0.5 - f.cx) * scale - c;  // lateral position of pixel 0's center
  uint32_t u0 = uint32_t(int64_t(std::floor((x_left - std::floor(x_left / period) * period) / texel * 65536.0)));
  uint32_t du = uint32_t(std::lround(scale / texel * 65536.0));

  auto col = [&](double lateral) { return std::clamp(int(std::ceil(f.cx + (lateral + c) / scale - 0.5)), 0, f.w); };
  int road0 = col(-5.55), road1 = col(5.55);
  texture_span(row, 0, road0, 84, grass_tex, mask, u0, du, 0);
  texture_span(row, road0, road1, 98, road_tex, mask, u0, du, 0);
  texture_span(row, road1, f.w, 84, grass_tex, mask, u0, du, 0);
  if (uv_row) {
    fill_uv(uv_row, 0, road0, kGrassUv);
    fill_uv(uv_row, road0, road1, kRoadUv);
    fill_uv(uv_row, road1, f.w, kGrassUv);
  }
  struct Line {
    double a, b;
    bool dashed;
    Uv uv;
  };
  const Line lines[] = {{-5.55, -5.40, false, kYellowUv},
                        {5.40, 5.55, false, kWhiteUv},
                        {-1.925, -1.775, true, kWhiteUv},
                        {1.775, 1.925, true, kWhiteUv}};
  double dash_phase = along / 12.0 - std::floor(along / 12.0);
  for (const Line &ln : lines) {
    if (ln.dashed && dash_phase >= 0.3) continue;
    int x0 = col(ln.a), x1 = col(ln.b);
    texture_span(row, x0, x1, 206, road_tex, mask, u0, du, 2);
    if (uv_row) fill_uv(uv_row, x0 & ~1, (x1 + 1) & ~1, ln.uv);
  }
}

void car_row(const FrameState &f, int y, uint8_t *row, const ChromaRow *uv_row) {
  if (y < f.car_y0 || y >= f.car_y1 || f.car_x1 <= f.car_x0) return;
  double h = double(y - f.car_y0) / std::max(f.car_y1 - f.car_y0, 1);
  int width = f.car_x1 - f.car_x0, light = width * 18 / 100;
  bool window = h < 0.38, lights = h >= 0.52 && h < 0.68;
  std::fill(row + f.car_x0, row + f.car_x1, uint8_t(window ? 72 : 48));
  if (lights) {
    std::fill(row + f.car_x0, row + f.car_x0 + light, uint8_t(110));
    std::fill(row + f.car_x1 - light, row + f.car_x1, uint8_t(110));
  }
  if (uv_row) {
    int x0 = f.car_x0 & ~1, x1 = (f.car_x1 + 1) & ~1;
    fill_uv(uv_row, x0, x1, kCarUv);
    if (lights) {
      fill_uv(uv_row, x0, (f.car_x0 + light) & ~1, kTailUv);
      fill_uv(uv_row, (f.car_x1 - light + 1) & ~1, x1, kTailUv);
    }
  }
}

ChromaRow chroma_row(const conduit::Yuv420Frame &f, int r) {
  return {f.u + size_t(r) * f.uv_stride, f.v + size_t(r) * f.uv_stride, f.uv_step};
}

uint32_t stamp_word_check(uint32_t frame_id, int stream) {
  uint32_t c = 0xA ^ uint32_t(stream);
  for (int i = 0; i < 8; i++) c ^= (frame_id >> (4 * i)) & 0xF;
  return c & 0xF;
}

// Stamp geometry is proportional to the width, so a scaled frame still reads.
int stamp_block_x(int b, int width) { return b * width / kStampPerWidth; }
int stamp_height(int width) { return std::max(2, (width / kStampPerWidth) & ~1); }

void draw_stamp(CameraStream stream, uint32_t frame_id, const conduit::Yuv420Frame &dst) {
  uint64_t bits = uint64_t(frame_id) | (uint64_t(int(stream)) << 32) |
                  (uint64_t(stamp_word_check(frame_id, int(stream))) << 36);
  int bh = std::min(stamp_height(dst.width), dst.height);
  for (int y = 0; y < bh; y++) {
    uint8_t *row = dst.y + size_t(y) * dst.stride;
    for (int b = 0; b < kStampBits; b++) {
      std::fill(row + stamp_block_x(b, dst.width), row + stamp_block_x(b + 1, dst.width),
                uint8_t((bits >> b) & 1 ? 235 : 16));
    }
    if (y % 2 == 0) {
      ChromaRow c = chroma_row(dst, y / 2);
      fill_uv(&c, 0, stamp_block_x(kStampBits, dst.width) + 1, kWhiteUv);
    }
  }
}

}  // namespace

void render_synthetic(CameraStream stream, uint32_t frame_id, const conduit::Yuv420Frame &dst) {
  dst.validate("render_synthetic");
  if (dst.width < 128) {
    throw std::invalid_argument("render_synthetic: frame " + std::to_string(dst.width) +
                                " pixels wide; expected at least 128");
  }
  const Textures &tx = textures(stream);
  FrameState f = frame_state(stream, frame_id, dst.width, dst.height);
  for (int y = 0; y < dst.height; y++) {
    uint8_t *row = dst.y + size_t(y) * dst.stride;
    ChromaRow c = chroma_row(dst, y / 2);
    const ChromaRow *uv_row = y % 2 == 0 ? &c : nullptr;
    double dy = y + 0.5 - f.horizon;
    if (dy < 0.5) {
      sky_row(f, tx, y, row, uv_row);
    } else {
      ground_row(f, tx, dy, row, uv_row);
    }
    car_row(f, y, row, uv_row);
  }
  draw_stamp(stream, frame_id, dst);
}

std::optional<FrameStamp> read_stamp(const uint8_t *y, int stride, int width, int height) {
  int bh = stamp_height(width);
  if (width < 128 || height < bh) return std::nullopt;
  uint64_t bits = 0;
  for (int b = 0; b < kStampBits; b++) {
    // Mean over the inner half of the block, away from edges the codec blurs.
    int bx = stamp_block_x(b, width), bw = stamp_block_x(b + 1, width) - bx;
    int x0 = bx + bw / 4, x1 = std::max(x0 + 1, bx + bw - bw / 4);
    int y0 = bh / 4, y1 = std::max(y0 + 1, bh - bh / 4);
    int sum = 0, n = 0;
    for (int yy = y0; yy < y1; yy++) {
      for (int xx = x0; xx < x1; xx++, n++) sum += y[size_t(yy) * stride + xx];
    }
    if (sum > 125 * n) bits |= uint64_t(1) << b;
  }
  uint32_t frame_id = uint32_t(bits);
  int stream = int((bits >> 32) & 0xF);
  if (stream >= kCameraStreamCount || ((bits >> 36) & 0xF) != stamp_word_check(frame_id, stream)) return std::nullopt;
  return FrameStamp{frame_id, CameraStream(stream)};
}

}  // namespace camerad
