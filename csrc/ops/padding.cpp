// ops/padding.cpp — see ops/padding.h.
#include "padding.h"

#include <cctype>
#include <sstream>

#include "../common.h"

namespace pcn {

std::string lower(std::string s) {
  for (auto& ch : s) ch = char(std::tolower(static_cast<unsigned char>(ch)));
  return s;
}

std::string vec_str(const std::vector<int64_t>& v) {
  std::ostringstream os;
  os << "[";
  for (size_t i = 0; i < v.size(); ++i) os << (i ? ", " : "") << v[i];
  os << "]";
  return os.str();
}

Padding2d resolve_padding2d(const char* op, const char* what, int64_t H, int64_t W, int64_t kh, int64_t kw,
                            int64_t sh, int64_t sw, int64_t dh, int64_t dw, const PaddingArg& padding) {
  Padding2d r;
  const int64_t eh = (kh - 1) * dh + 1, ew = (kw - 1) * dw + 1;
  if (const auto* s = std::get_if<std::string>(&padding)) {
    const std::string m = lower(*s);
    if (m == "valid") {
      if (eh > H || ew > W)
        PCN_THROW(ValueError, op << ": " << what << " (" << eh << ", " << ew << ") is larger than the input (" << H
                                 << ", " << W << ") with padding 'valid'");
      r.OH = conv_out_size(H, kh, sh, dh, 0, 0);
      r.OW = conv_out_size(W, kw, sw, dw, 0, 0);
    } else if (m == "same") {
      r.OH = same_padding(H, kh, sh, dh, &r.top, &r.bottom);
      r.OW = same_padding(W, kw, sw, dw, &r.left, &r.right);
    } else {
      PCN_THROW(ValueError, op << ": padding must be 'valid', 'same' or 4 ints [top, bottom, left, right], got '"
                               << *s << "'");
    }
    return r;
  }
  const auto& v = std::get<std::vector<int64_t>>(padding);
  if (v.size() != 4)
    PCN_THROW(ValueError, op << ": explicit padding must be 4 ints [top, bottom, left, right], got " << vec_str(v));
  for (int64_t q : v)
    if (q < 0 || q > kMaxNumel)
      PCN_THROW(ValueError, op << ": explicit padding must be >= 0 (and < 2^40), got " << vec_str(v));
  r.top = v[0]; r.bottom = v[1]; r.left = v[2]; r.right = v[3];
  const int64_t hh = H + r.top + r.bottom, ww = W + r.left + r.right;
  if (eh > hh || ew > ww)
    PCN_THROW(ValueError, op << ": " << what << " (" << eh << ", " << ew << ") is larger than the padded input ("
                             << hh << ", " << ww << "); padding " << vec_str(v));
  r.OH = conv_out_size(H, kh, sh, dh, r.top, r.bottom);
  r.OW = conv_out_size(W, kw, sw, dw, r.left, r.right);
  return r;
}

}  // namespace pcn
