// The room: every connected student, their names, the floor, and the rules of the protocol
// (docs/PROTOCOL.md section 5). Beast-free and single-threaded: the server calls it on one strand,
// tests call it directly with fake peers and a scripted clock.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "audio_sink.hpp"
#include "floor_control.hpp"
#include "peer.hpp"
#include "rate_limiter.hpp"
#include "session_log.hpp"

namespace ptt::server {

struct RoomConfig {
  FloorConfig floor;
  std::string room_code;                        // empty: no code needed
  std::size_t max_clients = 500;
  // Connections from one non-loopback address (a phone and a laptop, a few tabs each), so one
  // student cannot take every slot; 0: no cap (behind a reverse proxy every client shares one).
  std::size_t max_clients_per_address = 16;
  std::chrono::milliseconds join_timeout{10'000};
  std::chrono::milliseconds idle_timeout{15'000};   // any client silent this long is closed
  std::chrono::milliseconds ping_interval{1'000};
  // A student the professor removed cannot join again under the same name from the same address
  // for this long (the page would otherwise rejoin at once).
  std::chrono::milliseconds removal_block{60'000};
  double floor_requests_per_s = 2, floor_request_burst = 5;
  double messages_per_s = 50, message_burst = 100;  // text messages
  // Binary frames (audio), checked before decoding; over it a frame is dropped and counted, and the
  // client is told with at most one `rate_limited` error a second. The page sends 50 packets a
  // second (20 ms), 100 with ?packet=10; 120 leaves room above that. The burst of 500 is 5 s of
  // 10 ms packets: a browser that stalled for longer than the 3 s after which the server revokes a
  // holder that answers nothing, then sends its backlog at once, is not cut.
  double audio_frames_per_s = 120, audio_frame_burst = 500;
  // Wrong room codes per source address: 5 at once, then one every 20 s. While a source is over
  // it, even the right code is refused, so guessing a 4-digit code takes days rather than seconds.
  double room_code_guesses_per_s = 0.05, room_code_guess_burst = 5;
  // A new floor state goes to at most this many clients at once; the rest wait for
  // continue_broadcast(). Each send is an encrypt and a syscall on the I/O thread, so with
  // thousands connected one undivided broadcast would hold every other reply (a denial, a grant)
  // behind it for hundreds of milliseconds. 0: everyone at once.
  std::size_t broadcast_slice = 128;
  // Every event a professor cares about as it happens, for the terminal: what goes into the session
  // log, and besides it students joining and leaving and joins refused (wrong code, room full).
  std::function<void(const LogEntry&)> on_event;
};

struct RoomStats {
  std::uint64_t audio_accepted = 0;
  std::uint64_t audio_dropped = 0;   // well-formed frames from a non-holder or for a stale talk
  std::uint64_t audio_rate_limited = 0;  // frames over a client's binary frame rate, dropped undecoded
  std::uint64_t protocol_errors = 0;
  std::uint64_t talks = 0;
  std::uint64_t room_code_refusals = 0;  // wrong codes, and joins refused while a source is over its guess limit
};

class Room {
 public:
  using WallClock = std::function<std::uint64_t()>;  // microseconds since the epoch

  Room(RoomConfig config, AudioSink* sink, WallClock wall_clock);

  // Registers a new connection from `address` (the peer's IP, for the per-address limits); returns
  // its id, or 0 when refused (the caller sends the error in `refusal`, server_full or
  // rate_limited, and closes 1013).
  ClientId connect(std::weak_ptr<Peer> peer, TimePoint now, std::string address = {},
                   protocol::Error* refusal = nullptr);
  // The connection is gone; safe to call twice or for an id the room already dropped.
  void disconnect(ClientId id, TimePoint now);
  void on_text(ClientId id, std::string_view text, TimePoint now);
  void on_binary(ClientId id, const std::uint8_t* data, std::size_t size, TimePoint now);
  // Timers: pings, join and idle timeouts, the floor's time limits. Call at least every 100 ms.
  void tick(TimePoint now);
  // The professor's actions (the console). Each goes through the floor's rules, as a student's own
  // messages do, and returns false when it changed nothing.
  bool revoke_floor(TimePoint now);                 // takes the floor back
  bool grant_floor(ClientId id, TimePoint now);     // gives the free floor to one in line
  bool dequeue(ClientId id, TimePoint now);         // takes one out of line
  bool remove_client(ClientId id, TimePoint now);   // closes one, who cannot rejoin for removal_block
  bool set_floor_mode(FloorMode mode, TimePoint now);
  // Moderated mode's auto-approve delay, 0 (off) to 60 s.
  bool set_auto_approve(std::chrono::milliseconds delay, TimePoint now);
  FloorMode floor_mode() const noexcept { return floor_.mode(); }
  const FloorControl& floor() const noexcept { return floor_; }
  // Closes every connection (server shutting down).
  void close_all(std::uint16_t code, std::string_view reason, TimePoint now);
  // A floor-state broadcast still has clients to reach: call continue_broadcast() soon (the server
  // posts it behind what is queued on the I/O thread, so other replies interleave).
  bool broadcast_pending() const noexcept { return sweeping_; }
  // Sends the newest floor state to the next broadcast_slice clients that have not had it yet.
  void continue_broadcast();
  // Clients, floor and counters as JSON, for GET /admin/status.
  std::string status_json() const;

  // The professor's consoles (docs/PROTOCOL.md section 8): each is sent console_json() when the
  // room changes (at most every 250 ms, from tick()) and acts with on_console_text(). A console is
  // not a student: it is never in the floor's views and cannot send student messages.
  // `login`: the console login it was opened with (close_consoles() ends its channels).
  ClientId connect_console(std::weak_ptr<Peer> peer, TimePoint now, std::string login = {});
  // Closes the channels of a login that ended (logout, or pushed out by newer logins).
  void close_consoles(std::string_view login);
  void disconnect_console(ClientId id);
  void on_console_text(ClientId id, std::string_view text, TimePoint now);
  std::string console_json(TimePoint now) const;
  // The session log as CSV (GET /admin/log.csv).
  std::string session_log_csv() const { return log_.csv(); }
  const SessionLog& session_log() const noexcept { return log_; }
  // The addresses students open (the LAN's first), for the console's join view.
  void set_join_urls(std::vector<std::string> urls) { join_urls_ = std::move(urls); }

  protocol::FloorState floor_state() const;
  std::size_t client_count() const noexcept { return clients_.size(); }
  std::size_t joined_count() const noexcept { return joined_; }
  const RoomStats& stats() const noexcept { return stats_; }
  std::optional<std::string> name_of(ClientId id) const;
  const RoomConfig& config() const noexcept { return config_; }

 private:
  struct Client {
    std::weak_ptr<Peer> peer;
    std::string name;  // empty until joined
    bool joined = false;
    TimePoint connected{}, last_heard{}, last_ping{};
    RateLimiter floor_requests, messages, audio_frames;
    std::optional<TimePoint> audio_limit_told;  // when this client was last sent rate_limited for audio
    // The sender's clock (what its pings and capture times read) minus the room's clock, in us:
    // from the pong over the shortest round trip; until then, as if the sender kept the wall clock.
    std::int64_t sender_minus_room_us = 0;
    std::int64_t best_round_trip_us = -1;
    std::string address;
    std::uint64_t floor_version = 0;  // the newest floor state this client has been sent
    std::string asked_name;  // the name as asked for (normalised), before it was made unique
    // The client's latest talk as its packets arrived: the page numbers every packet it sends, so a
    // gap in the sequence is a packet lost before the server (the page's own queue overflowed).
    struct TalkPackets {
      TalkId talk = 0;
      std::uint32_t received = 0, missing = 0;
      std::uint16_t next_sequence = 0;
    } talk_packets;
  };

  void handle(ClientId id, Client& c, protocol::ControlMessage&& msg, TimePoint now);
  // `refused`: the decoder already refused the join's room code or name as over its byte limit
  // (bad_room_code or bad_name; j is then empty).
  void join(ClientId id, Client& c, const protocol::Join& j, TimePoint now,
            protocol::ErrorCode refused = protocol::ErrorCode::ok);
  // `cause` names, for the session log, what ended a talk that was not revoked ("released",
  // "disconnected") or what granted one ("asked", "by the professor", "mode change"), and why
  // anyone left the line.
  void apply(const FloorChange& change, TimePoint now, std::string_view cause = {});
  void log(std::string event, ClientId id, std::string detail = {}, std::int64_t duration_ms = -1);
  // To the terminal (on_event) and, when `keep`, into the session log.
  void record(LogEntry entry, bool keep = true);
  void send(ClientId id, const protocol::ControlMessage& msg);
  void send(Client& c, std::shared_ptr<const std::string> text);
  void broadcast_floor_state();
  void error(Client& c, protocol::ErrorCode code, std::string_view message);
  // Sends an error (when there is a reason to) and closes this client only.
  void drop(ClientId id, std::uint16_t close_code, protocol::ErrorCode code, std::string_view message, TimePoint now);
  std::string unique_name(const std::string& wanted) const;
  // Tells each queued client its position and the holder, when they differ from what it was last told.
  void send_queue_positions(TimePoint now);
  // The holder's name, empty when the floor is free.
  std::string holder_name() const;

  RoomConfig config_;
  AudioSink* sink_;
  WallClock wall_clock_;
  FloorControl floor_;
  std::map<ClientId, Client> clients_;
  std::size_t joined_ = 0;
  ClientId next_id_ = 1;
  RoomStats stats_;
  struct QueueNotice {
    std::uint32_t position = 0;
    ClientId holder = 0;
    TimePoint grant_at{};  // the auto-approve countdown's end, for the first in line while it runs
  };
  std::optional<AutoGrant> countdown_told_;  // the auto-approve countdown the line was last told of
  TalkId feedback_told_ = 0;  // the talk whose talker was last told to step back from the speakers
  void tell_feedback();
  std::map<ClientId, QueueNotice> queue_told_;  // what each queued client was last told
  // Sends the consoles the room's view if it changed (or `force`), at most every 250 ms unless forced.
  void update_consoles(TimePoint now, bool force);
  // While someone holds the floor: the live talk's level and packet figures, every 100 ms.
  void update_meters(TimePoint now);
  TimePoint meter_sent_at_{};
  struct Console {
    std::weak_ptr<Peer> peer;
    std::string login;
    RateLimiter actions{10, 20};  // a console's actions: 10 a second, 20 at once
  };
  static constexpr std::size_t kMaxChannelsPerLogin = 8;  // tabs; a ninth closes the oldest
  std::map<ClientId, Console> consoles_;
  std::vector<std::string> join_urls_;
  SessionLog log_;
  TimePoint live_talk_start_{};  // the current talk's grant
  bool output_muted_ = false;    // the professor's mute and volume (0 to 1) of the speakers
  double output_volume_ = 1.0;
  std::string departed_name_;    // while a disconnect is applied: the name of who left
  ClientId next_console_id_ = 1;
  std::string console_sent_;  // the view the consoles have
  TimePoint console_sent_at_{};
  std::map<std::string, std::size_t> per_address_;  // connections from each non-loopback address
  std::map<std::string, RateLimiter> code_guesses_;  // by source address; forgotten once full again
  // Removed students, by address and asked name, with when each may join again.
  std::map<std::pair<std::string, std::string>, TimePoint> removed_;
  TimePoint last_guess_sweep_{};
  TimePoint full_noted_at_{};       // when a full room was last told to on_event
  std::uint64_t full_refusals_ = 0;  // connections turned away since
  // The floor-state broadcast in progress: the newest state, its version, and where the sweep
  // resumes. A client the sweep has not reached when the floor changes again gets only the newest.
  std::shared_ptr<const std::string> floor_text_;
  std::uint64_t floor_version_ = 0;
  ClientId sweep_from_ = 0;
  bool sweeping_ = false;
};

}  // namespace ptt::server
