// Reference object-detection kernels.
// ONNX operators: RoiAlign (opsets 10-22: modes avg and max, coordinate_transformation_mode
// half_pixel / output_half_pixel from 16, where opset 10 behaves as output_half_pixel),
// NonMaxSuppression (10-22: center_point_box 0 and 1, optional max_output_boxes_per_class,
// iou_threshold and score_threshold inputs).
// Both follow the ONNX reference implementation (itself a port of ONNX Runtime's CPU kernels)
// literally, including RoiAlign's max mode, which takes the maximum of the weighted corner values.
#include <algorithm>
#include <cmath>

#include "kernels/ref/common.h"

namespace hone::ref {
namespace {

// ---------------------------------------------------------------------------------------------
// RoiAlign

// Upper bound on the bilinear samples of one roi (bins x samples per bin), to fail cleanly on
// absurd rois rather than exhaust memory.
constexpr double kMaxSamples = 1 << 26;

class RoiAlign final : public Kernel {
 public:
  Status Init(const InitContext& ctx) override {
    const std::string ctm = ctx.attr_string("coordinate_transformation_mode",
                                            ctx.opset() >= 16 ? "half_pixel" : "output_half_pixel");
    if (ctm == "half_pixel") {
      half_pixel_ = true;
    } else if (ctm == "output_half_pixel") {
      half_pixel_ = false;
    } else {
      return ctx.Invalid(
          "attribute coordinate_transformation_mode: expected half_pixel or output_half_pixel, "
          "got '{}'",
          ctm);
    }
    const std::string mode = ctx.attr_string("mode", "avg");
    if (mode != "avg" && mode != "max")
      return ctx.Invalid("attribute mode: expected avg or max, got '{}'", mode);
    max_mode_ = mode == "max";
    output_height_ = ctx.attr_int("output_height", 1);
    output_width_ = ctx.attr_int("output_width", 1);
    sampling_ratio_ = ctx.attr_int("sampling_ratio", 0);
    spatial_scale_ = ctx.attr_float("spatial_scale", 1.0f);
    if (output_height_ < 1 || output_width_ < 1)
      return ctx.Invalid("output_height and output_width must be >= 1, got {} and {}",
                         output_height_, output_width_);
    if (!std::isfinite(spatial_scale_))
      return ctx.Invalid("spatial_scale must be finite, got {}", spatial_scale_);
    if (sampling_ratio_ < 0)
      return ctx.Invalid("sampling_ratio must be >= 0, got {}", sampling_ratio_);
    if (ctx.num_inputs() < 3) return ctx.Invalid("expected 3 inputs, got {}", ctx.num_inputs());
    return Status::Ok();
  }

