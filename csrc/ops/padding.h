// ops/padding.h — padding arguments shared by conv2d and pool2d fronts:
// "valid" / "same" (TensorFlow's arithmetic, extra pad at the bottom/right) or
// 4 explicit ints [top, bottom, left, right], resolved once against an input.
#pragma once
#include <cstdint>
#include <string>
#include <variant>
#include <vector>

namespace pcn {

using PaddingArg = std::variant<std::string, std::vector<int64_t>>;

struct Padding2d {
  int64_t top = 0, bottom = 0, left = 0, right = 0;
  int64_t OH = 0, OW = 0;
};

// A (kh x kw) window with dilation (dh, dw) and strides (sh, sw) over an
// H x W input. `what` names the window in messages ("(dilated) kernel",
// "window"). ValueError naming `op` for an unknown mode, negative or malformed
// explicit padding, or a window larger than the (padded) input.
Padding2d resolve_padding2d(const char* op, const char* what, int64_t H, int64_t W, int64_t kh, int64_t kw,
                            int64_t sh, int64_t sw, int64_t dh, int64_t dw, const PaddingArg& padding);

std::string lower(std::string s);
std::string vec_str(const std::vector<int64_t>& v);  // "[1, 2, 3]"

}  // namespace pcn
