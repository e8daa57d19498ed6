// The real server (the same Server object ptt-server runs) on a loopback port, driven by real
// WebSocket clients over plain TCP and TLS.
#include <gtest/gtest.h>

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <filesystem>
#include <fstream>
#include <latch>
#include <mutex>
#include <optional>
#include <thread>

#include "fake_peer.hpp"
#include "hostile_paths.hpp"
#include "server.hpp"
#include "web_assets.hpp"
#include "ws_test_client.hpp"

using namespace ptt::server;
using namespace ptt::server::test;
using namespace std::chrono_literals;
namespace proto = ptt::protocol;
namespace fs = std::filesystem;

namespace {

// The sink is called on the room's strand; the test thread reads it.
struct LockedSink : AudioSink {
  std::mutex m;
  std::vector<std::uint16_t> sequences;
  std::vector<std::uint32_t> talks;
  void talk_started(TalkId, const std::string&, TimePoint) override {}
  void audio(const AudioPacket& p) override {
    std::lock_guard lock(m);
    sequences.push_back(p.header.sequence);
    talks.push_back(p.header.talk_id);
  }
  void talk_ended(TalkId, TimePoint) override {}
  std::vector<std::uint16_t> seen() {
    std::lock_guard lock(m);
    return sequences;
  }
};

class ServerFixture : public ::testing::Test {
 protected:
  void start(bool tls, ServerConfig config = {}) {
    tls_ = tls;
    dir_ = fs::temp_directory_path() / ("ptt-it-" + std::to_string(::getpid()) + "-" + std::to_string(counter_++));
    fs::create_directories(dir_ / "web");
    fs::create_directories(dir_ / "wasm");
    std::ofstream(dir_ / "web" / "index.html") << "<!doctype html><title>Smart Push-to-Talk</title>";
    std::ofstream(dir_ / "wasm" / "client.wasm") << "\0asm";
    std::ofstream(dir_ / "secret.txt") << "do not serve";
    config.bind_address = "127.0.0.1";
    config.port = 0;
    config.tls = tls;
    config.state_dir = dir_ / "state";
    // The developer override (folders): the embedded page has its own tests (http_router_test.cpp).
    if (!config.static_files) config.static_files = std::make_shared<const StaticFiles>(std::span<const WebAsset>{}, dir_ / "web", dir_ / "wasm");
    if (config.admin_token.empty()) config.admin_token = "let-me-in";
    server_ = std::make_unique<Server>(ioc_, config, &sink_);
    for (int i = 0; i < 2; ++i) threads_.emplace_back([this] { ioc_.run(); });
  }
  void TearDown() override {
    if (server_) server_->stop();
    std::this_thread::sleep_for(50ms);
    ioc_.stop();
    for (auto& t : threads_) t.join();
    server_.reset();
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  std::unique_ptr<WsTestClient> client(std::string origin = "") {
    return std::make_unique<WsTestClient>(server_->port(), WsTestClient::Options{tls_, std::move(origin), "/ws"});
  }
  std::uint16_t port() const { return server_->port(); }
  void oversized_messages_get_too_large_then_1009(bool tls);

  boost::asio::io_context ioc_;
  LockedSink sink_;
  std::unique_ptr<Server> server_;
  std::vector<std::thread> threads_;
  fs::path dir_;
  bool tls_ = false;
  static inline int counter_ = 0;
};

std::uint32_t press(WsTestClient& c) {
  c.send(proto::FloorRequest{});
  auto g = c.expect<proto::FloorGranted>();
  return g ? g->talk_id : 0;
}

// Reads until the server closes: the error codes it sent on the way (pings are answered), and the
// close code (0: no close within the time).
struct Ending {
  std::vector<std::string> errors;  // codes, by name
  std::uint16_t close_code = 0;
};
Ending read_to_close(WsTestClient& c, std::chrono::milliseconds timeout = 5s) {
  Ending e;
  while (true) {
    auto m = c.read_until([](const proto::ControlMessage& m) { return std::holds_alternative<proto::Error>(m); },
                          timeout);
    if (!m) break;
    e.errors.emplace_back(proto::to_string(std::get<proto::Error>(*m).code));
  }
  e.close_code = c.closed_with.value_or(0);
  return e;
}

// An audio frame of exactly the largest size: a 1275-byte Opus packet (code 0, one frame).
std::vector<std::uint8_t> largest_audio_frame(std::uint32_t talk_id) {
  std::vector<std::uint8_t> opus(proto::kMaxOpusPacket, 0x55);
  opus[0] = 0x48;  // SILK 20 ms, mono, one frame
  proto::AudioHeader h;
  h.talk_id = talk_id;
  std::vector<std::uint8_t> out(proto::kMaxAudioFrame);
  out.resize(proto::encode_audio_frame(h, opus.data(), opus.size(), out.data(), out.size()));
  return out;
}

void ServerFixture::oversized_messages_get_too_large_then_1009(bool tls) {
  start(tls);
  auto observer = client();
  join(*observer, "Observer");

  // At the limits: a 1024-byte ping is answered; a 1295-byte frame from the holder is played.
  auto edge = client();
  join(*edge, "Edge");
  std::string ping = proto::encode_control(proto::Ping{42});
  ping.insert(ping.size() - 1, std::string(proto::kMaxControlMessage - ping.size(), ' '));
  ASSERT_EQ(ping.size(), proto::kMaxControlMessage);
  edge->send_text(ping);
  auto pong = edge->expect<proto::Pong>();
  ASSERT_TRUE(pong);
  EXPECT_EQ(pong->t0, 42u);
  const auto talk = press(*edge);
  ASSERT_NE(talk, 0u);
  const auto largest = largest_audio_frame(talk);
  ASSERT_EQ(largest.size(), proto::kMaxAudioFrame);
  edge->send_binary(largest);
  edge->send(proto::Ping{43});
  ASSERT_TRUE(edge->expect<proto::Pong>());
  EXPECT_EQ(sink_.seen().size(), 1u);
  EXPECT_FALSE(edge->closed_with);

  struct Case {
    const char* what;
    bool text;
    std::size_t size;
  };
  const Case cases[] = {
      {"text, one byte over", true, proto::kMaxControlMessage + 1},
      {"text, 5000 bytes", true, 5000},
      {"text, 1 MiB", true, 1 << 20},
      {"binary, one byte over", false, proto::kMaxAudioFrame + 1},
      {"binary, 4000 bytes", false, 4000},
      {"binary, 1 MiB", false, 1 << 20},
  };
  for (const auto& tc : cases) {
    SCOPED_TRACE(tc.what);
    auto c = client();
    join(*c, "Big");
    if (tc.text) c->send_text(std::string(tc.size, 'a'));
    else c->send_binary(std::vector<std::uint8_t>(tc.size, 0x01));
    auto err = c->expect<proto::Error>();
    ASSERT_TRUE(err) << "no error before the close (closed with " << c->closed_with.value_or(0) << ")";
    EXPECT_EQ(err->code, proto::ErrorCode::too_large);
    // Nothing after the error but the close, with its code.
    const auto next = c->read(5s);
    EXPECT_EQ(next.kind, Received::closed) << next.data;
    EXPECT_EQ(next.close_code, 1009);
  }
  observer->send(proto::Ping{5});
  EXPECT_TRUE(observer->expect<proto::Pong>());
  EXPECT_FALSE(observer->closed_with);
}

}  // namespace

// 50 students press at the same instant: one grant, 49 denials naming the holder.
TEST_F(ServerFixture, FiftyClientsPressTogetherOverTls) {
  start(true);
  constexpr int n = 50;
  std::vector<std::unique_ptr<WsTestClient>> clients;
  std::vector<std::string> names;
  for (int i = 0; i < n; ++i) {
    clients.push_back(client());
    names.push_back(join(*clients.back(), "Student " + std::to_string(i)).name);
  }
  std::latch go(n);
  std::vector<std::variant<std::monostate, proto::FloorGranted, proto::FloorDenied>> outcome(n);
  std::vector<std::thread> threads;
  for (int i = 0; i < n; ++i) {
    threads.emplace_back([&, i] {
      go.arrive_and_wait();
      clients[i]->send(proto::FloorRequest{});
      auto m = clients[i]->read_until(
          [](const proto::ControlMessage& m) {
            return std::holds_alternative<proto::FloorGranted>(m) || std::holds_alternative<proto::FloorDenied>(m);
          },
          10s);
      if (!m) return;
      if (auto* g = std::get_if<proto::FloorGranted>(&*m)) outcome[i] = *g;
      else outcome[i] = std::get<proto::FloorDenied>(*m);
    });
  }
  for (auto& t : threads) t.join();

  int granted = -1, denied = 0;
  for (int i = 0; i < n; ++i) {
    if (std::holds_alternative<proto::FloorGranted>(outcome[i])) {
      EXPECT_EQ(granted, -1) << "second grant to client " << i;
      granted = i;
    }
  }
  ASSERT_GE(granted, 0);
  for (int i = 0; i < n; ++i) {
    if (auto* d = std::get_if<proto::FloorDenied>(&outcome[i])) {
      ++denied;
      EXPECT_EQ(d->reason, proto::DenyReason::busy);
      EXPECT_EQ(d->holder, names[granted]);
    }
  }
  EXPECT_EQ(denied, n - 1);

  // After the holder releases, the next press is granted.
  const auto talk = std::get<proto::FloorGranted>(outcome[granted]).talk_id;
  clients[granted]->send(proto::FloorRelease{talk});
  const int next = (granted + 1) % n;
  ASSERT_TRUE(clients[next]->read_until(
      [](const proto::ControlMessage& m) {
        auto* s = std::get_if<proto::FloorState>(&m);
        return s && !s->taken;
      },
      5s));
  const auto next_talk = press(*clients[next]);
  EXPECT_GT(next_talk, talk);
}

TEST_F(ServerFixture, HolderVanishingFreesTheFloorWithin100ms) {
  start(false);
  auto a = client(), b = client();
  join(*a, "Ana");
  join(*b, "Ben");
  ASSERT_NE(press(*a), 0u);
  ASSERT_TRUE(b->read_until([](const proto::ControlMessage& m) {
    auto* s = std::get_if<proto::FloorState>(&m);
    return s && s->taken;
  }, 5s));
  const auto t0 = std::chrono::steady_clock::now();
  a->abort();  // TCP gone, no close frame
  auto freed = b->read_until([](const proto::ControlMessage& m) {
    auto* s = std::get_if<proto::FloorState>(&m);
    return s && !s->taken;
  }, 2s);
  const auto elapsed = std::chrono::steady_clock::now() - t0;
  ASSERT_TRUE(freed);
  EXPECT_LT(elapsed, 100ms);
  RecordProperty("free_after_us", std::to_string(std::chrono::duration_cast<std::chrono::microseconds>(elapsed).count()));
}

TEST_F(ServerFixture, SilentHolderIsRevokedAfterTheDocumentedTimeout) {
  start(false);  // default: 3 s without any message from the holder
  auto a = client(), b = client();
  join(*a, "Ana");
  join(*b, "Ben");
  a->answer_pings = false;
  ASSERT_NE(press(*a), 0u);
  const auto t0 = std::chrono::steady_clock::now();
  auto freed = b->read_until([](const proto::ControlMessage& m) {
    auto* s = std::get_if<proto::FloorState>(&m);
    return s && !s->taken;
  }, 6s);
  const auto elapsed = std::chrono::steady_clock::now() - t0;
  ASSERT_TRUE(freed);
  EXPECT_GE(elapsed, 2900ms);
  EXPECT_LT(elapsed, 3300ms);
  auto revoked = a->expect<proto::FloorRevoked>(1s);
  ASSERT_TRUE(revoked);
  EXPECT_EQ(revoked->reason, proto::RevokeReason::unresponsive);
}

TEST_F(ServerFixture, NonHolderAudioNeverReachesTheAudioPath) {
  start(true);
  auto a = client(), b = client();
  join(*a, "Ana");
  join(*b, "Ben");
  const auto talk = press(*a);
  ASSERT_NE(talk, 0u);
  for (std::uint16_t s = 0; s < 20; ++s) b->send_binary(audio_frame(talk, static_cast<std::uint16_t>(1000 + s)));
  for (std::uint16_t s = 0; s < 10; ++s) a->send_binary(audio_frame(talk, s));
  for (std::uint16_t s = 0; s < 5; ++s) a->send_binary(audio_frame(talk + 1, static_cast<std::uint16_t>(2000 + s)));
  // A round trip through the room's strand: everything sent before is processed.
  a->send(proto::Ping{1});
  ASSERT_TRUE(a->expect<proto::Pong>());
  b->send(proto::Ping{1});
  ASSERT_TRUE(b->expect<proto::Pong>());
  const auto seen = sink_.seen();
  ASSERT_EQ(seen.size(), 10u);
  for (std::uint16_t s = 0; s < 10; ++s) EXPECT_EQ(seen[s], s);
  EXPECT_FALSE(b->closed_with);
}

TEST_F(ServerFixture, BadFramesCloseOnlyTheirClient) {
  start(false);
  auto observer = client();
  join(*observer, "Observer");
  struct Case {
    const char* what;
    std::function<void(WsTestClient&)> send;
    std::vector<std::string> errors;  // codes sent before the close
    std::uint16_t close_code;
  };
  const std::vector<Case> cases = {
      {"malformed audio", [](WsTestClient& c) { c.send_binary({0x01, 0x00, 0x01}); }, {"truncated"}, 1002},
      {"bad opus", [](WsTestClient& c) { auto f = audio_frame(1); f[20] = 0x4C; c.send_binary(f); }, {"bad_opus"}, 1002},
      {"oversized binary", [](WsTestClient& c) { c.send_binary(std::vector<std::uint8_t>(4000, 1)); }, {"too_large"}, 1009},
      {"oversized text", [](WsTestClient& c) { c.send_text(std::string(5000, ' ')); }, {"too_large"}, 1009},
      // Failed by the WebSocket layer at once (RFC 6455 section 8.1): no error first.
      {"invalid UTF-8", [](WsTestClient& c) { c.send_text("{\"type\":\"ping\",\"t0\":1,\"x\":\"\xc3\x28\"}"); }, {}, 1007},
      {"over-long name", [](WsTestClient& c) { c.send(proto::Join{std::string(129, 'n'), ""}); }, {"bad_name"}, 1008},
  };
  for (const auto& tc : cases) {
    auto c = client();
    if (std::string_view(tc.what) != "over-long name") join(*c, "Victim");
    tc.send(*c);
    const auto end = read_to_close(*c);
    EXPECT_EQ(end.errors, tc.errors) << tc.what;
    EXPECT_EQ(end.close_code, tc.close_code) << tc.what;
  }
  // Any other bad control message gets an error and the connection stays usable, as does audio
  // sent before join.
  auto c = client();
  c->send_binary(audio_frame(1));
  auto err = c->expect<proto::Error>();
  ASSERT_TRUE(err);
  EXPECT_EQ(err->code, proto::ErrorCode::not_joined);
  join(*c, "Curious");
  const std::vector<std::pair<std::string, proto::ErrorCode>> answered = {
      {R"({"type":"shout"})", proto::ErrorCode::unknown_type},
      {"{\"type\":", proto::ErrorCode::malformed_json},
      {R"({"type":"floor_release"})", proto::ErrorCode::missing_field},
      {R"({"type":"floor_release","talk":"seven"})", proto::ErrorCode::bad_field},
  };
  for (const auto& [text, code] : answered) {
    c->send_text(text);
    err = c->expect<proto::Error>();
    ASSERT_TRUE(err) << text;
    EXPECT_EQ(err->code, code) << text;
  }
  EXPECT_NE(press(*c), 0u);
  EXPECT_FALSE(c->closed_with);
  // The observer saw all of it and is still served.
  observer->send(proto::Ping{5});
  EXPECT_TRUE(observer->expect<proto::Pong>());
  EXPECT_FALSE(observer->closed_with);
}

// A message over its limit (text 1024 bytes, binary 1295) is answered with `too_large` and then a
// 1009 close handshake, however far over it is: the session stops reading it at the limit and the
// close drains the rest. Messages exactly at the limits are served.
TEST_F(ServerFixture, OversizedMessagesGetTooLargeThenClose1009) { oversized_messages_get_too_large_then_1009(false); }
TEST_F(ServerFixture, OversizedMessagesGetTooLargeThenClose1009OverTls) { oversized_messages_get_too_large_then_1009(true); }

// A client that floods the server with pings and never reads: the replies pile up past the cap on
// queued outgoing bytes and the server drops that client (no close handshake: it would not read
// one), while everyone else is served on.
TEST_F(ServerFixture, AReaderThatDoesNotKeepUpIsDroppedAtTheOutgoingQueueCap) {
  ServerConfig config;
  config.max_queued_bytes = 64 * 1024;
  start(false, config);
  auto ana = client();
  join(*ana, "Ana");
  WsTestClient flooder(port(), {false, "", "/ws", 4096});
  join(flooder, "Flood");
  // Each ping is answered (a pong, or a rate_limited error past 50 a second): some 20,000 replies,
  // over a megabyte, towards a 4 KiB receive window.
  for (std::uint64_t i = 0; i < 20000; ++i) flooder.send(proto::Ping{i});
  EXPECT_NE(press(*ana), 0u);
  Received r;
  int replies = 0;
  do {
    r = flooder.read(5s);
    replies += r.kind == Received::text;
  } while (r.kind == Received::text);
  std::printf("the flooder read %d replies before the server dropped it\n", replies);
  EXPECT_EQ(r.kind, Received::closed);
  EXPECT_EQ(r.close_code, 0) << "dropped, not closed with a handshake";
  EXPECT_LT(replies, 20000);
  // Ana is still connected and served.
  ana->send(proto::Ping{7});
  EXPECT_TRUE(ana->expect<proto::Pong>());
}

TEST_F(ServerFixture, ForeignOriginIsRefused) {
  start(true);
  EXPECT_THROW(client("https://evil.example"), boost::system::system_error);
  EXPECT_THROW(client("http://localhost:" + std::to_string(port())), boost::system::system_error);  // not https
  auto same = client("https://localhost:" + std::to_string(port()));
  EXPECT_EQ(join(*same, "Ana").name, "Ana");
}

TEST_F(ServerFixture, ConnectionLimitRefusesClearly) {
  ServerConfig config;
  config.room.max_clients = 2;
  start(false, config);
  // The room counts a connection once its session registers, just after the handshake: a ping
  // answered proves a and b are counted before c connects.
  auto a = client(), b = client();
  for (auto* ab : {a.get(), b.get()}) {
    ab->send(proto::Ping{1});
    ASSERT_TRUE(ab->expect<proto::Pong>());
  }
  auto c = client();
  auto err = c->expect<proto::Error>();
  ASSERT_TRUE(err);
  EXPECT_EQ(err->code, proto::ErrorCode::server_full);
  EXPECT_EQ(c->wait_closed(), 1013);
  EXPECT_EQ(join(*a, "Ana").name, "Ana");
}

TEST_F(ServerFixture, ServesThePageAndRefusesPathsOutsideIt) {
  start(true);
  auto page = http_request(port(), true, "GET", "/");
  EXPECT_EQ(page.status, 200);
  EXPECT_NE(page.body.find("Smart Push-to-Talk"), std::string::npos);
  EXPECT_EQ(page.content_type, "text/html; charset=utf-8");
  auto wasm = http_request(port(), true, "GET", "/wasm/client.wasm");
  EXPECT_EQ(wasm.status, 200);
  EXPECT_EQ(wasm.content_type, "application/wasm");
  EXPECT_EQ(http_request(port(), true, "GET", "/../secret.txt").status, 400);
  EXPECT_EQ(http_request(port(), true, "GET", "/wasm/../../secret.txt").status, 400);
  EXPECT_EQ(http_request(port(), true, "GET", "/%2e%2e/secret.txt").status, 400);
  EXPECT_EQ(http_request(port(), true, "GET", "/missing.html").status, 404);
  EXPECT_EQ(http_request(port(), true, "DELETE", "/").status, 405);
  // Plain HTTP on the TLS port is redirected to https.
  auto plain = http_request(port(), false, "GET", "/index.html");
  EXPECT_EQ(plain.status, 302);
  EXPECT_EQ(plain.location, "https://localhost:" + std::to_string(port()) + "/index.html");
  // The redirect goes to the server's own origin, not to whatever Host the request named.
  auto foreign = http_request(port(), false, "GET", "/index.html", "", "evil.example");
  EXPECT_EQ(foreign.status, 302);
  EXPECT_EQ(foreign.location, "https://localhost:" + std::to_string(port()) + "/index.html");
  EXPECT_EQ(http_request(port(), false, "GET", "//etc/passwd", "", "evil.example").location,
            "https://localhost:" + std::to_string(port()) + "/");
}

// Plain HTTP's `/` on the TLS port is the page that explains the certificate warning before the
// student meets it, linking on to the https address (with the room code it was given, when that is
// a safe query value); with a real certificate (help_page off) it is a redirect like any path.
TEST_F(ServerFixture, PlainHttpExplainsTheCertificateAndLinksToHttps) {
  ServerConfig config;
  config.static_files = std::make_shared<const StaticFiles>(embedded_web_assets());  // the real page
  start(true, config);
  const std::string https = "https://localhost:" + std::to_string(port()) + "/";
  auto help = http_request(port(), false, "GET", "/?room=4711");
  EXPECT_EQ(help.status, 200);
  EXPECT_EQ(help.content_type, "text/html; charset=utf-8");
  EXPECT_NE(help.body.find("Your connection is not private"), std::string::npos);
  EXPECT_NE(help.body.find("href=\"" + https + "?room=4711\""), std::string::npos) << help.body;
  EXPECT_EQ(help.body.find("{{"), std::string::npos);  // every slot filled
  // A foreign Host is not linked to, and a room value that is not a plain query value is left out.
  auto foreign = http_request(port(), false, "GET", "/?room=%22%3E", "", "evil.example");
  EXPECT_NE(foreign.body.find("href=\"" + https + "?room=%22%3E\""), std::string::npos);
  EXPECT_EQ(foreign.body.find("evil.example"), std::string::npos);
  for (const char* target : {"/?room=\"><script>", "/?room=a&room=b", "/?room=%zz", "/?room=a%20b<"}) {
    auto hostile = http_request(port(), false, "GET", target);
    EXPECT_EQ(hostile.status, 200) << target;
    EXPECT_NE(hostile.body.find("href=\"" + https + "\""), std::string::npos) << target;
    EXPECT_EQ(hostile.body.find("<script>"), std::string::npos) << target;
  }
  EXPECT_EQ(http_request(port(), false, "POST", "/").status, 302);
  EXPECT_EQ(http_request(port(), false, "GET", "/welcome.html").status, 302);
}

// The help page on a port of its own (ptt-server's --help-port, 8080 by default): that page only,
// over plain HTTP; the addresses students are given name it; a TLS handshake there gets nothing.
// A port already taken leaves the page on the TLS port, as before.
TEST_F(ServerFixture, TheHelpPageHasAPortOfItsOwnAndFallsBackWhenItIsTaken) {
  net::io_context probe_ioc;
  net::ip::tcp::acceptor taken(probe_ioc, net::ip::tcp::endpoint(net::ip::make_address("127.0.0.1"), 0));
  const std::uint16_t taken_port = taken.local_endpoint().port();
  std::uint16_t free_port = 0;
  {
    net::ip::tcp::acceptor probe(probe_ioc, net::ip::tcp::endpoint(net::ip::make_address("127.0.0.1"), 0));
    free_port = probe.local_endpoint().port();
  }
  ServerConfig config;
  config.static_files = std::make_shared<const StaticFiles>(embedded_web_assets());
  config.help_port = free_port;
  config.room.room_code = "4711";
  start(true, config);
  ASSERT_EQ(server_->help_port(), free_port);
  EXPECT_EQ(server_->join_urls().back(), "http://localhost:" + std::to_string(free_port) + "/?room=4711");
  const std::string https = "https://localhost:" + std::to_string(port()) + "/";
  auto help = http_request(free_port, false, "GET", "/?room=4711");
  EXPECT_EQ(help.status, 200);
  EXPECT_NE(help.body.find("href=\"" + https + "?room=4711\""), std::string::npos) << help.body;
  auto other = http_request(free_port, false, "GET", "/app.js");
  EXPECT_EQ(other.status, 302);
  EXPECT_EQ(other.location, https + "app.js");
  EXPECT_ANY_THROW(http_request(free_port, true, "GET", "/"));  // no TLS session on the help port
  server_->stop();
  std::this_thread::sleep_for(50ms);
  ioc_.stop();
  for (auto& t : threads_) t.join();
  threads_.clear();
  server_.reset();
  ioc_.restart();

  config.help_port = taken_port;
  start(true, config);
  EXPECT_EQ(server_->help_port(), 0);
  EXPECT_EQ(server_->join_urls().back(), "http://localhost:" + std::to_string(port()) + "/?room=4711");
  EXPECT_EQ(http_request(port(), false, "GET", "/").status, 200);
}

TEST_F(ServerFixture, WithARealCertificatePlainHttpIsOnlyRedirected) {
  ServerConfig config;
  config.static_files = std::make_shared<const StaticFiles>(embedded_web_assets());
  config.help_page = false;
  start(true, config);
  auto plain = http_request(port(), false, "GET", "/?room=4711");
  EXPECT_EQ(plain.status, 302);
  EXPECT_EQ(plain.location, "https://localhost:" + std::to_string(port()) + "/?room=4711");
}

// Acceptance of the path issue, over real sockets and TLS, each target sent as is (curl
// --path-as-is): no form returns a byte of a file outside the served set, neither from the page
// built into the server nor from a developer's folder.
TEST_F(ServerFixture, NoRequestPathReadsAFileOutsideTheServedSet) {
  for (bool embedded : {true, false}) {
    ServerConfig config;
    if (embedded) config.static_files = std::make_shared<const StaticFiles>(embedded_web_assets());
    start(true, config);
    const auto secret = dir_ / "secret.txt";
    const auto key = dir_ / "state" / "key.pem";
    auto targets = hostile_targets(secret.string());
    for (const auto& extra : hostile_targets(key.string())) targets.push_back(extra);
    for (const auto& target : targets) {
      HttpResult r;
      try {
        r = http_request(port(), true, "GET", target);
      } catch (const boost::system::system_error&) {
        r.status = 0;  // the request line itself was refused by the parser and the connection closed
      }
      EXPECT_TRUE(r.status == 400 || r.status == 404 || r.status == 0) << target << " answered " << r.status;
      EXPECT_EQ(r.body.find("do not serve"), std::string::npos) << target;
      EXPECT_EQ(r.body.find("PRIVATE KEY"), std::string::npos) << target;
      EXPECT_EQ(r.body.find("root:x:0:0"), std::string::npos) << target;
    }
    EXPECT_EQ(http_request(port(), true, "GET", "/").status, 200);
    TearDown();
    server_.reset();
    threads_.clear();
    ioc_.restart();
  }
}

// Recordings are reached by an id from the listing, never by a path, and only with the token.
TEST_F(ServerFixture, RecordingsAreServedByIdFromTheListingOnly) {
  struct Catalog : RecordingCatalog {
    fs::path file;
    std::vector<RecordingEntry> recordings() const override {
      RecordingEntry e;
      e.id = 1;
      e.file = "Ana-1.opus";
      e.speaker = "Ana";
      e.finished = true;
      return {e};
    }
    std::optional<fs::path> recording_file(std::uint32_t id) const override {
      return id == 1 ? std::optional<fs::path>(file) : std::nullopt;
    }
  } catalog;
  ServerConfig config;
  config.recordings = &catalog;
  start(true, config);
  catalog.file = dir_ / "Ana-1.opus";
  std::ofstream(catalog.file) << "OggS recording bytes";
  EXPECT_EQ(http_request(port(), true, "GET", "/admin/recordings").status, 401);
  EXPECT_EQ(http_request(port(), true, "GET", "/admin/recordings/1").status, 401);
  auto list = http_request(port(), true, "GET", "/admin/recordings", "Bearer let-me-in");
  EXPECT_EQ(list.status, 200);
  EXPECT_NE(list.body.find("\"file\":\"Ana-1.opus\""), std::string::npos) << list.body;
  auto file = http_request(port(), true, "GET", "/admin/recordings/1", "Bearer let-me-in");
  EXPECT_EQ(file.status, 200);
  EXPECT_EQ(file.body, "OggS recording bytes");
  EXPECT_EQ(file.content_type, "audio/ogg");
  for (const char* target : {"/admin/recordings/2", "/admin/recordings/01", "/admin/recordings/0", "/admin/recordings/1/",
                             "/admin/recordings/Ana-1.opus", "/admin/recordings/../../etc/passwd",
                             "/admin/recordings//etc/passwd", "/admin/recordings/1%2f..%2f..%2fetc%2fpasswd",
                             "/admin/recordings/99999999999", "/recordings/Ana-1.opus"}) {
    const int status = http_request(port(), true, "GET", target, "Bearer let-me-in").status;
    EXPECT_TRUE(status == 404 || status == 400) << target << " answered " << status;
  }
}

// The professor's actions over the admin API, through a real server: moderated mode, a grant, a
// removal; each refused without the token, and a 409 when it changes nothing.
TEST_F(ServerFixture, TheProfessorModeratesGrantsAndRemovesOverTheAdminApi) {
  start(true);
  const std::string auth = "Bearer let-me-in";
  EXPECT_EQ(http_request(port(), true, "POST", "/admin/mode?mode=moderated").status, 401);
  EXPECT_EQ(http_request(port(), true, "POST", "/admin/mode?mode=loud", auth).status, 400);
  auto mode = http_request(port(), true, "POST", "/admin/mode?mode=moderated", auth);
  EXPECT_EQ(mode.status, 200);
  EXPECT_NE(mode.body.find(R"("floor_mode":"moderated")"), std::string::npos) << mode.body;
  EXPECT_EQ(http_request(port(), true, "POST", "/admin/mode?mode=moderated", auth).status, 409);

  auto a = client();
  const auto welcome = join(*a, "Ana");
  a->send(proto::FloorRequest{});
  auto queued = a->expect<proto::FloorDenied>();
  ASSERT_TRUE(queued);
  EXPECT_EQ(queued->reason, proto::DenyReason::queued);
  const std::string grant = "/admin/grant?client=" + std::to_string(welcome.client_id);
  EXPECT_EQ(http_request(port(), true, "POST", grant).status, 401);
  EXPECT_EQ(http_request(port(), true, "POST", "/admin/grant", auth).status, 400);
  EXPECT_EQ(http_request(port(), true, "POST", "/admin/grant?client=0", auth).status, 400);
  EXPECT_EQ(http_request(port(), true, "POST", grant, auth).status, 200);
  EXPECT_TRUE(a->expect<proto::FloorGranted>());
  EXPECT_EQ(http_request(port(), true, "POST", grant, auth).status, 409);  // not in line any more

  const std::string remove = "/admin/remove?client=" + std::to_string(welcome.client_id);
  EXPECT_EQ(http_request(port(), true, "POST", remove, "Bearer wrong-token").status, 401);
  EXPECT_EQ(http_request(port(), true, "POST", remove, auth).status, 200);
  auto err = a->expect<proto::Error>();
  ASSERT_TRUE(err);
  EXPECT_EQ(err->code, proto::ErrorCode::removed);
  EXPECT_EQ(a->wait_closed(), close_code::policy);
  // The same name from the same address is refused for the block.
  auto again = client();
  again->send(proto::Join{"Ana", ""});
  auto refused = again->expect<proto::Error>();
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->code, proto::ErrorCode::removed);
}

TEST_F(ServerFixture, AdminEndpointsNeedTheToken) {
  start(true);
  auto a = client();
  join(*a, "Ana");
  ASSERT_NE(press(*a), 0u);
  EXPECT_EQ(http_request(port(), true, "GET", "/admin/status").status, 401);
  EXPECT_EQ(http_request(port(), true, "GET", "/admin/status", "Bearer wrong-token").status, 401);
  auto status = http_request(port(), true, "GET", "/admin/status", "Bearer let-me-in");
  EXPECT_EQ(status.status, 200);
  EXPECT_NE(status.body.find("\"holder\":\"Ana\""), std::string::npos);
  EXPECT_EQ(http_request(port(), true, "POST", "/admin/revoke", "Bearer let-me-in").status, 200);
  auto revoked = a->expect<proto::FloorRevoked>();
  ASSERT_TRUE(revoked);
  EXPECT_EQ(revoked->reason, proto::RevokeReason::admin);
}