  Status Compute(ComputeContext& ctx) const override {
    const Tensor* x = ctx.input(0);
    const Tensor* rois = ctx.input(1);
    const Tensor* bi = ctx.input(2);
    if (x == nullptr || rois == nullptr || bi == nullptr)
      return ctx.Error("inputs X, rois and batch_indices are required");
    if (x->rank() != 4) return ctx.Error("input X rank: expected 4, got {}", x->rank());
    if (rois->rank() != 2 || rois->dim(1) != 4)
      return ctx.Error("rois shape: expected [num_rois, 4], got {}", ShapeToString(rois->shape()));
    const int64_t num_rois = rois->dim(0);
    if (bi->rank() != 1 || bi->dim(0) != num_rois)
      return ctx.Error("batch_indices shape: expected [{}], got {}", num_rois,
                       ShapeToString(bi->shape()));
    HONE_ASSIGN_OR_RETURN(Shape batch, ToInt64Vector(ctx.node(), *bi, "batch_indices"));
    const int64_t n = x->dim(0), c = x->dim(1), height = x->dim(2), width = x->dim(3);
    std::vector<double> xs, rs;
    HONE_RETURN_IF_ERROR(ReadDoubles(ctx, *x, xs));
    HONE_RETURN_IF_ERROR(ReadDoubles(ctx, *rois, rs));
    const int64_t ph_n = output_height_, pw_n = output_width_;
    std::vector<double> y(static_cast<size_t>(num_rois * c * ph_n * pw_n), 0.0);
    struct Sample {
      int64_t pos[4];
      double w[4];
    };
    std::vector<Sample> samples;
    for (int64_t r = 0; r < num_rois; ++r) {
      const int64_t bidx = batch[static_cast<size_t>(r)];
      if (bidx < 0 || bidx >= n)
        return ctx.Error("batch_indices[{}] = {} is out of range [0, {})", r, bidx, n);
      const double* roi = rs.data() + r * 4;
      for (int k = 0; k < 4; ++k)
        if (!std::isfinite(roi[k])) return ctx.Error("rois[{}] has a non-finite coordinate", r);
      const double offset = half_pixel_ ? 0.5 : 0.0;
      const double start_w = roi[0] * spatial_scale_ - offset;
      const double start_h = roi[1] * spatial_scale_ - offset;
      const double end_w = roi[2] * spatial_scale_ - offset;
      const double end_h = roi[3] * spatial_scale_ - offset;
      double roi_w = end_w - start_w, roi_h = end_h - start_h;
      if (!half_pixel_) {  // malformed ROIs are forced to 1x1
        roi_w = std::max(roi_w, 1.0);
        roi_h = std::max(roi_h, 1.0);
      }
      const double bin_h = roi_h / static_cast<double>(ph_n);
      const double bin_w = roi_w / static_cast<double>(pw_n);
      // the sample grid per bin; an inverted roi samples nothing and gives 0, as in the reference
      auto grid_size = [&](double extent, int64_t bins) -> int64_t {
        if (sampling_ratio_ > 0) return sampling_ratio_;
        const double g = std::ceil(extent / static_cast<double>(bins));
        if (!(g > 0)) return 0;
        return g > kMaxSamples ? static_cast<int64_t>(kMaxSamples) + 1 : static_cast<int64_t>(g);
      };
      const int64_t grid_h = grid_size(roi_h, ph_n), grid_w = grid_size(roi_w, pw_n);
      if (grid_h > 0 && grid_w > 0 &&
          static_cast<double>(grid_h) * static_cast<double>(grid_w) * static_cast<double>(ph_n) *
                  static_cast<double>(pw_n) >
              kMaxSamples)
        return ctx.Error("roi {} needs {} x {} samples per bin, more than this kernel supports", r,
                         grid_h, grid_w);
      const double count = static_cast<double>(std::max<int64_t>(grid_h * grid_w, 1));
      // bilinear sample positions and weights, shared by all channels
      samples.clear();
      for (int64_t ph = 0; ph < ph_n; ++ph) {
        for (int64_t pw = 0; pw < pw_n; ++pw) {
          for (int64_t iy = 0; iy < grid_h; ++iy) {
            const double yy = start_h + static_cast<double>(ph) * bin_h +
                              (static_cast<double>(iy) + 0.5) * bin_h / static_cast<double>(grid_h);
            for (int64_t ix = 0; ix < grid_w; ++ix) {
              const double xx =
                  start_w + static_cast<double>(pw) * bin_w +
                  (static_cast<double>(ix) + 0.5) * bin_w / static_cast<double>(grid_w);
              Sample s{};
              double yv = yy, xv = xx;
              if (yv < -1.0 || yv > static_cast<double>(height) || xv < -1.0 ||
                  xv > static_cast<double>(width) || height == 0 || width == 0) {
                samples.push_back(s);  // outside the feature map: contributes 0
                continue;
              }
              yv = std::max(yv, 0.0);
              xv = std::max(xv, 0.0);
              int64_t y_low = static_cast<int64_t>(yv), x_low = static_cast<int64_t>(xv);
              int64_t y_high, x_high;
              if (y_low >= height - 1) {
                y_high = y_low = height - 1;
                yv = static_cast<double>(y_low);
              } else {
                y_high = y_low + 1;
              }
              if (x_low >= width - 1) {
                x_high = x_low = width - 1;
                xv = static_cast<double>(x_low);
              } else {
                x_high = x_low + 1;
              }
              const double ly = yv - static_cast<double>(y_low),
                           lx = xv - static_cast<double>(x_low);
              const double hy = 1.0 - ly, hx = 1.0 - lx;
              s.pos[0] = y_low * width + x_low;
              s.pos[1] = y_low * width + x_high;
              s.pos[2] = y_high * width + x_low;
              s.pos[3] = y_high * width + x_high;
              s.w[0] = hy * hx;
              s.w[1] = hy * lx;
              s.w[2] = ly * hx;
              s.w[3] = ly * lx;
              samples.push_back(s);
            }
          }
        }
      }
      const int64_t per_bin = grid_h * grid_w;
      for (int64_t ch = 0; ch < c; ++ch) {
        const double* src = xs.data() + (bidx * c + ch) * height * width;
        double* dst = y.data() + (r * c + ch) * ph_n * pw_n;
        for (int64_t p = 0; p < ph_n * pw_n; ++p) {
          double val = 0;
          bool first = true;
          for (int64_t s = 0; s < per_bin; ++s) {
            const Sample& sm = samples[static_cast<size_t>(p * per_bin + s)];
            if (max_mode_) {
              double v = sm.w[0] * src[sm.pos[0]];
              for (int k = 1; k < 4; ++k) v = std::max(v, sm.w[k] * src[sm.pos[k]]);
              val = first ? v : std::max(val, v);
              first = false;
            } else {
              for (int k = 0; k < 4; ++k) val += sm.w[k] * src[sm.pos[k]];
            }
          }
          dst[p] = max_mode_ ? val : val / count;
        }
      }
    }
    Tensor& out = ctx.Output(0, x->dtype(), {num_rois, c, ph_n, pw_n});
    return VisitFloat(ctx.node(), x->dtype(), [&]<typename T>() {
      T* dst = out.data<T>();
      for (size_t i = 0; i < y.size(); ++i) dst[i] = static_cast<T>(y[i]);
      return Status::Ok();
    });
  }

