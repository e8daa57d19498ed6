// What the benchmark programs share: the test speech they run on and the quantiles they print.
#pragma once

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <vector>

namespace ptt::bench {

#ifdef PTT_TESTDATA
// The espeak-ng speech the test build makes (48 kHz mono float); exits with a clear message if absent.
inline std::vector<float> load_speech() {
  std::vector<float> x;
  if (FILE* f = std::fopen(PTT_TESTDATA "/speech.f32", "rb")) {
    float buf[4096];
    std::size_t n;
    while ((n = std::fread(buf, sizeof(float), 4096, f)) > 0) x.insert(x.end(), buf, buf + n);
    std::fclose(f);
  }
  if (x.empty()) {
    std::fprintf(stderr, "no test speech at %s (build the tests first)\n", PTT_TESTDATA);
    std::exit(1);
  }
  return x;
}
#endif

// The q-quantile (0..1) of v, by nearest rank; -1 for no data.
inline double quantile(std::vector<double> v, double q) {
  if (v.empty()) return -1;
  std::sort(v.begin(), v.end());
  return v[static_cast<std::size_t>(q * static_cast<double>(v.size() - 1))];
}

}  // namespace ptt::bench
