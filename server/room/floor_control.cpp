#include "floor_control.hpp"

#include <algorithm>
#include <iterator>

namespace ptt::server {
namespace {
constexpr std::string_view kModeNames[] = {"first_come", "queue", "moderated"};
}

std::string_view to_string(FloorMode mode) noexcept { return kModeNames[static_cast<std::size_t>(mode)]; }

std::optional<FloorMode> floor_mode_from_string(std::string_view s) noexcept {
  for (std::size_t i = 0; i < std::size(kModeNames); ++i)
    if (kModeNames[i] == s) return static_cast<FloorMode>(i);
  return std::nullopt;
}

Talk FloorControl::grant(ClientId client, TimePoint now) {
  holder_ = Talk{client, next_talk_id_++};
  if (next_talk_id_ == 0) {  // 0 is never a talk id
    next_talk_id_ = 1;
    ids_wrapped_ = true;
  }
  started_ = last_heard_ = last_speech_ = now;
  return *holder_;
}

std::uint32_t FloorControl::queue_position(ClientId client) const noexcept {
  auto it = std::find(queue_.begin(), queue_.end(), client);
  return it == queue_.end() ? 0 : static_cast<std::uint32_t>(it - queue_.begin() + 1);
}

RequestResult FloorControl::request(ClientId client, TimePoint now) {
  RearmOnExit rearm_on_exit{*this, now};
  RequestResult r;
  if (!holder_ && mode_ != FloorMode::moderated) {
    // Outside moderated mode a client waits in line only while someone holds the floor, so the
    // queue is empty here.
    r.outcome = RequestOutcome::granted;
    r.change.granted = grant(client, now);
    return r;
  }
  if (holder_ && holder_->client == client) {
    r.outcome = RequestOutcome::already_holding;
    return r;
  }
  if (mode_ == FloorMode::first_come) {
    r.outcome = RequestOutcome::busy;
    return r;
  }
  r.outcome = RequestOutcome::queued;
  r.position = queue_position(client);
  if (r.position == 0) {
    queue_.push_back(client);
    r.position = static_cast<std::uint32_t>(queue_.size());
    r.change.queue_changed = true;
  }
  return r;
}

ReleaseResult FloorControl::release(ClientId client, std::uint32_t talk_id, TimePoint now) {
  RearmOnExit rearm_on_exit{*this, now};
  ReleaseResult r;
  const bool holds = holder_ && holder_->client == client;
  if (holds && (talk_id == 0 || talk_id == holder_->talk_id)) {
    // 0 from the holder: it let go before the grant reached it. Cancelling a request cancels what
    // the request produced, so the talk ends exactly as if the client had named it.
    r.outcome = ReleaseOutcome::released;
    r.change = end_talk(std::nullopt, now);
    return r;
  }
  if (talk_id == 0) {
    auto it = std::find(queue_.begin(), queue_.end(), client);
    if (it == queue_.end()) {
      r.outcome = ReleaseOutcome::not_holder;  // nothing to cancel
      return r;
    }
    queue_.erase(it);
    r.outcome = ReleaseOutcome::left_queue;
    r.change.queue_changed = true;
    return r;
  }
  // The current talk is someone else's; a talk that was issued and is not current is over.
  const bool over = issued(talk_id) && !(holder_ && holder_->talk_id == talk_id);
  r.outcome = over ? ReleaseOutcome::stale_talk : ReleaseOutcome::not_holder;
  return r;
}

FloorChange FloorControl::remove(ClientId client, TimePoint now) {
  RearmOnExit rearm_on_exit{*this, now};
  if (holder_ && holder_->client == client) return end_talk(std::nullopt, now);
  FloorChange c;
  auto it = std::find(queue_.begin(), queue_.end(), client);
  if (it != queue_.end()) {
    queue_.erase(it);
    c.queue_changed = true;
  }
  return c;
}

void FloorControl::heard_from(ClientId client, TimePoint now, bool speech) {
  if (!holder_ || holder_->client != client) return;
  last_heard_ = now;
  if (speech) last_speech_ = now;
}

FloorChange FloorControl::tick(TimePoint now) {
  RearmOnExit rearm_on_exit{*this, now};
  if (!holder_ && auto_grant_ && now >= auto_grant_->at) {
    FloorChange c = grant_queued(auto_grant_->client, now);
    c.auto_approved = c.granted.has_value();
    return c;
  }
  if (!holder_) return {};
  if (now - started_ >= config_.max_talk) return end_talk(protocol::RevokeReason::max_time, now);
  if (now - last_heard_ >= config_.unresponsive) return end_talk(protocol::RevokeReason::unresponsive, now);
  if (config_.silence.count() > 0 && now - last_speech_ >= config_.silence)
    return end_talk(protocol::RevokeReason::silence, now);
  return {};
}

FloorChange FloorControl::revoke(protocol::RevokeReason reason, TimePoint now) {
  RearmOnExit rearm_on_exit{*this, now};
  if (!holder_) return {};
  return end_talk(reason, now);
}

FloorChange FloorControl::end_talk(std::optional<protocol::RevokeReason> reason, TimePoint now) {
  FloorChange c;
  c.ended = holder_;
  c.revoked = reason;
  holder_.reset();
  if (mode_ == FloorMode::queue) {
    auto next = grant_first(now);
    c.granted = next.granted;
    c.queue_changed = next.queue_changed;
  }
  return c;
}

FloorChange FloorControl::grant_first(TimePoint now) {
  FloorChange c;
  if (holder_ || queue_.empty()) return c;
  const ClientId next = queue_.front();
  queue_.pop_front();
  c.granted = grant(next, now);
  c.queue_changed = true;
  return c;
}

FloorChange FloorControl::grant_queued(ClientId client, TimePoint now) {
  RearmOnExit rearm_on_exit{*this, now};
  FloorChange c;
  auto it = std::find(queue_.begin(), queue_.end(), client);
  if (holder_ || it == queue_.end()) return c;
  queue_.erase(it);
  c.granted = grant(client, now);
  c.queue_changed = true;
  return c;
}

FloorChange FloorControl::dequeue(ClientId client, TimePoint now) {
  RearmOnExit rearm_on_exit{*this, now};
  FloorChange c;
  auto it = std::find(queue_.begin(), queue_.end(), client);
  if (it == queue_.end()) return c;
  queue_.erase(it);
  c.queue_changed = true;
  c.left_queue.push_back(client);
  return c;
}

FloorChange FloorControl::set_mode(FloorMode mode, TimePoint now) {
  RearmOnExit rearm_on_exit{*this, now};
  if (mode == mode_) return {};
  mode_ = mode;
  if (mode == FloorMode::moderated) return {};  // the line waits for the professor
  FloorChange c = grant_first(now);
  if (mode == FloorMode::first_come && !queue_.empty()) {
    c.left_queue.assign(queue_.begin(), queue_.end());
    queue_.clear();
    c.queue_changed = true;
  }
  return c;
}

void FloorControl::set_auto_approve(std::chrono::milliseconds delay, TimePoint now) {
  auto_approve_ = delay.count() > 0 ? delay : std::chrono::milliseconds{0};
  auto_grant_.reset();
  rearm(now);
}

void FloorControl::rearm(TimePoint now) {
  if (mode_ != FloorMode::moderated || auto_approve_.count() <= 0 || holder_ || queue_.empty()) {
    auto_grant_.reset();
    return;
  }
  // The countdown belongs to whoever is first: a new first (the one before left) starts afresh.
  if (!auto_grant_ || auto_grant_->client != queue_.front()) auto_grant_ = AutoGrant{queue_.front(), now + auto_approve_};
}

}  // namespace ptt::server