 private:
  bool half_pixel_ = true, max_mode_ = false;
  int64_t output_height_ = 1, output_width_ = 1, sampling_ratio_ = 0;
  double spatial_scale_ = 1.0;
};

// ---------------------------------------------------------------------------------------------
// NonMaxSuppression

class NonMaxSuppression final : public Kernel {
 public:
  Status Init(const InitContext& ctx) override {
    center_point_box_ = ctx.attr_int("center_point_box", 0);
    if (center_point_box_ != 0 && center_point_box_ != 1)
      return ctx.Invalid("attribute center_point_box: expected 0 or 1, got {}", center_point_box_);
    if (ctx.num_inputs() < 2) return ctx.Invalid("expected >= 2 inputs, got {}", ctx.num_inputs());
    return Status::Ok();
  }

  Status Compute(ComputeContext& ctx) const override {
    const Tensor* boxes = ctx.input(0);
    const Tensor* scores = ctx.input(1);
    if (boxes == nullptr || scores == nullptr)
      return ctx.Error("inputs boxes and scores are required");
    if (boxes->rank() != 3 || boxes->dim(2) != 4)
      return ctx.Error("boxes shape: expected [num_batches, spatial_dimension, 4], got {}",
                       ShapeToString(boxes->shape()));
    const int64_t nb = boxes->dim(0), nbox = boxes->dim(1);
    if (scores->rank() != 3 || scores->dim(0) != nb || scores->dim(2) != nbox)
      return ctx.Error("scores shape: expected [{}, num_classes, {}], got {}", nb, nbox,
                       ShapeToString(scores->shape()));
    const int64_t ncls = scores->dim(1);
    int64_t max_out = 0;
    double iou_threshold = 0, score_threshold = 0;
    bool has_score_threshold = false;
    const Tensor* t = ctx.input(2);
    if (t != nullptr && t->numel() != 0) {
      HONE_ASSIGN_OR_RETURN(
          std::vector<int64_t> v,
          ToInt64Vector(ctx.node(), t->Reshaped({t->numel()}), "max_output_boxes_per_class"));
      max_out = std::max<int64_t>(v[0], 0);
    }
    t = ctx.input(3);
    if (t != nullptr && t->numel() != 0) {
      HONE_ASSIGN_OR_RETURN(iou_threshold, ToScalar(ctx.node(), *t, "iou_threshold"));
    }
    t = ctx.input(4);
    if (t != nullptr && t->numel() != 0) {
      HONE_ASSIGN_OR_RETURN(score_threshold, ToScalar(ctx.node(), *t, "score_threshold"));
      has_score_threshold = true;
    }
    std::vector<double> bx, sc;
    HONE_RETURN_IF_ERROR(ReadDoubles(ctx, *boxes, bx));
    HONE_RETURN_IF_ERROR(ReadDoubles(ctx, *scores, sc));
    std::vector<int64_t> selected;  // triples (batch, class, box)
    struct Cand {
      double score;
      int64_t idx;
    };
    std::vector<Cand> cands;
    std::vector<int64_t> kept;
    for (int64_t b = 0; b < nb; ++b) {
      const double* bb = bx.data() + b * nbox * 4;
      for (int64_t cl = 0; cl < ncls; ++cl) {
        const double* s = sc.data() + (b * ncls + cl) * nbox;
        cands.clear();
        for (int64_t i = 0; i < nbox; ++i)
          if (!has_score_threshold || s[i] > score_threshold) cands.push_back({s[i], i});
        // highest score first, lower index first among equal scores
        std::stable_sort(cands.begin(), cands.end(), [](const Cand& a, const Cand& c) {
          return a.score > c.score || (a.score == c.score && a.idx < c.idx);
        });
        kept.clear();
        for (const Cand& cand : cands) {
          if (static_cast<int64_t>(kept.size()) >= max_out) break;
          bool keep = true;
          for (int64_t k : kept) {
            if (Suppress(bb + cand.idx * 4, bb + k * 4, iou_threshold)) {
              keep = false;
              break;
            }
          }
          if (keep) {
            kept.push_back(cand.idx);
            selected.insert(selected.end(), {b, cl, cand.idx});
          }
        }
      }
    }
    const int64_t count = static_cast<int64_t>(selected.size() / 3);
    Tensor& y = ctx.Output(0, DataType::kInt64, {count, 3});
    std::copy(selected.begin(), selected.end(), y.data<int64_t>());
    return Status::Ok();
  }

