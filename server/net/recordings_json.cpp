#include "http_router.hpp"

#include <nlohmann/json.hpp>

namespace ptt::server {

std::string recordings_json(const std::vector<RecordingEntry>& entries) {
  nlohmann::json list = nlohmann::json::array();
  for (const auto& e : entries)
    list.push_back({{"id", e.id},
                    {"file", e.file},
                    {"speaker", e.speaker},
                    {"start_us", e.start_us},
                    {"duration_ms", e.duration_ms},
                    {"bytes", e.bytes},
                    {"finished", e.finished}});
  return nlohmann::json{{"recordings", list}}.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

}  // namespace ptt::server