 private:
  // True when the IoU of the two boxes exceeds the threshold.
  bool Suppress(const double* a, const double* b, double threshold) const {
    double ax0, ax1, ay0, ay1, bx0, bx1, by0, by1;
    if (center_point_box_ == 0) {  // [y1, x1, y2, x2], corners in any order
      ax0 = std::min(a[1], a[3]);
      ax1 = std::max(a[1], a[3]);
      ay0 = std::min(a[0], a[2]);
      ay1 = std::max(a[0], a[2]);
      bx0 = std::min(b[1], b[3]);
      bx1 = std::max(b[1], b[3]);
      by0 = std::min(b[0], b[2]);
      by1 = std::max(b[0], b[2]);
    } else {  // [x_center, y_center, width, height]
      ax0 = a[0] - a[2] / 2;
      ax1 = a[0] + a[2] / 2;
      ay0 = a[1] - a[3] / 2;
      ay1 = a[1] + a[3] / 2;
      bx0 = b[0] - b[2] / 2;
      bx1 = b[0] + b[2] / 2;
      by0 = b[1] - b[3] / 2;
      by1 = b[1] + b[3] / 2;
    }
    const double ix0 = std::max(ax0, bx0), ix1 = std::min(ax1, bx1);
    if (ix1 <= ix0) return false;
    const double iy0 = std::max(ay0, by0), iy1 = std::min(ay1, by1);
    if (iy1 <= iy0) return false;
    const double inter = (ix1 - ix0) * (iy1 - iy0);
    if (inter <= 0) return false;
    const double area_a = (ax1 - ax0) * (ay1 - ay0), area_b = (bx1 - bx0) * (by1 - by0);
    const double uni = area_a + area_b - inter;
    if (area_a <= 0 || area_b <= 0 || uni <= 0) return false;
    return inter / uni > threshold;
  }

  int64_t center_point_box_ = 0;
};

}  // namespace

std::unique_ptr<Kernel> CreateRefRoiAlign() { return std::make_unique<RoiAlign>(); }
std::unique_ptr<Kernel> CreateRefNonMaxSuppression() {
  return std::make_unique<NonMaxSuppression>();
}

}  // namespace hone::ref
